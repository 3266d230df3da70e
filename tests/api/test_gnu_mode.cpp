// The public headers in a GNU mode: `linux` is a predefined macro there, and hosts still call platform::linux().
#if defined(__GNUC__) && !defined(linux) && defined(__linux__)
#error "test_gnu_mode.cpp must be compiled with -std=gnu++20, where linux is predefined (tests/api/gnu_mode.cmake)"
#endif

#include "embpf/embpf.hpp"

#include <doctest/doctest.h>

TEST_CASE("gnu mode: embpf::platform::linux() compiles and names the Linux platform where linux is a macro") {
    const embpf::platform::Platform& platform = embpf::platform::linux();
    CHECK(platform.name() == "linux");
    CHECK(platform.program_type("xdp") != nullptr);
    CHECK(&platform != &embpf::platform::windows());
}
