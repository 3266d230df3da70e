// The interpreter: runs a pre-decoded program, fast for verified programs or checked for others.
#pragma once

#include "embpf/exec/engine.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace embpf::exec {

/// Helper functions by id, as a program's `call imm` names them.
class HelperTable {
  public:
    /// Registers (or replaces) helper `id`.
    void set(std::uint32_t id, HelperFunction function);
    /// When helper `id` returns 0 the program stops at once with r0 = 0 (the conformance suite's
    /// "unwind" helper).
    void set_unwind(std::uint32_t id) { m_unwind = id; }

    [[nodiscard]] HelperFunction get(std::uint32_t id) const noexcept {
        return id < m_functions.size() ? m_functions[id] : nullptr;
    }
    [[nodiscard]] std::optional<std::uint32_t> unwind() const noexcept { return m_unwind; }
    [[nodiscard]] std::span<const HelperFunction> functions() const noexcept { return m_functions; }

  private:
    std::vector<HelperFunction> m_functions;
    std::optional<std::uint32_t> m_unwind;
};

/// Memory a checked run may touch besides the stack and the context.
struct MemoryRegion {
    const void* start = nullptr;
    std::size_t size = 0;
    bool writable = false;
};

/// Memory a helper's result gives the program (a map value, a ring-buffer record), if any: called by checked runs
/// after each helper call with the helper id, r1-r5 and r0.
using HelperResultRegion =
    std::function<std::optional<MemoryRegion>(std::uint32_t helper, const std::uint64_t* args, std::uint64_t r0)>;

struct CheckedOptions {
    std::vector<MemoryRegion> regions{};  ///< extra memory the program may access
    bool context_writable = true;         ///< whether [ctx, ctx + ctx_size) may be written
    std::uint64_t instruction_budget = 0; ///< stop after this many instructions; 0 = no limit
    /// Regions helpers hand out during the run become accessible for the rest of it.
    HelperResultRegion helper_result_region{};
};

/// What a checked run did.
struct CheckedOutcome {
    std::uint64_t r0 = 0;
    std::uint64_t instructions = 0; ///< instructions executed, calls and helpers counted once each
};

struct InterpreterOptions {
    /// Dispatch with a portable switch instead of threaded code (computed goto); for testing the
    /// fallback that builds without GCC or Clang extensions use.
    bool portable_dispatch = false;
};

namespace detail {
struct InterpreterCode;
}

/// A program pre-decoded for interpretation. Copies share the decoded code; running is const and
/// thread-safe.
class Interpreter final : public Executable {
  public:
    /// Validates and pre-decodes `program`. Every `call imm` must name a helper in `helpers`, and
    /// every `lddw` must be a plain constant (the loader resolves map references before this).
    [[nodiscard]] static Result<Interpreter> create(std::span<const isa::Instruction> program, HelperTable helpers = {},
                                                    const InterpreterOptions& options = {});

    /// Runs a verified program: no memory checks, no budget. A verified program always ends with
    /// `exit`; should a guard fire anyway (call depth, unknown `callx` target), the result is 0.
    [[nodiscard]] std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept override;

    /// Runs any valid program with every load, store and atomic checked against the stack frames
    /// in use, the context and `options.regions`, and with an optional instruction budget. The
    /// first violation stops the run with an error naming the pc, the address and the size.
    [[nodiscard]] Result<CheckedOutcome> run_checked(void* ctx, std::size_t ctx_size,
                                                     const CheckedOptions& options = {}) const;

    [[nodiscard]] EngineKind kind() const noexcept override { return EngineKind::interpreter; }
    [[nodiscard]] std::span<const isa::Instruction> program() const noexcept;

  private:
    explicit Interpreter(std::shared_ptr<const detail::InterpreterCode> code) : m_code(std::move(code)) {}
    std::shared_ptr<const detail::InterpreterCode> m_code;
};

} // namespace embpf::exec
