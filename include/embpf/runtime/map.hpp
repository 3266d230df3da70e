// Runtime maps: every map type of eBPF for Windows, with the semantics of Linux, shared by the host and by programs
// running on many threads at once.
//
// Two faces. The program side (lookup, update, ...) is what helper implementations call during an invocation: raw
// pointers, Linux's negative errno results, never an allocation on the hot path, never a lock on the lookup path of
// arrays and hashes. The host side (host_lookup, ...) copies through spans whose sizes it checks and reports errors as
// values. Every invocation runs inside an EpochGuard (epoch.hpp): a value pointer a lookup returned stays valid until
// the invocation returns, even when another thread deletes or replaces the entry meanwhile.
#pragma once

#include "embpf/exec/engine.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/slot.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

namespace embpf::runtime {

class Invocable; // runtime/invocation.hpp: what a program array holds

// Values of linux/bpf.h, spelled in lower case so that they never collide with that header's enumerators.

// Update flags.
inline constexpr std::uint64_t bpf_any = 0;     ///< create or replace
inline constexpr std::uint64_t bpf_noexist = 1; ///< create only: -EEXIST when the key exists
inline constexpr std::uint64_t bpf_exist = 2;   ///< replace only: -ENOENT when the key is missing
inline constexpr std::uint64_t bpf_f_lock = 4;  ///< needs a bpf_spin_lock in the value: unsupported, -EINVAL

// Map creation flags (MapConfig::flags).
inline constexpr std::uint32_t bpf_f_no_prealloc = 1U << 0;
inline constexpr std::uint32_t bpf_f_no_common_lru = 1U << 1; ///< accepted; embpf keeps one LRU list per map
inline constexpr std::uint32_t bpf_f_numa_node = 1U << 2;
inline constexpr std::uint32_t bpf_f_rdonly = 1U << 3;
inline constexpr std::uint32_t bpf_f_wronly = 1U << 4;
inline constexpr std::uint32_t bpf_f_stack_build_id = 1U << 5;
inline constexpr std::uint32_t bpf_f_zero_seed = 1U << 6;
inline constexpr std::uint32_t bpf_f_rdonly_prog = 1U << 7;
inline constexpr std::uint32_t bpf_f_wronly_prog = 1U << 8;
inline constexpr std::uint32_t bpf_f_clone = 1U << 9;
inline constexpr std::uint32_t bpf_f_mmapable = 1U << 10;
inline constexpr std::uint32_t bpf_f_preserve_elems = 1U << 11;
inline constexpr std::uint32_t bpf_f_inner_map = 1U << 12; ///< on an inner shape: inner maps may differ in max_entries

/// What a group of maps (an object's, LoadOptions::memory_limit) may allocate together, counted by the maps that grow
/// while they run: a map that would pass the limit refuses the growth (-ENOMEM to programs) instead.
class MemoryBudget {
  public:
    explicit MemoryBudget(std::size_t limit) noexcept : m_limit(limit) {}
    /// Counts `bytes` against the limit; false (and nothing counted) when they do not fit.
    [[nodiscard]] bool charge(std::size_t bytes) noexcept {
        std::size_t used = m_used.load(std::memory_order_relaxed);
        do {
            if (bytes > m_limit - std::min(m_limit, used)) {
                return false;
            }
        } while (!m_used.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
        return true;
    }
    void release(std::size_t bytes) noexcept { m_used.fetch_sub(bytes, std::memory_order_relaxed); }
    [[nodiscard]] std::size_t used() const noexcept { return m_used.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t limit() const noexcept { return m_limit; }

  private:
    std::size_t m_limit;
    std::atomic<std::size_t> m_used{0};
};

/// Elements a hash map may hold beyond max_entries and its spares (one per execution slot, + 1 for LRU): replaced or
/// deleted elements that readers may still use (retired, not yet reclaimed), kRetiredAllowance for each execution
/// slot and one more (each writing thread batches its retirements). Past it, an update that needs an element reclaims
/// what it can, and fails with -ENOMEM (host: an out-of-memory error) when that is not enough: a program that replaces
/// entries in a loop, or a reader that holds its guard while writers churn, cannot make the map grow. What an
/// invocation retired is reclaimed only after it returns. So a hash map never holds more than max_entries + spares +
/// retired_allowance(slots) elements, plus at most one chunk of 16 when it grows on demand.
inline constexpr std::size_t kRetiredAllowance = 64;
[[nodiscard]] constexpr std::size_t retired_allowance(std::uint32_t slots) noexcept {
    return kRetiredAllowance * (std::size_t{slots} + 1);
}

/// The shape of a map.
struct MapConfig {
    std::string name;
    platform::MapKind kind = platform::MapKind::hash;
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    std::uint32_t max_entries = 0; ///< ringbuf: the data size in bytes; perf_event_array: 0 means one per slot
    std::uint32_t flags = 0;       ///< bpf_f_* creation flags
    /// bloom_filter: its number of hash functions in the low 4 bits (0: 5), as Linux's map_extra; 0 for other kinds.
    std::uint64_t map_extra = 0;
    std::uint32_t slots = 0; ///< per-CPU execution slots; 0 = slot_count() at creation
    /// hash and array: where each value holds a `struct bpf_spin_lock` (4 bytes), which programs take and release with
    /// bpf_spin_lock and bpf_spin_unlock. Updates leave those bytes be (an array's) or start them released (a hash's
    /// new element), so that no update takes or releases a lock.
    std::optional<std::uint32_t> spin_lock;
    /// hash_of_maps and array_of_maps: the shape every inner map must have.
    std::shared_ptr<const MapConfig> inner;
    /// What the map's growth after creation is counted against, if anything (creation itself is the creator's to
    /// count, with map_memory_estimate).
    std::shared_ptr<MemoryBudget> budget;
};

/// Checks a shape without allocating anything: sizes, flags and max_entries as Linux checks them.
[[nodiscard]] Result<void> validate_map_config(const MapConfig& config);

/// The bytes create_map(config) allocates up front (memory_size() of the new map), for a caller enforcing a memory
/// cap before creating. Maps that grow on demand (lpm_trie, hashes with bpf_f_no_prealloc) start smaller.
[[nodiscard]] Result<std::size_t> map_memory_estimate(const MapConfig& config);

/// A map. Created only through create_map (or a subclass's create) and always owned by std::shared_ptr. All members are
/// safe to call from many threads at once.
class Map {
  public:
    Map(const Map&) = delete;
    Map& operator=(const Map&) = delete;
    virtual ~Map();

    /// The shape, with `slots` resolved.
    [[nodiscard]] const MapConfig& config() const noexcept { return m_config; }
    /// The map's number, unique in the process (as Linux's map ids): 1 for the first map created, then counting up.
    [[nodiscard]] std::uint32_t id() const noexcept { return m_id; }
    [[nodiscard]] platform::MapKind kind() const noexcept { return m_config.kind; }
    [[nodiscard]] const std::string& name() const noexcept { return m_config.name; }
    /// percpu_hash, percpu_array and lru_percpu_hash.
    [[nodiscard]] bool per_cpu() const noexcept;
    /// The bytes of a value as the host exchanges it: value_size, or for per-CPU maps
    /// `config().slots * round_up(value_size, 8)` with slot i at offset i * round_up(value_size, 8), as Linux does.
    [[nodiscard]] std::size_t host_value_size() const noexcept;

    // Program side. Call inside an EpochGuard. Results are 0 or a negative errno, as Linux returns them.

    /// The value for `key`, or nullptr. Per-CPU maps: the calling thread's slot. Maps of maps: the inner Map*.
    /// Program arrays, queues, stacks, ring buffers and perf event arrays: nullptr (programs cannot read them).
    [[nodiscard]] virtual void* lookup(const void* key) noexcept;
    virtual long update(const void* key, const void* value, std::uint64_t flags) noexcept;
    virtual long erase(const void* key) noexcept;
    /// Copies the value (per-CPU maps: the calling thread's slot) and deletes the entry; -ENOENT when absent.
    virtual long lookup_and_erase(const void* key, void* value_out) noexcept;
    /// Deletes the entry and returns its value (per-CPU maps: the calling thread's slot; maps of maps: the inner
    /// Map*), which stays readable until the invocation returns: eBPF for Windows' bpf_map_lookup_and_delete_elem,
    /// atomic where a lookup followed by an erase is not. nullptr when absent and for kinds whose entries cannot be
    /// deleted (arrays) or have no values (queues and stacks: pop).
    [[nodiscard]] virtual void* detach(const void* key) noexcept;
    /// Queue and stack. bpf_exist overwrites the oldest element when full; otherwise -E2BIG when full.
    virtual long push(const void* value, std::uint64_t flags) noexcept;
    virtual long pop(void* value_out) noexcept;
    virtual long peek(void* value_out) noexcept;

    // Host side: copies, with every size checked. Per-CPU maps exchange host_value_size() bytes (all slots).

    /// Copies the value for `key` into `value`; false when there is none. Queue and stack: peek (empty key). LPM
    /// trie: the longest matching prefix, as Linux's syscall does.
    [[nodiscard]] virtual Result<bool> host_lookup(std::span<const std::uint8_t> key,
                                                   std::span<std::uint8_t> value) const;
    /// Creates or replaces (bpf_any, bpf_noexist, bpf_exist). Queue and stack: push (empty key).
    [[nodiscard]] virtual Result<void> host_update(std::span<const std::uint8_t> key,
                                                   std::span<const std::uint8_t> value, std::uint64_t flags);
    /// Deletes `key`; false when there was none.
    [[nodiscard]] virtual Result<bool> host_erase(std::span<const std::uint8_t> key);
    /// Copies and deletes in one step; false when there was nothing. Queue and stack: pop (empty key).
    [[nodiscard]] virtual Result<bool> host_lookup_and_erase(std::span<const std::uint8_t> key,
                                                             std::span<std::uint8_t> value);
    /// The key after `key_or_empty` (the first key when it is empty or not in the map, as Linux does); false at the
    /// end. The order is the map's own (bucket order for hashes, postorder for the LPM trie).
    [[nodiscard]] virtual Result<bool> next_key(std::span<const std::uint8_t> key_or_empty,
                                                std::span<std::uint8_t> next_out) const;

    /// The entries in the map, for the kinds that count them (max_entries for arrays); nullopt otherwise.
    [[nodiscard]] virtual std::optional<std::size_t> entry_count() const noexcept;
    /// The bytes this map allocated for its storage (not counting the object itself).
    [[nodiscard]] virtual std::size_t memory_size() const noexcept;
    /// For a plain array (not per-CPU): where its values lie, so that compiled code may compute a program's lookups
    /// itself (exec::OptimizerOptions::arrays). Valid while the map lives. nullopt for every other kind.
    [[nodiscard]] virtual std::optional<exec::InlineArray> inline_array() const noexcept;

    /// Freezes an array map's values, as `BPF_MAP_FREEZE` does `.rodata` after load: from then on every update, by
    /// the host or a program, is refused (the verifier reads numbers and strings from the frozen value), and no map
    /// of maps takes it as an inner map (its programs could store through the values' pointers). Other kinds refuse
    /// to be frozen. Irreversible; freeze a map before anything else can hold it.
    [[nodiscard]] virtual Result<void> freeze();
    [[nodiscard]] bool frozen() const noexcept { return m_frozen.load(std::memory_order_acquire); }

  protected:
    explicit Map(MapConfig config) noexcept;

    /// "map NAME" for messages.
    [[nodiscard]] std::string label() const;
    [[nodiscard]] Result<void> check_key(std::span<const std::uint8_t> key) const;
    [[nodiscard]] Result<void> check_value(std::size_t size) const;
    [[nodiscard]] Error unsupported(std::string_view operation) const;
    /// An error for a negative errno returned by an update.
    [[nodiscard]] Error update_error(long err, std::uint64_t flags) const;
    /// The calling thread's slot among this map's slots.
    [[nodiscard]] std::uint32_t program_slot() const noexcept {
        const std::uint32_t slot = current_slot();
        return slot < m_config.slots ? slot : slot % m_config.slots;
    }

    std::atomic<bool> m_frozen{false};

  private:
    MapConfig m_config;
    std::uint32_t m_id = 0;
};

/// Creates a map of any kind. Errors name the map and the rule it broke.
[[nodiscard]] Result<std::shared_ptr<Map>> create_map(const MapConfig& config);

/// hash_of_maps and array_of_maps: entries are maps of the shape config().inner, set by the host. A program lookup
/// returns the inner Map* (valid until the invocation returns, even if the host replaces the entry meanwhile).
class MapOfMaps : public Map {
  public:
    [[nodiscard]] const MapConfig& inner_shape() const noexcept { return *config().inner; }
    /// Checks that `inner` has the inner shape: kind, key and value sizes, flags, and max_entries unless the shape has
    /// bpf_f_inner_map.
    [[nodiscard]] Result<void> check_inner(const Map& inner) const;
    /// Sets the entry for `key` (array_of_maps: a 4-byte index; flags must be bpf_any, as on Linux).
    [[nodiscard]] virtual Result<void> set_inner(std::span<const std::uint8_t> key, std::shared_ptr<Map> inner,
                                                 std::uint64_t flags = bpf_any) = 0;
    /// The entry for `key`, or nullptr.
    [[nodiscard]] virtual Result<std::shared_ptr<Map>> inner_map(std::span<const std::uint8_t> key) const = 0;

  protected:
    using Map::Map;
};

/// prog_array: the programs of tail calls, set by the host. Programs cannot read it (lookup returns nullptr); the
/// tail-call helper uses program_at(). Entries hold the programs alive; a program that owns this map and sits in it
/// forms a cycle, which Linux breaks by clearing the array when user space lets go of it: the owner of the programs
/// calls clear() when it tears them down.
class ProgramArrayMap final : public Map {
  public:
    [[nodiscard]] static Result<std::shared_ptr<ProgramArrayMap>> create(const MapConfig& config);
    ~ProgramArrayMap() override;

    /// Fixes the program type the array serves, as Linux fixes a program array's owner type: the first call (at the
    /// load of a program that tail-calls through the array, or the first typed set_program) sets it; later calls
    /// refuse a type of another name, context layout, data-range limit or return range. A tail call keeps the caller's
    /// context, so a program of another type would read and write it with another layout (a socket filter writing
    /// __sk_buff::cb past the end of an xdp_md).
    [[nodiscard]] Result<void> bind_program_type(const platform::ProgramType& type);
    /// Sets (or, with nullptr, clears) entry `index`. With `type` (what the public API always passes), a program of
    /// another type than the array's is refused; without it the caller vouches for the program's type.
    [[nodiscard]] Result<void> set_program(std::uint32_t index, std::shared_ptr<const Invocable> program,
                                           const platform::ProgramType* type = nullptr);
    /// The program at `index`, or nullptr: valid until the calling invocation returns (call inside an EpochGuard).
    [[nodiscard]] const Invocable* program_at(std::uint32_t index) const noexcept {
        if (index >= config().max_entries) {
            return nullptr;
        }
        const Entry* entry = m_entries[index].load(std::memory_order_seq_cst);
        return entry != nullptr ? entry->program.get() : nullptr;
    }
    /// The program at `index` for the host, or nullptr.
    [[nodiscard]] std::shared_ptr<const Invocable> program(std::uint32_t index) const;
    /// Clears every entry.
    void clear() noexcept;

    long update(const void* key, const void* value, std::uint64_t flags) noexcept override;
    long erase(const void* key) noexcept override;
    [[nodiscard]] Result<bool> host_lookup(std::span<const std::uint8_t> key,
                                           std::span<std::uint8_t> value) const override;
    [[nodiscard]] Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                                           std::uint64_t flags) override;
    [[nodiscard]] Result<bool> host_erase(std::span<const std::uint8_t> key) override;
    [[nodiscard]] Result<bool> next_key(std::span<const std::uint8_t> key_or_empty,
                                        std::span<std::uint8_t> next_out) const override;
    [[nodiscard]] std::optional<std::size_t> entry_count() const noexcept override;
    [[nodiscard]] std::size_t memory_size() const noexcept override;

  private:
    struct Entry {
        Retired retired; // first: the reclaimer gets back to the entry from it
        std::shared_ptr<const Invocable> program;
    };
    explicit ProgramArrayMap(MapConfig config) noexcept;
    static void reclaim(Retired* node) noexcept;
    bool clear_entry(std::uint32_t index) noexcept;

    std::unique_ptr<std::atomic<Entry*>[]> m_entries;
    std::mutex m_owner_mutex;
    std::optional<platform::ProgramType> m_owner; // name and context only; under m_owner_mutex
};

} // namespace embpf::runtime
