// The introspection endpoint (api/introspection.hpp): a Unix socket, served by one thread that polls the listening
// socket, its clients and an eventfd that stop() writes to.
#include "embpf/api/introspection.hpp"

#include "embpf/api/registry.hpp"
#include "embpf/exec/engine.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/version.hpp"
#include "state.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace embpf {

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// The errno text, from the one thread-safe source the standard library offers.
std::string describe(int error) { return std::generic_category().message(error); }

// A file descriptor, closed when it goes.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) noexcept : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            m_fd = std::exchange(other.m_fd, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return m_fd; }
    explicit operator bool() const noexcept { return m_fd >= 0; }
    void reset() noexcept {
        if (m_fd >= 0) {
            ::close(m_fd);
            m_fd = -1;
        }
    }

  private:
    int m_fd = -1;
};

Result<sockaddr_un> socket_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path || path.find('\0') != std::string::npos) {
        return Error::invalid("introspection socket " + path + ": a socket's path has 1 to " +
                              std::to_string(sizeof address.sun_path - 1) + " bytes and no NUL");
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

int connect_to(int fd, const sockaddr_un& address) noexcept {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
}

// A directory for default sockets: made private to this user, or found so. A symbolic link, another user's
// directory or one others may enter is refused, since whoever controls the directory controls what clients reach.
Result<void> private_directory(const std::string& directory, uid_t owner) {
    if (::mkdir(directory.c_str(), 0700) == 0) {
        ::chmod(directory.c_str(), 0700); // the umask may have taken bits the owner needs
        return {};
    }
    if (errno != EEXIST) {
        return Error::runtime("cannot make the introspection directory " + directory + ": " + describe(errno));
    }
    struct stat info {};
    if (::lstat(directory.c_str(), &info) != 0) {
        return Error::runtime("cannot read the introspection directory " + directory + ": " + describe(errno));
    }
    if (!S_ISDIR(info.st_mode) || info.st_uid != owner || (info.st_mode & 077) != 0) {
        return Error::invalid("the introspection directory " + directory +
                              " is not a directory of this user closed to others (mode 0700): not used");
    }
    return {};
}

// Makes way for a new socket at `path` when what is there is a socket of this user that nothing listens on, as a host
// that was killed leaves behind. Anything else stays where it is.
Result<void> remove_stale_socket(const std::string& path, const sockaddr_un& address, uid_t owner) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
        return errno == ENOENT ? Result<void>{}
                               : Error::runtime("introspection socket " + path + ": " + describe(errno));
    }
    if (!S_ISSOCK(info.st_mode)) {
        return Error::invalid("introspection socket " + path + ": a file that is not a socket is there: not replaced");
    }
    if (info.st_uid != owner) {
        return Error::invalid("introspection socket " + path + ": another user's socket is there: not replaced");
    }
    const Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe) {
        return Error::runtime("introspection socket " + path + ": " + describe(errno));
    }
    if (connect_to(probe.get(), address) == 0 || errno == EAGAIN) { // EAGAIN: a listener whose queue is full
        return Error::invalid("introspection socket " + path + ": a server listens there already");
    }
    if (errno != ECONNREFUSED) {
        return Error::runtime("introspection socket " + path + ": " + describe(errno));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error::runtime("introspection socket " + path + ": cannot remove the stale socket: " + describe(errno));
    }
    return {};
}

