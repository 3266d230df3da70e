// Packet memory for tests of Linux program types: their contexts keep packet pointers in 32-bit fields, so the
// packet must lie below 4 GiB (and, like any object a program sees, above the first 64 KiB).
#pragma once

#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace testing_packets {

class LowPacket {
  public:
    explicit LowPacket(std::size_t size) : m_size(size) {
        int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_32BIT
        flags |= MAP_32BIT;
#endif
        void* memory = mmap(nullptr, m_size == 0 ? 1 : m_size, PROT_READ | PROT_WRITE, flags, -1, 0);
        m_data = memory == MAP_FAILED ? nullptr : static_cast<std::uint8_t*>(memory);
    }
    ~LowPacket() {
        if (m_data != nullptr) {
            munmap(m_data, m_size == 0 ? 1 : m_size);
        }
    }
    LowPacket(const LowPacket&) = delete;
    LowPacket& operator=(const LowPacket&) = delete;

    [[nodiscard]] std::uint8_t* data() const noexcept { return m_data; }
    [[nodiscard]] std::uint32_t start() const noexcept {
        return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(m_data));
    }
    [[nodiscard]] std::uint32_t end() const noexcept { return start() + static_cast<std::uint32_t>(m_size); }

  private:
    std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

/// A socket filter's or classifier's context (struct __sk_buff, 192 bytes: data at 76, data_end at 80, 32-bit
/// fields) around a packet of `size` bytes below 4 GiB.
struct SkBuffAround {
    explicit SkBuffAround(std::size_t size) : packet(size) {
        const std::uint32_t start = packet.start();
        const std::uint32_t end = packet.end();
        std::memcpy(bytes.data() + 76, &start, 4);
        std::memcpy(bytes.data() + 80, &end, 4);
    }
    LowPacket packet;
    std::array<std::uint8_t, 192> bytes{};
};

} // namespace testing_packets
