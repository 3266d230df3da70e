// Object::load: maps created, references resolved, programs run in the checked interpreter; the seeds' programs
// through the runtime.
#include "embpf/api/object.hpp"
#include "embpf/elf/object_file.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/ring_buffer.hpp"
#include "linux_contexts.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace embpf;
using testing_seeds::BindContext;
using testing_seeds::ProcessInfo;

namespace {

const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;
const std::string kElf = EMBPF_TEST_ELF_DIR;

Object load(const std::string& path) { return testing_seeds::load_unverified(path); }

std::span<const std::uint8_t> bytes_of(const std::uint32_t& value) {
    return {reinterpret_cast<const std::uint8_t*>(&value), sizeof value};
}

} // namespace

TEST_CASE("object: loading verifies every program; verified programs run unchecked") {
    auto spec = ObjectSpec::open(std::filesystem::path(kSeeds + "/TraceConnections.o"));
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto program = object->program("TraceConnections");
    REQUIRE(program.has_value());
    CHECK(program->verified());
    CHECK(program->verification().verified);
    REQUIRE(program->verification().instruction_bound.has_value());
    CHECK(*program->verification().instruction_bound == 40); // the longest path: the first bind of a process
    BindContext ctx;
    const char app[] = "nginx.exe";
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;
    ctx.process_id = 7;
    auto r0 = program->run(&ctx, sizeof ctx);
    REQUIRE(r0.has_value());
    CHECK(*r0 == 0);
    auto counts = object->map("proc_map");
    REQUIRE(counts.has_value());
    const std::uint32_t pid = 7;
    auto value = counts->lookup(bytes_of(pid));
    REQUIRE(value.has_value());
    CHECK(value->has_value());
}

TEST_CASE("object: a program that fails verification is refused with the report") {
    auto spec = ObjectSpec::open(std::filesystem::path(kSeeds + "/myxdp_stage2.o"));
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec);
    REQUIRE_FALSE(object.has_value());
    const std::string& message = object.error().message;
    CHECK(object.error().kind == ErrorKind::invalid_input);
    CHECK(message.find("program packet_parse: verification failed") != std::string::npos);
    CHECK(message.find("5: Upper bound must be at most packet_size (valid_access(r1.offset+12, width=2))") !=
          std::string::npos);
    CHECK(message.find("1 errors") != std::string::npos);
    // Said once, not as the load's line and again as the report's first.
    CHECK(message.find("erification failed") == message.rfind("erification failed"));
    CHECK(message.find("Verification report:") != std::string::npos);
    // And as a structured report: the first error's pc, and every finding with its assertion.
    CHECK(object.error().pc == std::optional<std::size_t>(5));
    REQUIRE(object.error().report != nullptr);
    const verifier::Report& report = *object.error().report;
    CHECK(report.program == "packet_parse");
    CHECK_FALSE(report.verified);
    REQUIRE(report.errors.size() == 1);
    CHECK(report.errors[0].pc == 5);
    CHECK(report.errors[0].message == "Upper bound must be at most packet_size");
    CHECK(report.errors[0].assertion == "valid_access(r1.offset+12, width=2)");
    // Other errors carry none.
    const std::vector<std::uint8_t> garbage(64, 0x5a);
    auto unreadable = ObjectSpec::open(std::span<const std::uint8_t>(garbage));
    REQUIRE_FALSE(unreadable.has_value());
    CHECK(unreadable.error().report == nullptr);
    // The unverified mode still loads it, to run under runtime checks.
    auto unverified = Object::load(*spec, {.unverified = true});
    REQUIRE(unverified.has_value());
    CHECK_FALSE(unverified->program("packet_parse")->verified());
}

