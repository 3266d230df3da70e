// The Map base, shape validation with Linux's rules, and create_map.
#include "common.hpp"
#include "embpf/runtime/perf_event_array.hpp"
#include "embpf/runtime/ring_buffer.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <limits>
#include <random>
#include <string>
#include <unistd.h>
#include <utility>

namespace embpf::runtime {

using platform::MapKind;

namespace detail {

std::string hex(std::uint64_t value) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    do {
        text.insert(text.begin(), digits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    return std::string("0x") + text;
}

std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

std::uint64_t random_seed() noexcept {
    try {
        std::random_device device;
        return (std::uint64_t{device()} << 32) ^ device();
    } catch (...) {
        static std::atomic<std::uint64_t> counter{0x243f6a8885a308d3ULL};
        return mix64(counter.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed));
    }
}

void commit_memory(void* data, std::size_t bytes) noexcept {
    constexpr std::size_t page = 4096;
    constexpr std::size_t huge = std::size_t{2} << 20;
    const auto start = reinterpret_cast<std::uintptr_t>(data);
    if (bytes >= huge) {
        const std::uintptr_t first = (start + page - 1) / page * page;
        const std::uintptr_t end = (start + bytes) / page * page;
        if (end > first) {
            (void)::madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
        }
    }
    auto* bytes_of = static_cast<volatile std::byte*>(data);
    for (std::size_t i = 0; i < bytes; i += page) {
        bytes_of[i] = std::byte{0}; // zeroed already: the write only makes the page resident
    }
}

Error out_of_memory(const MapConfig& config, std::size_t bytes) {
    std::string message = std::string("map ") + config.name + ": out of memory";
    if (bytes != 0) {
        message += std::string(" (") + std::to_string(bytes) + " bytes)";
    }
    return Error::runtime(std::move(message)).with_errno(ENOMEM);
}

} // namespace detail

namespace {

constexpr std::uint32_t known_flags = (1U << 13) - 1;  // bpf_f_no_prealloc .. bpf_f_inner_map
constexpr std::uint32_t max_key_size = 512;            // MAX_BPF_STACK, Linux's bound for hash keys
constexpr std::uint32_t max_value_size = 1U << 22;     // KMALLOC_MAX_SIZE on x86-64
constexpr std::uint32_t max_percpu_value_size = 32768; // PCPU_MIN_UNIT_SIZE
constexpr std::uint32_t max_slots = 1U << 16;
constexpr std::uint32_t lpm_max_data_size = 256; // LPM_DATA_SIZE_MAX
constexpr std::uint64_t max_ring_size = 1ULL << 31;

bool is_lru(MapKind kind) { return kind == MapKind::lru_hash || kind == MapKind::lru_percpu_hash; }

std::string map_name(const MapConfig& config) {
    return std::string("map ") + (config.name.empty() ? std::string("(unnamed)") : config.name);
}

Error invalid(const MapConfig& config, std::string what) {
    return Error::invalid(map_name(config) + " (" + std::string(platform::to_string(config.kind)) + "): " + what);
}

std::string str(std::uint64_t n) { return std::to_string(n); }

std::uint32_t resolved_slots(const MapConfig& config) { return config.slots != 0 ? config.slots : slot_count(); }

std::size_t system_page_size() {
    const long page = ::sysconf(_SC_PAGESIZE);
    return page > 0 ? static_cast<std::size_t>(page) : 4096;
}

Result<void> check_sizes(const MapConfig& config, std::uint32_t key, std::uint32_t value) {
    if (config.key_size != key) {
        return invalid(config, std::string("key_size must be ") + str(key) + ", not " + str(config.key_size));
    }
    if (config.value_size != value) {
        return invalid(config, std::string("value_size must be ") + str(value) + ", not " + str(config.value_size));
    }
    return {};
}

Result<void> validate_inner_shape(const MapConfig& outer) {
    if (!outer.inner) {
        return invalid(outer, "a map of maps needs the shape of its inner maps (MapConfig::inner)");
    }
    const MapConfig& inner = *outer.inner;
    if (inner.kind == MapKind::hash_of_maps || inner.kind == MapKind::array_of_maps) {
        return invalid(outer, "inner maps cannot be maps of maps (one level only, as on Linux)");
    }
    if (inner.kind == MapKind::prog_array || inner.kind == MapKind::perf_event_array) {
        return invalid(outer,
                       std::string("inner maps cannot be of kind ") + std::string(platform::to_string(inner.kind)));
    }
    auto checked = validate_map_config(inner);
    if (!checked) {
        return invalid(outer, std::string("inner shape: ") + checked.error().message);
    }
    return {};
}

// Multiplies sizes; nullopt on overflow.
std::optional<std::size_t> mul(std::size_t a, std::size_t b) {
    if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) {
        return std::nullopt;
    }
    return a * b;
}

} // namespace

