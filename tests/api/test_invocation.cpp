// What the runtime enforces at and around each invocation, where the verifier cannot see: the context a host hands
// over, the program types in a program array, nested invocations, the platform's lifetime, the trace sink and what
// printing may read.
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/api/ring_buffer.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/invocation.hpp"
#include "linux_contexts.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;
using testing_seeds::BindContext;
using testing_seeds::XdpContext;

namespace {

const std::string kTail = EMBPF_TEST_TAIL_DIR;
const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;

Object load(const std::string& path, const platform::Platform* platform = nullptr, bool verified = true) {
    auto spec = ObjectSpec::open(std::filesystem::path(path), platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, spec->platform(), {.unverified = !verified});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const char kApp[] = "app.exe";

BindContext bind_context(std::uint64_t process_id) {
    BindContext ctx;
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(kApp);
    ctx.app_id_end = ctx.app_id_start + sizeof kApp - 1;
    ctx.process_id = process_id;
    return ctx;
}

std::uint64_t steps_of(const Object& object) {
    const std::uint32_t zero = 0;
    auto value = object.map("steps")->lookup({reinterpret_cast<const std::uint8_t*>(&zero), sizeof zero});
    REQUIRE(value.has_value());
    REQUIRE(value->has_value());
    std::uint64_t steps = 0;
    std::memcpy(&steps, (*value)->data(), sizeof steps);
    return steps;
}

} // namespace

// --- entry checks -----------------------------------------------------------------------------------------------

TEST_CASE("entry: a context smaller than the hook's is refused, naming both sizes") {
    const Object object = load(kSeeds + "/myxdp_stage3.o");
    const Program program = object.program(object.program_names().at(0)).value();
    std::uint8_t packet[64] = {};
    XdpContext ctx{packet, packet + sizeof packet, 0, 1};
    for (bool checked : {false, true}) {
        CAPTURE(checked);
        std::string message;
        if (checked) {
            auto refused = program.run_checked(&ctx, 8);
            REQUIRE_FALSE(refused.has_value());
            message = refused.error().message;
        } else {
            auto refused = program.run(&ctx, 8);
            REQUIRE_FALSE(refused.has_value());
            message = refused.error().message;
        }
        CHECK(contains(message, "context of 8 bytes is smaller than the 32 bytes"));
    }
    CHECK(program.run(&ctx, 32).has_value());
}

TEST_CASE("entry: a context size whose end wraps the address around is refused") {
    const Object object = load(kSeeds + "/myxdp_stage3.o");
    const Program program = object.program(object.program_names().at(0)).value();
    std::uint8_t packet[64] = {};
    XdpContext ctx{packet, packet + sizeof packet, 0, 1};
    const auto address = reinterpret_cast<std::uintptr_t>(&ctx);
    // SIZE_MAX, a size that wraps ctx + size to 16, and 2^63: each ends past kHighestAddress.
    for (const std::size_t size :
         {SIZE_MAX, std::size_t{0} - address + 16, std::size_t{1} << 63, runtime::kHighestAddress - address + 1}) {
        CAPTURE(size);
        auto refused = program.run(&ctx, size);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "where a program's offsets would wrap the address around (its"));
        CHECK_FALSE(program.run_checked(&ctx, size).has_value());
    }
}

TEST_CASE("entry: the data range must be ordered, above 64 KiB and at most max_data_size long") {
    const Object object = load(kSeeds + "/myxdp_stage3.o");
    const Program program = object.program(object.program_names().at(0)).value();
    CHECK(program.type().max_data_size == 0xFFFF);
    std::vector<std::uint8_t> packet(0x10000 + 16);
    struct Row {
        const char* what;
        std::uint8_t* data;
        std::uint8_t* data_end;
        const char* error;
    };
    const Row rows[] = {
        {"data past data_end", packet.data() + 8, packet.data(), "past data_end"},
        {"a range one byte too long", packet.data(), packet.data() + 0x10000,
         "exceeds the 65535 bytes (max_data_size)"},
        {"a data pointer in the first 64 KiB", reinterpret_cast<std::uint8_t*>(std::uintptr_t{0x1000}),
         reinterpret_cast<std::uint8_t*>(std::uintptr_t{0x1010}), "below 65536"},
        {"a null data range", nullptr, nullptr, "below 65536"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.what);
        XdpContext ctx{row.data, row.data_end, 0, 1};
        auto refused = program.run(&ctx, sizeof ctx);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, row.error));
        CHECK_FALSE(program.run_checked(&ctx, sizeof ctx).has_value());
    }
    XdpContext longest{packet.data(), packet.data() + 0xFFFF, 0, 1};
    CHECK(program.run(&longest, sizeof longest).has_value());

    // A context pointer in the first 64 KiB is no context; refused before anything reads it.
    auto low = program.run(reinterpret_cast<void*>(std::uintptr_t{0x2000}), 32);
    REQUIRE_FALSE(low.has_value());
    CHECK(contains(low.error().message, "context pointer 0x2000 is below 65536"));
}

