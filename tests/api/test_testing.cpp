// embpf::testing: a platform whose helpers a test replaces (a clock and a random source that move only as the test
// says), bpf_printk capture, contexts built by field name, and map fixtures.
#include "embpf/testing/testing.hpp"

#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "request_hook.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;
namespace et = embpf::testing;

namespace {

const std::string kDir = EMBPF_TEST_API_DIR;

Object load_path(const std::filesystem::path& path, const platform::Platform& platform) {
    auto spec = ObjectSpec::open(path, &platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(*object);
}

Object load(const std::string& file, const platform::Platform& platform) {
    return load_path(std::filesystem::path(kDir) / file, platform);
}

Program program(const Object& object, const char* name) {
    auto found = object.program(name);
    REQUIRE_MESSAGE(found.has_value(), (found ? "" : found.error().message));
    REQUIRE(found->verified());
    return *found;
}

std::uint64_t seen(const Object& object, std::uint32_t index) {
    auto map = object.map<std::uint32_t, std::uint64_t>("seen");
    REQUIRE(map.has_value());
    return map->lookup(index).value_or(~std::uint64_t{0});
}

std::vector<std::uint8_t> udp_frame() {
    return et::PacketBuilder().ethernet().ipv4({10, 0, 0, 1}, {10, 0, 0, 2}).udp(1000, 53).payload("hello").build();
}

std::uint64_t run(et::Context& context, const Program& program) {
    auto r0 = context.run(program);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    return *r0;
}

} // namespace

TEST_CASE("testing: a test clock and a seeded random source replace the time and random helpers") {
    et::TestPlatform test(platform::linux());
    REQUIRE(test.use_clock(5'000).has_value());
    REQUIRE(test.use_random(42).has_value());
    const Object object = load("test_double.o", test.platform());
    const Program stamp = program(object, "stamp");
    const auto frame = udp_frame();

    et::Context context = et::xdp(stamp, frame);
    CHECK(run(context, stamp) == 2); // XDP_PASS
    CHECK(seen(object, 0) == 5'000);
    const std::uint64_t first = seen(object, 1);
    const std::uint64_t second = seen(object, 2);
    CHECK(first != second);

    test.clock().advance(std::chrono::microseconds(3));
    CHECK(run(context, stamp) == 2);
    CHECK(seen(object, 0) == 8'000);

    // The same seed gives the same numbers in the same order, on another platform as on this one.
    et::Random again(42);
    CHECK(again.next() == first);
    CHECK(again.next() == second);
    test.random().reseed(42);
    CHECK(run(context, stamp) == 2);
    CHECK(seen(object, 1) == first);

    // The platform the copy came from is untouched: its clock is the machine's.
    const Object real = load("test_double.o", platform::linux());
    et::Context real_context = et::xdp(program(real, "stamp"), frame);
    CHECK(run(real_context, program(real, "stamp")) == 2);
    CHECK(seen(real, 0) > 1'000'000'000); // CLOCK_MONOTONIC: a machine up for more than a second
}

TEST_CASE("testing: override_helper runs a lambda for a helper, under the helper's contract") {
    et::TestPlatform test(platform::linux());
    std::atomic<int> calls{0};
    REQUIRE(test.override_helper("ktime_get_ns",
                                 [&calls](std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                          std::uint64_t) -> std::uint64_t { return 100 + ++calls; })
                .has_value());
    const Object object = load("test_double.o", test.platform());
    const Program stamp = program(object, "stamp");
    const auto frame = udp_frame();
    et::Context context = et::xdp(stamp, frame);
    CHECK(run(context, stamp) == 2);
    CHECK(run(context, stamp) == 2);
    CHECK(calls == 2);
    CHECK(seen(object, 0) == 102);

    SUBCASE("from several threads at once") {
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                et::Context own = et::xdp(stamp, frame);
                for (int i = 0; i < 250; ++i) {
                    CHECK(own.run(stamp).value_or(0) == 2);
                }
            });
        }
        for (std::thread& thread : threads) {
            thread.join();
        }
        CHECK(calls == 1002);
    }

    SUBCASE("what it refuses, naming the helper") {
        const auto zero = [](std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
            return std::uint64_t{0};
        };
        auto unknown = test.override_helper("no_such_helper", zero);
        REQUIRE_FALSE(unknown.has_value());
        CHECK(unknown.error().message.find("no helper named no_such_helper") != std::string::npos);
        auto address = test.override_helper("map_lookup_elem", zero);
        REQUIRE_FALSE(address.has_value());
        CHECK(address.error().message.find("returns an address") != std::string::npos);
        CHECK_FALSE(test.override_helper("tail_call", zero).has_value());
        auto callback = test.override_helper("loop", zero);
        REQUIRE_FALSE(callback.has_value());
        CHECK(callback.error().message.find("callback") != std::string::npos);
        auto lock = test.override_helper("spin_lock", zero);
        REQUIRE_FALSE(lock.has_value());
        CHECK(lock.error().message.find("spin_lock") != std::string::npos);
        CHECK_FALSE(test.override_helper("ktime_get_ns", et::Helper{}).has_value());
        // Helpers whose contract proves memory written: a function that skipped the write would let a program read
        // what lay there before.
        for (const char* writes : {"snprintf", "get_current_comm", "probe_read", "map_peek_elem"}) {
            auto refused = test.override_helper(writes, zero);
            REQUIRE_FALSE(refused.has_value());
            CHECK(refused.error().message.find("cannot be replaced") != std::string::npos);
        }
    }
}

TEST_CASE("testing: overrides are a bounded resource, given back when their platform goes") {
    const auto zero = [](std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
        return std::uint64_t{0};
    };
    {
        et::TestPlatform test(platform::linux());
        std::size_t taken = 0;
        while (test.override_helper("ktime_get_ns", zero).has_value()) {
            ++taken;
            REQUIRE(taken <= et::kMaxHelperOverrides);
        }
        CHECK(taken == et::kMaxHelperOverrides);
        auto full = test.override_helper("ktime_get_ns", zero);
        REQUIRE_FALSE(full.has_value());
        CHECK(full.error().message.find("in use") != std::string::npos);
    }
    et::TestPlatform next(platform::linux());
    CHECK(next.override_helper("ktime_get_ns", zero).has_value());
}

TEST_CASE("testing: PrintkCapture collects the lines programs print while it lives") {
    const Object object = load("test_double.o", platform::linux());
    const Program stamp = program(object, "stamp");
    const auto frame = udp_frame();
    et::Context context = et::xdp(stamp, frame);
    {
        et::PrintkCapture printk;
        CHECK(run(context, stamp) == 2);
        REQUIRE(printk.size() == 1);
        CHECK(printk.lines()[0] == "packet of " + std::to_string(frame.size()) + " bytes");
        CHECK(printk.contains("packet of"));
        printk.clear();
        CHECK(printk.size() == 0);
        {
            et::PrintkCapture inner; // the newest capture gets the lines, the outer one again once it goes
            CHECK(run(context, stamp) == 2);
            CHECK(inner.size() == 1);
        }
        CHECK(printk.size() == 0);
        CHECK(run(context, stamp) == 2);
        CHECK(printk.size() == 1);
    }
}

TEST_CASE("testing: an __sk_buff context from a frame, read back after the run, and map fixtures") {
    const Object object = load("test_double.o", platform::linux());
    const Program filter = program(object, "per_protocol");
    const auto frame = udp_frame();
    auto counts = object.map<std::uint32_t, std::uint64_t>("counts");
    REQUIRE(counts.has_value());
    const std::uint32_t ipv4 = 0x0008; // ETH_P_IP as it lies in the frame, read on a little-endian host

    REQUIRE(et::fill(*counts, {{ipv4, 10}, {0xdd86, 1}}).has_value());
    et::Context context = et::skb(filter, frame);
    CHECK(context.get("len").value() == frame.size());
    CHECK(context.get("protocol").value() == ipv4);
    CHECK(run(context, filter) == frame.size());
    CHECK(counts->lookup(ipv4) == 11u);
    const auto cb = context.get_bytes("cb").value();
    REQUIRE(cb.size() == 20);
    CHECK(cb[0] == 7);

    auto entries = et::contents(*counts);
    CHECK(entries.size() == 2);
    REQUIRE(et::clear(*counts).has_value());
    CHECK(counts->empty());
    auto seen_map = object.map<std::uint32_t, std::uint64_t>("seen");
    REQUIRE(seen_map.has_value());
    REQUIRE(et::fill(*seen_map, {{1, 5}}).has_value());
    REQUIRE(et::clear(*seen_map).has_value()); // an array keeps its entries, zeroed
    CHECK(seen_map->lookup(1) == 0u);
    auto refused = et::fill(*seen_map, {{0, 1}, {9, 1}}); // past max_entries
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("entry 1 of the fixture for map seen") != std::string::npos);
}

TEST_CASE("testing: a context says what it cannot set, and a run returns the first problem") {
    const Object object = load("test_double.o", platform::linux());
    const Program filter = program(object, "per_protocol");
    const Program stamp = program(object, "stamp");

    auto problem = [](const et::Context& context) {
        REQUIRE(context.problem().has_value());
        return context.problem()->message;
    };
    et::Context unknown(filter);
    unknown.set("no_field", 1);
    CHECK(problem(unknown).find("no field no_field") != std::string::npos);
    CHECK_FALSE(unknown.run(filter).has_value());

    et::Context wide(filter);
    wide.set("mark", std::uint64_t{1} << 32);
    CHECK(problem(wide).find("does not fit mark (4 bytes)") != std::string::npos);
    CHECK(wide.get("mark").value() == 0); // left as it was

    et::Context pointer(filter);
    pointer.set("data", 0x10000);
    CHECK(problem(pointer).find("packet()") != std::string::npos);

    et::Context bytes(filter);
    bytes.set("cb", 1);
    CHECK(problem(bytes).find("set_bytes") != std::string::npos);
    bytes = et::Context(filter);
    bytes.set_bytes("cb", std::vector<std::uint8_t>(21, 1));
    CHECK(problem(bytes).find("21 bytes do not fit cb") != std::string::npos);

    // A context of one type does not run a program of another.
    const auto frame = udp_frame();
    et::Context xdp = et::xdp(stamp, frame);
    auto wrong = xdp.run(filter);
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().message.find("takes the socket_filter context") != std::string::npos);

    // A type without a data range takes no packet.
    const platform::ProgramType* sock_addr = platform::linux().program_type("cgroup_sock_addr");
    REQUIRE(sock_addr != nullptr);
    et::Context no_packet(*sock_addr);
    no_packet.packet(frame);
    CHECK(problem(no_packet).find("has no packet") != std::string::npos);
    et::Context fields(*sock_addr);
    fields.set("user_port", 0x5000).set("protocol", 6);
    CHECK_FALSE(fields.problem().has_value());
    CHECK(fields.struct_bytes().size() == sock_addr->context.size);
    CHECK(fields.struct_bytes()[24] == 0x00);
    CHECK(fields.struct_bytes()[25] == 0x50);
}

TEST_CASE("testing: regions that share a size field take as many bytes each") {
    platform::ProgramType shared;
    shared.name = "shared";
    shared.context.size = 24;
    shared.context.fields = {
        {0, 8, platform::FieldKind::memory, true, false, "a", "len", 256, true},
        {8, 8, platform::FieldKind::memory, true, false, "b", "len", 256, false},
        {16, 4, platform::FieldKind::scalar, true, false, "len"},
    };
    std::vector<std::uint8_t> a(200);
    const std::vector<std::uint8_t> b(10);
    et::Context context(shared);
    context.memory("a", std::span<std::uint8_t>(a)).memory("b", std::span<const std::uint8_t>(b));
    REQUIRE(context.problem().has_value());
    CHECK(context.problem()->message.find("share the size field len") != std::string::npos);
    et::Context same(shared);
    same.memory("a", std::span<std::uint8_t>(a).first(10)).memory("b", std::span<const std::uint8_t>(b));
    CHECK_FALSE(same.problem().has_value());
}

TEST_CASE("testing: a context hands over memory regions, sized by their fields") {
    const Object object = load("regions.o", testing_hooks::request_platform());
    const Program slashes = program(object, "count_slashes");
    const Program shout = program(object, "shout");
    const std::string path = "/a/b/c";
    std::string headers = "Host: x";
    std::string body = "hello";
    auto region = [](std::string& text) {
        return std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(text.data()), text.size());
    };
    const auto path_bytes =
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(path.data()), path.size());

    et::Context request(slashes);
    request.memory("path", path_bytes).memory("headers", region(headers)).memory("body", region(body));
    CHECK(run(request, slashes) == 3);
    CHECK(run(request, shout) == 5 + 1000);
    CHECK(body == "HELLO");
    CHECK(request.get("body_len").value() == 5);

    et::Context missing(slashes);
    missing.memory("path", path_bytes);
    auto refused = missing.run(slashes);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("the memory region headers has no bytes") != std::string::npos);

    et::Context read_only(slashes);
    read_only.memory("body", path_bytes); // the body is writable: const bytes do not do
    CHECK(read_only.problem().has_value());
    et::Context size_field(slashes);
    size_field.set("path_len", 3);
    REQUIRE(size_field.problem().has_value());
    CHECK(size_field.problem()->message.find("memory() sets it") != std::string::npos);
}