// The kinds only the verifier knows (platform::runtime_implements): validate_map_config refuses them first.
#define EMBPF_VERIFIER_ONLY_KINDS                                                                                      \
    case MapKind::stack_trace:                                                                                         \
    case MapKind::cgroup_array:                                                                                        \
    case MapKind::cgroup_storage:                                                                                      \
    case MapKind::percpu_cgroup_storage:                                                                               \
    case MapKind::devmap:                                                                                              \
    case MapKind::devmap_hash:                                                                                         \
    case MapKind::cpumap:                                                                                              \
    case MapKind::xskmap:                                                                                              \
    case MapKind::sockmap:                                                                                             \
    case MapKind::sockhash:                                                                                            \
    case MapKind::reuseport_sockarray:                                                                                 \
    case MapKind::sk_storage:                                                                                          \
    case MapKind::inode_storage:                                                                                       \
    case MapKind::task_storage

Result<void> validate_map_config(const MapConfig& config) {
    if ((config.flags & ~known_flags) != 0) {
        return invalid(config, std::string("unknown map flags ") + detail::hex(config.flags & ~known_flags));
    }
    if (config.slots > max_slots) {
        return invalid(config, std::string("slots ") + str(config.slots) + " exceeds " + str(max_slots));
    }
    const MapKind kind = config.kind;
    if (!platform::runtime_implements(kind)) {
        return Error::unsupported(map_name(config) + ": maps of kind " + std::string(platform::to_string(kind)) +
                                  " have no implementation in this build yet (the verifier knows them)");
    }
    if ((config.flags & bpf_f_no_common_lru) != 0 && !is_lru(kind)) {
        return invalid(config, "BPF_F_NO_COMMON_LRU applies to LRU maps only");
    }
    if (config.spin_lock && ((kind != MapKind::hash && kind != MapKind::array) || *config.spin_lock % 4 != 0 ||
                             std::uint64_t{*config.spin_lock} + 4 > config.value_size)) {
        return invalid(config, "a bpf_spin_lock is 4 aligned bytes of the value of a hash or array map");
    }
    if (kind != MapKind::ringbuf && kind != MapKind::perf_event_array && config.max_entries == 0) {
        return invalid(config, "max_entries must be > 0");
    }
    switch (kind) {
    case MapKind::hash:
    case MapKind::percpu_hash:
    case MapKind::lru_hash:
    case MapKind::lru_percpu_hash:
        if (config.key_size == 0 || config.value_size == 0) {
            return invalid(config, "key_size and value_size must be > 0");
        }
        if (config.key_size > max_key_size) {
            return invalid(config, std::string("key_size ") + str(config.key_size) + " exceeds " + str(max_key_size));
        }
        if (is_lru(kind) && (config.flags & bpf_f_no_prealloc) != 0) {
            return Error::unsupported(map_name(config) +
                                      ": LRU maps are always preallocated (BPF_F_NO_PREALLOC is refused, as on Linux)");
        }
        break;
    case MapKind::hash_of_maps:
        if (config.key_size == 0 || config.key_size > max_key_size) {
            return invalid(config, std::string("key_size must be 1..") + str(max_key_size));
        }
        if (config.value_size != 4) {
            return invalid(config, std::string("value_size must be 4 (a map id), not ") + str(config.value_size));
        }
        return validate_inner_shape(config);
    case MapKind::array:
    case MapKind::percpu_array:
        if (config.key_size != 4) {
            return invalid(config, std::string("key_size must be 4, not ") + str(config.key_size));
        }
        if (config.value_size == 0) {
            return invalid(config, "value_size must be > 0");
        }
        break;
    case MapKind::array_of_maps:
        if (auto sizes = check_sizes(config, 4, 4); !sizes) {
            return sizes;
        }
        return validate_inner_shape(config);
    case MapKind::prog_array: return check_sizes(config, 4, 4);
    case MapKind::perf_event_array:
        // eBPF for Windows declares these with sizes 0; Linux with 4 (a CPU index and a perf event fd).
        if ((config.key_size != 0 && config.key_size != 4) || (config.value_size != 0 && config.value_size != 4)) {
            return invalid(config, "key_size and value_size must be 4 (or 0)");
        }
        return {};
    case MapKind::lpm_trie:
        if (config.key_size < 5 || config.key_size > 4 + lpm_max_data_size) {
            return invalid(config, std::string("key_size must be 5..") + str(4 + lpm_max_data_size) +
                                       " (a u32 prefix length and 1..256 data bytes), not " + str(config.key_size));
        }
        if (config.value_size == 0) {
            return invalid(config, "value_size must be > 0");
        }
        break;
    case MapKind::queue:
    case MapKind::stack:
    case MapKind::bloom_filter:
        if (config.key_size != 0) {
            return invalid(config, std::string("key_size must be 0, not ") + str(config.key_size));
        }
        if (config.value_size == 0) {
            return invalid(config, "value_size must be > 0");
        }
        if (kind == MapKind::bloom_filter && (config.map_extra & ~std::uint64_t{0xf}) != 0) {
            return invalid(config,
                           "map_extra holds the number of hash functions, 0-15, not " + detail::hex(config.map_extra));
        }
        break;
    case MapKind::ringbuf: {
        if (auto sizes = check_sizes(config, 0, 0); !sizes) {
            return sizes;
        }
        const std::uint64_t size = config.max_entries;
        const std::size_t page = system_page_size();
        if (size == 0 || (size & (size - 1)) != 0 || size % page != 0) {
            return invalid(config,
                           std::string("max_entries (the data size) must be a power of two and a multiple of ") +
                               "the page size " + str(page) + ", not " + str(size));
        }
        if (size > max_ring_size) {
            return invalid(config, std::string("max_entries ") + str(size) + " exceeds " + str(max_ring_size));
        }
        return {};
    }
    EMBPF_VERIFIER_ONLY_KINDS:
        return Error::internal(map_name(config) + ": a kind without an implementation got past the check");
    }
    const std::uint32_t limit = detail::is_percpu(kind) ? max_percpu_value_size : max_value_size;
    if (config.value_size > limit) {
        return invalid(config, std::string("value_size ") + str(config.value_size) + " exceeds " + str(limit));
    }
    return {};
}

