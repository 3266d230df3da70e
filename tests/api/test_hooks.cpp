// Hook<Ctx> and Link: programs attached in priority order, verdicts folded, links replaced and detached while other
// threads invoke the hook.
#include "embpf/api/hook.hpp"
#include "embpf/api/object.hpp"
#include "request_hook.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;
using testing_hooks::Request;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Object load_api(const char* file) {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/" + file),
                                 &testing_hooks::request_platform());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, testing_hooks::request_platform());
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

const platform::ProgramType& request_type() { return *testing_hooks::request_platform().program_type("request"); }

// What the programs of one invocation returned, in order, recorded by a custom fold that never stops.
thread_local std::vector<std::uint64_t> t_seen;

HookOptions recording() {
    return {.pass = 0, .fold = Fold::custom, .folder = [](std::uint64_t so_far, std::uint64_t verdict) {
                t_seen.push_back(verdict);
                return std::pair{so_far, false};
            }};
}

} // namespace

TEST_SUITE_BEGIN("api hooks");

TEST_CASE("hooks: an empty hook passes; links run by priority, then in the order they came") {
    const Object object = load_api("verdicts.o");
    Hook<Request> hook(request_type(), recording());
    Request request = testing_hooks::empty_request();
    t_seen.clear();
    auto empty = hook.invoke(request);
    REQUIRE(empty.has_value());
    CHECK(*empty == 0);
    CHECK(t_seen.empty());

    auto three = hook.attach(object.program("three").value(), {.priority = 10});
    auto one = hook.attach(object.program("one").value(), {.priority = -5});
    auto two = hook.attach(object.program("two").value());
    auto another_two = hook.attach(object.program("two").value()); // the same program twice: two links
    REQUIRE(three.has_value());
    REQUIRE(one.has_value());
    REQUIRE(two.has_value());
    REQUIRE(another_two.has_value());
    CHECK(hook.size() == 4);
    t_seen.clear();
    REQUIRE(hook.invoke(request).has_value());
    CHECK(t_seen == std::vector<std::uint64_t>{1, 2, 2, 3});

    // A link detaches when it goes, and on detach(); replace swaps its program in place.
    another_two = hook.attach(object.program("zero").value(), {.priority = 10}).value(); // the old link goes
    CHECK(hook.size() == 4);
    REQUIRE(one->replace(object.program("three").value()).has_value());
    t_seen.clear();
    REQUIRE(hook.invoke(request).has_value());
    CHECK(t_seen == std::vector<std::uint64_t>{3, 2, 3, 0});
    CHECK(one->program()->name() == "three");
    two->detach();
    CHECK_FALSE(two->attached());
    CHECK_FALSE(two->program().has_value());
    CHECK_FALSE(two->replace(object.program("one").value()).has_value());
    {
        const Link moved = std::move(*three);
        CHECK(moved.attached());
        CHECK(moved.priority() == 10);
    }
    t_seen.clear();
    REQUIRE(hook.invoke(request).has_value());
    CHECK(t_seen == std::vector<std::uint64_t>{3, 0});
}

TEST_CASE("hooks: verdicts fold as the hook says") {
    const Object object = load_api("verdicts.o");
    Request request = testing_hooks::empty_request();
    SUBCASE("the first verdict that is not pass decides, and the rest do not run") {
        Hook<Request> hook(request_type(), {.pass = 0, .fold = Fold::first_decisive});
        auto zero = hook.attach(object.program("zero").value());
        auto two = hook.attach(object.program("two").value());
        auto three = hook.attach(object.program("three").value());
        CHECK(hook.invoke(request).value() == 2);
        two->detach();
        CHECK(hook.invoke(request).value() == 3);
        three->detach();
        CHECK(hook.invoke(request).value() == 0);
    }
    SUBCASE("all must pass: every program runs, the first refusal is the verdict") {
        Hook<Request> hook(request_type(), {.pass = 1, .fold = Fold::all_must_pass});
        auto one = hook.attach(object.program("one").value());
        CHECK(hook.invoke(request).value() == 1);
        auto three = hook.attach(object.program("three").value());
        auto two = hook.attach(object.program("two").value());
        CHECK(hook.invoke(request).value() == 3);
    }
    SUBCASE("a host function: the largest verdict") {
        Hook<Request> hook(request_type(),
                           {.pass = 0, .fold = Fold::custom, .folder = [](std::uint64_t a, std::uint64_t b) {
                                return std::pair{std::max(a, b), false};
                            }});
        auto two = hook.attach(object.program("two").value());
        auto three = hook.attach(object.program("three").value());
        auto one = hook.attach(object.program("one").value());
        CHECK(hook.invoke(request).value() == 3);
    }
}

TEST_CASE("hooks: a program of another type, or another context, is refused; a failed entry names the program") {
    const Object object = load_api("verdicts.o");
    platform::ProgramType other = request_type();
    other.context.fields.pop_back(); // the same name, another context
    HookBase hook(other);
    auto refused = hook.attach(object.program("one").value());
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "its context differs from the hook's"));
    CHECK(hook.size() == 0);

    Hook<Request> request_hook(request_type());
    auto link = request_hook.attach(object.program("one").value());
    REQUIRE(link.has_value());
    std::uint8_t small[8] = {};
    auto failed = request_hook.invoke(small, sizeof small);
    REQUIRE_FALSE(failed.has_value());
    CHECK(contains(failed.error().message, "program one: a context of 8 bytes is smaller than the 48 bytes"));
}

