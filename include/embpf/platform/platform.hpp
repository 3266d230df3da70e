// Platforms: what a program may see. Program types (section prefixes, context layout, return values), helper
// prototypes by id, and the platform's numbering of map types. Data only: the verifier checks programs against it,
// the runtime binds implementations to it, and a host copies a built-in platform and extends it.
#pragma once

#include "embpf/result.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace embpf::platform {

/// What a helper argument (r1-r5) must hold. A memory argument (`ptr_to_*_mem*`) is always followed by its size
/// argument (`const_size` or `const_size_or_zero`); the verifier checks the pair together.
enum class ArgKind : std::uint8_t {
    none,                        ///< unused; every argument after the first `none` is unused too
    anything,                    ///< any initialized number (flags, indexes, ...); a pointer the program holds is
                                 ///< refused, except as the address a probe_read* reads (reads_address)
    ptr_to_ctx,                  ///< the program's context pointer, unmodified
    ptr_to_map,                  ///< a map (its address as loaded by a map relocation)
    ptr_to_map_of_programs,      ///< a program-array map (tail calls)
    ptr_to_map_key,              ///< readable memory of the preceding map's key size
    ptr_to_map_value,            ///< readable memory of the preceding map's value size
    ptr_to_uninit_map_value,     ///< writable memory of the preceding map's value size (may be uninitialized)
    ptr_to_readable_mem,         ///< readable memory (stack, packet, map value) of the size in the next argument
    ptr_to_readable_mem_or_null, ///< the same, or null (then the size must be 0)
    ptr_to_writable_mem,         ///< writable memory of the size in the next argument; the helper initializes it
    const_size,                  ///< the size of the preceding memory argument, > 0
    const_size_or_zero,          ///< the size of the preceding memory argument, >= 0
    ptr_to_alloc_mem,            ///< memory a `ptr_to_alloc_mem_or_null` helper returned (ring buffer submit/discard)
    const_alloc_size_or_zero,    ///< a size known to the verifier: the size of the memory the helper returns
    ptr_to_func,                 ///< the address of a subprogram (callbacks: bpf_loop, for_each_map_elem)
    ptr_to_stack_or_null,        ///< a pointer into the stack or null, handed back to a callback
    ptr_to_const_str,            ///< a NUL-terminated string in read-only memory (a frozen map value, .rodata)
    ptr_to_ctx_or_null,          ///< the context pointer, unmodified, or null (get_netns_cookie: the program's own)
    /// A host object's address as a hook handed it over (a tracing program's socket or task argument, a field loaded
    /// through one), or any other number; never a pointer into memory the program holds.
    host_object,
    /// The `struct bpf_spin_lock` of a map value (verifier::MapDescriptor::spin_lock): bpf_spin_lock and
    /// bpf_spin_unlock, built-in helpers only.
    ptr_to_spin_lock,
    /// Readable memory of the preceding map's value size, or null (sk_storage_get's initial value).
    ptr_to_map_value_or_null,
};

/// What a helper leaves in r0.
enum class ReturnKind : std::uint8_t {
    integer,
    void_,                    ///< r0 is undefined after the call
    ptr_to_map_value_or_null, ///< a value of the map passed as the first argument, or null
    ptr_to_alloc_mem_or_null, ///< fresh memory of the size in the `const_alloc_size_or_zero` argument, or null
    no_return_on_success,     ///< tail call: does not return when it succeeds; an integer when it fails
    /// A host object's address, or 0 (skc_to_tcp_sock: the socket it was given, if it is one of TCP): a number that
    /// loads read through as through a tracing hook's arguments (FieldKind::host_addresses).
    host_object_or_null,
    /// A value of the map passed as the first argument, never null (get_local_storage: the cgroup's storage).
    ptr_to_map_value,
};

/// What a helper writes into its writable memory argument (`ptr_to_writable_mem`, `ptr_to_uninit_map_value`): the
/// verifier marks as initialized only what the contract proves written, and the checked interpreter's
/// initialization shadow reads the same contract.
enum class Writes : std::uint8_t {
    some, ///< any part of it, on some returns: nothing is proven written (strncpy_s, snprintf, map_pop_elem)
    all,  ///< every byte of it, on every return (memset, get_current_comm, probe_read: zeroed on failure)
    /// The first N bytes, N the size of the next memory argument, when N is at most the writable size; nothing
    /// otherwise (memcpy_s, memmove_s).
    source_if_fits,
};

/// How a built-in helper that takes a callback (`ptr_to_func`) runs it. The runtime runs the callback itself, as
/// frames of the program's own run, and the verifier follows it as a loop through the subprogram.
enum class Callback : std::uint8_t {
    none,
    /// bpf_loop(nr_loops, callback, ctx, flags): callback(index, ctx) for index 0 .. nr_loops - 1 (at most
    /// kMaxCallbackLoops), until it returns 1; the helper returns the calls made, -E2BIG past the limit, -EINVAL for
    /// flags other than 0.
    loop,
    /// bpf_for_each_map_elem(map, callback, ctx, flags): callback(map, key, value, ctx) for each element, until it
    /// returns 1; the helper returns the calls made, -EINVAL for flags other than 0.
    for_each_map_elem,
};