Result<std::size_t> map_memory_estimate(const MapConfig& config) {
    if (auto valid = validate_map_config(config); !valid) {
        return std::move(valid).error();
    }
    MapConfig resolved = config;
    resolved.slots = resolved_slots(config);
    const std::size_t entries = config.max_entries;
    const std::size_t stride = detail::round_up8(config.value_size);
    std::optional<std::size_t> bytes;
    switch (config.kind) {
    case MapKind::hash:
    case MapKind::percpu_hash:
    case MapKind::lru_hash:
    case MapKind::lru_percpu_hash:
    case MapKind::hash_of_maps: bytes = detail::hash_map_memory(resolved); break;
    case MapKind::array: bytes = mul(entries, stride); break;
    case MapKind::percpu_array: {
        const auto per_slot = mul(entries, stride);
        bytes = per_slot ? mul(*per_slot, resolved.slots) : std::nullopt;
        break;
    }
    case MapKind::array_of_maps:
    case MapKind::prog_array: bytes = entries * sizeof(void*); break;
    case MapKind::perf_event_array:
        bytes = static_cast<std::size_t>(entries != 0 ? entries : resolved.slots) * sizeof(void*);
        break;
    case MapKind::lpm_trie: bytes = detail::lpm_trie_memory(resolved); break;
    case MapKind::queue:
    case MapKind::stack: bytes = mul(entries, config.value_size); break;
    case MapKind::bloom_filter: bytes = static_cast<std::size_t>(detail::bloom_bits(resolved) / 8); break;
    case MapKind::ringbuf:
        bytes = detail::ring_buffer_memory(resolved);
        break;
    EMBPF_VERIFIER_ONLY_KINDS:
        break;
    }
    if (!bytes || *bytes == std::numeric_limits<std::size_t>::max()) {
        return invalid(config, "the map's size overflows");
    }
    return *bytes;
}

