// The differential oracle's AOT engine for many programs at once (differential.hpp, DifferentialOptions::aot).
// Running the system's C compiler costs tens of milliseconds a file, more than verifying and running most generated
// programs, so an AotBatch takes the programs first (add: verified, their C written, the engines not run yet), builds
// the C of all of them into a few shared objects (build: one C file of up to `per_file` programs each, several
// compilers at once), and only then compares the engines on each (run: the interpreter, the JIT tiers, the optimizing
// JIT and the compiled C, on the inputs of the entropy add() was given). Programs whose C is the same (the same
// fingerprint) are compiled once.
//
// The C comes from the system's compiler as `embpf aot --shared` builds it (tools/common/compile_c.hpp: $EMBPF_CC, $CC
// or cc, -O2 -Wall -Wextra -Werror and $EMBPF_AOT_CFLAGS, such as -fsanitize=undefined with EMBPF_CC=gcc). The files
// lie in a directory of the batch's own under the temporary directory, removed with the batch unless a difference was
// found (or EMBPF_AOT_KEEP is set): a report names the C file and the function of the program.
#pragma once

#include "../../tools/common/compile_c.hpp"
#include "differential.hpp"

#include "embpf/exec/aot.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

namespace embpf::fuzz {

namespace aot_detail {

inline std::string clip(const std::string& text, std::size_t most = 4000) {
    return text.size() <= most ? text : text.substr(0, most) + "\n...";
}

/// A new directory of this process's under the temporary directory; empty when none could be made.
inline std::filesystem::path make_directory() {
    std::error_code error;
    const std::filesystem::path base = std::filesystem::temp_directory_path(error);
    std::string pattern = (error ? std::filesystem::path("/tmp") : base).string() + "/embpf-aot-differential-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        return {};
    }
    return pattern;
}

} // namespace aot_detail

/// Why the system's C compiler does not build generated C here (the prelude of every file, compiled as the batch
/// compiles), or an empty string when it does; found out once per process.
inline const std::string& aot_compiler_problem() {
    static const std::string problem = []() -> std::string {
        const std::filesystem::path dir = aot_detail::make_directory();
        if (dir.empty()) {
            return "cannot make a temporary directory";
        }
        const std::filesystem::path c_file = dir / "probe.c";
        std::string result;
        {
            std::ofstream out(c_file);
            out << exec::aot_module_source({}, "", "differential", "embpf_aot_module", "the C compiler's probe");
            if (!out) {
                result = "cannot write " + c_file.string();
            }
        }
        if (result.empty()) {
            if (auto failed = tools::compile_shared(c_file, dir / "probe.so")) {
                result = aot_detail::clip(*failed, 1000);
            } else if (auto opened = exec::AotLibrary::open(dir / "probe.so"); !opened) {
                result = opened.error().message;
            }
        }
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
        return result;
    }();
    return problem;
}

class AotBatch {
  public:
    struct Stats {
        std::uint64_t programs = 0;   ///< added
        std::uint64_t translated = 0; ///< ready programs whose C was written
        std::uint64_t unsupported =
            0; ///< ready programs generate_c does not translate (compared without the AOT engine)
        std::uint64_t facts_used = 0;  ///< translated programs whose C the verifier's facts changed
        std::uint64_t assumptions = 0; ///< ranges of the facts the C assumes (checked: EMBPF_AOT_CHECK_FACTS)
        std::uint64_t distinct = 0;    ///< distinct C functions compiled (by fingerprint)
        std::uint64_t files = 0;       ///< C files compiled
        std::uint64_t c_bytes = 0;     ///< their size
        double compile_seconds = 0;    ///< wall-clock time of build()
    };

