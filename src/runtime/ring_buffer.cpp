// The ring buffer map (layout, reservation and wakeup protocol described in ring_buffer.hpp).
//
// Memory orders: the producer position is published with a seq_cst store under the reservation lock, a commit is a
// seq_cst exchange of the header, and the consumer loads both seq_cst; together with the seq_cst wakeup flag this is
// a Dekker pattern: either a producer sees that the consumer cleared the flag (and signals), or the consumer, which
// clears the flag before it reads, sees the record.
#include "embpf/runtime/ring_buffer.hpp"

#include "common.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

namespace embpf::runtime {
namespace {

constexpr std::uint64_t meta_magic = 0x7262667065626d65ULL; // "embpfbr" as a tag for from_sample's sanity check
constexpr std::uint32_t max_record_size = 0xffffffffU >> 2; // RINGBUF_MAX_RECORD_SZ
constexpr std::size_t meta_pages = 3;                       // meta, consumer position, producer position

struct MetaPage {
    std::uint64_t magic;
    RingBufferMap* self;
};

std::size_t page_size() noexcept {
    const long page = ::sysconf(_SC_PAGESIZE);
    return page > 0 ? static_cast<std::size_t>(page) : 4096;
}

std::atomic_ref<std::uint32_t> header_len(std::byte* header) noexcept {
    return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(header));
}

std::string errno_text(int err) { return std::string(std::strerror(err)); }

} // namespace

std::size_t detail::ring_buffer_memory(const MapConfig& config) noexcept {
    return meta_pages * page_size() + config.max_entries;
}

RingBufferMap::RingBufferMap(MapConfig config) noexcept : Map(std::move(config)) {}

RingBufferMap::~RingBufferMap() {
    if (m_base != nullptr) {
        ::munmap(m_base, m_mapping_size);
    }
    if (m_event_fd >= 0) {
        ::close(m_event_fd);
    }
}

Result<std::shared_ptr<RingBufferMap>> RingBufferMap::create(const MapConfig& config) {
    if (auto valid = validate_map_config(config); !valid) {
        return std::move(valid).error();
    }
    if (config.kind != platform::MapKind::ringbuf) {
        return Error::invalid(std::string("map ") + config.name + ": not a ringbuf");
    }
    std::shared_ptr<RingBufferMap> map;
    try {
        map.reset(new RingBufferMap(config));
    } catch (const std::bad_alloc&) {
        return detail::out_of_memory(config, 0);
    }
    if (auto mapped = map->map_memory(); !mapped) {
        return std::move(mapped).error();
    }
    return map;
}

Result<void> RingBufferMap::map_memory() {
    m_page = page_size();
    m_size = config().max_entries;
    m_mask = m_size - 1;
    const std::size_t header_bytes = meta_pages * m_page;
    const std::size_t file_bytes = header_bytes + m_size;
    const std::string what = label();

    const int fd = ::memfd_create("embpf-ringbuf", MFD_CLOEXEC);
    if (fd < 0) {
        return Error::runtime(what + ": memfd_create failed: " + errno_text(errno));
    }
    auto fail = [&](std::string_view step) {
        const int err = errno;
        ::close(fd);
        return Error::runtime(what + ": " + std::string(step) + " failed: " + errno_text(err));
    };
    if (::ftruncate(fd, static_cast<off_t>(file_bytes)) != 0) {
        return fail("ftruncate");
    }
    // Reserve the whole range, then map the file over it and its data pages once more right after. Both mappings are
    // populated now, as other maps' memory is (detail::commit_memory): a record's first write would fault otherwise.
    m_mapping_size = file_bytes + m_size;
    void* reserved = ::mmap(nullptr, m_mapping_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (reserved == MAP_FAILED) {
        return fail("mmap (reserve)");
    }
    m_base = static_cast<std::byte*>(reserved);
    if (::mmap(m_base, file_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) ==
        MAP_FAILED) {
        return fail("mmap (ring)");
    }
    if (::mmap(m_base + file_bytes, m_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
               static_cast<off_t>(header_bytes)) == MAP_FAILED) {
        return fail("mmap (data alias)");
    }
    ::close(fd); // the mappings keep the memory
    m_data = m_base + header_bytes;
    m_consumer_pos = reinterpret_cast<std::uint64_t*>(m_base + m_page);
    m_producer_pos = reinterpret_cast<std::uint64_t*>(m_base + 2 * m_page);
    auto* meta = reinterpret_cast<MetaPage*>(m_base);
    meta->magic = meta_magic;
    meta->self = this;

    m_event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_event_fd < 0) {
        return Error::runtime(what + ": eventfd failed: " + errno_text(errno));
    }
    return {};
}

