// The registry: what lives in the process (programs, maps, links, each with an id, as eBPF for Windows' and Linux's
// `show programs/maps/links`), and pins that keep a program or a map alive under a path, for a host that reloads
// plugins and hands state from one load to the next.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
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
};

/// A program attached to a hook, as the registry shows it.
struct LinkInfo {
    std::uint32_t id = 0;
    std::string hook; ///< the hook's program type
    std::uint32_t program_id = 0;
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

  private:
    mutable std::mutex m_mutex;
    std::map<std::string, std::variant<Program, MapHandle>, std::less<>> m_pins;
};

} // namespace embpf