TEST_CASE("entry: a data range the program may write must not share bytes with its context") {
    // A packet write over the context's data_end would move the bounds the verifier proved.
    const Object object = load(kSeeds + "/myxdp_stage3.o");
    const Program program = object.program(object.program_names().at(0)).value();
    struct Buffer {
        XdpContext ctx;
        std::uint8_t packet[64];
    } buffer{};
    auto* const start = reinterpret_cast<std::uint8_t*>(&buffer);
    buffer.ctx = XdpContext{start + 8, start + sizeof buffer, 0, 1}; // over data_end, and the packet behind
    auto refused = program.run(&buffer.ctx, sizeof buffer.ctx);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message,
                   "the context and the data range of the xdp context share bytes, and a program may write the data "
                   "range: a run's regions must lie apart"));
    CHECK_FALSE(program.run_checked(&buffer.ctx, sizeof buffer.ctx).has_value());
    // Right behind the context (its last byte not the packet's) it runs.
    buffer.ctx = XdpContext{buffer.packet, buffer.packet + sizeof buffer.packet, 0, 1};
    CHECK(program.run(&buffer.ctx, sizeof buffer.ctx).has_value());
}

TEST_CASE("entry: data_meta must lie right in front of data for a program that reads it, and is never written") {
    const Object object = load(kTail + "/packet_meta.o", &platform::linux());
    const Program program = object.program("read_meta").value();
    REQUIRE(program.verified());
    CHECK(program.verification().reads_packet_meta);
    using testing_packets::LinuxXdp;
    // 16 bytes of room, then 32 of packet.
    const testing_packets::HeapPacket memory(48);
    REQUIRE(memory.data() != nullptr);
    const std::uint32_t word = 0x11223344;
    std::memcpy(memory.data() + 8, &word, sizeof word);
    const std::uint64_t data = memory.start() + 16;
    auto seen = [&](std::uint32_t key) {
        auto value = object.map("seen")->lookup({reinterpret_cast<const std::uint8_t*>(&key), sizeof key});
        REQUIRE(value.has_value());
        REQUIRE(value->has_value());
        std::uint64_t out = 0;
        std::memcpy(&out, (*value)->data(), sizeof out);
        return out;
    };
    for (bool checked : {false, true}) {
        CAPTURE(checked);
        auto run = [&](const Program& p, LinuxXdp& ctx) -> Result<std::uint64_t> {
            if (!checked) {
                return p.run(&ctx, sizeof ctx);
            }
            auto outcome = p.run_checked(&ctx, sizeof ctx, 1'000'000);
            if (!outcome) {
                return std::move(outcome).error();
            }
            return outcome->r0;
        };
        // No metadata: data_meta is data.
        LinuxXdp none{.ingress_ifindex = 1, .host_data = data, .host_data_end = memory.end(), .host_meta = data};
        auto r0 = run(program, none);
        REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
        CHECK(*r0 == 2);
        CHECK(seen(0) == 0);
        CHECK(seen(1) == ~std::uint64_t{0});
        // Eight bytes of metadata: the program reads its first word.
        LinuxXdp eight{.ingress_ifindex = 1, .host_data = data, .host_data_end = memory.end(), .host_meta = data - 8};
        r0 = run(program, eight);
        REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
        CHECK(seen(0) == 8);
        CHECK(seen(1) == word);
        // Metadata left 0, behind data, too long, or in the first 64 KiB: refused before the program runs, and the
        // context is left as it was.
        struct Row {
            const char* what;
            std::uint64_t meta;
        };
        const Row rows[] = {{"left 0", 0}, {"past data", data + 1}, {"256 bytes", data - 256}, {"far", 0x10000}};
        // A program that does not read the field runs whatever it holds.
        const Program other = object.program("ignore_meta").value();
        CHECK_FALSE(other.verification().reads_packet_meta);
        for (const Row& row : rows) {
            CAPTURE(row.what);
            LinuxXdp ctx{.ingress_ifindex = 1, .host_data = data, .host_data_end = memory.end(), .host_meta = row.meta};
            auto refused = run(program, ctx);
            REQUIRE_FALSE(refused.has_value());
            char data_hex[24];
            std::snprintf(data_hex, sizeof data_hex, "0x%llx", static_cast<unsigned long long>(data));
            CHECK(contains(refused.error().message, "is not at most 255 bytes in front of data " +
                                                        std::string(data_hex) + ", and the program reads it"));
            CHECK(ctx.host_meta == row.meta);
            auto ignored = run(other, ctx);
            REQUIRE_MESSAGE(ignored.has_value(), (ignored ? "" : ignored.error().message));
            CHECK(*ignored == 2);
        }
    }
}