/// The most iterations bpf_loop runs (Linux's BPF_MAX_LOOPS).
inline constexpr std::uint64_t kMaxCallbackLoops = std::uint64_t{1} << 23;
/// The largest key for_each_map_elem hands its callback: the runtime copies it into the bottom of the callback's
/// frame, and the verifier refuses maps with larger keys.
inline constexpr std::uint32_t kMaxCallbackKey = 256;

/// The machine-level signature of a helper: r1-r5 in, r0 out. (exec::HelperFunction is the same type.)
using HelperImplementation = std::uint64_t (*)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                               std::uint64_t);

/// A helper's contract, as the verifier checks it.
struct HelperPrototype {
    std::uint32_t id = 0;
    std::string name; ///< without the `bpf_` prefix, as in Linux's __BPF_FUNC_MAPPER: "map_lookup_elem"
    ReturnKind ret = ReturnKind::integer;
    std::array<ArgKind, 5> args{};   ///< r1-r5; unused arguments are `none`
    bool reallocates_packet = false; ///< the call invalidates every packet pointer (xdp_adjust_head, ...)
    Writes writes = Writes::some;    ///< what it writes into its writable memory argument, if it has one
    /// Reads its writable memory argument before writing it (strncat_s appends to the string there), so that memory
    /// must be initialized like a readable argument.
    bool reads_writable = false;
    /// Reads any address the program names (probe_read*): fit for testing trusted kernel programs, never offered
    /// by a platform for untrusted plugins.
    bool reads_host_memory = false;
    /// With reads_host_memory: reads a NUL-terminated string from the address, no further than its NUL
    /// (probe_read*_str), so that a string the program wrote into its own memory may be shorter than the size.
    bool reads_string = false;
    /// With reads_host_memory: the bytes of its readable memory arguments go to the host's sink only, never back to
    /// the program (trace_vprintk's data, as trace_printk's r3-r5), so that pointers spilled there may be among them.
    bool sinks_data = false;
    /// With reads_host_memory: its plain (`anything`) argument after a size is the address it reads (probe_read*,
    /// copy_from_user),
    /// which may be a pointer the program holds (read as that memory is). Every other helper's plain arguments are
    /// numbers: a pointer there would tell the host an address.
    bool reads_address = false;
    /// Its size arguments are 32-bit (`u32 size` in the kernel's signature, which a compiler passes with undefined
    /// upper bits): the helper reads only their low 32 bits, and so do the verifier and checked runs.
    bool u32_sizes = false;
    /// A host helper's function; null for the built-in helpers, which the runtime implements by name.
    HelperImplementation implementation = nullptr;
    /// Callable from every program type of the platform (host helpers), not only from types that list its id.
    bool any_program_type = false;
    /// What one call counts for in instruction bounds and budgets besides one instruction and the memory it covers
    /// (helper_call_cost): the work its implementation does that no argument shows, in instructions of the
    /// interpreter (about 0.7 ns each here): a system call counts as kSystemCallCost. The built-in helpers get theirs
    /// from builtin_helper_cost(); a host helper that blocks or enters the kernel should declare its own.
    std::uint32_t cost = 0;
    /// What each byte of the memory its arguments cover counts for besides helper_call_cost's eighth: work done a byte
    /// at a time (a string scanned for its NUL, a format parsed and printed). Built-in helpers get it from
    /// builtin_helper_byte_cost().
    std::uint32_t cost_per_byte = 0;

    /// The number of arguments before the first `none`.
    [[nodiscard]] std::size_t arg_count() const noexcept;
    /// The callback the runtime runs for this helper, if it is one of the built-in helpers that take one.
    [[nodiscard]] Callback callback() const noexcept;

    friend bool operator==(const HelperPrototype&, const HelperPrototype&) = default;
};

/// How the verifier types a value loaded from a context field.
enum class FieldKind : std::uint8_t {
    scalar,       ///< a number
    packet_start, ///< a pointer to the first byte of the packet (or of the hook's data range)
    packet_end,   ///< a pointer one past the last byte of the packet
    packet_meta,  ///< a pointer to the metadata in front of the packet (meta <= start)
    /// Numbers, some of them host addresses the hook hands over (a fentry, tp_btf or lsm program's arguments: kernel
    /// objects' addresses in the kernel, whose fields such programs read directly). On a platform for trusted
    /// plugins a program reads through them (and through the 8-byte fields it loads that way) with probe reads,
    /// which load 0 where the host's memory cannot be read; it never writes through them.
    host_addresses,
    /// An 8-byte pointer to a memory region the host hands over besides the packet (a request's path, its headers,
    /// its body): the program reads (with ContextField::memory_writable, writes) [pointer, pointer + size), the size
    /// given by ContextField::size_field or memory_size. The verifier proves each region's accesses in its bounds on
    /// its own; every entry checks the pointers and sizes the host put there. The pointer is never null, even for an
    /// empty region: like every object a program sees, it lies at or above 65536.
    memory,
};

