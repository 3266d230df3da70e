// Verifying a program of a compiled object as Object::load would, and finding source lines, for the verifier's
// object and seed tests.
#pragma once

#include "embpf/api/object_spec.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace embpf::testing_verifier {

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

/// The report for one program of an object opened under `platform`, with its maps described for that platform.
inline verifier::Report verify_object_program(const std::filesystem::path& object, std::string_view program_name,
                                              const platform::Platform& platform) {
    auto spec = ObjectSpec::open(object, &platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    const ProgramSpec* program = spec->program(program_name);
    REQUIRE_MESSAGE(program != nullptr, "no program ", program_name, " in ", object.string());
    const platform::ProgramType* type = platform.program_type(program->type);
    REQUIRE_MESSAGE(type != nullptr, "no program type '", program->type, "' on ", platform.name());
    auto maps = spec->map_descriptors(platform);
    REQUIRE_MESSAGE(maps.has_value(), (maps ? "" : maps.error().message));
    return verifier::verify(program->definition, *maps, platform, *type);
}

/// The 1-based number of the only line of `source` containing `marker`; 0 when none or several do.
inline std::size_t line_containing(const std::filesystem::path& source, std::string_view marker) {
    std::ifstream in(source);
    REQUIRE_MESSAGE(in.good(), "cannot read ", source.string());
    std::size_t found = 0;
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (contains(line, marker)) {
            if (found != 0) {
                return 0;
            }
            found = number;
        }
    }
    return found;
}

} // namespace embpf::testing_verifier
