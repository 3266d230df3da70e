// The ring buffer map (BPF_MAP_TYPE_RINGBUF), laid out as Linux lays it out.
//
// Memory: one mapping of [meta page][consumer page][producer page][data][data again]. The data pages are mapped twice
// back to back (memfd_create + two MAP_SHARED|MAP_FIXED mappings), so a record that wraps past the end of the data
// area is still contiguous in memory: reserve() can hand out a plain pointer, and the consumer reads records in
// place. The consumer and producer positions sit at the start of their pages, and records have Linux's 8-byte header
// (u32 len with the busy and discard bits, u32 pg_off: the record header's page offset from the meta page), so the
// record format is the one libbpf's consumer reads. The meta page points back at the map, which is how
// from_sample() finds the ring of a record as bpf_ringbuf_submit(sample) must.
//
// Producers (programs or the host, on any threads) reserve space under a tiny spin lock, as Linux does: the header
// must be written (busy) before the producer position that covers it is published, and the lock keeps reservations
// in position order. Commit flips the header with one atomic exchange and needs no lock. One consumer at a time
// (consume/poll serialize) reads committed records in order, skips discarded ones and stops at the first busy one.
//
// Wakeups: wait_fd() is an eventfd that becomes readable when a record is committed without bpf_rb_no_wakeup (or with
// bpf_rb_force_wakeup). To keep the write(2) off the hot path, a producer only signals when no signal is pending since
// the consumer last re-armed it. consume() re-arms (and drains the fd) first, so a host that waits on the fd after
// consume() returned never misses a record; poll() re-arms only when it finds nothing and is about to block, so a
// busy consumer costs the producers no system calls at all.
#pragma once

#include "embpf/runtime/map.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <type_traits>
#include <utility>

namespace embpf::runtime {

// Values of linux/bpf.h.
inline constexpr std::uint64_t bpf_rb_no_wakeup = 1;
inline constexpr std::uint64_t bpf_rb_force_wakeup = 2;
inline constexpr std::uint64_t bpf_rb_avail_data = 0;
inline constexpr std::uint64_t bpf_rb_ring_size = 1;
inline constexpr std::uint64_t bpf_rb_cons_pos = 2;
inline constexpr std::uint64_t bpf_rb_prod_pos = 3;
inline constexpr std::uint32_t bpf_ringbuf_busy_bit = 1U << 31;
inline constexpr std::uint32_t bpf_ringbuf_discard_bit = 1U << 30;
inline constexpr std::uint32_t bpf_ringbuf_hdr_sz = 8;

/// The record header, as in linux/bpf.h (struct bpf_ringbuf_hdr).
struct RingBufferHeader {
    std::uint32_t len;
    std::uint32_t pg_off;
};

class RingBufferMap final : public Map {
  public:
    /// max_entries is the data size: a power of two and a multiple of the page size. key_size and value_size are 0.
    [[nodiscard]] static Result<std::shared_ptr<RingBufferMap>> create(const MapConfig& config);
    ~RingBufferMap() override;

    // Producer side: programs (through helpers) and the host, any thread.

    /// Space for a record of `size` bytes, 8-byte aligned and contiguous, or nullptr when the ring is full, `size`
    /// is too large or `flags` is not 0 (bpf_ringbuf_reserve).
    [[nodiscard]] void* reserve(std::uint64_t size, std::uint64_t flags) noexcept;
    /// Commits a reserved record (bpf_ringbuf_submit); flags: bpf_rb_no_wakeup, bpf_rb_force_wakeup.
    void submit(void* sample, std::uint64_t flags) noexcept;
    /// Commits a reserved record as discarded: the consumer skips it (bpf_ringbuf_discard).
    void discard(void* sample, std::uint64_t flags) noexcept;
    /// Copies `size` bytes as one record (bpf_ringbuf_output): 0, -EAGAIN when full, -EINVAL for bad flags.
    [[nodiscard]] long output(const void* data, std::uint64_t size, std::uint64_t flags) noexcept;
    /// bpf_ringbuf_query: bpf_rb_avail_data, bpf_rb_ring_size, bpf_rb_cons_pos, bpf_rb_prod_pos; 0 otherwise.
    [[nodiscard]] std::uint64_t query(std::uint64_t flags) const noexcept;
    /// The ring a pointer from reserve() belongs to (how bpf_ringbuf_submit finds it without a map argument).
    [[nodiscard]] static RingBufferMap* from_sample(const void* sample) noexcept;

