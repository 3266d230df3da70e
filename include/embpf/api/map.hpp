// Map<K, V>: a typed view of a map of a loaded object, bound by name and checked once.
//
//     auto procs = object.map<std::uint32_t, ProcessInfo>("proc_map");   // Result<Map<...>>
//     if (auto info = procs->lookup(pid)) { ... info->count ... }
//     for (auto [pid, info] : *procs) { ... }
//
// Three shapes, chosen by the type arguments:
// - Map<K, V>: hash, array, lru_hash and lpm_trie maps; lookup() gives a V.
// - Map<K, PerCpu<V>>: percpu_hash, percpu_array and lru_percpu_hash maps; V is one slot's value and lookup() gives
//   every slot's value, as the host reads them on Linux.
// - Map<void, V>: queue and stack maps, which have no keys: push(), pop(), peek().
// Maps whose values are not plain data (maps of maps, program arrays) and event maps (ring buffers: RingBuffer<T> in
// api/ring_buffer.hpp; perf event arrays) do not bind.
//
// Binding checks the map's kind and its key and value sizes against sizeof(K) and sizeof(V), and against the sizes of
// the map's BTF key and value types when the object has them. After that no call can hit a size error: lookup(),
// pop() and peek() return a plain std::optional, and only the calls the map can refuse for other reasons (full, key
// exists, key missing, read-only) return a Result. The runtime checks every size again underneath, so even a facade
// bug cannot read or write past a value.
//
// Keys and values cross as their bytes (K and V must be trivially copyable). Padding inside K is part of the key, as
// for programs: value-initialize keys with padding (`Key key{};`) before setting their fields.
//
// A Map is a handle: copies share the map, and the map lives while any handle or program holds it, also after the
// Object is gone. Every call is safe while programs and other threads use the map.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"
#include "embpf/runtime/map.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace embpf {

/// How update() and push() treat an existing entry: BPF_ANY, BPF_NOEXIST and BPF_EXIST.
enum class UpdateFlags : std::uint64_t {
    any = runtime::bpf_any,         ///< create or replace; push: fail when full
    noexist = runtime::bpf_noexist, ///< create only: an error when the key exists (arrays: always an error)
    exist = runtime::bpf_exist,     ///< replace only: an error when the key is missing; push: overwrite the oldest
};

/// The value type of a per-CPU map: Map<K, PerCpu<V>> holds one V per execution slot. A tag, never a value.
template <typename V>
struct PerCpu {
    using value_type = V;
};

