// Hosts written against skeletons that `embpf gen skeleton` generated at build time (skeleton.cmake): the C++ types
// each header declares, checked at compile time, and each object loaded from the bytes its header embeds, its
// globals set before the load, run, and its maps, ring buffers and globals read through the typed members.
#include "myxdp.skel.hpp"
#include "request_plugin.skel.hpp"
#include "skeleton_plugin.skel.hpp"
#include "trace_connections.skel.hpp"
#include "typed_maps.skel.hpp"

#include <embpf/platform/json.hpp>
#include <embpf/testing/context.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

namespace sp = skeleton_plugin;

// The maps' C++ types follow their kinds and BTF types: typed where the object says, a handle where values are not
// plain data.
static_assert(std::is_same_v<decltype(sp::Object::Maps::flows), embpf::Map<sp::flow_key, sp::flow_value>>);
static_assert(
    std::is_same_v<decltype(sp::Object::Maps::totals), embpf::Map<std::uint32_t, embpf::PerCpu<sp::flow_stats>>>);
static_assert(std::is_same_v<decltype(sp::Object::Maps::recent), embpf::Map<void, sp::record>>);
static_assert(std::is_same_v<decltype(sp::Object::Maps::events), embpf::RingBuffer<sp::record>>);
static_assert(std::is_same_v<decltype(sp::Object::Maps::jump), embpf::MapHandle>);
static_assert(std::is_same_v<decltype(sp::Object::Programs::count_flows), embpf::Program>);
static_assert(std::is_same_v<decltype(sp::Object::rodata), embpf::GlobalData<sp::Rodata>>);
static_assert(std::is_same_v<decltype(sp::Object::data_limits), embpf::GlobalData<sp::DataLimits>>);
// The object's layouts: padding kept where C has it, a packed struct packed, enums of their sizes.
static_assert(sizeof(sp::flow_key) == 12 && offsetof(sp::flow_key, ifindex) == 4);
static_assert(sizeof(sp::flow_value) == 56 && offsetof(sp::flow_value, shade) == 29);
static_assert(sizeof(sp::record) == 10 && offsetof(sp::record, stamp) == 1);
static_assert(std::is_same_v<std::underlying_type_t<sp::shade>, std::uint8_t>);
static_assert(std::is_same_v<std::underlying_type_t<sp::verdict>, std::uint32_t>);
static_assert(std::is_same_v<decltype(sp::Rodata::otherwise), sp::verdict>);
static_assert(std::is_same_v<decltype(sp::flow_value::name), std::array<char, 8>>);
static_assert(std::is_same_v<decltype(sp::flow_value::class_), std::uint32_t>); // C's `class` member
static_assert(sizeof(sp::Bss) == 18 && sizeof(sp::Data) == 9);
// The seeds: a struct named by its typedef, a ring buffer typed by --ring-record, a legacy map's bytes.
static_assert(std::is_same_v<decltype(trace_connections::Object::Maps::proc_map),
                             embpf::Map<std::uint32_t, trace_connections::process_info>>);
static_assert(sizeof(trace_connections::process_info) == 40);
static_assert(std::is_same_v<decltype(myxdp::Object::Maps::xdp_map), embpf::RingBuffer<myxdp::FiveTuple>>);
static_assert(sizeof(myxdp::FiveTuple) == 16);
static_assert(std::is_same_v<decltype(typed_maps::Object::Maps::event_queue), embpf::Map<void, typed_maps::event>>);

namespace {

// Runs the plugin on a packet of `proto` and `port`, arrived on interface 3.
std::uint64_t run_flow(const sp::Object& object, std::uint8_t proto, std::uint8_t port) {
    const std::array<std::uint8_t, 20> packet{proto, port};
    embpf::testing::Context context(object.programs.count_flows);
    context.packet(packet).set("ingress_ifindex", 3);
    auto verdict = context.run(object.programs.count_flows);
    REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
    return *verdict;
}

constexpr std::uint64_t kXdpDrop = 1;
constexpr std::uint64_t kXdpPass = 2;

} // namespace

