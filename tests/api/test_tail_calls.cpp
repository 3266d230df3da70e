// Tail calls through program arrays, and helpers a host registers on its copy of a platform.
#include "embpf/api/object.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/map.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <optional>
#include <string>

using namespace embpf;
using testing_seeds::BindContext;

namespace {

const std::string kDir = EMBPF_TEST_TAIL_DIR;

Object load(const std::string& file, const platform::Platform* platform = nullptr) {
    auto spec = ObjectSpec::open(std::filesystem::path(kDir) / file, platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, spec->platform(), {.unverified = true});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

std::uint64_t run(const Program& program, std::uint64_t process_id) {
    static const char app[] = "app.exe";
    BindContext ctx;
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;
    ctx.process_id = process_id;
    auto r0 = program.run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    return *r0;
}

} // namespace

TEST_CASE("tail calls: a successful tail call does not return; a failed one does") {
    Object object = load("tail_calls.o");
    auto programs = object.map("programs");
    REQUIRE(programs.has_value());
    REQUIRE(programs->set_program(0, object.program("target_one").value()).has_value());
    REQUIRE(programs->set_program(1, object.program("target_two").value()).has_value());
    const Program dispatch = object.program("dispatch").value();
    CHECK(run(dispatch, 0) == 1);
    CHECK(run(dispatch, 1) == 2);
    CHECK(run(dispatch, 2) == 100); // empty slot: the helper fails and the program goes on
    CHECK(run(dispatch, 9) == 100); // past max_entries

    auto wrong = object.map("depth");
    REQUIRE(wrong.has_value());
    CHECK_FALSE(wrong->set_program(0, dispatch).has_value());
}

TEST_CASE("tail calls: a chain stops after 33 tail calls") {
    Object object = load("tail_calls.o");
    auto programs = object.map("programs");
    REQUIRE(programs.has_value());
    REQUIRE(programs->set_program(3, object.program("recurse").value()).has_value());
    CHECK(run(object.program("recurse").value(), 0) == 7);
    auto depth = object.map("depth");
    REQUIRE(depth.has_value());
    const std::uint32_t zero = 0;
    auto count = depth->lookup({reinterpret_cast<const std::uint8_t*>(&zero), sizeof zero});
    REQUIRE(count.has_value());
    REQUIRE(count->has_value());
    std::uint64_t calls = 0;
    std::memcpy(&calls, (*count)->data(), sizeof calls);
    CHECK(calls == runtime::kMaxTailCalls + 1); // the first run and 33 tail calls
    // Each invocation starts a new chain.
    CHECK(run(object.program("recurse").value(), 0) == 7);
    std::memcpy(&calls, depth->lookup({reinterpret_cast<const std::uint8_t*>(&zero), sizeof zero})->value().data(),
                sizeof calls);
    CHECK(calls == 2 * (runtime::kMaxTailCalls + 1));
}

TEST_CASE("tail calls: a Program handle keeps its object's program arrays after the Object is gone") {
    std::optional<Program> dispatch;
    std::optional<MapHandle> programs;
    {
        Object object = load("tail_calls.o");
        programs = object.map("programs").value();
        REQUIRE(programs->set_program(0, object.program("target_one").value()).has_value());
        dispatch = object.program("dispatch").value();
    }
    CHECK(run(*dispatch, 0) == 1); // the target stays: the handle holds the object
    const auto& array = static_cast<const runtime::ProgramArrayMap&>(*programs->runtime_map());
    CHECK(array.program(0) != nullptr);
    dispatch.reset();
    // With the object and its last Program handle gone, the array is emptied (a MapHandle alone does not keep it).
    CHECK(array.program(0) == nullptr);
}

namespace {
std::string g_logged;
std::uint64_t log_request(const char* text, std::uint32_t size) noexcept {
    g_logged.assign(text, strnlen(text, size));
    return g_logged.size();
}
} // namespace

TEST_CASE("host helpers: a typed C++ function registered on a platform copy is called by programs") {
    platform::Platform host = platform::windows();
    using namespace platform;
    REQUIRE(host.add_helper<&log_request>(1000, "log_request",
                                          proto(ret::integer, arg::ptr_to_readable_mem, arg::const_size))
                .has_value());
    CHECK(platform::windows().helper(1000) == nullptr); // the built-in platform is untouched
    // Another helper with the same id is refused.
    auto again =
        host.add_helper<&log_request>(1000, "again", proto(ret::integer, arg::ptr_to_readable_mem, arg::const_size));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().message.find("1000") != std::string::npos);

    Object object = load("host_helper.o", &host);
    g_logged.clear();
    CHECK(run(object.program("log_binds").value(), 1) == 12);
    CHECK(g_logged == "bind request");

    // Without the helper the platform refuses the program, naming the helper.
    auto spec = ObjectSpec::open(std::filesystem::path(kDir) / "host_helper.o");
    REQUIRE(spec.has_value());
    auto refused = Object::load(*spec, {.unverified = true});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("helper 1000") != std::string::npos);
}