namespace detail {

template <typename V>
struct PerCpuTraits {
    static constexpr bool per_cpu = false;
    using slot_type = V;
    using mapped_type = V;
};

template <typename V>
struct PerCpuTraits<PerCpu<V>> {
    static constexpr bool per_cpu = true;
    using slot_type = V;
    using mapped_type = std::vector<V>;
};

/// The bytes of an object, as the runtime exchanges them.
template <typename T>
[[nodiscard]] std::span<const std::uint8_t, sizeof(T)> bytes_of(const T& value) noexcept {
    return std::span<const std::uint8_t, sizeof(T)>(reinterpret_cast<const std::uint8_t*>(std::addressof(value)),
                                                    sizeof(T));
}

/// A T copied out of bytes that may be misaligned for it.
template <typename T>
[[nodiscard]] T load_from(const std::uint8_t* bytes) noexcept {
    std::array<std::uint8_t, sizeof(T)> copy;
    std::memcpy(copy.data(), bytes, sizeof(T));
    return std::bit_cast<T>(copy);
}

/// What a typed facade needs from the map it binds.
enum class MapShape { keyed, per_cpu, queue_or_stack };

[[nodiscard]] inline bool binds_as(platform::MapKind kind, MapShape shape) noexcept {
    using platform::MapKind;
    switch (shape) {
    case MapShape::keyed:
        return kind == MapKind::hash || kind == MapKind::array || kind == MapKind::lru_hash ||
               kind == MapKind::lpm_trie;
    case MapShape::per_cpu:
        return kind == MapKind::percpu_hash || kind == MapKind::percpu_array || kind == MapKind::lru_percpu_hash;
    case MapShape::queue_or_stack: return kind == MapKind::queue || kind == MapKind::stack;
    }
    return false;
}

/// Checks a map against the facade binding it: kind, then sizes, then BTF sizes. Errors name the map and both sizes.
[[nodiscard]] inline Result<void> check_map_binding(const MapHandle& handle, MapShape shape, std::size_t key_size,
                                                    std::size_t value_size) {
    using platform::MapKind;
    const std::string what = std::string("map ") + handle.name();
    const MapKind kind = handle.kind();
    if (!binds_as(kind, shape)) {
        std::string message = what + " is a " + std::string(platform::to_string(kind)) + " map; ";
        if (binds_as(kind, MapShape::keyed)) {
            message += "bind it as Map<K, V>";
        } else if (binds_as(kind, MapShape::per_cpu)) {
            message += "bind it as Map<K, PerCpu<V>>, whose lookup returns every slot's value";
        } else if (binds_as(kind, MapShape::queue_or_stack)) {
            message += "bind it as Map<void, V>, which has push, pop and peek";
        } else if (kind == MapKind::ringbuf) {
            message += "bind it with Object::ring_buffer<T>";
        } else if (kind == MapKind::bloom_filter) {
            message += "a bloom filter has no elements to read: its runtime map's host_update adds a value, "
                       "host_lookup tests one";
        } else {
            message += "its values are not plain data, use its MapHandle and runtime map";
        }
        return Error::invalid(std::move(message));
    }
    const auto mismatch = [&](const std::string& part, std::uint64_t map_size, std::string_view type,
                              std::size_t type_size) {
        return Error::invalid(what + ": " + part + " " + std::to_string(map_size) + " bytes, but " + std::string(type) +
                              " is " + std::to_string(type_size) + " bytes");
    };
    const std::string values = shape == MapShape::per_cpu ? "its values (per slot) are" : "its values are";
    if (handle.key_size() != key_size) {
        return mismatch("its keys are", handle.key_size(), "K", key_size);
    }
    if (handle.value_size() != value_size) {
        return mismatch(values, handle.value_size(), "V", value_size);
    }
    if (auto btf = handle.key_btf_size(); btf && *btf != key_size) {
        return mismatch(std::string("its BTF key type ") + handle.key_type_name() + " is", *btf, "K", key_size);
    }
    if (auto btf = handle.value_btf_size(); btf && *btf != value_size) {
        return mismatch(std::string("its BTF value type ") + handle.value_type_name() + " is", *btf, "V", value_size);
    }
    return {};
}

} // namespace detail

/// A keyed map: Map<K, V> for hash, array, lru_hash and lpm_trie maps, Map<K, PerCpu<V>> for the per-CPU kinds.
template <typename K, typename V>
class Map {
    using Traits = detail::PerCpuTraits<V>;

  public:
    using key_type = K;
    /// One slot's value: V, or for Map<K, PerCpu<S>> the S of each slot.
    using slot_type = typename Traits::slot_type;
    /// What a lookup gives: V, or for per-CPU maps std::vector<S> with one value per slot.
    using mapped_type = typename Traits::mapped_type;
    using value_type = std::pair<K, mapped_type>;
    static constexpr bool per_cpu = Traits::per_cpu;

    static_assert(std::is_trivially_copyable_v<K> && !std::is_reference_v<K>,
                  "Map<K, V>: K must be trivially copyable, keys are exchanged with the map as bytes");
    static_assert(std::is_trivially_copyable_v<slot_type> && !std::is_reference_v<slot_type>,
                  "Map<K, V>: V must be trivially copyable, values are exchanged with the map as bytes");

    /// Binds `handle`; an error when its kind or sizes do not fit (Object::map<K, V> calls this).
    [[nodiscard]] static Result<Map> bind(MapHandle handle) {
        auto checked = detail::check_map_binding(handle, per_cpu ? detail::MapShape::per_cpu : detail::MapShape::keyed,
                                                 sizeof(K), sizeof(slot_type));
        if (!checked) {
            return std::move(checked).error();
        }
        return Map(std::move(handle));
    }

    [[nodiscard]] const MapHandle& handle() const noexcept { return m_handle; }
    [[nodiscard]] const std::string& name() const noexcept { return m_handle.name(); }
    [[nodiscard]] std::uint32_t max_entries() const noexcept { return m_handle.max_entries(); }
    /// Per-CPU maps: the number of slots, the length of every lookup's vector.
    [[nodiscard]] std::uint32_t slots() const noexcept requires per_cpu { return map().config().slots; }

