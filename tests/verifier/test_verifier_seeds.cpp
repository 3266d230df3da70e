// The verifier on the seed programs (examples/seeds, built by tests/platform/tests.cmake): the tutorial's second
// stage reads the EtherType without a bounds check and must be refused exactly there; every other seed verifies.
#include "verifier/object_reports.hpp"

#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace {

namespace platform = embpf::platform;
namespace verifier = embpf::verifier;
using embpf::testing_verifier::contains;
using embpf::testing_verifier::line_containing;
using embpf::testing_verifier::verify_object_program;

const std::filesystem::path kSeeds = EMBPF_TEST_SEEDS_DIR;
const std::filesystem::path kSeedSources =
    std::filesystem::path(EMBPF_TEST_SOURCE_DIR).parent_path() / "examples" / "seeds";

verifier::Report verify_seed(std::string_view seed, std::string_view program) {
    return verify_object_program(kSeeds / (std::string(seed) + ".o"), program, platform::windows());
}

} // namespace

TEST_SUITE_BEGIN("verifier seeds");

TEST_CASE("verifier seeds: myxdp_stage2 reads the EtherType without a bounds check") {
    const verifier::Report report = verify_seed("myxdp_stage2", "packet_parse");
    INFO("report:\n", report.text());
    CHECK(report.program == "packet_parse");
    CHECK(report.section == "xdp");
    CHECK(report.type == "xdp");
    CHECK_FALSE(report.verified);
    CHECK_FALSE(report.instruction_bound.has_value());
    REQUIRE(report.errors.size() == 1);

    // pc 5 is `r3 = *(u16 *)(r1 + 12)`, the read of eth_hdr->Type that feeds bpf_printk.
    const verifier::Diagnostic& error = report.errors.front();
    CHECK(error.pc == 5);
    CHECK(error.message == "Upper bound must be at most packet_size");
    CHECK(error.assertion == "valid_access(r1.offset+12, width=2)");
    const std::size_t printk_line = line_containing(kSeedSources / "myxdp_stage2.c", "bpf_printk(\"%x\"");
    REQUIRE(printk_line != 0);
    REQUIRE(error.source.has_value());
    CHECK(error.source->line == printk_line);
    CHECK(std::filesystem::path(error.source->file).filename() == "myxdp_stage2.c");
    CHECK(contains(error.source->source, "bpf_printk"));

    const std::string text = report.text();
    CHECK(contains(text, "Verification failed\n"));
    CHECK(contains(text, "; " + error.source->file + ":" + std::to_string(printk_line) + "\n"));
    CHECK(contains(text, "5: Upper bound must be at most packet_size (valid_access(r1.offset+12, width=2))\n"));
    CHECK(contains(text, "1 errors\n"));
    CHECK_FALSE(contains(text, "Verification succeeded"));

    const std::string json = report.json();
    CHECK(contains(json, "\"verdict\": \"rejected\""));
    CHECK(contains(json, "\"instruction_bound\": null"));
    CHECK(contains(json, "\"pc\": 5"));
    CHECK(contains(json, "\"line\": " + std::to_string(printk_line)));
    CHECK(contains(json, "\"message\": \"Upper bound must be at most packet_size\""));
    CHECK(contains(json, "\"assertion\": \"valid_access(r1.offset+12, width=2)\""));
}

