// The verifier on programs compiled from C (tests/verifier/programs): the cases of test_verifier_asm.cpp as clang
// emits them, for eBPF for Windows with the plugin headers and for Linux with libbpf's headers. A rejection must
// point at the source line marked `expect: <program>`.
#include "verifier/object_reports.hpp"

#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace platform = embpf::platform;
namespace verifier = embpf::verifier;
using embpf::testing_verifier::contains;
using embpf::testing_verifier::line_containing;
using embpf::testing_verifier::verify_object_program;

const std::filesystem::path kObjects = EMBPF_TEST_VERIFIER_DIR;
const std::filesystem::path kSources = std::filesystem::path(EMBPF_TEST_SOURCE_DIR) / "verifier" / "programs";

struct Row {
    std::string_view program;
    bool verified = false;
    /// Accepted: the longest path's instruction count, or for loops the least bound a sound analysis can give.
    std::uint64_t bound = 0;
    bool bound_exact = true;
    /// Rejected: the error's pc (in the program, from llvm-objdump -d), message and, when given, assertion.
    std::size_t pc = 0;
    std::string_view message;
    std::string_view assertion;
};

Row accepted(std::string_view program, std::uint64_t longest_path) {
    return {program, true, longest_path, true, 0, {}, {}};
}
Row accepted_loop(std::string_view program, std::uint64_t worst_run) {
    return {program, true, worst_run, false, 0, {}, {}};
}
Row rejected(std::string_view program, std::size_t pc, std::string_view message, std::string_view assertion = {}) {
    return {program, false, 0, true, pc, message, assertion};
}

void check_rows(std::string_view file, const platform::Platform& target, const std::vector<Row>& rows) {
    const std::filesystem::path object = kObjects / (std::string(file) + ".o");
    const std::filesystem::path source = kSources / (std::string(file) + ".c");
    for (const Row& row : rows) {
        INFO("program: ", file, ".c ", row.program);
        const verifier::Report report = verify_object_program(object, row.program, target);
        INFO("report:\n", report.text());
        CHECK(report.program == row.program);
        CHECK(report.section == "xdp");
        CHECK(report.type == "xdp");
        if (row.verified) {
            CHECK(report.verified);
            CHECK(report.errors.empty());
            CHECK(report.instruction_bound.has_value());
            if (!report.instruction_bound) {
                continue;
            }
            if (row.bound_exact) {
                CHECK(*report.instruction_bound == row.bound);
            } else {
                CHECK(*report.instruction_bound >= row.bound);
            }
            continue;
        }
        CHECK_FALSE(report.verified);
        CHECK(report.errors.size() == 1);
        if (report.errors.empty()) {
            continue;
        }
        const verifier::Diagnostic& error = report.errors.front();
        CHECK(error.pc == row.pc);
        CHECK(error.message == row.message);
        if (!row.assertion.empty()) {
            CHECK(error.assertion == row.assertion);
        }
        const std::size_t line = line_containing(source, "expect: " + std::string(row.program));
        REQUIRE(line != 0);
        CHECK(error.source.has_value());
        if (!error.source) {
            continue;
        }
        CHECK(error.source->line == line);
        CHECK(std::filesystem::path(error.source->file).filename() == source.filename());
        CHECK(contains(report.text(), "; " + error.source->file + ":" + std::to_string(line) + "\n"));
        CHECK(contains(report.text(), std::to_string(row.pc) + ": " + std::string(row.message)));
    }
}

} // namespace

TEST_SUITE_BEGIN("verifier objects");

// pcs and counts from llvm-objdump -d of the objects clang-14 builds; each program's pcs start at 0.
TEST_CASE("verifier objects: eBPF for Windows programs built with the plugin headers") {
    check_rows("windows_cases", platform::windows(),
               {
                   // data + 14 is checked, then data[14] read through that same pointer.
                   rejected("read_past_check", 5, "Upper bound must be at most packet_size"),
                   rejected("lookup_unchecked", 8, "r0 may be null; compare it with 0 first", "r0 != null"),
                   accepted("lookup_checked", 13),
                   rejected("leak_to_map", 9, "Pointer stored outside the stack", "r6.type == number"),
                   // 3 + 9 * 13 + 12 + 5: the last iteration leaves at the exit test.
                   accepted_loop("bounded_loop", 137),
                   // 4 + 64 * 9 + 5.
                   accepted_loop("packet_loop", 585),
                   accepted("ipv4_options", 23),
               });
}

TEST_CASE("verifier objects: Linux programs built with libbpf's headers") {
    check_rows("linux_cases", platform::linux(),
               {
                   rejected("read_past_check", 5, "Upper bound must be at most packet_size"),
                   rejected("lookup_unchecked", 8, "r0 may be null; compare it with 0 first", "r0 != null"),
                   accepted("lookup_checked", 13),
                   rejected("leak_to_map", 9, "Pointer stored outside the stack", "r6.type == number"),
                   accepted_loop("bounded_loop", 137),
                   accepted_loop("packet_loop", 585),
                   // The EtherType is read byte by byte here: struct ethhdr is packed.
                   accepted("ipv4_options", 26),
               });
}

TEST_SUITE_END();