// Linux's xdp_md and __sk_buff keep the packet in 32-bit fields; the host hands the pointers over behind the struct,
// and the program's loads of the fields read them, so a packet anywhere in memory works: in every engine, verified or
// not.
TEST_CASE("entry: Linux programs run on packets above 4 GiB, in a heap buffer, verified or not") {
    for (const bool verified : {true, false}) {
        CAPTURE(verified);
        const Object object = load(kTail + "/heap_packet.o", &platform::linux(), verified);
        const Program xdp = object.program("xdp_sum").value();
        CHECK(xdp.verified() == verified);
        if (verified) {
            CHECK(xdp.verification().context_loads.size() == 2);
        }
        auto sum = [&]() {
            const std::uint32_t zero = 0;
            auto value = object.map("sums")->lookup({reinterpret_cast<const std::uint8_t*>(&zero), sizeof zero});
            REQUIRE(value.has_value());
            REQUIRE(value->has_value());
            std::uint64_t out = 0;
            std::memcpy(&out, (*value)->data(), sizeof out);
            return out;
        };
        // A packet mapped above 4 GiB, where no 32-bit field could point.
        const testing_packets::HeapPacket high(16);
        REQUIRE(high.data() != nullptr);
        REQUIRE(high.above_4gib());
        for (std::uint8_t i = 0; i < 16; ++i) {
            high.data()[i] = i;
        }
        auto ctx = testing_packets::linux_xdp(high, 1);
        if (verified) {
            auto r0 = xdp.run(&ctx, sizeof ctx);
            REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
            CHECK(*r0 == 2); // XDP_PASS
            CHECK(sum() == 120);
            CHECK(high.data()[0] == 0xee);
            high.data()[0] = 0;
        }
        auto checked = xdp.run_checked(&ctx, sizeof ctx, 100'000);
        REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
        CHECK(checked->r0 == 2);
        CHECK(sum() == (verified ? 240 : 120));
        CHECK(high.data()[0] == 0xee);
        // An ordinary heap buffer, and one byte too short for the program: dropped.
        std::vector<std::uint8_t> heap(15, 1);
        REQUIRE(platform::set_data_range(xdp.type().context, {reinterpret_cast<std::uint8_t*>(&ctx), sizeof ctx},
                                         heap.data(), heap.data() + heap.size())
                    .has_value());
        auto dropped = xdp.run_checked(&ctx, sizeof ctx, 100'000);
        REQUIRE_MESSAGE(dropped.has_value(), (dropped ? "" : dropped.error().message));
        CHECK(dropped->r0 == 1); // XDP_DROP
        CHECK(heap[0] == 1);
        // The struct's own 32-bit fields are never read as the packet: whatever they hold, the run is the same.
        ctx.data = 0x10000;
        ctx.data_end = 0x10000 + 15;
        dropped = xdp.run_checked(&ctx, sizeof ctx, 100'000);
        REQUIRE(dropped.has_value());
        CHECK(dropped->r0 == 1);
        // A context of the struct's 24 bytes only is refused, naming the size the host must hand over.
        auto small = xdp.run(&ctx, 24);
        REQUIRE_FALSE(small.has_value());
        CHECK(contains(small.error().message, "smaller than the 48 bytes of a xdp context"));

        // __sk_buff: 192 bytes, then the pointers.
        const Program tc = object.program("skb_length").value();
        testing_packets::SkBuffAround skb(60);
        REQUIRE(skb.packet.above_4gib());
        skb.packet.data()[59] = 0x7f;
        auto length = verified ? tc.run(skb.bytes.data(), skb.bytes.size())
                               : tc.run_checked(skb.bytes.data(), skb.bytes.size()).value().r0;
        REQUIRE_MESSAGE(length.has_value(), (length ? "" : length.error().message));
        CHECK(*length == (60 | (0x7f << 16)));
    }
}

TEST_CASE("entry: a data range ending where a program's offsets would wrap the address around is refused") {
    const Object object = load(kSeeds + "/myxdp_stage3.o");
    const Program program = object.program(object.program_names().at(0)).value();
    auto* high = reinterpret_cast<std::uint8_t*>(std::uintptr_t{0xffffffffffff0000});
    XdpContext ctx{high, high, 0, 1};
    auto refused = program.run(&ctx, sizeof ctx);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "ends at 0xffffffffffff0000, where a program's offsets would wrap"));
    auto* signed_edge = reinterpret_cast<std::uint8_t*>(std::uintptr_t{0x7fffffffffff0000});
    ctx = XdpContext{signed_edge, signed_edge, 0, 1};
    CHECK_FALSE(program.run_checked(&ctx, sizeof ctx).has_value());
}

TEST_CASE("entry: run_checked runs verified programs in the checked interpreter too") {
    const Object object = load(kSeeds + "/myxdp_stage3.o");
    const Program program = object.program(object.program_names().at(0)).value();
    REQUIRE(program.verified());
    std::uint8_t packet[64] = {};
    XdpContext ctx{packet, packet + sizeof packet, 0, 1};
    auto outcome = program.run_checked(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().message));
    CHECK(outcome->instructions > 0); // the unchecked interpreter counts nothing
}

