// Maps of maps and program arrays: entries set by the host, inner shapes enforced, and replaced entries kept alive
// until the invocations that looked them up have returned.
#include "runtime/map_testing.hpp"

#include "embpf/runtime/invocation.hpp"

#include <cerrno>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

MapConfig outer_shape(MapKind kind, std::uint32_t key_size, const MapConfig& inner) {
    MapConfig config = shape(kind, key_size, 4, 4, 0, "outer");
    config.inner = std::make_shared<const MapConfig>(inner);
    return config;
}

// A program that returns its number, whatever the context.
struct FakeProgram final : embpf::runtime::Invocable {
    explicit FakeProgram(std::uint64_t value) : result(value) {}
    const std::string& program_name() const noexcept override { return name; }
    const embpf::platform::ProgramType& program_type() const noexcept override { return type; }
    embpf::Result<embpf::runtime::EntryRegions> enter(const void*, std::size_t) const override {
        return embpf::runtime::EntryRegions{};
    }
    embpf::Result<embpf::exec::CheckedOutcome> step(void*, std::size_t, const embpf::runtime::EntryRegions&,
                                                    const embpf::runtime::InvocationOptions&) const override {
        return embpf::exec::CheckedOutcome{result, 1};
    }
    embpf::exec::EngineKind kind() const noexcept override { return embpf::exec::EngineKind::interpreter; }
    std::uint64_t result;
    std::string name = "fake";
    embpf::platform::ProgramType type{};
};

} // namespace

TEST_CASE("runtime maps of maps: inner shapes are enforced; programs get the inner Map*") {
    const MapConfig inner = shape(MapKind::hash, 4, 8, 16, 0, "inner");
    for (MapKind kind : {MapKind::array_of_maps, MapKind::hash_of_maps}) {
        CAPTURE(embpf::platform::to_string(kind));
        auto outer = make_as<MapOfMaps>(outer_shape(kind, 4, inner));
        auto good = make(inner);
        const std::uint32_t key = 1;
        REQUIRE(outer->set_inner(bytes(key), good).has_value());
        CHECK(outer->inner_map(bytes(key)).value() == good);

        const std::uint32_t inner_key = 5;
        const std::uint64_t inner_value = 55;
        REQUIRE(good->update(&inner_key, &inner_value, bpf_any) == 0);
        {
            EpochGuard guard;
            auto* found = static_cast<Map*>(outer->lookup(&key));
            REQUIRE(found == good.get());
            CHECK(*static_cast<std::uint64_t*>(found->lookup(&inner_key)) == 55);
            const std::uint32_t other = 2;
            CHECK(outer->lookup(&other) == nullptr);
        }

        struct Mismatch {
            MapConfig config;
            std::string message;
        };
        MapConfig flagged = inner;
        flagged.flags = bpf_f_zero_seed;
        MapConfig locked = shape(MapKind::hash, 4, 8, 16, 0, "x");
        locked.spin_lock = 4; // programs would see its lock's bytes as the template's data
        const Mismatch mismatches[] = {
            {locked, "map outer: inner map x has its bpf_spin_lock at offset 4, expected no bpf_spin_lock"},
            {shape(MapKind::lru_hash, 4, 8, 16, 0, "x"), "map outer: inner map x is a lru_hash map, expected hash"},
            {shape(MapKind::hash, 8, 8, 16, 0, "x"), "map outer: inner map x has key_size 8, expected 4"},
            {shape(MapKind::hash, 4, 4, 16, 0, "x"), "map outer: inner map x has value_size 4, expected 8"},
            {shape(MapKind::hash, 4, 8, 32, 0, "x"), "map outer: inner map x has max_entries 32, expected 16"},
            {shape(MapKind::hash, 4, 8, 16, bpf_f_zero_seed, "x"), "map outer: inner map x has flags 0x40, "
                                                                   "expected 0x0"},
        };
        for (const Mismatch& row : mismatches) {
            auto refused = outer->set_inner(bytes(key), make(row.config));
            REQUIRE_FALSE(refused.has_value());
            CHECK(refused.error().message == row.message);
        }
        CHECK_FALSE(outer->set_inner(bytes(key), nullptr).has_value());
        const std::uint16_t short_key = 1;
        CHECK_FALSE(outer->set_inner(bytes(short_key), good).has_value());
        // Programs cannot update maps of maps; the host cannot exchange ids here.
        const std::uint32_t id = 0;
        CHECK(outer->update(&key, &id, bpf_any) == -EINVAL);
        std::uint32_t out = 0;
        CHECK(outer->host_lookup(bytes(key), writable(out)).error().kind == embpf::ErrorKind::unsupported);
        CHECK(outer->host_update(bytes(key), bytes(id), bpf_any).error().kind == embpf::ErrorKind::unsupported);

        // Deletion by the host and by a program.
        CHECK(outer->host_erase(bytes(key)).value());
        CHECK_FALSE(outer->host_erase(bytes(key)).value());
        CHECK(outer->inner_map(bytes(key)).value() == nullptr);
        REQUIRE(outer->set_inner(bytes(key), good).has_value());
        CHECK(outer->erase(&key) == 0);
        CHECK(outer->erase(&key) == -ENOENT);
        REQUIRE(outer->set_inner(bytes(key), good).has_value());
        {
            EpochGuard guard;
            CHECK(outer->detach(&key) == good.get());
            CHECK(outer->detach(&key) == nullptr);
        }
    }
}

