// Result<T>: value() of an error throws BadResultAccess carrying the error, never std::bad_variant_access.
#include "embpf/embpf.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

using namespace embpf;

namespace {

Result<int> fails() { return Error::invalid("the input is bad", 7); }
Result<int> succeeds() { return 42; }
Result<void> fails_void() { return Error::unsupported("not here"); }

} // namespace

TEST_CASE("result: value() of an error throws BadResultAccess carrying the error") {
    Result<int> r = fails();
    REQUIRE_FALSE(r.has_value());
    bool thrown = false;
    try {
        (void)r.value();
    } catch (const BadResultAccess& e) {
        thrown = true;
        CHECK(std::string(e.what()) == "the input is bad");
        CHECK(e.error().kind == ErrorKind::invalid_input);
        CHECK(e.error().pc == std::optional<std::size_t>(7));
    }
    CHECK(thrown);
    // Every way to the value: const, rvalue, operator*, operator->.
    const Result<int>& constant = r;
    CHECK_THROWS_AS((void)constant.value(), BadResultAccess);
    CHECK_THROWS_AS((void)fails().value(), BadResultAccess);
    CHECK_THROWS_AS((void)*r, BadResultAccess);
    Result<std::string> text = Error::runtime("stopped");
    CHECK_THROWS_AS((void)text->size(), BadResultAccess);
    // Not the variant's exception: a host catching std::bad_variant_access never sees it.
    bool variant_thrown = false;
    try {
        (void)r.value();
    } catch (const std::bad_variant_access&) {
        variant_thrown = true;
    } catch (const BadResultAccess&) {
    }
    CHECK_FALSE(variant_thrown);
    // The error itself stays readable, and a value is a value.
    CHECK(r.error().message == "the input is bad");
    CHECK(succeeds().value() == 42);
    CHECK(fails().value_or(5) == 5);
}

TEST_CASE("result: error() of a value throws BadResultAccess naming the misuse") {
    Result<int> r = succeeds();
    try {
        (void)r.error();
        FAIL("error() of a value returned");
    } catch (const BadResultAccess& e) {
        CHECK(e.error().kind == ErrorKind::internal);
        CHECK(std::string(e.what()).find("holds no error") != std::string::npos);
    }
    Result<void> ok;
    CHECK_THROWS_AS((void)ok.error(), BadResultAccess);
    CHECK_NOTHROW(ok.value());
}

TEST_CASE("result: Result<void>::value() of an error throws BadResultAccess too") {
    const Result<void> r = fails_void();
    REQUIRE_FALSE(r.has_value());
    try {
        r.value();
        FAIL("value() of an error returned");
    } catch (const BadResultAccess& e) {
        CHECK(e.error().kind == ErrorKind::unsupported);
        CHECK(std::string(e.what()) == "not here");
    }
}

TEST_CASE("result: a failed load's value() throws the load's error") {
    const std::vector<std::uint8_t> garbage(64, 0x5a);
    auto spec = ObjectSpec::open(std::span<const std::uint8_t>(garbage));
    REQUIRE_FALSE(spec.has_value());
    try {
        (void)spec.value();
        FAIL("value() of a failed open returned");
    } catch (const BadResultAccess& e) {
        CHECK(e.error().message == spec.error().message);
        CHECK_FALSE(e.error().message.empty());
    }
}
