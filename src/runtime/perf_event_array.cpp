// perf_event_array in user mode (see perf_event_array.hpp). Each open index has a byte ring of 8-byte aligned
// records (u32 size, u32 reserved, data) under a spin lock; samples are copied in by producers and copied out by the
// consumer under the lock, then delivered outside it.
#include "embpf/runtime/perf_event_array.hpp"

#include "common.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>

namespace embpf::runtime {

namespace {
constexpr std::size_t record_header = 8;
constexpr std::uint64_t max_sample = 0xffff - record_header; // perf_event_header::size is a u16 on Linux
constexpr std::size_t min_buffer = 4096;
} // namespace

struct PerfEventArrayMap::Buffer {
    Retired retired; // first: the reclaimer gets back to the buffer from it
    detail::SpinLock lock;
    std::size_t capacity = 0; // a power of two
    std::uint64_t head = 0;   // under lock
    std::uint64_t tail = 0;   // under lock
    std::uint64_t lost = 0;   // under lock
    std::byte* data = nullptr;

    static Buffer* create(std::size_t capacity) noexcept {
        auto* buffer = new (std::nothrow) Buffer();
        if (buffer == nullptr) {
            return nullptr;
        }
        buffer->data = new (std::nothrow) std::byte[capacity];
        if (buffer->data == nullptr) {
            delete buffer;
            return nullptr;
        }
        buffer->capacity = capacity;
        return buffer;
    }
    ~Buffer() { delete[] data; }

    static void reclaim(Retired* node) noexcept { delete reinterpret_cast<Buffer*>(node); }

