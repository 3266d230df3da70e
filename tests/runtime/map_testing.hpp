// Shared by the runtime tests: building maps and viewing values as bytes.
#pragma once

#include "embpf/runtime/map.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace runtime_test {

using embpf::platform::MapKind;
using embpf::runtime::Map;
using embpf::runtime::MapConfig;

inline MapConfig shape(MapKind kind, std::uint32_t key_size, std::uint32_t value_size, std::uint32_t max_entries,
                       std::uint32_t flags = 0, std::string name = "m") {
    MapConfig config;
    config.name = std::move(name);
    config.kind = kind;
    config.key_size = key_size;
    config.value_size = value_size;
    config.max_entries = max_entries;
    config.flags = flags;
    return config;
}

inline std::shared_ptr<Map> make(const MapConfig& config) {
    auto map = embpf::runtime::create_map(config);
    if (!map) {
        FAIL("create_map failed: " << map.error().message);
    }
    return std::move(map).value();
}

template <typename T>
std::shared_ptr<T> make_as(const MapConfig& config) {
    auto map = std::dynamic_pointer_cast<T>(make(config));
    REQUIRE(map != nullptr);
    return map;
}

template <typename T>
std::span<const std::uint8_t> bytes(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)};
}

template <typename T>
std::span<std::uint8_t> writable(T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return {reinterpret_cast<std::uint8_t*>(&value), sizeof(T)};
}

/// host_lookup of a u32 -> T map: the value, or nullopt.
template <typename T, typename K>
std::optional<T> host_get(const Map& map, const K& key) {
    T value{};
    auto found = map.host_lookup(bytes(key), writable(value));
    REQUIRE_MESSAGE(found.has_value(), (found ? std::string() : found.error().message));
    if (!*found) {
        return std::nullopt;
    }
    return value;
}

/// Every key of a map, by next_key from the start.
template <typename K>
std::vector<K> all_keys(const Map& map) {
    std::vector<K> keys;
    K key{};
    auto next = map.next_key({}, writable(key));
    REQUIRE(next.has_value());
    while (*next) {
        keys.push_back(key);
        REQUIRE(keys.size() <= 10'000'000);
        K current = key;
        next = map.next_key(bytes(current), writable(key));
        REQUIRE(next.has_value());
    }
    return keys;
}

/// How many keys next_key visits, with keys of the map's own size.
inline std::size_t count_keys(const Map& map) {
    std::vector<std::uint8_t> key(map.config().key_size);
    std::vector<std::uint8_t> next(map.config().key_size);
    std::size_t count = 0;
    auto more = map.next_key({}, next);
    REQUIRE(more.has_value());
    while (*more) {
        ++count;
        REQUIRE(count <= 10'000'000);
        key = next;
        more = map.next_key(key, next);
        REQUIRE(more.has_value());
    }
    return count;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace runtime_test
