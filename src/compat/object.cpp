// bpf_object, bpf_program and bpf_link of the libbpf-compatible C API, over ObjectSpec, Object, Program and Hook.
#include "state.hpp"

#include "embpf/platform/platform.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <utility>

namespace embpf::compat {
namespace {

std::string object_name(const char* path, const bpf_object_open_opts& opts) {
    if (opts.object_name != nullptr) {
        return opts.object_name;
    }
    if (path == nullptr) {
        return "object";
    }
    return std::filesystem::path(path).stem().string();
}

bpf_object* open_spec(Result<ObjectSpec> spec, const char* what, std::string name, bool trusted) {
    if (!spec) {
        print(LIBBPF_WARN, "libbpf: failed to open %s: %s\n", what, spec.error().message.c_str());
        return fail_null<bpf_object>(errno_of(spec.error()));
    }
    auto object = std::unique_ptr<bpf_object>(new (std::nothrow) bpf_object);
    if (!object) {
        return fail_null<bpf_object>(ENOMEM);
    }
    object->name = std::move(name);
    object->platform = &spec->platform();
    object->trusted = trusted;
    for (const ProgramSpec& program : spec->programs()) {
        auto handle = std::make_unique<bpf_program>();
        handle->owner = object.get();
        handle->name = program.name();
        handle->section = program.section();
        handle->instructions = program.instructions().size();
        object->programs.push_back(std::move(handle));
    }
    for (const MapSpec& map : spec->maps()) {
        if (map.is_inner_template) {
            continue; // a shape for a map of maps' entries, not a map of its own
        }
        auto handle = std::make_unique<bpf_map>();
        handle->owner = object.get();
        handle->name = map.name;
        object->maps.push_back(std::move(handle));
    }
    object->spec = std::move(spec).value();
    return object.release();
}

struct Choice {
    const platform::Platform* platform = nullptr;
    bool trusted = false;
};

Choice chosen() {
    State& s = state();
    const std::lock_guard lock(s.mutex);
    return {s.platform, s.trusted};
}

// The spec to load: the programs whose autoload is off left out, with the program-array entries that name them.
ObjectSpec autoloaded(const bpf_object& object) {
    ObjectSpec spec = *object.spec;
    const auto dropped = [&](const std::string& name) {
        return std::any_of(object.programs.begin(), object.programs.end(),
                           [&](const auto& p) { return p->name == name && !p->autoload; });
    };
    std::erase_if(spec.programs(), [&](const ProgramSpec& p) { return dropped(p.name()); });
    for (MapSpec& map : spec.maps()) {
        std::erase_if(map.initial_entries, [&](const elf::MapDefinition::InitialEntry& entry) {
            return !entry.program.empty() && dropped(entry.program);
        });
    }
    return spec;
}

void close_owned(const bpf_object& object) {
    State& s = state();
    const std::lock_guard lock(s.mutex);
    for (const auto& program : object.programs) {
        if (program->fd >= 0) {
            s.descriptors.erase(program->fd);
        }
    }
    for (const auto& map : object.maps) {
        if (map->fd >= 0) {
            s.descriptors.erase(map->fd);
        }
    }
}

// The hook programs of `type` attach to through the C API, made on first use.
std::shared_ptr<HookBase> hook_for(const platform::ProgramType& type) {
    State& s = state();
    const std::lock_guard lock(s.mutex);
    auto& hook = s.hooks[type.name];
    if (!hook) {
        HookOptions options;
        options.fold = Fold::custom;
        // Every program runs (a monitor's programs all see the event); the first verdict that is not 0 stands.
        options.folder = [](std::uint64_t so_far, std::uint64_t verdict) {
            return std::pair<std::uint64_t, bool>{so_far != 0 ? so_far : verdict, false};
        };
        hook = std::make_shared<HookBase>(type, std::move(options));
    }
    return hook;
}

std::shared_ptr<HookBase> existing_hook(std::string_view type) {
    State& s = state();
    const std::lock_guard lock(s.mutex);
    const auto it = s.hooks.find(type);
    return it == s.hooks.end() ? nullptr : it->second;
}

} // namespace
} // namespace embpf::compat

