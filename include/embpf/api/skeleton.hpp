// GlobalData<T> and the section copies that generated skeletons (`embpf gen skeleton`) build on: a global-data section
// (`.data`, `.bss`, `.rodata`, `.data.*`, ...) handled as one struct T with the section's layout, before the load (its
// initial value in the ObjectSpec) and after it (the section's map, as programs see it).
//
//     Config config{};
//     if (auto read = embpf::read_section(spec, ".rodata", config); !read) { ... }
//     config.threshold = 10;
//     if (auto written = embpf::write_section(spec, ".rodata", config); !written) { ... }
//     auto object = embpf::Object::load(spec);
//     auto bss = embpf::global_data<Counters>(*object, ".bss");
//     Counters now = bss->read();
//
// T must be trivially copyable and exactly the section's size: a skeleton generates it from the object's variables,
// with explicit padding for bytes no named variable covers, so that writing T back leaves those bytes as they were.
#pragma once

#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/result.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace embpf {

namespace detail {

/// The spec's global-data map `section` when it holds exactly a T, or why not.
template <typename T>
[[nodiscard]] Result<const MapSpec*> section_spec(const ObjectSpec& spec, std::string_view section) {
    static_assert(std::is_trivially_copyable_v<T>, "a global-data section is copied as bytes");
    const MapSpec* map = spec.map(section);
    if (map == nullptr || map->origin != elf::MapOrigin::global_data) {
        return Error::invalid("the object has no global-data section " + std::string(section));
    }
    if (map->initial_value.size() != sizeof(T)) {
        return Error::invalid("section " + std::string(section) + " is " + std::to_string(map->initial_value.size()) +
                              " bytes, but its type is " + std::to_string(sizeof(T)));
    }
    return map;
}

} // namespace detail

/// Copies the initial value of global-data section `section` of `spec` into `value`.
template <typename T>
[[nodiscard]] Result<void> read_section(const ObjectSpec& spec, std::string_view section, T& value) {
    auto map = detail::section_spec<T>(spec, section);
    if (!map) {
        return std::move(map).error();
    }
    std::memcpy(std::addressof(value), (*map)->initial_value.data(), sizeof(T));
    return {};
}

/// Makes `value` the initial value of global-data section `section` of `spec`: what Object::load stores in the
/// section's map (and, for a read-only section, what the verifier takes as the object's constants).
template <typename T>
[[nodiscard]] Result<void> write_section(ObjectSpec& spec, std::string_view section, const T& value) {
    auto map = detail::section_spec<T>(spec, section);
    if (!map) {
        return std::move(map).error();
    }
    // section_spec found it among the spec's maps, which this function may edit.
    std::memcpy(spec.map(section)->initial_value.data(), std::addressof(value), sizeof(T));
    return {};
}

/// A global-data section of a loaded object read and written as a T. A handle, as Map<K, V>: copies share the
/// section, which lives while any handle or program holds it.
template <typename T>
class GlobalData {
  public:
    /// Binds the map of a global-data section (an array of one element, the whole section) that holds exactly a T.
    [[nodiscard]] static Result<GlobalData> bind(MapHandle handle) {
        if (handle.kind() != platform::MapKind::array || handle.max_entries() != 1) {
            return Error::invalid("map " + handle.name() + " is not a global-data section");
        }
        auto map = Map<std::uint32_t, T>::bind(std::move(handle));
        if (!map) {
            return std::move(map).error();
        }
        return GlobalData(std::move(map).value());
    }

    [[nodiscard]] const MapHandle& handle() const noexcept { return m_map.handle(); }
    /// The section's name: ".data", ".bss", ".rodata", ...
    [[nodiscard]] const std::string& name() const noexcept { return m_map.name(); }
    /// `.rodata` sections are frozen at load: read() works, write() fails.
    [[nodiscard]] bool read_only() const noexcept { return m_map.handle().frozen(); }

    /// The section's variables as they are now. Programs running meanwhile may change them: each variable comes
    /// whole from one moment only when programs write it whole (a plain or atomic store of its size).
    [[nodiscard]] T read() const {
        // The binding checked the sizes, and an array of one element always has element 0.
        return m_map.lookup(0).value_or(T{});
    }

    /// Replaces every variable of the section with `value`'s. A program that writes a variable between the host's
    /// read() and write() loses that write: give variables that programs change a map of their own, or write while
    /// no program runs. An error for a read-only section.
    [[nodiscard]] Result<void> write(const T& value) {
        if (read_only()) {
            return Error::invalid("section " + name() +
                                  " is read-only after the load: set it before (the skeleton's "
                                  "Spec, or write_section)");
        }
        return m_map.update(0, value);
    }

  private:
    explicit GlobalData(Map<std::uint32_t, T> map) noexcept : m_map(std::move(map)) {}

    Map<std::uint32_t, T> m_map;
};

/// The global-data section `section` of `object` bound as a GlobalData<T>.
template <typename T>
[[nodiscard]] Result<GlobalData<T>> global_data(const Object& object, std::string_view section) {
    auto handle = object.map(section);
    if (!handle) {
        return std::move(handle).error();
    }
    return GlobalData<T>::bind(std::move(handle).value());
}

} // namespace embpf
