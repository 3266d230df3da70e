// The baseline JIT: verified eBPF translated in one pass to machine code of the host (x86-64 or AArch64), eBPF
// registers pinned to machine registers.
#pragma once

#include "embpf/exec/engine.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace embpf::exec {

/// The machines the baseline JIT translates for.
enum class JitTarget { x86_64, arm64 };

/// The host's target, if the JIT translates for it.
[[nodiscard]] std::optional<JitTarget> host_jit_target() noexcept;

struct JitOptions {
    /// The data range's fields, for LD_ABS/LD_IND (InterpreterOptions::packet).
    std::optional<PacketLayout> packet{};
    /// The loads that read through a host address (InterpreterOptions::probe_loads).
    std::vector<std::uint32_t> probe_loads{};
    /// Constant blinding: every immediate of the program reaches the machine code xor-ed with a random key and is
    /// recovered at run time, so that a program cannot plant chosen bytes in executable memory.
    bool blind_constants = false;
    /// Metering (engine.hpp), as InterpreterOptions::instruction_budget: the same charges at the same points, so a
    /// run stops where the interpreter's would. 0, the default: no metering, and no check is in the code.
    std::uint64_t instruction_budget = 0;
};

/// Where an eBPF instruction's machine code starts, for listings.
struct JitLine {
    std::uint32_t pc = 0;     ///< the eBPF instruction
    std::uint32_t offset = 0; ///< its first byte in the code
};

/// Machine code as Jit::create would make it for `target`, on any host: for listings and encoder tests, never run.
/// Calls to helpers and support functions hold this process's addresses.
struct JitTranslation {
    std::vector<std::uint8_t> code;
    std::vector<JitLine> lines;
};
[[nodiscard]] Result<JitTranslation> translate(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                               const JitOptions& options, JitTarget target);

namespace detail {
struct JitCode;
}

/// A program translated to machine code. The code lives in pages that are written, then made executable and never
/// writable again (W^X). Copies share the code; running is const and thread-safe.
///
/// The JIT runs programs as the interpreter's unchecked loop does (Interpreter::run): it is for verified programs,
/// whose accesses the verifier proved; it checks only what the interpreter's fast loop checks too (call depth, callx
/// targets, the data range of LD_ABS/LD_IND), and ends such a run with 0. A run gives the interpreter's result for
/// every program that reads no register the verifier holds uninitialized (after a helper call r1-r5 hold what the
/// helper left in them, where the interpreter keeps them; a callback starts with r0 and r5-r9 at 0) and hands the
/// callback helpers (bpf_loop, for_each_map_elem) only code addresses of its own (`lddw` of a code address, as the
/// verifier requires): another value ends the run with 0, where the interpreter would run the instruction it names.
///
/// Constant blinding covers the immediates of ALU, jump, store and lddw instructions; memory offsets (16 bits) and
/// shift counts (6 bits) stay in the code as they are.
class Jit final : public Executable {
  public:
    /// Validates and translates `program` for the host. The program's requirements are the interpreter's
    /// (Interpreter::create): every `call imm` names a helper of `helpers`, every `lddw` is a plain constant or a
    /// code address. Fails with unsupported on a host the JIT does not translate for.
    [[nodiscard]] static Result<Jit> create(std::span<const isa::Instruction> program, HelperTable helpers = {},
                                            const JitOptions& options = {});

    [[nodiscard]] std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    /// run(), and whether JitOptions::instruction_budget stopped it.
    [[nodiscard]] RunOutcome run_metered(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    [[nodiscard]] std::uint64_t instruction_budget() const noexcept override;
    [[nodiscard]] EngineKind kind() const noexcept override { return EngineKind::jit; }

    /// The machine code, as it runs (its first byte is the entry).
    [[nodiscard]] std::span<const std::uint8_t> machine_code() const noexcept;
    /// Where each instruction's code starts, in program order.
    [[nodiscard]] std::span<const JitLine> lines() const noexcept;
    /// The address the code runs at (for listings that show absolute call targets).
    [[nodiscard]] std::uint64_t code_address() const noexcept;
    [[nodiscard]] std::span<const isa::Instruction> program() const noexcept;

  private:
    explicit Jit(std::shared_ptr<const detail::JitCode> code) : m_code(std::move(code)) {}
    std::shared_ptr<const detail::JitCode> m_code;
};

} // namespace embpf::exec
