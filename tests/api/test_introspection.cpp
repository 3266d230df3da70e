// The introspection endpoint and the run statistics it shows: what counts as a run, the server's answers, clients
// that misbehave, clients of another user, stopping under load, and the paths it refuses to take over.
#include "embpf/api/introspection.hpp"

#include "embpf/api/hook.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/registry.hpp"
#include "embpf/platform/platform.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;
using testing_seeds::BindContext;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A directory of the test's own, removed with what it holds.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string name = (std::filesystem::temp_directory_path() / "embpf-introspection-XXXXXX").string();
        REQUIRE(::mkdtemp(name.data()) != nullptr);
        path = name;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code error;
        std::filesystem::remove_all(path, error);
    }
    [[nodiscard]] std::string file(const char* name) const { return (path / name).string(); }
};

Object load(const std::string& path, const platform::Platform* platform, bool unverified) {
    auto spec = ObjectSpec::open(std::filesystem::path(path), platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, spec->platform(), {.unverified = unverified});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

ProgramInfo info_of(const Program& program) {
    const std::vector<ProgramInfo> all = Registry::programs();
    const auto it = std::find_if(all.begin(), all.end(), [&](const ProgramInfo& p) { return p.id == program.id(); });
    REQUIRE(it != all.end());
    return *it;
}

MapInfo info_of(const MapHandle& map) {
    const std::vector<MapInfo> all = Registry::maps();
    const auto it = std::find_if(all.begin(), all.end(), [&](const MapInfo& m) { return m.id == map.id(); });
    REQUIRE(it != all.end());
    return *it;
}

void run_bind(const Program& program, std::uint64_t process_id, bool checked = false) {
    static const char app[] = "app.exe";
    BindContext ctx;
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;
    ctx.process_id = process_id;
    if (checked) {
        REQUIRE(program.run_checked(&ctx, sizeof ctx).has_value());
    } else {
        REQUIRE(program.run(&ctx, sizeof ctx).has_value());
    }
}

sockaddr_un address_of(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

// A client that talks to the socket byte by byte. Its reads give up after a minute, so that a test fails rather than
// hangs; nothing waits on a shorter clock.
struct RawClient {
    int fd = -1;
    explicit RawClient(const std::string& path) {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        const timeval minute{60, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &minute, sizeof minute);
        const sockaddr_un address = address_of(path);
        REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;
    ~RawClient() { ::close(fd); }

    void send(const std::string& bytes) const {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
    }
    void close_writing() const { ::shutdown(fd, SHUT_WR); }
    // Everything until the server closes the connection; nullopt when the read timed out.
    [[nodiscard]] std::optional<std::string> read_all() const {
        std::string out;
        char buffer[4096];
        for (;;) {
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got == 0 || (got < 0 && errno == ECONNRESET)) {
                return out;
            }
            if (got < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return std::nullopt;
            }
            out.append(buffer, static_cast<std::size_t>(got));
        }
    }
};

IntrospectionServer start(IntrospectionOptions options) {
    auto server = IntrospectionServer::start(std::move(options));
    REQUIRE_MESSAGE(server.has_value(), (server ? "" : server.error().message));
    return std::move(server).value();
}

std::string ask(const std::string& path, const char* request) {
    auto answer = introspect(path, request, std::chrono::minutes(1));
    REQUIRE_MESSAGE(answer.has_value(), (answer ? "" : answer.error().message));
    return std::move(answer).value();
}

} // namespace

TEST_SUITE_BEGIN("api introspection");

TEST_CASE("introspection: run statistics count each program's runs, tail calls and hooks included, while on") {
    Registry::enable_stats(false);
    REQUIRE_FALSE(Registry::stats_enabled()); // no server of another test case is left holding them
    const Object object = load(std::string(EMBPF_TEST_TAIL_DIR) + "/tail_calls.o", nullptr, true);
    auto programs = object.map("programs");
    REQUIRE(programs.has_value());
    const Program dispatch = object.program("dispatch").value();
    const Program target = object.program("target_one").value();
    REQUIRE(programs->set_program(0, target).has_value());

    run_bind(dispatch, 0); // off: not counted
    CHECK(info_of(dispatch).run_count == 0);
    CHECK(info_of(dispatch).run_time_ns == 0);

    Registry::enable_stats(true);
    CHECK(Registry::stats_enabled());
    run_bind(dispatch, 0);
    run_bind(dispatch, 0);
    run_bind(dispatch, 0, true); // a checked run counts too
    run_bind(dispatch, 7);       // a tail call that fails: dispatch alone ran
    CHECK(info_of(dispatch).run_count == 4);
    CHECK(info_of(target).run_count == 3); // each tail call into it
    CHECK(info_of(dispatch).run_time_ns > 0);
    CHECK(info_of(dispatch).engine == dispatch.engine());

    HookBase hook(dispatch.type());
    const Link link = hook.attach(target).value();
    BindContext ctx;
    static const std::uint8_t app[] = "x";
    ctx.app_id_start = app;
    ctx.app_id_end = app + 1;
    REQUIRE(hook.invoke(&ctx, sizeof ctx).has_value());
    CHECK(info_of(target).run_count == 4);

    Registry::enable_stats(false);
    run_bind(dispatch, 0);
    CHECK(info_of(dispatch).run_count == 4); // kept, not counted on
    CHECK(info_of(target).run_count == 4);
}

TEST_CASE("introspection: a verified program's engine, and map entries as each kind counts them") {
    const Object object =
        load(std::string(EMBPF_TEST_API_DIR) + "/test_double.o", &platform::linux(), /*unverified=*/false);
    const Program stamp = object.program("stamp").value();
    CHECK(info_of(stamp).engine == stamp.engine());
    MapHandle counts = object.map("counts").value();
    CHECK(info_of(counts).entries == std::optional<std::size_t>(0));
    const std::uint64_t one = 1;
    for (const std::uint32_t key : {1U, 2U, 2U}) {
        REQUIRE(counts
                    .update({reinterpret_cast<const std::uint8_t*>(&key), sizeof key},
                            {reinterpret_cast<const std::uint8_t*>(&one), sizeof one})
                    .has_value());
    }
    CHECK(info_of(counts).entries == std::optional<std::size_t>(2));
    CHECK(info_of(object.map("seen").value()).entries == std::optional<std::size_t>(4)); // an array's every index
}

TEST_CASE("introspection: the server answers programs, maps, links and version as JSON") {
    const TempDir dir;
    const Object object =
        load(std::string(EMBPF_TEST_API_DIR) + "/test_double.o", &platform::linux(), /*unverified=*/false);
    const Program stamp = object.program("stamp").value();
    HookBase hook(stamp.type());
    const Link link = hook.attach(stamp, {.priority = 3}).value();

    IntrospectionServer server = start({.path = dir.file("host.sock")});
    CHECK(server.path() == dir.file("host.sock"));
    CHECK(Registry::stats_enabled()); // held while the server lives
    struct stat info {};
    REQUIRE(::lstat(server.path().c_str(), &info) == 0);
    CHECK(S_ISSOCK(info.st_mode));
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(info.st_uid == ::geteuid());

    const std::string programs = ask(server.path(), "programs");
    CHECK(contains(programs, "{\"version\":1,\"stats_enabled\":true,\"programs\":["));
    CHECK(contains(programs, "{\"id\":" + std::to_string(stamp.id()) +
                                 ",\"name\":\"stamp\",\"section\":\"xdp\",\"type\":\"xdp\",\"engine\":\"" +
                                 std::string(exec::to_string(stamp.engine())) + "\",\"verified\":true"));
    const std::string maps = ask(server.path(), "maps");
    const MapHandle seen = object.map("seen").value();
    CHECK(contains(maps, "{\"id\":" + std::to_string(seen.id()) +
                             ",\"name\":\"seen\",\"kind\":\"array\",\"key_size\":4,\"value_size\":8,"
                             "\"max_entries\":4,\"entries\":4,\"memory\":"));
    const std::string links = ask(server.path(), "links");
    CHECK(contains(links, "{\"id\":" + std::to_string(link.id()) + ",\"hook\":\"xdp\",\"program_id\":" +
                              std::to_string(stamp.id()) + ",\"program\":\"stamp\",\"priority\":3}"));
    const std::string version = ask(server.path(), "version");
    CHECK(contains(version, "\"pid\":" + std::to_string(::getpid())));
    CHECK(contains(ask(server.path(), "nonsense"), "\"error\":\"unknown request \\\"nonsense\\\""));
    CHECK(introspection_answer("links") == links);

    server.stop();
    CHECK(server.path().empty());
    CHECK_FALSE(std::filesystem::exists(dir.file("host.sock")));
    CHECK_FALSE(Registry::stats_enabled());
    auto gone = introspect(dir.file("host.sock"), "programs");
    REQUIRE_FALSE(gone.has_value());
    CHECK(contains(gone.error().message, "no embpf host listens at " + dir.file("host.sock")));
}

TEST_CASE("introspection: garbage, long, half-closed and silent clients") {
    const TempDir dir;
    IntrospectionServer server =
        start({.path = dir.file("s"), .stats = false, .client_timeout = std::chrono::milliseconds(200)});
    CHECK_FALSE(Registry::stats_enabled());
    {
        const RawClient client(server.path());
        client.send(std::string("\x00\xff\x01 garbage\n", 12));
        const auto answer = client.read_all();
        REQUIRE(answer.has_value());
        CHECK(contains(*answer, "\"error\":\"unknown request"));
        CHECK(answer->back() == '\n');
    }
    {
        const RawClient client(server.path());
        client.send(std::string(kMaxIntrospectionRequest + 40, 'a'));
        const auto answer = client.read_all();
        REQUIRE(answer.has_value());
        CHECK(contains(*answer, "a request is one line of at most 255 bytes"));
    }
    {
        const RawClient client(server.path());
        client.send("maps"); // no newline: the end of the stream ends the request
        client.close_writing();
        const auto answer = client.read_all();
        REQUIRE(answer.has_value());
        CHECK(contains(*answer, "\"maps\":["));
    }
    {
        const RawClient client(server.path());
        client.send("links\r\n");
        const auto answer = client.read_all();
        REQUIRE(answer.has_value());
        CHECK(contains(*answer, "\"links\":["));
    }
    {
        // Silent: disconnected after client_timeout, answered nothing.
        const RawClient client(server.path());
        const auto answer = client.read_all();
        REQUIRE(answer.has_value());
        CHECK(answer->empty());
    }
    {
        const RawClient gone(server.path()); // connects and leaves at once
    }
    {
        // A request in pieces.
        const RawClient client(server.path());
        client.send("prog");
        client.send("rams\n");
        const auto answer = client.read_all();
        REQUIRE(answer.has_value());
        CHECK(contains(*answer, "\"programs\":["));
    }
    CHECK(contains(ask(server.path(), "version"), "\"embpf\":"));
}

TEST_CASE("introspection: many clients at once while programs run, load and attach") {
    const TempDir dir;
    IntrospectionServer server = start({.path = dir.file("busy.sock"), .max_clients = 2});
    const Object object = load(std::string(EMBPF_TEST_TAIL_DIR) + "/tail_calls.o", nullptr, true);
    const Program target = object.program("target_one").value();
    std::atomic<bool> done{false};
    std::thread runner([&] {
        HookBase hook(target.type());
        BindContext ctx;
        static const std::uint8_t app[] = "x";
        ctx.app_id_start = app;
        ctx.app_id_end = app + 1;
        do { // at least once, however soon the clients are done
            const Link link = hook.attach(target).value();
            CHECK(hook.invoke(&ctx, sizeof ctx).has_value());
            const Object other = load(std::string(EMBPF_TEST_TAIL_DIR) + "/tail_calls.o", nullptr, true);
            CHECK(other.program("target_two")->run(&ctx, sizeof ctx).has_value());
        } while (!done.load());
    });
    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
        clients.emplace_back([&, c] {
            static const char* const requests[] = {"programs", "maps", "links", "version"};
            for (int i = 0; i < 10; ++i) {
                auto answer = introspect(server.path(), requests[(c + i) % 4], std::chrono::minutes(1));
                if (answer && !contains(*answer, "\"error\"")) {
                    answered.fetch_add(1);
                }
            }
        });
    }
    for (std::thread& client : clients) {
        client.join();
    }
    done.store(true);
    runner.join();
    CHECK(answered.load() == 60);
    CHECK(info_of(target).run_count > 0);
}

