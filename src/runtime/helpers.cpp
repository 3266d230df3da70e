// Implementations of the general helpers. Each takes the five argument registers and returns r0; pointers arrive
// as integers because the verifier (or the checked interpreter) has already vouched for them.
#include "embpf/runtime/helpers.hpp"

#include "embpf/runtime/map.hpp"
#include "embpf/runtime/perf_event_array.hpp"
#include "embpf/runtime/ring_buffer.hpp"
#include "embpf/runtime/slot.hpp"
#include "invocation_scope.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace embpf::runtime {

namespace {

using u64 = std::uint64_t;

template <typename T>
T* ptr(u64 value) {
    return reinterpret_cast<T*>(static_cast<std::uintptr_t>(value));
}

u64 from_long(long value) { return static_cast<u64>(static_cast<std::int64_t>(value)); }

Map* map_of(u64 value) { return ptr<Map>(value); }

// --- maps --------------------------------------------------------------------------------------------------------

u64 map_lookup_elem(u64 map, u64 key, u64, u64, u64) {
    return reinterpret_cast<std::uintptr_t>(map_of(map)->lookup(ptr<const void>(key)));
}
u64 map_update_elem(u64 map, u64 key, u64 value, u64 flags, u64) {
    return from_long(map_of(map)->update(ptr<const void>(key), ptr<const void>(value), flags));
}
u64 map_delete_elem(u64 map, u64 key, u64, u64, u64) { return from_long(map_of(map)->erase(ptr<const void>(key))); }
// eBPF for Windows returns the value of the entry it deleted; the epoch keeps it readable until the invocation ends.
u64 map_lookup_and_delete_elem(u64 map, u64 key, u64, u64, u64) {
    return reinterpret_cast<std::uintptr_t>(map_of(map)->detach(ptr<const void>(key)));
}
u64 map_push_elem(u64 map, u64 value, u64 flags, u64, u64) {
    return from_long(map_of(map)->push(ptr<const void>(value), flags));
}
// Both fill the whole value: with the element, or with zeros when there is none (their write contract is `all`).
u64 map_pop_elem(u64 map, u64 value, u64, u64, u64) {
    const long result = map_of(map)->pop(ptr<void>(value));
    if (result != 0) {
        std::memset(ptr<void>(value), 0, map_of(map)->config().value_size);
    }
    return from_long(result);
}
u64 map_peek_elem(u64 map, u64 value, u64, u64, u64) {
    const long result = map_of(map)->peek(ptr<void>(value));
    if (result != 0) {
        std::memset(ptr<void>(value), 0, map_of(map)->config().value_size);
    }
    return from_long(result);
}

// --- ring buffers and perf events -----------------------------------------------------------------------------

RingBufferMap* ring_of(u64 map) {
    Map* m = map_of(map);
    return m->config().kind == platform::MapKind::ringbuf ? static_cast<RingBufferMap*>(m) : nullptr;
}

u64 ringbuf_output(u64 map, u64 data, u64 size, u64 flags, u64) {
    RingBufferMap* ring = ring_of(map);
    return ring == nullptr ? from_long(-EINVAL) : from_long(ring->output(ptr<const void>(data), size, flags));
}
// The records this thread's programs hold, so that a run that stops before its exit (an instruction budget, a fault
// in the checked interpreter, an unverified program) does not leave one reserved for ever, which would stop the
// consumer there. An invocation discards what it reserved and still holds when it ends.
struct OpenRecord {
    RingBufferMap* ring = nullptr;
    void* sample = nullptr;
};
constexpr std::size_t kMaxOpenRecords = 4096;
thread_local std::vector<OpenRecord> t_open_records;

void forget_record(const void* sample) noexcept {
    for (auto it = t_open_records.rbegin(); it != t_open_records.rend(); ++it) {
        if (it->sample == sample) {
            t_open_records.erase(std::next(it).base());
            return;
        }
    }
}

u64 ringbuf_reserve(u64 map, u64 size, u64 flags, u64, u64) {
    RingBufferMap* ring = ring_of(map);
    if (ring == nullptr || t_open_records.size() >= kMaxOpenRecords) {
        return 0;
    }
    void* sample = ring->reserve(size, flags);
    if (sample == nullptr) {
        return 0;
    }
    try {
        t_open_records.push_back({ring, sample});
    } catch (const std::bad_alloc&) {
        ring->discard(sample, 0);
        return 0;
    }
    return reinterpret_cast<std::uintptr_t>(sample);
}
u64 ringbuf_submit(u64 sample, u64 flags, u64, u64, u64) {
    if (RingBufferMap* ring = RingBufferMap::from_sample(ptr<const void>(sample))) {
        forget_record(ptr<const void>(sample));
        ring->submit(ptr<void>(sample), flags);
    }
    return 0;
}
u64 ringbuf_discard(u64 sample, u64 flags, u64, u64, u64) {
    if (RingBufferMap* ring = RingBufferMap::from_sample(ptr<const void>(sample))) {
        forget_record(ptr<const void>(sample));
        ring->discard(ptr<void>(sample), flags);
    }
    return 0;
}
u64 ringbuf_query(u64 map, u64 flags, u64, u64, u64) {
    RingBufferMap* ring = ring_of(map);
    return ring == nullptr ? 0 : ring->query(flags);
}
// Linux: perf_event_output(ctx, map, flags, data, size); eBPF for Windows has the same order.
u64 perf_event_output(u64, u64 map, u64 flags, u64 data, u64 size) {
    Map* m = map_of(map);
    if (m->config().kind != platform::MapKind::perf_event_array) {
        return from_long(-EINVAL);
    }
    return from_long(static_cast<PerfEventArrayMap*>(m)->output(flags, ptr<const void>(data), size));
}

// --- spin locks --------------------------------------------------------------------------------------------------

// The bpf_spin_lock this thread holds, if any: a program takes one at a time and releases it before it ends (the
// verifier proves both). A run that stops while it holds one (an instruction budget, a fault in the checked
// interpreter, an unverified program) has it released when its invocation ends, so that no other thread waits for
// ever. A second bpf_spin_lock while one is held (checked runs refuse it as the verifier does: only a program an
// interpreter runs without the prototypes gets there) does not wait on the thread itself, and bpf_spin_unlock
// releases only the lock held.
thread_local std::uint32_t* t_held_lock = nullptr;
// What t_held_lock is while a nested invocation runs inside one that holds a lock: it is held, and not the nested
// invocation's to release.
std::uint32_t g_outer_lock = 0;

void release_lock(std::uint32_t* word) noexcept {
    std::atomic_ref<std::uint32_t>(*word).store(0, std::memory_order_release);
}

u64 spin_lock(u64 lock, u64, u64, u64, u64) {
    if (t_held_lock != nullptr) {
        return 0;
    }
    auto* word = reinterpret_cast<std::uint32_t*>(static_cast<std::uintptr_t>(lock));
    std::atomic_ref<std::uint32_t> state(*word);
    for (unsigned spins = 0; state.exchange(1, std::memory_order_acquire) != 0;) {
        // The holder runs a bounded stretch of a program with no helper calls, and its invocation releases the lock
        // if it stops first: wait for it, yielding the processor once it is clearly preempted. Nothing else sets the
        // word: the verifier keeps programs' loads, stores and helpers off it, checked runs too, and updates leave it.
        while (state.load(std::memory_order_relaxed) != 0) {
            if (++spins % 64 == 0) {
                sched_yield();
            } else {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#elif defined(__aarch64__)
                asm volatile("yield");
#endif
            }
        }
    }
    t_held_lock = word;
    return 0;
}
u64 spin_unlock(u64 lock, u64, u64, u64, u64) {
    auto* word = reinterpret_cast<std::uint32_t*>(static_cast<std::uintptr_t>(lock));
    if (t_held_lock == word) {
        t_held_lock = nullptr;
        release_lock(word);
    }
    return 0;
}

// --- tail calls --------------------------------------------------------------------------------------------------

// The chain of the invocation running on this thread: how many tail calls it made, and the program the last
// successful one switched to, which the invoker runs once the current program has stopped.
thread_local std::uint32_t t_tail_calls = 0;
thread_local const Invocable* t_pending_tail_call = nullptr;
thread_local std::uint32_t t_invocation_depth = 0;
// The program runs of the outermost invocation on this thread and every invocation nested in it.
thread_local std::uint32_t t_runs = 0;
// The data range of the invocation running on this thread (PacketState), and where its programs last redirected.
thread_local PacketState t_packet{};
// The context of each invocation running on this thread, by depth (1 is the outermost at index 0).
struct ContextRange {
    std::uintptr_t start = 0;
    std::size_t size = 0;
};
thread_local ContextRange t_contexts[kMaxInvocationDepth];
thread_local std::optional<Redirect> t_last_redirect;

u64 tail_call(u64, u64 map, u64 index, u64, u64) {
    Map* m = map_of(map);
    if (m->config().kind != platform::MapKind::prog_array || index > 0xffffffffu) {
        return from_long(-EINVAL);
    }
    const Invocable* target = static_cast<ProgramArrayMap*>(m)->program_at(static_cast<std::uint32_t>(index));
    if (target == nullptr) {
        return from_long(-ENOENT);
    }
    if (t_tail_calls >= kMaxTailCalls || t_runs >= kMaxRunsPerInvocation) {
        return from_long(-E2BIG);
    }
    ++t_tail_calls;
    ++t_runs;
    t_pending_tail_call = target;
    return 0; // the interpreter stops the caller on 0: a successful tail call does not return
}

// --- packets -------------------------------------------------------------------------------------------------------

// The invocation's data range, if `ctx` is its context and its type has one.
PacketState* packet_of(u64 ctx) noexcept {
    PacketState& packet = t_packet;
    return packet.type != nullptr && ptr<void>(ctx) == packet.ctx ? &packet : nullptr;
}

// [offset, offset + length) within the packet, or nullptr.
std::uint8_t* packet_bytes(const PacketState& packet, u64 offset, u64 length) noexcept {
    const auto size = static_cast<u64>(packet.data_end - packet.data);
    if (offset > size || length > size - offset) {
        return nullptr;
    }
    return packet.data + offset;
}

// The writable bytes [offset, offset + size) of the invocation's packet for a helper given `ctx`, or the error the
// helper returns: -EINVAL for flags outside `known` or a context that is not the invocation's, -EPERM for a packet the
// hook shares read-only, -EFAULT past its end.
std::variant<std::uint8_t*, long> writable_packet(u64 ctx, u64 offset, u64 size, u64 flags, u64 known) {
    PacketState* packet = packet_of(ctx);
    if (packet == nullptr || (flags & ~known) != 0) {
        return long{-EINVAL};
    }
    if (packet->type->context.read_only_data) {
        return long{-EPERM};
    }
    std::uint8_t* bytes = packet_bytes(*packet, offset, size);
    if (bytes == nullptr) {
        return long{-EFAULT};
    }
    return bytes;
}

// skb_load_bytes, xdp_load_bytes: the bytes at `offset`, or zeros and -EFAULT (the buffer is always written: the
// contract says so).
u64 load_bytes(u64 ctx, u64 offset, u64 to, u64 length, u64) {
    const PacketState* packet = packet_of(ctx);
    const std::uint8_t* from = packet != nullptr ? packet_bytes(*packet, offset, length) : nullptr;
    if (from == nullptr) {
        std::memset(ptr<void>(to), 0, length);
        return from_long(packet == nullptr ? -EINVAL : -EFAULT);
    }
    std::memmove(ptr<void>(to), from, length);
    return 0;
}

// skb_store_bytes, xdp_store_bytes: writes `length` bytes at `offset` (flags: BPF_F_RECOMPUTE_CSUM and
// BPF_F_INVALIDATE_HASH, which mean nothing here).
u64 store_bytes(u64 ctx, u64 offset, u64 from, u64 length, u64 flags) {
    const auto to = writable_packet(ctx, offset, length, flags, 0x3);
    if (const long* error = std::get_if<long>(&to)) {
        return from_long(*error);
    }
    std::memmove(std::get<std::uint8_t*>(to), ptr<const void>(from), length);
    return 0;
}

// One's-complement arithmetic on 16-bit words as they lie in memory: the Internet checksum commutes with the byte
// order, so a program's values (read from the packet as they lie) and the field combine in any order.
std::uint32_t fold_add(std::uint32_t sum, std::uint32_t value) {
    u64 total = u64{sum} + value;
    total = (total & 0xffffffffu) + (total >> 32);
    return static_cast<std::uint32_t>(total);
}
std::uint16_t fold16(std::uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// Replaces `from` by `to` (size 2 or 4 bytes) in the checksum at `field`, or adds the difference `to` (size 0,
// `from` 0: a csum_diff result), as RFC 1624 does incrementally.
bool replace_checksum(std::uint8_t* field, u64 from, u64 to, u64 size) {
    std::uint16_t checksum;
    std::memcpy(&checksum, field, 2);
    std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
    switch (size) {
    case 0:
        if (from != 0) {
            return false;
        }
        sum = fold_add(sum, static_cast<std::uint32_t>(to));
        break;
    case 2:
        sum = fold_add(sum, static_cast<std::uint16_t>(~static_cast<std::uint16_t>(from)));
        sum = fold_add(sum, static_cast<std::uint16_t>(to));
        break;
    case 4:
        sum = fold_add(sum, ~static_cast<std::uint32_t>(from));
        sum = fold_add(sum, static_cast<std::uint32_t>(to));
        break;
    default: return false;
    }
    checksum = static_cast<std::uint16_t>(~fold16(sum));
    std::memcpy(field, &checksum, 2);
    return true;
}

// l3_csum_replace(ctx, offset, from, to, size): the IP header checksum at `offset`.
u64 l3_csum_replace(u64 ctx, u64 offset, u64 from, u64 to, u64 flags) {
    const auto field = writable_packet(ctx, offset, 2, flags, 0xf);
    if (const long* error = std::get_if<long>(&field)) {
        return from_long(*error);
    }
    return replace_checksum(std::get<std::uint8_t*>(field), from, to, flags & 0xf) ? 0 : from_long(-EINVAL);
}

// l4_csum_replace(ctx, offset, from, to, flags): the TCP or UDP checksum at `offset`; with BPF_F_MARK_MANGLED_0
// (0x20) a UDP checksum of 0 (none) stays 0 and a result of 0 is written as 0xffff. BPF_F_PSEUDO_HDR (0x10) and
// BPF_F_MARK_ENFORCE (0x40) concern the kernel's own checksum state only.
u64 l4_csum_replace(u64 ctx, u64 offset, u64 from, u64 to, u64 flags) {
    const auto writable = writable_packet(ctx, offset, 2, flags, 0x7f);
    if (const long* error = std::get_if<long>(&writable)) {
        return from_long(*error);
    }
    std::uint8_t* field = std::get<std::uint8_t*>(writable);
    const bool mangled_zero = (flags & 0x20) != 0;
    if (mangled_zero && field[0] == 0 && field[1] == 0) {
        return 0;
    }
    if (!replace_checksum(field, from, to, flags & 0xf)) {
        return from_long(-EINVAL);
    }
    if (mangled_zero && field[0] == 0 && field[1] == 0) {
        field[0] = 0xff;
        field[1] = 0xff;
    }
    return 0;
}

// Writes the packet's pointers into the context where the program reads them (its own fields, or the host's slots
// behind a struct of 32-bit fields).
void write_pointer(const PacketState& packet, std::int32_t field, const std::uint8_t* value) {
    const platform::ContextDescriptor& context = packet.type->context;
    const auto address = reinterpret_cast<std::uintptr_t>(value);
    std::memcpy(static_cast<std::uint8_t*>(packet.ctx) + context.host_offset(field), &address, 8);
}
const std::uint8_t* read_pointer(const PacketState& packet, std::int32_t field) {
    std::uintptr_t address = 0;
    std::memcpy(&address, static_cast<const std::uint8_t*>(packet.ctx) + packet.type->context.host_offset(field), 8);
    return reinterpret_cast<const std::uint8_t*>(address);
}

// An XDP frame keeps at least its Ethernet header, as Linux's does.
constexpr u64 kMinFrame = 14;

// xdp_adjust_head(ctx, delta): moves the packet's start by `delta` bytes (negative: into the headroom the host gave),
// the metadata in front of it along; 0, or -EINVAL when the frame would leave its buffer, keep less than an Ethernet
// header or exceed the hook's max_data_size.
u64 xdp_adjust_head(u64 ctx, u64 delta_bits, u64, u64, u64) {
    PacketState* packet = packet_of(ctx);
    if (packet == nullptr || !packet->movable || packet->type->context.read_only_data) {
        return from_long(-EINVAL);
    }
    const auto delta = static_cast<std::int64_t>(static_cast<std::int32_t>(delta_bits));
    const auto room_before = static_cast<std::int64_t>(packet->data - packet->lowest);
    const auto size = static_cast<std::int64_t>(packet->data_end - packet->data);
    const platform::ContextDescriptor& context = packet->type->context;
    // Metadata in front of the data moves with it; a data_meta that is no metadata (the host left it elsewhere, as
    // the entry allows for programs that do not read it) is set to the data.
    const std::uint8_t* meta = context.meta >= 0 ? read_pointer(*packet, context.meta) : packet->data;
    const std::int64_t meta_size =
        meta < packet->data && packet->data - meta <= static_cast<std::int64_t>(platform::kMaxPacketMetaSize) &&
                meta >= packet->lowest
            ? packet->data - meta
            : 0;
    if (-delta > room_before - meta_size || size - delta < static_cast<std::int64_t>(kMinFrame) ||
        size - delta > static_cast<std::int64_t>(packet->type->max_data_size)) {
        return from_long(-EINVAL);
    }
    std::uint8_t* data = packet->data + delta;
    if (meta_size > 0) {
        std::memmove(data - meta_size, packet->data - meta_size, static_cast<std::size_t>(meta_size));
    }
    packet->data = data;
    packet->moved = true;
    write_pointer(*packet, context.data, data);
    if (context.meta >= 0) {
        write_pointer(*packet, context.meta, data - meta_size);
    }
    return 0;
}

// xdp_adjust_tail(ctx, delta): moves the packet's end by `delta` bytes (positive: into the tailroom the host gave,
// zeroed); 0 or -EINVAL as xdp_adjust_head.
u64 xdp_adjust_tail(u64 ctx, u64 delta_bits, u64, u64, u64) {
    PacketState* packet = packet_of(ctx);
    if (packet == nullptr || !packet->movable || packet->type->context.read_only_data) {
        return from_long(-EINVAL);
    }
    const auto delta = static_cast<std::int64_t>(static_cast<std::int32_t>(delta_bits));
    const auto room_after = static_cast<std::int64_t>(packet->highest - packet->data_end);
    const auto size = static_cast<std::int64_t>(packet->data_end - packet->data);
    if (delta > room_after || size + delta < static_cast<std::int64_t>(kMinFrame) ||
        size + delta > static_cast<std::int64_t>(packet->type->max_data_size)) {
        return from_long(-EINVAL);
    }
    if (delta > 0) {
        std::memset(packet->data_end, 0, static_cast<std::size_t>(delta));
    }
    packet->data_end += delta;
    packet->moved = true;
    write_pointer(*packet, packet->type->context.data_end, packet->data_end);
    return 0;
}

// redirect(ifindex, flags): records where the packet goes (runtime::last_redirect) and returns the hook's redirect
// verdict: XDP_REDIRECT for XDP, TC_ACT_REDIRECT for the others; with flags other than BPF_F_INGRESS, XDP_ABORTED or
// TC_ACT_SHOT.
u64 redirect(u64 ifindex, u64 flags, u64, u64, u64) {
    const PacketState& packet = t_packet;
    const bool xdp = packet.type != nullptr && packet.type->name == "xdp";
    if ((flags & ~(xdp ? u64{0} : u64{1})) != 0) {
        return xdp ? 0 : 2;
    }
    t_last_redirect = Redirect{static_cast<std::uint32_t>(ifindex), flags};
    return xdp ? 4 : 7;
}

// get_socket_cookie(ctx or socket): the runtime has no sockets, so every packet is one without a socket, for which
// Linux returns 0. A host that has sockets replaces it (Platform::replace_implementation; a test: TestPlatform).
u64 socket_cookie(u64, u64, u64, u64, u64) { return 0; }

// --- time, randomness, identity ------------------------------------------------------------------------------------

u64 clock_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
}
u64 ktime_get_ns(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_MONOTONIC); }
u64 ktime_get_boot_ns(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_BOOTTIME); }
u64 ktime_get_coarse_ns(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_MONOTONIC_COARSE); }
u64 ktime_get_ms(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_MONOTONIC) / 1'000'000u; }
u64 ktime_get_boot_ms(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_BOOTTIME) / 1'000'000u; }

