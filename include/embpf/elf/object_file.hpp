// What an eBPF ELF object holds, read with libelf: programs linked with their subprograms, map
// definitions, global data, license, BTF and line info. Nothing here depends on a platform: map
// types stay the numbers the object carries until a platform interprets them.
#pragma once

#include "embpf/elf/btf.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace embpf::elf {

/// Where a map definition came from.
enum class MapOrigin : std::uint8_t {
    legacy_windows, ///< `maps` section, eBPF for Windows' ebpf_map_definition_in_file_t (8 x u32)
    legacy_linux,   ///< `maps` section, Linux's struct bpf_map_def (5 x u32)
    btf,            ///< `.maps` section, BTF-defined (`__uint`, `__type`, `__array`)
    global_data,    ///< `.data`, `.bss`, `.rodata*`: a single-entry array holding the section
};

struct MapDefinition {
    std::string name;
    MapOrigin origin = MapOrigin::btf;
    std::uint32_t type = 0; ///< the object's map type number; its meaning belongs to a platform
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    std::uint32_t max_entries = 0;
    std::uint32_t map_flags = 0;
    std::uint64_t map_extra = 0; ///< BTF `.maps`' map_extra (a bloom filter's hash functions); 0 otherwise
    std::uint32_t pinning = 0;
    std::uint32_t id = 0;                 ///< eBPF for Windows' map id (legacy layout)
    std::uint32_t inner_id = 0;           ///< eBPF for Windows' inner map id (legacy layout)
    std::optional<std::size_t> inner_map; ///< index of the inner map's template (map-in-map)
    std::uint32_t key_type_id = 0;        ///< BTF type of the key, 0 when unknown
    std::uint32_t value_type_id = 0;      ///< BTF type of the value, 0 when unknown
    std::string key_type_name;
    std::string value_type_name;
    bool is_inner_template = false;          ///< an `__array(values, ...)` template, not a map of its own
    std::vector<std::uint8_t> initial_value; ///< global data: the section's bytes (zeros for .bss)
    /// Maps of maps and program arrays: the entries their definition initializes (`.values = {[2] = &inner}`).
    struct InitialEntry {
        std::uint32_t index = 0;
        std::optional<std::size_t> map; ///< an inner map, by index into ObjectFile::maps
        std::string program;            ///< or a program, by function name
    };
    std::vector<InitialEntry> initial_entries;
    bool read_only = false; ///< `.rodata*`: frozen after load
    /// Where its value holds a `struct bpf_spin_lock` (BTF): members of the value's struct, or variables of a
    /// global-data section, of that type, by byte offset. Linux allows one at most.
    std::vector<std::uint32_t> spin_locks;
};

/// A named global variable inside a global-data map.
struct Variable {
    std::string name;
    std::size_t map = 0;      ///< index into ObjectFile::maps
    std::uint32_t offset = 0; ///< byte offset inside the map's value
    std::uint32_t size = 0;
    std::uint32_t type_id = 0; ///< BTF type, 0 when unknown
};

/// How a `.kconfig` extern's BTF type reads a kernel configuration value (libbpf's rules).
enum class KconfigKind : std::uint8_t {
    boolean,         ///< `bool`: y or n
    tristate,        ///< `enum libbpf_tristate`: n = 0, y = 1, m = 2
    character,       ///< any 1-byte integer (`char`, `u8`): y, n or m as that letter, or a number
    integer,         ///< an unsigned integer of 1, 2, 4 or 8 bytes
    signed_integer,  ///< a signed one
    character_array, ///< `char[N]`: a quoted string, cut to N - 1 bytes and ended with a zero
};

/// An extern variable of `.kconfig` (`extern unsigned LINUX_KERNEL_VERSION __kconfig;`): a value of the kernel's
/// configuration, which the platform gives at load (platform::Platform::kconfig). The program reads it from the
/// object's `.kconfig` map, a read-only global-data map that is frozen once filled.
struct KconfigExtern {
    std::string name;
    KconfigKind kind = KconfigKind::integer;
    std::uint32_t offset = 0; ///< byte offset inside the `.kconfig` map's value
    std::uint32_t size = 0;
    std::uint32_t type_id = 0; ///< BTF type
    bool weak = false;         ///< `__weak`: zero when the platform has no value, rather than a failed load
};

/// A function appended to a program because the program calls it.
struct Subprogram {
    std::string name;
    std::size_t start = 0; ///< first instruction index in the linked program
    std::size_t length = 0;
};

/// A `lddw` that the loader turned into a map reference (pseudo source map_index or map_value_index).
struct MapReference {
    std::size_t instruction = 0;
    std::size_t map = 0;
    bool value = false;       ///< a pointer into the map's value (global data) rather than the map
    std::uint32_t offset = 0; ///< for value references
};

/// A `lddw` of an extern nothing in the object defines and that is not `__weak` (`extern const void sym __ksym`, or a
/// symbol written in assembly, `r0 = MY_CONST ll`): the host gives its value at load (LoadOptions::externs). Its
/// instruction has source LddwSource::variable until then, and the verifier takes it for any number.
struct ExternReference {
    std::size_t instruction = 0;
    std::string name;
    std::int64_t addend = 0;    ///< added to the value (`&sym + 8`)
    bool kernel_symbol = false; ///< a `__ksym`: the address of something of the host's, read as a host address
};

struct ProgramDefinition {
    std::string name;                           ///< the function's symbol name
    std::string section;                        ///< the ELF section it came from
    std::vector<isa::Instruction> instructions; ///< the function, then its subprograms, calls fixed
    std::vector<Subprogram> subprograms;
    std::vector<MapReference> map_references;
    std::vector<ExternReference> externs;
    /// Instruction indexes relative to `instructions`. Line records are a debugging aid: the programs of one object
    /// get at most 2^20 of them and 64 MiB of their text (file names and source lines) together, each program those
    /// of the functions it links; past that, no more are copied (a program may get some of its lines, later programs
    /// none), and the object still loads.
    std::vector<btf::LineInfo> lines;
    std::vector<btf::FuncInfo> functions;
    std::vector<btf::CoreRelocation> core_relocations; ///< instruction indexes relative to `instructions`
    std::uint32_t func_type_id = 0;                    ///< BTF FUNC type of the entry, 0 when unknown
    /// When set, the program uses something this build cannot run (kfunc calls, ...): it is kept
    /// so that the rest of the object loads, and this names the feature.
    std::optional<std::string> unsupported;
};

struct ObjectFile {
    std::vector<ProgramDefinition> programs;
    std::vector<MapDefinition> maps;
    std::vector<Variable> variables;
    std::vector<KconfigExtern> kconfig;     ///< the externs the `.kconfig` map holds
    std::optional<std::size_t> kconfig_map; ///< index of that map in `maps`, when the object has externs
    std::string license;
    bool has_windows_tag = false;          ///< the one-byte `.ebpf_for_windows` section eBPF for Windows' headers emit
    std::shared_ptr<const btf::Types> btf; ///< null when the object has no `.BTF`
};

/// Reads an object from memory. Errors name the section, symbol or offset at fault. What an object may make the
/// reader copy is limited, since records name their strings by offset and many may name one: the section, symbol
/// and map names together to 16 MiB and twice the file's size, the names and strings copied into programs (their
/// names and sections, the names of the functions each links, function records' names and CO-RE access strings) to
/// 64 MiB, and a BTF map definition struct to 64 members.
[[nodiscard]] Result<ObjectFile> read_object(std::span<const std::uint8_t> bytes);

/// Reads an object from a file.
[[nodiscard]] Result<ObjectFile> read_object(const std::filesystem::path& path);

} // namespace embpf::elf