TEST_CASE("introspection: stopping with clients connected disconnects them and removes the socket") {
    const TempDir dir;
    IntrospectionServer server = start({.path = dir.file("stop.sock")});
    std::vector<std::unique_ptr<RawClient>> waiting;
    for (int i = 0; i < 3; ++i) {
        waiting.push_back(std::make_unique<RawClient>(server.path()));
    }
    waiting[0]->send("prog"); // half a request
    // Make sure the server took them in (it answers in order of arrival on one thread).
    CHECK(contains(ask(server.path(), "version"), "\"pid\""));
    server.stop();
    for (const auto& client : waiting) {
        const auto rest = client->read_all();
        REQUIRE(rest.has_value());
        CHECK(rest->empty());
    }
    CHECK_FALSE(std::filesystem::exists(dir.file("stop.sock")));
    server.stop(); // again: nothing more

    // Moved, the server keeps serving under its new owner.
    IntrospectionServer first = start({.path = dir.file("moved.sock")});
    IntrospectionServer second = std::move(first);
    CHECK(first.path().empty());
    CHECK(contains(ask(second.path(), "version"), "\"pid\""));
}

TEST_CASE("introspection: only a stale socket of this user is replaced") {
    const TempDir dir;
    SUBCASE("a file that is not a socket") {
        const std::string path = dir.file("file");
        std::ofstream(path) << "keep me";
        auto refused = IntrospectionServer::start({.path = path});
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "a file that is not a socket is there: not replaced"));
        std::ifstream in(path);
        std::string text;
        std::getline(in, text);
        CHECK(text == "keep me");
    }
    SUBCASE("a server listening there") {
        IntrospectionServer server = start({.path = dir.file("live.sock")});
        auto refused = IntrospectionServer::start({.path = server.path()});
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "a server listens there already"));
        CHECK(contains(ask(server.path(), "version"), "\"pid\"")); // the first one still serves
    }
    SUBCASE("a stale socket, left by a host that exited") {
        const std::string path = dir.file("stale.sock");
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const sockaddr_un address = address_of(path);
        REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
        ::close(fd);
        auto stale = introspect(path, "programs");
        REQUIRE_FALSE(stale.has_value());
        CHECK(contains(stale.error().message, "stale"));
        IntrospectionServer server = start({.path = path});
        CHECK(contains(ask(path, "version"), "\"pid\""));
    }
    SUBCASE("paths no socket can have, and options out of range") {
        CHECK_FALSE(IntrospectionServer::start({.path = dir.file("x") + std::string(120, 'y')}).has_value());
        CHECK_FALSE(IntrospectionServer::start({.path = dir.file("missing/dir.sock")}).has_value());
        CHECK_FALSE(IntrospectionServer::start({.path = dir.file("a.sock"), .max_clients = 0}).has_value());
        CHECK_FALSE(
            IntrospectionServer::start({.path = dir.file("a.sock"), .client_timeout = std::chrono::milliseconds(0)})
                .has_value());
        CHECK_FALSE(introspect(dir.file("a.sock"), "two\nlines").has_value());
        CHECK_FALSE(introspect(dir.file("a.sock"), "").has_value());
    }
}

