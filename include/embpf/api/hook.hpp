// Hook<Ctx> and Link: an attach point the host owns, programs attached to it in order, and hot swap.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>

namespace embpf {

namespace detail {
struct HookState;
} // namespace detail

/// How a hook folds the verdicts of the programs attached to it into the one its invoke() returns.
enum class Fold : std::uint8_t {
    /// The first verdict that is not HookOptions::pass, in priority order; the rest do not run. pass when every
    /// program passes (a firewall's chain: the first program that decides, decides).
    first_decisive,
    /// Every program runs; the verdict is pass when all passed, else the first that did not (an audit: all must
    /// agree).
    all_must_pass,
    /// HookOptions::folder decides: it gets the verdict so far (pass before the first program) and each program's,
    /// returns the new one and whether to stop.
    custom,
};

struct HookOptions {
    std::uint64_t pass = 0; ///< the verdict that lets the next program decide (XDP_PASS, 0 for "continue")
    Fold fold = Fold::first_decisive;
    /// Fold::custom: (verdict so far, this program's verdict) -> {the new verdict, stop}.
    std::function<std::pair<std::uint64_t, bool>(std::uint64_t, std::uint64_t)> folder{};
};

struct AttachOptions {
    /// Lower runs first; links of one priority run in the order they were attached.
    std::int32_t priority = 0;
};

class Link;

/// The untyped core of Hook<Ctx>: programs of one program type attached in order. invoke() is lock-free and safe from
/// many threads; attach, detach and replace never block an invocation (they wait only for each other), and every
/// invocation runs one complete version of the chain: each program attached when it started, old or new, never
/// neither.
class HookBase {
  public:
    /// A hook for programs of `type` (the ProgramType of the platform they load on). A moved-from hook has nothing
    /// attached and refuses attach() and invoke() with an error.
    explicit HookBase(platform::ProgramType type, HookOptions options = {});
    HookBase(HookBase&&) noexcept;
    HookBase& operator=(HookBase&&) noexcept;
    HookBase(const HookBase&) = delete;
    HookBase& operator=(const HookBase&) = delete;
    ~HookBase();

    [[nodiscard]] const platform::ProgramType& type() const noexcept;
    /// Attaches `program` (of the hook's type: name and context) at `options.priority`. The link keeps the program
    /// alive; destroying the link detaches it.
    [[nodiscard]] Result<Link> attach(const Program& program, AttachOptions options = {});
    /// The programs attached now.
    [[nodiscard]] std::size_t size() const noexcept;
    /// Runs the chain on a context of `ctx_size` bytes and folds the verdicts; HookOptions::pass for an empty hook.
    /// An error names the program whose run failed (a context the entry checks refuse, a checked run's fault).
    [[nodiscard]] Result<std::uint64_t> invoke(void* ctx, std::size_t ctx_size) const;

  private:
    std::shared_ptr<detail::HookState> m_state;
};

/// A hook whose context is the host's struct `Ctx`: invoke(Ctx&).
template <typename Ctx>
class Hook : public HookBase {
    static_assert(std::is_standard_layout_v<Ctx>, "a context is a standard-layout struct");

  public:
    using HookBase::HookBase;
    using HookBase::invoke;
    [[nodiscard]] Result<std::uint64_t> invoke(Ctx& ctx) const { return HookBase::invoke(&ctx, sizeof(Ctx)); }
};

/// A program attached to a hook. Move-only; destroying it (or detach()) detaches the program.
class Link {
  public:
    Link(Link&&) noexcept;
    Link& operator=(Link&&) noexcept;
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;
    ~Link();

    /// Puts `program` in this link's place, atomically: an invocation runs the old program or the new one. The new
    /// program must be of the hook's type; on an error the link keeps its program.
    [[nodiscard]] Result<void> replace(const Program& program);
    /// Detaches now (the destructor does nothing more). Invocations under way finish with the chain they started.
    void detach() noexcept;
    [[nodiscard]] bool attached() const noexcept;
    [[nodiscard]] std::int32_t priority() const noexcept { return m_priority; }
    /// The program attached now (empty when detached).
    [[nodiscard]] std::optional<Program> program() const;

  private:
    friend class HookBase;
    Link(std::shared_ptr<detail::HookState> hook, std::uint64_t id, std::int32_t priority)
        : m_hook(std::move(hook)), m_id(id), m_priority(priority) {}
    std::shared_ptr<detail::HookState> m_hook;
    std::uint64_t m_id = 0;
    std::int32_t m_priority = 0;
};

} // namespace embpf