    /// The value for `key` (per-CPU maps: every slot's value, in slot order), nullopt when there is none. An LPM
    /// trie gives the value of the longest matching prefix.
    [[nodiscard]] std::optional<mapped_type> lookup(const K& key) const { return read(map(), detail::bytes_of(key)); }

    /// Creates or replaces the entry of `key` as `flags` says. Per-CPU maps: every slot gets `value`.
    [[nodiscard]] Result<void> update(const K& key, const slot_type& value, UpdateFlags flags = UpdateFlags::any) {
        if constexpr (per_cpu) {
            std::vector<std::uint8_t> bytes(map().host_value_size());
            const std::size_t stride = bytes.size() / slots();
            for (std::size_t offset = 0; offset < bytes.size(); offset += stride) {
                std::memcpy(bytes.data() + offset, std::addressof(value), sizeof(slot_type));
            }
            return m_handle.update(detail::bytes_of(key), bytes, static_cast<std::uint64_t>(flags));
        } else {
            return m_handle.update(detail::bytes_of(key), detail::bytes_of(value), static_cast<std::uint64_t>(flags));
        }
    }
    /// Per-CPU maps: sets each slot's value; `values` has one per slot (slots()).
    [[nodiscard]] Result<void> update(const K& key, std::span<const slot_type> values,
                                      UpdateFlags flags = UpdateFlags::any) requires per_cpu {
        if (values.size() != slots()) {
            return Error::invalid(std::string("map ") + name() + ": " + std::to_string(values.size()) + " values for " +
                                  std::to_string(slots()) + " slots");
        }
        std::vector<std::uint8_t> bytes(map().host_value_size());
        const std::size_t stride = bytes.size() / values.size();
        for (std::size_t slot = 0; slot < values.size(); ++slot) {
            std::memcpy(bytes.data() + slot * stride, std::addressof(values[slot]), sizeof(slot_type));
        }
        return m_handle.update(detail::bytes_of(key), bytes, static_cast<std::uint64_t>(flags));
    }

    /// Deletes the entry of `key`; false when there was none. Array elements cannot be deleted (an error, as on Linux).
    [[nodiscard]] Result<bool> erase(const K& key) { return m_handle.erase(detail::bytes_of(key)); }

    /// The number of entries; for arrays always max_entries (their elements always exist).
    [[nodiscard]] std::size_t size() const noexcept { return map().entry_count().value_or(0); }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }

    /// Iterates over (key, value) pairs in the map's own order, by next_key as Linux's host side does: each step
    /// copies the next key and then its value. Other threads and programs may change the map meanwhile; that is never
    /// undefined behaviour, and as on Linux an iteration may then miss entries added or deleted during it, and repeat
    /// entries when the key it stands on is deleted (next_key starts over from the first key). An entry deleted
    /// between its key and its value is skipped. One pass visits at most max_entries keys, so it always ends.
    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = Map::value_type;
        using difference_type = std::ptrdiff_t;
        using reference = const value_type&;
        using pointer = const value_type*;

        iterator() = default;

        reference operator*() const noexcept { return *m_current; }
        pointer operator->() const noexcept { return std::addressof(*m_current); }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.m_current; }

      private:
        friend class Map;
        explicit iterator(const runtime::Map* map) : m_map(map), m_budget(map->config().max_entries) { advance(); }

        void advance() {
            m_current.reset();
            std::array<std::uint8_t, sizeof(K)> next;
            while (m_budget > 0) {
                --m_budget;
                auto more = m_map->next_key(
                    m_started ? std::span<const std::uint8_t>(m_last) : std::span<const std::uint8_t>(), next);
                if (!more || !*more) {
                    break; // the binding rules out errors; if one came anyway, the iteration ends
                }
                m_last = next;
                m_started = true;
                if (auto value = read(*m_map, m_last)) {
                    m_current.emplace(std::bit_cast<K>(m_last), std::move(*value));
                    return;
                }
            }
            m_budget = 0;
        }

        const runtime::Map* m_map = nullptr;
        std::size_t m_budget = 0;
        bool m_started = false;
        std::array<std::uint8_t, sizeof(K)> m_last{};
        std::optional<value_type> m_current;
    };

    [[nodiscard]] iterator begin() const { return iterator(&map()); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

  private:
    explicit Map(MapHandle handle) noexcept : m_handle(std::move(handle)) {}

    [[nodiscard]] const runtime::Map& map() const noexcept { return *m_handle.runtime_map(); }

    [[nodiscard]] static std::optional<mapped_type> read(const runtime::Map& map, std::span<const std::uint8_t> key) {
        if constexpr (per_cpu) {
            std::vector<std::uint8_t> bytes(map.host_value_size());
            auto found = map.host_lookup(key, bytes);
            if (!found || !*found) {
                return std::nullopt;
            }
            const std::uint32_t slots = map.config().slots;
            const std::size_t stride = bytes.size() / slots;
            mapped_type values;
            values.reserve(slots);
            for (std::size_t slot = 0; slot < slots; ++slot) {
                values.push_back(detail::load_from<slot_type>(bytes.data() + slot * stride));
            }
            return values;
        } else {
            std::array<std::uint8_t, sizeof(V)> bytes;
            auto found = map.host_lookup(key, bytes);
            if (!found || !*found) {
                return std::nullopt;
            }
            return std::bit_cast<V>(bytes);
        }
    }

    MapHandle m_handle;
};

