#include "embpf/api/registry.hpp"

#include "embpf/runtime/map.hpp"
#include "state.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace embpf {

namespace detail {
namespace {

std::atomic<std::uint32_t> g_next_program{1};

// What Object::load made, while it lives: a program with the object it came from (for its Program handles), a map.
struct TrackedProgram {
    std::weak_ptr<const ProgramState> program;
    std::weak_ptr<ObjectState> object;
};
std::mutex g_tracked_mutex;
std::vector<TrackedProgram> g_programs; // under g_tracked_mutex
// By address, so that a map reused by a later load is found at once (a scan of every map per map loaded made loading
// the thousandth object slow); an entry whose map is gone is replaced by the next map at its address.
std::unordered_map<const runtime::Map*, std::weak_ptr<runtime::Map>> g_maps;
// The entries after the last sweep of the ones that expired: the next sweep waits for twice as many, so that sweeping
// costs a constant per object loaded.
std::size_t g_swept_size = 0;

} // namespace

std::atomic<std::uint32_t> g_run_stats{0};

void hold_run_stats() noexcept { g_run_stats.fetch_add(2, std::memory_order_relaxed); }
void release_run_stats() noexcept { g_run_stats.fetch_sub(2, std::memory_order_relaxed); }

std::uint32_t next_program_id() noexcept { return g_next_program.fetch_add(1, std::memory_order_relaxed); }

void track(const std::shared_ptr<ObjectState>& object) {
    const std::lock_guard lock(g_tracked_mutex);
    if (g_programs.size() + g_maps.size() > 2 * g_swept_size + 64) {
        std::erase_if(g_programs, [](const TrackedProgram& p) { return p.program.expired(); });
        std::erase_if(g_maps, [](const auto& entry) { return entry.second.expired(); });
        g_swept_size = g_programs.size() + g_maps.size();
    }
    for (const auto& [name, program] : object->programs) {
        g_programs.push_back({program, object});
    }
    for (const auto& [name, handle] : object->maps) {
        const auto& map = handle.runtime_map();
        g_maps[map.get()] = map; // a map reused by a later load is listed once
    }
}

namespace {

// The live programs with the objects they came from (null when only a program array still holds the program).
std::vector<std::pair<std::shared_ptr<const ProgramState>, std::shared_ptr<ObjectState>>> live_programs() {
    std::vector<std::pair<std::shared_ptr<const ProgramState>, std::shared_ptr<ObjectState>>> out;
    const std::lock_guard lock(g_tracked_mutex);
    for (const TrackedProgram& tracked : g_programs) {
        if (auto program = tracked.program.lock()) {
            out.emplace_back(std::move(program), tracked.object.lock());
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first->id < b.first->id; });
    return out;
}

std::vector<std::shared_ptr<runtime::Map>> live_maps() {
    std::vector<std::shared_ptr<runtime::Map>> out;
    const std::lock_guard lock(g_tracked_mutex);
    for (const auto& [address, weak] : g_maps) {
        if (auto map = weak.lock()) {
            out.push_back(std::move(map));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
    return out;
}

} // namespace
} // namespace detail

Result<void> Registry::pin(std::string path, const Program& program) {
    if (path.empty()) {
        return Error::invalid("a pin needs a path");
    }
    const std::lock_guard lock(m_mutex);
    if (!m_pins.try_emplace(path, program).second) {
        return Error::invalid("path " + path + " is pinned already");
    }
    return {};
}

Result<void> Registry::pin(std::string path, const MapHandle& map) {
    if (path.empty()) {
        return Error::invalid("a pin needs a path");
    }
    const std::lock_guard lock(m_mutex);
    if (!m_pins.try_emplace(path, map).second) {
        return Error::invalid("path " + path + " is pinned already");
    }
    return {};
}

Result<Program> Registry::program(std::string_view path) const {
    const std::lock_guard lock(m_mutex);
    const auto it = m_pins.find(path);
    if (it == m_pins.end()) {
        return Error::invalid("nothing is pinned at " + std::string(path));
    }
    if (const auto* program = std::get_if<Program>(&it->second)) {
        return *program;
    }
    return Error::invalid(std::string(path) + " holds a map, not a program");
}

Result<MapHandle> Registry::map(std::string_view path) const {
    const std::lock_guard lock(m_mutex);
    const auto it = m_pins.find(path);
    if (it == m_pins.end()) {
        return Error::invalid("nothing is pinned at " + std::string(path));
    }
    if (const auto* map = std::get_if<MapHandle>(&it->second)) {
        return *map;
    }
    return Error::invalid(std::string(path) + " holds a program, not a map");
}

bool Registry::unpin(std::string_view path) {
    std::optional<std::variant<Program, MapHandle>> last; // released after the lock: it may free a whole object
    const std::lock_guard lock(m_mutex);
    const auto it = m_pins.find(path);
    if (it == m_pins.end()) {
        return false;
    }
    last.emplace(std::move(it->second));
    m_pins.erase(it);
    return true;
}

std::vector<std::string> Registry::pins() const {
    const std::lock_guard lock(m_mutex);
    std::vector<std::string> out;
    for (const auto& entry : m_pins) {
        out.push_back(entry.first);
    }
    return out;
}

std::vector<ProgramInfo> Registry::programs() {
    std::vector<ProgramInfo> out;
    for (const auto& [program, object] : detail::live_programs()) {
        ProgramInfo info{program->id,
                         program->name,
                         program->section,
                         program->type->name,
                         program->verified,
                         program->interpreter ? program->interpreter->program().size() : 0,
                         {},
                         program->kind(),
                         program->stats.count.load(std::memory_order_relaxed),
                         program->stats.time_ns.load(std::memory_order_relaxed)};
        for (const auto& map : program->maps) {
            info.map_ids.push_back(map->id());
        }
        out.push_back(std::move(info));
    }
    return out;
}

std::vector<MapInfo> Registry::maps() {
    std::vector<MapInfo> out;
    for (const auto& map : detail::live_maps()) {
        const runtime::MapConfig& config = map->config();
        out.push_back({map->id(), config.name, config.kind, config.key_size, config.value_size, config.max_entries,
                       map->memory_size(), map->entry_count()});
    }
    return out;
}

std::vector<LinkInfo> Registry::links() { return detail::live_links(); }

void Registry::enable_stats(bool on) noexcept {
    if (on) {
        detail::g_run_stats.fetch_or(1, std::memory_order_relaxed);
    } else {
        detail::g_run_stats.fetch_and(~std::uint32_t{1}, std::memory_order_relaxed);
    }
}

bool Registry::stats_enabled() noexcept { return detail::run_stats_on(); }

Result<Program> Registry::program_by_id(std::uint32_t id) {
    for (auto& [program, object] : detail::live_programs()) {
        if (program->id == id) {
            return Program(std::move(program), std::move(object));
        }
    }
    return Error::invalid("no program has id " + std::to_string(id));
}

Result<MapHandle> Registry::map_by_id(std::uint32_t id) {
    for (auto& map : detail::live_maps()) {
        if (map->id() == id) {
            const bool frozen = map->frozen();
            return MapHandle(std::move(map), frozen, {}, {}, std::nullopt, std::nullopt);
        }
    }
    return Error::invalid("no map has id " + std::to_string(id));
}

} // namespace embpf
