// The general helpers: implementations of the helper prototypes the platforms declare, by name.
#pragma once

#include "embpf/exec/interpreter.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <functional>
#include <string_view>

namespace embpf::runtime {

/// Receives each line a program prints with bpf_printk / bpf_trace_printk, without the newline.
using TraceSink = std::function<void(std::string_view line)>;

/// Installs the process-wide sink for trace lines (default: none, lines are dropped). Returns the previous one.
TraceSink set_trace_sink(TraceSink sink);

/// The implementation of the helper named `name` (a platform's name without `bpf_`), or nullptr.
[[nodiscard]] exec::HelperFunction find_helper(std::string_view name) noexcept;

/// The helper table a program of `type` gets on `platform`: every helper the type allows that this build
/// implements, under the platform's ids.
[[nodiscard]] exec::HelperTable helper_table(const platform::Platform& platform, const platform::ProgramType& type);

/// Checks that every helper `program` calls is allowed for its type and implemented; the error names the first that
/// is not, with its id and name.
[[nodiscard]] Result<void> check_helpers(std::span<const isa::Instruction> program, const platform::Platform& platform,
                                         const platform::ProgramType& type);

/// The longest chain of tail calls one invocation may make, as on Linux.
inline constexpr std::uint32_t kMaxTailCalls = 33;

/// Starts an invocation on this thread: no tail calls made, none pending. The invoker (Program::run) calls it.
void begin_invocation() noexcept;

/// The program a successful bpf_tail_call switched to, once the calling program has stopped, or nullptr; taking it
/// clears it. Valid while the invocation's EpochGuard lives.
[[nodiscard]] const exec::Executable* take_tail_call() noexcept;

/// Formats a trace_printk format string the way the kernel does for the conversions it accepts (%d %i %u %x %X %p
/// %s %c %%, with l/ll/h/hh length modifiers); %s reads a string only from memory `readable` allows.
[[nodiscard]] std::string format_trace(std::string_view format, const std::uint64_t* args, std::size_t count);

} // namespace embpf::runtime
