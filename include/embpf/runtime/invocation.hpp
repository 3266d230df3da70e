// One invocation of a program: the checks at its entry, and the one function that runs it with its tail-call chain.
//
// Every way of running a program (Program::run, run_checked, test_run, a hook's chain, an engine's Executable::run)
// goes through invoke(): it holds the epoch guard that keeps maps' elements and program arrays' programs alive, the
// invocation's state on this thread (its tail-call chain, a bpf_spin_lock it holds, ring-buffer records it reserved,
// nested in any invocation already running on the thread), checks the entry of each program of the chain and folds
// the return value as the hook reads it.
#pragma once

#include "embpf/exec/engine.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace embpf::runtime {

/// The lowest address an object may have: the verifier assumes nothing lies in the first 64 KiB (as Linux's default
/// vm.mmap_min_addr guarantees), so a pointer below it is no context or packet the host could hand over.
inline constexpr std::uint64_t kLowestAddress = 65536;
/// The highest end an object may have: the verifier lets a pointer move up to 2^29 bytes past its object's start and
/// decides comparisons of pointers by their offsets, so no object may end where an offset would wrap the address
/// around, as an unsigned or as a signed number. (User-space addresses end far below: 2^47 on x86-64, 2^48 on arm64.)
inline constexpr std::uint64_t kHighestAddress = (std::uint64_t{1} << 63) - (std::uint64_t{1} << 30);

/// A memory region field of a program type's context (platform::FieldKind::memory), as the entry reads it.
struct RegionField {
    std::uint32_t pointer = 0;    ///< offset of the pointer field
    std::int32_t size_field = -1; ///< offset of the size field, or -1 for a constant size
    std::uint8_t size_width = 0;
    std::uint64_t most = 0; ///< the constant size, or the most the size field may say
    bool writable = false;
    std::string name;
};

/// The memory region fields of `context`, in order.
[[nodiscard]] std::vector<RegionField> region_fields(const platform::ContextDescriptor& context);

/// What the entry vouched for: the data range, if the type has one, and each memory region of the context.
struct EntryRegions {
    std::optional<exec::MemoryRegion> data;
    std::vector<exec::MemoryRegion> memory;

    [[nodiscard]] bool same_as(const EntryRegions& other) const noexcept;
};

/// The facts about a context the verifier assumes and cannot see, checked at every entry: the context is as large as
/// the hook's and lies above the first 64 KiB; its data range [data, data_end) is ordered, lies there too and is no
/// longer than the type's max_data_size (the verifier's loop bounds rest on it); each memory region is no larger than
/// its field allows; the context, the data range and the memory regions share no byte where the program may write one
/// of them (read-only ones may overlap), and none shares a byte with the context, which holds the host's pointers. For
/// a program that reads data_meta (`reads_meta`), the metadata [data_meta,
/// data) lies right in front of the data and is at most platform::kMaxPacketMetaSize long; other programs never see the
/// field. Nothing may end where a program's offsets would wrap the address (kHighestAddress). The entry writes nothing:
/// a context may be shared by runs on other threads. Returns what a checked run may use besides context and stack.
[[nodiscard]] Result<EntryRegions> check_entry(const platform::ProgramType& type, const void* ctx, std::size_t ctx_size,
                                               bool reads_meta, std::span<const RegionField> regions);

/// How one invocation runs.
struct InvocationOptions {
    /// Every program of the chain in the checked interpreter (verified or not), counting instructions.
    bool checked = false;
    /// With `checked`: the most instructions each program of the chain may execute; 0 for no limit.
    std::uint64_t instruction_budget = 0;
    /// The bytes of the host's buffer in front of the data range and behind it, which xdp_adjust_head and
    /// xdp_adjust_tail may grow the packet into (0: the packet may only shrink). The host vouches for them as it does
    /// for the range; the entry checks that they stay in the addresses a program may reach.
    std::size_t headroom = 0;
    std::size_t tailroom = 0;
    /// The host gives the invocation its context to itself: no other thread reads it meanwhile. Only then may
    /// xdp_adjust_head and xdp_adjust_tail move the data range (they write the context's pointers); otherwise they
    /// fail with -EINVAL, as they do in an invocation nested on the context of one it is nested in.
    bool private_context = false;
};

/// A program as an invocation runs it, and what a program array holds for tail calls: a loaded program
/// (Program's state) with its engine's code.
class Invocable : public exec::Executable {
  public:
    [[nodiscard]] virtual const std::string& program_name() const noexcept = 0;
    [[nodiscard]] virtual const platform::ProgramType& program_type() const noexcept = 0;
    /// check_entry for this program: its type's context, its regions, whether it reads data_meta.
    [[nodiscard]] virtual Result<EntryRegions> enter(const void* ctx, std::size_t ctx_size) const = 0;
    /// One run of this program alone (a tail call it makes stops it and is left pending for invoke()), on a context
    /// enter() accepted: `entry` is what a checked run may use besides context and stack.
    [[nodiscard]] virtual Result<exec::CheckedOutcome> step(void* ctx, std::size_t ctx_size, const EntryRegions& entry,
                                                            const InvocationOptions& options) const = 0;

    /// The whole invocation (invoke()), with 0 for a run that failed.
    [[nodiscard]] std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept final;
};

/// Runs `program` on `ctx` as one invocation: the entry checks, the program, each program a tail call switches to
/// (each checked at its entry, and refused if an earlier one changed the context's data range or regions other than
/// by a packet helper: xdp_adjust_head and xdp_adjust_tail move the range and write its new pointers), and the
/// hook's fold of the last return value (ProgramType::out_of_range_return). Invocations nest (a host helper may run a
/// program) up to kMaxInvocationDepth deep, each with its own chain. An error names the program.
[[nodiscard]] Result<exec::CheckedOutcome> invoke(const Invocable& program, void* ctx, std::size_t ctx_size,
                                                  const InvocationOptions& options = {});

} // namespace embpf::runtime
