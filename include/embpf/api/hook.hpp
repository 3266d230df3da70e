// Hook<Ctx> and Link: an attach point the host owns, programs attached to it in order, and hot swap.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

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
    /// invoke() with the context the host's alone for this invocation (Program::run with a room): the packet helpers
    /// may move its data range within `room`.
    [[nodiscard]] Result<std::uint64_t> invoke(void* ctx, std::size_t ctx_size, PacketRoom room) const;

  protected:
    /// Adds the program type a hook declares to `platform`: its helpers resolved by name, the rest as given. An error
    /// names an unknown helper, or says what Platform::add_program_type refused; `platform` is unchanged then.
    [[nodiscard]] static Result<platform::ProgramType>
    declare_type(platform::Platform& platform, std::string name, std::vector<std::string> section_prefixes,
                 platform::ContextDescriptor context, const std::vector<std::string>& helpers, std::int64_t return_min,
                 std::int64_t return_max, std::string return_meaning, std::uint32_t max_data_size);

  private:
    [[nodiscard]] Result<std::uint64_t> invoke_chain(void* ctx, std::size_t ctx_size,
                                                     std::optional<PacketRoom> room) const;
    std::shared_ptr<detail::HookState> m_state;
};

/// Everything a host declares about a hook whose context is its struct `Ctx`, in one place (Hook<Ctx>::declare).
template <typename Ctx>
struct HookDeclaration {
    /// The program type's name, which the verifier's messages and errors use.
    std::string name;
    /// A program whose ELF section starts with one of these is of this hook's type; {name} when empty.
    std::vector<std::string> section_prefixes{};
    /// The context: offsets and sizes from `Ctx` itself, each field's rights, its memory regions.
    platform::ContextLayout<Ctx> context{};
    /// The platform's helpers (by name, without `bpf_`: "map_lookup_elem") the hook's programs may call, besides the
    /// host helpers the platform offers every program type.
    std::vector<std::string> helpers{};
    /// The verdicts the hook accepts: the verifier refuses a program that may return another.
    std::int64_t return_min = std::numeric_limits<std::int64_t>::min();
    std::int64_t return_max = std::numeric_limits<std::int64_t>::max();
    std::string return_meaning{}; ///< e.g. "0 continue, 1 deny", for the verifier's messages
    /// The longest data range (packet) the hook hands over, for a context with one.
    std::uint32_t max_data_size = 0xFFFF;
    /// How the hook folds its programs' verdicts.
    HookOptions options{};
};

/// A hook whose context is the host's struct `Ctx`: invoke(Ctx&).
template <typename Ctx>
class Hook : public HookBase {
    static_assert(std::is_standard_layout_v<Ctx>, "a context is a standard-layout struct");

  public:
    using HookBase::HookBase;
    using HookBase::invoke;
    [[nodiscard]] Result<std::uint64_t> invoke(Ctx& ctx) const { return HookBase::invoke(&ctx, sizeof(Ctx)); }
    [[nodiscard]] Result<std::uint64_t> invoke(Ctx& ctx, PacketRoom room) const {
        return HookBase::invoke(&ctx, sizeof(Ctx), room);
    }

    /// Declares the hook on `platform` (the host's copy of a platform, on which its plugins then load): adds the
    /// program type `declaration` describes and returns the hook for it. An error names an unknown helper, a program
    /// type of that name already on the platform, or a context whose fields do not fit.
    [[nodiscard]] static Result<Hook> declare(platform::Platform& platform, HookDeclaration<Ctx> declaration) {
        auto type =
            declare_type(platform, std::move(declaration.name), std::move(declaration.section_prefixes),
                         std::move(declaration.context).descriptor(), declaration.helpers, declaration.return_min,
                         declaration.return_max, std::move(declaration.return_meaning), declaration.max_data_size);
        if (!type) {
            return std::move(type).error();
        }
        return Hook(std::move(*type), std::move(declaration.options));
    }
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
    /// The link's id, unique in the process (Registry lists links by it).
    [[nodiscard]] std::uint32_t id() const noexcept { return m_id; }
    /// The program attached now (empty when detached).
    [[nodiscard]] std::optional<Program> program() const;

  private:
    friend class HookBase;
    Link(std::shared_ptr<detail::HookState> hook, std::uint32_t id, std::int32_t priority)
        : m_hook(std::move(hook)), m_id(id), m_priority(priority) {}
    std::shared_ptr<detail::HookState> m_hook;
    std::uint32_t m_id = 0;
    std::int32_t m_priority = 0;
};

} // namespace embpf
