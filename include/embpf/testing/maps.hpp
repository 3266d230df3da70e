// Map fixtures for tests: a map filled with known entries before a run, and its entries read back after.
#pragma once

#include "embpf/api/map.hpp"
#include "embpf/result.hpp"

#include <initializer_list>
#include <span>
#include <utility>
#include <vector>

namespace embpf::testing {

/// Writes each (key, value) into `map` (per-CPU maps: the value into every slot), in order; stops at the first
/// update the map refuses and returns its error, the key's position in the list named.
template <typename K, typename V>
[[nodiscard]] Result<void> fill(Map<K, V>& map, std::span<const std::pair<K, typename Map<K, V>::slot_type>> entries) {
    std::size_t position = 0;
    for (const auto& [key, value] : entries) {
        if (auto done = map.update(key, value); !done) {
            Error error = std::move(done).error();
            error.message =
                "entry " + std::to_string(position) + " of the fixture for map " + map.name() + ": " + error.message;
            return error;
        }
        ++position;
    }
    return {};
}
template <typename K, typename V>
[[nodiscard]] Result<void> fill(Map<K, V>& map,
                                std::initializer_list<std::pair<K, typename Map<K, V>::slot_type>> entries) {
    return fill(map, std::span<const std::pair<K, typename Map<K, V>::slot_type>>(entries.begin(), entries.size()));
}

/// Every (key, value) of `map`, in its iteration order (per-CPU maps: every slot's value).
template <typename K, typename V>
[[nodiscard]] std::vector<typename Map<K, V>::value_type> contents(const Map<K, V>& map) {
    std::vector<typename Map<K, V>::value_type> out;
    for (const auto& entry : map) {
        out.push_back(entry);
    }
    return out;
}

/// Deletes every entry of a map that deletes (hash and LRU maps); array maps, which keep their entries, get zeroed
/// values. The first error the map gives is returned.
template <typename K, typename V>
[[nodiscard]] Result<void> clear(Map<K, V>& map) {
    std::vector<K> keys;
    for (const auto& entry : map) {
        keys.push_back(entry.first);
    }
    const platform::MapKind kind = map.handle().kind();
    const bool array = kind == platform::MapKind::array || kind == platform::MapKind::percpu_array;
    for (const K& key : keys) {
        if (array) {
            if (auto done = map.update(key, typename Map<K, V>::slot_type{}); !done) {
                return done;
            }
        } else if (auto done = map.erase(key); !done) {
            return std::move(done).error();
        }
    }
    return {};
}

} // namespace embpf::testing
