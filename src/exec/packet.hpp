// The legacy packet loads' read (LD_ABS/LD_IND) the compiled engines share. Internal to the exec stage.
#pragma once

#include "embpf/exec/interpreter.hpp"

#include <cstdint>
#include <cstring>
#include <optional>

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

} // namespace embpf::exec::detail