using namespace embpf;
using compat::fail;
using compat::fail_null;

extern "C" {

bpf_object* bpf_object__open_file(const char* path, const bpf_object_open_opts* opts) {
    bpf_object_open_opts options;
    if (path == nullptr || !compat::read_opts(opts, options)) {
        return fail_null<bpf_object>(EINVAL);
    }
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
        compat::print(LIBBPF_WARN, "libbpf: failed to open %s: no such file\n", path);
        return fail_null<bpf_object>(ENOENT);
    }
    const compat::Choice choice = compat::chosen();
    return compat::open_spec(ObjectSpec::open(std::filesystem::path(path), choice.platform), path,
                             compat::object_name(path, options), choice.trusted);
}

bpf_object* bpf_object__open(const char* path) { return bpf_object__open_file(path, nullptr); }

bpf_object* bpf_object__open_mem(const void* obj_buf, size_t obj_buf_sz, const bpf_object_open_opts* opts) {
    bpf_object_open_opts options;
    if (obj_buf == nullptr || obj_buf_sz == 0 || !compat::read_opts(opts, options)) {
        return fail_null<bpf_object>(EINVAL);
    }
    const std::span bytes(static_cast<const std::uint8_t*>(obj_buf), obj_buf_sz);
    const compat::Choice choice = compat::chosen();
    return compat::open_spec(ObjectSpec::open(bytes, choice.platform), "object in memory",
                             compat::object_name(nullptr, options), choice.trusted);
}

int bpf_object__load(bpf_object* obj) {
    if (obj == nullptr) {
        return fail(EINVAL);
    }
    if (obj->load_tried) {
        compat::print(LIBBPF_WARN, "libbpf: object '%s': load can't be attempted twice\n", obj->name.c_str());
        return fail(EINVAL);
    }
    obj->load_tried = true;
    const ObjectSpec spec = compat::autoloaded(*obj);
    // Plugins are untrusted unless the host said otherwise: no helper that reads its memory (Linux's probe reads,
    // which linux() offers its trusted kernel programs) is theirs to call. The object keeps a copy of the platform.
    platform::Platform platform = *obj->platform;
    platform.set_for_untrusted_plugins(platform.for_untrusted_plugins() || !obj->trusted);
    auto loaded = Object::load(spec, platform);
    if (!loaded) {
        const Error& error = loaded.error();
        compat::print(LIBBPF_WARN, "libbpf: failed to load object '%s': %s\n", obj->name.c_str(),
                      error.message.c_str());
        if (error.report) {
            compat::print(LIBBPF_WARN, "%s", error.report->text().c_str());
        }
        return fail(compat::errno_of(error));
    }
    obj->object = std::move(loaded).value();
    // Descriptors for what loaded: programs (those autoloaded) and maps.
    for (auto& program : obj->programs) {
        if (!program->autoload) {
            continue;
        }
        auto handle = obj->object->program(program->name);
        if (!handle) {
            continue; // a program this build cannot run: bpf_program__fd says so with -EINVAL
        }
        program->program = *handle;
        program->fd = compat::add_descriptor({*handle, true});
    }
    for (auto& map : obj->maps) {
        auto handle = obj->object->map(map->name);
        if (!handle) {
            continue;
        }
        map->handle = *handle;
        map->fd = compat::add_descriptor({*handle, true});
    }
    obj->spec.reset();
    return 0;
}

void bpf_object__close(bpf_object* obj) {
    if (obj == nullptr) {
        return;
    }
    compat::close_owned(*obj);
    delete obj;
}

const char* bpf_object__name(const bpf_object* obj) {
    if (obj == nullptr) {
        return fail_null<const char>(EINVAL);
    }
    return obj->name.c_str();
}

bpf_program* bpf_object__find_program_by_name(const bpf_object* obj, const char* name) {
    if (obj == nullptr || name == nullptr) {
        return fail_null<bpf_program>(EINVAL);
    }
    for (const auto& program : obj->programs) {
        if (program->name == name) {
            return program.get();
        }
    }
    return fail_null<bpf_program>(ENOENT);
}