TEST_CASE("object: TraceConnections counts binds per process in proc_map") {
    Object object = load(kSeeds + "/TraceConnections.o");
    auto program = object.program("TraceConnections");
    REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
    CHECK(program->type().name == "bind");
    CHECK_FALSE(program->verified());

    struct Event {
        std::uint32_t pid;
        std::string app;
        std::int32_t operation;
    };
    const std::vector<Event> events = {
        {100, "C:\\Windows\\System32\\svchost.exe", 0},
        {200, "nginx.exe", 0},
        {100, "C:\\Windows\\System32\\svchost.exe", 0},
        {100, "C:\\Windows\\System32\\svchost.exe", 2}, // an unbind is not counted
        {300, "a-very-long-application-name-that-exceeds-thirty-two-bytes.exe", 0},
        {200, "nginx.exe", 0},
        {200, "nginx.exe", 0},
    };
    for (const Event& event : events) {
        BindContext ctx{};
        ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(event.app.data());
        ctx.app_id_end = ctx.app_id_start + event.app.size();
        ctx.process_id = event.pid;
        ctx.operation = event.operation;
        auto verdict = program->run(&ctx, sizeof ctx);
        REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
        CHECK(*verdict == 0); // BIND_PERMIT
    }

    auto proc_map = object.map("proc_map");
    REQUIRE(proc_map.has_value());
    CHECK(proc_map->value_type_name() == "process_info");
    const std::map<std::uint32_t, std::pair<std::string, std::uint32_t>> expected = {
        {100, {"C:\\Windows\\System32\\svchost.exe", 2}},
        {200, {"nginx.exe", 3}},
        {300, {"a-very-long-application-name-tha", 1}}, // MIN(32, length): the name is cut, not terminated
    };
    auto keys = proc_map->keys();
    REQUIRE(keys.has_value());
    CHECK(keys->size() == expected.size());
    for (const auto& item : expected) {
        const std::uint32_t pid = item.first;
        const auto& entry = item.second;
        CAPTURE(pid);
        auto value = proc_map->lookup(bytes_of(pid));
        REQUIRE(value.has_value());
        REQUIRE(value->has_value());
        ProcessInfo info{};
        REQUIRE((*value)->size() == sizeof info);
        std::memcpy(&info, (*value)->data(), sizeof info);
        CHECK(info.id == pid);
        CHECK(std::string(info.name, strnlen(info.name, sizeof info.name)) == entry.first);
        CHECK(info.count == entry.second);
    }
}

TEST_CASE("object: the five-tuple XDP program writes its records to the ring buffer") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto program = object.program("packet_parse");
    REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
    auto ring_handle = object.map("xdp_map");
    REQUIRE(ring_handle.has_value());
    REQUIRE(ring_handle->kind() == platform::MapKind::ringbuf);
    auto& ring = static_cast<runtime::RingBufferMap&>(*ring_handle->runtime_map());

    // Ethernet + IPv4 + UDP from 10.0.0.1:5353 to 10.0.0.2:53; then an IPv4 TCP packet and a short one.
    auto make_packet = [](std::uint8_t protocol, std::size_t length) {
        std::vector<std::uint8_t> packet(length, 0);
        packet[12] = 0x08; // EtherType 0x0800
        packet[14] = 0x45;
        packet[23] = protocol;
        const std::uint8_t addresses[8] = {10, 0, 0, 1, 10, 0, 0, 2};
        std::memcpy(packet.data() + 26, addresses, sizeof addresses);
        packet[34] = 0x14; // source port 5353 = 0x14e9
        packet[35] = 0xe9;
        packet[36] = 0x00; // destination port 53
        packet[37] = 0x35;
        return packet;
    };
    struct {
        std::uint8_t* data;
        std::uint8_t* data_end;
        std::uint64_t data_meta;
        std::uint32_t ingress_ifindex;
    } ctx{};
    for (auto packet : {make_packet(17, 60), make_packet(6, 60), make_packet(17, 40)}) {
        ctx.data = packet.data();
        ctx.data_end = packet.data() + packet.size();
        auto verdict = program->run(&ctx, 32);
        REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
        CHECK(*verdict == 1); // XDP_PASS
    }

    using testing_seeds::FiveTuple;
    std::vector<FiveTuple> tuples;
    ring.consume([&](std::span<const std::uint8_t> record) {
        REQUIRE(record.size() == sizeof(FiveTuple));
        FiveTuple tuple{};
        std::memcpy(&tuple, record.data(), sizeof tuple);
        tuples.push_back(tuple);
    });
    REQUIRE(tuples.size() == 1); // only the complete UDP packet parses
    CHECK(tuples[0].proto == 17);
    const std::uint8_t* src = reinterpret_cast<const std::uint8_t*>(&tuples[0].src_address);
    CHECK(src[0] == 10);
    CHECK(src[3] == 1);
    CHECK(tuples[0].src_port == 0xe914); // network order, as the seed stores it
    CHECK(tuples[0].dst_port == 0x3500);
}

