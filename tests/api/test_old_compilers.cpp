// Programs as old or unusual compilers emit them: a socket filter that reads its packet with LD_ABS/LD_IND, and calls
// to memset and memcpy left to the loader; loaded, verified and run on __sk_buff contexts.
#include "embpf/api/object.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace embpf;

namespace {

// struct __sk_buff as a host hands it over: 192 bytes, then the data range's pointers at 192 and 200.
struct SkBuff {
    std::array<std::uint8_t, 216> bytes{};
    void set_packet(const testing_packets::HeapPacket& packet) {
        const std::uint64_t start = packet.start();
        const std::uint64_t end = packet.end();
        std::memcpy(bytes.data() + 192, &start, 8);
        std::memcpy(bytes.data() + 200, &end, 8);
    }
};

// Ethernet (type at 12), then IPv4 with a 20-byte header: ports at 34 (source) and 36 (destination), byte 43.
void write_frame(std::uint8_t* frame, std::uint16_t ether_type, std::uint16_t dst_port, std::uint8_t byte43) {
    frame[12] = static_cast<std::uint8_t>(ether_type >> 8);
    frame[13] = static_cast<std::uint8_t>(ether_type);
    frame[14] = 0x45;
    frame[36] = static_cast<std::uint8_t>(dst_port >> 8);
    frame[37] = static_cast<std::uint8_t>(dst_port);
    frame[43] = byte43;
}

} // namespace

TEST_CASE("legacy packet loads: a socket filter verifies and reads its packet as Linux does") {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_TAIL_DIR) + "/legacy_packet.o"),
                                 &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const Program filter = object->program("filter").value();
    CHECK(filter.verified());
    CHECK(filter.type().name == "socket_filter");

    struct Case {
        const char* what;
        std::size_t size;
        std::uint16_t ether_type;
        std::uint16_t dst_port;
        std::uint64_t r0;
    };
    const Case cases[] = {
        {"DNS to port 53", 64, 0x0800, 53, 0xffffffff},
        {"another port: byte 43", 64, 0x0800, 80, 0x5a},
        {"not IPv4", 64, 0x86dd, 53, 0},
        {"too short for the ports: the load ends the program", 36, 0x0800, 53, 0},
        {"too short for byte 43", 43, 0x0800, 80, 0},
        {"exactly long enough", 44, 0x0800, 80, 0x5a},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const testing_packets::HeapPacket packet(c.size);
        REQUIRE(packet.data() != nullptr);
        std::uint8_t frame[64] = {};
        write_frame(frame, c.ether_type, c.dst_port, 0x5a);
        std::memcpy(packet.data(), frame, c.size);
        SkBuff skb;
        skb.set_packet(packet);
        auto r0 = filter.run(skb.bytes.data(), skb.bytes.size());
        REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
        CHECK(*r0 == c.r0);
        auto checked = filter.run_checked(skb.bytes.data(), skb.bytes.size());
        REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
        CHECK(checked->r0 == c.r0);
    }
}

TEST_CASE("library calls: memset and memcpy of a constant size run as functions the loader links") {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_TAIL_DIR) + "/library_calls.o"),
                                 &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    // A size computed at run time is not supported, and says so.
    const ProgramSpec* variable = spec->program("variable_size");
    REQUIRE(variable != nullptr);
    REQUIRE(variable->definition.unsupported.has_value());
    CHECK_MESSAGE(variable->definition.unsupported->find("a call to memset whose size is not a constant") !=
                      std::string::npos,
                  *variable->definition.unsupported);
    std::erase_if(spec->programs(), [](const ProgramSpec& p) { return p.name() == "variable_size"; });

    const ProgramSpec* fill = spec->program("fill_and_copy");
    REQUIRE(fill != nullptr);
    CHECK_FALSE(fill->definition.unsupported.has_value());
    std::vector<std::string> linked;
    for (const auto& sub : fill->definition.subprograms) {
        linked.push_back(sub.name);
    }
    CHECK(linked == std::vector<std::string>{"memset_16", "memcpy_16"});

    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const Program program = object->program("fill_and_copy").value();
    CHECK(program.verified());
    const testing_packets::HeapPacket packet(16);
    for (std::uint32_t len : {0u, 20u, 63u, 64u + 5u}) {
        CAPTURE(len);
        SkBuff skb;
        skb.set_packet(packet);
        std::memcpy(skb.bytes.data(), &len, 4); // __sk_buff::len
        auto r0 = program.run(skb.bytes.data(), skb.bytes.size());
        REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
        CHECK(*r0 == 2 * (len & 0x3f));
        auto checked = program.run_checked(skb.bytes.data(), skb.bytes.size());
        REQUIRE(checked.has_value());
        CHECK(checked->r0 == 2 * (len & 0x3f));
    }
}