u64 get_prandom_u32(u64, u64, u64, u64, u64) {
    // xorshift128+, seeded per thread: cheap and without locks, as the kernel's per-CPU generator.
    thread_local u64 state[2] = {0, 0};
    if (state[0] == 0 && state[1] == 0) {
        std::random_device device;
        state[0] = (static_cast<u64>(device()) << 32) | device() | 1;
        state[1] = (static_cast<u64>(device()) << 32) | device();
    }
    u64 s1 = state[0];
    const u64 s0 = state[1];
    state[0] = s0;
    s1 ^= s1 << 23;
    state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return static_cast<std::uint32_t>((state[1] + s0) >> 32);
}

u64 get_smp_processor_id(u64, u64, u64, u64, u64) { return current_slot(); }
u64 get_numa_node_id(u64, u64, u64, u64, u64) { return 0; } // user mode has one node as far as programs know
u64 ktime_get_tai_ns(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_TAI); }
// Linux counts jiffies at CONFIG_HZ; user mode reports milliseconds of the monotonic clock (HZ = 1000).
u64 jiffies64(u64, u64, u64, u64, u64) { return clock_ns(CLOCK_MONOTONIC) / 1'000'000u; }

// A thread's process and thread ids do not change while it runs, so they are read once per thread (two system calls
// a call made the helper cost as much as 2,000 instructions). A fork gives the child new ones: its handler advances
// the generation the cache is checked against.
std::atomic<std::uint64_t> g_fork_generation{1};
struct Identity {
    std::uint64_t generation = 0;
    u64 pid_tgid = 0;
};
thread_local Identity t_identity;