// Names from ELF files may hold any bytes: invalid UTF-8 is replaced rather than thrown about.
std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json answer_json(std::string_view request) {
    Json out;
    out["version"] = kIntrospectionVersion;
    if (request == "programs") {
        out["stats_enabled"] = Registry::stats_enabled();
        Json list = Json::array();
        for (const ProgramInfo& program : Registry::programs()) {
            Json item;
            item["id"] = program.id;
            item["name"] = program.name;
            item["section"] = program.section;
            item["type"] = program.type;
            item["engine"] = std::string(exec::to_string(program.engine));
            item["verified"] = program.verified;
            item["instructions"] = program.instructions;
            item["map_ids"] = program.map_ids;
            item["run_count"] = program.run_count;
            item["run_time_ns"] = program.run_time_ns;
            list.push_back(std::move(item));
        }
        out["programs"] = std::move(list);
    } else if (request == "maps") {
        Json list = Json::array();
        for (const MapInfo& map : Registry::maps()) {
            Json item;
            item["id"] = map.id;
            item["name"] = map.name;
            item["kind"] = std::string(platform::to_string(map.kind));
            item["key_size"] = map.key_size;
            item["value_size"] = map.value_size;
            item["max_entries"] = map.max_entries;
            item["entries"] = map.entries ? Json(*map.entries) : Json(nullptr);
            item["memory"] = map.memory;
            list.push_back(std::move(item));
        }
        out["maps"] = std::move(list);
    } else if (request == "links") {
        Json list = Json::array();
        for (const LinkInfo& link : Registry::links()) {
            Json item;
            item["id"] = link.id;
            item["hook"] = link.hook;
            item["program_id"] = link.program_id;
            item["program"] = link.program_name;
            item["priority"] = link.priority;
            list.push_back(std::move(item));
        }
        out["links"] = std::move(list);
    } else if (request == "version") {
        out["embpf"] = kVersion;
        out["pid"] = static_cast<std::int64_t>(::getpid());
    } else {
        out["error"] = "unknown request \"" + std::string(request) + "\": ask for programs, maps, links or version";
    }
    return out;
}

std::string error_answer(const std::string& message) {
    Json out;
    out["version"] = kIntrospectionVersion;
    out["error"] = message;
    return dump(out);
}

// One connection: its request as it arrives, then its answer as it leaves.
struct Client {
    Fd fd;
    std::string request;
    std::string answer;
    std::size_t sent = 0;
    bool answered = false;
    Clock::time_point deadline;
};

} // namespace

namespace detail {

struct IntrospectionState {
    std::string path;
    IntrospectionOptions options;
    uid_t owner = 0;    // the only user served: the process's effective user
    pid_t process = 0;  // the process serving; a forked child is not
    Fd listener;        // bound at `path`
    Fd wake;            // stop() writes to it
    bool bound = false; // the file at `path` is the socket this state bound, identified by device and inode
    dev_t device = 0;
    ino_t inode = 0;
    bool holds_stats = false;
    bool running = false; // `thread` runs serve()
    pthread_t thread{};

    IntrospectionState() = default;
    IntrospectionState(const IntrospectionState&) = delete;
    IntrospectionState& operator=(const IntrospectionState&) = delete;
    ~IntrospectionState() { shutdown(); }

    void shutdown() noexcept;
    void serve() noexcept;
    std::mutex shutdown_mutex;

