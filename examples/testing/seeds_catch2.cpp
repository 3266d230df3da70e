// The seeds' test suite (seeds_suite.hpp) run by Catch2 (v2, Debian's catch2).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#define REQUIRE_OK(result)                                                                                             \
    do {                                                                                                               \
        INFO(((result) ? std::string() : (result).error().message));                                                   \
        REQUIRE((result).has_value());                                                                                 \
    } while (false)

#include "seeds_suite.hpp"
