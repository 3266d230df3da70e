// Ahead-of-time compilation ("native mode"): a verified program written out as C, which the host's own compiler
// builds, for hosts where generating code at run time is not allowed. The C calls helpers through a table the runtime
// fills (aot_abi.h) and reads the maps' addresses from it, so that nothing in it depends on where this run's maps lie.
#pragma once

#include "embpf/exec/aot_abi.h"
#include "embpf/exec/engine.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"
#include "embpf/verifier/verifier.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::exec {

/// The source line an instruction came from (BTF line info), for the `#line` directives of the C.
struct SourceLine {
    std::uint32_t instruction = 0;
    std::string file;
    std::uint32_t line = 0;
};

struct AotOptions {
    /// The name of the C function that runs the program (a C identifier); its internal functions are named after it.
    std::string symbol = "embpf_program";
    /// The data range's fields, for LD_ABS/LD_IND (InterpreterOptions::packet).
    std::optional<PacketLayout> packet{};
    /// The loads that read through a host address (InterpreterOptions::probe_loads).
    std::vector<std::uint32_t> probe_loads{};
    /// The lddw instructions whose value is a map's address (or an address in a map's value): the C reads it from
    /// embpf_aot_env::references, the k-th of these from references[k], so that the same code serves every load of the
    /// object, wherever its maps lie. Their immediates in `program` do not enter the code (nor its fingerprint).
    std::vector<std::uint32_t> references{};
    /// For each of `references`, the index of the map it names (the object's map index, which is the verifier's
    /// MapDescriptor index), or RegisterFact::kNoIndex for a reference into a map's value; empty: unknown.
    std::vector<std::uint32_t> reference_maps{};
    /// What the verifier proved (OptimizerOptions::facts), and what the C does with it:
    ///   - a load or store the facts place at one offset of the stack addresses the function's frame array directly,
    ///     which lets the compiler keep those slots in registers;
    ///   - code no run reaches ends the run (as a guard does), and a null check of a pointer proven not null is no
    ///     check;
    ///   - a call of `lookup_helper` on a map the facts name exactly, through a reference of `reference_maps`, computes
    ///     the lookup itself when the environment describes that reference's map as an array
    ///     (embpf_aot_env::arrays), and calls the helper otherwise;
    ///   - the ranges proven of the numbers at a loop's head, of a divisor and of a value a load reads are written as
    ///     EMBPF_ASSUME, which the compiler may assume (`__builtin_unreachable` where they do not hold). Built with
    ///     `-DEMBPF_AOT_CHECK_FACTS`, the code traps there instead (the differential tests' builds).
    /// Facts that do not hold make the code do something else: they must be the verifier's, of this code.
    std::span<const verifier::InstructionFacts> facts{};
    /// The helper id of map_lookup_elem on the program's platform (OptimizerOptions::lookup_helper).
    std::optional<std::uint32_t> lookup_helper{};
    /// The arrays whose lookups the code may compute (OptimizerOptions::arrays), for AotProgram::create's
    /// environment: they do not enter the code, which reads them from the environment.
    std::vector<InlineArray> arrays{};
    /// `#line` directives before the code of each instruction listed (none by default): a debugger and a profiler
    /// then show the plugin's own source. They do not enter the fingerprint.
    std::vector<SourceLine> lines{};
};

/// The C of one program: static functions, the function `symbol` (`uint64_t symbol(void* ctx, uint64_t ctx_size,
/// const struct embpf_aot_env* env)`), and the fingerprint of that code.
struct AotSource {
    std::string code;
    /// SHA-256 (hex) of the code without its `#line` directives: equal fingerprints mean the same C, and so the same
    /// behaviour with the same environment.
    std::string fingerprint;
    std::uint32_t references = 0; ///< entries of embpf_aot_env::references the code reads
    /// Every name the code defines at file scope: the function `symbol` and its static functions.
    std::vector<std::string> names;
};

/// Translates a valid program (the requirements of Interpreter::create) to C. Fails with unsupported for what the C
/// does not express: a jump from one function into another, a function that runs past its last instruction, kernel
/// function calls.
[[nodiscard]] Result<AotSource> generate_c(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                           const AotOptions& options = {});

/// What a C file of compiled programs starts with, once: aot_abi.h and the small inline functions the code uses.
[[nodiscard]] std::string aot_prelude();

/// One program of a module: its name and section in the object, what its verification proved (text), and its C,
/// whose function is named `symbol` (AotOptions::symbol).
struct AotModuleEntry {
    std::string name;
    std::string section;
    std::string verification;
    std::string symbol;
    AotSource source;
};

/// A whole C file: `comment` (a C comment's text), the prelude, each program's code and descriptor (an
/// embpf_aot_program named `<symbol>_program`), and the embpf_aot_module `module_symbol` listing them, which carries
/// `object_hash` and `platform`.
[[nodiscard]] std::string aot_module_source(std::span<const AotModuleEntry> programs, std::string_view object_hash,
                                            std::string_view platform, std::string_view module_symbol,
                                            std::string_view comment = {});

/// SHA-256 of `bytes`, as 64 hex digits.
[[nodiscard]] std::string sha256_hex(std::span<const std::uint8_t> bytes);

/// Writes `text` as a C string literal (quotes included, everything outside printable ASCII escaped).
[[nodiscard]] std::string c_string_literal(std::string_view text);

/// Whether `name` is a C identifier (and no keyword the generated code would clash with).
[[nodiscard]] bool is_c_identifier(std::string_view name) noexcept;

/// A program compiled ahead of time, bound to a load of its object: run() calls the compiled function with an
/// environment holding the load's helpers and map addresses.
class AotProgram final : public Executable {
  public:
    /// Binds `compiled` to `program` (the loader's code, map addresses in its lddws) after checking that it is the
    /// code generate_c writes for `program`, `helpers` and `options` (its fingerprint) and that every helper it calls
    /// has a function. `owner` keeps the code alive (a shared object's handle), if anything must.
    [[nodiscard]] static Result<AotProgram> create(const embpf_aot_program& compiled,
                                                   std::span<const isa::Instruction> program, HelperTable helpers,
                                                   const AotOptions& options = {},
                                                   std::shared_ptr<const void> owner = {});

    [[nodiscard]] std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    [[nodiscard]] EngineKind kind() const noexcept override { return EngineKind::aot; }

  private:
    struct State;
    explicit AotProgram(std::shared_ptr<const State> state) : m_state(std::move(state)) {}
    std::shared_ptr<const State> m_state;
};

/// A shared object `embpf aot --shared` built, opened with dlopen: its module (the embpf_aot_module it exports as
/// `embpf_aot_module`) and the handle that keeps it loaded while anything refers to it.
class AotLibrary {
  public:
    [[nodiscard]] static Result<AotLibrary> open(const std::filesystem::path& path);
    [[nodiscard]] const embpf_aot_module& module() const noexcept { return *m_module; }
    /// The program named `name`, or nullptr.
    [[nodiscard]] const embpf_aot_program* find(std::string_view name) const noexcept;
    [[nodiscard]] std::shared_ptr<const void> owner() const noexcept { return m_handle; }

  private:
    AotLibrary(std::shared_ptr<const void> handle, const embpf_aot_module* module)
        : m_handle(std::move(handle)), m_module(module) {}
    std::shared_ptr<const void> m_handle;
    const embpf_aot_module* m_module;
};

/// Checks a module's version and shape (each program named, with code): what a host hands the loader must be one.
[[nodiscard]] Result<void> check_aot_module(const embpf_aot_module& module);

} // namespace embpf::exec