    /// Copies `size` bytes to ring position `position`, wrapping.
    void write(std::uint64_t position, const void* from, std::size_t size) noexcept {
        const std::size_t offset = position & (capacity - 1);
        const std::size_t first = std::min(size, capacity - offset);
        std::memcpy(data + offset, from, first);
        std::memcpy(data, static_cast<const std::byte*>(from) + first, size - first);
    }
    void read(std::uint64_t position, void* to, std::size_t size) const noexcept {
        const std::size_t offset = position & (capacity - 1);
        const std::size_t first = std::min(size, capacity - offset);
        std::memcpy(to, data + offset, first);
        std::memcpy(static_cast<std::byte*>(to) + first, data, size - first);
    }
};

PerfEventArrayMap::PerfEventArrayMap(MapConfig config) noexcept : Map(std::move(config)) {}

PerfEventArrayMap::~PerfEventArrayMap() {
    if (m_buffers) {
        for (std::uint32_t i = 0; i < config().max_entries; ++i) {
            delete m_buffers[i].load(std::memory_order_relaxed);
        }
    }
    if (m_event_fd >= 0) {
        ::close(m_event_fd);
    }
}

Result<std::shared_ptr<PerfEventArrayMap>> PerfEventArrayMap::create(const MapConfig& config) {
    if (auto valid = validate_map_config(config); !valid) {
        return std::move(valid).error();
    }
    if (config.kind != platform::MapKind::perf_event_array) {
        return Error::invalid(std::string("map ") + config.name + ": not a perf_event_array");
    }
    MapConfig resolved = config;
    if (resolved.slots == 0) {
        resolved.slots = slot_count();
    }
    if (resolved.max_entries == 0) {
        resolved.max_entries = resolved.slots; // one per CPU, as libbpf sizes it
    }
    resolved.key_size = 4;
    resolved.value_size = 4;
    std::shared_ptr<PerfEventArrayMap> map;
    try {
        map.reset(new PerfEventArrayMap(std::move(resolved)));
        map->m_buffers = std::make_unique<std::atomic<Buffer*>[]>(map->config().max_entries);
    } catch (const std::bad_alloc&) {
        return detail::out_of_memory(config, 0);
    }
    map->m_event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (map->m_event_fd < 0) {
        return Error::runtime(map->label() + ": eventfd failed: " + std::string(std::strerror(errno)));
    }
    return map;
}

long PerfEventArrayMap::output(std::uint64_t flags, const void* data, std::uint64_t size, const void* extra,
                               std::uint64_t extra_size) noexcept {
    if ((flags & ~bpf_f_index_mask) != 0) {
        return -EINVAL;
    }
    std::uint64_t index = flags & bpf_f_index_mask;
    if (index == bpf_f_current_cpu) {
        index = program_slot();
    }
    if (index >= config().max_entries) {
        return -E2BIG;
    }
    if (size > max_sample || extra_size > max_sample - size) {
        return -E2BIG;
    }
    const std::uint64_t total = size + extra_size;
    const std::uint64_t record = detail::round_up8(record_header + total);
    EpochGuard guard; // the host may close the buffer meanwhile
    Buffer* buffer = m_buffers[index].load(std::memory_order_seq_cst);
    if (buffer == nullptr) {
        return -ENOENT;
    }
    {
        std::lock_guard lock(buffer->lock);
        if (record > buffer->capacity - (buffer->head - buffer->tail)) {
            ++buffer->lost;
            return -ENOSPC;
        }
        const std::uint32_t header[2] = {static_cast<std::uint32_t>(total), 0};
        buffer->write(buffer->head, header, record_header);
        if (size != 0) {
            buffer->write(buffer->head + record_header, data, size);
        }
        if (extra_size != 0) {
            buffer->write(buffer->head + record_header + size, extra, extra_size);
        }
        buffer->head += record;
    }
    notify();
    return 0;
}

void PerfEventArrayMap::notify() noexcept {
    if (m_signaled.load(std::memory_order_seq_cst) || m_signaled.exchange(true, std::memory_order_seq_cst)) {
        return;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(m_event_fd, &one, sizeof one);
}

Result<void> PerfEventArrayMap::open(std::size_t bytes) {
    for (std::uint32_t i = 0; i < config().max_entries; ++i) {
        if (m_buffers[i].load(std::memory_order_acquire) == nullptr) {
            if (auto opened = open(i, bytes); !opened) {
                return opened;
            }
        }
    }
    return {};
}

Result<void> PerfEventArrayMap::open(std::uint32_t index, std::size_t bytes) {
    if (index >= config().max_entries) {
        return Error::invalid(label() + ": index " + std::to_string(index) + " out of range (max_entries " +
                              std::to_string(config().max_entries) + ")");
    }
    if (bytes == 0 || bytes > (std::size_t{1} << 31)) {
        return Error::invalid(label() + ": buffer size must be 1.." + std::to_string(std::size_t{1} << 31) +
                              " bytes, not " + std::to_string(bytes));
    }
    const std::size_t capacity = std::bit_ceil(std::max(bytes, min_buffer));
    std::lock_guard consumer_lock(m_consumer);
    if (m_buffers[index].load(std::memory_order_acquire) != nullptr) {
        return Error::invalid(label() + ": index " + std::to_string(index) + " is already open");
    }
    try {
        if (m_scratch.size() < capacity) {
            m_scratch.resize(capacity);
        }
    } catch (const std::bad_alloc&) {
        return detail::out_of_memory(config(), capacity);
    }
    Buffer* buffer = Buffer::create(capacity);
    if (buffer == nullptr) {
        return detail::out_of_memory(config(), capacity);
    }
    m_bytes.fetch_add(capacity, std::memory_order_relaxed);
    m_buffers[index].store(buffer, std::memory_order_seq_cst);
    return {};
}

void PerfEventArrayMap::close(std::uint32_t index) noexcept {
    if (index >= config().max_entries) {
        return;
    }
    Buffer* old = nullptr;
    {
        std::lock_guard consumer_lock(m_consumer);
        old = m_buffers[index].exchange(nullptr, std::memory_order_seq_cst);
    }
    if (old != nullptr) {
        m_bytes.fetch_sub(old->capacity, std::memory_order_relaxed);
        retire_node(&old->retired, &Buffer::reclaim); // outside the lock: it may run reclaim functions
    }
}

std::size_t PerfEventArrayMap::consume_impl(SampleFn on_sample, void* sample_context, LostFn on_lost,
                                            void* lost_context) {
    std::lock_guard consumer_lock(m_consumer);
    if (m_signaled.exchange(false, std::memory_order_seq_cst)) {
        std::uint64_t drained = 0;
        [[maybe_unused]] const ssize_t got = ::read(m_event_fd, &drained, sizeof drained);
    }
    std::size_t delivered = 0;
    for (std::uint32_t index = 0; index < config().max_entries; ++index) {
        // Buffers only close under m_consumer, which this thread holds.
        Buffer* buffer = m_buffers[index].load(std::memory_order_seq_cst);
        if (buffer == nullptr) {
            continue;
        }
        std::size_t bytes = 0;
        std::uint64_t lost = 0;
        {
            std::lock_guard lock(buffer->lock);
            bytes = static_cast<std::size_t>(buffer->head - buffer->tail);
            buffer->read(buffer->tail, m_scratch.data(), bytes);
            buffer->tail = buffer->head;
            lost = buffer->lost;
            buffer->lost = 0;
        }
        if (lost != 0) {
            on_lost(lost_context, index, lost);
        }
        for (std::size_t at = 0; at + record_header <= bytes;) {
            const std::uint32_t size = detail::load_u32(m_scratch.data() + at);
            on_sample(sample_context, index,
                      std::span<const std::uint8_t>(m_scratch.data() + at + record_header, size));
            ++delivered;
            at += detail::round_up8(record_header + size);
        }
    }
    return delivered;
}

std::size_t PerfEventArrayMap::poll_impl(std::chrono::milliseconds timeout, SampleFn on_sample, void* sample_context,
                                         LostFn on_lost, void* lost_context) {
    using clock = std::chrono::steady_clock;
    const bool forever = timeout.count() < 0;
    const auto deadline = clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
    for (;;) {
        if (const std::size_t delivered = consume_impl(on_sample, sample_context, on_lost, lost_context);
            delivered > 0) {
            return delivered;
        }
        int wait_ms = -1;
        if (!forever) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) {
                return 0;
            }
            wait_ms = static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 1 << 30));
        }
        pollfd descriptor{m_event_fd, POLLIN, 0};
        ::poll(&descriptor, 1, wait_ms);
    }
}