TEST_CASE("skeleton: globals set before the load, then maps, a ring buffer and globals read after runs") {
    auto spec = sp::Spec::open();
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    // The initial values are the object's until the host sets them.
    CHECK(spec->rodata.otherwise == sp::verdict::VERDICT_PASS);
    CHECK(spec->data.step == 1);
    CHECK(std::string(spec->data.tag.data()) == "abcd");
    CHECK(spec->data_limits.limit == 100);
    spec->rodata.drop_port = 9;
    spec->data.step = 10;

    auto object = spec->load();
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    CHECK(run_flow(*object, 6, 80) == kXdpPass);
    CHECK(run_flow(*object, 6, 80) == kXdpPass);
    CHECK(run_flow(*object, 17, 9) == kXdpDrop); // the port the host set before the load

    sp::flow_key key{}; // value-initialized: the key's padding is part of it
    key.proto = 6;
    key.ifindex = 3;
    key.port = 80;
    auto flow = object->maps.flows.lookup(key);
    REQUIRE(flow.has_value());
    CHECK(flow->stats.packets == 2);
    CHECK(flow->stats.bytes == 40);
    CHECK(flow->counters.total == 2);
    CHECK(flow->counters.dropped == 0);
    CHECK(flow->low == 0x1234); // the anonymous struct in the anonymous union
    CHECK(flow->high == 1);
    CHECK(flow->raw == 0x00011234);
    CHECK(std::uint32_t{flow->flags} == 5); // bitfields (doctest takes operands by reference)
    CHECK(std::uint32_t{flow->level} == 2);
    CHECK(flow->shade == sp::shade::SHADE_LIGHT);
    CHECK(std::string(flow->name.data()) == "abcd");
    CHECK(flow->seen.first == 10);
    CHECK(flow->seen.last == 20);
    CHECK(flow->class_ == 7);
    CHECK(flow->new_ == 8);
    CHECK(object->maps.flows.size() == 2);

    // Per-CPU: each slot's value; the drop went to slot 1.
    const auto passed = object->maps.totals.lookup(0);
    REQUIRE(passed.has_value());
    const auto packets =
        std::accumulate(passed->begin(), passed->end(), std::uint64_t{0},
                        [](std::uint64_t sum, const sp::flow_stats& slot) { return sum + slot.packets; });
    CHECK(packets == 2);

    // The globals as the program left them, then changed by the host.
    const sp::Bss bss = object->bss.read();
    CHECK(bss.seen_total == 30);
    CHECK(bss.last_record.kind == 17);
    // A packed member is copied out before the check, which binds a reference to its operand (a misaligned one here).
    const std::uint64_t stamp = bss.last_record.stamp;
    CHECK(stamp == 30);
    CHECK(std::uint32_t{bss.last_record.dropped} == 1); // bitfields of a packed struct
    CHECK(std::uint32_t{bss.last_record.level} == 1);   // port 9 & 7
    CHECK(object->rodata.read().drop_port == 9);
    CHECK(object->rodata.read_only());
    CHECK_FALSE(object->rodata.write(sp::Rodata{}).has_value());
    REQUIRE(object->bss.write(sp::Bss{}).has_value());
    sp::Data data = object->data.read();
    data.step = 1;
    REQUIRE(object->data.write(data).has_value());
    CHECK(run_flow(*object, 6, 80) == kXdpPass);
    CHECK(object->bss.read().seen_total == 1);

    // The queue and the ring buffer hold one record of each run, typed.
    std::vector<std::uint64_t> queued;
    while (auto next = object->maps.recent.pop()) {
        queued.push_back(std::uint64_t{next->stamp}); // a copy: the packed member is misaligned
    }
    CHECK(queued == std::vector<std::uint64_t>{10, 20, 30, 1});
    std::vector<std::uint8_t> kinds;
    std::vector<std::uint8_t> levels;
    const auto consumed = object->maps.events.consume([&](const sp::record& record) {
        kinds.push_back(record.kind);
        levels.push_back(record.level);
    });
    CHECK(consumed.delivered == 4);
    CHECK(kinds == std::vector<std::uint8_t>{6, 6, 17, 6});
    CHECK(levels == std::vector<std::uint8_t>{0, 0, 1, 0}); // ports 80, 80, 9, 80, each & 7

    CHECK(object->maps.jump.kind() == embpf::platform::MapKind::prog_array);
    CHECK(object->object().program_names() == std::vector<std::string>{"count_flows"});
}

TEST_CASE("skeleton: a spec loads again as a new object, with maps of its own and the globals set since") {
    auto spec = sp::Spec::open();
    REQUIRE(spec.has_value());
    auto first = spec->load();
    REQUIRE(first.has_value());
    CHECK(run_flow(*first, 6, 80) == kXdpPass);

    spec->rodata.otherwise = sp::verdict::VERDICT_DROP; // the verifier sees the new constant
    auto second = spec->load();
    REQUIRE(second.has_value());
    CHECK(run_flow(*second, 6, 80) == kXdpDrop);
    CHECK(first->maps.flows.size() == 1);
    CHECK(second->maps.flows.size() == 1);
    CHECK(run_flow(*first, 6, 80) == kXdpPass);
}