Result<std::shared_ptr<Map>> create_map(const MapConfig& config) {
    if (auto valid = validate_map_config(config); !valid) {
        return std::move(valid).error();
    }
    MapConfig resolved;
    try {
        resolved = config;
    } catch (const std::bad_alloc&) {
        return detail::out_of_memory(config, 0);
    }
    resolved.slots = resolved_slots(config);
    if (auto estimate = map_memory_estimate(resolved); !estimate) {
        return std::move(estimate).error();
    }
    switch (config.kind) {
    case MapKind::hash:
    case MapKind::percpu_hash:
    case MapKind::lru_hash:
    case MapKind::lru_percpu_hash:
    case MapKind::hash_of_maps: return detail::create_hash_map(resolved);
    case MapKind::array:
    case MapKind::percpu_array:
    case MapKind::array_of_maps: return detail::create_array_map(resolved);
    case MapKind::lpm_trie: return detail::create_lpm_trie(resolved);
    case MapKind::queue:
    case MapKind::stack: return detail::create_queue_stack(resolved);
    case MapKind::bloom_filter: return detail::create_bloom_filter(resolved);
    case MapKind::prog_array: {
        auto map = ProgramArrayMap::create(resolved);
        if (!map) {
            return std::move(map).error();
        }
        return std::shared_ptr<Map>(std::move(map).value());
    }
    case MapKind::ringbuf: {
        auto map = RingBufferMap::create(resolved);
        if (!map) {
            return std::move(map).error();
        }
        return std::shared_ptr<Map>(std::move(map).value());
    }
    case MapKind::perf_event_array: {
        auto map = PerfEventArrayMap::create(resolved);
        if (!map) {
            return std::move(map).error();
        }
        return std::shared_ptr<Map>(std::move(map).value());
    }
    EMBPF_VERIFIER_ONLY_KINDS:
        break;
    }
    return Error::internal("create_map: unknown map kind");
}

// The Map base: every operation a kind does not have is refused the way Linux refuses it.

namespace {
std::atomic<std::uint32_t> g_next_map_id{1};
} // namespace

Map::Map(MapConfig config) noexcept
    : m_config(std::move(config)), m_id(g_next_map_id.fetch_add(1, std::memory_order_relaxed)) {
    if (m_config.slots == 0) {
        m_config.slots = slot_count();
    }
}

Map::~Map() = default;

bool Map::per_cpu() const noexcept { return detail::is_percpu(m_config.kind); }

std::size_t Map::host_value_size() const noexcept {
    if (per_cpu()) {
        return static_cast<std::size_t>(m_config.slots) * detail::percpu_stride(m_config.value_size);
    }
    return m_config.value_size;
}

void* Map::lookup(const void*) noexcept { return nullptr; }
long Map::update(const void*, const void*, std::uint64_t) noexcept { return -EOPNOTSUPP; }
long Map::erase(const void*) noexcept { return -EOPNOTSUPP; }
long Map::lookup_and_erase(const void*, void*) noexcept { return -EOPNOTSUPP; }
void* Map::detach(const void*) noexcept { return nullptr; }
long Map::push(const void*, std::uint64_t) noexcept { return -EOPNOTSUPP; }
long Map::pop(void*) noexcept { return -EOPNOTSUPP; }
long Map::peek(void*) noexcept { return -EOPNOTSUPP; }

Result<bool> Map::host_lookup(std::span<const std::uint8_t>, std::span<std::uint8_t>) const {
    return unsupported("lookup");
}
Result<void> Map::host_update(std::span<const std::uint8_t>, std::span<const std::uint8_t>, std::uint64_t) {
    return unsupported("update");
}
Result<bool> Map::host_erase(std::span<const std::uint8_t>) { return unsupported("delete"); }
Result<void> Map::freeze() { return unsupported("freeze"); }
Result<bool> Map::host_lookup_and_erase(std::span<const std::uint8_t>, std::span<std::uint8_t>) {
    return unsupported("lookup and delete");
}
Result<bool> Map::next_key(std::span<const std::uint8_t>, std::span<std::uint8_t>) const {
    return unsupported("key iteration");
}
std::optional<std::size_t> Map::entry_count() const noexcept { return std::nullopt; }
std::size_t Map::memory_size() const noexcept { return 0; }
std::optional<exec::InlineArray> Map::inline_array() const noexcept { return std::nullopt; }

std::string Map::label() const { return map_name(m_config); }

