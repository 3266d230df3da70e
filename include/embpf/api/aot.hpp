// Ahead-of-time compilation of an object's programs: the C file `embpf aot` writes, for hosts that may not generate
// code at run time (LoadOptions::engine = aot runs it).
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/exec/aot.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <string>
#include <vector>

namespace embpf {

struct AotGenerateOptions {
    /// The programs to compile, by name; empty: every program of the object. Only these are verified.
    std::vector<std::string> programs{};
    /// What the C's symbols start with: each program's function is `<prefix>_<program>` (the name made a C
    /// identifier), its descriptor `<prefix>_<program>_program`.
    std::string prefix = "embpf_plugin";
    /// The module's symbol (the embpf_aot_module listing the programs): `<prefix>_module` when empty. A shared object
    /// that LoadOptions::aot_library opens must name it `embpf_aot_module`.
    std::string module_symbol{};
    /// `#line` directives from the object's BTF line info, so that a debugger and a profiler show the plugin's own
    /// source lines.
    bool lines = true;
    /// How the programs are loaded to be verified (externs, target BTF, limits): as the host will load them, since
    /// the code is bound only to a load whose programs are the same. Its engine and aot fields are ignored.
    LoadOptions load{};
};

struct AotGenerated {
    std::string source;                ///< the C file
    std::vector<std::string> programs; ///< the programs it holds, in the object's order
    std::string module_symbol;         ///< its embpf_aot_module's symbol
};

/// Verifies the chosen programs of `spec` on `platform` (a program that does not verify fails the call with the
/// verifier's report, as Object::load fails) and writes them out as one C file: aot_abi.h, each program as C
/// (exec::generate_c, with the verifier's facts), its descriptor, and the module. The C compiles warning-free with gcc
/// and clang at -O2 -Wall -Wextra. A program the C cannot express (exec::generate_c's unsupported) fails the call.
[[nodiscard]] Result<AotGenerated> generate_aot(const ObjectSpec& spec, const platform::Platform& platform,
                                                const AotGenerateOptions& options = {});

} // namespace embpf