// --- program arrays ---------------------------------------------------------------------------------------------

TEST_CASE("program arrays: an entry of another program type is refused, at load and through the API") {
    // The object's definition puts a socket filter (which writes __sk_buff::cb, past the end of xdp_md) into the
    // array its xdp program tail-calls through.
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/mixed_types_init.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto refused = Object::load(*spec);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "serves xdp programs"));
    CHECK(contains(refused.error().message, "socket_filter"));

    const Object object = load(kTail + "/mixed_types.o");
    MapHandle jump = object.map("jump").value();
    auto by_host = jump.set_program(0, object.program("write_cb").value());
    REQUIRE_FALSE(by_host.has_value());
    CHECK(contains(by_host.error().message, "serves xdp programs"));

    REQUIRE(jump.set_program(0, object.program("fits").value()).has_value());
    const testing_packets::HeapPacket packet(0);
    auto ctx = testing_packets::linux_xdp(packet, 1);
    auto r0 = object.program("dispatch").value().run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK(*r0 == 2); // XDP_PASS from `fits`
}

// mixed_types.o's program `fits` alone (it calls no helper), on `platform` (whose only type is xdp).
Object load_xdp_only(const platform::Platform& platform) {
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/mixed_types.o"), &platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    std::erase_if(spec->programs(), [](const ProgramSpec& p) { return p.name() != "fits"; });
    auto object = Object::load(*spec, platform);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

TEST_CASE("program arrays: a program verified for a longer data range or another return range is refused") {
    // The same type on another platform, changed in what the verifier assumed: a tail call from a linux() xdp program
    // would hand it a packet longer than it was verified for, or return a value its hook does not accept.
    const Object object = load(kTail + "/mixed_types.o", &platform::linux());
    MapHandle jump = object.map("jump").value();
    struct Change {
        const char* what;
        void (*apply)(platform::ProgramType&);
        const char* error;
    };
    const Change changes[] = {
        {"a shorter max_data_size", [](platform::ProgramType& t) { t.max_data_size = 64; }, "data ranges up to 65535"},
        {"a wider return range", [](platform::ProgramType& t) { t.return_max = 1000; }, "another return range"},
        {"a strict return range", [](platform::ProgramType& t) { t.out_of_range_return.reset(); },
         "another return range"},
    };
    for (const Change& change : changes) {
        CAPTURE(change.what);
        platform::Platform other("other", platform::linux().map_types());
        platform::ProgramType xdp = *platform::linux().program_type("xdp");
        xdp.helpers.clear();
        change.apply(xdp);
        REQUIRE(other.add_program_type(xdp).has_value());
        const Object callee = load_xdp_only(other);
        auto refused = jump.set_program(0, callee.program("fits").value());
        REQUIRE_FALSE(refused.has_value());
        CHECK_MESSAGE(contains(refused.error().message, change.error), refused.error().message);
    }
    // The same assumptions on another platform are welcome.
    platform::Platform same("same", platform::linux().map_types());
    platform::ProgramType xdp = *platform::linux().program_type("xdp");
    xdp.helpers.clear();
    REQUIRE(same.add_program_type(xdp).has_value());
    const Object callee = load_xdp_only(same);
    CHECK(jump.set_program(0, callee.program("fits").value()).has_value());
}

// --- return values ----------------------------------------------------------------------------------------------

TEST_CASE("return values: the host gets the 32 bits Linux's XDP hook reads, never more") {
    const Object object = load(kTail + "/xdp_return.o", &platform::linux());
    const Program program = object.program("action_in_low_bits").value();
    const testing_packets::HeapPacket packet(0);
    auto ctx = testing_packets::linux_xdp(packet, 5);
    auto r0 = program.run(&ctx, sizeof ctx);
    REQUIRE(r0.has_value());
    CHECK(*r0 == 2); // 0x5_0000_0002 from the program
    auto checked = program.run_checked(&ctx, sizeof ctx);
    REQUIRE(checked.has_value());
    CHECK(checked->r0 == 2);
}

TEST_CASE("return values: Linux's XDP reads a value that is no action as XDP_ABORTED") {
    const Object object = load(kTail + "/xdp_return.o", &platform::linux());
    const Program program = object.program("action_from_ifindex").value();
    REQUIRE(program.verified());
    REQUIRE(program.verification().warnings.size() == 1);
    const testing_packets::HeapPacket packet(0);
    struct Case {
        std::uint32_t ifindex;
        std::uint64_t action;
    };
    for (const Case c : {Case{0, 0}, Case{2, 2}, Case{4, 4}, Case{5, 0}, Case{0xFFFFFFFF, 0}, Case{0x80000000, 0}}) {
        CAPTURE(c.ifindex);
        auto ctx = testing_packets::linux_xdp(packet, c.ifindex);
        auto r0 = program.run(&ctx, sizeof ctx);
        REQUIRE(r0.has_value());
        CHECK(*r0 == c.action);
        auto checked = program.run_checked(&ctx, sizeof ctx);
        REQUIRE(checked.has_value());
        CHECK(checked->r0 == c.action);
    }
}

// --- runs that stop early ---------------------------------------------------------------------------------------

TEST_CASE("a run stopped by its instruction budget discards the ring-buffer record it held") {
    const Object object = load(kTail + "/ring_loop.o", &platform::linux());
    const Program program = object.program("reserve_loop_submit").value();
    auto records = object.ring_buffer<std::uint64_t>("records");
    REQUIRE(records.has_value());
    const testing_packets::HeapPacket packet(0);
    auto ctx = testing_packets::linux_xdp(packet, 1);
    auto stopped = program.run_checked(&ctx, sizeof ctx, 50);
    REQUIRE_FALSE(stopped.has_value());
    CHECK(contains(stopped.error().message, "budget"));
    for (int i = 0; i < 3; ++i) {
        auto r0 = program.run(&ctx, sizeof ctx);
        REQUIRE(r0.has_value());
        CHECK(*r0 == 2);
    }
    // The stopped run's record was discarded: the three later ones reach the consumer, and nothing is left.
    std::size_t delivered = 0;
    auto consumed = records->consume([&](const std::uint64_t& sum) {
        CHECK(sum >= 200);
        ++delivered;
    });
    CHECK(delivered == 3);
    CHECK(consumed.total() == 3);
    CHECK(records->available() == 0);
}

// --- unverified programs -----------------------------------------------------------------------------------------

TEST_CASE("unverified programs: helper arguments the prototype forbids stop the run before the helper") {
    const Object object = load(kTail + "/unchecked_arguments.o", &platform::linux(), false);
    const testing_packets::HeapPacket packet(64);
    struct Case {
        const char* program;
        const char* error;
    };
    const Case cases[] = {
        {"wild_key", "helper 1 (map_lookup_elem) argument 2 (0x10000) must be readable memory of the map's key size"},
        {"context_as_map", "helper 1 (map_lookup_elem) argument 1"},
        {"wild_buffer", "helper 130 (ringbuf_output) argument 2 (0x10000) must be readable memory"},
        {"forged_record", "must be a record this run reserved and still holds"},
        {"record_twice", "must be a record this run reserved and still holds"},
        {"longer_packet", "write of 4 bytes to read-only memory"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.program);
        const Program program = object.program(c.program).value();
        CHECK_FALSE(program.verified());
        auto ctx = testing_packets::linux_xdp(packet, 1);
        auto refused = program.run(&ctx, sizeof ctx);
        REQUIRE_FALSE(refused.has_value());
        CHECK_MESSAGE(contains(refused.error().message, c.error), refused.error().message);
        CHECK(ctx.host_data_end == packet.end()); // the host's context is as it was
    }
    // A program that keeps to its contract runs, and its record reaches the reader once.
    auto records = object.ring_buffer<std::uint64_t>("records");
    REQUIRE(records.has_value());
    records->consume([](const std::uint64_t&) {}); // record_twice's first submit
    auto ctx = testing_packets::linux_xdp(packet, 1);
    auto r0 = object.program("fair").value().run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK(*r0 == 2);
    std::size_t delivered = 0;
    records->consume([&](const std::uint64_t& value) {
        CHECK(value == 5);
        ++delivered;
    });
    CHECK(delivered == 1);
}

TEST_CASE("maps of maps: inner maps that name inner maps of their own are refused at load, not followed") {
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/inner_cycle.o"), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto refused = Object::load(*spec);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(contains(refused.error().message, "names an inner map of its own"), refused.error().message);
}

// --- nested invocations -----------------------------------------------------------------------------------------

namespace {
std::optional<Program> g_nested;
std::string g_nested_error;
std::uint64_t run_nested() noexcept {
    BindContext ctx = bind_context(0);
    auto r0 = g_nested->run(&ctx, sizeof ctx);
    if (!r0) {
        g_nested_error += r0.error().message + "\n";
        return 0;
    }
    return *r0;
}
} // namespace

TEST_CASE("invocations: a program run by a host helper has its own tail-call chain") {
    platform::Platform host = platform::windows();
    REQUIRE(host.add_helper<&run_nested>(1001, "run_nested", platform::proto(platform::ret::integer)).has_value());
    const Object object = load(kTail + "/nested.o", &host);
    const Program chain = object.program("chain").value();
    REQUIRE(object.map("self")->set_program(0, chain).has_value());

    g_nested = object.program("inner").value();
    BindContext ctx = bind_context(0);
    auto r0 = chain.run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK(*r0 == 1);                                       // the chain ended at the tail-call limit ...
    CHECK(steps_of(object) == runtime::kMaxTailCalls + 1); // ... after the first run and 33 tail calls

    // A helper that runs the calling program again nests; past the depth limit the nested run is refused.
    const std::uint32_t zero = 0;
    const std::uint64_t none = 0;
    REQUIRE(object.map("steps")
                ->update({reinterpret_cast<const std::uint8_t*>(&zero), 4},
                         {reinterpret_cast<const std::uint8_t*>(&none), 8})
                .has_value());
    g_nested = chain;
    g_nested_error.clear();
    CHECK(chain.run(&ctx, sizeof ctx).has_value());
    CHECK(contains(g_nested_error, "nest more than " + std::to_string(runtime::kMaxInvocationDepth)));
    g_nested.reset();
}

TEST_CASE("invocations: one invocation with those nested in it runs at most kMaxRunsPerInvocation programs") {
    // Chains of 34 runs that each start a nested invocation of the same chain would make 34^8 runs of one call.
    platform::Platform host = platform::windows();
    REQUIRE(host.add_helper<&run_nested>(1001, "run_nested", platform::proto(platform::ret::integer)).has_value());
    const Object object = load(kTail + "/nested.o", &host);
    const Program flood = object.program("flood").value();
    REQUIRE(object.map("self")->set_program(0, flood).has_value());
    g_nested = flood;
    g_nested_error.clear();
    BindContext ctx = bind_context(0);
    auto r0 = flood.run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK(steps_of(object) == runtime::kMaxRunsPerInvocation); // each run granted ran, and no more were

    // The next call counts anew.
    const std::uint32_t zero = 0;
    const std::uint64_t none = 0;
    REQUIRE(object.map("steps")
                ->update({reinterpret_cast<const std::uint8_t*>(&zero), 4},
                         {reinterpret_cast<const std::uint8_t*>(&none), 8})
                .has_value());
    CHECK(flood.run(&ctx, sizeof ctx).has_value());
    CHECK(steps_of(object) == runtime::kMaxRunsPerInvocation);

    // Nested invocations one after the other count too: of 1100, the first 1023 run (with the outer one, 1024).
    g_nested = object.program("inner").value();
    g_nested_error.clear();
    CHECK(object.program("many")->run(&ctx, sizeof ctx).has_value());
    const std::string refused = "the invocation this one is nested in, and those nested in it, ran " +
                                std::to_string(runtime::kMaxRunsPerInvocation) + " programs already\n";
    std::size_t refusals = 0;
    for (std::size_t at = g_nested_error.find(refused); at != std::string::npos;
         at = g_nested_error.find(refused, at + 1)) {
        ++refusals;
    }
    CHECK(refusals == 1100 - (runtime::kMaxRunsPerInvocation - 1));
    g_nested.reset();
}

TEST_CASE("engines: a program's code is swapped while other threads run it; runs finish with the code they began") {
    platform::Platform host = platform::windows();
    REQUIRE(host.add_helper<&run_nested>(1001, "run_nested", platform::proto(platform::ret::integer)).has_value());
    const Object object = load(kTail + "/nested.o", &host);
    const Program inner = object.program("inner").value();
    CHECK(inner.engine() == LoadOptions{}.engine);
    auto aot = inner.use_engine(exec::EngineKind::aot);
    REQUIRE_FALSE(aot.has_value());
    CHECK(aot.error().kind == ErrorKind::unsupported);
    const bool have_jit = exec::host_jit_target().has_value();

    std::atomic<bool> running{true};
    std::atomic<std::uint64_t> runs{0};
    std::atomic<std::uint64_t> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            BindContext ctx = bind_context(0);
            while (running.load(std::memory_order_relaxed)) {
                auto r0 = inner.run(&ctx, sizeof ctx);
                if (!r0 || *r0 != 0) {
                    ++wrong;
                }
                ++runs;
            }
        });
    }
    // Back and forth between the interpreter and the JIT's machine code (whose pages are unmapped when retired), and
    // now and then LLVM's code (whose memory is released when retired).
    for (int swap = 0; swap < 10'000; ++swap) {
        exec::EngineKind kind = have_jit && swap % 2 == 0 ? exec::EngineKind::jit : exec::EngineKind::interpreter;
        if (exec::optimizer_available() && swap % 500 == 2) {
            kind = exec::EngineKind::optimized;
        }
        REQUIRE(inner.use_engine(kind).has_value());
        CHECK(inner.engine() == kind);
    }
    running = false;
    for (std::thread& thread : threads) {
        thread.join();
    }
    MESSAGE(runs.load() << " runs raced 10000 swaps");
    CHECK(wrong == 0);
    CHECK(inner.engine() == exec::EngineKind::interpreter);
}

