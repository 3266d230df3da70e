// Platforms as JSON: the built-in platforms written and read back unchanged, a host's description on top of a
// built-in one, and bad descriptions refused with the place named.
#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/json.hpp"
#include "embpf/platform/platform.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace {

namespace platform = embpf::platform;

bool same(const platform::Platform& a, const platform::Platform& b) {
    return a.name() == b.name() && a.for_untrusted_plugins() == b.for_untrusted_plugins() &&
           a.map_types() == b.map_types() && a.kconfig() == b.kconfig() &&
           std::equal(a.helpers().begin(), a.helpers().end(), b.helpers().begin(), b.helpers().end()) &&
           std::equal(a.program_types().begin(), a.program_types().end(), b.program_types().begin(),
                      b.program_types().end());
}

std::string error_of(const std::string& text) {
    auto read = platform::from_json(text);
    return read ? std::string() : read.error().message;
}

std::uint64_t log_request(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return 0; }

struct Request {
    const std::uint8_t* path;
    std::uint32_t path_len;
    std::uint32_t status;
};

} // namespace

TEST_CASE("platform json: the built-in platforms read back as they were") {
    for (const platform::Platform* p : {&platform::windows(), &platform::linux()}) {
        CAPTURE(p->name());
        const std::string text = platform::to_json(*p);
        auto back = platform::from_json(text);
        REQUIRE_MESSAGE(back.has_value(), (back ? "" : back.error().message));
        CHECK(same(*p, *back));
        CHECK(platform::to_json(*back) == text);
    }
}

TEST_CASE("platform json: a host's hook and helper on a built-in platform, and back") {
    auto host = platform::from_json(R"({
        "name": "proxy", "base": "windows",
        "kconfig": {"CONFIG_PROXY": "y"},
        "helpers": [{"id": 70000, "name": "log_request", "args": ["ptr_to_readable_mem", "const_size"],
                     "any_program_type": true, "cost": 1000}],
        "program_types": [{"name": "request", "section_prefixes": ["request"],
            "context": {"size": 16, "fields": [
                {"name": "path", "offset": 0, "size": 8, "kind": "memory", "size_field": "path_len",
                 "memory_size": 4096},
                {"name": "path_len", "offset": 8, "size": 4},
                {"name": "status", "offset": 12, "size": 4, "writable": true}]},
            "helpers": [1, 2], "return_min": 0, "return_max": 1, "return_meaning": "ALLOW=0, DENY=1"}]})");
    REQUIRE_MESSAGE(host.has_value(), (host ? "" : host.error().message));
    CHECK(host->name() == "proxy");
    CHECK(host->for_untrusted_plugins()); // windows()'s
    CHECK(host->helper_by_name("map_lookup_elem") != nullptr);
    CHECK(host->program_type("bind") != nullptr);
    CHECK(host->kconfig().at("CONFIG_PROXY") == "y");
    const platform::HelperPrototype* helper = host->helper_by_name("log_request");
    REQUIRE(helper != nullptr);
    CHECK(helper->id == 70000);
    CHECK(helper->arg_count() == 2);
    CHECK(helper->cost == 1000);
    CHECK((helper->implementation == nullptr));
    const platform::ProgramType* request = host->program_type("request");
    REQUIRE(request != nullptr);
    CHECK(host->program_type_for_section("request/v2") == request);
    // The same layout as a host declares it in C++.
    const platform::ContextDescriptor declared =
        platform::ContextLayout<Request>()
            .memory(&Request::path, &Request::path_len, "path", "path_len", 4096)
            .field(&Request::status, "status", platform::Access::read_write)
            .descriptor();
    CHECK(request->context == declared);
    CHECK(request->return_meaning == "ALLOW=0, DENY=1");
    CHECK(host->helper(*request, 70000) == helper);

    // Written and read again: the same platform.
    auto again = platform::from_json(platform::to_json(*host));
    REQUIRE(again.has_value());
    CHECK(same(*host, *again));

    // A host helper's function is code: left out of the JSON.
    platform::Platform with_function = platform::windows();
    platform::HelperPrototype prototype;
    prototype.args = {platform::ArgKind::anything};
    REQUIRE(with_function.add_helper(70001, "count", &log_request, prototype).has_value());
    auto without = platform::from_json(platform::to_json(with_function));
    REQUIRE(without.has_value());
    REQUIRE(without->helper_by_name("count") != nullptr);
    CHECK((without->helper_by_name("count")->implementation == nullptr));
    CHECK(without->helper_by_name("count")->any_program_type);
}

TEST_CASE("platform json: bad descriptions are refused, naming where") {
    struct Row {
        const char* json;
        const char* error;
    };
    const Row rows[] = {
        {"{", "not a JSON document"},
        {R"({"name": "x", "cost": 1111111111111111111111111111e111111111111111111111111111111})",
         "not a JSON document"}, // a number past a double's range (fuzz_platform)
        {"[]", "the document: expected an object"},
        {"{}", "name: a platform needs a name"},
        {R"({"name": "x", "base": "macos"})", "base: unknown platform \"macos\" (windows or linux)"},
        {R"({"name": "x", "colour": 1})", "colour: unknown member"},
        {R"({"name": "x", "program_types": [{"name": "t", "context": {"fields": [{"name": "a", "kind": "ptr"}]}}]})",
         "program_types[0].context.fields[0].kind: unknown field kind \"ptr\""},
        {R"({"name": "x", "program_types": [{"name": "t", "context": {"size": -1}}]})",
         "program_types[0].context.size: -1 is out of range"},
        {R"({"name": "x", "program_types": [{"name": "t", "max_data_size": "big"}]})",
         "program_types[0].max_data_size: expected an integer"},
        {R"({"name": "x", "helpers": [{"id": 1}]})", "helpers[0]: a helper needs an id and a name"},
        {R"({"name": "x", "helpers": [{"id": 1, "name": "a", "args": ["ptr_to_readable_mem"]}]})", "helpers[0]: "},
        {R"({"name": "x", "helpers": [{"id": 1, "name": "a", "args": ["pointer"]}]})",
         "helpers[0].args[0]: unknown argument kind \"pointer\""},
        {R"({"name": "x", "base": "windows", "helpers": [{"id": 1, "name": "again"}]})",
         "helpers[0]: platform x already has helper 1"},
        {R"({"name": "x", "base": "windows", "program_types": [{"name": "bind"}]})",
         "program_types[0]: platform x already has program type bind"},
        {R"({"name": "x", "map_types": [{"id": 1, "name": "hash", "kind": "tree"}]})",
         "map_types[0].kind: unknown map kind \"tree\""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.json);
        const std::string error = error_of(row.json);
        CHECK_MESSAGE(error.find(row.error) != std::string::npos, error);
    }
}