    /// `per_file`: programs a C file holds; `jobs`: compilers run at once (0: one per hardware thread).
    explicit AotBatch(std::size_t per_file = 64, unsigned jobs = 0)
        : m_per_file(std::max<std::size_t>(per_file, 1)),
          m_jobs(jobs != 0 ? jobs : std::max(1U, std::thread::hardware_concurrency())) {}
    AotBatch(const AotBatch&) = delete; // the programs' options call back into the batch
    AotBatch& operator=(const AotBatch&) = delete;
    ~AotBatch() {
        m_items.clear();
        m_compiled.clear(); // the shared objects are closed once no AotProgram holds them either
        if (!m_directory.empty() && !m_keep && std::getenv("EMBPF_AOT_KEEP") == nullptr) {
            std::error_code ignored;
            std::filesystem::remove_all(m_directory, ignored);
        }
    }

    /// Verifies `program` (prepare_differential, with DifferentialOptions::aot) and writes the C of what the AOT
    /// engine is to run; run(index) compares the engines on it after build(), drawing its inputs from `entropy`, which
    /// must read no bytes of a caller's (a seeded Entropy). Returns the index.
    std::size_t add(const GeneratedProgram& program, const Entropy& entropy, DifferentialOptions options = {}) {
        options.aot = true;
        options.aot_code = [this](const exec::AotSource& source) { return lookup(source); };
        Item item{prepare_differential(program, options), entropy};
        ++m_stats.programs;
        if (item.prepared.ready) {
            write(item.prepared, m_items.size());
        }
        m_items.push_back(std::move(item));
        return m_items.size() - 1;
    }

    /// Compiles the C of the programs added since the last build; the compiler's messages (and the file) when it
    /// fails, else nullopt.
    [[nodiscard]] std::optional<std::string> build() {
        const auto started = std::chrono::steady_clock::now();
        if (m_pending.empty()) {
            return std::nullopt;
        }
        if (m_directory.empty()) {
            m_directory = aot_detail::make_directory();
            if (m_directory.empty()) {
                return "cannot make a temporary directory for the C files";
            }
        }
        struct File {
            std::filesystem::path c_file;
            std::filesystem::path library;
            std::optional<std::string> failed;
        };
        std::vector<File> files;
        for (std::size_t first = 0; first < m_pending.size(); first += m_per_file) {
            const std::span<const exec::AotModuleEntry> entries =
                std::span<const exec::AotModuleEntry>(m_pending).subspan(
                    first, std::min(m_per_file, m_pending.size() - first));
            const std::string name = "batch" + std::to_string(m_files++);
            File file{m_directory / (name + ".c"), m_directory / (name + ".so"), std::nullopt};
            const std::string text = exec::aot_module_source(entries, "", "differential", "embpf_aot_module",
                                                             "generated programs of the AOT differential oracle");
            std::ofstream out(file.c_file);
            out << text;
            if (!out) {
                m_keep = true;
                return "cannot write " + file.c_file.string();
            }
            m_stats.c_bytes += text.size();
            files.push_back(std::move(file));
        }
        // Several compilers at once: each thread takes the files k, k + jobs, ...
        std::vector<std::thread> threads;
        const std::size_t jobs = std::min<std::size_t>(m_jobs, files.size());
        for (std::size_t k = 0; k < jobs; ++k) {
            threads.emplace_back([&files, k, jobs] {
                for (std::size_t i = k; i < files.size(); i += jobs) {
                    // The facts' ranges checked where the code would assume them: a wrong one traps.
                    files[i].failed =
                        tools::compile_shared(files[i].c_file, files[i].library, {"-DEMBPF_AOT_CHECK_FACTS"});
                }
            });
        }
        for (std::thread& thread : threads) {
            thread.join();
        }
        m_pending.clear();
        m_stats.files += files.size();
        for (const File& file : files) {
            if (file.failed) {
                m_keep = true;
                return "the C compiler failed on " + file.c_file.string() + ":\n" + aot_detail::clip(*file.failed);
            }
            auto library = exec::AotLibrary::open(file.library);
            if (!library) {
                m_keep = true;
                return library.error().message;
            }
            const embpf_aot_module& module = library->module();
            for (std::uint32_t i = 0; i < module.program_count; ++i) {
                const embpf_aot_program* compiled = module.programs[i];
                m_compiled[compiled->fingerprint] = AotCompiled{
                    compiled, library->owner(), file.c_file.string() + ", function " + std::string(compiled->name), {}};
            }
        }
        m_stats.compile_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return std::nullopt;
    }