Result<void> Map::check_key(std::span<const std::uint8_t> key) const {
    if (key.size() != m_config.key_size) {
        return Error::invalid(label() + ": key of " + str(key.size()) + " bytes, expected " + str(m_config.key_size));
    }
    return {};
}

Result<void> Map::check_value(std::size_t size) const {
    const std::size_t expected = host_value_size();
    if (size == expected) {
        return {};
    }
    std::string message = label() + ": value of " + str(size) + " bytes, expected " + str(expected);
    if (per_cpu()) {
        message += std::string(" (") + str(m_config.slots) + " slots x " +
                   str(detail::percpu_stride(m_config.value_size)) + " bytes)";
    }
    return Error::invalid(std::move(message));
}

Error Map::unsupported(std::string_view operation) const {
    return Error::unsupported(label() + ": " + std::string(operation) + " is not supported by " +
                              std::string(platform::to_string(m_config.kind)) + " maps");
}

Error Map::update_error(long err, std::uint64_t flags) const {
    switch (err) {
    case -EEXIST: return Error::invalid(label() + ": the key exists (BPF_NOEXIST)").with_errno(EEXIST);
    case -ENOENT: return Error::invalid(label() + ": no entry for the key (BPF_EXIST)").with_errno(ENOENT);
    case -E2BIG:
    case -ENOSPC:
        return Error::invalid(label() + ": full (max_entries " + str(m_config.max_entries) + ")")
            .with_errno(static_cast<int>(-err));
    case -ENOMEM: return detail::out_of_memory(m_config, 0);
    case -EINVAL:
        if ((flags & bpf_f_lock) != 0) {
            return Error::unsupported(label() + ": BPF_F_LOCK (an update made under the value's bpf_spin_lock) is "
                                                "not supported; a program that takes the lock may update the value")
                .with_errno(EINVAL);
        }
        return Error::invalid(label() + ": invalid update flags " + detail::hex(flags)).with_errno(EINVAL);
    default:
        return Error::runtime(label() + ": update failed (errno " + str(static_cast<std::uint64_t>(-err)) + ")")
            .with_errno(static_cast<int>(-err));
    }
}

Result<void> MapOfMaps::check_inner(const Map& inner) const {
    const MapConfig& shape = inner_shape();
    const MapConfig& actual = inner.config();
    if (inner.frozen()) {
        // Programs would get writable pointers into its values, which the verifier took as constant (.rodata).
        return Error::invalid(label() + ": inner map " + actual.name +
                              " is frozen; an inner map's values are writable");
    }
    auto mismatch = [&](std::string_view what, std::uint64_t expected, std::uint64_t got) {
        return Error::invalid(label() + ": inner map " + actual.name + " has " + std::string(what) + " " + str(got) +
                              ", expected " + str(expected));
    };
    if (actual.kind != shape.kind) {
        return Error::invalid(label() + ": inner map " + actual.name + " is a " +
                              std::string(platform::to_string(actual.kind)) + " map, expected " +
                              std::string(platform::to_string(shape.kind)));
    }
    if (actual.key_size != shape.key_size) {
        return mismatch("key_size", shape.key_size, actual.key_size);
    }
    if (actual.value_size != shape.value_size) {
        return mismatch("value_size", shape.value_size, actual.value_size);
    }
    if (actual.spin_lock != shape.spin_lock) {
        // Programs reach its values as the template's: a lock elsewhere would be bytes they may write, and the
        // template's lock bytes would be data others write.
        auto where = [](const std::optional<std::uint32_t>& lock) {
            return lock ? "its bpf_spin_lock at offset " + str(*lock) : std::string("no bpf_spin_lock");
        };
        return Error::invalid(label() + ": inner map " + actual.name + " has " + where(actual.spin_lock) +
                              ", expected " + where(shape.spin_lock));
    }
    if ((actual.flags & ~bpf_f_inner_map) != (shape.flags & ~bpf_f_inner_map)) {
        return Error::invalid(label() + ": inner map " + actual.name + " has flags " + detail::hex(actual.flags) +
                              ", expected " + detail::hex(shape.flags));
    }
    if ((shape.flags & bpf_f_inner_map) == 0 && actual.max_entries != shape.max_entries) {
        return mismatch("max_entries", shape.max_entries, actual.max_entries);
    }
    return {};
}

} // namespace embpf::runtime