TEST_CASE("testing: the bind seed counts binds per process, on a Windows bind context") {
    const Object object = load_path(std::string(EMBPF_TEST_SEEDS_DIR) + "/TraceConnections.o", platform::windows());
    const Program trace = program(object, "TraceConnections");
    struct ProcessInfo {
        std::uint32_t id;
        char name[32];
        std::uint32_t count;
    };
    auto processes = object.map<std::uint32_t, ProcessInfo>("proc_map");
    REQUIRE(processes.has_value());
    for (int i = 0; i < 3; ++i) {
        et::Context bind = et::bind(trace, 4242, "browser.exe");
        CHECK(run(bind, trace) == 0); // BIND_PERMIT
    }
    et::Context unbind = et::bind(trace, 4242, "browser.exe", 2);
    CHECK(run(unbind, trace) == 0);
    const auto info = processes->lookup(4242);
    REQUIRE(info.has_value());
    CHECK(info->count == 3);
    CHECK(std::string(info->name) == "browser.exe");
}

TEST_CASE("testing: sock_addr and sock_ops factories write each platform's layout") {
    const auto bytes_at = [](const std::vector<std::uint8_t>& bytes, std::size_t at, std::size_t n) {
        return std::vector<std::uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                         bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
    };
    const auto destination = et::Endpoint::v4({10, 0, 0, 7}, 443);
    {
        // eBPF for Windows' bpf_sock_addr_t: family, user_ip6 at 24 (IPv4 in its first bytes), user_port at 40,
        // protocol at 44.
        et::Context context = et::sock_addr(*platform::windows().program_type("sock_addr"), destination, 17);
        REQUIRE_FALSE(context.problem().has_value());
        const auto bytes = context.struct_bytes();
        CHECK(context.get("family").value() == 2);
        CHECK(bytes_at(bytes, 24, 4) == std::vector<std::uint8_t>{10, 0, 0, 7});
        CHECK(bytes_at(bytes, 40, 2) == std::vector<std::uint8_t>{0x01, 0xbb});
        CHECK(context.get("protocol").value() == 17);
        et::Context v6 = et::sock_addr(*platform::windows().program_type("sock_addr"),
                                       et::Endpoint::v6({0x20, 0x01, 0x0d, 0xb8}, 80));
        CHECK(v6.get("family").value() == 23); // Windows' AF_INET6
    }
    {
        // Linux's bpf_sock_addr: user_family, user_ip4 at 4, user_port at 24 (network order), type, protocol.
        et::Context context = et::sock_addr(*platform::linux().program_type("cgroup_sock_addr"), destination);
        REQUIRE_FALSE(context.problem().has_value());
        const auto bytes = context.struct_bytes();
        CHECK(context.get("user_family").value() == 2);
        CHECK(bytes_at(bytes, 4, 4) == std::vector<std::uint8_t>{10, 0, 0, 7});
        CHECK(bytes_at(bytes, 24, 4) == std::vector<std::uint8_t>{0x01, 0xbb, 0, 0});
        CHECK(context.get("type").value() == 1); // SOCK_STREAM
        CHECK(context.get("protocol").value() == 6);
        et::Context v6 = et::sock_addr(*platform::linux().program_type("cgroup_sock_addr"),
                                       et::Endpoint::v6({0x20, 0x01, 0x0d, 0xb8}, 80));
        CHECK(v6.get("user_family").value() == 10);
        CHECK(bytes_at(v6.struct_bytes(), 8, 4) == std::vector<std::uint8_t>{0x20, 0x01, 0x0d, 0xb8});
    }
    const auto local = et::Endpoint::v4({192, 168, 0, 2}, 50000);
    {
        et::Context context = et::sock_ops(*platform::windows().program_type("sock_ops"), 0, local, destination);
        REQUIRE_FALSE(context.problem().has_value());
        const auto bytes = context.struct_bytes();
        CHECK(bytes_at(bytes, 8, 4) == std::vector<std::uint8_t>{192, 168, 0, 2});
        CHECK(bytes_at(bytes, 24, 4) == std::vector<std::uint8_t>{0xc3, 0x50, 0, 0}); // 50000 in network order
        CHECK(bytes_at(bytes, 28, 4) == std::vector<std::uint8_t>{10, 0, 0, 7});
        CHECK(bytes_at(bytes, 44, 4) == std::vector<std::uint8_t>{0x01, 0xbb, 0, 0});
        CHECK(context.get("protocol").value() == 6);
    }
    {
        et::Context context = et::sock_ops(*platform::linux().program_type("sock_ops"), 4, local, destination);
        REQUIRE_FALSE(context.problem().has_value());
        const auto bytes = context.struct_bytes();
        CHECK(context.get("op").value() == 4);
        CHECK(bytes_at(bytes, 24, 4) == std::vector<std::uint8_t>{10, 0, 0, 7});      // remote_ip4
        CHECK(bytes_at(bytes, 28, 4) == std::vector<std::uint8_t>{192, 168, 0, 2});   // local_ip4
        CHECK(context.get("local_port").value() == 50000);                            // host order
        CHECK(bytes_at(bytes, 64, 4) == std::vector<std::uint8_t>{0, 0, 0x01, 0xbb}); // remote_port, upper half
    }
}

TEST_CASE("testing: the runtime has no sockets; a test gives packets a socket cookie by overriding the helper") {
    const auto frame = udp_frame();
    {
        const Object object = load("test_double.o", platform::linux());
        const Program cookie = program(object, "cookie");
        et::Context skb = et::skb(cookie, frame);
        CHECK(run(skb, cookie) == 0);
        CHECK(seen(object, 3) == 0); // no socket: 0, as Linux returns
    }
    et::TestPlatform test(platform::linux());
    REQUIRE(test.override_helper("get_socket_cookie",
                                 [](std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                    std::uint64_t) -> std::uint64_t { return 0xc00c1e; })
                .has_value());
    const Object object = load("test_double.o", test.platform());
    const Program cookie = program(object, "cookie");
    et::Context skb = et::skb(cookie, frame);
    CHECK(run(skb, cookie) == 0);
    CHECK(seen(object, 3) == 0xc00c1e);
}