  private:
    bool serve_once(std::vector<Client>& clients, Clock::time_point& paused_until);
    void accept_clients(std::vector<Client>& clients, Clock::time_point& paused_until);
    static void receive(Client& client);
    static void send_answer(Client& client);
};

void IntrospectionState::shutdown() noexcept {
    // stop() from two threads (a signal-handling thread and the destructor) joins the thread and closes once.
    const std::lock_guard lock(shutdown_mutex);
    const bool forked = process != ::getpid();
    if (running) {
        running = false;
        // In a forked child the thread is the parent's (it does not exist here), and so is the socket file.
        if (!forked) {
            const std::uint64_t one = 1;
            while (::write(wake.get(), &one, sizeof one) < 0 && errno == EINTR) {
            }
            ::pthread_join(thread, nullptr);
        }
    }
    listener.reset();
    wake.reset();
    if (bound && !forked) {
        // Only while the file is still the socket bound here: another may have taken the path since.
        struct stat info {};
        if (::lstat(path.c_str(), &info) == 0 && info.st_dev == device && info.st_ino == inode) {
            ::unlink(path.c_str());
        }
    }
    bound = false;
    if (holds_stats) {
        holds_stats = false;
        release_run_stats();
    }
    path.clear();
}

void IntrospectionState::serve() noexcept {
    std::vector<Client> clients;
    Clock::time_point paused_until{};
    for (;;) {
        try {
            if (!serve_once(clients, paused_until)) {
                return;
            }
        } catch (...) {
            // Out of memory: let go of the clients, whose buffers are what this thread holds, and go on serving.
            clients.clear();
        }
    }
}

// One round of polling; false once stop() asked.
bool IntrospectionState::serve_once(std::vector<Client>& clients, Clock::time_point& paused_until) {
    auto now = Clock::now();
    std::erase_if(clients, [&](const Client& c) { return !c.fd || c.deadline <= now; });
    const bool room = clients.size() < options.max_clients;
    const bool accepting = room && now >= paused_until;
    std::vector<pollfd> polled;
    polled.push_back({wake.get(), POLLIN, 0});
    polled.push_back({accepting ? listener.get() : -1, POLLIN, 0}); // poll skips a negative descriptor
    auto next = Clock::time_point::max();
    for (const Client& client : clients) {
        polled.push_back({client.fd.get(), static_cast<short>(client.answered ? POLLOUT : POLLIN), 0});
        next = std::min(next, client.deadline);
    }
    if (room && !accepting) {
        next = std::min(next, paused_until);
    }
    int timeout = -1;
    if (next != Clock::time_point::max()) {
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
        timeout = static_cast<int>(std::clamp<decltype(wait)>(wait, 0, INT_MAX));
    }
    if (::poll(polled.data(), polled.size(), timeout) < 0) {
        if (errno != EINTR) {
            ::poll(polled.data(), 1, 50); // short of memory: wait a little, for the wake-up only
        }
        return (polled[0].revents & POLLIN) == 0;
    }
    if (polled[0].revents != 0) {
        return false;
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        if (polled[i + 2].revents == 0) {
            continue;
        }
        if (clients[i].answered) {
            send_answer(clients[i]);
        } else {
            receive(clients[i]);
        }
    }
    if (accepting && (polled[1].revents & POLLIN) != 0) {
        accept_clients(clients, paused_until);
    }
    return true;
}

void IntrospectionState::accept_clients(std::vector<Client>& clients, Clock::time_point& paused_until) {
    while (clients.size() < options.max_clients) {
        Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                // Out of descriptors or memory: the queue stays readable, so leave it for a while instead of spinning.
                paused_until = Clock::now() + std::chrono::milliseconds(100);
            }
            return;
        }
        ucred peer{};
        socklen_t size = sizeof peer;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 || size != sizeof peer ||
            peer.uid != owner) {
            continue; // closed unanswered
        }
        clients.push_back(Client{std::move(fd), {}, {}, 0, false, Clock::now() + options.client_timeout});
    }
}

void IntrospectionState::receive(Client& client) {
    char buffer[kMaxIntrospectionRequest];
    const ssize_t got = ::recv(client.fd.get(), buffer, kMaxIntrospectionRequest - client.request.size(), 0);
    if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            client.fd.reset();
        }
        return;
    }
    if (got == 0 && client.request.empty()) {
        client.fd.reset(); // gone without asking
        return;
    }
    client.request.append(buffer, static_cast<std::size_t>(got));
    const std::size_t newline = client.request.find('\n');
    std::string_view request = client.request;
    if (newline != std::string::npos) {
        request = request.substr(0, newline);
    } else if (got != 0 && client.request.size() < kMaxIntrospectionRequest) {
        return; // more to come (a client that closed its side has sent all it will)
    } else if (got != 0) {
        client.answer =
            error_answer("a request is one line of at most " + std::to_string(kMaxIntrospectionRequest - 1) + " bytes");
    }
    if (client.answer.empty()) {
        while (!request.empty() && (request.back() == '\r' || request.back() == ' ')) {
            request.remove_suffix(1);
        }
        try {
            client.answer = introspection_answer(request);
        } catch (const std::exception&) {
            client.answer = error_answer("the host could not make the answer (out of memory)");
        }
    }
    client.answer += '\n';
    client.answered = true;
    send_answer(client);
}

void IntrospectionState::send_answer(Client& client) {
    while (client.sent < client.answer.size()) {
        const ssize_t put = ::send(client.fd.get(), client.answer.data() + client.sent,
                                   client.answer.size() - client.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (put < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                client.fd.reset();
            }
            return;
        }
        client.sent += static_cast<std::size_t>(put);
    }
    client.fd.reset(); // answered: one request per connection
}