TEST_CASE("object: bpf_printk lines reach the host's trace sink") {
    Object object = load(kSeeds + "/myxdp_stage3.o");
    auto program = object.program(object.program_names().at(0));
    REQUIRE(program.has_value());
    std::vector<std::string> lines;
    auto previous = runtime::set_trace_sink([&](std::string_view line) { lines.emplace_back(line); });
    std::uint8_t packet[64] = {};
    packet[12] = 0x08; // EtherType IPv4, 0x0800
    struct {
        std::uint8_t* data;
        std::uint8_t* data_end;
        std::uint64_t data_meta;
        std::uint32_t ingress_ifindex;
    } ctx{packet, packet + sizeof packet, 0, 1};
    auto verdict = program->run(&ctx, 32);
    runtime::set_trace_sink(std::move(previous));
    REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "800");
}

TEST_CASE("object: a Linux object with BTF maps and global data loads and runs") {
    Object object = load(kElf + "/libbpf_style.o");
    CHECK(object.platform().name() == "linux");
    for (const char* name : {"counts", "stats_map", ".rodata", ".data", ".bss"}) {
        CHECK_MESSAGE(object.map(name).has_value(), name);
    }
    auto rodata = object.map(".rodata");
    REQUIRE(rodata.has_value());
    CHECK(rodata->frozen());
    const std::uint32_t zero = 0;
    const std::uint8_t value[21] = {};
    auto refused = rodata->update(bytes_of(zero), value);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("read-only") != std::string::npos);
    // The runtime map itself is frozen: no way around the handle changes what the verifier read.
    CHECK(rodata->runtime_map()->frozen());
    CHECK_FALSE(rodata->runtime_map()->host_update(bytes_of(zero), value, 0).has_value());
    CHECK(object.memory_size() > 0);
    auto missing = object.program("nope");
    REQUIRE_FALSE(missing.has_value());
    auto missing_map = object.map("nope");
    REQUIRE_FALSE(missing_map.has_value());
}

TEST_CASE("object: a memory limit refuses an object whose maps need more") {
    auto spec = ObjectSpec::open(std::filesystem::path(kElf + "/libbpf_style.o"));
    REQUIRE(spec.has_value());
    spec->map("counts")->max_entries = 1'000'000;
    auto object = Object::load(*spec, {.unverified = true, .memory_limit = 1 << 20});
    REQUIRE_FALSE(object.has_value());
    CHECK(object.error().message.find("memory limit") != std::string::npos);
    CHECK(object.error().message.find("counts") != std::string::npos);
}

TEST_CASE("object: handles keep maps and programs alive after the object is gone") {
    std::optional<Program> program;
    std::optional<MapHandle> map;
    {
        Object object = load(kSeeds + "/TraceConnections.o");
        program = object.program("TraceConnections").value();
        map = object.map("proc_map").value();
    }
    const std::string app = "late.exe";
    BindContext ctx{};
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app.data());
    ctx.app_id_end = ctx.app_id_start + app.size();
    ctx.process_id = 7;
    auto verdict = program->run(&ctx, sizeof ctx);
    REQUIRE(verdict.has_value());
    const std::uint32_t pid = 7;
    auto value = map->lookup(bytes_of(pid));
    REQUIRE(value.has_value());
    CHECK(value->has_value());
}

