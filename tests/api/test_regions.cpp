// A hook whose context hands over several memory regions (platform::FieldKind::memory): programs compiled from C
// check each length, run on the host's heap buffers, and the entry checks what the host put in the context.
#include "embpf/api/object.hpp"
#include "embpf/isa/text.hpp"
#include "request_hook.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace embpf;
using testing_hooks::Request;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Object load_regions(bool verified) {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/regions.o"),
                                 &testing_hooks::request_platform());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, testing_hooks::request_platform(), {.unverified = !verified});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

std::uint64_t run(const Program& program, Request& request, bool checked) {
    if (checked) {
        auto outcome = program.run_checked(&request, sizeof request, 10'000'000);
        REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().message));
        return outcome->r0;
    }
    auto r0 = program.run(&request, sizeof request);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    return *r0;
}

} // namespace

TEST_CASE("regions: plugins read the path and headers and write the body, each within its own length") {
    for (const bool verified : {true, false}) {
        for (const bool checked : {false, true}) {
            if (!verified && !checked) {
                continue; // unverified programs run checked only
            }
            CAPTURE(verified);
            CAPTURE(checked);
            const Object object = load_regions(verified);
            const std::string path = "/api/v1/users/42";
            const std::string headers = "Host: example.com\r\n";
            std::vector<std::uint8_t> body = {'h', 'e', 'l', 'l', 'o', ' ', 'W', 'o', 'r', 'l', 'd', '!'};
            Request request = testing_hooks::empty_request();
            request.path = reinterpret_cast<const std::uint8_t*>(path.data());
            request.path_len = static_cast<std::uint32_t>(path.size());
            request.headers = reinterpret_cast<const std::uint8_t*>(headers.data());
            request.headers_len = headers.size();
            request.body = body.data();
            request.body_len = static_cast<std::uint32_t>(body.size());
            CHECK(run(object.program("count_slashes").value(), request, checked) == 4);
            CHECK(run(object.program("shout").value(), request, checked) == 1000 + 9);
            CHECK(std::string(body.begin(), body.end()) == "HELLO WORLD!");
            // Empty buffers: nothing read (an empty region still points at real memory).
            request.path_len = 0;
            request.headers_len = 0;
            CHECK(run(object.program("count_slashes").value(), request, checked) == 0);
            CHECK(run(object.program("shout").value(), request, checked) == 0);
        }
    }
}

TEST_CASE("regions: the entry refuses a writable region that shares bytes with another; read-only ones may") {
    const Object object = load_regions(true);
    const Program program = object.program("count_slashes").value();
    std::vector<std::uint8_t> text(64, '/');
    Request request = testing_hooks::empty_request();
    // The path and the headers read-only, the same bytes: accepted.
    request.path = text.data();
    request.path_len = 32;
    request.headers = text.data() + 16;
    request.headers_len = 32;
    auto shared = program.run(&request, sizeof request);
    REQUIRE(shared.has_value());
    CHECK(*shared == 32);
    // The body (writable) over the headers' last byte: refused.
    request.body = text.data() + 47;
    request.body_len = 4;
    auto refused = program.run(&request, sizeof request);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "the headers memory and the body memory of the request context share "
                                            "bytes, and a program may write the body memory"));
    // Right behind them: accepted.
    request.body = text.data() + 48;
    CHECK(program.run(&request, sizeof request).has_value());
    // A writable context (its status field) under a region: refused.
    request.body = reinterpret_cast<std::uint8_t*>(&request) + 4;
    request.body_len = 1;
    auto over_context = program.run(&request, sizeof request);
    REQUIRE_FALSE(over_context.has_value());
    CHECK(contains(over_context.error().message, "the context and the body memory of the request context share"));
}