/// A field holding one of the packet's addresses (packet_start, packet_end, packet_meta): the host's addresses, which
/// only the verifier's packet pointers may carry.
[[nodiscard]] constexpr bool is_packet_pointer(FieldKind kind) noexcept {
    return kind == FieldKind::packet_start || kind == FieldKind::packet_end || kind == FieldKind::packet_meta;
}

/// The most bytes of metadata a context's packet_meta field may point to in front of its data (Linux's skb metadata
/// length is one byte).
inline constexpr std::uint32_t kMaxPacketMetaSize = 255;

/// The largest program struct a context with 32-bit packet pointer fields may have (ContextDescriptor::pointer_width
/// 4): the pointers behind it must lie within an instruction's reach.
inline constexpr std::uint32_t kMaxTranslatedContextSize = 16384;

/// The most memory regions (FieldKind::memory fields) one context may hand over.
inline constexpr std::size_t kMaxContextRegions = 16;
/// The largest a memory region may be.
inline constexpr std::uint32_t kMaxRegionSize = std::uint32_t{1} << 29; // as max_data_size

/// One accessible field of a context struct. Accesses must stay inside one field.
struct ContextField {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    FieldKind kind = FieldKind::scalar;
    bool readable = true;
    bool writable = false;
    std::string name;
    /// FieldKind::memory: the name of the read-only scalar field (4 or 8 bytes) holding the region's size in bytes,
    /// or empty for a region of memory_size bytes.
    std::string size_field{};
    /// FieldKind::memory: the region's size when size_field is empty; else the most bytes the size field may say
    /// (every entry refuses more; 0 for kMaxRegionSize). At most kMaxRegionSize.
    std::uint32_t memory_size = 0;
    /// FieldKind::memory: the program may write the region's bytes (never the pointer or the size).
    bool memory_writable = false;

    friend bool operator==(const ContextField&, const ContextField&) = default;
};

/// The layout of the struct a program receives in r1. Bytes no field covers are not accessible.
struct ContextDescriptor {
    std::uint32_t size = 0;
    std::int32_t data = -1;     ///< offset of the packet_start field, or -1
    std::int32_t data_end = -1; ///< offset of the packet_end field, or -1
    /// Offset of the packet_meta field, or -1. The metadata lies right in front of the data, at most
    /// kMaxPacketMetaSize bytes of it; a host without metadata sets it to data (set_data_range does). The entry refuses
    /// a program that reads it a context whose field lies elsewhere; other programs run whatever it holds.
    std::int32_t meta = -1;
    /// The width of the packet pointer fields in the program's struct: 8 where they are real 64-bit pointers (eBPF
    /// for Windows' xdp_md_t, Linux's __bpf_md_ptr fields), 4 for Linux's 32-bit fields (__sk_buff::data,
    /// xdp_md::data), which cannot hold a pointer. A load of that width from such a field yields a packet pointer.
    ///
    /// With 4, the host's context is larger than the program's struct (host_size()): the struct, then the data range
    /// as three real pointers (host_offset()). The loader rewrites each load of a 32-bit field into a load of its
    /// pointer, as the Linux kernel rewrites context accesses, so that the packet may lie anywhere in memory.
    std::uint8_t pointer_width = 8;
    std::vector<ContextField> fields;
    /// Set where the hook hands over a data range the program may read but not write (Linux's cgroup_skb and
    /// light-weight tunnel input and output, which may share the packet): stores, atomics and helpers that write
    /// memory are refused in it, and checked runs keep it read-only.
    bool read_only_data = false;

    /// The field that contains all of [offset, offset + width), or nullptr.
    [[nodiscard]] const ContextField* field_at(std::uint32_t offset, std::uint32_t width) const noexcept;
    /// The field named `name`, or nullptr.
    [[nodiscard]] const ContextField* field(std::string_view name) const noexcept;
    /// The memory region fields (FieldKind::memory), in the order of `fields`: region i of the verifier's reports.
    [[nodiscard]] std::vector<const ContextField*> regions() const;
    /// The bytes of the context a host hands over: `size`, or where pointer_width is 4, the program's struct rounded
    /// up to 8 bytes and then three 8-byte pointers: data, data_end and data_meta.
    [[nodiscard]] std::uint32_t host_size() const noexcept;
    /// Where the host's context holds the pointer of the packet field at `field` (data, data_end or meta): the field
    /// itself where pointer_width is 8, its 8-byte slot after the program's struct where it is 4; -1 for -1.
    [[nodiscard]] std::int32_t host_offset(std::int32_t field) const noexcept;

    friend bool operator==(const ContextDescriptor&, const ContextDescriptor&) = default;
};

/// Writes a data range into a host's context of `context`'s layout (host_size() bytes at least): data, data_end and,
/// where the context has the field, data_meta (nullptr for none: the metadata is then empty, data_meta = data), each
/// at its host_offset(). An error when the context has no data range or `ctx` is too small; nothing is written then.
[[nodiscard]] Result<void> set_data_range(const ContextDescriptor& context, std::span<std::uint8_t> ctx,
                                          const void* data, const void* data_end, const void* data_meta = nullptr);

