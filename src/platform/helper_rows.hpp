// The form the built-in platforms write their helper tables in: one row a helper, as constexpr data.
#pragma once

#include "embpf/platform/platform.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace embpf::platform::detail {

struct HelperRow {
    std::uint32_t id;
    std::string_view name;
    ReturnKind ret;
    std::array<ArgKind, 5> args;
    bool reallocates_packet;
    Writes writes = Writes::some;
    bool reads_host_memory = false;
    bool reads_writable = false;
};

inline HelperPrototype make(const HelperRow& row) {
    return HelperPrototype{.id = row.id,
                           .name = std::string(row.name),
                           .ret = row.ret,
                           .args = row.args,
                           .reallocates_packet = row.reallocates_packet,
                           .writes = row.writes,
                           .reads_writable = row.reads_writable,
                           .reads_host_memory = row.reads_host_memory,
                           .reads_string = row.reads_host_memory && row.name.ends_with("_str"),
                           .sinks_data = row.reads_host_memory && row.name == "trace_vprintk",
                           .reads_address = row.reads_host_memory &&
                                            (row.name.starts_with("probe_read") || row.name == "copy_from_user"),
                           // probe_read* take `u32 size`, and embpf's implementations read that much.
                           .u32_sizes = row.name.starts_with("probe_read"),
                           .cost = builtin_helper_cost(row.name),
                           .cost_per_byte = builtin_helper_byte_cost(row.name)};
}

} // namespace embpf::platform::detail
