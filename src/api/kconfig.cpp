// The values of `.kconfig` externs: a kernel configuration value, as a `.config` file writes it, read into the
// extern's BTF type by libbpf's rules.
#include "embpf/api/object_spec.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace embpf {
namespace {

std::string_view kind_name(elf::KconfigKind kind) {
    switch (kind) {
    case elf::KconfigKind::boolean: return "bool";
    case elf::KconfigKind::tristate: return "enum libbpf_tristate";
    case elf::KconfigKind::character: return "1-byte integer";
    case elf::KconfigKind::integer: return "unsigned integer";
    case elf::KconfigKind::signed_integer: return "signed integer";
    case elf::KconfigKind::character_array: return "char array";
    }
    return "?";
}

// A number as a `.config` file writes it: an optional '-', then decimal, 0x hexadecimal or 0 octal digits.
// The magnitude and whether it was negative; nullopt when the text is not such a number or does not fit 64 bits.
std::optional<std::pair<std::uint64_t, bool>> parse_number(std::string_view text) {
    const bool negative = !text.empty() && text.front() == '-';
    if (negative) {
        text.remove_prefix(1);
    }
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    } else if (text.size() > 1 && text[0] == '0') {
        base = 8;
        text.remove_prefix(1);
    }
    if (text.empty()) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (const char c : text) {
        unsigned digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a') + 10;
        } else if (c >= 'A' && c <= 'F') {
            digit = static_cast<unsigned>(c - 'A') + 10;
        } else {
            return std::nullopt;
        }
        if (digit >= base || value > (std::numeric_limits<std::uint64_t>::max() - digit) / base) {
            return std::nullopt;
        }
        value = value * base + digit;
    }
    return std::pair{value, negative};
}

// Whether a number fits `size` bytes of an integer of that signedness.
bool fits(std::uint64_t magnitude, bool negative, std::uint32_t size, bool is_signed) {
    const unsigned bits = size * 8;
    if (!is_signed) {
        return !negative && (bits >= 64 || magnitude >> bits == 0);
    }
    const std::uint64_t limit = std::uint64_t{1} << (bits - 1); // |min|; max is limit - 1
    return negative ? magnitude <= limit : magnitude < limit;
}

// Writes one extern's value into `out` (its place, `ext.size` bytes, is zero on entry).
Result<void> write_value(const elf::KconfigExtern& ext, std::string_view value, std::uint8_t* out) {
    const auto refuse = [&](std::string_view why) {
        return Error::invalid("extern " + ext.name + " (.kconfig): the platform's value " + std::string(value) + " " +
                              std::string(why));
    };
    if (value == "y" || value == "n" || value == "m") {
        switch (ext.kind) {
        case elf::KconfigKind::boolean:
            if (value == "m") {
                return refuse("(a module) cannot be held by a bool; declare it enum libbpf_tristate");
            }
            out[0] = value == "y" ? 1 : 0;
            return {};
        case elf::KconfigKind::tristate: {
            const std::uint32_t tristate = value == "n" ? 0 : value == "y" ? 1 : 2;
            std::memcpy(out, &tristate, sizeof tristate);
            return {};
        }
        case elf::KconfigKind::character: out[0] = static_cast<std::uint8_t>(value[0]); return {};
        default:
            return refuse("cannot be held by a " + std::string(kind_name(ext.kind)) + "; declare it bool, " +
                          "enum libbpf_tristate or char");
        }
    }
    if (value.front() == '"') {
        if (ext.kind != elf::KconfigKind::character_array) {
            return refuse("is a string, which only a char array holds");
        }
        if (value.size() < 2 || value.back() != '"') {
            return refuse("has no closing quote");
        }
        const std::string_view text = value.substr(1, value.size() - 2);
        std::memcpy(out, text.data(), std::min<std::size_t>(text.size(), ext.size - 1)); // cut, ended with a zero
        return {};
    }
    const auto number = parse_number(value);
    if (!number) {
        return refuse("is neither y, n, m, a number nor a quoted string");
    }
    const auto [magnitude, negative] = *number;
    if (ext.kind != elf::KconfigKind::integer && ext.kind != elf::KconfigKind::signed_integer &&
        ext.kind != elf::KconfigKind::character) {
        return refuse("is a number, which a " + std::string(kind_name(ext.kind)) + " does not hold");
    }
    // A 1-byte integer takes either signedness, as a char does.
    const bool in_range = ext.kind == elf::KconfigKind::character
                              ? fits(magnitude, negative, 1, false) || fits(magnitude, negative, 1, true)
                              : fits(magnitude, negative, ext.size, ext.kind == elf::KconfigKind::signed_integer);
    if (!in_range) {
        return refuse("does not fit its " + std::to_string(ext.size) + "-byte " + std::string(kind_name(ext.kind)));
    }
    const std::uint64_t bits = negative ? ~magnitude + 1 : magnitude;
    for (std::uint32_t b = 0; b < ext.size && b < 8; ++b) {
        out[b] = static_cast<std::uint8_t>(bits >> (8 * b)); // eBPF objects here are little-endian, as the host
    }
    return {};
}

} // namespace

Result<std::vector<std::uint8_t>> ObjectSpec::kconfig_value(const platform::Platform& platform) const {
    if (!m_file.kconfig_map) {
        return std::vector<std::uint8_t>{};
    }
    if (*m_file.kconfig_map >= m_file.maps.size() || m_file.maps[*m_file.kconfig_map].name != ".kconfig") {
        return Error::invalid("the object's .kconfig map was removed from its maps");
    }
    std::vector<std::uint8_t> value(m_file.maps[*m_file.kconfig_map].value_size, 0);
    for (const elf::KconfigExtern& ext : m_file.kconfig) {
        if (ext.offset > value.size() || ext.size > value.size() - ext.offset) {
            return Error::internal("extern " + ext.name + " lies outside the .kconfig map");
        }
        const auto found = platform.kconfig().find(ext.name);
        if (found == platform.kconfig().end()) {
            if (ext.weak) {
                continue; // zero, as libbpf leaves a weak extern the kernel lacks
            }
            return Error::invalid("extern " + ext.name + " (.kconfig): platform " + platform.name() +
                                  " has no value for it; declare it __weak, or give the platform one with "
                                  "Platform::set_kconfig");
        }
        if (auto written = write_value(ext, found->second, value.data() + ext.offset); !written) {
            return std::move(written).error();
        }
    }
    return value;
}

Result<std::vector<verifier::MapDescriptor>> ObjectSpec::map_descriptors(const platform::Platform& platform) const {
    auto described = verifier::describe_maps(m_file.maps, platform);
    if (!described) {
        return std::move(described).error();
    }
    if (m_file.kconfig_map) {
        auto value = kconfig_value(platform);
        if (!value) {
            return std::move(value).error();
        }
        described->at(*m_file.kconfig_map).frozen_value = std::move(value).value();
    }
    return described;
}

} // namespace embpf
