#include "embpf/api/hook.hpp"

#include "embpf/api/registry.hpp"
#include "state.hpp"

#include "embpf/runtime/epoch.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace embpf {

namespace detail {

// One version of a hook's chain, immutable once published: invocations read it under an epoch guard, and a writer
// that publishes the next version retires this one, freed when every invocation that might still run it has ended.
struct Chain {
    struct Entry {
        std::uint32_t link = 0;
        std::int32_t priority = 0;
        Program program;
    };
    std::vector<Entry> entries;
};

struct HookState {
    platform::ProgramType type;
    HookOptions options;
    std::atomic<const Chain*> chain{nullptr}; // nullptr: empty
    std::mutex writers;                       // attach, detach and replace, one at a time

    ~HookState() { delete chain.load(std::memory_order_relaxed); }

    // Publishes `next` (nullptr when it has no entries) and retires what it replaces. Called under `writers`.
    void publish(std::vector<Chain::Entry> entries) {
        const Chain* next = entries.empty() ? nullptr : new Chain{std::move(entries)};
        const Chain* old = chain.exchange(next, std::memory_order_acq_rel);
        if (old != nullptr) {
            runtime::retire_delete(const_cast<Chain*>(old));
        }
    }
    [[nodiscard]] std::vector<Chain::Entry> entries() const {
        const Chain* now = chain.load(std::memory_order_acquire);
        return now == nullptr ? std::vector<Chain::Entry>{} : now->entries;
    }
};

namespace {

// Link ids are unique in the process, as program and map ids are.
std::atomic<std::uint32_t> g_next_link{1};

// Every hook alive, for Registry::links().
std::mutex g_hooks_mutex;
std::vector<std::weak_ptr<HookState>> g_hooks;

void track_hook(const std::shared_ptr<HookState>& hook) {
    const std::lock_guard lock(g_hooks_mutex);
    std::erase_if(g_hooks, [](const std::weak_ptr<HookState>& h) { return h.expired(); });
    g_hooks.push_back(hook);
}

// The program is of the hook's type: the same name and context, so that every entry check and every fact the
// verifier assumed about the context holds for what the hook hands over.
Result<void> check_type(const HookState& hook, const Program& program) {
    const platform::ProgramType& type = program.type();
    if (type.name != hook.type.name || !(type.context == hook.type.context)) {
        return Error::invalid("program " + program.name() + " is a " + type.name + " program; the hook runs " +
                              hook.type.name + " programs" +
                              (type.name == hook.type.name ? " (its context differs from the hook's)" : ""));
    }
    return {};
}

} // namespace

std::vector<LinkInfo> live_links() {
    std::vector<std::shared_ptr<HookState>> hooks;
    {
        const std::lock_guard lock(g_hooks_mutex);
        for (const std::weak_ptr<HookState>& weak : g_hooks) {
            if (auto hook = weak.lock()) {
                hooks.push_back(std::move(hook));
            }
        }
    }
    std::vector<LinkInfo> links;
    for (const auto& hook : hooks) {
        const runtime::EpochGuard guard;
        for (const Chain::Entry& entry : hook->entries()) {
            links.push_back({entry.link, hook->type.name, entry.program.id(), entry.program.name(), entry.priority});
        }
    }
    std::sort(links.begin(), links.end(), [](const LinkInfo& a, const LinkInfo& b) { return a.id < b.id; });
    return links;
}

} // namespace detail

HookBase::HookBase(platform::ProgramType type, HookOptions options) : m_state(std::make_shared<detail::HookState>()) {
    m_state->type = std::move(type);
    m_state->options = std::move(options);
    detail::track_hook(m_state);
}
Result<platform::ProgramType> HookBase::declare_type(platform::Platform& platform, std::string name,
                                                     std::vector<std::string> section_prefixes,
                                                     platform::ContextDescriptor context,
                                                     const std::vector<std::string>& helpers, std::int64_t return_min,
                                                     std::int64_t return_max, std::string return_meaning,
                                                     std::uint32_t max_data_size) {
    platform::ProgramType type;
    type.name = std::move(name);
    type.section_prefixes =
        section_prefixes.empty() ? std::vector<std::string>{type.name} : std::move(section_prefixes);
    type.context = std::move(context);
    for (const std::string& helper : helpers) {
        const platform::HelperPrototype* prototype = platform.helper_by_name(helper);
        if (prototype == nullptr) {
            return Error::invalid("hook " + type.name + ": platform " + platform.name() + " has no helper named " +
                                  helper);
        }
        if (std::find(type.helpers.begin(), type.helpers.end(), prototype->id) == type.helpers.end()) {
            type.helpers.push_back(prototype->id);
        }
    }
    if (return_min > return_max) {
        return Error::invalid("hook " + type.name + ": its return range [" + std::to_string(return_min) + ", " +
                              std::to_string(return_max) + "] is empty");
    }
    type.return_min = return_min;
    type.return_max = return_max;
    type.return_meaning = std::move(return_meaning);
    type.max_data_size = max_data_size;
    const std::string type_name = type.name;
    if (auto added = platform.add_program_type(std::move(type)); !added) {
        Error error = std::move(added).error();
        error.message = "hook " + type_name + ": " + error.message;
        return error;
    }
    return *platform.program_type(type_name);
}