    // Consumer side: one consumer at a time (calls serialize). Do not call them from inside a callback.

    /// Delivers every committed record in order to `callback(std::span<const std::uint8_t>)`, skipping discarded ones
    /// and stopping at the first record still being written. A callback returning bool stops the batch by returning
    /// false (that record counts as consumed). Returns the number of records delivered.
    template <typename F>
    std::size_t consume(F&& callback) {
        return consume_impl(&invoke<F>, static_cast<void*>(std::addressof(callback)));
    }
    /// consume(), waiting up to `timeout` for the first record when there is none (a negative timeout waits forever).
    template <typename F>
    std::size_t poll(std::chrono::milliseconds timeout, F&& callback) {
        return poll_impl(timeout, &invoke<F>, static_cast<void*>(std::addressof(callback)));
    }
    /// An eventfd that is readable when committed records may be waiting (for epoll/poll/select loops).
    [[nodiscard]] int wait_fd() const noexcept { return m_event_fd; }

    [[nodiscard]] std::size_t data_size() const noexcept { return m_size; }

    [[nodiscard]] Result<bool> host_lookup(std::span<const std::uint8_t> key,
                                           std::span<std::uint8_t> value) const override;
    [[nodiscard]] Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                                           std::uint64_t flags) override;
    [[nodiscard]] Result<bool> host_erase(std::span<const std::uint8_t> key) override;
    [[nodiscard]] Result<bool> next_key(std::span<const std::uint8_t> key_or_empty,
                                        std::span<std::uint8_t> next_out) const override;
    [[nodiscard]] std::size_t memory_size() const noexcept override;

  private:
    using RecordFn = bool (*)(void* context, std::span<const std::uint8_t> record);

    template <typename F>
    static bool invoke(void* context, std::span<const std::uint8_t> record) {
        auto& callback = *static_cast<std::remove_reference_t<F>*>(context);
        if constexpr (std::is_void_v<std::invoke_result_t<decltype(callback), std::span<const std::uint8_t>>>) {
            callback(record);
            return true;
        } else {
            return static_cast<bool>(callback(record));
        }
    }

    explicit RingBufferMap(MapConfig config) noexcept;
    [[nodiscard]] Result<void> map_memory();
    void commit(void* sample, std::uint64_t flags, bool discarded) noexcept;
    void notify() noexcept;
    std::size_t consume_impl(RecordFn fn, void* context);
    std::size_t consume_locked(RecordFn fn, void* context); // under m_consumer
    void rearm_wakeup() noexcept;                           // under m_consumer
    std::size_t poll_impl(std::chrono::milliseconds timeout, RecordFn fn, void* context);

    // Read-only after creation.
    std::byte* m_base = nullptr; // the meta page; the whole mapping is m_mapping_size bytes
    std::size_t m_mapping_size = 0;
    std::size_t m_page = 0;
    std::size_t m_size = 0; // data bytes
    std::uint64_t m_mask = 0;
    std::byte* m_data = nullptr;
    std::uint64_t* m_consumer_pos = nullptr; // in the consumer page, accessed through std::atomic_ref
    std::uint64_t* m_producer_pos = nullptr; // in the producer page
    int m_event_fd = -1;
    // Written by producers on every reservation: a cache line of its own, so that the consumer's reads of the fields
    // above do not bounce it.
    alignas(64) std::atomic<bool> m_reserve_lock{false};
    std::uint64_t m_pending_pos = 0;                 // the oldest record that may still be busy; under m_reserve_lock
    std::uint64_t m_cached_consumer = 0;             // the consumer position as last read; under m_reserve_lock
    alignas(64) std::atomic<bool> m_signaled{false}; // a wakeup is pending in the eventfd
    alignas(64) std::mutex m_consumer;
};

} // namespace embpf::runtime
