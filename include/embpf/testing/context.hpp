// Contexts for tests: a program type's context struct built field by field by name, with the packet and memory
// regions the entry checks, run through Program::run as a host would run it.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::testing {

/// A context of a program type, zeroed, owning its bytes and its packet. The setters name fields as the platform's
/// context descriptor does (`process_id`, `len`, `user_port`) and write them in the host's byte order, as the
/// program reads them (ports and addresses in network order are the test's to swap). A setter that cannot do what it
/// is asked records the problem and leaves the context as it was; the first problem is what run() and
/// run_checked() return, and what problem() says.
class Context {
  public:
    explicit Context(const platform::ProgramType& type);
    explicit Context(const Program& program) : Context(program.type()) {}

    /// A scalar field of 1, 2, 4 or 8 bytes; the value must fit in it.
    Context& set(std::string_view field, std::uint64_t value);
    /// A field's bytes (arrays such as `cb` or an IPv6 address): at most the field's size, the rest zeroed.
    Context& set_bytes(std::string_view field, std::span<const std::uint8_t> bytes);
    /// The packet (for a type with a data range), copied into a buffer of the context's own.
    Context& packet(std::span<const std::uint8_t> bytes);
    /// The memory region `field` (FieldKind::memory): the bytes the program may read (write, when the region is
    /// writable) in place, which must outlive the runs. Its size field, if it has one, says bytes.size() (regions
    /// that share a size field take as many bytes each); a region of a constant size needs at least that many bytes.
    Context& memory(std::string_view field, std::span<std::uint8_t> bytes);
    Context& memory(std::string_view field, std::span<const std::uint8_t> bytes);

    /// A scalar field's value now (after a run: what the program left in it).
    [[nodiscard]] Result<std::uint64_t> get(std::string_view field) const;
    [[nodiscard]] Result<std::vector<std::uint8_t>> get_bytes(std::string_view field) const;
    /// The packet now (after a run: as the program left it).
    [[nodiscard]] std::span<const std::uint8_t> packet_bytes() const noexcept { return m_packet; }
    /// The context struct as the program sees it (packet and region pointers 0): what TestRunOptions::ctx_in takes.
    [[nodiscard]] std::vector<std::uint8_t> struct_bytes() const;

    /// Runs `program` (of this context's type) on it with Program::run.
    [[nodiscard]] Result<std::uint64_t> run(const Program& program);
    /// Runs it with Program::run_checked.
    [[nodiscard]] Result<exec::CheckedOutcome> run_checked(const Program& program, std::uint64_t budget = 0);

    /// The first problem a setter met, if any.
    [[nodiscard]] const std::optional<Error>& problem() const noexcept { return m_problem; }
    [[nodiscard]] const std::string& type_name() const noexcept { return m_type_name; }

  private:
    struct Region {
        std::size_t field = 0; // index in m_context.fields (copies of the context stay valid)
        std::uintptr_t address = 0;
        std::size_t size = 0;
    };
    [[nodiscard]] Result<const platform::ContextField*> scalar(std::string_view name) const;
    [[nodiscard]] std::uint8_t* at(std::uint32_t offset) noexcept;
    [[nodiscard]] const std::uint8_t* at(std::uint32_t offset) const noexcept;
    void fail(Error error);
    [[nodiscard]] Result<void> prepare(const Program& program);
    Context& add_region(std::string_view field, std::uintptr_t address, std::size_t size, bool writable);
    void take_packet();

    std::string m_type_name;
    platform::ContextDescriptor m_context;
    std::vector<std::uint64_t> m_storage; // host_size() bytes, 8-byte aligned
    std::vector<std::uint8_t> m_packet;
    std::vector<std::uint8_t> m_packet_buffer; // where the packet lies during a run (never empty: data >= 65536)
    std::vector<Region> m_regions;
    std::optional<Error> m_problem;
};

/// An XDP context (either platform) around `packet`.
[[nodiscard]] Context xdp(const platform::ProgramType& type, std::span<const std::uint8_t> packet);
[[nodiscard]] inline Context xdp(const Program& program, std::span<const std::uint8_t> packet) {
    return xdp(program.type(), packet);
}
/// A Linux __sk_buff context (socket_filter, sched_cls, sched_act, cgroup_skb, ...) around an Ethernet frame `packet`:
/// `len` its length and `protocol` its EtherType in network order, as the kernel sets them.
[[nodiscard]] Context skb(const platform::ProgramType& type, std::span<const std::uint8_t> packet);
[[nodiscard]] inline Context skb(const Program& program, std::span<const std::uint8_t> packet) {
    return skb(program.type(), packet);
}
/// An eBPF for Windows bind context: the process `process_id` whose application id is `app_id`, doing `operation`
/// (0 bind, 1 post-bind, 2 unbind) for `protocol` (IPPROTO_TCP by default).
[[nodiscard]] Context bind(const platform::ProgramType& type, std::uint64_t process_id, std::string_view app_id,
                           std::uint32_t operation = 0, std::uint8_t protocol = 6);
[[nodiscard]] inline Context bind(const Program& program, std::uint64_t process_id, std::string_view app_id,
                                  std::uint32_t operation = 0, std::uint8_t protocol = 6) {
    return bind(program.type(), process_id, app_id, operation, protocol);
}

/// An IPv4 or IPv6 address with a port (in host order; the factories write it as each context holds it).
struct Endpoint {
    std::array<std::uint8_t, 16> address{}; ///< IPv4: the first 4 bytes
    bool ipv6 = false;
    std::uint16_t port = 0;

    [[nodiscard]] static Endpoint v4(std::array<std::uint8_t, 4> address, std::uint16_t port) {
        Endpoint e;
        std::copy(address.begin(), address.end(), e.address.begin());
        e.port = port;
        return e;
    }
    [[nodiscard]] static Endpoint v6(std::array<std::uint8_t, 16> address, std::uint16_t port) {
        return {address, true, port};
    }
};

/// A sock_addr context (eBPF for Windows' connect/recv_accept hooks, Linux's cgroup_sock_addr) for a connection to
/// `destination` over `protocol` (IPPROTO_TCP by default): the address family as the platform numbers it (Windows'
/// AF_INET6 is 23, Linux's 10), the address and port in network order where each context keeps them.
[[nodiscard]] Context sock_addr(const platform::ProgramType& type, const Endpoint& destination,
                                std::uint8_t protocol = 6);
[[nodiscard]] inline Context sock_addr(const Program& program, const Endpoint& destination, std::uint8_t protocol = 6) {
    return sock_addr(program.type(), destination, protocol);
}
/// A sock_ops context for connection event `op` between `local` and `remote`: eBPF for Windows' ports in network
/// order in 32-bit fields; Linux's local_port in host order and remote_port in network order in the upper half, as the
/// kernel hands them.
[[nodiscard]] Context sock_ops(const platform::ProgramType& type, std::uint32_t op, const Endpoint& local,
                               const Endpoint& remote, std::uint8_t protocol = 6);
[[nodiscard]] inline Context sock_ops(const Program& program, std::uint32_t op, const Endpoint& local,
                                      const Endpoint& remote, std::uint8_t protocol = 6) {
    return sock_ops(program.type(), op, local, remote, protocol);
}

} // namespace embpf::testing
