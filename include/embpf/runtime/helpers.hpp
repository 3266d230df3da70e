// The general helpers: implementations of the helper prototypes the platforms declare, by name.
#pragma once

#include "embpf/exec/interpreter.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <functional>
#include <optional>
#include <string_view>

namespace embpf::runtime {

/// Receives each line a program prints with bpf_printk / bpf_trace_printk, without the newline.
using TraceSink = std::function<void(std::string_view line)>;

/// Installs the process-wide sink for trace lines (default: none, lines are dropped). Returns the previous one. Safe
/// to call from inside a sink (a sink may uninstall or replace itself): lines are delivered to the sink that was
/// installed when the line was printed, without holding a lock, so a sink replaced meanwhile may still get a line
/// it was handed before.
TraceSink set_trace_sink(TraceSink sink);

/// The implementation of the helper named `name` (a platform's name without `bpf_`), or nullptr. With
/// `untrusted_plugins` (Platform::for_untrusted_plugins()), the printing helpers (trace_printk*, snprintf) never
/// dereference a `%s` argument, which is any number the program chose: they print kHiddenString instead.
[[nodiscard]] exec::HelperFunction find_helper(std::string_view name, bool untrusted_plugins = false) noexcept;

/// What `%s` prints on a platform for untrusted plugins.
inline constexpr std::string_view kHiddenString = "(string)";

/// The helper table a program of `type` gets on `platform`: every helper the type allows that this build
/// implements, under the platform's ids, in the variant the platform's trust calls for (see find_helper).
[[nodiscard]] exec::HelperTable helper_table(const platform::Platform& platform, const platform::ProgramType& type);

/// Checks that every helper `program` calls is allowed for its type and implemented; the error names the first that
/// is not, with its id and name.
[[nodiscard]] Result<void> check_helpers(std::span<const isa::Instruction> program, const platform::Platform& platform,
                                         const platform::ProgramType& type);

/// The longest chain of tail calls one invocation may make, as on Linux.
inline constexpr std::uint32_t kMaxTailCalls = 33;

/// Starts a fresh chain on this thread: no tail calls made, none pending. For harnesses that run an interpreter
/// directly, outside any InvocationScope; invokers that may nest use InvocationScope instead.
void begin_invocation() noexcept;

/// How deeply invocations may nest on one thread: a host helper that runs a program starts a nested invocation.
inline constexpr std::uint32_t kMaxInvocationDepth = 8;

/// The most program runs one invocation makes with every invocation nested in it (each program a chain runs counts,
/// the first and each a tail call switches to): past it a tail call fails (-E2BIG) and a nested invocation is
/// refused. Without it, chains of 34 programs that each run a host helper starting a nested invocation would make
/// 34^8 runs of one call; with it, one call costs at most this many runs of its programs.
inline constexpr std::uint32_t kMaxRunsPerInvocation = 1024;

/// Where a program sent its packet with bpf_redirect.
struct Redirect {
    std::uint32_t ifindex = 0;
    std::uint64_t flags = 0; ///< BPF_F_INGRESS (1): to the interface's ingress
};
/// The last bpf_redirect of the last invocation this thread ran (or of the one running), if any: a test double's
/// record of where the packet would have gone. Each outermost invocation starts without one.
[[nodiscard]] std::optional<Redirect> last_redirect() noexcept;

/// Formats a trace_printk format string the way the kernel does for the conversions it accepts (%d %i %u %x %X %p
/// %s %c %%, with l/ll/h/hh length modifiers). With `read_strings`, %s reads at most 256 bytes through
/// process_vm_readv (an unmapped address ends the string, never faults); without it %s prints kHiddenString.
[[nodiscard]] std::string format_trace(std::string_view format, const std::uint64_t* args, std::size_t count,
                                       bool read_strings = true);

} // namespace embpf::runtime