// --- lifetimes --------------------------------------------------------------------------------------------------

namespace {
std::uint64_t text_length(const char* text, std::uint32_t size) noexcept { return strnlen(text, size); }
} // namespace

TEST_CASE("lifetimes: a program keeps its platform alive; the host's copy may go first") {
    std::optional<Program> program;
    {
        auto host = std::make_unique<platform::Platform>(platform::windows());
        using namespace platform;
        REQUIRE(host->add_helper<&text_length>(1000, "log_request",
                                               proto(ret::integer, arg::ptr_to_readable_mem, arg::const_size))
                    .has_value());
        const Object object = load(kTail + "/host_helper.o", host.get(), false); // returns what bind does not take
        CHECK(&object.platform() != host.get());                                 // the object's own copy
        program = object.program("log_binds").value();
        host.reset(); // under ASan, a run that read the host's platform would fail below
    }
    BindContext ctx = bind_context(1);
    auto outcome = program->run_checked(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().message));
    CHECK(outcome->r0 == 12);
    CHECK(program->type().name == "bind");
}

// --- typed host helpers -----------------------------------------------------------------------------------------

namespace {
std::uint64_t fill(char* out, std::uint32_t size) noexcept {
    for (std::uint32_t i = 0; i < size; ++i) {
        out[i] = 'x';
    }
    return size;
}
std::uint64_t twice(std::uint64_t value) noexcept { return 2 * value; }
const char* host_name() noexcept { return "host"; }
} // namespace

