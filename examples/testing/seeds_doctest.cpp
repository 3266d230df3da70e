// The seeds' test suite (seeds_suite.hpp) run by doctest.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#define SECTION(name) SUBCASE(name)
#define REQUIRE_OK(result) REQUIRE_MESSAGE((result).has_value(), ((result) ? "" : (result).error().message))

#include "seeds_suite.hpp"
