// The compat layer's shared state: the descriptor table, diagnostics, errno conventions and the platform choice.
#include "state.hpp"

#include "embpf/platform/json.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/runtime/slot.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>

namespace embpf::compat {

State& state() {
    // Never destroyed: handles and descriptors may outlive static destruction (a host's exit handler closing them).
    static State* const instance = new State;
    return *instance;
}

int add_descriptor(Descriptor descriptor) {
    State& s = state();
    const std::lock_guard lock(s.mutex);
    // Numbers are not reused while the table has room ahead, so a stale number a caller kept names nothing rather
    // than something else.
    if (s.next_fd == std::numeric_limits<int>::max()) {
        s.next_fd = EMBPF_FD_BASE;
    }
    while (s.descriptors.contains(s.next_fd)) {
        if (s.descriptors.size() >= static_cast<std::size_t>(std::numeric_limits<int>::max() - EMBPF_FD_BASE)) {
            return fail(EMFILE);
        }
        s.next_fd = s.next_fd == std::numeric_limits<int>::max() ? EMBPF_FD_BASE : s.next_fd + 1;
    }
    const int fd = s.next_fd++;
    s.descriptors.emplace(fd, std::move(descriptor));
    return fd;
}

namespace {

int print_to_stderr(libbpf_print_level level, const char* format, va_list args) {
    if (level != LIBBPF_WARN) {
        return 0;
    }
    return std::vfprintf(stderr, format, args);
}

} // namespace

void print(libbpf_print_level level, const char* format, ...) {
    libbpf_print_fn_t fn = nullptr;
    {
        State& s = state();
        const std::lock_guard lock(s.mutex);
        fn = s.print_set ? s.print : print_to_stderr;
    }
    if (fn == nullptr) {
        return;
    }
    va_list args;
    va_start(args, format);
    fn(level, format, args);
    va_end(args);
}

int errno_of(const Error& error) noexcept {
    if (error.errnum > 0) {
        return error.errnum;
    }
    if (error.report) {
        return EACCES; // as the kernel refuses a program its verifier rejects
    }
    switch (error.kind) {
    case ErrorKind::invalid_input: return EINVAL;
    case ErrorKind::unsupported: return EOPNOTSUPP;
    case ErrorKind::runtime: return EFAULT;
    case ErrorKind::internal: return EIO;
    }
    return EINVAL;
}

} // namespace embpf::compat

using namespace embpf;

extern "C" {

libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn) {
    compat::State& s = compat::state();
    const std::lock_guard lock(s.mutex);
    const libbpf_print_fn_t before = s.print_set ? s.print : compat::print_to_stderr;
    s.print = fn;
    s.print_set = true;
    return before;
}

int libbpf_num_possible_cpus(void) { return static_cast<int>(runtime::slot_count()); }

int libbpf_strerror(int err, char* buf, size_t size) {
    if (buf == nullptr || size == 0) {
        return compat::fail(EINVAL);
    }
    const int positive = err < 0 ? -err : err;
    const char* const text = positive == 0 ? "Success" : strerrordesc_np(positive);
    std::snprintf(buf, size, "%s", text != nullptr ? text : "Unknown error");
    return text != nullptr ? 0 : compat::fail(ENOENT);
}

int embpf_set_platform(const char* name) {
    compat::State& s = compat::state();
    if (name == nullptr) {
        const std::lock_guard lock(s.mutex);
        s.platform = nullptr;
        return 0;
    }
    const std::string chosen(name);
    if (chosen == "windows" || chosen == "linux") {
        // A copy, so that embpf_set_helper may change it without touching the built-in platform.
        const std::lock_guard lock(s.mutex);
        s.platform = &s.platforms.emplace_back(chosen == "windows" ? platform::windows() : platform::linux());
        return 0;
    }
    std::error_code error;
    if (std::filesystem::is_directory(chosen, error)) {
        return compat::fail(EISDIR);
    }
    std::ifstream in(chosen, std::ios::binary);
    if (!in) {
        const int err = errno != 0 ? errno : ENOENT;
        compat::print(LIBBPF_WARN, "libbpf: embpf_set_platform: cannot open %s: %s\n", name, std::strerror(err));
        return compat::fail(err);
    }
    // Read up to a limit: a path such as /dev/zero never ends.
    constexpr std::size_t kLimit = std::size_t{64} << 20;
    std::string text;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > kLimit) {
            compat::print(LIBBPF_WARN, "libbpf: embpf_set_platform: %s is longer than 64 MiB\n", name);
            return compat::fail(EFBIG);
        }
    }
    auto described = platform::from_json(text);
    if (!described) {
        compat::print(LIBBPF_WARN, "libbpf: embpf_set_platform: %s: %s\n", name, described.error().message.c_str());
        return compat::fail(EINVAL);
    }
    const std::lock_guard lock(s.mutex);
    s.platform = &s.platforms.emplace_back(std::move(described).value());
    return 0;
}

void embpf_trust_plugins(bool trusted) {
    compat::State& s = compat::state();
    const std::lock_guard lock(s.mutex);
    s.trusted = trusted;
}

int embpf_set_helper(const char* name, embpf_helper_fn fn) {
    if (name == nullptr || fn == nullptr) {
        return compat::fail(EINVAL);
    }
    compat::State& s = compat::state();
    std::optional<Error> refused;
    {
        const std::lock_guard lock(s.mutex);
        if (s.platform == nullptr) {
            return compat::fail(EINVAL);
        }
        const std::string_view wanted(name);
        const bool known = s.platform->helper_by_name(wanted) != nullptr ||
                           std::any_of(s.platform->program_types().begin(), s.platform->program_types().end(),
                                       [&](const platform::ProgramType& type) {
                                           return std::any_of(type.own_helpers.begin(), type.own_helpers.end(),
                                                              [&](const auto& h) { return h.name == wanted; });
                                       });
        if (!known) {
            return compat::fail(ENOENT);
        }
        if (auto replaced = s.platform->replace_implementation(wanted, fn); !replaced) {
            refused = std::move(replaced).error();
        }
    }
    if (refused) {
        compat::print(LIBBPF_WARN, "libbpf: embpf_set_helper: %s\n", refused->message.c_str());
        return compat::fail(compat::errno_of(*refused));
    }
    return 0;
}

} // extern "C"
