// The packet helpers (tests/api/objects/packet_helpers.c) through test_run, on heap buffers: the head and tail of an
// XDP frame moved within the room test_run leaves, bytes loaded and stored, an IPv4 destination rewritten with
// incremental checksum updates, a redirect recorded, and a tail call after the packet moved.
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/testing/context.hpp"
#include "embpf/testing/packets.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace embpf;
using embpf::testing::PacketBuilder;

namespace {

Object load() {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/packet_helpers.o"),
                                 &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(*object);
}

Program program(const Object& object, const char* name) {
    auto found = object.program(name);
    REQUIRE_MESSAGE(found.has_value(), (found ? "" : found.error().message));
    REQUIRE(found->verified());
    return *found;
}

TestRunResult run(const Program& program, const std::vector<std::uint8_t>& packet, bool checked = false) {
    auto result = program.test_run({.data_in = packet, .checked = checked});
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    return *result;
}

std::vector<std::uint8_t> frame() {
    return PacketBuilder().ethernet().ipv4({10, 0, 0, 1}, {10, 0, 0, 2}).udp(1000, 53).payload("query").build();
}

constexpr std::uint64_t kPass = 2; // XDP_PASS

} // namespace

TEST_CASE("packet helpers: xdp_adjust_head grows the frame into test_run's headroom") {
    const Object object = load();
    const auto packet = frame();
    for (const bool checked : {false, true}) {
        CAPTURE(checked);
        const TestRunResult result = run(program(object, "push_head"), packet, checked);
        REQUIRE(result.retval == kPass);
        REQUIRE(result.data_out.size() == packet.size() + 4);
        CHECK(std::vector<std::uint8_t>(result.data_out.begin(), result.data_out.begin() + 4) ==
              std::vector<std::uint8_t>(4, 0xab));
        CHECK(std::vector<std::uint8_t>(result.data_out.begin() + 4, result.data_out.end()) == packet);
    }
}

TEST_CASE("packet helpers: the head and tail move within the buffer and keep an Ethernet header, or fail") {
    const Object object = load();
    auto out = object.map<std::uint32_t, std::uint64_t>("out");
    REQUIRE(out.has_value());
    const auto packet = frame(); // 47 bytes
    struct Case {
        const char* program;
        std::int64_t delta;
        std::int64_t result;
        std::size_t size;
    };
    const Case cases[] = {
        {"move_head", 10, 0, packet.size() - 10},
        {"move_head", -256, 0, packet.size() + 256}, // all of test_run's headroom
        {"move_head", -257, -22, packet.size()},     // past it: -EINVAL, nothing moved
        {"move_head", static_cast<std::int64_t>(packet.size()) - 13, -22, packet.size()}, // under an Ethernet header
        {"move_tail", -20, 0, packet.size() - 20},
        {"move_tail", 256, 0, packet.size() + 256},
        {"move_tail", 257, -22, packet.size()},
        {"move_tail", 14 - static_cast<std::int64_t>(packet.size()), 0, 14},
        {"move_tail", 13 - static_cast<std::int64_t>(packet.size()), -22, packet.size()},
    };
    for (const Case& c : cases) {
        CAPTURE(c.program);
        CAPTURE(c.delta);
        REQUIRE(out->update(0, static_cast<std::uint64_t>(c.delta)).has_value());
        const TestRunResult result = run(program(object, c.program), packet);
        CHECK(result.retval == kPass);
        CHECK(static_cast<std::int64_t>(out->lookup(1).value()) == c.result);
        REQUIRE(result.data_out.size() == c.size);
        if (std::string(c.program) == "move_tail" && c.delta > 0 && c.result == 0) {
            CHECK(std::vector<std::uint8_t>(result.data_out.begin() + static_cast<std::ptrdiff_t>(packet.size()),
                                            result.data_out.end()) ==
                  std::vector<std::uint8_t>(static_cast<std::size_t>(c.delta), 0)); // grown bytes are zeroed
        }
    }
}