TEST_CASE("regions: the entry refuses a region longer than its field allows, or below 64 KiB") {
    const Object object = load_regions(true);
    const Program program = object.program("count_slashes").value();
    std::vector<std::uint8_t> path(5000, '/');
    Request request = testing_hooks::empty_request();
    request.path = path.data();
    request.path_len = 4097; // the hook allows 4096
    auto refused = program.run(&request, sizeof request);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "the path memory of the request context has 4097 bytes, more than the "
                                            "4096 it may have"));
    request.path_len = 4096;
    auto all = program.run(&request, sizeof request);
    REQUIRE(all.has_value());
    CHECK(*all == 4096);
    request.path = reinterpret_cast<const std::uint8_t*>(std::uintptr_t{0x1000});
    request.path_len = 1;
    auto low = program.run(&request, sizeof request);
    REQUIRE_FALSE(low.has_value());
    CHECK(contains(low.error().message, "the path pointer 0x1000 of the request context is below 65536"));
    // A region that would wrap around the address space.
    request.path = reinterpret_cast<const std::uint8_t*>(~std::uintptr_t{0} - 2);
    request.path_len = 16;
    auto wraps = program.run_checked(&request, sizeof request);
    REQUIRE_FALSE(wraps.has_value());
    CHECK(contains(wraps.error().message, "wrap the address around"));
}

TEST_CASE("regions: one byte past a region is refused by the verifier, naming it, and stops a checked run") {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/regions_overread.o"),
                                 &testing_hooks::request_platform());
    REQUIRE(spec.has_value());
    auto refused = Object::load(*spec, testing_hooks::request_platform());
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "Upper bound must be at most the size of path"));
    REQUIRE(refused.error().report != nullptr);
    auto object = Object::load(*spec, testing_hooks::request_platform(), {.unverified = true});
    REQUIRE(object.has_value());
    const Program program = object->program("past_the_path").value();
    std::vector<std::uint8_t> path(8, '/');
    Request request = testing_hooks::empty_request();
    request.path = path.data();
    request.path_len = 7; // the byte at 7 exists, but the context does not hand it over
    auto stopped = program.run_checked(&request, sizeof request);
    REQUIRE_FALSE(stopped.has_value());
    CHECK(contains(stopped.error().message, "read of 1 byte"));
}

TEST_CASE("regions: a plugin whose BTF places a field elsewhere than the host's struct is refused, naming it") {
    auto spec = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/regions_layout.o"),
                                 &testing_hooks::request_platform());
    REQUIRE(spec.has_value());
    REQUIRE(spec->btf() != nullptr);
    for (const bool verified : {true, false}) {
        auto refused = Object::load(*spec, testing_hooks::request_platform(), {.unverified = !verified});
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().message ==
              "program body_length: its context struct request has body at byte 16, the request hook's context at "
              "byte 32: it was compiled against another layout than the host's");
    }
    // The layout of the tests' own plugins agrees: they load (the first test case runs them).
    auto agreeing = ObjectSpec::open(std::filesystem::path(std::string(EMBPF_TEST_API_DIR) + "/regions.o"),
                                     &testing_hooks::request_platform());
    REQUIRE(agreeing.has_value());
    REQUIRE(agreeing->btf() != nullptr);
    CHECK(Object::load(*agreeing, testing_hooks::request_platform()).has_value());
}

TEST_CASE("regions: test_run hands over no memory from ctx_in; a region's pointer or size there is refused") {
    const Object object = load_regions(true);
    const Program program = object.program("count_slashes").value();
    Request request{}; // test_run hands over the regions itself
    request.method = 7;
    auto empty = program.test_run({.ctx_in = {reinterpret_cast<const std::uint8_t*>(&request), sizeof request}});
    REQUIRE_MESSAGE(empty.has_value(), (empty ? "" : empty.error().message));
    CHECK(empty->retval == 0);
    request.path = reinterpret_cast<const std::uint8_t*>(std::uintptr_t{0x41414141});
    request.path_len = 16;
    auto refused = program.test_run({.ctx_in = {reinterpret_cast<const std::uint8_t*>(&request), sizeof request}});
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "ctx_in sets the pointer or size of the memory region path"));
    request.path = nullptr; // a size alone is refused too
    refused = program.test_run({.ctx_in = {reinterpret_cast<const std::uint8_t*>(&request), sizeof request}});
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "memory region path"));
}