namespace {

void* introspection_thread(void* state) {
    static_cast<IntrospectionState*>(state)->serve();
    return nullptr;
}

} // namespace

} // namespace detail

std::string default_introspection_directory() {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    if (runtime != nullptr && runtime[0] == '/') {
        return std::string(runtime) + "/embpf";
    }
    return "/tmp/embpf-" + std::to_string(::geteuid());
}

std::string default_introspection_path(std::int64_t pid) {
    return default_introspection_directory() + "/" + std::to_string(pid) + ".sock";
}

std::string introspection_answer(std::string_view request) { return dump(answer_json(request)); }

IntrospectionServer::IntrospectionServer(std::unique_ptr<detail::IntrospectionState> state) noexcept
    : m_state(std::move(state)) {}
IntrospectionServer::IntrospectionServer(IntrospectionServer&&) noexcept = default;
IntrospectionServer& IntrospectionServer::operator=(IntrospectionServer&& other) noexcept {
    if (this != &other) {
        stop();
        m_state = std::move(other.m_state);
    }
    return *this;
}
IntrospectionServer::~IntrospectionServer() { stop(); }

const std::string& IntrospectionServer::path() const noexcept {
    static const std::string none;
    return m_state ? m_state->path : none;
}

void IntrospectionServer::stop() noexcept {
    if (m_state) {
        m_state->shutdown();
    }
}

Result<IntrospectionServer> IntrospectionServer::start(IntrospectionOptions options) {
    try {
        if (options.max_clients == 0) {
            return Error::invalid("an introspection server serves at least one client at a time (max_clients)");
        }
        if (options.client_timeout <= std::chrono::milliseconds::zero() ||
            options.client_timeout > kMaxIntrospectionTimeout) {
            return Error::invalid("an introspection server's client_timeout must be positive and at most an hour");
        }
        auto state = std::make_unique<detail::IntrospectionState>();
        state->owner = ::geteuid();
        state->process = ::getpid();
        // Absolute, so that path() and stop() still name the socket after the host changes its directory.
        std::string path = options.path.empty() ? std::string() : std::filesystem::absolute(options.path).string();
        if (path.empty()) {
            const std::string directory = default_introspection_directory();
            if (auto made = private_directory(directory, state->owner); !made) {
                return std::move(made).error();
            }
            path = directory + "/" + std::to_string(state->process) + ".sock";
        }
        auto address = socket_address(path);
        if (!address) {
            return std::move(address).error();
        }
        state->options = std::move(options);
        state->listener = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!state->listener) {
            return Error::runtime("introspection socket " + path + ": " + describe(errno));
        }
        // Linux gives the socket file the socket's mode (less the umask) at bind: it is never open to others.
        ::fchmod(state->listener.get(), 0600);
        const auto bind_socket = [&] {
            return ::bind(state->listener.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address);
        };
        if (bind_socket() != 0) {
            if (errno != EADDRINUSE) {
                return Error::runtime("introspection socket " + path + ": " + describe(errno));
            }
            if (auto removed = remove_stale_socket(path, *address, state->owner); !removed) {
                return std::move(removed).error();
            }
            if (bind_socket() != 0) {
                return Error::runtime("introspection socket " + path + ": " + describe(errno));
            }
        }
        struct stat info {};
        if (::lstat(path.c_str(), &info) != 0) {
            return Error::runtime("introspection socket " + path + ": " + describe(errno));
        }
        state->path = path;
        state->bound = true;
        state->device = info.st_dev;
        state->inode = info.st_ino;
        ::chmod(path.c_str(), 0600); // for kernels that ignore the socket's own mode
        if (::listen(state->listener.get(), SOMAXCONN) != 0) {
            return Error::runtime("introspection socket " + path + ": " + describe(errno));
        }
        state->wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!state->wake) {
            return Error::runtime("introspection server: " + describe(errno));
        }
        if (state->options.stats) {
            detail::hold_run_stats();
            state->holds_stats = true;
        }
        // The thread starts with every signal blocked, so that the host's signals go to the host's threads.
        sigset_t all;
        sigset_t before;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &before);
        const int error = ::pthread_create(&state->thread, nullptr, detail::introspection_thread, state.get());
        ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
        if (error != 0) {
            return Error::runtime("introspection server: cannot start its thread: " + describe(error));
        }
        state->running = true;
        return IntrospectionServer(std::move(state));
    } catch (const std::exception& error) {
        return Error::runtime(std::string("introspection server: ") + error.what());
    }
}