/// The data range a host's context of `context`'s layout holds now, as set_data_range wrote it (or a packet helper
/// moved it): the addresses of data and data_end. nullopt when the context has no data range or `ctx` is too small.
struct DataRange {
    std::uintptr_t data = 0;
    std::uintptr_t data_end = 0;
};
[[nodiscard]] std::optional<DataRange> data_range(const ContextDescriptor& context,
                                                  std::span<const std::uint8_t> ctx) noexcept;

/// A kind of program: the hook it attaches to, what it receives and what it may return and call.
struct ProgramType {
    std::string name;
    std::vector<std::string> section_prefixes; ///< a section name starting with one of these selects this type
    ContextDescriptor context;
    /// Helper ids the program may call: general helpers of the platform and ids of `own_helpers`.
    std::vector<std::uint32_t> helpers;
    /// Helpers only this type provides. Their ids may repeat across types: eBPF for Windows numbers each
    /// extension's helpers from 0x10000, so xdp's adjust_head and sock_addr's get_current_pid_tgid share 65536.
    std::vector<HelperPrototype> own_helpers;
    std::int64_t return_min = std::numeric_limits<std::int64_t>::min(); ///< the r0 range the hook accepts at exit
    std::int64_t return_max = std::numeric_limits<std::int64_t>::max();
    std::string return_meaning; ///< e.g. "XDP_PASS=1, XDP_DROP=2, XDP_TX=3"
    /// Set for hooks that read a value outside [return_min, return_max] as this one instead of refusing the program
    /// (Linux's XDP reads an unknown action as XDP_ABORTED): the verifier then warns instead of rejecting, and every
    /// run returns what the hook reads: the low 32 bits of r0, read as signed, or this value when they fall outside
    /// the range.
    std::optional<std::int64_t> out_of_range_return;
    std::uint32_t platform_id = 0; ///< the platform's own number for the type (BPF_PROG_TYPE_XDP, ...)
    /// The longest data range (packet) the hook hands a program, in bytes. The verifier's bounds on loops over packet
    /// bytes rest on it, and every entry point refuses a context whose data range is longer.
    std::uint32_t max_data_size = 0xFFFF;

    [[nodiscard]] bool allows_helper(std::uint32_t id) const noexcept;

    friend bool operator==(const ProgramType&, const ProgramType&) = default;
};

/// The map types embpf implements, whatever number a platform gives them.
enum class MapKind : std::uint8_t {
    hash,
    array,
    prog_array,
    percpu_hash,
    percpu_array,
    hash_of_maps,
    array_of_maps,
    lru_hash,
    lpm_trie,
    queue,
    lru_percpu_hash,
    stack,
    ringbuf,
    perf_event_array,
    // Kinds the verifier knows and the runtime does not implement yet: objects that define them verify, and loading
    // them fails with an error naming the map. No lookup or update helper takes them; the helpers made for them
    // (get_stackid, redirect_map, sk_redirect_map, skb_under_cgroup, ...) do.
    stack_trace,
    cgroup_array,
    cgroup_storage,
    percpu_cgroup_storage,
    devmap,
    devmap_hash,
    cpumap,
    xskmap,
    sockmap,
    sockhash,
    reuseport_sockarray,
    sk_storage,
    inode_storage,
    task_storage,
    bloom_filter,
};

/// Whether the runtime implements maps of `kind` (the kinds after perf_event_array are the verifier's alone, but for
/// bloom_filter).
[[nodiscard]] constexpr bool runtime_implements(MapKind kind) noexcept {
    return static_cast<std::uint8_t>(kind) <= static_cast<std::uint8_t>(MapKind::perf_event_array) ||
           kind == MapKind::bloom_filter;
}

/// Whether maps of `kind` keep one value per execution slot.
[[nodiscard]] constexpr bool is_per_cpu(MapKind kind) noexcept {
    return kind == MapKind::percpu_hash || kind == MapKind::percpu_array || kind == MapKind::lru_percpu_hash;
}

/// Whether maps of `kind` find a key by hashing or walking (a bucket, then elements that carry their key), rather
/// than by indexing.
[[nodiscard]] constexpr bool is_hashed(MapKind kind) noexcept {
    return kind == MapKind::hash || kind == MapKind::lru_hash || kind == MapKind::percpu_hash ||
           kind == MapKind::lru_percpu_hash || kind == MapKind::hash_of_maps || kind == MapKind::lpm_trie;
}

/// One entry of a platform's map-type numbering. `kind` is empty for types the platform has and embpf does not
/// implement (Linux's devmap, sockmap, ...): they are known by name so that errors can say which one it was.
struct MapType {
    std::uint32_t id = 0;
    std::string name; ///< lower case without the BPF_MAP_TYPE_ prefix: "ringbuf", "devmap"
    std::optional<MapKind> kind;

    friend bool operator==(const MapType&, const MapType&) = default;
};

[[nodiscard]] std::string_view to_string(ArgKind kind) noexcept;
[[nodiscard]] std::string_view to_string(ReturnKind kind) noexcept;
[[nodiscard]] std::string_view to_string(FieldKind kind) noexcept;
[[nodiscard]] std::string_view to_string(MapKind kind) noexcept;