void* RingBufferMap::reserve(std::uint64_t size, std::uint64_t flags) noexcept {
    if (flags != 0 || size > max_record_size) {
        return nullptr;
    }
    const std::uint64_t len = detail::round_up8(size + bpf_ringbuf_hdr_sz);
    if (len > m_size) {
        return nullptr;
    }
    detail::SpinLockRef lock(m_reserve_lock);
    std::atomic_ref<std::uint64_t> producer_ref(*m_producer_pos);
    const std::uint64_t producer = producer_ref.load(std::memory_order_relaxed);
    const std::uint64_t next = producer + len;
    // The consumer position lives on a line the consumer keeps writing: read it only when the ring looks full. A
    // stale value is conservative, and it was loaded with acquire under this lock, which orders our writes after the
    // consumer's reads of the space.
    std::uint64_t consumer = m_cached_consumer;
    if (next - consumer > m_mask) {
        consumer = std::atomic_ref<std::uint64_t>(*m_consumer_pos).load(std::memory_order_acquire);
        m_cached_consumer = consumer;
    }
    // Never reach over a record that is still being written, even if the consumer position says there is room
    // (Linux tracks the same pending position).
    std::uint64_t pending = m_pending_pos;
    while (pending < producer) {
        const std::uint32_t header = header_len(m_data + (pending & m_mask)).load(std::memory_order_acquire);
        if ((header & bpf_ringbuf_busy_bit) != 0) {
            break;
        }
        pending += detail::round_up8((header & ~(bpf_ringbuf_busy_bit | bpf_ringbuf_discard_bit)) + bpf_ringbuf_hdr_sz);
    }
    m_pending_pos = pending;
    if (next - consumer > m_mask || next - pending > m_mask) {
        return nullptr;
    }
    std::byte* header = m_data + (producer & m_mask);
    header_len(header).store(static_cast<std::uint32_t>(size) | bpf_ringbuf_busy_bit, std::memory_order_relaxed);
    const auto pg_off = static_cast<std::uint32_t>(static_cast<std::size_t>(header - m_base) / m_page);
    std::memcpy(header + 4, &pg_off, 4);
    producer_ref.store(next, std::memory_order_seq_cst);
    return header + bpf_ringbuf_hdr_sz;
}

RingBufferMap* RingBufferMap::from_sample(const void* sample) noexcept {
    if (sample == nullptr) {
        return nullptr;
    }
    const auto* header = static_cast<const std::byte*>(sample) - bpf_ringbuf_hdr_sz;
    std::uint32_t pg_off = 0;
    std::memcpy(&pg_off, header + 4, 4);
    static const std::size_t page = page_size();
    const auto address = reinterpret_cast<std::uintptr_t>(header);
    const auto base = (address & ~static_cast<std::uintptr_t>(page - 1)) - std::uintptr_t{pg_off} * page;
    const auto* meta = reinterpret_cast<const MetaPage*>(base);
    return meta->magic == meta_magic ? meta->self : nullptr;
}

void RingBufferMap::commit(void* sample, std::uint64_t flags, bool discarded) noexcept {
    auto* header = static_cast<std::byte*>(sample) - bpf_ringbuf_hdr_sz;
    auto len = header_len(header);
    std::uint32_t value = len.load(std::memory_order_relaxed) & ~bpf_ringbuf_busy_bit;
    if (discarded) {
        value |= bpf_ringbuf_discard_bit;
    }
    len.exchange(value, std::memory_order_seq_cst);
    if ((flags & bpf_rb_force_wakeup) != 0 || (flags & bpf_rb_no_wakeup) == 0) {
        notify();
    }
}

void RingBufferMap::submit(void* sample, std::uint64_t flags) noexcept { commit(sample, flags, false); }

void RingBufferMap::discard(void* sample, std::uint64_t flags) noexcept { commit(sample, flags, true); }

