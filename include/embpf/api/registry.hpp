// The registry: what lives in the process (programs, maps, links, each with an id, as eBPF for Windows' and Linux's
// `show programs/maps/links`), and pins that keep a program or a map alive under a path, for a host that reloads
// plugins and hands state from one load to the next.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/exec/engine.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace embpf {

/// A loaded program, as the registry shows it.
struct ProgramInfo {
    std::uint32_t id = 0;
    std::string name;
    std::string section;
    std::string type;
    bool verified = false;
    std::size_t instructions = 0;
    std::vector<std::uint32_t> map_ids; ///< the maps it refers to
    /// The engine that runs its unchecked runs now (Program::engine()).
    exec::EngineKind engine = exec::EngineKind::interpreter;
    /// Its runs and the time they took, counted while run statistics are on (Registry::enable_stats), as Linux's
    /// run_cnt and run_time_ns: every run of the program (Program::run, run_checked and test_run, a hook's
    /// invocation, a tail call into it: each program of a chain counts its own run and time), a run's time including
    /// any invocation nested in it (a host helper that runs a program). A run on another thread may be in one count
    /// and not yet in the other.
    std::uint64_t run_count = 0;
    std::uint64_t run_time_ns = 0;
};

/// A map of a loaded object, as the registry shows it.
struct MapInfo {
    std::uint32_t id = 0;
    std::string name;
    platform::MapKind kind{};
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    std::uint32_t max_entries = 0;
    std::size_t memory = 0; ///< bytes allocated now
    /// The entries it holds now: the elements of a hash, LRU hash, LPM trie or hash of maps, the values in a queue or
    /// stack, and max_entries for every kind of array (each index always holds a value, zeros at first, as on
    /// Linux). nullopt for the kinds without entries to count (ring buffers, perf event arrays, bloom filters). Read
    /// without stopping updates: a map that changes meanwhile may show the count of a moment before or after.
    std::optional<std::size_t> entries;
};

/// A program attached to a hook, as the registry shows it.
struct LinkInfo {
    std::uint32_t id = 0;
    std::string hook; ///< the hook's program type
    std::uint32_t program_id = 0;
    std::string program_name; ///< the program attached now
    std::int32_t priority = 0;
};

/// Pins (paths that hold a program or a map) and the process's live programs, maps and links. The listings see every
/// program and map loaded through Object::load, and every link of every hook, while they live; a pin keeps its
/// program or map alive until it is unpinned or the registry goes. Thread-safe.
class Registry {
  public:
    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /// Pins `program` (or `map`) at `path`; an error when the path holds a pin already (unpin it first) or is empty.
    [[nodiscard]] Result<void> pin(std::string path, const Program& program);
    [[nodiscard]] Result<void> pin(std::string path, const MapHandle& map);
    /// What `path` holds; an error when it holds nothing, or the other kind.
    [[nodiscard]] Result<Program> program(std::string_view path) const;
    [[nodiscard]] Result<MapHandle> map(std::string_view path) const;
    /// Removes the pin at `path`: false when there was none.
    bool unpin(std::string_view path);
    /// Every path pinned, in order.
    [[nodiscard]] std::vector<std::string> pins() const;

    /// The programs, maps and links alive in the process now, in id order.
    [[nodiscard]] static std::vector<ProgramInfo> programs();
    [[nodiscard]] static std::vector<MapInfo> maps();
    [[nodiscard]] static std::vector<LinkInfo> links();
    /// A handle to the live program (map) with this id; an error when none has it.
    [[nodiscard]] static Result<Program> program_by_id(std::uint32_t id);
    [[nodiscard]] static Result<MapHandle> map_by_id(std::uint32_t id);

    /// Turns the process's run statistics on or off (ProgramInfo::run_count, run_time_ns), as Linux's
    /// kernel.bpf_stats_enabled: off, a run pays one relaxed load of a shared flag; on, it reads the monotonic clock
    /// twice and adds to two atomic counters of its program. They are also on while an IntrospectionServer started
    /// with IntrospectionOptions::stats lives, whatever this switch says. Counts survive turning them off.
    static void enable_stats(bool on) noexcept;
    /// Whether runs are counted now.
    [[nodiscard]] static bool stats_enabled() noexcept;

  private:
    mutable std::mutex m_mutex;
    std::map<std::string, std::variant<Program, MapHandle>, std::less<>> m_pins;
};

} // namespace embpf