/// A memory argument: it must be followed by a size argument.
[[nodiscard]] constexpr bool is_memory_arg(ArgKind kind) noexcept {
    return kind == ArgKind::ptr_to_readable_mem || kind == ArgKind::ptr_to_readable_mem_or_null ||
           kind == ArgKind::ptr_to_writable_mem;
}

/// The size of the memory argument before it.
[[nodiscard]] constexpr bool is_size_arg(ArgKind kind) noexcept {
    return kind == ArgKind::const_size || kind == ArgKind::const_size_or_zero;
}

/// The interpreter instructions one level of a longest-prefix-match trie counts for: a trie is as deep as its key
/// has bits, and lookups, updates and deletes walk down it.
inline constexpr std::uint64_t kLpmLevelCost = 4;

/// The bytes a helper call covers as its cost counts them (helper_call_cost) for what it does to a map of `kind`,
/// besides its arguments: every level an LPM trie may have (kLpmLevelCost each, as 8 bytes), and for an update of a
/// per-CPU hash map, the other `slots - 1` values of the new element it clears (`value_size` each).
[[nodiscard]] constexpr std::uint64_t map_call_bytes(MapKind kind, std::uint32_t key_size, std::uint32_t value_size,
                                                     std::uint32_t slots, bool update) noexcept {
    std::uint64_t bytes = 0;
    if (kind == MapKind::lpm_trie && key_size > 4) {
        bytes += 8 * kLpmLevelCost * (std::uint64_t{key_size - 4} * 8 + 1);
    }
    if (update && (kind == MapKind::percpu_hash || kind == MapKind::lru_percpu_hash) && slots > 1) {
        bytes += std::uint64_t{value_size} * (slots - 1);
    }
    return bytes;
}

/// Memory a program may scatter its loads and stores over beyond the caches: when the maps it can reach take at least
/// this many bytes together (every map of its object, a map of maps counted with as many inner maps as it holds).
inline constexpr std::uint64_t kFarMemoryBytes = std::uint64_t{4} << 20;
/// What a load or store into map memory counts for beyond its instruction when that memory is far, each probe of a
/// hashed map (a bucket, then an element) or element of another map a helper reaches, and each map value or record a
/// helper reads or writes: a cache miss with a TLB miss (a page walk that misses too) costs some 200 ns here, a few
/// hundred instructions, and a program updating random words of 800 MB of maps would otherwise keep its host for ten
/// seconds within the default bound (three at 128).
inline constexpr std::uint64_t kFarAccessCost = 256;

/// A system call, in interpreter instructions (it takes some 0.65 µs here, the interpreter some 0.7 ns an instruction).
inline constexpr std::uint32_t kSystemCallCost = 1000;

/// What a probe load (a load through a host address: verifier::Report::probe_loads) counts for beyond its
/// instruction, in a verified program's cost bound and a checked run's budget: the system call that reads the host
/// without faulting (process_vm_readv), some 2.1 µs here, 2.5 µs a load in a loop of them.
inline constexpr std::uint32_t kProbeLoadCost = 4 * kSystemCallCost;

/// HelperPrototype::cost of embpf's implementation of the built-in helper `name`: map updates and deletes (locks,
/// element pools), clocks, ring-buffer and perf-buffer records, and each system call the implementation makes
/// (identity of the caller, probe_read*, the strings of trace_printk and snprintf on linux()). 0 for the others.
[[nodiscard]] std::uint32_t builtin_helper_cost(std::string_view name) noexcept;

/// HelperPrototype::cost_per_byte of embpf's implementation of the built-in helper `name`: strings scanned a byte at a
/// time (strnlen_s, strncpy_s, strncat_s, strncmp: 1), strings read from host memory a page at a time
/// (probe_read*_str: 3), formats (snprintf: 5; trace_printk*, whose text goes to the host's sink: 32). Measured against
/// the interpreter's instructions with 4 MiB arguments. 0 for the others.
[[nodiscard]] std::uint32_t builtin_helper_byte_cost(std::string_view name) noexcept;

/// helper_call_cost(bytes) - 1 + the prototype's fixed and per-byte costs, saturating: what a call counts for beyond
/// its instruction.
[[nodiscard]] constexpr std::uint64_t helper_extra_cost(std::uint64_t bytes, std::uint32_t cost,
                                                        std::uint32_t cost_per_byte) noexcept;

/// What one helper call counts for in a verified program's instruction bound and in a checked run's budget, given
/// the bytes of memory its arguments cover (the key and value of the map it takes, each memory argument by its size,
/// the record it reserves, a constant string up to its end): one instruction, and one more for every 8 bytes begun.
/// A call that copies a 4 MiB map value costs what a loop copying it a word per instruction would, so that the bound
/// a host sets (`LoadOptions::max_instructions`) bounds the time helpers take too.
[[nodiscard]] constexpr std::uint64_t helper_call_cost(std::uint64_t bytes) noexcept {
    return 1 + bytes / 8 + (bytes % 8 != 0 ? 1 : 0);
}