u64 current_pid_tgid() {
    static const bool registered = [] {
        pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });
        return true;
    }();
    (void)registered;
    const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
    if (t_identity.generation != generation) {
        const auto tid = static_cast<u64>(syscall(SYS_gettid));
        t_identity.pid_tgid = (static_cast<u64>(getpid()) << 32) | (tid & 0xffffffffu);
        t_identity.generation = generation;
    }
    return t_identity.pid_tgid;
}

u64 get_current_pid_tgid(u64, u64, u64, u64, u64) { return current_pid_tgid(); }
u64 get_current_uid_gid(u64, u64, u64, u64, u64) {
    return (static_cast<u64>(getgid()) << 32) | static_cast<u64>(getuid());
}
// eBPF for Windows' identity of the caller: in user mode, the process's user and whether it runs as root.
u64 get_current_logon_id(u64, u64, u64, u64, u64) { return static_cast<u64>(getuid()); }
u64 is_current_admin(u64, u64, u64, u64, u64) { return geteuid() == 0 ? 1 : 0; }

u64 get_current_comm(u64 buffer, u64 size, u64, u64, u64) {
    if (size == 0) {
        return from_long(-EINVAL);
    }
    char name[17] = {};
    prctl(PR_GET_NAME, name, 0, 0, 0);
    const std::size_t n = std::min<std::size_t>(size - 1, std::strlen(name));
    std::memcpy(ptr<char>(buffer), name, n);
    std::memset(ptr<char>(buffer) + n, 0, static_cast<std::size_t>(size) - n);
    return 0;
}

