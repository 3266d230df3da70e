// Temporary: the analysis lands next.
#include "embpf/verifier/verifier.hpp"

namespace embpf::verifier {

Report verify(const ProgramInput& input, const platform::Platform&, const platform::ProgramType& type,
              const Options&) {
    Report report;
    report.program = input.name;
    report.section = input.section;
    report.type = type.name;
    report.errors.push_back({0, "The analysis is not built yet", "", std::nullopt});
    return report;
}

Report verify(const elf::ProgramDefinition& program, std::span<const MapDescriptor> maps,
              const platform::Platform& platform, const platform::ProgramType& type, const Options& options) {
    ProgramInput input{program.name, program.section, program.instructions, program.map_references, program.lines,
                       maps};
    return verify(input, platform, type, options);
}

} // namespace embpf::verifier