TEST_CASE("verifier seeds: the other seeds verify, each within its longest path") {
    struct Seed {
        std::string_view file;
        std::string_view program;
        std::string_view type;
        std::uint64_t longest_path; // instructions, counted on llvm-objdump -d; a lddw counts one
        std::uint64_t cost; // each helper call counted as 1 + ceil(bytes it covers / 8) + its implementation's cost
    };
    const Seed seeds[] = {
        {"myxdp_stage1", "our_program", "xdp", 2, 2},
        // The bounds check passes, the whole program runs: pcs 0-16. bpf_printk's "%x" is 3 bytes: one more, 32 for
        // each byte of the format, and formatting a line for the host's trace sink 1,000.
        {"myxdp_stage3", "packet_parse", "xdp", 17, 18 + 3 * 32 + 1000},
        // parse_ethernet_packet is inlined; a UDP packet runs pcs 0-34 but the second slot of the lddw at 28.
        // bpf_ringbuf_output copies the 16-byte FiveTuple: two more, and may wake the consumer (a system call).
        {"myxdp_stage4", "packet_parse", "xdp", 34, 36 + 1000},
        // A process seen for the first time: lookup (16), the memcpy_s path (16), the update (6), the exit (2). The
        // lookup reads a 4-byte key (+1, and 8 for the hash lookup), memcpy_s covers 32 + at most 32 bytes (+8), the
        // update a 4-byte key and a 40-byte value (+6, and 32 for the update).
        {"TraceConnections", "TraceConnections", "bind", 40, 55 + 8 + 32},
    };
    for (const Seed& seed : seeds) {
        INFO("seed: ", seed.file);
        const verifier::Report report = verify_seed(seed.file, seed.program);
        INFO("report:\n", report.text());
        CHECK(report.program == seed.program);
        CHECK(report.section == seed.type);
        CHECK(report.type == seed.type);
        CHECK(report.verified);
        CHECK(report.errors.empty());
        CHECK(report.instruction_bound == seed.longest_path);
        CHECK(report.cost_bound == seed.cost);
        CHECK(report.text() == "Verification succeeded\nProgram terminates within " +
                                   std::to_string(seed.longest_path) + " instructions\n" +
                                   (seed.cost == seed.longest_path
                                        ? std::string()
                                        : "Counting helper calls at their cost, a run costs at most " +
                                              std::to_string(seed.cost) + " instructions\n"));

        const std::string json = report.json();
        CHECK(contains(json, "\"program\": \"" + std::string(seed.program) + "\""));
        CHECK(contains(json, "\"section\": \"" + std::string(seed.type) + "\""));
        CHECK(contains(json, "\"type\": \"" + std::string(seed.type) + "\""));
        CHECK(contains(json, "\"verdict\": \"verified\""));
        CHECK(contains(json, "\"instruction_bound\": " + std::to_string(seed.longest_path)));
        CHECK(contains(json, "\"cost_bound\": " + std::to_string(seed.cost)));
        CHECK(contains(json, "\"errors\": []"));
    }
}

TEST_CASE("verifier seeds: the Linux versions get the same verdicts under platform::linux()") {
    const std::filesystem::path object = std::filesystem::path(EMBPF_TEST_VERIFIER_DIR) / "linux_seeds.o";
    const std::filesystem::path source =
        std::filesystem::path(EMBPF_TEST_SOURCE_DIR) / "verifier" / "programs" / "linux_seeds.c";

    // The EtherType read without a bounds check: refused at the read, with the source line.
    const verifier::Report unchecked = verify_object_program(object, "ethertype_unchecked", platform::linux());
    INFO("report:\n", unchecked.text());
    CHECK_FALSE(unchecked.verified);
    REQUIRE_FALSE(unchecked.errors.empty());
    const verifier::Diagnostic& first = unchecked.errors.front();
    CHECK(first.message == "Upper bound must be at most packet_size");
    CHECK(contains(first.assertion, "valid_access(r1.offset+12"));
    REQUIRE(first.source.has_value());
    CHECK(first.source->line == line_containing(source, "expect: ethertype_unchecked"));
    for (const verifier::Diagnostic& error : unchecked.errors) {
        CHECK(error.message == "Upper bound must be at most packet_size"); // each byte of the EtherType, no other
    }

    // The five-tuple parser and the per-process bind counter verify.
    for (const char* name : {"five_tuples", "count_binds"}) {
        const verifier::Report report = verify_object_program(object, name, platform::linux());
        INFO(name, " report:\n", report.text());
        CHECK(report.verified);
        CHECK(report.instruction_bound.has_value());
    }
}

TEST_SUITE_END();