// --- memory and strings (eBPF for Windows' bounded forms) ----------------------------------------------------------

u64 memcpy_s(u64 dest, u64 dest_size, u64 src, u64 src_size, u64) {
    if (src_size > dest_size) {
        return from_long(-EINVAL);
    }
    std::memcpy(ptr<void>(dest), ptr<const void>(src), static_cast<std::size_t>(src_size));
    return 0;
}
u64 memmove_s(u64 dest, u64 dest_size, u64 src, u64 src_size, u64) {
    if (src_size > dest_size) {
        return from_long(-EINVAL);
    }
    std::memmove(ptr<void>(dest), ptr<const void>(src), static_cast<std::size_t>(src_size));
    return 0;
}
u64 memcmp_s(u64 a, u64 a_size, u64 b, u64 b_size, u64) {
    const int order =
        std::memcmp(ptr<const void>(a), ptr<const void>(b), static_cast<std::size_t>(std::min(a_size, b_size)));
    if (order != 0) {
        return from_long(order < 0 ? -1 : 1);
    }
    return from_long(a_size == b_size ? 0 : (a_size < b_size ? -1 : 1));
}
u64 memset_helper(u64 dest, u64 size, u64 value, u64, u64) {
    std::memset(ptr<void>(dest), static_cast<int>(value & 0xff), static_cast<std::size_t>(size));
    return 0;
}
u64 strnlen_s(u64 str, u64 size, u64, u64, u64) {
    const char* s = ptr<const char>(str);
    return static_cast<u64>(std::find(s, s + size, '\0') - s);
}
// Copies at most `count` characters and always terminates; -EINVAL when the result does not fit.
u64 strncpy_s(u64 dest, u64 dest_size, u64 src, u64 count, u64) {
    if (dest_size == 0) {
        return from_long(-EINVAL);
    }
    // The bytes after the string are zeroed (all of them when it does not fit): every byte of the destination is
    // written, as its write contract (`all`) says.
    const u64 length = strnlen_s(src, count, 0, 0, 0);
    if (length >= dest_size) {
        std::memset(ptr<char>(dest), 0, static_cast<std::size_t>(dest_size));
        return from_long(-EINVAL);
    }
    std::memmove(ptr<char>(dest), ptr<const char>(src), static_cast<std::size_t>(length));
    std::memset(ptr<char>(dest) + length, 0, static_cast<std::size_t>(dest_size - length));
    return 0;
}
u64 strncat_s(u64 dest, u64 dest_size, u64 src, u64 count, u64) {
    const u64 used = strnlen_s(dest, dest_size, 0, 0, 0);
    if (used == dest_size) {
        return from_long(-EINVAL);
    }
    return strncpy_s(dest + used, dest_size - used, src, count, 0);
}

