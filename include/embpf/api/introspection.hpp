// The introspection endpoint: a Unix socket a host opts into, through which `embpf show` (or any client of the host's
// user) reads the registry's listings as JSON while the host runs, as `bpftool prog show` and `netsh ebpf show` read
// a kernel's. Read-only: a client can list programs, maps and links, never change them.
//
// The protocol: a client connects, writes one request line ("programs", "maps", "links" or "version", then '\n'; at
// most kMaxIntrospectionRequest bytes in all) and reads one JSON document ending in '\n', after which the server
// closes the connection. Every answer is an object with "version" (kIntrospectionVersion); a request the server
// does not take gets {"version": 1, "error": "..."}.
#pragma once

#include "embpf/result.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace embpf {

namespace detail {
struct IntrospectionState;
} // namespace detail

/// The version of the answers' layout, in each answer's "version".
inline constexpr int kIntrospectionVersion = 1;
/// The most bytes of a request, its '\n' included: a longer one is answered with an error.
inline constexpr std::size_t kMaxIntrospectionRequest = 256;
/// The longest a server lets a client take (IntrospectionOptions::client_timeout) and a client waits for an answer.
inline constexpr std::chrono::milliseconds kMaxIntrospectionTimeout{std::chrono::hours(1)};

struct IntrospectionOptions {
    /// The socket's path (at most 107 bytes, as sockaddr_un holds); empty for default_introspection_path() of this
    /// process, whose directory is made (mode 0700) when missing and must otherwise be this user's and closed to
    /// others. A file already at the path is replaced only when it is a socket of this user that nothing listens on (a
    /// host that exited without removing it); anything else there makes start() fail.
    std::string path{};
    /// Keeps run statistics on while the server lives (Registry::enable_stats), so that the programs' answer has runs
    /// and run time to show; a run then costs two reads of the monotonic clock. Runs before the server started are
    /// not counted unless the host turned statistics on itself.
    bool stats = true;
    /// How long a client may take to send its request and read the answer; it is disconnected after that. Positive and
    /// at most kMaxIntrospectionTimeout.
    std::chrono::milliseconds client_timeout{std::chrono::seconds(5)};
    /// Clients served at once (at least 1); more wait in the socket's listen queue.
    std::size_t max_clients = 16;
};

/// The endpoint, serving from one background thread while it lives: it answers the requests of clients whose
/// effective user is this process's (SO_PEERCRED; the socket file has mode 0600 too) and closes other connections
/// unanswered. A client that sends garbage gets an error, one that stays silent or does not read is disconnected
/// after client_timeout, and nothing a client does reaches the host beyond the time the server thread spends.
/// Destroying it (or stop()) closes every connection, joins the thread and removes the socket file. In a child the
/// process forked, it does not serve; stop() there closes the child's descriptors and leaves the parent's socket.
class IntrospectionServer {
  public:
    /// Binds the socket and starts serving. An error names the path and what was wrong: a directory that is not
    /// private to this user, a path too long, a file that is not a stale socket of this user, another server
    /// listening there, or what the system refused.
    [[nodiscard]] static Result<IntrospectionServer> start(IntrospectionOptions options = {});

    IntrospectionServer(IntrospectionServer&&) noexcept;
    IntrospectionServer& operator=(IntrospectionServer&&) noexcept;
    IntrospectionServer(const IntrospectionServer&) = delete;
    IntrospectionServer& operator=(const IntrospectionServer&) = delete;
    ~IntrospectionServer();

    /// The socket's path, made absolute; empty after stop().
    [[nodiscard]] const std::string& path() const noexcept;
    /// Stops serving now (the destructor does nothing more); clients connected are disconnected. Safe to call from
    /// several threads at once (the first stops, the others wait for it).
    void stop() noexcept;

  private:
    explicit IntrospectionServer(std::unique_ptr<detail::IntrospectionState> state) noexcept;
    std::unique_ptr<detail::IntrospectionState> m_state;
};

/// The directory of default sockets: $XDG_RUNTIME_DIR/embpf when XDG_RUNTIME_DIR is an absolute path, else
/// /tmp/embpf-<effective uid>.
[[nodiscard]] std::string default_introspection_directory();
/// Where the host whose process id is `pid` listens by default: <default_introspection_directory()>/<pid>.sock.
[[nodiscard]] std::string default_introspection_path(std::int64_t pid);

/// The answer a server gives to `request` (without the request's '\n', nor the answer's): the registry's listing as
/// JSON, or an error object. For hosts that serve the listings their own way, and for tests.
[[nodiscard]] std::string introspection_answer(std::string_view request);

/// Asks the server at `path` one request and returns its answer (without the final '\n'). An error says why none
/// came: no socket at the path, a stale socket, a server that closed the connection unanswered (a client of another
/// user), a server that runs as another user than this process (whose answer is not read: anyone may put a socket
/// where a host's would be), or one that did not answer within `timeout` (at most kMaxIntrospectionTimeout).
[[nodiscard]] Result<std::string> introspect(const std::string& path, std::string_view request,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace embpf
