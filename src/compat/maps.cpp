// Maps and programs by descriptor, bpf_map of an object, test runs and pins of the libbpf-compatible C API.
#include "state.hpp"

#include "embpf/platform/platform.hpp"
#include "embpf/runtime/map.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace embpf::compat {
namespace {

// What a descriptor stands for, copied out of the table so that no lock is held while it is used.
std::optional<Descriptor> descriptor(int fd) {
    State& s = state();
    const std::lock_guard lock(s.mutex);
    const auto it = s.descriptors.find(fd);
    if (it == s.descriptors.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<MapHandle> map_of(int fd) {
    auto found = descriptor(fd);
    if (!found) {
        return std::nullopt;
    }
    if (auto* map = std::get_if<MapHandle>(&found->target)) {
        return *map;
    }
    return std::nullopt;
}

std::optional<Program> program_of(int fd) {
    auto found = descriptor(fd);
    if (!found) {
        return std::nullopt;
    }
    if (auto* program = std::get_if<Program>(&found->target)) {
        return *program;
    }
    return std::nullopt;
}

int failed(const Error& error) {
    print(LIBBPF_INFO, "libbpf: %s\n", error.message.c_str());
    return fail(errno_of(error));
}

// Keys are absent (NULL) for queues, stacks and bloom filters, whose key size is 0.
std::span<const std::uint8_t> key_bytes(const MapHandle& map, const void* key) {
    return {static_cast<const std::uint8_t*>(key), key == nullptr ? 0 : map.key_size()};
}

// A key where the map has none (queues, stacks, bloom filters take NULL, as Linux's syscall), or none where it has.
bool wrong_key(const MapHandle& map, const void* key) { return (key == nullptr) != (map.key_size() == 0); }

std::size_t host_value_size(const MapHandle& map) { return map.runtime_map()->host_value_size(); }

bool is_map_of_maps(const MapHandle& map) {
    return map.kind() == platform::MapKind::array_of_maps || map.kind() == platform::MapKind::hash_of_maps;
}

int lookup(const MapHandle& map, const void* key, void* value) {
    if (value == nullptr || wrong_key(map, key)) {
        return fail(EINVAL);
    }
    const auto key_span = key_bytes(map, key);
    if (is_map_of_maps(map)) {
        // Linux gives the inner map's id.
        auto inner = static_cast<const runtime::MapOfMaps&>(*map.runtime_map()).inner_map(key_span);
        if (!inner) {
            return failed(inner.error());
        }
        if (!*inner) {
            return fail(ENOENT);
        }
        const std::uint32_t id = (*inner)->id();
        std::memcpy(value, &id, sizeof id);
        return 0;
    }
    const std::span out(static_cast<std::uint8_t*>(value), host_value_size(map));
    auto found = map.runtime_map()->host_lookup(key_span, out);
    if (!found) {
        return failed(found.error());
    }
    return *found ? 0 : fail(ENOENT);
}

int update(MapHandle& map, const void* key, const void* value, std::uint64_t flags) {
    if (value == nullptr || wrong_key(map, key)) {
        return fail(EINVAL);
    }
    const auto key_span = key_bytes(map, key);
    if (map.kind() == platform::MapKind::prog_array) {
        // The value is a program's descriptor, as for Linux's tail-call tables.
        int fd = 0;
        std::memcpy(&fd, value, sizeof fd);
        const auto program = program_of(fd);
        if (!program) {
            return fail(EBADF);
        }
        std::uint32_t index = 0;
        std::memcpy(&index, key, sizeof index);
        auto set = map.set_program(index, *program);
        return set ? 0 : failed(set.error());
    }
    if (is_map_of_maps(map)) {
        int fd = 0;
        std::memcpy(&fd, value, sizeof fd);
        const auto inner = map_of(fd);
        if (!inner) {
            return fail(EBADF);
        }
        auto set =
            static_cast<runtime::MapOfMaps&>(*map.runtime_map()).set_inner(key_span, inner->runtime_map(), flags);
        return set ? 0 : failed(set.error());
    }
    const std::span in(static_cast<const std::uint8_t*>(value), host_value_size(map));
    auto updated = map.update(key_span, in, flags);
    return updated ? 0 : failed(updated.error());
}

int erase(MapHandle& map, const void* key) {
    if (wrong_key(map, key)) {
        return fail(EINVAL);
    }
    auto erased = map.erase(key_bytes(map, key));
    if (!erased) {
        return failed(erased.error());
    }
    return *erased ? 0 : fail(ENOENT);
}

int next_key(const MapHandle& map, const void* key, void* next) {
    if (next == nullptr || map.key_size() == 0) {
        return fail(EINVAL); // maps without keys (queues, stacks) have nothing to iterate
    }
    const std::span out(static_cast<std::uint8_t*>(next), map.key_size());
    auto more = map.runtime_map()->next_key(key_bytes(map, key), out);
    if (!more) {
        return failed(more.error());
    }
    return *more ? 0 : fail(ENOENT);
}

// Checks the sizes the bpf_map__* calls take against the map's.
int check_sizes(const bpf_map* map, std::size_t key_sz, std::optional<std::size_t> value_sz) {
    if (map == nullptr) {
        return fail(EINVAL);
    }
    if (!map->handle) {
        return fail(ENOENT); // the object is not loaded, or this map did not load
    }
    if (key_sz != map->handle->key_size()) {
        print(LIBBPF_WARN, "libbpf: map '%s': unexpected key size %zu provided, expected %u\n", map->name.c_str(),
              key_sz, map->handle->key_size());
        return fail(EINVAL);
    }
    if (value_sz && *value_sz != host_value_size(*map->handle)) {
        print(LIBBPF_WARN, "libbpf: map '%s': unexpected value size %zu provided, expected %zu\n", map->name.c_str(),
              *value_sz, host_value_size(*map->handle));
        return fail(EINVAL);
    }
    return 0;
}

const MapSpec* spec_of(const bpf_map* map) { return map->owner->spec ? map->owner->spec->map(map->name) : nullptr; }

int pin(int fd, const char* path) {
    if (path == nullptr || *path == '\0') {
        return fail(EINVAL);
    }
    const auto found = descriptor(fd);
    if (!found) {
        return fail(EBADF);
    }
    State& s = state();
    const Result<void> pinned = std::visit([&](const auto& target) { return s.pins.pin(path, target); }, found->target);
    if (!pinned) {
        return fail(s.pins.program(path) || s.pins.map(path) ? EEXIST : errno_of(pinned.error()));
    }
    return 0;
}

} // namespace
} // namespace embpf::compat

using namespace embpf;
using compat::fail;

extern "C" {

const char* bpf_map__name(const bpf_map* map) {
    return map != nullptr ? map->name.c_str() : compat::fail_null<const char>(EINVAL);
}

bpf_map_type bpf_map__type(const bpf_map* map) {
    if (map == nullptr) {
        return BPF_MAP_TYPE_UNSPEC;
    }
    std::optional<platform::MapKind> kind;
    if (map->handle) {
        kind = map->handle->kind();
    } else if (const MapSpec* spec = compat::spec_of(map)) {
        if (auto known = map->owner->platform->map_kind(spec->type)) {
            kind = *known;
        }
    }
    // Linux's numbers, which this header's enum has.
    const auto id = kind ? platform::linux().map_type_id(*kind) : std::nullopt;
    return static_cast<bpf_map_type>(id.value_or(BPF_MAP_TYPE_UNSPEC));
}

uint32_t bpf_map__key_size(const bpf_map* map) {
    if (map == nullptr) {
        return 0;
    }
    if (map->handle) {
        return map->handle->key_size();
    }
    const MapSpec* spec = compat::spec_of(map);
    return spec != nullptr ? spec->key_size : 0;
}

uint32_t bpf_map__value_size(const bpf_map* map) {
    if (map == nullptr) {
        return 0;
    }
    if (map->handle) {
        return map->handle->value_size();
    }
    const MapSpec* spec = compat::spec_of(map);
    return spec != nullptr ? spec->value_size : 0;
}

uint32_t bpf_map__max_entries(const bpf_map* map) {
    if (map == nullptr) {
        return 0;
    }
    if (map->handle) {
        return map->handle->max_entries();
    }
    const MapSpec* spec = compat::spec_of(map);
    return spec != nullptr ? spec->max_entries : 0;
}

int bpf_map__set_max_entries(bpf_map* map, uint32_t max_entries) {
    if (map == nullptr) {
        return fail(EINVAL);
    }
    if (map->owner->load_tried) {
        return fail(EBUSY);
    }
    MapSpec* spec = map->owner->spec->map(map->name);
    if (spec == nullptr) {
        return fail(EINVAL);
    }
    spec->max_entries = max_entries;
    return 0;
}

int bpf_map__fd(const bpf_map* map) {
    if (map == nullptr || map->fd < 0) {
        return fail(EINVAL);
    }
    return map->fd;
}

int bpf_object__find_map_fd_by_name(const bpf_object* obj, const char* name) {
    const bpf_map* map = bpf_object__find_map_by_name(obj, name);
    return map != nullptr ? bpf_map__fd(map) : fail(ENOENT);
}

bpf_map* bpf_object__find_map_by_name(const bpf_object* obj, const char* name) {
    if (obj == nullptr || name == nullptr) {
        return compat::fail_null<bpf_map>(EINVAL);
    }
    for (const auto& map : obj->maps) {
        if (map->name == name) {
            return map.get();
        }
    }
    return compat::fail_null<bpf_map>(ENOENT);
}

bpf_map* bpf_object__next_map(const bpf_object* obj, const bpf_map* map) {
    if (obj == nullptr) {
        return compat::fail_null<bpf_map>(EINVAL);
    }
    if (map == nullptr) {
        return obj->maps.empty() ? nullptr : obj->maps.front().get();
    }
    const auto it = std::find_if(obj->maps.begin(), obj->maps.end(), [&](const auto& m) { return m.get() == map; });
    if (it == obj->maps.end() || std::next(it) == obj->maps.end()) {
        return nullptr;
    }
    return std::next(it)->get();
}

int bpf_map__lookup_elem(const bpf_map* map, const void* key, size_t key_sz, void* value, size_t value_sz,
                         uint64_t flags) {
    if (const int bad = compat::check_sizes(map, key_sz, value_sz)) {
        return bad;
    }
    if (flags != 0) {
        return fail(EINVAL); // BPF_F_LOCK: see bpf_map_update_elem
    }
    return compat::lookup(*map->handle, key, value);
}

int bpf_map__update_elem(const bpf_map* map, const void* key, size_t key_sz, const void* value, size_t value_sz,
                         uint64_t flags) {
    if (const int bad = compat::check_sizes(map, key_sz, value_sz)) {
        return bad;
    }
    MapHandle handle = *map->handle;
    return compat::update(handle, key, value, flags);
}

int bpf_map__delete_elem(const bpf_map* map, const void* key, size_t key_sz, uint64_t flags) {
    if (const int bad = compat::check_sizes(map, key_sz, std::nullopt)) {
        return bad;
    }
    if (flags != 0) {
        return fail(EINVAL);
    }
    MapHandle handle = *map->handle;
    return compat::erase(handle, key);
}

int bpf_map__get_next_key(const bpf_map* map, const void* cur_key, void* next_key, size_t key_sz) {
    if (const int bad = compat::check_sizes(map, key_sz, std::nullopt)) {
        return bad;
    }
    return compat::next_key(*map->handle, cur_key, next_key);
}

int bpf_map_lookup_elem(int fd, const void* key, void* value) {
    const auto map = compat::map_of(fd);
    return map ? compat::lookup(*map, key, value) : fail(EBADF);
}

int bpf_map_update_elem(int fd, const void* key, const void* value, uint64_t flags) {
    auto map = compat::map_of(fd);
    return map ? compat::update(*map, key, value, flags) : fail(EBADF);
}

int bpf_map_delete_elem(int fd, const void* key) {
    auto map = compat::map_of(fd);
    return map ? compat::erase(*map, key) : fail(EBADF);
}

int bpf_map_lookup_and_delete_elem(int fd, const void* key, void* value) {
    const auto map = compat::map_of(fd);
    if (!map) {
        return fail(EBADF);
    }
    if (value == nullptr || compat::wrong_key(*map, key)) {
        return fail(EINVAL);
    }
    if (map->frozen()) {
        return fail(EPERM);
    }
    const std::span out(static_cast<std::uint8_t*>(value), compat::host_value_size(*map));
    auto found = map->runtime_map()->host_lookup_and_erase(compat::key_bytes(*map, key), out);
    if (!found) {
        return compat::failed(found.error());
    }
    return *found ? 0 : fail(ENOENT);
}

int bpf_map_get_next_key(int fd, const void* key, void* next_key) {
    const auto map = compat::map_of(fd);
    return map ? compat::next_key(*map, key, next_key) : fail(EBADF);
}

int bpf_prog_test_run_opts(int prog_fd, bpf_test_run_opts* opts) {
    const auto program = compat::program_of(prog_fd);
    if (!program) {
        return fail(EBADF);
    }
    bpf_test_run_opts in;
    if (opts == nullptr || !compat::read_opts(opts, in) || in.flags != 0 || in.cpu != 0 || in.batch_size != 0) {
        return fail(EINVAL);
    }
    if ((in.data_size_in != 0 && in.data_in == nullptr) || (in.ctx_size_in != 0 && in.ctx_in == nullptr)) {
        return fail(EINVAL);
    }
    TestRunOptions run;
    run.data_in = {static_cast<const std::uint8_t*>(in.data_in), in.data_size_in};
    run.ctx_in = {static_cast<const std::uint8_t*>(in.ctx_in), in.ctx_size_in};
    run.repeat = in.repeat > 0 ? static_cast<std::uint32_t>(in.repeat) : 1;
    auto result = program->test_run(run);
    if (!result) {
        compat::print(LIBBPF_WARN, "libbpf: prog '%s': test run failed: %s\n", program->name().c_str(),
                      result.error().message.c_str());
        return fail(compat::errno_of(result.error()));
    }
    // Outputs are copied as far as they fit, and their sizes say how much there was, as the kernel does.
    bool truncated = false;
    const auto copy_out = [&](const std::vector<std::uint8_t>& from, void* to, std::uint32_t& size) {
        if (to == nullptr) {
            return;
        }
        const std::size_t n = std::min<std::size_t>(from.size(), size);
        std::memcpy(to, from.data(), n);
        truncated = truncated || n < from.size();
        size = static_cast<std::uint32_t>(from.size());
    };
    copy_out(result->data_out, in.data_out, in.data_size_out);
    copy_out(result->ctx_out, in.ctx_out, in.ctx_size_out);
    in.retval = static_cast<std::uint32_t>(result->retval);
    const auto ns = static_cast<std::uint64_t>(result->duration.count());
    in.duration = static_cast<std::uint32_t>(std::min<std::uint64_t>(ns, std::numeric_limits<std::uint32_t>::max()));
    // Only the fields the caller's struct has are written back.
    const auto put = [&](std::size_t offset, std::size_t size) {
        if (offset + size <= opts->sz) {
            std::memcpy(reinterpret_cast<unsigned char*>(opts) + offset, reinterpret_cast<unsigned char*>(&in) + offset,
                        size);
        }
    };
    put(offsetof(bpf_test_run_opts, data_size_out), sizeof in.data_size_out);
    put(offsetof(bpf_test_run_opts, ctx_size_out), sizeof in.ctx_size_out);
    put(offsetof(bpf_test_run_opts, retval), sizeof in.retval);
    put(offsetof(bpf_test_run_opts, duration), sizeof in.duration);
    return truncated ? fail(ENOSPC) : 0;
}

int bpf_obj_pin(int fd, const char* path) { return compat::pin(fd, path); }

int bpf_obj_get(const char* path) {
    if (path == nullptr) {
        return fail(EINVAL);
    }
    compat::State& s = compat::state();
    if (auto program = s.pins.program(path)) {
        return compat::add_descriptor({std::move(program).value(), false});
    }
    if (auto map = s.pins.map(path)) {
        return compat::add_descriptor({std::move(map).value(), false});
    }
    return fail(ENOENT);
}

int embpf_obj_unpin(const char* path) {
    if (path == nullptr) {
        return fail(EINVAL);
    }
    return compat::state().pins.unpin(path) ? 0 : fail(ENOENT);
}

int bpf_map__pin(bpf_map* map, const char* path) {
    if (map == nullptr || map->fd < 0) {
        return fail(EINVAL);
    }
    return compat::pin(map->fd, path);
}

int bpf_map__unpin(bpf_map* map, const char* path) { return map != nullptr ? embpf_obj_unpin(path) : fail(EINVAL); }

int bpf_program__pin(bpf_program* prog, const char* path) {
    if (prog == nullptr || prog->fd < 0) {
        return fail(EINVAL);
    }
    return compat::pin(prog->fd, path);
}

int bpf_program__unpin(bpf_program* prog, const char* path) {
    return prog != nullptr ? embpf_obj_unpin(path) : fail(EINVAL);
}

int bpf_prog_get_fd_by_id(uint32_t id) {
    auto program = Registry::program_by_id(id);
    return program ? compat::add_descriptor({std::move(program).value(), false}) : fail(ENOENT);
}

int bpf_map_get_fd_by_id(uint32_t id) {
    auto map = Registry::map_by_id(id);
    return map ? compat::add_descriptor({std::move(map).value(), false}) : fail(ENOENT);
}

int embpf_fd_close(int fd) {
    compat::State& s = compat::state();
    const std::lock_guard lock(s.mutex);
    const auto it = s.descriptors.find(fd);
    if (it == s.descriptors.end() || it->second.owned) {
        return fail(EBADF);
    }
    s.descriptors.erase(it);
    return 0;
}

} // extern "C"
