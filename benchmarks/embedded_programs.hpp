// The eBPF builds of programs/*.c, embedded at build time by embed_bpf.cmake.
#pragma once

#include <cstdint>
#include <span>

namespace embpf::bench::code {

std::span<const std::uint8_t> fnv1a() noexcept;
std::span<const std::uint8_t> packet_parse() noexcept;
std::span<const std::uint8_t> inet_checksum() noexcept;
std::span<const std::uint8_t> crc32() noexcept;
std::span<const std::uint8_t> insertion_sort() noexcept;
std::span<const std::uint8_t> xorshift_collatz() noexcept;

} // namespace embpf::bench::code
