// ObjectSpec: a parsed eBPF object, editable before it is loaded.
#pragma once

#include "embpf/elf/object_file.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"
#include "embpf/verifier/verifier.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace embpf {

/// A map as the object defines it. Edit it (max_entries, map_flags) before loading.
using MapSpec = elf::MapDefinition;

/// A program as the object defines it, with the program type chosen for it.
struct ProgramSpec {
    /// The program type's name on the spec's platform, guessed from the section name; empty when no type
    /// matches the section. Set it to load the program as another type.
    std::string type;
    elf::ProgramDefinition definition;

    [[nodiscard]] const std::string& name() const noexcept { return definition.name; }
    [[nodiscard]] const std::string& section() const noexcept { return definition.section; }
    [[nodiscard]] const std::vector<isa::Instruction>& instructions() const noexcept { return definition.instructions; }
};

/// Which platform an object was built for, and why that one was chosen.
struct PlatformChoice {
    const platform::Platform* platform = nullptr;
    std::string reason;
};

/// The parsed object: programs, map specs and global variables, editable until Object::load.
class ObjectSpec {
  public:
    /// Reads an object file. Without a platform, eBPF for Windows' `.ebpf_for_windows` tag selects
    /// platform::windows() and its absence platform::linux(); platform_choice() says which and why.
    [[nodiscard]] static Result<ObjectSpec> open(const std::filesystem::path& path,
                                                 const platform::Platform* platform = nullptr);
    [[nodiscard]] static Result<ObjectSpec> open(std::span<const std::uint8_t> bytes,
                                                 const platform::Platform* platform = nullptr);

    [[nodiscard]] const PlatformChoice& platform_choice() const noexcept { return m_platform; }
    [[nodiscard]] const platform::Platform& platform() const noexcept { return *m_platform.platform; }

    [[nodiscard]] std::vector<ProgramSpec>& programs() noexcept { return m_programs; }
    [[nodiscard]] const std::vector<ProgramSpec>& programs() const noexcept { return m_programs; }
    [[nodiscard]] std::vector<MapSpec>& maps() noexcept { return m_file.maps; }
    [[nodiscard]] const std::vector<MapSpec>& maps() const noexcept { return m_file.maps; }
    [[nodiscard]] const std::vector<elf::Variable>& variables() const noexcept { return m_file.variables; }
    /// The `.kconfig` externs, and the index of the map that holds them (nullopt when the object has none).
    [[nodiscard]] const std::vector<elf::KconfigExtern>& kconfig() const noexcept { return m_file.kconfig; }
    [[nodiscard]] std::optional<std::size_t> kconfig_map() const noexcept { return m_file.kconfig_map; }
    /// The value of the `.kconfig` map on `platform`: each extern's value from Platform::kconfig(), read into the
    /// extern's type as libbpf reads a kernel configuration, zero for a `__weak` extern the platform lacks. Fails,
    /// naming the extern, for a missing value of an extern that is not `__weak` and for a value its type cannot
    /// hold. Object::load fills the map with it, and the verifier reads the externs as these constants.
    [[nodiscard]] Result<std::vector<std::uint8_t>> kconfig_value(const platform::Platform& platform) const;
    /// What the verifier knows of the maps on `platform` (verifier::describe_maps), the `.kconfig` map holding
    /// kconfig_value(): what Object::load verifies with, for tools that verify an object without loading it.
    [[nodiscard]] Result<std::vector<verifier::MapDescriptor>>
    map_descriptors(const platform::Platform& platform) const;
    [[nodiscard]] const std::string& license() const noexcept { return m_file.license; }
    [[nodiscard]] const std::shared_ptr<const btf::Types>& btf() const noexcept { return m_file.btf; }

    /// The program, map or variable with this name, or nullptr.
    [[nodiscard]] ProgramSpec* program(std::string_view name) noexcept;
    [[nodiscard]] const ProgramSpec* program(std::string_view name) const noexcept;
    [[nodiscard]] MapSpec* map(std::string_view name) noexcept;
    [[nodiscard]] const MapSpec* map(std::string_view name) const noexcept;
    [[nodiscard]] const elf::Variable* variable(std::string_view name) const noexcept;

    /// Sets the initial value of a global variable (`.rodata`, `.data`, `.bss`) by name. The size of T must be the
    /// variable's size, and its BTF type's size when the object has BTF.
    template <typename T>
    [[nodiscard]] Result<void> set_global(std::string_view name, const T& value) {
        static_assert(std::is_trivially_copyable_v<T>, "a global variable is set from its bytes");
        std::uint8_t bytes[sizeof(T)];
        std::memcpy(bytes, &value, sizeof(T));
        return set_global_bytes(name, bytes);
    }
    [[nodiscard]] Result<void> set_global_bytes(std::string_view name, std::span<const std::uint8_t> bytes);

    /// Chooses the platform again (the types of programs whose type no longer exists are guessed anew).
    void set_platform(const platform::Platform& platform, std::string reason);

    /// SHA-256 of the object file's bytes, as 64 hex digits: what code compiled ahead of time from it carries
    /// (embpf_aot_module::object_hash), so that a load of another object refuses it.
    [[nodiscard]] const std::string& hash() const noexcept { return m_hash; }

  private:
    static Result<ObjectSpec> from_file(Result<elf::ObjectFile> file, const platform::Platform* platform);

    elf::ObjectFile m_file;
    std::vector<ProgramSpec> m_programs;
    PlatformChoice m_platform;
    std::string m_hash;
};

} // namespace embpf
