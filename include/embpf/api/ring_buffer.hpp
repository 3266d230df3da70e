// RingBuffer<T>: a typed consumer and producer of a ring buffer map of a loaded object.
//
//     auto events = object.ring_buffer<FiveTuple>("xdp_map");            // Result<RingBuffer<FiveTuple>>
//     events->poll(std::chrono::milliseconds(100), [](const FiveTuple& tuple) { ... });
//
// Records are delivered as `const T&` to a T copied out of the ring, so T may need any alignment (records are only
// 8-byte aligned). A record whose size is not sizeof(T) is never cast: it is counted in ConsumeResult::wrong_size and
// handed as bytes to the optional second callback. The host can also produce records (output(), or reserve() then
// submit()), for tests that feed a plugin's consumer or check a program's view of a full ring.
//
// A RingBuffer is a handle: copies share the ring, which lives while any handle or program holds it. Producers may be
// on any threads; consume() and poll() serialize with each other (one consumer at a time) and must not be called from
// inside their own callbacks.
#pragma once

#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"
#include "embpf/runtime/ring_buffer.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace embpf {

/// What one consume() or poll() call did.
struct ConsumeResult {
    std::size_t delivered = 0;  ///< records of sizeof(T) bytes handed to the record callback
    std::size_t wrong_size = 0; ///< records of another size: consumed without a cast, handed to the optional callback

    /// Every record taken from the ring.
    [[nodiscard]] std::size_t total() const noexcept { return delivered + wrong_size; }
};

/// Whether committing a record wakes the consumer (bpf_ringbuf_submit's flags).
enum class RingBufferWakeup : std::uint64_t {
    automatic = 0,                        ///< wake it unless a wakeup is already pending
    none = runtime::bpf_rb_no_wakeup,     ///< no wakeup: the consumer sees the record when it next looks
    force = runtime::bpf_rb_force_wakeup, ///< wake it even if a wakeup is pending
};

namespace detail {

/// Calls a consumer callback; false when it asked to stop (callbacks may return void or something testable as bool).
template <typename F, typename... Args>
bool keep_going(F& callback, Args&&... args) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, Args...>>) {
        std::invoke(callback, std::forward<Args>(args)...);
        return true;
    } else {
        return static_cast<bool>(std::invoke(callback, std::forward<Args>(args)...));
    }
}

} // namespace detail

template <typename T>
class RingBuffer {
    static_assert(std::is_trivially_copyable_v<T> && !std::is_reference_v<T>,
                  "RingBuffer<T>: T must be trivially copyable, records are copied out of the ring as bytes");

  public:
    using value_type = T;

    /// Binds `handle`, which must be a ring buffer with room for a record of T (Object::ring_buffer<T> calls this).
    [[nodiscard]] static Result<RingBuffer> bind(MapHandle handle) {
        const std::string what = std::string("map ") + handle.name();
        if (handle.kind() != platform::MapKind::ringbuf) {
            return Error::invalid(what + " is a " + std::string(platform::to_string(handle.kind())) +
                                  " map, not a ring buffer");
        }
        auto ring = std::static_pointer_cast<runtime::RingBufferMap>(handle.runtime_map());
        const std::uint64_t record = (sizeof(T) + runtime::bpf_ringbuf_hdr_sz + 7) / 8 * 8;
        if (record > ring->data_size()) {
            return Error::invalid(what + ": a record of T takes " + std::to_string(record) +
                                  " bytes with its header, more than the ring's " + std::to_string(ring->data_size()));
        }
        return RingBuffer(std::move(handle), std::move(ring));
    }

    [[nodiscard]] const MapHandle& handle() const noexcept { return m_handle; }
    [[nodiscard]] const std::string& name() const noexcept { return m_handle.name(); }
    /// The ring's data size in bytes.
    [[nodiscard]] std::size_t capacity() const noexcept { return m_ring->data_size(); }
    /// Bytes committed or reserved and not yet consumed (bpf_ringbuf_query's BPF_RB_AVAIL_DATA).
    [[nodiscard]] std::size_t available() const noexcept {
        return static_cast<std::size_t>(m_ring->query(runtime::bpf_rb_avail_data));
    }

    // Consumer side.

    /// Delivers every committed record in order: `on_record(const T&)` for records of sizeof(T) bytes,
    /// `on_wrong_size(std::span<const std::uint8_t>)` for the others. Either callback may return bool; false stops
    /// the batch after that record. Stops at the first record still being written.
    template <typename OnRecord, typename OnWrongSize>
    ConsumeResult consume(OnRecord&& on_record, OnWrongSize&& on_wrong_size) {
        ConsumeResult result;
        m_ring->consume(
            [&](std::span<const std::uint8_t> record) { return deliver(record, on_record, on_wrong_size, result); });
        return result;
    }
    /// consume() that only counts records of the wrong size.
    template <typename OnRecord>
    ConsumeResult consume(OnRecord&& on_record) {
        return consume(std::forward<OnRecord>(on_record), [](std::span<const std::uint8_t>) {});
    }