// The verifier takes a pointer to memory as never 0: a comparison of one with 0 is decided. An empty region whose
// pointer were null would make it skip the branch a run takes, so every entry refuses a null region pointer.
TEST_CASE("regions: an empty region's pointer may not be null, which would take a branch the verifier skipped") {
    auto program = embpf::isa::assemble(R"(
            r2 = *(u64 *)(r1 + 0)
            if r2 == 0 goto null
            r0 = 1
            exit
        null:
            r0 = 2
            exit)");
    REQUIRE(program.has_value());
    const verifier::ProgramInput input{"null_path", "request", *program, {}, {}, {}};
    const verifier::Report report = verifier::verify(input, testing_hooks::request_platform(),
                                                     *testing_hooks::request_platform().program_type("request"));
    REQUIRE(report.verified);
    CHECK(report.warnings.size() == 1); // the branch the verifier deems unreachable
    const Object object = load_regions(true);
    Request request = testing_hooks::empty_request();
    request.path = nullptr;
    request.path_len = 0;
    std::uint8_t byte = 0;
    request.headers = &byte;
    request.body = &byte;
    auto refused = object.program("count_slashes").value().run(&request, sizeof request);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "the path pointer 0x0 of the request context is below 65536"));
    request.path = &byte;
    CHECK(object.program("count_slashes").value().run(&request, sizeof request).has_value());
}

// The verifier lets a pointer move 2^29 bytes past its object and decides comparisons of pointers by offsets: an
// object ending near 2^63 or 2^64 would let `p + 2^29 < p` hold in a run. Every entry refuses such pointers.
TEST_CASE("regions: a pointer whose offsets could wrap the address around is refused at entry") {
    auto program = embpf::isa::assemble(R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = r2
            r3 += 0x20000000
            if r3 < r2 goto wrapped
            r0 = 1
            exit
        wrapped:
            r0 = 2
            exit)");
    REQUIRE(program.has_value());
    const verifier::ProgramInput input{"wrap", "request", *program, {}, {}, {}};
    const verifier::Report report = verifier::verify(input, testing_hooks::request_platform(),
                                                     *testing_hooks::request_platform().program_type("request"));
    REQUIRE(report.verified);
    CHECK(report.warnings.size() == 1); // `wrapped` is unreachable to the verifier
    const Object object = load_regions(true);
    const Program count = object.program("count_slashes").value();
    for (const std::uint64_t high : {std::uint64_t{0xffffffffffff0000}, std::uint64_t{0xffffffffe0000000},
                                     std::uint64_t{0x7fffffffffff0000}, ~std::uint64_t{0}}) {
        CAPTURE(high);
        Request request = testing_hooks::empty_request();
        request.path = reinterpret_cast<const std::uint8_t*>(static_cast<std::uintptr_t>(high));
        auto refused = count.run(&request, sizeof request);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "where a program's offsets would wrap the address around"));
        CHECK_FALSE(count.run_checked(&request, sizeof request).has_value());
    }
    // The context itself (checked before anything is read through it).
    auto high_context = count.run(reinterpret_cast<void*>(std::uintptr_t{0xffffffffffff0000}), sizeof(Request));
    REQUIRE_FALSE(high_context.has_value());
    CHECK(contains(high_context.error().message, "the context pointer 0xffffffffffff0000 lies where"));
}

TEST_CASE("regions: test_run's ctx_out holds no address of its own buffers") {
    const Object object = load_regions(true);
    auto result = object.program("shout").value().test_run({});
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    REQUIRE(result->ctx_out.size() == sizeof(Request));
    Request out{};
    std::memcpy(&out, result->ctx_out.data(), sizeof out);
    CHECK(out.path == nullptr);
    CHECK(out.headers == nullptr);
    CHECK(out.body == nullptr);
}
