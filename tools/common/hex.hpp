// Hex byte strings as the tools take them on the command line: pairs of digits, separators between bytes allowed.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace embpf::tools {

/// "aa bb" or "aabb" or "aa:bb" -> {0xaa, 0xbb}; nullopt for anything else (a lone digit, a stray character).
[[nodiscard]] inline std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text) {
    std::vector<std::uint8_t> bytes;
    int pending = -1;
    for (char c : text) {
        int digit = -1;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else if (c == ' ' || c == ':' || c == '\n' || c == '\r' || c == '\t') {
            if (pending >= 0) {
                return std::nullopt; // a separator inside a byte
            }
            continue;
        } else {
            return std::nullopt;
        }
        if (pending < 0) {
            pending = digit;
        } else {
            bytes.push_back(static_cast<std::uint8_t>(pending * 16 + digit));
            pending = -1;
        }
    }
    if (pending >= 0) {
        return std::nullopt;
    }
    return bytes;
}

} // namespace embpf::tools