/// A queue or stack map: values without keys. pop() and peek() take the oldest value of a queue and the newest of a
/// stack.
template <typename V>
class Map<void, V> {
  public:
    using value_type = V;

    static_assert(!detail::PerCpuTraits<V>::per_cpu, "Map<void, V>: queues and stacks have no per-CPU form");
    static_assert(std::is_trivially_copyable_v<V> && !std::is_reference_v<V>,
                  "Map<void, V>: V must be trivially copyable, values are exchanged with the map as bytes");

    /// Binds `handle`, which must be a queue or a stack of V; an error otherwise (Object::map<void, V> calls this).
    [[nodiscard]] static Result<Map> bind(MapHandle handle) {
        auto checked = detail::check_map_binding(handle, detail::MapShape::queue_or_stack, 0, sizeof(V));
        if (!checked) {
            return std::move(checked).error();
        }
        return Map(std::move(handle));
    }

    [[nodiscard]] const MapHandle& handle() const noexcept { return m_handle; }
    [[nodiscard]] const std::string& name() const noexcept { return m_handle.name(); }
    [[nodiscard]] std::uint32_t max_entries() const noexcept { return m_handle.max_entries(); }

    /// Adds `value`. When the map is full: an error with UpdateFlags::any, and with UpdateFlags::exist the oldest
    /// value makes room (as on Linux). UpdateFlags::noexist is refused.
    [[nodiscard]] Result<void> push(const V& value, UpdateFlags flags = UpdateFlags::any) {
        return m_handle.update({}, detail::bytes_of(value), static_cast<std::uint64_t>(flags));
    }
    /// Takes the next value out (queue: the oldest, stack: the newest); nullopt when empty.
    [[nodiscard]] std::optional<V> pop() {
        std::array<std::uint8_t, sizeof(V)> bytes;
        return copied(m_handle.runtime_map()->host_lookup_and_erase({}, bytes), bytes);
    }
    /// The value pop() would take, left in place; nullopt when empty.
    [[nodiscard]] std::optional<V> peek() const {
        std::array<std::uint8_t, sizeof(V)> bytes;
        return copied(m_handle.runtime_map()->host_lookup({}, bytes), bytes);
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_handle.runtime_map()->entry_count().value_or(0); }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  private:
    explicit Map(MapHandle handle) noexcept : m_handle(std::move(handle)) {}

    [[nodiscard]] static std::optional<V> copied(const Result<bool>& found,
                                                 const std::array<std::uint8_t, sizeof(V)>& bytes) {
        if (!found || !*found) {
            return std::nullopt; // the binding rules out errors: sizes are right and queues have no other
        }
        return std::bit_cast<V>(bytes);
    }

    MapHandle m_handle;
};

template <typename K, typename V>
Result<Map<K, V>> Object::map(std::string_view name) const {
    auto handle = map(name);
    if (!handle) {
        return std::move(handle).error();
    }
    return Map<K, V>::bind(std::move(handle).value());
}

} // namespace embpf
