// What the compiled engines' support functions share: the legacy packet loads' read (LD_ABS/LD_IND) and callx's
// call. Internal to the exec stage.
#pragma once

#include "embpf/exec/interpreter.hpp"

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace embpf::exec::detail {

/// `size` bytes of the packet of the context at `r6`, at `offset` from its data, big-endian; nullopt outside the data
/// range (or at a negative offset), where the run ends with 0, as the interpreter's fast loop ends it.
[[nodiscard]] inline std::optional<std::uint64_t> packet_bytes(std::uint64_t r6, const PacketLayout& layout,
                                                               std::int64_t offset, std::uint64_t size) noexcept {
    auto field = [&](std::uint32_t at) -> std::uint64_t {
        const auto address = static_cast<std::uintptr_t>(r6 + at);
        if (layout.pointer_width == 8) {
            std::uint64_t v = 0;
            std::memcpy(&v, reinterpret_cast<const void*>(address), 8);
            return v;
        }
        std::uint32_t v = 0;
        std::memcpy(&v, reinterpret_cast<const void*>(address), 4);
        return v;
    };
    const std::uint64_t data = field(layout.data);
    const std::uint64_t data_end = field(layout.data_end);
    if (offset < 0 || data > data_end || data_end - data < size ||
        static_cast<std::uint64_t>(offset) > data_end - data - size) {
        return std::nullopt;
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(static_cast<std::uintptr_t>(data + offset));
    std::uint64_t value = 0;
    for (std::uint64_t i = 0; i < size; ++i) {
        value = (value << 8) | bytes[i];
    }
    return value;
}

/// callx: helper `id` of `helpers` (by id) with r1-r5, zeros past the registers it takes (`arguments`, by id); nullopt
/// when no helper has the id, or when it is the unwind helper and returned 0: the run ends then with 0.
[[nodiscard]] inline std::optional<std::uint64_t> call_by_id(std::span<const HelperFunction> helpers,
                                                             std::span<const std::uint8_t> arguments,
                                                             std::optional<std::uint32_t> unwind, std::uint64_t id,
                                                             std::uint64_t r1, std::uint64_t r2, std::uint64_t r3,
                                                             std::uint64_t r4, std::uint64_t r5) {
    if (id >= helpers.size() || helpers[id] == nullptr) {
        return std::nullopt;
    }
    std::uint64_t a[5] = {r1, r2, r3, r4, r5};
    for (std::size_t i = arguments[id]; i < 5; ++i) {
        a[i] = 0;
    }
    const std::uint64_t r0 = helpers[id](a[0], a[1], a[2], a[3], a[4]);
    if (unwind == id && r0 == 0) {
        return std::nullopt;
    }
    return r0;
}

} // namespace embpf::exec::detail