// Linux's strncmp(s1, s1_size, s2): compares at most s1_size bytes, stopping at a NUL.
u64 strncmp_helper(u64 s1, u64 s1_size, u64 s2, u64, u64) {
    const int order = std::strncmp(ptr<const char>(s1), ptr<const char>(s2), static_cast<std::size_t>(s1_size));
    return from_long(order < 0 ? -1 : order > 0 ? 1 : 0);
}

// Linux's snprintf(out, size, format, args, args_size): the arguments are an array of u64; returns the length the
// whole output needs, including the NUL, and writes as much as fits.
template <bool ReadStrings>
u64 snprintf_helper(u64 out, u64 size, u64 format, u64 args, u64 args_size) {
    if (args_size % 8 != 0 || args_size / 8 > 12) {
        std::memset(ptr<void>(out), 0, static_cast<std::size_t>(size));
        return from_long(-EINVAL);
    }
    const std::string text = format_trace(ptr<const char>(format), ptr<const u64>(args), args_size / 8, ReadStrings);
    if (size != 0) {
        // The rest of the buffer is zeroed, so that every byte of it is written (its write contract is `all`).
        const std::size_t n = std::min<std::size_t>(text.size(), static_cast<std::size_t>(size) - 1);
        std::memcpy(ptr<char>(out), text.data(), n);
        std::memset(ptr<char>(out) + n, 0, static_cast<std::size_t>(size) - n);
    }
    return text.size() + 1;
}

// Linux's csum_diff: the 32-bit one's-complement sum of `seed`, minus the words of `from`, plus those of `to`.
u64 csum_diff(u64 from, u64 from_size, u64 to, u64 to_size, u64 seed) {
    if (from_size % 4 != 0 || to_size % 4 != 0) {
        return from_long(-EINVAL);
    }
    u64 sum = static_cast<std::uint32_t>(seed);
    for (u64 i = 0; i < from_size; i += 4) {
        std::uint32_t word;
        std::memcpy(&word, ptr<const std::uint8_t>(from) + i, 4);
        sum += static_cast<std::uint32_t>(~word);
    }
    for (u64 i = 0; i < to_size; i += 4) {
        std::uint32_t word;
        std::memcpy(&word, ptr<const std::uint8_t>(to) + i, 4);
        sum += word;
    }
    while (sum >> 32 != 0) {
        sum = (sum & 0xffffffffu) + (sum >> 32);
    }
    return sum;
}