TEST_CASE("runtime maps of maps: inner maps hold their bpf_spin_lock where the template does") {
    MapConfig inner = shape(MapKind::array, 4, 16, 4, 0, "inner");
    inner.spin_lock = 8;
    auto outer = make_as<MapOfMaps>(outer_shape(MapKind::array_of_maps, 4, inner));
    const std::uint32_t key = 0;
    auto same = make(inner);
    CHECK(outer->set_inner(bytes(key), same).has_value());
    MapConfig elsewhere = inner;
    elsewhere.name = "x";
    elsewhere.spin_lock = 0;
    auto refused = outer->set_inner(bytes(key), make(elsewhere));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message ==
          "map outer: inner map x has its bpf_spin_lock at offset 0, expected its bpf_spin_lock at offset 8");
    elsewhere.spin_lock.reset();
    refused = outer->set_inner(bytes(key), make(elsewhere));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message ==
          "map outer: inner map x has no bpf_spin_lock, expected its bpf_spin_lock at offset 8");
    CHECK(outer->inner_map(bytes(key)).value() == same);
}

TEST_CASE("runtime maps of maps: BPF_F_INNER_MAP lets inner maps differ in max_entries") {
    MapConfig inner = shape(MapKind::array, 4, 4, 8, bpf_f_inner_map, "inner");
    auto outer = make_as<MapOfMaps>(outer_shape(MapKind::hash_of_maps, 8, inner));
    const std::uint64_t key = 42;
    MapConfig bigger = inner;
    bigger.max_entries = 1000;
    CHECK(outer->set_inner(bytes(key), make(bigger)).has_value());
    CHECK(outer->set_inner(bytes(key), make(inner), bpf_noexist).error().message ==
          "map outer: the key exists (BPF_NOEXIST)");
    const std::uint64_t missing = 43;
    CHECK(outer->set_inner(bytes(missing), make(inner), bpf_exist).error().message ==
          "map outer: no entry for the key (BPF_EXIST)");
    CHECK(outer->set_inner(bytes(missing), make(inner), bpf_noexist).has_value());
    CHECK(outer->entry_count() == 2);
    CHECK(all_keys<std::uint64_t>(*outer).size() == 2);

    auto array_outer = make_as<MapOfMaps>(outer_shape(MapKind::array_of_maps, 4, inner));
    const std::uint32_t index = 0;
    CHECK(array_outer->set_inner(bytes(index), make(inner), bpf_noexist).error().message ==
          "map outer: array of maps entries take BPF_ANY only, not 0x1");
    const std::uint32_t outside = 4;
    CHECK(array_outer->set_inner(bytes(outside), make(inner)).error().message ==
          "map outer: index 4 out of range (max_entries 4)");
    CHECK(all_keys<std::uint32_t>(*array_outer) == std::vector<std::uint32_t>{0, 1, 2, 3});
}