TEST_CASE("host helpers: a prototype that contradicts the function's parameters is refused") {
    using namespace platform;
    struct Row {
        const char* what;
        Result<void> (*add)(Platform&);
        const char* error; // empty: accepted
    };
    const Row rows[] = {
        {"a pointer to writable memory",
         [](Platform& p) {
             return p.add_helper<&fill>(2000, "fill", proto(ret::integer, arg::ptr_to_writable_mem, arg::const_size));
         },
         ""},
        {"a pointer declared as a plain number",
         [](Platform& p) {
             return p.add_helper<&fill>(2000, "fill", proto(ret::integer, arg::anything, arg::anything));
         },
         "parameter 1 is a pointer, but its argument kind anything is no memory kind"},
        {"a writable pointer declared as read-only memory",
         [](Platform& p) {
             return p.add_helper<&fill>(2000, "fill", proto(ret::integer, arg::ptr_to_readable_mem, arg::const_size));
         },
         "parameter 1 points to non-const memory, but its argument kind ptr_to_readable_mem is read-only"},
        {"an integer declared as memory",
         [](Platform& p) { return p.add_helper<&twice>(2000, "twice", proto(ret::integer, arg::ptr_to_map_value)); },
         "parameter 1 is an integer, but its argument kind ptr_to_map_value is a pointer"},
        {"too few arguments",
         [](Platform& p) { return p.add_helper<&fill>(2000, "fill", proto(ret::integer, arg::ptr_to_writable_mem)); },
         "takes 2 parameters and its prototype declares 1 arguments"},
        {"too many arguments",
         [](Platform& p) {
             return p.add_helper<&twice>(2000, "twice", proto(ret::integer, arg::anything, arg::anything));
         },
         "takes 1 parameters and its prototype declares 2 arguments"},
        {"an integer",
         [](Platform& p) { return p.add_helper<&twice>(2000, "twice", proto(ret::integer, arg::anything)); }, ""},
        // The result: a number, never an address the verifier would have to trust.
        {"a function returning a pointer",
         [](Platform& p) { return p.add_helper<&host_name>(2000, "host_name", proto(ret::integer)); },
         "its function returns a pointer; a host helper returns a number"},
        {"a number declared as a map value",
         [](Platform& p) {
             return p.add_helper<&twice>(2000, "twice", proto(ret::ptr_to_map_value_or_null, arg::anything));
         },
         "its prototype returns ptr_to_map_value_or_null; a host helper returns a number"},
        {"an untyped function declared to return a map value",
         [](Platform& p) {
             return p.add_helper(2000, "raw", platform::detail::trampoline_for<&twice>(&twice),
                                 proto(ret::ptr_to_map_value_or_null, arg::anything));
         },
         "its prototype returns ptr_to_map_value_or_null; a host helper returns a number"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.what);
        Platform host = platform::windows();
        auto added = row.add(host);
        if (std::string(row.error).empty()) {
            CHECK_MESSAGE(added.has_value(), (added ? "" : added.error().message));
        } else {
            REQUIRE_FALSE(added.has_value());
            CHECK(contains(added.error().message, row.error));
            CHECK(host.helper(2000) == nullptr);
        }
    }
    // A function that may throw does not compile: add_helper static_asserts that it is noexcept.
}