// Reads another address of this process without faulting: process_vm_readv reports unmapped memory as an error.
bool read_memory(void* out, u64 address, std::size_t size) {
    iovec local{out, size};
    iovec remote{ptr<void>(address), size};
    const auto pid = static_cast<pid_t>(current_pid_tgid() >> 32);
    return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

constexpr u64 kPage = 4096;

// Reads a NUL-terminated string of at most `size - 1` bytes into out (size >= 1), a page at a time: one system call
// per page the string touches, not per byte. Returns the bytes read before the NUL (the NUL not counted) and
// whether the string ended (a NUL was read); a page that cannot be read ends the string there.
// Each page is read into a buffer of its own first: only the string's bytes reach `out`, never what follows its NUL
// in the page (the memory next to a string in the program's stack is the host's).
std::pair<u64, bool> read_string(char* out, u64 src, u64 size) {
    u64 done = 0;
    char page[kPage];
    while (done + 1 < size) {
        const u64 in_page = kPage - ((src + done) % kPage);
        const u64 chunk = std::min(in_page, size - 1 - done);
        if (!read_memory(page, src + done, static_cast<std::size_t>(chunk))) {
            return {done, false};
        }
        const void* nul = std::memchr(page, 0, static_cast<std::size_t>(chunk));
        const u64 kept = nul != nullptr ? static_cast<u64>(static_cast<const char*>(nul) - page) : chunk;
        std::memcpy(out + done, page, static_cast<std::size_t>(kept));
        if (nul != nullptr) {
            return {done + kept, true};
        }
        done += chunk;
    }
    return {done, false};
}

// probe_read* take `u32 size` (HelperPrototype::u32_sizes): only its low 32 bits count.
u64 probe_read(u64 dest, u64 wide_size, u64 src, u64, u64) {
    const u64 size = static_cast<std::uint32_t>(wide_size);
    if (!read_memory(ptr<void>(dest), src, static_cast<std::size_t>(size))) {
        std::memset(ptr<void>(dest), 0, static_cast<std::size_t>(size));
        return from_long(-EFAULT);
    }
    return 0;
}
u64 probe_read_str(u64 dest, u64 wide_size, u64 src, u64, u64) {
    const u64 size = static_cast<std::uint32_t>(wide_size);
    if (size == 0) {
        return from_long(-EINVAL);
    }
    // Whatever the outcome, the bytes after the string are zeroed: every byte of the buffer is written.
    char* out = ptr<char>(dest);
    const auto [length, ended] = read_string(out, src, size);
    std::memset(out + length, 0, static_cast<std::size_t>(size - length));
    if (ended || length + 1 == size) {
        return length + 1; // the string and its NUL, or as much as fits and the NUL that ends it
    }
    return from_long(length == 0 ? -EFAULT : static_cast<long>(length + 1));
}

// --- callbacks ----------------------------------------------------------------------------------------------------

// bpf_loop and for_each_map_elem run their callbacks in the interpreter, which intercepts their calls
// (HelperTable::set_callback). An engine that reaches the function instead runs no callback, and says so.
u64 callback_not_run(u64, u64, u64, u64, u64) { return from_long(-EOPNOTSUPP); }

// for_each_map_elem's walk: the element after `previous` in the map's own order (Map::next_key), at most
// max_entries of them. An element deleted between its key and its value is skipped.
exec::MapElement next_map_element(u64 map, u64 calls, const void* previous, void* key_out) {
    Map* m = map_of(map);
    const MapConfig& config = m->config();
    const std::size_t key_size = config.key_size;
    if (calls >= config.max_entries || key_size > platform::kMaxCallbackKey) {
        return {};
    }
    std::uint8_t before[platform::kMaxCallbackKey];
    std::span<const std::uint8_t> after;
    if (previous != nullptr) {
        std::memcpy(before, previous, key_size); // previous and key_out may be one buffer
        after = {before, key_size};
    }
    const std::span<std::uint8_t> out{static_cast<std::uint8_t*>(key_out), key_size};
    for (std::uint64_t tries = 0; tries < config.max_entries; ++tries) {
        const Result<bool> next = m->next_key(after, out);
        if (!next || !*next) {
            return {};
        }
        if (void* value = m->lookup(key_out)) {
            return {value, static_cast<std::uint32_t>(key_size)};
        }
        std::memcpy(before, key_out, key_size);
        after = {before, key_size};
    }
    return {};
}

// --- trace_printk ------------------------------------------------------------------------------------------------

// The sink is called without the lock held (a sink may replace itself); the shared_ptr keeps the one a line was
// handed to alive while it runs.
std::mutex g_sink_mutex;
std::shared_ptr<const TraceSink> g_sink;

template <bool ReadStrings>
void emit(const char* format, u64 format_size, const u64* args, std::size_t count) {
    std::shared_ptr<const TraceSink> sink;
    {
        std::lock_guard lock(g_sink_mutex);
        sink = g_sink;
    }
    if (!sink) {
        return;
    }
    const std::string_view view(format,
                                static_cast<std::size_t>(std::find(format, format + format_size, '\0') - format));
    std::string line = format_trace(view, args, count, ReadStrings);
    while (!line.empty() && line.back() == '\n') {
        line.pop_back();
    }
    (*sink)(line);
}

template <bool ReadStrings>
u64 trace_printk(u64 format, u64 size, u64 a, u64 b, u64 c) {
    const u64 args[] = {a, b, c};
    emit<ReadStrings>(ptr<const char>(format), size, args, 3);
    return 0;
}
template <bool ReadStrings>
u64 trace_printk2(u64 format, u64 size, u64, u64, u64) {
    emit<ReadStrings>(ptr<const char>(format), size, nullptr, 0);
    return 0;
}
template <bool ReadStrings>
u64 trace_printk3(u64 format, u64 size, u64 a, u64, u64) {
    const u64 args[] = {a};
    emit<ReadStrings>(ptr<const char>(format), size, args, 1);
    return 0;
}
template <bool ReadStrings>
u64 trace_printk4(u64 format, u64 size, u64 a, u64 b, u64) {
    const u64 args[] = {a, b};
    emit<ReadStrings>(ptr<const char>(format), size, args, 2);
    return 0;
}
template <bool ReadStrings>
u64 trace_printk5(u64 format, u64 size, u64 a, u64 b, u64 c) {
    const u64 args[] = {a, b, c};
    emit<ReadStrings>(ptr<const char>(format), size, args, 3);
    return 0;
}

struct NamedHelper {
    std::string_view name;
    exec::HelperFunction function;
};

// By the names the platforms give their prototypes; both platforms share an implementation when names agree.
constexpr NamedHelper kHelpers[] = {
    {"map_lookup_elem", &map_lookup_elem},
    {"map_update_elem", &map_update_elem},
    {"map_delete_elem", &map_delete_elem},
    {"map_lookup_and_delete_elem", &map_lookup_and_delete_elem},
    {"map_push_elem", &map_push_elem},
    {"map_pop_elem", &map_pop_elem},
    {"map_peek_elem", &map_peek_elem},
    {"ringbuf_output", &ringbuf_output},
    {"ringbuf_reserve", &ringbuf_reserve},
    {"ringbuf_submit", &ringbuf_submit},
    {"ringbuf_discard", &ringbuf_discard},
    {"ringbuf_query", &ringbuf_query},
    {"perf_event_output", &perf_event_output},
    {"ktime_get_ns", &ktime_get_ns},
    {"ktime_get_boot_ns", &ktime_get_boot_ns},
    {"ktime_get_coarse_ns", &ktime_get_coarse_ns},
    {"ktime_get_ms", &ktime_get_ms},
    {"ktime_get_boot_ms", &ktime_get_boot_ms},
    {"get_prandom_u32", &get_prandom_u32},
    {"get_smp_processor_id", &get_smp_processor_id},
    {"get_numa_node_id", &get_numa_node_id},
    {"ktime_get_tai_ns", &ktime_get_tai_ns},
    {"jiffies64", &jiffies64},
    {"get_current_logon_id", &get_current_logon_id},
    {"is_current_admin", &is_current_admin},
    {"strncmp", &strncmp_helper},
    {"snprintf", &snprintf_helper<true>},
    {"get_current_pid_tgid", &get_current_pid_tgid},
    {"get_current_uid_gid", &get_current_uid_gid},
    {"get_current_comm", &get_current_comm},
    {"memcpy_s", &memcpy_s},
    {"memmove_s", &memmove_s},
    {"memcmp_s", &memcmp_s},
    {"memset", &memset_helper},
    {"strnlen_s", &strnlen_s},
    {"strncpy_s", &strncpy_s},
    {"strncat_s", &strncat_s},
    {"csum_diff", &csum_diff},
    {"probe_read", &probe_read},
    {"probe_read_kernel", &probe_read},
    {"probe_read_user", &probe_read},
    {"probe_read_str", &probe_read_str},
    {"probe_read_kernel_str", &probe_read_str},
    {"probe_read_user_str", &probe_read_str},
    {"tail_call", &tail_call},
    {"skb_load_bytes", &load_bytes},
    {"xdp_load_bytes", &load_bytes},
    {"skb_store_bytes", &store_bytes},
    {"xdp_store_bytes", &store_bytes},
    {"l3_csum_replace", &l3_csum_replace},
    {"l4_csum_replace", &l4_csum_replace},
    {"xdp_adjust_head", &xdp_adjust_head},
    {"xdp_adjust_tail", &xdp_adjust_tail},
    {"redirect", &redirect},
    {"get_socket_cookie", &socket_cookie},
    {"spin_lock", &spin_lock},
    {"spin_unlock", &spin_unlock},
    {"loop", &callback_not_run},
    {"for_each_map_elem", &callback_not_run},
    {"trace_printk", &trace_printk<true>},
    {"trace_printk2", &trace_printk2<true>},
    {"trace_printk3", &trace_printk3<true>},
    {"trace_printk4", &trace_printk4<true>},
    {"trace_printk5", &trace_printk5<true>},
};

// On a platform for untrusted plugins these replace the ones above: a `%s` argument is any number the program chose,
// and reading it would let a plugin print host memory.
constexpr NamedHelper kUntrustedHelpers[] = {
    {"snprintf", &snprintf_helper<false>},    {"trace_printk", &trace_printk<false>},
    {"trace_printk2", &trace_printk2<false>}, {"trace_printk3", &trace_printk3<false>},
    {"trace_printk4", &trace_printk4<false>}, {"trace_printk5", &trace_printk5<false>},
};

} // namespace

