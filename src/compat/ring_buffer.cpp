// ring_buffer__* of the libbpf-compatible C API: one consumer over the ring buffer maps of several descriptors.
#include "state.hpp"

#include "embpf/runtime/ring_buffer.hpp"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <deque>
#include <new>
#include <vector>

struct ring_buffer {
    struct Ring {
        std::shared_ptr<embpf::runtime::RingBufferMap> map;
        ring_buffer_sample_fn callback = nullptr;
        void* context = nullptr;
    };
    // A deque: a callback may add a ring (ring_buffer__add) while the consumer loop holds a reference to another.
    std::deque<Ring> rings;
};

namespace embpf::compat {
namespace {

Result<ring_buffer::Ring> ring_of(int map_fd, ring_buffer_sample_fn callback, void* context) {
    if (callback == nullptr) {
        return Error::invalid("no sample callback").with_errno(EINVAL);
    }
    std::optional<MapHandle> map;
    {
        State& s = state();
        const std::lock_guard lock(s.mutex);
        const auto it = s.descriptors.find(map_fd);
        if (it != s.descriptors.end()) {
            if (const auto* handle = std::get_if<MapHandle>(&it->second.target)) {
                map = *handle;
            }
        }
    }
    if (!map) {
        return Error::invalid("descriptor " + std::to_string(map_fd) + " is no map").with_errno(EBADF);
    }
    if (map->kind() != platform::MapKind::ringbuf) {
        return Error::invalid("map " + map->name() + " is not a ring buffer").with_errno(EINVAL);
    }
    return ring_buffer::Ring{std::static_pointer_cast<runtime::RingBufferMap>(map->runtime_map()), callback, context};
}

// The maps this thread consumes now: a callback that consumes one of them again (through any ring_buffer) would wait
// for itself on the map's consumer lock, so it gets -EBUSY instead.
thread_local std::vector<const runtime::RingBufferMap*> t_consuming;

class Consuming {
  public:
    explicit Consuming(const runtime::RingBufferMap* map) : m_map(map) { t_consuming.push_back(map); }
    ~Consuming() { t_consuming.erase(std::find(t_consuming.begin(), t_consuming.end(), m_map)); }
    Consuming(const Consuming&) = delete;
    Consuming& operator=(const Consuming&) = delete;
    [[nodiscard]] static bool busy(const ring_buffer& rb) {
        return std::any_of(rb.rings.begin(), rb.rings.end(), [](const ring_buffer::Ring& ring) {
            return std::find(t_consuming.begin(), t_consuming.end(), ring.map.get()) != t_consuming.end();
        });
    }

  private:
    const runtime::RingBufferMap* m_map;
};

// Consumes what each ring holds now; the records consumed, or the first error a callback returned. Rings are taken by
// index: a callback may add more.
long consume_all(ring_buffer& rb) {
    long total = 0;
    for (std::size_t i = 0; i < rb.rings.size(); ++i) {
        ring_buffer::Ring& ring = rb.rings[i];
        const Consuming consuming(ring.map.get());
        int error = 0;
        const std::size_t n = ring.map->consume([&](std::span<const std::uint8_t> record) {
            // libbpf's callbacks take a non-const pointer; the records are the consumer's to read, not to change.
            const int status = ring.callback(ring.context, const_cast<std::uint8_t*>(record.data()), record.size());
            if (status < 0) {
                error = status;
                return false;
            }
            return true;
        });
        if (error < 0) {
            return error;
        }
        total += static_cast<long>(n);
        if (total > INT_MAX) {
            return INT_MAX;
        }
    }
    return total;
}

} // namespace
} // namespace embpf::compat

using namespace embpf;
using compat::fail;

extern "C" {

ring_buffer* ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void* ctx, const ring_buffer_opts* opts) {
    (void)opts; // no option is defined yet
    auto ring = compat::ring_of(map_fd, sample_cb, ctx);
    if (!ring) {
        compat::print(LIBBPF_WARN, "libbpf: ringbuf: %s\n", ring.error().message.c_str());
        return compat::fail_null<ring_buffer>(ring.error().errnum);
    }
    auto* rb = new (std::nothrow) ring_buffer;
    if (rb == nullptr) {
        return compat::fail_null<ring_buffer>(ENOMEM);
    }
    rb->rings.push_back(std::move(ring).value());
    return rb;
}

int ring_buffer__add(ring_buffer* rb, int map_fd, ring_buffer_sample_fn sample_cb, void* ctx) {
    if (rb == nullptr) {
        return fail(EINVAL);
    }
    auto ring = compat::ring_of(map_fd, sample_cb, ctx);
    if (!ring) {
        compat::print(LIBBPF_WARN, "libbpf: ringbuf: %s\n", ring.error().message.c_str());
        return fail(ring.error().errnum);
    }
    rb->rings.push_back(std::move(ring).value());
    return 0;
}

int ring_buffer__consume(ring_buffer* rb) {
    if (rb == nullptr) {
        return fail(EINVAL);
    }
    if (compat::Consuming::busy(*rb)) {
        return fail(EBUSY);
    }
    const long n = compat::consume_all(*rb);
    return n < 0 ? fail(static_cast<int>(-n)) : static_cast<int>(n);
}

int ring_buffer__poll(ring_buffer* rb, int timeout_ms) {
    if (rb == nullptr) {
        return fail(EINVAL);
    }
    if (compat::Consuming::busy(*rb)) {
        return fail(EBUSY);
    }
    if (rb->rings.size() == 1) {
        // One ring waits in the ring's own poll, which skips the eventfd while records keep coming.
        ring_buffer::Ring& ring = rb->rings.front();
        const compat::Consuming consuming(ring.map.get());
        int error = 0;
        const std::size_t n =
            ring.map->poll(std::chrono::milliseconds(timeout_ms), [&](std::span<const std::uint8_t> r) {
                const int status = ring.callback(ring.context, const_cast<std::uint8_t*>(r.data()), r.size());
                if (status < 0) {
                    error = status;
                    return false;
                }
                return true;
            });
        if (error < 0) {
            return fail(-error);
        }
        return n > INT_MAX ? INT_MAX : static_cast<int>(n);
    }
    // consume() re-arms each ring's eventfd before it reads: a record committed after it is signalled, so waiting on
    // the descriptors when nothing was there misses none.
    const long first = compat::consume_all(*rb);
    if (first != 0) {
        return first < 0 ? fail(static_cast<int>(-first)) : static_cast<int>(first);
    }
    std::vector<pollfd> fds;
    for (const ring_buffer::Ring& ring : rb->rings) {
        fds.push_back({ring.map->wait_fd(), POLLIN, 0});
    }
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms < 0 ? -1 : timeout_ms);
    if (ready < 0) {
        return fail(errno);
    }
    const long n = compat::consume_all(*rb);
    return n < 0 ? fail(static_cast<int>(-n)) : static_cast<int>(n);
}

void ring_buffer__free(ring_buffer* rb) { delete rb; }

} // extern "C"