constexpr std::uint64_t helper_extra_cost(std::uint64_t bytes, std::uint32_t cost,
                                          std::uint32_t cost_per_byte) noexcept {
    constexpr std::uint64_t kMax = ~std::uint64_t{0};
    std::uint64_t extra = helper_call_cost(bytes) - 1;
    extra = extra > kMax - cost ? kMax : extra + cost;
    if (cost_per_byte != 0) {
        const std::uint64_t per_byte = bytes > kMax / cost_per_byte ? kMax : bytes * cost_per_byte;
        extra = extra > kMax - per_byte ? kMax : extra + per_byte;
    }
    return extra;
}

/// Whether `helper`'s map argument takes a map of `kind`: the verifier's rule for verified programs and the checked
/// interpreter's for the others. Helpers are known by name (the same on every platform); a helper not listed takes
/// any map but a program array, which only a tail call takes.
[[nodiscard]] bool accepts_map(const HelperPrototype& helper, MapKind kind) noexcept;

/// Checks a prototype on its own: arguments after the first `none` are `none`, every memory argument is followed by
/// a size and every size follows a memory argument, map key and value arguments follow a map, an allocation size
/// belongs to a helper returning allocated memory.
[[nodiscard]] Result<void> validate(const HelperPrototype& helper);

/// A set of program types, helper prototypes and map-type numbers. Copyable: a host copies a built-in platform and
/// adds its own hooks and helpers. Pointers it hands out stay valid while the platform lives, also across additions.
class Platform {
  public:
    explicit Platform(std::string name, std::vector<MapType> map_types = {});

    [[nodiscard]] const std::string& name() const noexcept { return m_name; }
    [[nodiscard]] const std::deque<ProgramType>& program_types() const noexcept { return m_program_types; }
    /// The general helpers: those any program type may list in ProgramType::helpers.
    [[nodiscard]] const std::deque<HelperPrototype>& helpers() const noexcept { return m_helpers; }
    [[nodiscard]] const std::vector<MapType>& map_types() const noexcept { return m_map_types; }
    /// A platform for untrusted plugins offers no helper that reads host memory by design (`reads_host_memory`):
    /// helper(type, id) does not find them. windows() and platforms copied from it are; linux(), a test double
    /// for trusted kernel programs, is not.
    [[nodiscard]] bool for_untrusted_plugins() const noexcept { return m_untrusted_plugins; }
    void set_for_untrusted_plugins(bool untrusted) noexcept { m_untrusted_plugins = untrusted; }

    /// The kernel configuration that `.kconfig` externs read (`extern int CONFIG_HZ __kconfig;`), by name, each value
    /// written as a `.config` file writes it: `y`, `n`, `m`, a number (decimal, 0x hex or 0 octal) or a quoted
    /// string. The object's extern types say how a value is read (libbpf's rules); a load fails when an extern that
    /// is not `__weak` has no value here, or a value its type cannot hold. linux() has the values libbpf itself
    /// gives (LINUX_KERNEL_VERSION of 6.18.0, LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER) and a few of a
    /// Debian kernel's; a host sets those its programs read.
    [[nodiscard]] const std::map<std::string, std::string, std::less<>>& kconfig() const noexcept { return m_kconfig; }
    /// Sets one configuration value (see kconfig()); an empty value removes the name.
    void set_kconfig(std::string name, std::string value);

    /// The general helper with this id, or nullptr.
    [[nodiscard]] const HelperPrototype* helper(std::uint32_t id) const noexcept;
    /// The helper a program of `type` calls with this id: one of the type's own helpers, else a general helper;
    /// nullptr when the type does not allow the id, or when the helper reads host memory and the platform is for
    /// untrusted plugins. This is the lookup the verifier uses.
    [[nodiscard]] const HelperPrototype* helper(const ProgramType& type, std::uint32_t id) const noexcept;
    /// The general helper named `name` (without `bpf_`), or nullptr.
    [[nodiscard]] const HelperPrototype* helper_by_name(std::string_view name) const noexcept;

    [[nodiscard]] const ProgramType* program_type(std::string_view name) const noexcept;
    /// The type with the platform's number `platform_id` (the first one added, when several share it), or nullptr.
    [[nodiscard]] const ProgramType* program_type_by_id(std::uint32_t platform_id) const noexcept;
    /// The type whose section prefix is the longest prefix of `section`, as eBPF for Windows and libbpf choose;
    /// nullptr when none matches.
    [[nodiscard]] const ProgramType* program_type_for_section(std::string_view section) const noexcept;

    /// The kind of the platform's map type number: invalid_input for an unknown number, unsupported (naming the
    /// type) for a type the platform has and embpf does not implement.
    [[nodiscard]] Result<MapKind> map_kind(std::uint32_t platform_map_type) const;
    /// The platform's number for a kind, if the platform has it.
    [[nodiscard]] std::optional<std::uint32_t> map_type_id(MapKind kind) const noexcept;
    /// "ringbuf", "devmap", or "unknown(99)".
    [[nodiscard]] std::string map_type_name(std::uint32_t platform_map_type) const;