TEST_CASE("packet helpers: xdp_load_bytes and xdp_store_bytes; a load out of range zeroes its buffer") {
    const Object object = load();
    auto out = object.map<std::uint32_t, std::uint64_t>("out");
    REQUIRE(out.has_value());
    const auto packet = frame();
    const TestRunResult result = run(program(object, "load_store"), packet);
    CHECK(result.retval == kPass);
    CHECK(out->lookup(0) == 0x0008u); // ETH_P_IP as it lies in the frame, read on a little-endian host
    CHECK(out->lookup(1) == 0u);
    CHECK(static_cast<std::int64_t>(out->lookup(2).value()) == -14); // -EFAULT
    CHECK(out->lookup(3) == 0u);
    CHECK(std::vector<std::uint8_t>(result.data_out.begin(), result.data_out.begin() + 6) ==
          std::vector<std::uint8_t>{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee});
    CHECK(std::vector<std::uint8_t>(result.data_out.begin() + 6, result.data_out.end()) ==
          std::vector<std::uint8_t>(packet.begin() + 6, packet.end()));
}

TEST_CASE("packet helpers: a rewritten IPv4 destination with incrementally updated checksums, and a redirect") {
    const Object object = load();
    const auto packet = frame();
    const TestRunResult result = run(program(object, "rewrite_destination"), packet);
    CHECK(result.retval == 7); // TC_ACT_REDIRECT
    // The same frame built for 10.0.0.99 from the start, its checksums computed whole.
    const auto expected =
        PacketBuilder().ethernet().ipv4({10, 0, 0, 1}, {10, 0, 0, 99}).udp(1000, 53).payload("query").build();
    CHECK(result.data_out == expected);
    const auto redirect = runtime::last_redirect();
    REQUIRE(redirect.has_value());
    CHECK(redirect->ifindex == 7);
    CHECK(redirect->flags == 0);
}

TEST_CASE("packet helpers: a tail call after the head moved runs on the moved packet") {
    const Object object = load();
    auto next = object.map("next");
    REQUIRE(next.has_value());
    REQUIRE(next->set_program(0, program(object, "measure")).has_value());
    auto out = object.map<std::uint32_t, std::uint64_t>("out");
    REQUIRE(out.has_value());
    const auto packet = frame();
    for (const bool checked : {false, true}) {
        CAPTURE(checked);
        REQUIRE(out->update(0, 0).has_value());
        const TestRunResult result = run(program(object, "shrink_then_call"), packet, checked);
        CHECK(result.retval == kPass);
        CHECK(out->lookup(0) == packet.size() - 4);
        CHECK(result.data_out == std::vector<std::uint8_t>(packet.begin() + 4, packet.end()));
    }
}

TEST_CASE("packet helpers: repeated test runs share one buffer's room, never more") {
    const Object object = load();
    const auto packet = frame();
    auto result = program(object, "push_head").test_run({.data_in = packet, .repeat = 100});
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    CHECK(result->retval == 1);                                     // XDP_DROP: the head could not move any more
    CHECK(result->data_out.size() == packet.size() + kTestRunRoom); // 64 runs grew it by 4 bytes each
}

