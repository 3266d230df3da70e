// Registry: the process's programs, maps and links with their ids, and pins that keep a program or a map alive.
#include "embpf/api/registry.hpp"

#include "embpf/api/hook.hpp"
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "request_hook.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>

using namespace embpf;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Object load(const char* file, const platform::Platform& platform) {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/" + file), &platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, platform);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

template <typename Info>
std::optional<Info> by_id(const std::vector<Info>& all, std::uint32_t id) {
    const auto it = std::find_if(all.begin(), all.end(), [id](const Info& info) { return info.id == id; });
    return it == all.end() ? std::nullopt : std::optional<Info>(*it);
}

} // namespace

TEST_CASE("registry: programs and maps are listed with their ids while they live") {
    std::uint32_t program_id = 0;
    std::uint32_t map_id = 0;
    {
        const Object object = load("test_double.o", platform::linux());
        const Program stamp = object.program("stamp").value();
        const MapHandle seen = object.map("seen").value();
        program_id = stamp.id();
        map_id = seen.id();
        CHECK(program_id != 0);
        CHECK(object.program("per_protocol")->id() != program_id);

        const auto program = by_id(Registry::programs(), program_id);
        REQUIRE(program.has_value());
        CHECK(program->name == "stamp");
        CHECK(program->type == "xdp");
        CHECK(program->section == "xdp");
        CHECK(program->verified);
        CHECK(program->instructions == stamp.instructions().size());
        CHECK(std::find(program->map_ids.begin(), program->map_ids.end(), map_id) != program->map_ids.end());
        const auto map = by_id(Registry::maps(), map_id);
        REQUIRE(map.has_value());
        CHECK(map->name == "seen");
        CHECK(map->kind == platform::MapKind::array);
        CHECK(map->max_entries == 4);

        auto again = Registry::program_by_id(program_id);
        REQUIRE(again.has_value());
        CHECK(again->name() == "stamp");
        auto handle = Registry::map_by_id(map_id);
        REQUIRE(handle.has_value());
        CHECK(handle->name() == "seen");
        CHECK(handle->id() == map_id);

        // A later object's ids are larger.
        const Object other = load("test_double.o", platform::linux());
        CHECK(other.program("stamp")->id() > program_id);
        CHECK(other.map("seen")->id() > map_id);
    }
    CHECK_FALSE(by_id(Registry::programs(), program_id).has_value());
    CHECK_FALSE(by_id(Registry::maps(), map_id).has_value());
    auto gone = Registry::program_by_id(program_id);
    REQUIRE_FALSE(gone.has_value());
    CHECK(contains(gone.error().message, "no program has id " + std::to_string(program_id)));
    CHECK_FALSE(Registry::map_by_id(map_id).has_value());
}

TEST_CASE("registry: links are listed with their hook, program and priority") {
    const Object object = load("verdicts.o", testing_hooks::request_platform());
    Hook<testing_hooks::Request> hook(*testing_hooks::request_platform().program_type("request"));
    const Program one = object.program("one").value();
    auto link = hook.attach(one, {.priority = 5});
    REQUIRE(link.has_value());
    auto info = by_id(Registry::links(), link->id());
    REQUIRE(info.has_value());
    CHECK(info->hook == "request");
    CHECK(info->program_id == one.id());
    CHECK(info->priority == 5);

    const Program two = object.program("two").value();
    REQUIRE(link->replace(two).has_value());
    CHECK(by_id(Registry::links(), link->id())->program_id == two.id());
    auto second = hook.attach(one);
    REQUIRE(second.has_value());
    CHECK(second->id() != link->id());
    link->detach();
    CHECK_FALSE(by_id(Registry::links(), link->id()).has_value());
    CHECK(by_id(Registry::links(), second->id()).has_value());
}

TEST_CASE("registry: a pin keeps its program or map alive until it is unpinned") {
    Registry registry;
    std::uint32_t program_id = 0;
    {
        const Object object = load("test_double.o", platform::linux());
        REQUIRE(registry.pin("/plugins/stamp", object.program("stamp").value()).has_value());
        REQUIRE(registry.pin("/maps/counts", object.map("counts").value()).has_value());
        program_id = object.program("stamp")->id();

        auto twice = registry.pin("/plugins/stamp", object.program("per_protocol").value());
        REQUIRE_FALSE(twice.has_value());
        CHECK(contains(twice.error().message, "path /plugins/stamp is pinned already"));
        CHECK_FALSE(registry.pin("", object.program("stamp").value()).has_value());
    }
    CHECK(registry.pins() == std::vector<std::string>{"/maps/counts", "/plugins/stamp"});
    std::optional<Program> program = registry.program("/plugins/stamp").value();
    CHECK(program->id() == program_id);
    CHECK(by_id(Registry::programs(), program_id).has_value());
    auto counts = registry.map("/maps/counts");
    REQUIRE(counts.has_value());
    auto typed = Map<std::uint32_t, std::uint64_t>::bind(*counts);
    REQUIRE(typed.has_value());
    REQUIRE(typed->update(1, 2).has_value());
    CHECK(typed->lookup(1) == 2u);

    auto wrong = registry.map("/plugins/stamp");
    REQUIRE_FALSE(wrong.has_value());
    CHECK(contains(wrong.error().message, "holds a program, not a map"));
    CHECK(contains(registry.program("/maps/counts").error().message, "holds a map, not a program"));
    CHECK(contains(registry.program("/nothing").error().message, "nothing is pinned at /nothing"));

    program.reset();
    CHECK(registry.unpin("/plugins/stamp"));
    CHECK_FALSE(registry.unpin("/plugins/stamp"));
    CHECK_FALSE(by_id(Registry::programs(), program_id).has_value());
    CHECK(registry.pins() == std::vector<std::string>{"/maps/counts"});
}