    /// Adds a general helper; refuses an id or a name already present and a malformed prototype.
    [[nodiscard]] Result<void> add_helper(HelperPrototype helper);
    /// Adds a host helper callable from every program type: `function` receives the registers of the prototype's
    /// arguments as they are, and 0 for r1-r5 past them (which the verifier does not check).
    [[nodiscard]] Result<void> add_helper(std::uint32_t id, std::string name, HelperImplementation function,
                                          HelperPrototype prototype);
    /// Adds a host helper from a typed C++ function, e.g. `std::uint64_t log_request(const char* text,
    /// std::uint32_t size)`: each register is converted to the parameter's type (pointers and integers) in a
    /// trampoline the compiler inlines, so the call costs what a direct call costs.
    template <auto Function>
    [[nodiscard]] Result<void> add_helper(std::uint32_t id, std::string name, HelperPrototype prototype);
    /// Runs `function` for the helper named `name` (a general helper and each program type's own helper of that
    /// name) in programs loaded on this platform from now on; its contract, which the verifier checks, stays. Only
    /// for helpers that return a number (ReturnKind::integer or void_), take no callback or spin lock, and write no
    /// memory the verifier then takes as initialized (Writes::all, source_if_fits: memset, get_current_comm,
    /// probe_read, ...): a function returning an address would hand programs memory the verifier knows nothing of,
    /// one that skipped a promised write would let them read stale bytes. For tests (embpf::testing::TestPlatform)
    /// and hosts that implement a built-in helper their own way. An error names a helper the platform lacks or
    /// refuses to replace; nothing changes then.
    [[nodiscard]] Result<void> replace_implementation(std::string_view name, HelperImplementation function);
    /// Adds a program type; refuses a name already present, a context whose fields do not fit, and helper ids that
    /// are neither general helpers nor the type's own.
    [[nodiscard]] Result<void> add_program_type(ProgramType type);

  private:
    std::string m_name;
    std::deque<HelperPrototype> m_helpers; // a deque: pointers survive add_helper
    std::deque<ProgramType> m_program_types;
    std::vector<MapType> m_map_types;
    std::unordered_map<std::uint32_t, std::size_t> m_helper_index;
    std::map<std::string, std::string, std::less<>> m_kconfig;
    bool m_untrusted_plugins = false;
};

/// Builds a prototype for Platform::add_helper: `proto(ret::integer, arg::ptr_to_readable_mem, arg::const_size)`.
template <typename... Args>
[[nodiscard]] HelperPrototype proto(ReturnKind ret, Args... args) {
    static_assert(sizeof...(Args) <= 5, "a helper takes at most five arguments");
    static_assert((std::is_same_v<Args, ArgKind> && ...), "arguments are ArgKind values");
    HelperPrototype prototype;
    prototype.ret = ret;
    std::size_t i = 0;
    ((prototype.args[i++] = args), ...);
    return prototype;
}

/// Short names for proto(): `ret::integer`, `arg::ptr_to_readable_mem`, ...
namespace ret {
inline constexpr ReturnKind integer = ReturnKind::integer;
inline constexpr ReturnKind void_ = ReturnKind::void_;
inline constexpr ReturnKind ptr_to_map_value_or_null = ReturnKind::ptr_to_map_value_or_null;
inline constexpr ReturnKind ptr_to_map_value = ReturnKind::ptr_to_map_value;
} // namespace ret
namespace arg {
inline constexpr ArgKind anything = ArgKind::anything;
inline constexpr ArgKind ptr_to_ctx = ArgKind::ptr_to_ctx;
inline constexpr ArgKind ptr_to_map = ArgKind::ptr_to_map;
inline constexpr ArgKind ptr_to_map_key = ArgKind::ptr_to_map_key;
inline constexpr ArgKind ptr_to_map_value = ArgKind::ptr_to_map_value;
inline constexpr ArgKind ptr_to_readable_mem = ArgKind::ptr_to_readable_mem;
inline constexpr ArgKind ptr_to_readable_mem_or_null = ArgKind::ptr_to_readable_mem_or_null;
inline constexpr ArgKind ptr_to_writable_mem = ArgKind::ptr_to_writable_mem;
inline constexpr ArgKind const_size = ArgKind::const_size;
inline constexpr ArgKind const_size_or_zero = ArgKind::const_size_or_zero;
} // namespace arg

namespace detail {
template <typename T>
T from_register(std::uint64_t value) noexcept {
    if constexpr (std::is_pointer_v<T>) {
        return reinterpret_cast<T>(static_cast<std::uintptr_t>(value));
    } else {
        static_assert(std::is_integral_v<T> || std::is_enum_v<T>, "helper parameters are integers or pointers");
        return static_cast<T>(value);
    }
}
template <typename R>
std::uint64_t to_register(R value) noexcept {
    if constexpr (std::is_pointer_v<R>) {
        return reinterpret_cast<std::uintptr_t>(value);
    } else {
        return static_cast<std::uint64_t>(value);
    }
}
template <auto Function, typename R, typename... P>
struct Trampoline {
    static std::uint64_t call(std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, std::uint64_t r4,
                              std::uint64_t r5) noexcept {
        const std::uint64_t regs[5] = {r1, r2, r3, r4, r5};
        return invoke(regs, std::index_sequence_for<P...>{});
    }
    template <std::size_t... I>
    static std::uint64_t invoke(const std::uint64_t* regs, std::index_sequence<I...>) noexcept {
        if constexpr (std::is_void_v<R>) {
            Function(from_register<P>(regs[I])...);
            return 0;
        } else {
            return to_register(Function(from_register<P>(regs[I])...));
        }
    }
};
template <auto Function, typename R, typename... P>
constexpr HelperImplementation trampoline_for(R (*)(P...)) {
    static_assert(sizeof...(P) <= 5, "a helper takes at most five arguments");
    return &Trampoline<Function, R, P...>::call;
}
} // namespace detail