    /// consume(), waiting up to `timeout` for a record when none is waiting (a negative timeout waits forever).
    /// Returns after the first batch that took any record (of either size), or with total() == 0 when the time is up.
    template <typename OnRecord, typename OnWrongSize>
    ConsumeResult poll(std::chrono::milliseconds timeout, OnRecord&& on_record, OnWrongSize&& on_wrong_size) {
        ConsumeResult result;
        m_ring->poll(timeout, [&](std::span<const std::uint8_t> record) {
            return deliver(record, on_record, on_wrong_size, result);
        });
        return result;
    }
    template <typename OnRecord>
    ConsumeResult poll(std::chrono::milliseconds timeout, OnRecord&& on_record) {
        return poll(timeout, std::forward<OnRecord>(on_record), [](std::span<const std::uint8_t>) {});
    }

    /// A file descriptor (an eventfd) that becomes readable when records may be waiting, for epoll/poll/select
    /// loops: wait for it, then consume(). consume() clears it, so a loop that waits after consume() returned never
    /// misses a record. Valid while a handle to the ring lives; do not close it.
    [[nodiscard]] int wait_fd() const noexcept { return m_ring->wait_fd(); }

    // Producer side: the host writes records as a program would (any thread).

    /// Writes `record` (bpf_ringbuf_output); an error when the ring has no room for it.
    [[nodiscard]] Result<void> output(const T& record, RingBufferWakeup wakeup = RingBufferWakeup::automatic) {
        if (m_ring->output(std::addressof(record), sizeof(T), static_cast<std::uint64_t>(wakeup)) != 0) {
            return full();
        }
        return {};
    }

    /// A record reserved in the ring (bpf_ringbuf_reserve), value-initialized: fill it, then submit() or discard().
    /// Until then the consumer stops in front of it. Destroying it unsubmitted discards it.
    class Reservation {
      public:
        Reservation(Reservation&& other) noexcept
            : m_ring(std::move(other.m_ring)), m_record(std::exchange(other.m_record, nullptr)) {}
        Reservation& operator=(Reservation&& other) noexcept {
            if (this != &other) {
                discard();
                m_ring = std::move(other.m_ring);
                m_record = std::exchange(other.m_record, nullptr);
            }
            return *this;
        }
        Reservation(const Reservation&) = delete;
        Reservation& operator=(const Reservation&) = delete;
        ~Reservation() { discard(); }

        /// The record; only while it is neither submitted nor discarded.
        [[nodiscard]] T& value() noexcept { return *m_record; }
        T& operator*() noexcept { return *m_record; }
        T* operator->() noexcept { return m_record; }
        /// False once submitted or discarded.
        [[nodiscard]] bool pending() const noexcept { return m_record != nullptr; }

        /// Commits the record: the consumer will see it.
        void submit(RingBufferWakeup wakeup = RingBufferWakeup::automatic) noexcept {
            if (m_record != nullptr) {
                m_ring->submit(std::exchange(m_record, nullptr), static_cast<std::uint64_t>(wakeup));
            }
        }
        /// Commits the record as discarded: the consumer skips it.
        void discard(RingBufferWakeup wakeup = RingBufferWakeup::automatic) noexcept {
            if (m_record != nullptr) {
                m_ring->discard(std::exchange(m_record, nullptr), static_cast<std::uint64_t>(wakeup));
            }
        }

      private:
        friend class RingBuffer;
        Reservation(std::shared_ptr<runtime::RingBufferMap> ring, T* record) noexcept
            : m_ring(std::move(ring)), m_record(record) {}

        std::shared_ptr<runtime::RingBufferMap> m_ring; // the ring outlives the reservation
        T* m_record = nullptr;
    };

    /// Reserves a record; an error when the ring has no room. The record lives in the ring, which aligns it to 8
    /// bytes, so T must not need more (use output() for such types).
    [[nodiscard]] Result<Reservation> reserve() {
        static_assert(alignof(T) <= 8, "RingBuffer<T>::reserve: ring buffer records are 8-byte aligned; T needs more, "
                                       "use output()");
        static_assert(std::is_default_constructible_v<T>, "RingBuffer<T>::reserve: T must be default-constructible");
        void* space = m_ring->reserve(sizeof(T), 0);
        if (space == nullptr) {
            return full();
        }
        return Reservation(m_ring, ::new (space) T());
    }

  private:
    RingBuffer(MapHandle handle, std::shared_ptr<runtime::RingBufferMap> ring) noexcept
        : m_handle(std::move(handle)), m_ring(std::move(ring)) {}

    template <typename OnRecord, typename OnWrongSize>
    static bool deliver(std::span<const std::uint8_t> record, OnRecord& on_record, OnWrongSize& on_wrong_size,
                        ConsumeResult& result) {
        if (record.size() != sizeof(T)) {
            ++result.wrong_size;
            return detail::keep_going(on_wrong_size, record);
        }
        const T value = detail::load_from<T>(record.data()); // aligned for T, whatever the ring's alignment
        ++result.delivered;
        return detail::keep_going(on_record, value);
    }

    [[nodiscard]] Error full() const {
        return Error::invalid(std::string("map ") + name() + ": no room for a record of " + std::to_string(sizeof(T)) +
                              " bytes (" + std::to_string(available()) + " of " + std::to_string(capacity()) +
                              " bytes not yet consumed)");
    }

    MapHandle m_handle;
    std::shared_ptr<runtime::RingBufferMap> m_ring; // the handle's map, typed
};

template <typename T>
Result<RingBuffer<T>> Object::ring_buffer(std::string_view name) const {
    auto handle = map(name);
    if (!handle) {
        return std::move(handle).error();
    }
    return RingBuffer<T>::bind(std::move(handle).value());
}

} // namespace embpf