    /// Compares the engines on the program added as `index` (finish_differential); build() first. A difference keeps
    /// the C files.
    [[nodiscard]] DifferentialResult run(std::size_t index) {
        Item& item = m_items.at(index);
        Entropy entropy = item.entropy;
        DifferentialResult result = finish_differential(item.prepared, entropy);
        if (!result.difference.empty() && m_keep_on_difference) {
            m_keep = true;
        }
        return result;
    }

    /// Whether a difference keeps the C files (by default it does); the oracle's self-tests, which expect differences,
    /// turn it off.
    void keep_on_difference(bool keep) noexcept { m_keep_on_difference = keep; }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    [[nodiscard]] const Stats& stats() const noexcept { return m_stats; }
    /// Where the C files lie (empty before the first build).
    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return m_directory; }
    /// Forgets the programs and the compiled code (the C files of a batch that found a difference stay).
    void clear() {
        m_items.clear();
        m_compiled.clear();
        m_pending.clear();
        m_fingerprints.clear();
    }

  private:
    struct Item {
        PreparedDifferential prepared;
        Entropy entropy;
    };

    // The C of what compare_engines will translate: the same code and options (aot_input), under a symbol of its own.
    void write(const PreparedDifferential& prepared, std::size_t index) {
        const platform::ProgramType* type = detail::fuzz_platform().program_type(prepared.generated_type);
        if (type == nullptr) {
            return; // compare_engines reports it
        }
        const differential::Helpers& helpers = differential::helpers_for(detail::fuzz_platform(), *type);
        const std::vector<std::shared_ptr<runtime::Map>> no_maps; // the C reads the maps' addresses at run time
        // A symbol unique over the batch's files: the index is, among the programs of one build.
        const differential::AotInput input =
            differential::aot_input(prepared.program, prepared.report, prepared.options, *type, no_maps,
                                    "p" + std::to_string(index) + "_" + std::to_string(m_files));
        auto source = exec::generate_c(input.code, helpers.table, input.options);
        if (!source) {
            m_stats.unsupported += source.error().kind == ErrorKind::unsupported ? 1 : 0;
            return; // compare_engines counts it, or reports a refusal
        }
        ++m_stats.translated;
        for (std::size_t at = source->code.find("EMBPF_ASSUME("); at != std::string::npos;
             at = source->code.find("EMBPF_ASSUME(", at + 1)) {
            ++m_stats.assumptions;
        }
        if (!input.options.facts.empty()) {
            exec::AotOptions without = input.options;
            without.facts = {};
            if (auto plain = exec::generate_c(input.code, helpers.table, without);
                plain && plain->fingerprint != source->fingerprint) {
                ++m_stats.facts_used;
            }
        }
        if (!m_fingerprints.insert(source->fingerprint).second || m_compiled.contains(source->fingerprint)) {
            return;
        }
        ++m_stats.distinct;
        const std::string& symbol = input.options.symbol;
        m_pending.push_back({symbol, prepared.generated_type, "", symbol, std::move(source).value()});
    }

    AotCompiled lookup(const exec::AotSource& source) const {
        if (const auto found = m_compiled.find(source.fingerprint); found != m_compiled.end()) {
            return found->second;
        }
        AotCompiled missing;
        missing.error = "the batch compiled no code of fingerprint " + source.fingerprint +
                        " (run before build, or C the batch did not write for the program)";
        return missing;
    }

    std::size_t m_per_file;
    unsigned m_jobs;
    std::vector<Item> m_items;
    std::vector<exec::AotModuleEntry> m_pending;
    std::set<std::string> m_fingerprints;
    std::map<std::string, AotCompiled, std::less<>> m_compiled;
    std::filesystem::path m_directory;
    std::size_t m_files = 0;
    bool m_keep = false;
    bool m_keep_on_difference = true;
    Stats m_stats;
};

} // namespace embpf::fuzz