TraceSink set_trace_sink(TraceSink sink) {
    std::shared_ptr<const TraceSink> fresh = sink ? std::make_shared<const TraceSink>(std::move(sink)) : nullptr;
    {
        std::lock_guard lock(g_sink_mutex);
        std::swap(g_sink, fresh);
    }
    return fresh ? *fresh : TraceSink{};
}

exec::HelperFunction find_helper(std::string_view name, bool untrusted_plugins) noexcept {
    if (untrusted_plugins) {
        for (const NamedHelper& helper : kUntrustedHelpers) {
            if (helper.name == name) {
                return helper.function;
            }
        }
    }
    for (const NamedHelper& helper : kHelpers) {
        if (helper.name == name) {
            return helper.function;
        }
    }
    return nullptr;
}

void begin_invocation() noexcept {
    t_tail_calls = 0;
    t_runs = 0;
    t_pending_tail_call = nullptr;
    if (t_held_lock != nullptr && t_held_lock != &g_outer_lock) {
        release_lock(std::exchange(t_held_lock, nullptr)); // a run before this one stopped while it held it
    }
}

InvocationScope::InvocationScope() noexcept
    : m_outer_tail_calls(t_tail_calls), m_outer_pending(t_pending_tail_call), m_outer_records(t_open_records.size()),
      m_outer_lock(t_held_lock), m_too_deep(t_invocation_depth >= kMaxInvocationDepth),
      m_too_many_runs(t_invocation_depth > 0 && t_runs >= kMaxRunsPerInvocation),
      m_entered(!m_too_deep && !m_too_many_runs) {
    if (t_held_lock != nullptr) {
        t_held_lock = &g_outer_lock;
    }
    if (m_entered) {
        m_outer_packet = std::exchange(t_packet, PacketState{});
        if (t_invocation_depth == 0) {
            t_runs = 0; // an outermost invocation: a new count of runs
            t_last_redirect.reset();
        }
        ++t_runs;
        ++t_invocation_depth;
        t_tail_calls = 0;
        t_pending_tail_call = nullptr;
    }
}

InvocationScope::~InvocationScope() {
    if (m_outer_lock == nullptr && t_held_lock != nullptr) {
        // Taken in this invocation and not released: its run stopped before the program's bpf_spin_unlock.
        release_lock(t_held_lock);
    }
    t_held_lock = static_cast<std::uint32_t*>(m_outer_lock);
    while (t_open_records.size() > m_outer_records) {
        const OpenRecord record = t_open_records.back();
        t_open_records.pop_back();
        record.ring->discard(record.sample, 0);
    }
    if (m_entered) {
        t_packet = m_outer_packet;
        --t_invocation_depth;
        t_tail_calls = m_outer_tail_calls;
        t_pending_tail_call = m_outer_pending;
    }
}

PacketState& packet_state() noexcept { return t_packet; }

bool outer_context_overlaps(const void* ctx, std::size_t size) noexcept {
    const auto start = reinterpret_cast<std::uintptr_t>(ctx);
    const std::size_t width = std::max<std::size_t>(size, 1);
    for (std::uint32_t depth = 1; depth < t_invocation_depth; ++depth) { // every level but the current one
        const ContextRange& outer = t_contexts[depth - 1];
        if (start < outer.start + std::max<std::size_t>(outer.size, 1) && outer.start < start + width) {
            return true;
        }
    }
    return false;
}

void set_current_context(const void* ctx, std::size_t size) noexcept {
    if (t_invocation_depth >= 1 && t_invocation_depth <= kMaxInvocationDepth) {
        t_contexts[t_invocation_depth - 1] = {reinterpret_cast<std::uintptr_t>(ctx), size};
    }
}

std::optional<Redirect> last_redirect() noexcept { return t_last_redirect; }

const Invocable* take_tail_call() noexcept { return std::exchange(t_pending_tail_call, nullptr); }

