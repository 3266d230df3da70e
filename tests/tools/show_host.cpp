// A small host for the tests of `embpf show`: it starts its introspection endpoint, loads the seeds' bind and XDP
// programs and a plugin for the request hook it describes in JSON, attaches each to a hook of its own, runs the
// hooks a known number of times, then runs the command after `--` and exits with that command's status. So the host
// lives exactly as long as the command needs it: a test waits for no socket and leaves none behind.
//
//   embpf_show_host --seeds DIR --platform request_host.json --plugin request_plugin.o [--socket PATH] [--no-stats]
//                   -- CMD ARGS...
//
// In CMD's arguments, {socket} stands for the endpoint's path and {pid} for this process's id. --no-stats starts the
// endpoint without run statistics, which then count nothing. The bind hook runs
// TraceConnections 3 times (three processes: proc_map gets 3 entries), the XDP hook packet_parse twice on a UDP packet
// (2 ring-buffer records), the request hook count_slashes 4 times, in the baseline JIT where the machine has one.
#include "embpf/embpf.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

// eBPF for Windows' bind_md_t and xdp_md_t, as the seeds' programs read them.
struct BindContext {
    const std::uint8_t* app_id_start = nullptr;
    const std::uint8_t* app_id_end = nullptr;
    std::uint64_t process_id = 0;
    std::uint8_t socket_address[16] = {};
    std::uint8_t socket_address_length = 0;
    std::int32_t operation = 0; // 0: bind
    std::uint8_t protocol = 0;
};
static_assert(sizeof(BindContext) == 56);

struct XdpContext {
    std::uint8_t* data = nullptr;
    std::uint8_t* data_end = nullptr;
    std::uint64_t data_meta = 0;
    std::uint32_t ingress_ifindex = 0;
};

// The request hook's context as request_host.json lays it out.
struct RequestContext {
    const std::uint8_t* path = nullptr;
    std::uint32_t path_len = 0;
    std::uint32_t method = 0;
    std::uint64_t reserved[2] = {};
    std::uint8_t* body = nullptr;
    std::uint32_t body_len = 0;
    std::uint32_t status = 0;
};
static_assert(sizeof(RequestContext) == 48);

// The host helper the plugin calls: it takes the path and has nothing to say back.
std::uint64_t log_request(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return 0; }

[[noreturn]] void fail(const std::string& what) {
    std::cerr << "embpf_show_host: " << what << '\n';
    std::exit(2);
}

template <typename T>
T check(embpf::Result<T> result, const std::string& what) {
    if (!result) {
        fail(what + ": " + result.error().message);
    }
    return std::move(result).value();
}

void check(const embpf::Result<void>& result, const std::string& what) {
    if (!result) {
        fail(what + ": " + result.error().message);
    }
}

embpf::Object load(const std::string& file, const embpf::platform::Platform& platform, embpf::exec::EngineKind engine) {
    auto spec = check(embpf::ObjectSpec::open(file, &platform), file);
    return check(embpf::Object::load(spec, platform, {.engine = engine}), file);
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
    return text;
}

int run_command(std::vector<std::string> command, const std::string& socket) {
    for (std::string& argument : command) {
        argument = replace_all(replace_all(std::move(argument), "{socket}", socket), "{pid}", std::to_string(getpid()));
    }
    std::vector<char*> argv;
    for (std::string& argument : command) {
        argv.push_back(argument.data());
    }
    argv.push_back(nullptr);
    std::cout.flush();
    pid_t child = 0;
    if (const int error = posix_spawn(&child, argv[0], nullptr, nullptr, argv.data(), environ); error != 0) {
        fail("cannot run " + command.front() + ": " + std::strerror(error));
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            fail(std::string("waitpid: ") + std::strerror(errno));
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

int main(int argc, char** argv) {
    std::string seeds;
    std::string platform_file;
    std::string plugin;
    std::string socket;
    bool stats = true;
    std::vector<std::string> command;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            command.assign(argv + i + 1, argv + argc);
            break;
        }
        if (arg == "--no-stats") {
            stats = false;
            continue;
        }
        if (i + 1 >= argc) {
            fail("option " + std::string(arg) + " needs a value");
        }
        if (arg == "--seeds") {
            seeds = argv[++i];
        } else if (arg == "--platform") {
            platform_file = argv[++i];
        } else if (arg == "--plugin") {
            plugin = argv[++i];
        } else if (arg == "--socket") {
            socket = argv[++i];
        } else {
            fail("unknown option " + std::string(arg));
        }
    }
    if (seeds.empty() || platform_file.empty() || plugin.empty() || command.empty()) {
        fail("usage: embpf_show_host --seeds DIR --platform FILE.json --plugin FILE.o [--socket PATH] [--no-stats] -- "
             "CMD ARGS...");
    }

    // The endpoint first, so that every run below is counted.
    embpf::IntrospectionServer server =
        check(embpf::IntrospectionServer::start({.path = socket, .stats = stats}), "introspection");

    // The request hook, from the host's description, with its helper's function.
    std::ifstream in(platform_file);
    std::stringstream text;
    text << in.rdbuf();
    embpf::platform::Platform host = check(embpf::platform::from_json(text.str()), platform_file);
    check(host.replace_implementation("log_request", log_request), "log_request");

    const embpf::platform::Platform& windows = embpf::platform::windows();
    const embpf::Object bind_object =
        load(seeds + "/TraceConnections.o", windows, embpf::exec::EngineKind::interpreter);
    const embpf::Object xdp_object = load(seeds + "/myxdp_stage4.o", windows, embpf::exec::EngineKind::interpreter);
    const embpf::Object request_object = load(plugin, host, embpf::exec::EngineKind::jit);

    embpf::HookBase bind_hook(*windows.program_type("bind"));
    embpf::HookBase xdp_hook(*windows.program_type("xdp"), {.pass = 2}); // XDP_PASS lets the next program decide
    embpf::HookBase request_hook(*host.program_type("request"));
    const embpf::Link bind_link =
        check(bind_hook.attach(check(bind_object.program("TraceConnections"), "bind")), "bind");
    const embpf::Link xdp_link = check(xdp_hook.attach(check(xdp_object.program("packet_parse"), "xdp")), "xdp");
    const embpf::Link request_link = check(
        request_hook.attach(check(request_object.program("count_slashes"), "request"), {.priority = 5}), "request");

    static const std::uint8_t app[] = "nginx.exe";
    for (std::uint64_t process : {42, 43, 44}) {
        BindContext bind{app, app + sizeof app - 1, process, {}, 0, 0, 0};
        check(bind_hook.invoke(&bind, sizeof bind), "bind run");
    }
    // Ethernet, IPv4 (protocol UDP) and UDP headers: one five-tuple for the ring buffer.
    std::uint8_t packet[42] = {0,    0,    0,    0,    0,    0, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x08,
                               0x00, 0x45, 0,    0,    0,    0, 0,    0,    0,    0,    0x11, 0,    0,
                               0xc0, 0xa8, 0x01, 0x14, 0x0a, 0, 0,    0x35, 0xce, 0xc8, 0,    0x35};
    for (int i = 0; i < 2; ++i) {
        XdpContext xdp{packet, packet + sizeof packet, 0, 1};
        check(xdp_hook.invoke(&xdp, sizeof xdp), "xdp run");
    }
    static const std::uint8_t path[] = "/a/b/c";
    std::uint8_t body = 0;
    for (int i = 0; i < 4; ++i) {
        RequestContext request{path, sizeof path - 1, 0, {}, &body, 0, 0};
        check(request_hook.invoke(&request, sizeof request), "request run");
    }

    return run_command(std::move(command), server.path());
}
