// What the libbpf-compatible C API keeps: the C handles over the C++ API, the descriptor table, the hooks that stand
// in for the kernel's and the diagnostics callback. Internal to the compat stage.
#pragma once

#include "embpf/api/hook.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/api/registry.hpp"
#include "embpf/compat/libbpf.h"
#include "embpf/result.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

// The handles are the C API's opaque structs: declared in the global namespace by libbpf.h.
struct bpf_program {
    bpf_object* owner = nullptr;
    std::string name;
    std::string section;
    std::size_t instructions = 0;
    bool autoload = true;
    std::optional<embpf::Program> program; // once loaded
    int fd = -1;
};

struct bpf_map {
    bpf_object* owner = nullptr;
    std::string name;
    std::optional<embpf::MapHandle> handle; // once loaded
    int fd = -1;
};

struct bpf_object {
    std::string name;
    const embpf::platform::Platform* platform = nullptr; // chosen at open (embpf_set_platform), or by the file
    std::optional<embpf::ObjectSpec> spec;               // until the load
    std::optional<embpf::Object> object;                 // after it
    bool load_tried = false;
    bool trusted = false; // embpf_trust_plugins when it was opened
    std::vector<std::unique_ptr<bpf_program>> programs;
    std::vector<std::unique_ptr<bpf_map>> maps;
};

struct bpf_link {
    std::optional<embpf::Link> link;
};

namespace embpf::compat {

/// What a descriptor stands for: a program or a map. `owned` descriptors are their object's (closed with it).
struct Descriptor {
    std::variant<Program, MapHandle> target;
    bool owned = false;
};

/// The process's compat state. Every member is used under `mutex`, except that hooks are invoked outside it.
struct State {
    std::mutex mutex;
    std::map<int, Descriptor> descriptors;
    int next_fd = EMBPF_FD_BASE;
    Registry pins;
    platform::Platform* platform = nullptr;   // embpf_set_platform's choice: a copy the host may add helpers to
    std::deque<platform::Platform> platforms; // every platform chosen, kept for the objects opened on it
    std::map<std::string, std::shared_ptr<HookBase>, std::less<>> hooks;
    libbpf_print_fn_t print = nullptr;
    bool print_set = false;
    bool trusted = false; // embpf_trust_plugins
};

/// The state, made on first use and never destroyed: a descriptor or hook may be used from an exit handler.
State& state();

/// A descriptor for `target`; -EMFILE when the table is full.
int add_descriptor(Descriptor descriptor);

/// Prints through the callback libbpf_set_print set (warnings to stderr by default).
void print(libbpf_print_level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

/// The errno an Error stands for: its errnum, else one derived from its kind (EACCES for a verification failure).
[[nodiscard]] int errno_of(const Error& error) noexcept;

/// Reads a caller's options struct (libbpf's convention: its size first) into `out`: the fields its sz covers, the
/// rest 0. False for a size too small to hold sz, or one larger than T's with bytes past T that are not 0 (fields of a
/// newer header this build does not know).
template <typename T>
[[nodiscard]] bool read_opts(const T* in, T& out) noexcept {
    out = T{};
    if (in == nullptr) {
        return true;
    }
    const std::size_t size = in->sz;
    if (size < sizeof(in->sz)) {
        return false;
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(in);
    for (std::size_t i = sizeof(T); i < size; ++i) {
        if (bytes[i] != 0) {
            return false;
        }
    }
    std::memcpy(&out, in, size < sizeof(T) ? size : sizeof(T));
    return true;
}

/// Sets errno to `err` (positive) and returns -err: libbpf's convention for int results.
inline int fail(int err) noexcept {
    errno = err;
    return -err;
}
/// Sets errno and returns NULL: the convention for pointer results.
template <typename T>
T* fail_null(int err) noexcept {
    errno = err;
    return nullptr;
}

} // namespace embpf::compat