namespace {
// The contract a built-in platform gives the helper of this name, if any.
bool same_contract(const platform::HelperPrototype& a, const platform::HelperPrototype& b) {
    return a.ret == b.ret && a.args == b.args && a.reallocates_packet == b.reallocates_packet && a.writes == b.writes &&
           a.reads_writable == b.reads_writable && a.reads_host_memory == b.reads_host_memory &&
           a.reads_string == b.reads_string && a.sinks_data == b.sinks_data && a.reads_address == b.reads_address &&
           a.u32_sizes == b.u32_sizes;
}
bool built_in_contract(const platform::HelperPrototype& prototype) {
    for (const platform::Platform* built_in : {&platform::windows(), &platform::linux()}) {
        if (const platform::HelperPrototype* general = built_in->helper_by_name(prototype.name);
            general != nullptr && same_contract(*general, prototype)) {
            return true;
        }
        for (const platform::ProgramType& type : built_in->program_types()) {
            for (const platform::HelperPrototype& own : type.own_helpers) {
                if (own.name == prototype.name && same_contract(own, prototype)) {
                    return true;
                }
            }
        }
    }
    return false;
}
// A prototype without a function names a built-in helper, whose implementation serves it only under the contract
// the built-in platforms give it: a host's prototype that says otherwise (other argument kinds, a number where the
// helper returns an address, no word of reading host memory) would make the verifier check the wrong things.
exec::HelperFunction implementation_of(const platform::HelperPrototype& prototype, const platform::Platform& platform) {
    if (prototype.implementation != nullptr) {
        return prototype.implementation;
    }
    if (!built_in_contract(prototype)) {
        return nullptr;
    }
    return find_helper(prototype.name, platform.for_untrusted_plugins());
}
} // namespace

exec::HelperTable helper_table(const platform::Platform& platform, const platform::ProgramType& type) {
    exec::HelperTable table;
    auto add = [&](const platform::HelperPrototype& prototype) {
        if (exec::HelperFunction function = implementation_of(prototype, platform)) {
            // A host's function gets its declared arguments only: the verifier checks nothing past them.
            table.set(prototype.id, function,
                      prototype.implementation != nullptr ? static_cast<std::uint8_t>(prototype.arg_count()) : 5);
            if (prototype.ret == platform::ReturnKind::no_return_on_success) {
                table.set_unwind(prototype.id);
            }
            if (const platform::Callback callback = prototype.callback(); callback != platform::Callback::none) {
                table.set_callback(prototype.id, callback, &next_map_element);
            }
        }
    };
    // Every id resolves as the verifier resolves it (platform.helper(type, id)): a type's own helper, a general one
    // it lists, a host helper any type may call. Whatever shares an id, the function that runs is the one the
    // verifier checked the call against.
    auto add_id = [&](std::uint32_t id) {
        if (const platform::HelperPrototype* prototype = platform.helper(type, id)) {
            add(*prototype);
        }
    };
    for (std::uint32_t id : type.helpers) {
        add_id(id);
    }
    for (const platform::HelperPrototype& own : type.own_helpers) {
        add_id(own.id);
    }
    for (const platform::HelperPrototype& prototype : platform.helpers()) {
        if (prototype.any_program_type) {
            add_id(prototype.id);
        }
    }
    return table;
}

Result<void> check_helpers(std::span<const isa::Instruction> program, const platform::Platform& platform,
                           const platform::ProgramType& type) {
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        const isa::Instruction& ins = program[pc];
        if (ins.opcode != isa::op::CALL_OP || ins.src != static_cast<std::uint8_t>(isa::CallSource::helper)) {
            if (isa::is_lddw(ins)) {
                ++pc;
            }
            continue;
        }
        const auto id = static_cast<std::uint32_t>(ins.imm);
        const std::string where = "instruction " + std::to_string(pc) + ": helper " + std::to_string(id);
        const platform::HelperPrototype* prototype = platform.helper(type, id);
        if (prototype == nullptr) {
            return Error::invalid(
                where + " is not available to " + type.name + " programs on platform " + platform.name(), pc);
        }
        if (implementation_of(*prototype, platform) == nullptr) {
            if (prototype->implementation == nullptr && find_helper(prototype->name, false) != nullptr &&
                !built_in_contract(*prototype)) {
                return Error::invalid(where + " (" + prototype->name +
                                          ") is declared with another contract than the built-in helper of that name",
                                      pc);
            }
            return Error::unsupported(where + " (" + prototype->name + ") has no implementation in this build yet", pc);
        }
    }
    return {};
}

std::string format_trace(std::string_view format, const std::uint64_t* args, std::size_t count, bool read_strings) {
    std::string out;
    std::size_t next = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if (c != '%') {
            out += c;
            continue;
        }
        if (i + 1 < format.size() && format[i + 1] == '%') {
            out += '%';
            ++i;
            continue;
        }
        // Length modifiers only choose the width the argument is read with.
        std::size_t j = i + 1;
        int longs = 0;
        int shorts = 0;
        while (j < format.size() && (format[j] == 'l' || format[j] == 'h')) {
            (format[j] == 'l' ? longs : shorts)++;
            ++j;
        }
        if (j >= format.size() || next >= count) {
            out.append(format.substr(i, j - i + 1));
            i = j;
            continue;
        }
        const u64 raw = args[next++];
        const char conversion = format[j];
        u64 value = raw;
        if (longs == 0) {
            value = shorts >= 2 ? (raw & 0xff) : shorts == 1 ? (raw & 0xffff) : (raw & 0xffffffffu);
        }
        char buffer[64];
        switch (conversion) {
        case 'd':
        case 'i': {
            std::int64_t signed_value = static_cast<std::int64_t>(value);
            if (longs == 0) {
                signed_value = shorts >= 2   ? static_cast<std::int8_t>(value)
                               : shorts == 1 ? static_cast<std::int16_t>(value)
                                             : static_cast<std::int32_t>(value);
            }
            std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(signed_value));
            out += buffer;
            break;
        }
        case 'u':
            std::snprintf(buffer, sizeof buffer, "%llu", static_cast<unsigned long long>(value)), out += buffer;
            break;
        case 'x':
            std::snprintf(buffer, sizeof buffer, "%llx", static_cast<unsigned long long>(value)), out += buffer;
            break;
        case 'X':
            std::snprintf(buffer, sizeof buffer, "%llX", static_cast<unsigned long long>(value)), out += buffer;
            break;
        case 'p':
            std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(raw)), out += buffer;
            break;
        case 'c': out += static_cast<char>(raw & 0xff); break;
        case 's': {
            if (!read_strings) {
                out += kHiddenString;
                break;
            }
            char text[257] = {};
            const u64 length = raw == 0 ? 0 : read_string(text, raw, sizeof text).first;
            out += raw == 0 ? "(null)" : std::string(text, static_cast<std::size_t>(length));
            break;
        }
        default:
            out.append(format.substr(i, j - i + 1));
            --next;
            break;
        }
        i = j;
    }
    return out;
}

} // namespace embpf::runtime