TEST_CASE("skeleton: typed_maps.o's per-CPU, queue, stack and LRU maps and its .bss") {
    auto spec = typed_maps::Spec::open();
    REQUIRE(spec.has_value());
    spec->bss.seq = 100;
    auto object = spec->load();
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const std::array<std::uint8_t, 16> packet{};
    embpf::testing::Context context(object->programs.record);
    context.packet(packet).set("ingress_ifindex", 5).set("rx_queue_index", 2);
    REQUIRE(context.run(object->programs.record).has_value());
    CHECK(object->bss.read().seq == 101);
    auto counters = object->maps.per_interface.lookup(5);
    REQUIRE(counters.has_value());
    const auto slot = std::find_if(counters->begin(), counters->end(),
                                   [](const typed_maps::counter& counter) { return counter.packets != 0; });
    REQUIRE(slot != counters->end());
    CHECK(slot->weight == 2);
    CHECK(slot->last_ifindex == 5);
    auto queued = object->maps.event_queue.pop();
    REQUIRE(queued.has_value());
    CHECK(queued->ifindex == 5);
    CHECK(queued->seq == 101);
    CHECK(object->maps.event_stack.peek().has_value());
    CHECK(object->maps.recent.lookup(5) == std::optional<std::uint64_t>(101));
}

TEST_CASE("skeleton: the seeds on windows, a map typed by the object's typedef and a ring buffer of FiveTuple") {
    auto trace = trace_connections::load(); // generated with --platform windows: opens on it
    REQUIRE_MESSAGE(trace.has_value(), (trace ? "" : trace.error().message));
    CHECK(trace->object().platform().name() == "windows");
    const std::string app = "nginx.exe";
    embpf::testing::Context bind(trace->programs.TraceConnections);
    bind.packet(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(app.data()), app.size()))
        .set("process_id", 42);
    REQUIRE(bind.run(trace->programs.TraceConnections).has_value());
    auto info = trace->maps.proc_map.lookup(42);
    REQUIRE(info.has_value());
    CHECK(info->id == 42);
    CHECK(info->count == 1);
    CHECK(std::string(info->name.data(), app.size()) == app);

    auto xdp = myxdp::load();
    REQUIRE_MESSAGE(xdp.has_value(), (xdp ? "" : xdp.error().message));
    // Ethernet, then IPv4 (protocol 17 at byte 23, addresses at 26 and 30), then UDP ports 53000 -> 53.
    std::array<std::uint8_t, 42> packet{};
    packet[12] = 0x08;
    packet[14] = 0x45;
    packet[23] = 17;
    const std::array<std::uint8_t, 12> addresses_and_ports{192, 168, 1, 20, 10, 0, 0, 53, 0xce, 0xc8, 0x00, 0x35};
    std::copy(addresses_and_ports.begin(), addresses_and_ports.end(), packet.begin() + 26);
    embpf::testing::Context context(xdp->programs.packet_parse);
    context.packet(packet);
    REQUIRE(context.run(xdp->programs.packet_parse).has_value());
    std::vector<myxdp::FiveTuple> tuples;
    xdp->maps.xdp_map.consume([&](const myxdp::FiveTuple& tuple) { tuples.push_back(tuple); });
    REQUIRE(tuples.size() == 1);
    CHECK(tuples[0].proto == 17);
    CHECK(tuples[0].src_address == 0x1401a8c0); // 192.168.1.20 as the program read it, in network order
    CHECK(tuples[0].dst_port == 0x3500);
}

TEST_CASE("skeleton: a plugin of a host's hook described in JSON opens only on that host's platform") {
    auto refused = request_plugin::Spec::open();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message ==
          "request_plugin was generated for the host platform request_host: open it with that platform");

    std::ifstream file(EMBPF_TEST_REQUEST_HOST);
    const std::string json((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto host = embpf::platform::from_json(json);
    REQUIRE_MESSAGE(host.has_value(), (host ? "" : host.error().message));
    static int logged = 0;
    REQUIRE(host->replace_implementation("log_request",
                                         [](std::uint64_t, std::uint64_t size, std::uint64_t, std::uint64_t,
                                            std::uint64_t) -> std::uint64_t {
                                             logged += static_cast<int>(size);
                                             return 0;
                                         })
                .has_value());
    auto object = request_plugin::load(&*host);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const std::string path = "/a/b/c/d";
    std::array<std::uint8_t, 4> body{};
    embpf::testing::Context context(object->programs.count_slashes);
    context
        .memory("path", std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(path.data()), path.size()))
        .memory("body", std::span<std::uint8_t>(body));
    auto verdict = context.run(object->programs.count_slashes);
    REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
    CHECK(*verdict == 1); // DENY: more than three slashes
    CHECK(context.get("status").value_or(0) == 4);
    CHECK(logged == static_cast<int>(path.size()));
}
