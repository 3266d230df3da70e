// The invocation state on a thread, which runtime::invoke() (invocation.cpp) holds and the helpers (helpers.cpp)
// read: internal to the runtime.
#pragma once

#include "embpf/runtime/invocation.hpp"

#include <cstddef>
#include <cstdint>

namespace embpf::runtime {

/// The data range of the invocation running on this thread, which the packet helpers read, write and move. Nested
/// invocations have their own; InvocationScope gives the outer one back.
struct PacketState {
    void* ctx = nullptr;
    const platform::ProgramType* type = nullptr; ///< null: no invocation here, or its type has no data range
    std::uint8_t* data = nullptr;
    std::uint8_t* data_end = nullptr;
    std::uint8_t* lowest = nullptr;  ///< what data may move down to (data - headroom at the entry)
    std::uint8_t* highest = nullptr; ///< what data_end may move up to (data_end + tailroom at the entry)
    /// The packet helpers may move the range: the host gave the invocation its context to itself
    /// (InvocationOptions::private_context), and no outer invocation on this thread runs on that context.
    bool movable = false;
    bool moved = false; ///< a helper moved data or data_end since the last program's entry
};

/// This thread's packet state.
[[nodiscard]] PacketState& packet_state() noexcept;

/// Whether [ctx, ctx + size) overlaps the context of an invocation this one is nested in (on this thread).
[[nodiscard]] bool outer_context_overlaps(const void* ctx, std::size_t size) noexcept;
/// Records the context of the invocation running now, for the ones nested in it.
void set_current_context(const void* ctx, std::size_t size) noexcept;

/// One invocation on this thread, from the first program to the end of its tail-call chain: invoke() holds one
/// around the chain. The chain's tail-call count and pending tail call belong to it: a nested invocation (a host
/// helper that runs another program) starts its own chain and gives the outer one back when it ends, so it can
/// neither reset nor use up the outer chain's count. Past kMaxInvocationDepth nested invocations, entered() is false
/// and the invoker must refuse to run. When it ends, it discards the ring-buffer records its programs reserved and
/// still hold (a run stopped by an instruction budget or a fault, or an unverified program), so that the consumer is
/// never stuck behind one, and releases a bpf_spin_lock its run stopped holding.
class InvocationScope {
  public:
    InvocationScope() noexcept;
    ~InvocationScope();
    InvocationScope(const InvocationScope&) = delete;
    InvocationScope& operator=(const InvocationScope&) = delete;

    [[nodiscard]] bool entered() const noexcept { return m_entered; }
    /// Why it was not entered: kMaxInvocationDepth invocations run on the thread already, or the outermost one and
    /// those nested in it ran kMaxRunsPerInvocation programs.
    [[nodiscard]] bool too_deep() const noexcept { return m_too_deep; }
    [[nodiscard]] bool too_many_runs() const noexcept { return m_too_many_runs; }

  private:
    std::uint32_t m_outer_tail_calls = 0;
    const Invocable* m_outer_pending = nullptr;
    std::size_t m_outer_records = 0; ///< ring-buffer records reserved before this invocation (not its to discard)
    void* m_outer_lock = nullptr;    ///< the bpf_spin_lock held when it began (not its to release)
    PacketState m_outer_packet{};
    bool m_too_deep = false;
    bool m_too_many_runs = false;
    bool m_entered = false;
};

/// The program a successful bpf_tail_call switched to, once the calling program has stopped, or nullptr; taking it
/// clears it. Valid while the invocation's EpochGuard lives.
[[nodiscard]] const Invocable* take_tail_call() noexcept;

} // namespace embpf::runtime
