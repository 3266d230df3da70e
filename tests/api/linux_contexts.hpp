// Contexts of Linux program types as a host hands them over: the program's struct (xdp_md, __sk_buff, whose packet
// pointer fields are 32 bits wide), then the data range as three 8-byte pointers (ContextDescriptor::host_size). The
// packets lie above 4 GiB, where no 32-bit field could point.
#pragma once

#include "embpf/platform/platform.hpp"

#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace testing_packets {

/// Packet memory mapped above 4 GiB (and, like any object a program sees, above the first 64 KiB).
class HeapPacket {
  public:
    explicit HeapPacket(std::size_t size) : m_size(size) {
        // A hint far above 4 GiB; the kernel places the mapping elsewhere when it must, and data() says where.
        void* hint = reinterpret_cast<void*>(std::uintptr_t{0x5a5a00000000});
        void* memory = mmap(hint, length(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        m_data = memory == MAP_FAILED ? nullptr : static_cast<std::uint8_t*>(memory);
    }
    ~HeapPacket() {
        if (m_data != nullptr) {
            munmap(m_data, length());
        }
    }
    HeapPacket(const HeapPacket&) = delete;
    HeapPacket& operator=(const HeapPacket&) = delete;

    [[nodiscard]] std::uint8_t* data() const noexcept { return m_data; }
    [[nodiscard]] std::uint64_t start() const noexcept { return reinterpret_cast<std::uintptr_t>(m_data); }
    [[nodiscard]] std::uint64_t end() const noexcept { return start() + m_size; }
    [[nodiscard]] bool above_4gib() const noexcept { return start() > 0xFFFFFFFFU; }

  private:
    [[nodiscard]] std::size_t length() const noexcept { return m_size == 0 ? 1 : m_size; }
    std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

/// Linux's struct xdp_md (24 bytes) as the host hands it over. The program's 32-bit data fields stay 0: its loads of
/// them read the pointers behind the struct.
struct LinuxXdp {
    std::uint32_t data = 0;
    std::uint32_t data_end = 0;
    std::uint32_t data_meta = 0;
    std::uint32_t ingress_ifindex = 0;
    std::uint32_t rx_queue_index = 0;
    std::uint32_t egress_ifindex = 0;
    std::uint64_t host_data = 0;
    std::uint64_t host_data_end = 0;
    std::uint64_t host_meta = 0; ///< 0: no metadata (the entry reads it as data)
};
static_assert(sizeof(LinuxXdp) == 48);

/// An XDP context around `packet`.
inline LinuxXdp linux_xdp(const HeapPacket& packet, std::uint32_t ingress_ifindex = 0,
                          std::uint32_t rx_queue_index = 0) {
    LinuxXdp ctx;
    ctx.ingress_ifindex = ingress_ifindex;
    ctx.rx_queue_index = rx_queue_index;
    ctx.host_data = packet.start();
    ctx.host_data_end = packet.end();
    return ctx;
}

/// A socket filter's or classifier's context (struct __sk_buff, 192 bytes, then data and data_end at 192 and 200,
/// data_meta at 208) around a packet of `size` bytes.
struct SkBuffAround {
    explicit SkBuffAround(std::size_t size) : packet(size) { set_packet(packet); }
    void set_packet(const HeapPacket& other) {
        const std::uint64_t start = other.start();
        const std::uint64_t end = other.end();
        std::memcpy(bytes.data() + 192, &start, 8);
        std::memcpy(bytes.data() + 200, &end, 8);
    }
    HeapPacket packet;
    std::array<std::uint8_t, 216> bytes{};
};

} // namespace testing_packets
