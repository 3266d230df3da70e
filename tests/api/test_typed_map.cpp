// Map<K, V>: binding checks, typed lookup, update, erase, iteration and size over the seeds' TraceConnections map and
// the per-CPU, queue, stack and LRU maps of tests/api/objects/typed_maps.c.
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/runtime/slot.hpp"
#include "linux_contexts.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;
using testing_seeds::BindContext;
using testing_seeds::ProcessInfo;

namespace {

const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;
const std::string kElf = EMBPF_TEST_ELF_DIR;
const std::string kApi = EMBPF_TEST_API_DIR;

using testing_packets::LinuxXdp;

// typed_maps.c's value types.
struct Counter {
    std::uint32_t packets;
    std::uint32_t weight;
    std::uint32_t last_ifindex;
};
struct Event {
    std::uint32_t ifindex;
    std::uint32_t seq;
    friend bool operator==(const Event&, const Event&) = default;
};

Object load(const std::string& path, const LoadOptions& options = {.unverified = true}) {
    auto spec = ObjectSpec::open(std::filesystem::path(path));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, options);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

std::string name_of(const ProcessInfo& info) { return std::string(info.name, strnlen(info.name, sizeof info.name)); }

void bind_event(const Program& program, std::uint32_t pid, const std::string& app, std::int32_t operation = 0) {
    BindContext ctx{};
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app.data());
    ctx.app_id_end = ctx.app_id_start + app.size();
    ctx.process_id = pid;
    ctx.operation = operation;
    auto verdict = program.run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
}