TEST_CASE("packet helpers: the packet moves only in a context the host gave the run to itself") {
    const Object object = load();
    const Program move_head = program(object, "move_head");
    auto out = object.map<std::uint32_t, std::uint64_t>("out");
    REQUIRE(out.has_value());
    REQUIRE(out->update(0, 10).has_value());
    const auto packet = frame();
    const testing_packets::HeapPacket heap(packet.size());
    std::copy(packet.begin(), packet.end(), heap.data());
    testing_packets::LinuxXdp xdp = testing_packets::linux_xdp(heap);

    // Program::run without a room: the context may be shared with other threads, so nothing moves it.
    CHECK(move_head.run(&xdp, sizeof xdp).value() == kPass);
    CHECK(static_cast<std::int64_t>(out->lookup(1).value()) == -22);
    CHECK(xdp.host_data == heap.start());
    // With one, the host gives the run its context: the head moves (a shrink needs no room).
    CHECK(move_head.run(&xdp, sizeof xdp, PacketRoom{}).value() == kPass);
    CHECK(out->lookup(1) == 0u);
    CHECK(xdp.host_data == heap.start() + 10);
    // testing::Context owns its context.
    embpf::testing::Context context = embpf::testing::xdp(move_head, packet);
    CHECK(context.run(move_head).value() == kPass);
    CHECK(out->lookup(1) == 0u);
    CHECK(context.packet_bytes().size() == packet.size() - 10);
}

TEST_CASE("packet helpers: a room over the context or behind it into the context is refused") {
    // Room the packet may grow into is bytes the program writes: over the context it would let a program read the
    // host's pointers as packet bytes and plant its own (attack round 58).
    const Object object = load();
    const Program move_head = program(object, "move_head");
    struct alignas(64) Buffer {
        std::uint8_t before[128];
        testing_packets::LinuxXdp xdp;
        std::uint8_t packet[64];
        testing_packets::LinuxXdp behind;
    };
    auto buffer = std::make_unique<Buffer>(); // value-initialized: zeroed
    const auto at = [](const void* p) { return reinterpret_cast<std::uint64_t>(p); };
    testing_packets::LinuxXdp& xdp = buffer->xdp;
    xdp.host_data = at(buffer->packet);
    xdp.host_data_end = at(buffer->packet + sizeof buffer->packet);
    // Headroom reaching back over the context in front of the packet.
    auto over = move_head.run(&xdp, sizeof xdp, PacketRoom{sizeof(testing_packets::LinuxXdp) + 8, 0});
    REQUIRE_FALSE(over.has_value());
    CHECK(over.error().message.find("the room around the data range shares bytes with the context") !=
          std::string::npos);
    // Headroom up to the context's last byte and no further: runs.
    CHECK(move_head.run(&xdp, sizeof xdp, PacketRoom{0, 0}).has_value());
    // Tailroom into a context behind the packet.
    testing_packets::LinuxXdp& behind = buffer->behind;
    behind.host_data = at(buffer->packet);
    behind.host_data_end = at(buffer->packet + sizeof buffer->packet);
    auto into = move_head.run(&behind, sizeof behind, PacketRoom{0, 1});
    REQUIRE_FALSE(into.has_value());
    CHECK(into.error().message.find("shares bytes with the context") != std::string::npos);
    CHECK(move_head.run(&behind, sizeof behind, PacketRoom{0, 0}).has_value());
}

namespace {
std::optional<Program> g_inner;
std::uint64_t run_inner(void* ctx) noexcept {
    // The host hands the nested run the context it was given, claiming it for this run: the outer run uses it too.
    auto r0 = g_inner->run(ctx, 48, PacketRoom{256, 256});
    return r0 ? *r0 : 0;
}
} // namespace

TEST_CASE("packet helpers: a nested invocation on the context of an outer one cannot move its packet") {
    platform::Platform host = platform::linux();
    REQUIRE(host.add_helper<&run_inner>(1000, "run_inner",
                                        platform::proto(platform::ret::integer, platform::arg::ptr_to_ctx))
                .has_value());
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/packet_nested.o"), &host);
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    g_inner = object->program("inner").value();
    auto out = object->map<std::uint32_t, std::uint64_t>("out");
    REQUIRE(out.has_value());
    const auto packet = frame();
    const auto result = object->program("outer")->test_run({.data_in = packet});
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    CHECK(static_cast<std::int64_t>(out->lookup(1).value()) == -22); // the inner run's adjust_head failed
    CHECK(out->lookup(0) == packet.size());                          // the outer run's packet did not move
    g_inner.reset();
}