void RingBufferMap::notify() noexcept {
    // Forced or not, a wakeup that is already pending wakes the consumer: another write to the eventfd would only cost
    // a system call per record (a plugin submitting with BPF_RB_FORCE_WAKEUP in a loop made one each).
    if (m_signaled.load(std::memory_order_seq_cst) || m_signaled.exchange(true, std::memory_order_seq_cst)) {
        return;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(m_event_fd, &one, sizeof one);
}

long RingBufferMap::output(const void* data, std::uint64_t size, std::uint64_t flags) noexcept {
    if ((flags & ~(bpf_rb_no_wakeup | bpf_rb_force_wakeup)) != 0) {
        return -EINVAL;
    }
    void* record = reserve(size, 0);
    if (record == nullptr) {
        return -EAGAIN;
    }
    if (size != 0) {
        std::memcpy(record, data, size);
    }
    submit(record, flags);
    return 0;
}

std::uint64_t RingBufferMap::query(std::uint64_t flags) const noexcept {
    const std::uint64_t consumer = std::atomic_ref<std::uint64_t>(*m_consumer_pos).load(std::memory_order_acquire);
    const std::uint64_t producer = std::atomic_ref<std::uint64_t>(*m_producer_pos).load(std::memory_order_acquire);
    switch (flags) {
    case bpf_rb_avail_data: return producer - consumer;
    case bpf_rb_ring_size: return m_size;
    case bpf_rb_cons_pos: return consumer;
    case bpf_rb_prod_pos: return producer;
    default: return 0;
    }
}

std::size_t RingBufferMap::consume_impl(RecordFn fn, void* context) {
    std::lock_guard consumer_lock(m_consumer);
    rearm_wakeup();
    return consume_locked(fn, context);
}

void RingBufferMap::rearm_wakeup() noexcept {
    if (m_signaled.exchange(false, std::memory_order_seq_cst)) {
        std::uint64_t drained = 0;
        [[maybe_unused]] const ssize_t got = ::read(m_event_fd, &drained, sizeof drained);
    }
}

std::size_t RingBufferMap::consume_locked(RecordFn fn, void* context) {
    std::atomic_ref<std::uint64_t> consumer_ref(*m_consumer_pos);
    std::atomic_ref<std::uint64_t> producer_ref(*m_producer_pos);
    std::uint64_t consumer = consumer_ref.load(std::memory_order_relaxed);
    std::size_t delivered = 0;
    for (;;) {
        const std::uint64_t producer = producer_ref.load(std::memory_order_seq_cst);
        bool progressed = false;
        while (consumer < producer) {
            std::byte* header = m_data + (consumer & m_mask);
            const std::uint32_t len = header_len(header).load(std::memory_order_seq_cst);
            if ((len & bpf_ringbuf_busy_bit) != 0) {
                return delivered;
            }
            const std::uint32_t size = len & ~(bpf_ringbuf_busy_bit | bpf_ringbuf_discard_bit);
            const std::uint64_t after = consumer + detail::round_up8(std::uint64_t{size} + bpf_ringbuf_hdr_sz);
            progressed = true;
            bool keep_going = true;
            if ((len & bpf_ringbuf_discard_bit) == 0) {
                const std::span<const std::uint8_t> record(
                    reinterpret_cast<const std::uint8_t*>(header + bpf_ringbuf_hdr_sz), size);
                ++delivered;
                try {
                    keep_going = fn(context, record);
                } catch (...) {
                    consumer_ref.store(after, std::memory_order_release);
                    throw;
                }
            }
            consumer = after;
            // Released only after the callback: the producers must not reuse the bytes while it reads them.
            consumer_ref.store(consumer, std::memory_order_release);
            if (!keep_going) {
                return delivered;
            }
        }
        if (!progressed) {
            return delivered;
        }
    }
}

std::size_t RingBufferMap::poll_impl(std::chrono::milliseconds timeout, RecordFn fn, void* context) {
    using clock = std::chrono::steady_clock;
    const bool forever = timeout.count() < 0;
    const auto deadline = clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
    std::unique_lock consumer_lock(m_consumer);
    for (;;) {
        // While records keep coming the wakeup stays disarmed, so producers make no system calls; it is re-armed
        // (and records checked once more) only before blocking.
        if (const std::size_t delivered = consume_locked(fn, context); delivered > 0) {
            return delivered;
        }
        rearm_wakeup();
        if (const std::size_t delivered = consume_locked(fn, context); delivered > 0) {
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
        consumer_lock.unlock();
        ::poll(&descriptor, 1, wait_ms); // EINTR: loop and recompute the time left
        consumer_lock.lock();
    }
}

Result<bool> RingBufferMap::host_lookup(std::span<const std::uint8_t>, std::span<std::uint8_t>) const {
    return Error::unsupported(label() + ": ring buffers have no keys; use consume() or poll()");
}

Result<void> RingBufferMap::host_update(std::span<const std::uint8_t>, std::span<const std::uint8_t>, std::uint64_t) {
    return Error::unsupported(label() + ": ring buffers have no keys; use output() or reserve()/submit()");
}

Result<bool> RingBufferMap::host_erase(std::span<const std::uint8_t>) {
    return Error::unsupported(label() + ": ring buffers have no keys");
}

Result<bool> RingBufferMap::next_key(std::span<const std::uint8_t>, std::span<std::uint8_t>) const {
    return Error::unsupported(label() + ": ring buffers have no keys");
}

std::size_t RingBufferMap::memory_size() const noexcept { return meta_pages * m_page + m_size; }

} // namespace embpf::runtime