// --- printing ---------------------------------------------------------------------------------------------------

TEST_CASE("trace sink: a sink may uninstall or replace itself from inside the callback") {
    const Object object = load(kTail + "/printk.o");
    const Program program = object.program("print_name").value();
    std::atomic<int> calls{0};
    runtime::TraceSink replacement = [&](std::string_view) { calls += 100; };
    auto previous = runtime::set_trace_sink([&](std::string_view) {
        ++calls;
        runtime::set_trace_sink(replacement); // replaces itself, destroying this very lambda's owner
    });
    std::atomic<bool> done{false};
    std::thread runner([&] {
        BindContext ctx = bind_context(0);
        (void)program.run(&ctx, sizeof ctx);
        (void)program.run(&ctx, sizeof ctx);
        runtime::set_trace_sink({}); // and one that uninstalls itself
        done = true;
    });
    for (int i = 0; i < 1000 && !done; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!done) {
        runner.detach(); // deadlocked: report instead of hanging the test run
        FAIL("a trace sink that replaces itself deadlocks");
    }
    runner.join();
    CHECK(calls == 101);
    auto uninstall = runtime::set_trace_sink([&](std::string_view) { runtime::set_trace_sink({}); });
    BindContext ctx = bind_context(0);
    CHECK(program.run(&ctx, sizeof ctx).has_value());
    runtime::set_trace_sink(std::move(previous));
}