TEST_CASE("object: a program that needs an unsupported feature is named; the others load") {
    auto spec = ObjectSpec::open(std::filesystem::path(kElf + "/kfunc.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    REQUIRE(spec->program("uses_kfunc") != nullptr);
    REQUIRE(spec->program("uses_kfunc")->definition.unsupported.has_value());
    CHECK(spec->program("uses_kfunc")->definition.unsupported->find("bpf_rcu_read_lock") != std::string::npos);
    CHECK_FALSE(spec->program("plain")->definition.unsupported.has_value());

    auto object = Object::load(*spec, {.unverified = true});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto refused = object->program("uses_kfunc");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().kind == ErrorKind::unsupported);
    CHECK(refused.error().message.find("kfunc") != std::string::npos);
    auto plain = object->program("plain");
    REQUIRE(plain.has_value());
    const testing_packets::HeapPacket packet(0);
    auto ctx = testing_packets::linux_xdp(packet, 3);
    auto verdict = plain->run(&ctx, sizeof ctx);
    REQUIRE(verdict.has_value());
    CHECK(*verdict == 1); // XDP_DROP on Linux
}

TEST_CASE("object: every seed program loads; the checked interpreter stops the unchecked EtherType read") {
    for (const char* seed : {"myxdp_stage1", "myxdp_stage2", "myxdp_stage3", "myxdp_stage4", "TraceConnections"}) {
        CAPTURE(seed);
        Object object = load(kSeeds + "/" + seed + ".o");
        CHECK(object.platform().name() == "windows");
        CHECK(object.program_names().size() == 1);
    }
    Object stage1 = load(kSeeds + "/myxdp_stage1.o");
    auto first = stage1.program(stage1.program_names().at(0));
    REQUIRE(first.has_value());
    std::uint8_t empty[1] = {};
    struct {
        std::uint8_t* data;
        std::uint8_t* data_end;
        std::uint64_t data_meta;
        std::uint32_t ingress_ifindex;
    } xdp{empty, empty, 0, 1};
    auto two = first->run(&xdp, 32);
    REQUIRE(two.has_value());
    CHECK(*two == 2);

    // Stage 2 reads the EtherType without checking the packet's length: on a 10-byte packet that read is outside
    // the packet, and the checked run stops there instead of reading past it.
    Object stage2 = load(kSeeds + "/myxdp_stage2.o");
    auto parse = stage2.program(stage2.program_names().at(0));
    REQUIRE(parse.has_value());
    std::uint8_t packet[10] = {};
    struct {
        std::uint8_t* data;
        std::uint8_t* data_end;
        std::uint64_t data_meta;
        std::uint32_t ingress_ifindex;
    } ctx{packet, packet + sizeof packet, 0, 1};
    auto stopped = parse->run(&ctx, 32);
    REQUIRE_FALSE(stopped.has_value());
    CHECK(stopped.error().kind == ErrorKind::runtime);
    CHECK(stopped.error().message.find("out-of-bounds read of 2 bytes") != std::string::npos);
}

TEST_CASE("object: CO-RE relocations are applied against a target BTF, or reported as not applied") {
    const std::string core = EMBPF_TEST_CORE_DIR;
    auto target = elf::read_object(std::filesystem::path(core) / "target_v1.o");
    REQUIRE(target.has_value());
    REQUIRE(target->btf != nullptr);

    platform::Platform host = platform::linux();
    platform::ProgramType type;
    type.name = "core_test";
    type.section_prefixes = {"core"};
    type.context.size = 256;
    type.context.fields.push_back({0, 256, platform::FieldKind::scalar, true, false, "task"});
    REQUIRE(host.add_program_type(type).has_value());

    auto spec = ObjectSpec::open(std::filesystem::path(core) / "program.o", &host);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    CHECK(spec->program("read_pid_prio")->type == "core_test");

    auto kept = Object::load(*spec, host, {.unverified = true});
    REQUIRE_MESSAGE(kept.has_value(), (kept ? "" : kept.error().message));
    auto unrelocated = kept->program("read_pid_prio");
    REQUIRE(unrelocated.has_value());
    REQUIRE(unrelocated->relocation_report().size() == 1);
    CHECK(unrelocated->relocation_report()[0].find("kept their compiled offsets") != std::string::npos);

    auto moved = Object::load(*spec, host, {.unverified = true, .target_btf = target->btf});
    REQUIRE_MESSAGE(moved.has_value(), (moved ? "" : moved.error().message));
    auto relocated = moved->program("read_pid_prio");
    REQUIRE(relocated.has_value());
    REQUIRE_FALSE(relocated->relocation_report().empty());
    CHECK(relocated->relocation_report()[0].find("struct task.") != std::string::npos);
}

TEST_CASE("object: a map of maps starts with the inner maps its definition names") {
    auto spec = ObjectSpec::open(std::filesystem::path(kElf + "/map_in_map_init.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    const MapSpec* outer_spec = spec->map("outer");
    REQUIRE(outer_spec != nullptr);
    REQUIRE(outer_spec->initial_entries.size() == 2);
    CHECK(outer_spec->initial_entries[0].index == 0);
    CHECK(spec->maps().at(outer_spec->initial_entries[0].map.value()).name == "inner_a");
    CHECK(outer_spec->initial_entries[1].index == 2);
    CHECK(spec->maps().at(outer_spec->initial_entries[1].map.value()).name == "inner_b");

    auto object = Object::load(*spec, {.unverified = true});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    // Put 3 in inner_b; the program follows outer[ingress_ifindex] to it and returns it (XDP_TX: an action, which
    // Linux's XDP hook does not read as XDP_ABORTED).
    const std::uint32_t zero = 0;
    const std::uint64_t answer = 3;
    REQUIRE(object->map("inner_b")
                ->update({reinterpret_cast<const std::uint8_t*>(&zero), 4},
                         {reinterpret_cast<const std::uint8_t*>(&answer), 8})
                .has_value());
    auto program = object->program("read_inner");
    REQUIRE(program.has_value());
    const testing_packets::HeapPacket packet(0);
    auto ctx = testing_packets::linux_xdp(packet, 2);
    auto r0 = program->run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK(*r0 == 3);
    ctx.ingress_ifindex = 1; // no inner map there
    CHECK(program->run(&ctx, sizeof ctx).value() == 0);
    ctx.ingress_ifindex = 0; // inner_a, still zero
    CHECK(program->run(&ctx, sizeof ctx).value() == 0);
}

// A hook whose packet is read-only (platform::ContextDescriptor::read_only_data: Linux's lwt_in) gets no program
// that writes it, and a checked run of one loaded unverified faults at the store; lwt_xmit's packet is writable.
TEST_CASE("object: a read-only packet is never written") {
    const std::string path = std::string(EMBPF_TEST_API_DIR) + "/read_only_packet.o";
    auto spec = ObjectSpec::open(std::filesystem::path(path), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto verified = Object::load(*spec);
    REQUIRE_FALSE(verified.has_value());
    CHECK(verified.error().message.find("program write_in") != std::string::npos);
    CHECK(verified.error().message.find("The packet of lwt_in is read-only") != std::string::npos);

    auto unverified = Object::load(*spec, {.unverified = true});
    REQUIRE_MESSAGE(unverified.has_value(), (unverified ? "" : unverified.error().message));
    testing_packets::SkBuffAround skb(16);
    auto in = unverified->program("write_in");
    REQUIRE(in.has_value());
    auto faulted = in->run_checked(skb.bytes.data(), skb.bytes.size());
    REQUIRE_FALSE(faulted.has_value());
    CHECK(faulted.error().message.find("read-only") != std::string::npos);
    CHECK(skb.packet.data()[0] == 0);
    auto xmit = unverified->program("write_xmit");
    REQUIRE(xmit.has_value());
    auto written = xmit->run_checked(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(written.has_value(), (written ? "" : written.error().message));
    CHECK(written->r0 == 0);
    CHECK(skb.packet.data()[0] == 7);
}