Result<bool> PerfEventArrayMap::host_lookup(std::span<const std::uint8_t>, std::span<std::uint8_t>) const {
    return Error::unsupported(label() + ": perf event arrays hold no readable values; use consume() or poll()");
}

Result<void> PerfEventArrayMap::host_update(std::span<const std::uint8_t>, std::span<const std::uint8_t>,
                                            std::uint64_t) {
    return Error::unsupported(label() + ": perf event buffers are opened with open()");
}

Result<bool> PerfEventArrayMap::host_erase(std::span<const std::uint8_t> key) {
    if (key.size() != 4) {
        return Error::invalid(label() + ": key of " + std::to_string(key.size()) + " bytes, expected 4");
    }
    const std::uint32_t index = detail::load_u32(key.data());
    if (index >= config().max_entries || m_buffers[index].load(std::memory_order_acquire) == nullptr) {
        return false;
    }
    close(index);
    return true;
}

Result<bool> PerfEventArrayMap::next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const {
    if ((!key.empty() && key.size() != 4) || next.size() != 4) {
        return Error::invalid(label() + ": keys are 4-byte indexes");
    }
    std::uint32_t index = 0;
    if (key.size() == 4) {
        const std::uint32_t current = detail::load_u32(key.data());
        if (current < config().max_entries) {
            if (current + 1 >= config().max_entries) {
                return false;
            }
            index = current + 1;
        }
    }
    std::memcpy(next.data(), &index, 4);
    return true;
}

std::size_t PerfEventArrayMap::memory_size() const noexcept {
    return std::size_t{config().max_entries} * sizeof(void*) + m_bytes.load(std::memory_order_relaxed);
}

} // namespace embpf::runtime
