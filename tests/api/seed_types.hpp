// The host's view of the seed programs' types, shared by the api tests.
#pragma once

#include "embpf/api/object.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace embpf::testing_seeds {

/// eBPF for Windows' bind_md_t, as seed 001's TraceConnections receives it.
struct BindContext {
    const std::uint8_t* app_id_start = nullptr;
    const std::uint8_t* app_id_end = nullptr;
    std::uint64_t process_id = 0;
    std::uint8_t socket_address[16] = {};
    std::uint8_t socket_address_length = 0;
    std::int32_t operation = 0; // bind_operation_t: 0 bind, 2 unbind
    std::uint8_t protocol = 0;
};
static_assert(offsetof(BindContext, process_id) == 16);
static_assert(offsetof(BindContext, operation) == 44);
static_assert(sizeof(BindContext) == 56);

/// eBPF for Windows' xdp_md_t.
struct XdpContext {
    std::uint8_t* data = nullptr;
    std::uint8_t* data_end = nullptr;
    std::uint64_t data_meta = 0;
    std::uint32_t ingress_ifindex = 0;
};

/// Seed 001's process_info value.
struct ProcessInfo {
    std::uint32_t id;
    char name[32];
    std::uint32_t count;
};
static_assert(sizeof(ProcessInfo) == 40);

/// Seed 000's FiveTuple (examples/seeds/packets.h): 13 bytes of fields, 16 with padding.
struct FiveTuple {
    std::uint32_t src_address;
    std::uint32_t dst_address;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t proto;
};
static_assert(sizeof(FiveTuple) == 16);

/// Opens and loads an object in the checked interpreter, failing the test case when it does not load.
inline Object load_unverified(const std::filesystem::path& path) {
    auto spec = ObjectSpec::open(path);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, {.unverified = true});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

} // namespace embpf::testing_seeds