TEST_CASE("runtime maps of maps: a replaced inner map lives until the guard that looked it up ends") {
    const MapConfig inner = shape(MapKind::array, 4, 8, 4, 0, "inner");
    for (MapKind kind : {MapKind::array_of_maps, MapKind::hash_of_maps}) {
        CAPTURE(embpf::platform::to_string(kind));
        auto outer = make_as<MapOfMaps>(outer_shape(kind, 4, inner));
        const std::uint32_t key = 0;
        std::weak_ptr<Map> first;
        {
            auto map = make(inner);
            first = map;
            REQUIRE(outer->set_inner(bytes(key), std::move(map)).has_value());
        }
        {
            EpochGuard guard;
            auto* held = static_cast<Map*>(outer->lookup(&key));
            REQUIRE(held != nullptr);
            REQUIRE(outer->set_inner(bytes(key), make(inner)).has_value());
            try_reclaim();
            CHECK_FALSE(first.expired()); // the replaced map is retired, not destroyed
            const std::uint32_t index = 1;
            CHECK(held->lookup(&index) != nullptr);
        }
        synchronize();
        CHECK(first.expired());
    }
}

TEST_CASE("runtime maps of maps: shapes are validated at creation") {
    CHECK_FALSE(create_map(shape(MapKind::array_of_maps, 4, 4, 4)).has_value()); // no inner shape
    auto nested = create_map(
        outer_shape(MapKind::hash_of_maps, 4, outer_shape(MapKind::array_of_maps, 4, shape(MapKind::array, 4, 4, 4))));
    REQUIRE_FALSE(nested.has_value());
    CHECK(contains(nested.error().message, "cannot be maps of maps"));
    CHECK_FALSE(create_map(outer_shape(MapKind::array_of_maps, 4, shape(MapKind::prog_array, 4, 4, 4))).has_value());
    CHECK_FALSE(create_map(outer_shape(MapKind::array_of_maps, 4, shape(MapKind::array, 4, 0, 4))).has_value());
    MapConfig wide = outer_shape(MapKind::hash_of_maps, 4, shape(MapKind::array, 4, 4, 4));
    wide.value_size = 8;
    CHECK_FALSE(create_map(wide).has_value());
}

TEST_CASE("runtime prog_array: set, read, clear; programs cannot read it") {
    auto map = make_as<ProgramArrayMap>(shape(MapKind::prog_array, 4, 4, 8, 0, "jumps"));
    auto program = std::make_shared<FakeProgram>(7);
    REQUIRE(map->set_program(3, program).has_value());
    {
        EpochGuard guard;
        const auto* found = map->program_at(3);
        REQUIRE(found != nullptr);
        CHECK(found->run(nullptr) == 7);
        CHECK(map->program_at(2) == nullptr);
        CHECK(map->program_at(8) == nullptr);
        CHECK(map->program_at(0xffffffff) == nullptr);
        const std::uint32_t key = 3;
        CHECK(map->lookup(&key) == nullptr);
    }
    CHECK(map->program(3) == program);
    CHECK(program.use_count() == 2); // ours and the map's
    auto range = map->set_program(8, program);
    REQUIRE_FALSE(range.has_value());
    CHECK(range.error().message == "map jumps: index 8 out of range (max_entries 8)");

    // Replacing keeps the old program alive until the guard that read it ends.
    std::weak_ptr<FakeProgram> old = program;
    {
        EpochGuard guard;
        const auto* running = map->program_at(3);
        REQUIRE(map->set_program(3, std::make_shared<FakeProgram>(8)).has_value());
        program.reset();
        try_reclaim();
        CHECK_FALSE(old.expired());
        CHECK(running->run(nullptr) == 7);
        CHECK(map->program_at(3)->run(nullptr) == 8);
    }
    synchronize();
    CHECK(old.expired());

    const std::uint32_t key = 3;
    CHECK(map->host_erase(bytes(key)).value());
    CHECK_FALSE(map->host_erase(bytes(key)).value());
    REQUIRE(map->set_program(1, std::make_shared<FakeProgram>(1)).has_value());
    REQUIRE(map->set_program(1, nullptr).has_value());
    CHECK(map->program(1) == nullptr);
    REQUIRE(map->set_program(2, std::make_shared<FakeProgram>(2)).has_value());
    CHECK(map->erase(&key) == -ENOENT);
    map->clear();
    CHECK(map->program(2) == nullptr);
    CHECK(all_keys<std::uint32_t>(*map).size() == 8);
    const std::uint32_t value = 0;
    CHECK(map->update(&key, &value, bpf_any) == -EINVAL);
    CHECK(map->host_update(bytes(key), bytes(value), bpf_any).error().kind == embpf::ErrorKind::unsupported);
    CHECK_FALSE(create_map(shape(MapKind::prog_array, 4, 8, 8)).has_value());
}

TEST_SUITE_END();