// Runs typed_maps.c's program as if on execution slot `slot`; the error message, empty on success.
std::string record_on_slot(const Program& program, std::uint32_t slot, std::uint32_t ifindex,
                           std::uint32_t rx_queue = 0) {
    std::string error;
    std::thread thread([&] {
        runtime::set_current_slot(slot);
        const testing_packets::HeapPacket packet(0); // an empty packet
        LinuxXdp ctx = testing_packets::linux_xdp(packet, ifindex, rx_queue);
        auto verdict = program.run(&ctx, sizeof ctx);
        if (!verdict) {
            error = verdict.error().message;
        }
    });
    thread.join();
    return error;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_SUITE_BEGIN("api");

TEST_CASE("typed map: TraceConnections' per-process counts read through Map<uint32_t, ProcessInfo>") {
    Object object = load(kSeeds + "/TraceConnections.o");
    auto program = object.program("TraceConnections");
    REQUIRE(program.has_value());
    auto procs = object.map<std::uint32_t, ProcessInfo>("proc_map");
    REQUIRE_MESSAGE(procs.has_value(), (procs ? "" : procs.error().message));
    CHECK(procs->name() == "proc_map");
    CHECK(procs->empty());
    CHECK(procs->begin() == procs->end());

    bind_event(*program, 100, "C:\\Windows\\System32\\svchost.exe");
    bind_event(*program, 200, "nginx.exe");
    bind_event(*program, 100, "C:\\Windows\\System32\\svchost.exe");
    bind_event(*program, 100, "C:\\Windows\\System32\\svchost.exe", 2); // an unbind is not counted
    bind_event(*program, 300, "a-very-long-application-name-that-exceeds-thirty-two-bytes.exe");
    bind_event(*program, 200, "nginx.exe");
    bind_event(*program, 200, "nginx.exe");

    struct Row {
        std::uint32_t pid;
        std::string name;
        std::uint32_t count;
    };
    const Row rows[] = {
        {100, "C:\\Windows\\System32\\svchost.exe", 2},
        {200, "nginx.exe", 3},
        {300, "a-very-long-application-name-tha", 1}, // cut at 32 bytes, not terminated
    };
    CHECK(procs->size() == std::size(rows));
    for (const Row& row : rows) {
        CAPTURE(row.pid);
        std::optional<ProcessInfo> info = procs->lookup(row.pid);
        REQUIRE(info.has_value());
        CHECK(info->id == row.pid);
        CHECK(name_of(*info) == row.name);
        CHECK(info->count == row.count);
    }
    CHECK_FALSE(procs->lookup(400).has_value());

    std::map<std::uint32_t, std::uint32_t> counts;
    for (auto [pid, info] : *procs) {
        CHECK(info.id == pid);
        counts[pid] = info.count;
    }
    CHECK(counts == std::map<std::uint32_t, std::uint32_t>{{100, 2}, {200, 3}, {300, 1}});

    // The iterator is an input iterator over (key, value) pairs.
    auto it = procs->begin();
    REQUIRE(it != procs->end());
    const std::uint32_t first = it->first;
    CHECK((*it).second.id == first);
    ++it;
    REQUIRE(it != procs->end());
    CHECK(it->first != first);
    static_assert(std::input_iterator<Map<std::uint32_t, ProcessInfo>::iterator>);
}

TEST_CASE("typed map: binding checks the kind, the sizes and the BTF sizes, naming the map and both sizes") {
    Object bind = load(kSeeds + "/TraceConnections.o");
    Object xdp = load(kSeeds + "/myxdp_stage4.o");
    Object typed = load(kApi + "/typed_maps.o");
    struct ShortInfo {
        std::uint32_t id;
        char name[28];
        std::uint32_t count;
    };
    // A spec whose proc_map value was cut to 36 bytes: the map's size fits ShortInfo, its BTF type does not.
    auto spec = ObjectSpec::open(std::filesystem::path(kSeeds + "/TraceConnections.o"));
    REQUIRE(spec.has_value());
    spec->map("proc_map")->value_size = sizeof(ShortInfo);
    auto edited = Object::load(*spec, {.unverified = true});
    REQUIRE(edited.has_value());

    struct Row {
        const char* what;
        std::function<Result<void>()> bind;
        std::vector<std::string> expected; // parts of the error message; empty when the binding succeeds
    };
    auto binder = [](auto result) -> Result<void> {
        if (!result) {
            return std::move(result).error();
        }
        return {};
    };
    const Row rows[] = {
        {"right sizes", [&] { return binder(bind.map<std::uint32_t, ProcessInfo>("proc_map")); }, {}},
        {"wrong key size",
         [&] { return binder(bind.map<std::uint64_t, ProcessInfo>("proc_map")); },
         {"map proc_map", "keys are 4 bytes", "K is 8 bytes"}},
        {"wrong value size",
         [&] { return binder(bind.map<std::uint32_t, std::uint64_t>("proc_map")); },
         {"map proc_map", "values are 40 bytes", "V is 8 bytes"}},
        {"BTF value size",
         [&] { return binder(edited->map<std::uint32_t, ShortInfo>("proc_map")); },
         {"map proc_map", "BTF value type process_info is 40 bytes", "V is 36 bytes"}},
        {"no such map", [&] { return binder(bind.map<std::uint32_t, ProcessInfo>("nope")); }, {"no map named nope"}},
        {"ring buffer as a map",
         [&] { return binder(xdp.map<std::uint32_t, std::uint32_t>("xdp_map")); },
         {"map xdp_map is a ringbuf map", "ring_buffer<T>"}},
        {"hash as per-CPU",
         [&] { return binder(bind.map<std::uint32_t, PerCpu<ProcessInfo>>("proc_map")); },
         {"map proc_map is a hash map", "Map<K, V>"}},
        {"per-CPU array as a plain map",
         [&] { return binder(typed.map<std::uint32_t, std::uint64_t>("hits")); },
         {"map hits is a percpu_array map", "PerCpu<V>"}},
        {"per-CPU slot size",
         [&] { return binder(typed.map<std::uint32_t, PerCpu<std::uint32_t>>("hits")); },
         {"map hits", "values (per slot) are 8 bytes", "V is 4 bytes"}},
        {"per-CPU right sizes", [&] { return binder(typed.map<std::uint32_t, PerCpu<Counter>>("per_interface")); }, {}},
        {"queue as a keyed map",
         [&] { return binder(typed.map<std::uint32_t, Event>("event_queue")); },
         {"map event_queue is a queue map", "Map<void, V>"}},
        {"queue value size",
         [&] { return binder(typed.map<void, std::uint32_t>("event_stack")); },
         {"map event_stack", "values are 8 bytes", "V is 4 bytes"}},
        {"hash as a queue",
         [&] { return binder(typed.map<void, std::uint64_t>("recent")); },
         {"map recent is a lru_hash map", "Map<K, V>"}},
        {"queue right sizes", [&] { return binder(typed.map<void, Event>("event_queue")); }, {}},
    };
    for (const Row& row : rows) {
        const std::string what = row.what;
        CAPTURE(what);
        Result<void> bound = row.bind();
        CHECK(bound.has_value() == row.expected.empty());
        if (!bound) {
            CAPTURE(bound.error().message);
            CHECK(bound.error().kind == ErrorKind::invalid_input);
            for (const std::string& part : row.expected) {
                CHECK_MESSAGE(contains(bound.error().message, part), part);
            }
        }
    }
}

TEST_CASE("typed map: update flags, erase and size on a hash and an array") {
    Object object = load(kSeeds + "/TraceConnections.o");
    auto procs = object.map<std::uint32_t, ProcessInfo>("proc_map").value();
    const ProcessInfo one{1, "one", 1};
    const ProcessInfo two{2, "two", 2};

    struct Row {
        const char* what;
        std::uint32_t key;
        const ProcessInfo* value;
        UpdateFlags flags;
        const char* error; // part of the error message, nullptr when the update succeeds
        std::uint32_t count_after;
        std::size_t size_after;
    };
    const Row rows[] = {
        {"exist on a missing key", 7, &one, UpdateFlags::exist, "no entry", 0, 0},
        {"noexist creates", 7, &one, UpdateFlags::noexist, nullptr, 1, 1},
        {"noexist on an existing key", 7, &two, UpdateFlags::noexist, "exists", 1, 1},
        {"exist replaces", 7, &two, UpdateFlags::exist, nullptr, 2, 1},
        {"any creates", 8, &one, UpdateFlags::any, nullptr, 1, 2},
        {"any replaces", 8, &two, UpdateFlags::any, nullptr, 2, 2},
    };
    for (const Row& row : rows) {
        const std::string what = row.what;
        CAPTURE(what);
        Result<void> updated = procs.update(row.key, *row.value, row.flags);
        CHECK(updated.has_value() == (row.error == nullptr));
        if (!updated) {
            CHECK_MESSAGE(contains(updated.error().message, row.error), updated.error().message);
            CHECK(contains(updated.error().message, "proc_map"));
        }
        auto value = procs.lookup(row.key);
        CHECK(value.has_value() == (row.count_after != 0));
        if (value) {
            CHECK(value->count == row.count_after);
        }
        CHECK(procs.size() == row.size_after);
    }

    auto erased = procs.erase(7);
    REQUIRE(erased.has_value());
    CHECK(*erased);
    auto missing = procs.erase(7);
    REQUIRE(missing.has_value());
    CHECK_FALSE(*missing); // a missing key is false, not an error
    CHECK(procs.size() == 1);

    // An array: elements always exist, cannot be deleted, and its size is max_entries.
    Object linux_object = load(kElf + "/libbpf_style.o");
    struct Stats {
        std::uint64_t packets;
        std::uint64_t bytes;
    };
    auto stats = linux_object.map<std::uint32_t, Stats>("stats_map");
    REQUIRE_MESSAGE(stats.has_value(), (stats ? "" : stats.error().message));
    CHECK(stats->size() == 4);
    CHECK(stats->lookup(3).has_value());
    CHECK_FALSE(stats->lookup(4).has_value());
    CHECK(stats->update(2, Stats{5, 6}).has_value());
    CHECK(stats->lookup(2)->bytes == 6);
    CHECK_FALSE(stats->update(2, Stats{}, UpdateFlags::noexist).has_value());
    CHECK_FALSE(stats->update(4, Stats{}).has_value()); // out of range
    CHECK_FALSE(stats->erase(2).has_value());
    std::vector<std::uint32_t> keys;
    for (const auto& entry : *stats) {
        keys.push_back(entry.first);
    }
    CHECK(keys == std::vector<std::uint32_t>{0, 1, 2, 3});
}

TEST_CASE("typed map: handles share the map and outlive the object") {
    std::optional<Map<std::uint32_t, ProcessInfo>> procs;
    std::optional<Program> program;
    {
        Object object = load(kSeeds + "/TraceConnections.o");
        procs = object.map<std::uint32_t, ProcessInfo>("proc_map").value();
        program = object.program("TraceConnections").value();
    }
    Map<std::uint32_t, ProcessInfo> copy = *procs;
    bind_event(*program, 9, "late.exe");
    REQUIRE(copy.lookup(9).has_value());
    CHECK(copy.lookup(9)->count == 1);
    REQUIRE(procs->update(9, ProcessInfo{9, "host", 41}).has_value());
    bind_event(*program, 9, "late.exe");
    CHECK(copy.lookup(9)->count == 42);
    CHECK(name_of(*copy.lookup(9)) == "host");
}

TEST_CASE("typed map: per-CPU maps give every slot's value") {
    Object object = load(kApi + "/typed_maps.o", {.unverified = true, .slots = 2});
    auto program = object.program("record");
    REQUIRE(program.has_value());
    // Interface 1 twice on slot 0 and once on slot 1; interface 2 once on slot 1.
    CHECK(record_on_slot(*program, 0, 1, 10) == "");
    CHECK(record_on_slot(*program, 0, 1, 20) == "");
    CHECK(record_on_slot(*program, 1, 1, 5) == "");
    CHECK(record_on_slot(*program, 1, 2, 7) == "");

    auto hits = object.map<std::uint32_t, PerCpu<std::uint64_t>>("hits");
    REQUIRE_MESSAGE(hits.has_value(), (hits ? "" : hits.error().message));
    CHECK(hits->slots() == 2);
    CHECK(hits->size() == 4); // an array
    struct HitRow {
        std::uint32_t key;
        std::vector<std::uint64_t> slots;
    };
    const HitRow hit_rows[] = {{0, {0, 0}}, {1, {2, 1}}, {2, {0, 1}}, {3, {0, 0}}};
    for (const HitRow& row : hit_rows) {
        CAPTURE(row.key);
        auto values = hits->lookup(row.key);
        REQUIRE(values.has_value());
        CHECK(*values == row.slots);
    }
    std::size_t visited = 0;
    for (const auto& [key, values] : *hits) {
        CHECK(values.size() == 2);
        CHECK(values == hit_rows[key].slots);
        ++visited;
    }
    CHECK(visited == 4);

    // A 12-byte value: each slot is 16 bytes apart in the runtime's layout, each Counter arrives whole.
    auto counters = object.map<std::uint32_t, PerCpu<Counter>>("per_interface");
    REQUIRE_MESSAGE(counters.has_value(), (counters ? "" : counters.error().message));
    CHECK(counters->size() == 2);
    auto first = counters->lookup(1);
    REQUIRE(first.has_value());
    REQUIRE(first->size() == 2);
    CHECK((*first)[0].packets == 2);
    CHECK((*first)[0].weight == 30);
    CHECK((*first)[0].last_ifindex == 1);
    CHECK((*first)[1].packets == 1);
    CHECK((*first)[1].weight == 5);
    auto second = counters->lookup(2);
    REQUIRE(second.has_value());
    CHECK((*second)[0].packets == 0); // created by slot 1: the other slots start at zero
    CHECK((*second)[1].packets == 1);

    // The host writes one value per slot, or one value for all slots.
    const std::vector<Counter> per_slot = {{10, 1, 3}, {20, 2, 3}};
    REQUIRE(counters->update(3, per_slot, UpdateFlags::noexist).has_value());
    auto third = counters->lookup(3);
    REQUIRE(third.has_value());
    CHECK((*third)[0].packets == 10);
    CHECK((*third)[1].packets == 20);
    REQUIRE(counters->update(3, Counter{7, 7, 7}).has_value());
    third = counters->lookup(3);
    REQUIRE(third.has_value());
    CHECK((*third)[0].packets == 7);
    CHECK((*third)[1].packets == 7);
    auto wrong = counters->update(3, std::vector<Counter>(3));
    REQUIRE_FALSE(wrong.has_value());
    CHECK(contains(wrong.error().message, "3 values for 2 slots"));
    CHECK(counters->update(4, per_slot, UpdateFlags::exist).has_value() == false);
    CHECK(counters->erase(3).value());
    CHECK_FALSE(counters->erase(3).value());
    CHECK(counters->size() == 2);
}

TEST_CASE("typed map: queue and stack push, pop and peek in order") {
    struct Row {
        const char* map;
        std::vector<std::uint32_t> popped;          // after pushing 1, 2, 3
        std::vector<std::uint32_t> after_overwrite; // after filling 1..8, then pushing 9 with UpdateFlags::exist
    };
    const Row rows[] = {
        {"event_queue", {1, 2, 3}, {2, 3, 4, 5, 6, 7, 8, 9}},
        {"event_stack", {3, 2, 1}, {9, 8, 7, 6, 5, 4, 3, 2}},
    };
    for (const Row& row : rows) {
        const std::string map_name = row.map;
        CAPTURE(map_name);
        Object object = load(kApi + "/typed_maps.o");
        auto events = object.map<void, Event>(row.map);
        REQUIRE_MESSAGE(events.has_value(), (events ? "" : events.error().message));
        CHECK(events->max_entries() == 8);
        CHECK_FALSE(events->pop().has_value());
        CHECK_FALSE(events->peek().has_value());

        // Pushed by the host, popped by the host.
        for (std::uint32_t seq : {1U, 2U, 3U}) {
            REQUIRE(events->push(Event{0, seq}).has_value());
        }
        CHECK(events->size() == 3);
        REQUIRE(events->peek().has_value());
        CHECK(events->peek()->seq == row.popped.front());
        CHECK(events->size() == 3); // peek leaves it
        std::vector<std::uint32_t> popped;
        while (auto event = events->pop()) {
            popped.push_back(event->seq);
        }
        CHECK(popped == row.popped);
        CHECK(events->empty());

        // Full: UpdateFlags::any is refused, UpdateFlags::exist makes room by dropping the oldest, noexist is refused.
        for (std::uint32_t seq = 1; seq <= 8; ++seq) {
            REQUIRE(events->push(Event{0, seq}).has_value());
        }
        auto full = events->push(Event{0, 9});
        REQUIRE_FALSE(full.has_value());
        CHECK(contains(full.error().message, "full"));
        CHECK_FALSE(events->push(Event{0, 9}, UpdateFlags::noexist).has_value());
        REQUIRE(events->push(Event{0, 9}, UpdateFlags::exist).has_value());
        popped.clear();
        while (auto event = events->pop()) {
            popped.push_back(event->seq);
        }
        CHECK(popped == row.after_overwrite);

        // Pushed by the program, popped by the host.
        auto program = object.program("record");
        REQUIRE(program.has_value());
        for (std::uint32_t ifindex : {4U, 5U, 6U}) {
            CHECK(record_on_slot(*program, 0, ifindex) == "");
        }
        std::vector<Event> from_program;
        while (auto event = events->pop()) {
            from_program.push_back(*event);
        }
        const std::vector<Event> in_order = {{4, 1}, {5, 2}, {6, 3}};
        const std::vector<Event> reversed = {{6, 3}, {5, 2}, {4, 1}};
        CHECK(from_program == (row.popped.front() == 1 ? in_order : reversed));
    }
}

TEST_CASE("typed map: an LRU hash keeps the newest entries within max_entries") {
    Object object = load(kApi + "/typed_maps.o");
    auto program = object.program("record");
    REQUIRE(program.has_value());
    auto recent = object.map<std::uint32_t, std::uint64_t>("recent");
    REQUIRE_MESSAGE(recent.has_value(), (recent ? "" : recent.error().message));
    for (std::uint32_t ifindex = 1; ifindex <= 6; ++ifindex) {
        CHECK(record_on_slot(*program, 0, ifindex) == "");
    }
    CHECK(recent->size() <= recent->max_entries());
    REQUIRE(recent->lookup(6).has_value());
    CHECK(*recent->lookup(6) == 6); // the program's sequence number
    std::size_t visited = 0;
    for (auto [ifindex, seq] : *recent) {
        CHECK(seq == ifindex);
        ++visited;
    }
    CHECK(visited == recent->size());
}

TEST_CASE("typed map: iteration while another thread inserts and deletes ends and yields consistent pairs") {
    Object object = load(kSeeds + "/TraceConnections.o");
    auto procs = object.map<std::uint32_t, ProcessInfo>("proc_map").value();
    for (std::uint32_t pid = 0; pid < 64; ++pid) {
        REQUIRE(procs.update(pid, ProcessInfo{pid, "stable", pid * 2}).has_value());
    }
    std::atomic<bool> stop{false};
    std::thread writer([&, writer_map = procs]() mutable {
        std::uint32_t round = 0;
        while (!stop.load()) {
            const std::uint32_t pid = 1000 + round % 256;
            if (round % 2 == 0) {
                (void)writer_map.update(pid, ProcessInfo{pid, "churn", pid * 2});
            } else {
                (void)writer_map.erase(1000 + (round / 2) % 256);
            }
            ++round;
        }
    });
    std::size_t passes_seeing_all_stable = 0;
    bool consistent = true;
    for (int pass = 0; pass < 200; ++pass) {
        std::size_t stable = 0;
        std::size_t visited = 0;
        for (auto [pid, info] : procs) {
            consistent = consistent && info.id == pid && info.count == pid * 2;
            stable += pid < 64 ? 1 : 0;
            ++visited;
        }
        consistent = consistent && visited <= procs.max_entries();
        passes_seeing_all_stable += stable >= 64 ? 1 : 0;
    }
    stop.store(true);
    writer.join();
    CHECK(consistent);
    CHECK(passes_seeing_all_stable > 0); // the stable keys are found; a pass may repeat some of them
}

TEST_SUITE_END();