template <auto Function>
Result<void> Platform::add_helper(std::uint32_t id, std::string name, HelperPrototype prototype) {
    constexpr HelperImplementation implementation = detail::trampoline_for<Function>(Function);
    // The prototype is what the verifier checks calls against, so it must say what the function takes: as many
    // arguments as parameters, a memory kind for each pointer (read-only kinds only for pointers to const), no
    // pointer kind for an integer, and a number or nothing as the result. And the function must not throw: an
    // exception cannot unwind through the interpreter, and the trampoline is noexcept, so it would end the process.
    const auto problem = []<typename R, typename... P>(R (*)(P...), const HelperPrototype& declared) -> std::string {
        static_assert(std::is_nothrow_invocable_v<decltype(Function), P...>,
                      "a host helper must be noexcept: catch inside it and return an error value instead");
        if (declared.arg_count() != sizeof...(P)) {
            return "its function takes " + std::to_string(sizeof...(P)) + " parameters and its prototype declares " +
                   std::to_string(declared.arg_count()) + " arguments";
        }
        // What it returns is a number: an address would tell the plugin where the host keeps its memory.
        if constexpr (std::is_pointer_v<R>) {
            return "its function returns a pointer; a host helper returns a number";
        }
        if (declared.ret != ReturnKind::integer && declared.ret != ReturnKind::void_) {
            return "its prototype returns " + std::string(to_string(declared.ret)) +
                   "; a host helper returns a number (ret::integer) or nothing (ret::void_)";
        }
        [[maybe_unused]] const auto is_pointer_kind = [](ArgKind kind) {
            return kind != ArgKind::none && kind != ArgKind::anything && kind != ArgKind::const_size &&
                   kind != ArgKind::const_size_or_zero && kind != ArgKind::const_alloc_size_or_zero &&
                   kind != ArgKind::ptr_to_func && kind != ArgKind::host_object && kind != ArgKind::ptr_to_spin_lock;
        };
        [[maybe_unused]] const auto is_read_only_kind = [](ArgKind kind) {
            return kind == ArgKind::ptr_to_map_key || kind == ArgKind::ptr_to_map_value ||
                   kind == ArgKind::ptr_to_map_value_or_null || kind == ArgKind::ptr_to_readable_mem ||
                   kind == ArgKind::ptr_to_readable_mem_or_null || kind == ArgKind::ptr_to_const_str;
        };
        std::string found;
        [[maybe_unused]] std::size_t index = 0;
        (
            [&] {
                const ArgKind kind = declared.args[index];
                const std::string where = "parameter " + std::to_string(index + 1) + " ";
                ++index;
                if (!found.empty()) {
                    return;
                }
                if constexpr (std::is_pointer_v<P>) {
                    if (!is_pointer_kind(kind)) {
                        found = where + "is a pointer, but its argument kind " + std::string(to_string(kind)) +
                                " is no memory kind (ptr_to_readable_mem, ptr_to_writable_mem, ptr_to_map_value, " +
                                "ptr_to_ctx, ...)";
                    } else if (!std::is_const_v<std::remove_pointer_t<P>> && is_read_only_kind(kind)) {
                        found = where + "points to non-const memory, but its argument kind " +
                                std::string(to_string(kind)) + " is read-only memory";
                    }
                } else if (is_pointer_kind(kind)) {
                    found = where + "is an integer, but its argument kind " + std::string(to_string(kind)) +
                            " is a pointer";
                }
            }(),
            ...);
        return found;
    }(Function, prototype);
    if (!problem.empty()) {
        return Error::invalid("host helper " + name + ": " + problem);
    }
    return add_helper(id, std::move(name), implementation, std::move(prototype));
}

/// eBPF for Windows: its general helpers and ids (bpf_helper_defs.h), the xdp, bind, sock_addr and sock_ops
/// hooks with their contexts from ebpf_nethooks.h, and its map-type numbers (ebpf_structs.h).
[[nodiscard]] const Platform& windows();

// In GNU modes (-std=gnu++20, CMake's default) `linux` is a predefined macro (1) that would turn the declaration
// below, and every call of it, into `1()`. Portable code tests __linux__; embpf drops the old spelling so that hosts
// in any mode can call embpf::platform::linux().
#undef linux
/// Linux: helper ids from linux/bpf.h (__BPF_FUNC_MAPPER), program types with the kernel's context structs
/// (__sk_buff, xdp_md, pt_regs on x86-64, ...), and enum bpf_map_type.
[[nodiscard]] const Platform& linux();

} // namespace embpf::platform