TEST_CASE("hooks: Hook<Ctx>::declare declares the program type from the host's struct, in one place") {
    platform::Platform host = platform::windows();
    auto declared = Hook<Request>::declare(
        host, {.name = "request",
               .context = platform::ContextLayout<Request>()
                              .memory(&Request::path, &Request::path_len, "path", "path_len", 4096)
                              .field(&Request::method, "method")
                              .memory(&Request::headers, &Request::headers_len, "headers", "headers_len")
                              .memory(&Request::body, &Request::body_len, "body", "body_len", 65536,
                                      platform::Access::read_write)
                              .field(&Request::status, "status", platform::Access::read_write),
               .helpers = {"map_lookup_elem", "map_update_elem", "map_delete_elem"},
               .return_min = 0,
               .return_max = 0xFFFF,
               .options = {.pass = 0, .fold = Fold::all_must_pass}});
    REQUIRE_MESSAGE(declared.has_value(), (declared ? "" : declared.error().message));
    Hook<Request> hook = std::move(*declared);
    const platform::ProgramType* type = host.program_type("request");
    REQUIRE(type != nullptr);
    CHECK(type->section_prefixes == std::vector<std::string>{"request"});
    CHECK(type->context == request_type().context); // the same layout request_hook.hpp writes field by field
    CHECK(type->helpers == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(type->return_max == 0xFFFF);
    CHECK(hook.type() == *type);

    // Plugins load on the host's platform and attach to the hook it declared.
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/regions.o"), &host);
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto link = hook.attach(object->program("count_slashes").value());
    REQUIRE(link.has_value());
    static const char path[] = "/a/b";
    Request request = testing_hooks::empty_request();
    request.path = reinterpret_cast<const std::uint8_t*>(path);
    request.path_len = 4;
    CHECK(hook.invoke(request).value() == 2);

    SUBCASE("what it refuses, leaving the platform as it was") {
        const std::size_t types = host.program_types().size();
        auto twice = Hook<Request>::declare(host, {.name = "request"});
        REQUIRE_FALSE(twice.has_value());
        CHECK(contains(twice.error().message, "hook request:"));
        auto unknown = Hook<Request>::declare(host, {.name = "other", .helpers = {"map_lookup_elem", "no_such"}});
        REQUIRE_FALSE(unknown.has_value());
        CHECK(contains(unknown.error().message, "hook other: platform windows has no helper named no_such"));
        auto empty = Hook<Request>::declare(host, {.name = "other", .return_min = 1, .return_max = 0});
        REQUIRE_FALSE(empty.has_value());
        CHECK(contains(empty.error().message, "is empty"));
        CHECK(host.program_types().size() == types);
        CHECK(host.program_type("other") == nullptr);
    }
}

TEST_CASE("hooks: a moved-from hook refuses attach and invoke, and has nothing attached") {
    const Object object = load_api("verdicts.o");
    Hook<Request> hook(request_type());
    auto link = hook.attach(object.program("two").value());
    REQUIRE(link.has_value());
    Hook<Request> moved = std::move(hook);
    Request request = testing_hooks::empty_request();
    CHECK(moved.invoke(request).value() == 2); // the link moved with the hook
    CHECK(hook.size() == 0);                   // NOLINT(bugprone-use-after-move): what a moved-from hook says
    CHECK(hook.type().name.empty());
    auto refused = hook.invoke(request);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "moved from"));
    auto attach = hook.attach(object.program("one").value());
    REQUIRE_FALSE(attach.has_value());
    CHECK(contains(attach.error().message, "moved from"));
}

// Two threads invoke while a third attaches, replaces and detaches 10,000 times: every invocation runs one complete
// version of the chain, one the writer published, never a mix of two.
TEST_CASE("hooks: invocations racing 10,000 attaches, replaces and detaches each run one published chain") {
    const Object object = load_api("verdicts.o");
    const Program one = object.program("one").value();
    const Program two = object.program("two").value();
    const Program three = object.program("three").value();
    Hook<Request> hook(request_type(), recording());
    // The writer's cycle, and every chain it publishes: [] -> [1] -> [1 2] -> [3 2] -> [2] -> [] ...
    const std::set<std::vector<std::uint64_t>> published = {{}, {1}, {1, 2}, {3, 2}, {2}};
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> invocations{0};
    std::atomic<std::uint64_t> torn{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<int> started{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
        readers.emplace_back([&] {
            Request request = testing_hooks::empty_request();
            started.fetch_add(1);
            while (!done.load(std::memory_order_acquire)) {
                t_seen.clear();
                auto verdict = hook.invoke(request);
                if (!verdict) {
                    failed.fetch_add(1);
                }
                if (!published.contains(t_seen)) {
                    torn.fetch_add(1);
                }
                invocations.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    // Both readers invoke before the first change (on a loaded machine a thread may start late).
    while (started.load() < 2 || invocations.load() < 2) {
        std::this_thread::yield();
    }
    std::size_t operations = 0;
    while (operations < 10'000) {
        auto first = hook.attach(one);
        auto second = hook.attach(two, {.priority = 1});
        REQUIRE(first.has_value());
        REQUIRE(second.has_value());
        REQUIRE(first->replace(three).has_value());
        first->detach();
        second->detach();
        operations += 5;
    }
    done.store(true, std::memory_order_release);
    for (std::thread& reader : readers) {
        reader.join();
    }
    MESSAGE(invocations.load(), " invocations raced ", operations, " chain changes");
    CHECK(invocations.load() > 0);
    CHECK(torn.load() == 0);
    CHECK(failed.load() == 0);
    CHECK(hook.size() == 0);
}

TEST_SUITE_END();