bpf_program* bpf_object__next_program(const bpf_object* obj, bpf_program* prog) {
    if (obj == nullptr) {
        return fail_null<bpf_program>(EINVAL);
    }
    if (prog == nullptr) {
        return obj->programs.empty() ? nullptr : obj->programs.front().get();
    }
    const auto it =
        std::find_if(obj->programs.begin(), obj->programs.end(), [&](const auto& p) { return p.get() == prog; });
    if (it == obj->programs.end() || std::next(it) == obj->programs.end()) {
        return nullptr;
    }
    return std::next(it)->get();
}

const char* bpf_program__name(const bpf_program* prog) {
    return prog != nullptr ? prog->name.c_str() : fail_null<const char>(EINVAL);
}

const char* bpf_program__section_name(const bpf_program* prog) {
    return prog != nullptr ? prog->section.c_str() : fail_null<const char>(EINVAL);
}

int bpf_program__fd(const bpf_program* prog) {
    if (prog == nullptr || prog->fd < 0) {
        return fail(EINVAL);
    }
    return prog->fd;
}

bool bpf_program__autoload(const bpf_program* prog) { return prog != nullptr && prog->autoload; }

int bpf_program__set_autoload(bpf_program* prog, bool autoload) {
    if (prog == nullptr) {
        return fail(EINVAL);
    }
    if (prog->owner->load_tried) {
        return fail(EBUSY);
    }
    prog->autoload = autoload;
    return 0;
}

size_t bpf_program__insn_cnt(const bpf_program* prog) { return prog != nullptr ? prog->instructions : 0; }

bpf_link* bpf_program__attach(const bpf_program* prog) {
    if (prog == nullptr) {
        return fail_null<bpf_link>(EINVAL);
    }
    if (!prog->program) {
        compat::print(LIBBPF_WARN, "libbpf: prog '%s': can't attach before it is loaded\n", prog->name.c_str());
        return fail_null<bpf_link>(EINVAL);
    }
    const auto hook = compat::hook_for(prog->program->type());
    auto link = hook->attach(*prog->program);
    if (!link) {
        compat::print(LIBBPF_WARN, "libbpf: prog '%s': failed to attach: %s\n", prog->name.c_str(),
                      link.error().message.c_str());
        return fail_null<bpf_link>(compat::errno_of(link.error()));
    }
    auto* handle = new (std::nothrow) bpf_link;
    if (handle == nullptr) {
        return fail_null<bpf_link>(ENOMEM);
    }
    handle->link.emplace(std::move(link).value());
    return handle;
}

int bpf_link__detach(bpf_link* link) {
    if (link == nullptr) {
        return fail(EINVAL);
    }
    link->link->detach();
    return 0;
}

int bpf_link__destroy(bpf_link* link) {
    delete link; // the Link detaches as it goes
    return 0;
}

int bpf_link__update_program(bpf_link* link, bpf_program* prog) {
    if (link == nullptr || prog == nullptr || !prog->program) {
        return fail(EINVAL);
    }
    if (!link->link->attached()) {
        return fail(ENOLINK);
    }
    if (auto replaced = link->link->replace(*prog->program); !replaced) {
        compat::print(LIBBPF_WARN, "libbpf: prog '%s': failed to replace the link's program: %s\n", prog->name.c_str(),
                      replaced.error().message.c_str());
        return fail(compat::errno_of(replaced.error()));
    }
    return 0;
}

int embpf_hook_invoke(const char* type, void* ctx, size_t ctx_size, uint64_t* verdict) {
    if (type == nullptr) {
        return fail(EINVAL);
    }
    const auto hook = compat::existing_hook(type);
    if (!hook) {
        if (verdict != nullptr) {
            *verdict = 0;
        }
        return 0;
    }
    const auto result = hook->invoke(ctx, ctx_size);
    if (!result) {
        compat::print(LIBBPF_WARN, "libbpf: hook '%s': %s\n", type, result.error().message.c_str());
        return fail(compat::errno_of(result.error()));
    }
    if (verdict != nullptr) {
        *verdict = *result;
    }
    return 0;
}

size_t embpf_hook_attached(const char* type) {
    if (type == nullptr) {
        return 0;
    }
    const auto hook = compat::existing_hook(type);
    return hook ? hook->size() : 0;
}

} // extern "C"