TEST_CASE("introspection: the default path, in a directory private to this user") {
    const TempDir dir;
    const char* before = std::getenv("XDG_RUNTIME_DIR");
    const std::optional<std::string> saved = before != nullptr ? std::optional<std::string>(before) : std::nullopt;
    ::setenv("XDG_RUNTIME_DIR", dir.path.c_str(), 1);
    CHECK(default_introspection_directory() == dir.file("embpf"));
    CHECK(default_introspection_path(42) == dir.file("embpf") + "/42.sock");
    {
        IntrospectionServer server = start({});
        CHECK(server.path() == default_introspection_path(::getpid()));
        struct stat info {};
        REQUIRE(::lstat(dir.file("embpf").c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0700);
        CHECK(contains(ask(server.path(), "version"), "\"pid\""));
    }
    // A directory others may enter is not used.
    REQUIRE(::chmod(dir.file("embpf").c_str(), 0755) == 0);
    auto refused = IntrospectionServer::start({});
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "is not a directory of this user closed to others"));
    // Nor a symbolic link to a private one.
    std::filesystem::remove(dir.file("embpf"));
    std::filesystem::create_directory(dir.file("elsewhere"));
    REQUIRE(::chmod(dir.file("elsewhere").c_str(), 0700) == 0);
    std::filesystem::create_directory_symlink(dir.file("elsewhere"), dir.file("embpf"));
    CHECK_FALSE(IntrospectionServer::start({}).has_value());
    if (saved) {
        ::setenv("XDG_RUNTIME_DIR", saved->c_str(), 1);
    } else {
        ::unsetenv("XDG_RUNTIME_DIR");
    }
}