Result<std::string> introspect(const std::string& path, std::string_view request, std::chrono::milliseconds timeout) {
    try {
        if (request.empty() || request.size() >= kMaxIntrospectionRequest ||
            request.find('\n') != std::string_view::npos) {
            return Error::invalid("an introspection request is one line of 1 to " +
                                  std::to_string(kMaxIntrospectionRequest - 1) + " bytes");
        }
        auto address = socket_address(path);
        if (!address) {
            return std::move(address).error();
        }
        const Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) {
            return Error::runtime("cannot make a socket: " + describe(errno));
        }
        // Clamped to what a deadline can be counted to (a timeout of milliseconds::max() would overflow the clock).
        const auto ms =
            std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 1, kMaxIntrospectionTimeout.count());
        const timeval limit{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
        const std::string where = "the embpf host at " + path;
        if (connect_to(fd.get(), *address) != 0) {
            const int error = errno;
            switch (error) {
            case ENOENT:
            case ENOTDIR: return Error::runtime("no embpf host listens at " + path + ": there is no socket there");
            case ECONNREFUSED:
                return Error::runtime("no embpf host listens at " + path +
                                      ": the socket is stale (its host exited without removing it) or no socket");
            case EACCES:
            case EPERM:
                return Error::runtime("cannot connect to " + where +
                                      ": permission denied (a host serves only the user it runs as)");
            case EAGAIN:
            case ETIMEDOUT:
            case EINPROGRESS: return Error::runtime(where + " did not take the connection in time (it is busy)");
            default: return Error::runtime("cannot connect to " + where + ": " + describe(error));
            }
        }
        // Only a host of this user is believed: a socket another user put where a host's would be (a directory it
        // made first, a path it chose) answers nothing this client reads.
        ucred peer{};
        socklen_t peer_size = sizeof peer;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0 || peer_size != sizeof peer) {
            return Error::runtime("cannot tell which user serves " + where + ": " + describe(errno));
        }
        if (peer.uid != ::geteuid()) {
            return Error::runtime(where + " runs as user " + std::to_string(peer.uid) + ", not this user (" +
                                  std::to_string(::geteuid()) + "): its answer is not read");
        }
        const std::string line = std::string(request) + '\n';
        const std::string unanswered =
            where + " closed the connection unanswered (a host serves only the user it runs as)";
        for (std::size_t sent = 0; sent < line.size();) {
            const ssize_t put = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
            if (put < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EPIPE || errno == ECONNRESET) {
                    return Error::runtime(unanswered);
                }
                return Error::runtime("cannot ask " + where + ": " + describe(errno));
            }
            sent += static_cast<std::size_t>(put);
        }
        constexpr std::size_t kMostAnswer = std::size_t{1} << 28;
        std::string answer;
        char buffer[65536];
        for (;;) {
            if (Clock::now() > deadline) {
                return Error::runtime(where + " did not answer within " + std::to_string(ms) + " ms");
            }
            const ssize_t got = ::recv(fd.get(), buffer, sizeof buffer, 0);
            if (got < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return Error::runtime(where + " did not answer within " + std::to_string(ms) + " ms");
                }
                if (errno == ECONNRESET) {
                    return Error::runtime(unanswered);
                }
                return Error::runtime("cannot read the answer of " + where + ": " + describe(errno));
            }
            if (got == 0) {
                break;
            }
            answer.append(buffer, static_cast<std::size_t>(got));
            if (answer.size() > kMostAnswer) {
                return Error::runtime(where + " answered more than " + std::to_string(kMostAnswer) + " bytes");
            }
        }
        if (answer.empty()) {
            return Error::runtime(unanswered);
        }
        if (answer.back() == '\n') {
            answer.pop_back();
        }
        return answer;
    } catch (const std::exception& error) {
        return Error::runtime(std::string("introspection client: ") + error.what());
    }
}

} // namespace embpf