HookBase::HookBase(HookBase&&) noexcept = default;
HookBase& HookBase::operator=(HookBase&&) noexcept = default;
HookBase::~HookBase() = default;

const platform::ProgramType& HookBase::type() const noexcept {
    static const platform::ProgramType none{};
    return m_state ? m_state->type : none; // a moved-from hook has no type
}

Result<Link> HookBase::attach(const Program& program, AttachOptions options) {
    if (!m_state) {
        return Error::invalid("the hook was moved from");
    }
    if (auto ok = detail::check_type(*m_state, program); !ok) {
        return std::move(ok).error();
    }
    const std::lock_guard lock(m_state->writers);
    std::vector<detail::Chain::Entry> entries = m_state->entries();
    const std::uint32_t id = detail::g_next_link.fetch_add(1, std::memory_order_relaxed);
    // After every entry of a lower or equal priority: links of one priority run in the order they came.
    const auto at = std::upper_bound(entries.begin(), entries.end(), options.priority,
                                     [](std::int32_t p, const detail::Chain::Entry& e) { return p < e.priority; });
    entries.insert(at, detail::Chain::Entry{id, options.priority, program});
    m_state->publish(std::move(entries));
    return Link(m_state, id, options.priority);
}

std::size_t HookBase::size() const noexcept {
    if (!m_state) {
        return 0;
    }
    const runtime::EpochGuard guard;
    const detail::Chain* chain = m_state->chain.load(std::memory_order_acquire);
    return chain == nullptr ? 0 : chain->entries.size();
}

Result<std::uint64_t> HookBase::invoke(void* ctx, std::size_t ctx_size) const {
    return invoke_chain(ctx, ctx_size, std::nullopt);
}

Result<std::uint64_t> HookBase::invoke(void* ctx, std::size_t ctx_size, PacketRoom room) const {
    return invoke_chain(ctx, ctx_size, room);
}

Result<std::uint64_t> HookBase::invoke_chain(void* ctx, std::size_t ctx_size, std::optional<PacketRoom> room) const {
    if (!m_state) {
        return Error::invalid("the hook was moved from");
    }
    const HookOptions& options = m_state->options;
    const runtime::EpochGuard guard; // the chain read below stays alive until the guard ends
    const detail::Chain* chain = m_state->chain.load(std::memory_order_acquire);
    std::uint64_t verdict = options.pass;
    if (chain == nullptr) {
        return verdict;
    }
    for (const detail::Chain::Entry& entry : chain->entries) {
        auto r0 = room ? entry.program.run(ctx, ctx_size, *room) : entry.program.run(ctx, ctx_size);
        if (!r0) {
            return std::move(r0).error();
        }
        switch (options.fold) {
        case Fold::first_decisive:
            if (*r0 != options.pass) {
                return *r0;
            }
            break;
        case Fold::all_must_pass:
            if (*r0 != options.pass && verdict == options.pass) {
                verdict = *r0;
            }
            break;
        case Fold::custom: {
            if (!options.folder) {
                return Error::invalid("the hook folds with Fold::custom and has no folder");
            }
            const auto [folded, stop] = options.folder(verdict, *r0);
            verdict = folded;
            if (stop) {
                return verdict;
            }
            break;
        }
        }
    }
    return verdict;
}

Link::Link(Link&&) noexcept = default;
Link& Link::operator=(Link&& other) noexcept {
    if (this != &other) {
        detach();
        m_hook = std::move(other.m_hook);
        m_id = other.m_id;
        m_priority = other.m_priority;
    }
    return *this;
}
Link::~Link() { detach(); }

Result<void> Link::replace(const Program& program) {
    if (!m_hook) {
        return Error::invalid("the link is detached");
    }
    if (auto ok = detail::check_type(*m_hook, program); !ok) {
        return ok;
    }
    const std::lock_guard lock(m_hook->writers);
    std::vector<detail::Chain::Entry> entries = m_hook->entries();
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.link == m_id; });
    if (it == entries.end()) {
        return Error::internal("an attached link is missing from its hook's chain");
    }
    it->program = program;
    m_hook->publish(std::move(entries));
    return {};
}

void Link::detach() noexcept {
    if (!m_hook) {
        return;
    }
    try {
        const std::lock_guard lock(m_hook->writers);
        std::vector<detail::Chain::Entry> entries = m_hook->entries();
        std::erase_if(entries, [&](const auto& e) { return e.link == m_id; });
        m_hook->publish(std::move(entries));
    } catch (...) {
        // Out of memory while copying the chain: the program stays attached until the hook goes. Nothing else can
        // fail here.
    }
    m_hook.reset();
}

bool Link::attached() const noexcept { return m_hook != nullptr; }

std::optional<Program> Link::program() const {
    if (!m_hook) {
        return std::nullopt;
    }
    const std::lock_guard lock(m_hook->writers);
    const detail::Chain* chain = m_hook->chain.load(std::memory_order_acquire);
    if (chain != nullptr) {
        for (const auto& e : chain->entries) {
            if (e.link == m_id) {
                return e.program;
            }
        }
    }
    return std::nullopt;
}

} // namespace embpf