TEST_CASE("introspection: a client of another user is disconnected unanswered") {
    if (::geteuid() != 0) {
        MESSAGE("not root: no other user to connect as (the check is exercised where the tests run as root)");
        return;
    }
    const TempDir dir;
    REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
    IntrospectionServer server = start({.path = dir.file("guarded.sock")});
    // The file's mode is the first fence; open it, to reach the server's own check of the peer.
    REQUIRE(::chmod(server.path().c_str(), 0666) == 0);
    const sockaddr_un address = address_of(server.path());
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Only calls a forked child of a threaded process may make, then _exit.
        if (::syscall(SYS_setgid, 65534) != 0 || ::syscall(SYS_setuid, 65534) != 0) {
            ::_exit(10);
        }
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const timeval minute{60, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &minute, sizeof minute);
        if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            ::_exit(11);
        }
        ::send(fd, "programs\n", 9, MSG_NOSIGNAL);
        char byte = 0;
        const ssize_t got = ::recv(fd, &byte, 1, 0);
        ::_exit(got == 0 || (got < 0 && errno == ECONNRESET) ? 0 : got > 0 ? 1 : 12);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 10) {
        MESSAGE("cannot become another user here (no CAP_SETUID)");
        return;
    }
    CHECK(WEXITSTATUS(status) == 0); // 1: it was answered; 11: it could not connect; 12: its read failed
    CHECK(contains(ask(server.path(), "version"), "\"pid\"")); // and the owner still is
}

TEST_CASE("introspection: a forked child leaves its parent's server be") {
    const TempDir dir;
    IntrospectionServer server = start({.path = dir.file("parent.sock")});
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        server.stop(); // closes the child's descriptors; neither joins the parent's thread nor removes its socket
        ::_exit(server.path().empty() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(std::filesystem::exists(server.path()));
    CHECK(contains(ask(server.path(), "version"), "\"pid\":" + std::to_string(::getpid())));
}

TEST_SUITE_END();