TEST_CASE("printk: %s reads no host memory on a platform for untrusted plugins") {
    static const char secret[] = "host secret";
    std::vector<std::string> lines;
    auto previous = runtime::set_trace_sink([&](std::string_view line) { lines.emplace_back(line); });
    BindContext ctx = bind_context(reinterpret_cast<std::uintptr_t>(secret)); // a plugin's guess at an address

    REQUIRE(platform::windows().for_untrusted_plugins());
    const Object untrusted = load(kTail + "/printk.o");
    CHECK(untrusted.program("print_name").value().run(&ctx, sizeof ctx).has_value());

    platform::Platform trusted = platform::windows();
    trusted.set_for_untrusted_plugins(false); // a test double for trusted programs, as linux() is
    const Object object = load(kTail + "/printk.o", &trusted);
    CHECK(object.program("print_name").value().run(&ctx, sizeof ctx).has_value());
    runtime::set_trace_sink(std::move(previous));

    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "name " + std::string(runtime::kHiddenString));
    CHECK(lines[1] == "name host secret");
}

TEST_CASE("invocation: an array's lookups give its own values in every engine, computed inline when optimized") {
    // tests/api/objects/arrays.c counts packets by length in an array of 8 slots.
    std::vector<exec::EngineKind> engines{exec::EngineKind::interpreter};
    if (exec::host_jit_target()) {
        engines.push_back(exec::EngineKind::jit);
    }
    if (exec::optimizer_available()) {
        engines.push_back(exec::EngineKind::optimized);
    }
    for (const exec::EngineKind engine : engines) {
        CAPTURE(exec::to_string(engine));
        auto spec =
            ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/arrays.o"), &platform::linux());
        REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
        auto object = Object::load(*spec, {.engine = engine});
        REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
        auto program = object->program("count_by_length");
        REQUIRE(program.has_value());
        CHECK(program->engine() == engine);
        CHECK(program->engine_fallback().empty());
        auto slots = object->map<std::uint32_t, std::uint64_t>("slots");
        REQUIRE(slots.has_value());
        REQUIRE(slots->update(3, 40).has_value()); // a host's value, which the program's lookup finds
        testing_packets::SkBuffAround skb(16);
        std::vector<std::uint64_t> results;
        for (const std::uint32_t length : {3U, 3U, 0U, 7U, 8U, 0xFFFFFFFFU, 7U}) {
            std::memcpy(skb.bytes.data(), &length, 4); // __sk_buff::len
            auto r0 = program->run(skb.bytes.data(), skb.bytes.size());
            REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
            results.push_back(*r0);
        }
        CHECK(results == std::vector<std::uint64_t>{41, 42, 1, 1, 1000, 1000, 2});
        // The program's stores went to the map's own values.
        CHECK(slots->lookup(3) == std::optional<std::uint64_t>(42));
        CHECK(slots->lookup(7) == std::optional<std::uint64_t>(2));
        CHECK(slots->lookup(0) == std::optional<std::uint64_t>(1));
    }
}
