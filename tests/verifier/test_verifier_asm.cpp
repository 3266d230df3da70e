// The verifier against docs/verifier.md, one row per program written in assembler: the program type, the maps, and
// the verdict with either the instruction bound or the one error (pc, message, assertion) the spec names.
#include "api/request_hook.hpp"
#include "embpf/elf/object_file.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace platform = embpf::platform;
namespace verifier = embpf::verifier;
using platform::MapKind;
using verifier::MapDescriptor;

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

struct Target {
    const platform::Platform& (*platform)();
    std::string_view type;
};

const Target windows_xdp{&platform::windows, "xdp"};
const Target windows_bind{&platform::windows, "bind"};
const Target linux_xdp{&platform::linux, "xdp"};
const Target linux_kprobe{&platform::linux, "kprobe"};
const Target linux_lwt_in{&platform::linux, "lwt_in"};
const Target linux_lwt_xmit{&platform::linux, "lwt_xmit"};
const Target linux_cgroup_skb{&platform::linux, "cgroup_skb"};
const Target linux_socket{&platform::linux, "socket_filter"};
const Target linux_sock_addr{&platform::linux, "cgroup_sock_addr"};
const Target linux_tc{&platform::linux, "sched_cls"};
const Target linux_tracing{&platform::linux, "tracing"};

struct Expected {
    bool verified = false;
    /// Accepted: the instruction count of the longest path, or for loops the least bound a sound analysis can give.
    std::uint64_t bound = 0;
    bool bound_exact = true;
    std::size_t pc = 0;
    std::string_view message;
    std::string_view assertion; ///< empty where docs/verifier.md leaves its spelling open
    std::size_t errors = 1;     ///< rejected: how many errors the report has, the expected one among them
};

/// Loop-free: the bound is the number of instructions on the longest path (a `lddw` and a call count one each).
Expected accepted(std::uint64_t longest_path) { return {true, longest_path, true, 0, {}, {}}; }
/// With loops: any bound at least the instructions the worst run executes is sound.
Expected accepted_loop(std::uint64_t worst_run) { return {true, worst_run, false, 0, {}, {}}; }
Expected rejected(std::size_t pc, std::string_view message, std::string_view assertion = {}) {
    return {false, 0, true, pc, message, assertion};
}
/// Rejected with `errors` errors (paths the analysis keeps apart fail each in its own way), one of them this.
Expected rejected_among(std::size_t errors, std::size_t pc, std::string_view message, std::string_view assertion) {
    return {false, 0, true, pc, message, assertion, errors};
}

struct Row {
    std::string_view name;
    Target target;
    std::vector<MapDescriptor> maps;
    std::string_view text;
    Expected expected;
};

Row row(std::string_view name, Target target, std::vector<MapDescriptor> maps, std::string_view text,
        Expected expected) {
    return {name, target, std::move(maps), text, expected};
}

MapDescriptor array_map() { return {"values", MapKind::array, 4, 16, 4, std::nullopt, false, {}}; }
MapDescriptor hash_map() { return {"table", MapKind::hash, 8, 8, 16, std::nullopt, false, {}}; }
MapDescriptor ringbuf_map() { return {"events", MapKind::ringbuf, 0, 0, 4096, std::nullopt, false, {}}; }
MapDescriptor prog_array_map() { return {"programs", MapKind::prog_array, 4, 4, 4, std::nullopt, false, {}}; }
/// `.rodata` holding "x=%d\n" and its NUL at 0-5, then ten bytes with no NUL.
MapDescriptor sk_storage_map() { return {"storage", MapKind::sk_storage, 4, 16, 0, std::nullopt, false, {}}; }
MapDescriptor queue_map() { return {"queue", MapKind::queue, 0, 8, 4, std::nullopt, false, {}}; }
MapDescriptor rodata_map() {
    return {"rodata", MapKind::array,
            4,        16,
            1,        std::nullopt,
            true,     {'x', '=', '%', 'd', '\n', 0, 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}};
}
/// An array of maps whose inner maps are described at `inner` (nullopt: not described).
MapDescriptor outer_map(std::optional<std::size_t> inner) {
    return {"outer", MapKind::array_of_maps, 4, 4, 4, inner, false, {}};
}

void check_rows(const std::vector<Row>& rows) {
    for (const Row& row : rows) {
        INFO("case: ", row.name);
        auto program = embpf::isa::assemble(row.text);
        REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
        const std::vector<embpf::isa::Instruction>& instructions = *program;
        INFO("program:\n", embpf::isa::disassemble(instructions, {.show_pc = true}));

        const platform::Platform& target_platform = row.target.platform();
        const platform::ProgramType* type = target_platform.program_type(row.target.type);
        REQUIRE(type != nullptr);
        const verifier::ProgramInput input{
            std::string(row.name), std::string(row.target.type), instructions, {}, {}, row.maps};
        const verifier::Report report = verifier::verify(input, target_platform, *type);
        INFO("report:\n", report.text());

        CHECK(report.program == row.name);
        CHECK(report.type == row.target.type);
        const Expected& expected = row.expected;
        if (expected.verified) {
            CHECK(report.verified);
            CHECK(report.errors.empty());
            CHECK(report.instruction_bound.has_value());
            if (!report.instruction_bound) {
                continue;
            }
            if (expected.bound_exact) {
                CHECK(*report.instruction_bound == expected.bound);
            } else {
                CHECK(*report.instruction_bound >= expected.bound);
            }
            // Helper calls cost at least their instruction each.
            REQUIRE(report.cost_bound.has_value());
            CHECK(*report.cost_bound >= *report.instruction_bound);
            CHECK(report.text() == "Verification succeeded\nProgram terminates within " +
                                       std::to_string(*report.instruction_bound) + " instructions\n" +
                                       (*report.cost_bound == *report.instruction_bound
                                            ? std::string()
                                            : "Counting helper calls at their cost, a run costs at most " +
                                                  std::to_string(*report.cost_bound) + " instructions\n"));
            continue;
        }
        CHECK_FALSE(report.verified);
        CHECK_FALSE(report.instruction_bound.has_value());
        CHECK(report.errors.size() == expected.errors);
        const auto found = std::find_if(report.errors.begin(), report.errors.end(), [&](const auto& e) {
            return e.pc == expected.pc && e.message == expected.message;
        });
        if (report.errors.empty()) {
            continue;
        }
        const verifier::Diagnostic& error = found == report.errors.end() ? report.errors.front() : *found;
        CHECK(error.pc == expected.pc);
        CHECK(error.message == expected.message);
        CHECK_FALSE(error.source.has_value()); // assembler text carries no line information
        std::string line = std::to_string(expected.pc) + ": " + std::string(expected.message);
        if (!expected.assertion.empty()) {
            CHECK(error.assertion == expected.assertion);
            line += " (" + std::string(expected.assertion) + ")";
        }
        CHECK(contains(report.text(), "Verification failed\n"));
        CHECK(contains(report.text(), line));
        CHECK(contains(report.text(), "\n" + std::to_string(expected.errors) + " errors\n"));
    }
}

} // namespace

TEST_SUITE_BEGIN("verifier asm");

// The four regions of docs/verifier.md's table: the first and last byte accepted, one byte either side and an
// offset the program never bounds rejected with the region's message.
TEST_CASE("verifier asm: each region's bounds") {
    check_rows({
        row("packet: first and last byte of a checked range", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 0)
            r0 = *(u8 *)(r2 + 13)
            r0 = *(u64 *)(r2 + 6)
        out:
            r0 = 1
            exit)",
            accepted(10)),
        row("packet: one byte past the checked range", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 14)
        out:
            r0 = 1
            exit)",
            rejected(5, "Upper bound must be at most packet_size", "valid_access(r2.offset+14, width=1)")),
        row("packet: a wide read whose last byte is past the checked range", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u16 *)(r2 + 13)
        out:
            r0 = 1
            exit)",
            rejected(5, "Upper bound must be at most packet_size", "valid_access(r2.offset+13, width=2)")),
        row("packet: one byte before the packet", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 - 1)
        out:
            r0 = 1
            exit)",
            rejected(5, "Lower bound must be at least data_meta")),
        row("packet: an unbounded offset", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r5 = *(u16 *)(r1 + 24)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r2 += r5
            r0 = *(u8 *)(r2 + 0)
        out:
            r0 = 1
            exit)",
            rejected(7, "Upper bound must be at most packet_size")),
        row("packet: read on the side where the check failed", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 <= r3 goto out
            r0 = *(u8 *)(r2 + 0)
        out:
            r0 = 1
            exit)",
            rejected(5, "Upper bound must be at most packet_size")),
        // data + 14 < data_end leaves 15 bytes.
        row("packet: a strict check, then the byte at the checked offset", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 >= r3 goto out
            r0 = *(u8 *)(r2 + 14)
        out:
            r0 = 1
            exit)",
            accepted(8)),
        row("packet: no check at all", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r0 = *(u8 *)(r2 + 0)
            r0 = 1
            exit)",
            rejected(1, "Upper bound must be at most packet_size")),
        row("packet: Linux's 32-bit data fields, first and last byte", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 4)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 0)
            r0 = *(u16 *)(r2 + 12)
        out:
            r0 = 2
            exit)",
            accepted(9)),
        row("packet: Linux's 32-bit data fields, one byte past the check", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 4)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u16 *)(r2 + 13)
        out:
            r0 = 2
            exit)",
            rejected(5, "Upper bound must be at most packet_size", "valid_access(r2.offset+13, width=2)")),

        // Where the hook's packet is read-only (Linux's may_access_direct_pkt_data()), it is read, never written.
        row("packet: lwt_in reads its packet", linux_lwt_in, {}, R"(
            r2 = *(u32 *)(r1 + 76)
            r3 = *(u32 *)(r1 + 80)
            r4 = r2
            r4 += 1
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 0)
        out:
            r0 = 0
            exit)",
            accepted(8)),
        row("packet: lwt_in does not write its packet", linux_lwt_in, {}, R"(
            r2 = *(u32 *)(r1 + 76)
            r3 = *(u32 *)(r1 + 80)
            r4 = r2
            r4 += 1
            if r4 > r3 goto out
            *(u8 *)(r2 + 0) = 7
        out:
            r0 = 0
            exit)",
            rejected(5, "The packet of lwt_in is read-only", "writable(packet)")),
        row("packet: lwt_xmit writes its packet", linux_lwt_xmit, {}, R"(
            r2 = *(u32 *)(r1 + 76)
            r3 = *(u32 *)(r1 + 80)
            r4 = r2
            r4 += 1
            if r4 > r3 goto out
            *(u8 *)(r2 + 0) = 7
        out:
            r0 = 0
            exit)",
            accepted(8)),
        row("packet: cgroup_skb does not write its packet", linux_cgroup_skb, {}, R"(
            r2 = *(u32 *)(r1 + 76)
            r3 = *(u32 *)(r1 + 80)
            r4 = r2
            r4 += 8
            if r4 > r3 goto out
            *(u32 *)(r2 + 4) = 1
        out:
            r0 = 1
            exit)",
            rejected(5, "The packet of cgroup_skb is read-only", "writable(packet)")),
        row("packet: nor has a helper write it", linux_cgroup_skb, {}, R"(
            r6 = r1
            r2 = *(u32 *)(r6 + 76)
            r3 = *(u32 *)(r6 + 80)
            r4 = r2
            r4 += 8
            if r4 > r3 goto out
            r1 = r6
            r3 = r2
            r2 = 0
            r4 = 8
            call 26
        out:
            r0 = 1
            exit)",
            rejected(10, "The packet of cgroup_skb is read-only", "writable(packet)")),
        row("stack: the lowest and the highest byte", windows_xdp, {}, R"(
            *(u8 *)(r10 - 512) = 0
            *(u8 *)(r10 - 1) = 0
            r0 = *(u8 *)(r10 - 512)
            r0 = *(u8 *)(r10 - 1)
            r0 = 1
            exit)",
            accepted(6)),
        row("stack: one byte below r10-512", windows_xdp, {}, R"(
            *(u8 *)(r10 - 513) = 0
            r0 = 1
            exit)",
            rejected(0, "Lower bound must be at least r10-512")),
        row("stack: the byte at r10", windows_xdp, {}, R"(
            *(u8 *)(r10 + 0) = 0
            r0 = 1
            exit)",
            rejected(0, "Upper bound must be at most r10")),
        row("stack: a wide store whose last byte is at r10", windows_xdp, {}, R"(
            r2 = 0
            *(u64 *)(r10 - 7) = r2
            r0 = 1
            exit)",
            rejected(1, "Upper bound must be at most r10")),
        row("stack: an unbounded offset", windows_xdp, {}, R"(
            r5 = *(u16 *)(r1 + 24)
            r2 = r10
            r2 += -64
            r2 += r5
            *(u8 *)(r2 + 0) = 0
            r0 = 1
            exit)",
            rejected(4, "Upper bound must be at most r10")),

        row("context: the first and the last field", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r2 = *(u32 *)(r1 + 24)
            r0 = 1
            exit)",
            accepted(4)),
        row("context: one byte past the end", windows_xdp, {}, R"(
            r2 = *(u8 *)(r1 + 32)
            r0 = 1
            exit)",
            rejected(0, "Upper bound must be at most the context size 32", "valid_access(r1.offset+32, width=1)")),
        row("context: one byte before the start", windows_xdp, {}, R"(
            r2 = *(u8 *)(r1 - 1)
            r0 = 1
            exit)",
            rejected(0, "Lower bound must be at least 0")),
        row("context: an unbounded offset", windows_xdp, {}, R"(
            r5 = *(u16 *)(r1 + 24)
            r1 += r5
            r2 = *(u8 *)(r1 + 0)
            r0 = 1
            exit)",
            rejected(2, "Upper bound must be at most the context size 32")),
        row("context: Linux xdp_md, the last field", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 20)
            r0 = 2
            exit)",
            accepted(3)),
        row("context: Linux xdp_md, a read one byte past the end", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 21)
            r0 = 2
            exit)",
            rejected(0, "Upper bound must be at most the context size 24", "valid_access(r1.offset+21, width=4)")),

        row("map value: first and last byte after a null check", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = *(u8 *)(r0 + 0)
            r1 = *(u64 *)(r0 + 8)
            *(u8 *)(r0 + 15) = 1
            lock *(u64 *)(r0 + 8) += r1
        out:
            r0 = 1
            exit)",
            accepted(12)),
        row("map value: one byte past the value", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = *(u8 *)(r0 + 16)
        out:
            r0 = 1
            exit)",
            rejected(7, "Upper bound must be at most the value size 16", "valid_access(r0.offset+16, width=1)")),
        row("map value: an atomic add one byte past the value", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = 1
            lock *(u64 *)(r0 + 9) += r1
        out:
            r0 = 1
            exit)",
            rejected(8, "Upper bound must be at most the value size 16", "valid_access(r0.offset+9, width=8)")),
        row("map value: one byte before the value", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = *(u8 *)(r0 - 1)
        out:
            r0 = 1
            exit)",
            rejected(7, "Lower bound must be at least 0")),
        row("map value: an unbounded offset", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = *(u16 *)(r0 + 0)
            r0 += r1
            r2 = *(u8 *)(r0 + 0)
        out:
            r0 = 1
            exit)",
            rejected(9, "Upper bound must be at most the value size 16")),
        row("map value: global data at an offset, the last eight bytes", windows_xdp, {rodata_map()}, R"(
            r1 = map_value_by_idx(0, 8) ll
            r2 = *(u64 *)(r1 + 0)
            r0 = 1
            exit)",
            accepted(4)),
        row("map value: global data at an offset, read past the value", windows_xdp, {rodata_map()}, R"(
            r1 = map_value_by_idx(0, 8) ll
            r2 = *(u64 *)(r1 + 1)
            r0 = 1
            exit)",
            rejected(2, "Upper bound must be at most the value size 16", "valid_access(r1.offset+1, width=8)")),

        row("allocated memory: the last byte of a ring buffer record", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            *(u64 *)(r0 + 0) = 0
            *(u8 *)(r0 + 15) = 0
            r1 = r0
            r2 = 0
            call 132
        out:
            r0 = 2
            exit)",
            accepted(12)),
        row("allocated memory: one byte past a ring buffer record", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            *(u8 *)(r0 + 16) = 0
            r1 = r0
            r2 = 0
            call 132
        out:
            r0 = 2
            exit)",
            rejected(6, "Upper bound must be at most the allocated size 16", "valid_access(r0.offset+16, width=1)")),
    });
}

TEST_CASE("verifier asm: initialization, null checks, context fields and read-only memory") {
    check_rows({
        row("a register never written", windows_xdp, {}, R"(
            r3 = 1
            r3 += r2
            r0 = 1
            exit)",
            rejected(1, "r2 is uninitialized", "r2.type != uninit")),
        row("a branch on a register never written", windows_xdp, {}, R"(
            r0 = 1
            if r4 == 0 goto out
        out:
            exit)",
            rejected(1, "r4 is uninitialized", "r4.type != uninit")),
        row("a caller-saved register read after a helper call", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            call 6
            r0 = *(u16 *)(r2 + 12)
        out:
            r0 = 1
            exit)",
            rejected(6, "r2 is uninitialized", "r2.type != uninit")),
        // A message built on the stack on two paths, of two lengths, printed by one call: the paths into the call
        // stay apart while its size argument holds different constants on them.
        row("a helper's size set with the bytes each path wrote", linux_kprobe, {}, R"(
            r3 = *(u64 *)(r1 + 0)
            r4 = 0
            if r3 == 0 goto short
            *(u64 *)(r10 - 16) = r4
            *(u64 *)(r10 - 8) = r4
            r2 = 16
            goto print
        short:
            *(u64 *)(r10 - 16) = r4
            r2 = 8
        print:
            r1 = r10
            r1 += -16
            call 6
            r0 = 0
            exit)",
            accepted(12)),
        // Cilium's counters: a field picked by an offset set to a constant on each path, added to the pointer in the
        // block where the paths join. Joined, the offset would be any number between, not the two aligned ones.
        row("an atomic add at an offset set on each path into the block", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            r4 = 0
            *(u64 *)(r10 - 32) = r4
            *(u64 *)(r10 - 24) = r4
            *(u64 *)(r10 - 16) = r4
            *(u64 *)(r10 - 8) = r4
            r7 = r10
            r7 += -32
            r1 = 8
            if r3 == 0 goto add
            r1 = 24
        add:
            r2 = r7
            r2 += r1
            r3 = 1
            lock *(u64 *)(r2 + 0) += r3
            r0 = 2
            exit)",
            accepted(17)),
        row("a helper's size set past the bytes one path wrote", linux_kprobe, {}, R"(
            r3 = *(u64 *)(r1 + 0)
            r4 = 0
            if r3 == 0 goto short
            *(u64 *)(r10 - 16) = r4
            *(u64 *)(r10 - 8) = r4
            r2 = 16
            goto print
        short:
            *(u64 *)(r10 - 16) = r4
            r2 = 12
        print:
            r1 = r10
            r1 += -16
            call 6
            r0 = 0
            exit)",
            rejected(11, "Stack content is not initialized", "initialized(r10-16, width=12)")),
        row("a stack read one byte short of initialized", windows_xdp, {}, R"(
            *(u32 *)(r10 - 16) = 0
            *(u16 *)(r10 - 12) = 0
            *(u8 *)(r10 - 10) = 0
            r2 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            rejected(3, "Stack content is not initialized", "initialized(r10-16, width=8)")),
        row("the same stack read with every byte written", windows_xdp, {}, R"(
            *(u32 *)(r10 - 16) = 0
            *(u16 *)(r10 - 12) = 0
            *(u8 *)(r10 - 10) = 0
            *(u8 *)(r10 - 9) = 0
            r2 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            accepted(7)),
        row("r0 never written before exit", linux_kprobe, {}, R"(
            exit)",
            rejected(0, "r0 is uninitialized", "r0.type != uninit")),
        row("a lookup result used without a null check", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            r1 = *(u64 *)(r0 + 0)
            r0 = 1
            exit)",
            rejected(6, "r0 may be null; compare it with 0 first", "r0 != null")),
        row("a lookup result used after a null check", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 != 0 goto found
            r0 = 1
            exit
        found:
            r1 = *(u64 *)(r0 + 0)
            r0 = 1
            exit)",
            accepted(9)),
        row("a number dereferenced", windows_xdp, {}, R"(
            r2 = 5
            r0 = *(u8 *)(r2 + 0)
            r0 = 1
            exit)",
            rejected(1, "r2 is not a pointer", "r2.type is pointer")),
        // The path on which r3 is a number fails; the analysis need not merge the two paths first.
        row("a register that is the context on one path and a number on the other", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            r3 = r1
            if r2 == 0 goto join
            r3 = 5
        join:
            r4 = *(u32 *)(r3 + 24)
            r0 = 1
            exit)",
            rejected(4, "r3 is not a pointer", "r3.type is pointer")),
        row("a spilled pointer read back whole", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = r1
            r1 = *(u64 *)(r10 - 8)
            r2 = *(u32 *)(r1 + 24)
            r0 = 1
            exit)",
            accepted(5)),
        row("half of a spilled pointer", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = r1
            r2 = *(u32 *)(r10 - 8)
            r0 = 1
            exit)",
            rejected(1, "Reads part of a spilled pointer", "r10-8 holds a pointer")),
        // The seven bytes left of the pointer are still part of it, however the slot is read back.
        row("a spilled pointer with one byte overwritten, read back whole", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = r1
            *(u8 *)(r10 - 8) = 0
            r5 = *(u64 *)(r10 - 8)
            r0 = 1
            exit)",
            rejected(2, "Reads part of a spilled pointer")),
        row("context bytes no field covers", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 28)
            r0 = 1
            exit)",
            rejected(0, "Context offset 28 width 4 is not a field of xdp", "ctx_field(28, 4)")),
        row("a context read across two fields", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 20)
            r0 = 1
            exit)",
            rejected(0, "Context offset 20 width 8 is not a field of xdp", "ctx_field(20, 8)")),
        row("Linux xdp_md: a 64-bit read of the 32-bit data field", linux_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r0 = 2
            exit)",
            rejected(0, "Context offset 0 width 8 is not a field of xdp", "ctx_field(0, 8)")),
        row("bind: a gap between two fields", windows_bind, {}, R"(
            r2 = *(u32 *)(r1 + 41)
            r0 = 0
            exit)",
            rejected(0, "Context offset 41 width 4 is not a field of bind", "ctx_field(41, 4)")),
        row("a store into a read-only context field", windows_xdp, {}, R"(
            r2 = 0
            *(u64 *)(r1 + 0) = r2
            r0 = 1
            exit)",
            rejected(1, "Context field data is read-only", "writable(ctx.data)")),
        row("bind: a store of numbers into the writable socket address", windows_bind, {}, R"(
            r2 = 7
            *(u64 *)(r1 + 24) = r2
            *(u64 *)(r1 + 32) = r2
            r0 = 2
            exit)",
            accepted(5)),
        row("bind: a store into the read-only operation field", windows_bind, {}, R"(
            r2 = 0
            *(u32 *)(r1 + 44) = r2
            r0 = 0
            exit)",
            rejected(1, "Context field operation is read-only", "writable(ctx.operation)")),
        // A frozen value holds what the object was loaded with: byte 6 of rodata_map() is 'a' (97), byte 3 is 'd'
        // (100), so a packet checked that long may be read that far; the same load from a writable value says nothing.
        row("a configuration constant from a read-only value bounds a packet access", windows_xdp, {rodata_map()},
            R"(
            r5 = map_value_by_idx(0, 0) ll
            r5 = *(u8 *)(r5 + 6)
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += r5
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 96)
        out:
            r0 = 1
            exit)",
            accepted(10)),
        row("a configuration constant from a read-only value: one byte too far", windows_xdp, {rodata_map()}, R"(
            r5 = map_value_by_idx(0, 0) ll
            r5 = *(u8 *)(r5 + 6)
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += r5
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 97)
        out:
            r0 = 1
            exit)",
            rejected(8, "Upper bound must be at most packet_size", "valid_access(r2.offset+97, width=1)")),
        row("a constant from a read-only value: little-endian, all eight bytes", windows_xdp, {rodata_map()}, R"(
            r5 = map_value_by_idx(0, 0) ll
            r5 = *(u64 *)(r5 + 2)
            r6 = 0x61616161000a6425 ll
            if r5 == r6 goto out
            r0 = *(u64 *)(r10 + 8)
        out:
            r0 = 1
            exit)",
            accepted(6)),
        row("a number from a writable value is not known", windows_xdp, {array_map()}, R"(
            r5 = map_value_by_idx(0, 0) ll
            r5 = *(u8 *)(r5 + 6)
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += r5
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 96)
        out:
            r0 = 1
            exit)",
            rejected(8, "Upper bound must be at most packet_size", "valid_access(r2.offset+96, width=1)")),
        row("a store into a read-only map value", windows_xdp, {rodata_map()}, R"(
            r1 = map_value_by_idx(0, 0) ll
            *(u64 *)(r1 + 0) = 0
            r0 = 1
            exit)",
            rejected(2, "Map value of rodata is read-only", "writable(rodata)")),
    });
}

// A pointer may reach only the stack; pointers compare only with pointers into the same region or with 0; only
// numbers are added to or subtracted from them.
TEST_CASE("verifier asm: pointers stored, compared and computed") {
    check_rows({
        // r8 is a map value on one path and a stack pointer on the other; five more branches leave r1-r5 set or not,
        // 64 shapes in all, more than the analysis keeps apart: it joins the states that differ least (a register
        // set on one path only) and keeps r8's two kinds apart, so the read through r8 is checked for each.
        row("a pointer of two kinds among more paths than the analysis keeps apart", linux_xdp, {array_map()}, R"(
            r6 = r1
            r1 = 0
            *(u32 *)(r10 - 4) = r1
            *(u64 *)(r10 - 16) = r1
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r9 = *(u32 *)(r6 + 12)
            r8 = r0
            if r9 != 0 goto choices
            r8 = r10
            r8 += -16
        choices:
            if r9 & 4 goto l1
            r1 = 0
        l1:
            if r9 & 8 goto l2
            r2 = 0
        l2:
            if r9 & 16 goto l3
            r3 = 0
        l3:
            if r9 & 32 goto l4
            r4 = 0
        l4:
            if r9 & 64 goto l5
            r5 = 0
        l5:
            r0 = *(u32 *)(r8 + 0)
            r0 = 2
            exit
        out:
            r0 = 2
            exit)",
            accepted(27)),
        row("a pointer stored into a map value", windows_xdp, {array_map()}, R"(
            r6 = r1
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            *(u64 *)(r0 + 0) = r6
        out:
            r0 = 1
            exit)",
            rejected(8, "Pointer stored outside the stack", "r6.type == number")),
        row("a pointer stored into the context", windows_bind, {}, R"(
            *(u64 *)(r1 + 24) = r1
            r0 = 0
            exit)",
            rejected(0, "Pointer stored outside the stack", "r1.type == number")),
        row("a pointer stored into the packet", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            *(u64 *)(r2 + 0) = r3
        out:
            r0 = 1
            exit)",
            rejected(5, "Pointer stored outside the stack", "r3.type == number")),
        row("pointers spilled to the stack", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            *(u64 *)(r10 - 8) = r1
            *(u64 *)(r10 - 16) = r2
            r0 = 1
            exit)",
            accepted(5)),
        row("a packet pointer compared with a stack pointer", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = r10
            if r2 > r3 goto out
        out:
            r0 = 1
            exit)",
            rejected(2, "Comparison of pointers to different regions", "r2.region == r3.region")),
        row("a pointer compared with a non-zero number in a register", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = 5
            if r2 == r3 goto out
        out:
            r0 = 1
            exit)",
            rejected(2, "Comparison of a pointer with a number", "r3 == 0")),
        row("a pointer compared with a non-zero immediate", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            if r2 > 5 goto out
        out:
            r0 = 1
            exit)",
            rejected(1, "Comparison of a pointer with a number")),
        row("packet pointers compared with each other and a pointer with 0", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            if r2 == 0 goto out
            if r2 >= r3 goto out
        out:
            r0 = 1
            exit)",
            accepted(6)),
        // Helpers copy what their memory arguments hold: a spilled pointer would leave through them.
        row("a spilled pointer handed to ringbuf_output", windows_xdp, {ringbuf_map()}, R"(
            *(u64 *)(r10 - 8) = r1
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            r3 = 8
            r4 = 0
            call 11
            r0 = 1
            exit)",
            rejected(7, "Reads part of a spilled pointer", "r10-8 holds a pointer")),
        row("a spilled pointer handed to map_update_elem as the value", windows_xdp, {hash_map()}, R"(
            *(u64 *)(r10 - 8) = 0
            *(u64 *)(r10 - 16) = r1
            r2 = r10
            r2 += -8
            r3 = r10
            r3 += -16
            r1 = map_by_idx(0) ll
            r4 = 0
            call 2
            r0 = 1
            exit)",
            rejected(9, "Reads part of a spilled pointer", "r10-16 holds a pointer")),
        row("packet pointers compared in 32 bits", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if w4 > w3 goto out
        out:
            r0 = 1
            exit)",
            rejected(4, "Invalid operation on a pointer", "r4.type == number")),
        row("a pointer multiplied", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r2 *= 2
            r0 = 1
            exit)",
            rejected(1, "Invalid operation on a pointer", "r2.type == number")),
        row("a pointer shifted", windows_xdp, {}, R"(
            r2 = r10
            r2 <<= 1
            r0 = 1
            exit)",
            rejected(1, "Invalid operation on a pointer", "r2.type == number")),
        row("32-bit arithmetic on a pointer", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            w2 += 1
            r0 = 1
            exit)",
            rejected(1, "Invalid operation on a pointer", "r2.type == number")),
        row("a pointer added to a pointer", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = r10
            r2 += r3
            r0 = 1
            exit)",
            rejected(2, "Only a number may be added to or subtracted from a pointer", "r3.type == number")),
        row("the packet's length as data_end - data", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r3
            r4 -= r2
            if r4 < 14 goto out
            r0 = *(u8 *)(r2 + 13)
        out:
            r0 = 1
            exit)",
            accepted(8)),
        // Cilium's `(int)(l4 - data)` as clang may emit it: the low half of a pointer moved first, then the other
        // subtracted from it in 32 bits. The distance is a number, and keeps its relation to the packet's size.
        row("the low halves of two packet pointers subtracted", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 4)
            r4 = r2
            r4 += 54
            if r4 > r3 goto out
            w8 = w4
            w8 -= w2
            r5 = r2
            r5 += r8
            r0 = *(u8 *)(r5 - 1)
        out:
            r0 = 2
            exit)",
            accepted(12)),
        row("the low half of a packet pointer used as a number", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            w8 = w2
            w8 += 1
            r0 = 2
            exit)",
            rejected(2,
                     "r8 holds the low 32 bits of a packet pointer, which only a 32-bit subtraction of another packet "
                     "pointer makes a number",
                     "r8.type != low half of a pointer")),
        row("the low half of a packet pointer returned", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            w0 = w2
            exit)",
            rejected(2,
                     "r0 holds the low 32 bits of a packet pointer, which only a 32-bit subtraction of another packet "
                     "pointer makes a number",
                     "r0.type != low half of a pointer")),
        row("the low half of a packet pointer minus a number", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            w8 = w2
            w3 = 7
            w8 -= w3
            r0 = 2
            exit)",
            rejected(3,
                     "r8 holds the low 32 bits of a packet pointer, which only a 32-bit subtraction of another packet "
                     "pointer makes a number",
                     "r8.type != low half of a pointer")),
        // A number on one path and a low half on the other: joined, the subtraction would give the number minus an
        // address.
        row("the low half of a packet pointer or a number, minus a packet pointer", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 12)
            w8 = 5
            if r3 == 0 goto sub
            w8 = w2
        sub:
            w8 -= w2
            r0 = 2
            exit)",
            rejected(5, "Invalid operation on a pointer", "r2.type == number")),
        row("the low half of a packet pointer from before xdp_adjust_head", linux_xdp, {}, R"(
            r6 = r1
            r2 = *(u32 *)(r1 + 0)
            w8 = w2
            r2 = 0
            call 44
            r2 = *(u32 *)(r6 + 0)
            w8 -= w2
            r0 = 2
            exit)",
            rejected(6, "Packet pointer used after a helper that moves the packet", "r8.type != stale packet")),
        row("a packet pointer used after xdp_adjust_head", windows_xdp, {}, R"(
            r6 = r1
            r7 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r7
            r4 += 14
            if r4 > r3 goto out
            r1 = r6
            r2 = 0
            call 65536
            r0 = *(u8 *)(r7 + 0)
        out:
            r0 = 1
            exit)",
            rejected(9, "Packet pointer used after a helper that moves the packet", "r7.type != stale packet")),
        row("packet pointers loaded again after xdp_adjust_head", windows_xdp, {}, R"(
            r6 = r1
            r2 = 0
            call 65536
            r2 = *(u64 *)(r6 + 0)
            r3 = *(u64 *)(r6 + 8)
            r4 = r2
            r4 += 1
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 0)
        out:
            r0 = 1
            exit)",
            accepted(11)),
    });
}

// Maps whose kind, sizes and rights are equal cannot be told apart by what a program may do with them: a register that
// holds one of them on each path (Cilium picks its connection-tracking map by protocol) stays a usable map when the
// paths join, and pointers into their values stay usable, as pointers into some object of either.
TEST_CASE("verifier asm: alike maps joined") {
    // r9's bits pick: three registers each a stack or a context pointer, eight shapes for each kind of r8, more than
    // the analysis keeps apart. Joining states whose registers point into different regions costs more than joining the
    // two kinds of r8, which is what the analysis does. The registers are spilled at the end: were they never read
    // again, the paths would differ in nothing.
    static constexpr std::string_view choices = R"(
            r1 = r10
            r2 = r10
            r3 = r10
            if r9 & 4 goto l1
            r1 = r6
        l1:
            if r9 & 8 goto l2
            r2 = r6
        l2:
            if r9 & 16 goto l3
            r3 = r6
        l3:
            *(u64 *)(r10 - 24) = r1
            *(u64 *)(r10 - 32) = r2
            *(u64 *)(r10 - 40) = r3)";
    auto program = [](std::string_view head, std::string_view tail) {
        static std::vector<std::string> texts; // the rows keep views of their text
        texts.push_back(std::string(head) + std::string(choices) + std::string(tail));
        return std::string_view(texts.back());
    };
    static constexpr std::string_view spilled_map = R"(
            r6 = r1
            r9 = *(u32 *)(r6 + 12)
            r8 = map_by_idx(0) ll
            if r9 != 0 goto chosen
            r8 = map_by_idx(1) ll
        chosen:
            *(u64 *)(r10 - 16) = r8)";
    static constexpr std::string_view lookup_spilled = R"(
            r1 = *(u64 *)(r10 - 16)
            r2 = 0
            *(u32 *)(r10 - 4) = r2
            r2 = r10
            r2 += -4
            call 1
            if r0 == 0 goto out
            r0 = *(u32 *)(r0 + 12)
        out:
            r0 = 2
            exit)";
    // r7 points into map 0's value, r8 into map 0's or map 1's.
    static constexpr std::string_view two_values = R"(
            r6 = r1
            r9 = *(u32 *)(r6 + 12)
            r1 = 0
            *(u32 *)(r10 - 4) = r1
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r7 = r0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(1) ll
            call 1
            if r0 == 0 goto out
            r8 = r0
            if r9 != 0 goto chosen
            r8 = r7
        chosen:)";
    const MapDescriptor other_values{"other", MapKind::array, 4, 16, 64, std::nullopt, false, {}};
    const MapDescriptor narrow_values{"narrow", MapKind::array, 4, 8, 4, std::nullopt, false, {}};
    const MapDescriptor global_a{".data", MapKind::array, 4, 16, 1, std::nullopt, false, {}};
    const MapDescriptor global_b{".data.b", MapKind::array, 4, 16, 1, std::nullopt, false, {}};
    check_rows({
        row("one of two alike maps (the number of entries may differ), spilled, among more paths than the analysis "
            "keeps apart",
            linux_xdp, {array_map(), other_values}, program(spilled_map, lookup_spilled), accepted(28)),
        // The same join loses a spilled map whose values differ in size: the analysis did join these paths.
        row("one of two maps whose values differ in size, spilled, among more paths than the analysis keeps apart",
            linux_xdp, {array_map(), narrow_values}, program(spilled_map, R"(
            r1 = *(u64 *)(r10 - 16)
            r0 = 2
            exit)"),
            rejected(20, "Stack content is not initialized", "initialized(r10-16, width=8)")),
        // Registers set on some paths and never read again keep no paths apart: the spilled map survives.
        row("one of two maps whose values differ in size, spilled, among paths that differ in dead registers only",
            linux_xdp, {array_map(), narrow_values}, R"(
            r6 = r1
            r9 = *(u32 *)(r6 + 12)
            r8 = map_by_idx(0) ll
            if r9 != 0 goto chosen
            r8 = map_by_idx(1) ll
        chosen:
            *(u64 *)(r10 - 16) = r8
            if r9 & 4 goto l1
            r1 = 0
        l1:
            if r9 & 8 goto l2
            r2 = 0
        l2:
            if r9 & 16 goto l3
            r3 = 0
        l3:
            if r9 & 32 goto l4
            r4 = 0
        l4:
            if r9 & 64 goto l5
            r5 = 0
        l5:
            r1 = *(u64 *)(r10 - 16)
            r0 = 2
            exit)",
            accepted(19)),
        row("a value of one of two alike maps: its bytes", linux_xdp, {array_map(), other_values},
            program(two_values, R"(
            r0 = *(u32 *)(r8 + 12)
            r0 = 2
            exit
        out:
            r0 = 2
            exit)"),
            accepted(33)),
        row("a value of one of two alike maps: no distance to a value of one", linux_xdp, {array_map(), other_values},
            program(two_values, R"(
            r8 -= r7
        out:
            r0 = 2
            exit)"),
            rejected_among(2, 32, "Subtraction of pointers to different objects", "r8.object == r7.object")),
        row("one of two alike global variables: no distance to one of them", linux_xdp, {global_a, global_b},
            program(R"(
            r6 = r1
            r9 = *(u32 *)(r1 + 12)
            r8 = map_value_by_idx(0, 0) ll
            if r9 != 0 goto chosen
            r8 = map_value_by_idx(1, 0) ll
        chosen:)",
                    R"(
            r7 = map_value_by_idx(0, 0) ll
            r8 -= r7
            r0 = 2
            exit)"),
            rejected_among(2, 21, "Subtraction of pointers to different objects", "r8.object == r7.object")),
    });
}

TEST_CASE("verifier asm: helper arguments and availability") {
    check_rows({
        row("a key buffer shorter than the map's key", windows_xdp, {hash_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            r0 = 1
            exit)",
            rejected(5, "Upper bound must be at most r10")),
        row("a key buffer of the key's size, half written", windows_xdp, {hash_map()}, R"(
            *(u32 *)(r10 - 8) = 0
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            call 1
            r0 = 1
            exit)",
            rejected(5, "Stack content is not initialized")),
        row("a key buffer of the key's size, written", windows_xdp, {hash_map()}, R"(
            *(u64 *)(r10 - 8) = 0
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            call 1
            r0 = 1
            exit)",
            accepted(7)),
        row("a lookup in a number rather than a map", windows_xdp, {}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = 0
            call 1
            r0 = 1
            exit)",
            rejected(4, "r1 must be a map", "r1.type == map")),
        row("ringbuf_output into an array map", windows_xdp, {array_map()}, R"(
            *(u64 *)(r10 - 8) = 0
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            r3 = 8
            r4 = 0
            call 11
            r0 = 1
            exit)",
            rejected(7, "Map values of kind array cannot be used with helper ringbuf_output")),
        row("ringbuf_output into a ring buffer", windows_xdp, {ringbuf_map()}, R"(
            *(u64 *)(r10 - 8) = 0
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            r3 = 8
            r4 = 0
            call 11
            r0 = 1
            exit)",
            accepted(9)),
        row("a tail call through a hash map", windows_xdp, {hash_map()}, R"(
            r2 = map_by_idx(0) ll
            r3 = 0
            call 5
            r0 = 1
            exit)",
            rejected(3, "r2 must be a program array", "r2.map.kind == prog_array")),
        row("a tail call through a program array", windows_xdp, {prog_array_map()}, R"(
            r2 = map_by_idx(0) ll
            r3 = 0
            call 5
            r0 = 1
            exit)",
            accepted(5)),
        row("a tail call handed a stack pointer for the context", windows_xdp, {prog_array_map()}, R"(
            r1 = r10
            r2 = map_by_idx(0) ll
            r3 = 0
            call 5
            r0 = 1
            exit)",
            rejected(4, "r1 must be the context pointer", "r1.type == ctx && r1.offset == 0")),
        row("get_netns_cookie of the context", linux_sock_addr, {}, R"(
            call 122
            r0 = 1
            exit)",
            accepted(3)),
        row("get_netns_cookie of null: the program's own namespace", linux_sock_addr, {}, R"(
            r1 = 0
            call 122
            r0 = 1
            exit)",
            accepted(4)),
        row("get_netns_cookie of a stack pointer", linux_sock_addr, {}, R"(
            r1 = r10
            call 122
            r0 = 1
            exit)",
            rejected(1, "r1 must be the context pointer or null", "r1.type in {ctx, null} && r1.offset == 0")),
        row("get_netns_cookie of a number other than 0", linux_sock_addr, {}, R"(
            r1 = 8
            call 122
            r0 = 1
            exit)",
            rejected(1, "r1 must be the context pointer or null", "r1.type in {ctx, null} && r1.offset == 0")),
        row("get_netns_cookie of the context moved", linux_sock_addr, {}, R"(
            r1 += 4
            call 122
            r0 = 1
            exit)",
            rejected(1, "r1 must be the context pointer or null", "r1.type in {ctx, null} && r1.offset == 0")),
        row("trace_printk with a size the program never bounds", windows_xdp, {}, R"(
            r5 = *(u32 *)(r1 + 24)
            if r5 == 0 goto out
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            r2 = r5
            call 12
        out:
            r0 = 1
            exit)",
            rejected(6, "Upper bound must be at most r10")),
        row("memset with a size the program never bounds", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            r1 = r10
            r1 += -16
            r3 = 0
            call 24
            r0 = 1
            exit)",
            rejected(4, "Upper bound must be at most r10")),
        row("memset of a stack buffer of the size given", windows_xdp, {}, R"(
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = 0
            call 24
            r2 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            accepted(8)),
        row("memset with a size bounded by a check", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            if r2 > 16 goto out
            r1 = r10
            r1 += -16
            r3 = 0
            call 24
        out:
            r0 = 1
            exit)",
            accepted(8)),
        row("memset with a negative size", windows_xdp, {}, R"(
            r1 = r10
            r1 += -16
            r2 = -1
            r3 = 0
            call 24
            r0 = 1
            exit)",
            rejected(4, "r2 must not be negative", "r2 >= 0")),
        row("trace_printk with size 0", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            r2 = 0
            call 12
            r0 = 1
            exit)",
            rejected(4, "r2 must be positive", "r2 > 0")),
        row("trace_printk with the buffer's size", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            r2 = 8
            call 12
            r0 = 1
            exit)",
            accepted(7)),
        row("ringbuf_reserve with a size the verifier cannot know", linux_xdp, {ringbuf_map()}, R"(
            r2 = *(u32 *)(r1 + 12)
            r1 = map_by_idx(0) ll
            r3 = 0
            call 131
            if r0 == 0 goto out
            r1 = r0
            r2 = 0
            call 133
        out:
            r0 = 2
            exit)",
            rejected(4, "r2 must be a known constant", "r2 is constant")),
        row("ringbuf_submit of stack memory", linux_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            r2 = 0
            call 132
            r0 = 2
            exit)",
            rejected(4, "r1 must be memory returned by an allocating helper", "r1.type == alloc")),
        row("bind: xdp_adjust_head belongs to xdp", windows_bind, {}, R"(
            r2 = 0
            call 65536
            r0 = 0
            exit)",
            rejected(1, "Helper 65536 is not available to program type bind")),
        row("xdp: xdp_adjust_head", windows_xdp, {}, R"(
            r2 = 0
            call 65536
            r0 = 1
            exit)",
            accepted(4)),
        // bpf_base_func_proto gives every type get_current_comm; probe_read is the tracing types' alone.
        row("Linux xdp: probe_read is for tracing programs", linux_xdp, {}, R"(
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = 0
            call 4
            r0 = 2
            exit)",
            rejected(4, "Helper 4 is not available to program type xdp")),
        // probe_read reads any address the program names (only trusted platforms offer it): a pointer is one.
        row("Linux kprobe: probe_read from an address inside the context", linux_kprobe, {}, R"(
            r3 = r1
            r3 += 8
            r1 = r10
            r1 += -16
            r2 = 16
            call 4
            r0 = 0
            exit)",
            accepted(8)),
        // A pointer the program holds is read as its memory is: written bytes, no spilled pointer, inside the region.
        row("Linux kprobe: probe_read from stack never written", linux_kprobe, {}, R"(
            r3 = r10
            r3 += -512
            r1 = r10
            r1 += -16
            r2 = 16
            call 4
            r0 = 0
            exit)",
            rejected(5, "Stack content is not initialized", "initialized(r10-512, width=16)")),
        row("Linux kprobe: probe_read from above the frame", linux_kprobe, {}, R"(
            r3 = r10
            r1 = r10
            r1 += -16
            r2 = 16
            call 4
            r0 = 0
            exit)",
            rejected(4, "Upper bound must be at most r10", "valid_access(r3.offset, width=r2)")),
        row("Linux kprobe: probe_read of a spilled pointer", linux_kprobe, {}, R"(
            *(u64 *)(r10 - 8) = r1
            r3 = r10
            r3 += -8
            r1 = r10
            r1 += -16
            r2 = 8
            call 4
            r0 = 0
            exit)",
            rejected(6, "Reads part of a spilled pointer", "r10-8 holds a pointer")),
        // A context with no pointer field holds none of the host's addresses: reading past it (a tracepoint's
        // __data_loc strings) is reading the host as from any address, which probe_read does.
        row("Linux kprobe: probe_read past a context of numbers", linux_kprobe, {}, R"(
            r3 = r1
            r3 += 160
            r1 = r10
            r1 += -16
            r2 = 16
            call 4
            r0 = 0
            exit)",
            accepted(8)),
        row("Linux kprobe: probe_read at a variable offset into a context of numbers", linux_kprobe, {}, R"(
            r3 = *(u64 *)(r1 + 8)
            r3 &= 0xffff
            r3 += r1
            r1 = r10
            r1 += -16
            r2 = 16
            call 4
            r0 = 0
            exit)",
            accepted(9)),
        row("Linux xdp: probe_read_kernel past a context that holds the packet's addresses", linux_xdp, {}, R"(
            r3 = r1
            r3 += 160
            r1 = r10
            r1 += -16
            r2 = 16
            call 113
            r0 = 0
            exit)",
            rejected(5, "r3 must point to number fields of the context, at a known offset and size",
                     "ctx_fields(r3, r2)")),
        row("Linux xdp: probe_read_kernel of the context's data field", linux_xdp, {}, R"(
            r3 = r1
            r1 = r10
            r1 += -16
            r2 = 8
            call 113
            r0 = 0
            exit)",
            rejected(4, "r3 must point to number fields of the context, at a known offset and size",
                     "ctx_fields(r3, r2)")),
        row("Linux kprobe: probe_read of written stack", linux_kprobe, {}, R"(
            r2 = 7
            *(u64 *)(r10 - 8) = r2
            r3 = r10
            r3 += -8
            r1 = r10
            r1 += -16
            r2 = 8
            call 4
            r0 = 0
            exit)",
            accepted(10)),
        row("Linux kprobe: a map is no address to probe_read", linux_kprobe, {array_map()}, R"(
            r3 = map_by_idx(0) ll
            r1 = r10
            r1 += -16
            r2 = 16
            call 4
            r0 = 0
            exit)",
            rejected(5, "r3 must be a number", "r3.type == number")),
        row("Linux xdp: a helper that reads no host memory takes no pointer for a number (tail_call's index)",
            linux_xdp, {prog_array_map()}, R"(
            r2 = map_by_idx(0) ll
            r3 = r10
            call 12
            r0 = 2
            exit)",
            rejected(3, "r3 must be a number", "r3.type == number")),
    });
}

// A loop passes when the analysis bounds its iterations; the instruction bound must then cover the worst run.
TEST_CASE("verifier asm: loops and termination") {
    check_rows({
        row("a loop on a value it never changes", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            r3 = 0
        loop:
            r3 += 1
            if r2 != 0 goto loop
            r0 = 1
            exit)",
            rejected(2, "Loop at 2 has no bound on its iterations", "iterations(2) < infinity")),
        row("a jump to itself", windows_xdp, {}, R"(
            r0 = 1
            goto -1
            exit)",
            rejected(1, "Loop at 1 has no bound on its iterations", "iterations(1) < infinity")),
        // 1 + 10 * 2 + 2 instructions.
        row("a counter from 0 to 10", windows_xdp, {}, R"(
            r2 = 0
        loop:
            r2 += 1
            if r2 < 10 goto loop
            r0 = 1
            exit)",
            accepted_loop(23)),
        // 1 + 1,000,000 * 2 + 2 instructions.
        row("a counter from 0 to 1,000,000", windows_xdp, {}, R"(
            r2 = 0
        loop:
            r2 += 1
            if r2 < 1000000 goto loop
            r0 = 1
            exit)",
            accepted_loop(2'000'003)),
        // A countdown: the loop's variable falls by one each time. 1 + 100 * 2 + 2 instructions.
        row("a countdown from 100 left on zero", windows_xdp, {}, R"(
            r5 = 100
        loop:
            r5 -= 1
            if r5 != 0 goto loop
            r0 = 1
            exit)",
            accepted_loop(203)),
        // clang's shapes of `for (uint32_t i = 0; i < 10; i++)`: the counter is zero-extended with two shifts, and
        // the loop is left on equality with a `goto` back. 1 + 9 * 3 + 2 + 2 instructions.
        row("a counter to 10 left on equality", windows_xdp, {}, R"(
            r2 = 0
        loop:
            r2 += 1
            if r2 == 10 goto out
            goto loop
        out:
            r0 = 1
            exit)",
            accepted_loop(32)),
        // 1 + 10 * 5 + 2 instructions.
        row("a counter zero-extended by shifts before its test", windows_xdp, {}, R"(
            r2 = 0
        loop:
            r2 += 1
            r5 = r2
            r5 <<= 32
            r5 >>= 32
            if r5 < 10 goto loop
            r0 = 1
            exit)",
            accepted_loop(53)),
        // 1 + 9 * 6 + 5 + 2 instructions.
        row("a zero-extended counter to 10 left on equality", windows_xdp, {}, R"(
            r2 = 0
        loop:
            r2 += 1
            r5 = r2
            r5 <<= 32
            r5 >>= 32
            if r5 == 10 goto out
            goto loop
        out:
            r0 = 1
            exit)",
            accepted_loop(62)),
        // 1 + 10 * (1 + 20 * 2 + 2) + 2 instructions.
        row("nested loops of 10 and 20 iterations", windows_xdp, {}, R"(
            r2 = 0
        outer:
            r3 = 0
        inner:
            r3 += 1
            if r3 < 20 goto inner
            r2 += 1
            if r2 < 10 goto outer
            r0 = 1
            exit)",
            accepted_loop(433)),
        // 32-bit counters: an add or subtract that cannot wrap keeps the counter's relation to the iterations.
        // 1 + 19 * 2 + 2 + 2 instructions.
        row("a 32-bit counter to 20 left on inequality", windows_xdp, {}, R"(
            w2 = 0
        loop:
            w2 += 1
            if w2 != 20 goto loop
            r0 = 1
            exit)",
            accepted_loop(43)),
        row("a 32-bit sum that grows by 3 or 7 until it passes 40", windows_xdp, {}, R"(
            w2 = 0
        loop:
            r3 = *(u32 *)(r1 + 24)
            w0 = 7
            if w3 == 0 goto add
            w0 = 3
        add:
            w0 += w2
            w2 = w0
            if w0 < 41 goto loop
            r0 = 1
            exit)",
            accepted_loop(96)),
        // w2 in [0xfffffff0, 0xffffffff] plus 16 wraps to [0, 15]: the path below 16 is taken, and checked.
        row("a 32-bit add that wraps is no 64-bit add", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            w2 |= -16
            w2 += 16
            if r2 >= 16 goto out
            r0 = *(u64 *)(r1 + 1000)
        out:
            r0 = 1
            exit)",
            rejected(4, "Upper bound must be at most the context size 32", "valid_access(r1.offset+1000, width=8)")),
        // [0, 15] - 16 wraps to [0xfffffff0, 0xffffffff]: the path at or above 16 is taken, and checked.
        row("a 32-bit subtraction below zero wraps", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            r2 &= 15
            w2 -= 16
            if r2 >= 16 goto out
            r0 = 1
            exit
        out:
            r0 = *(u64 *)(r1 + 1000)
            r0 = 1
            exit)",
            rejected(6, "Upper bound must be at most the context size 32", "valid_access(r1.offset+1000, width=8)")),
        row("r0 = 7 from xdp on Windows", windows_xdp, {}, R"(
            r0 = 7
            exit)",
            rejected(1, "r0 must be in [1, 3] at exit for xdp", "r0 in [1, 3]")),
        row("r0 = 0 from xdp on Windows", windows_xdp, {}, R"(
            r0 = 0
            exit)",
            rejected(1, "r0 must be in [1, 3] at exit for xdp", "r0 in [1, 3]")),
        row("r0 from the context, unchecked, from xdp on Windows", windows_xdp, {}, R"(
            r0 = *(u32 *)(r1 + 24)
            exit)",
            rejected(1, "r0 must be in [1, 3] at exit for xdp", "r0 in [1, 3]")),
        row("a pointer returned from xdp on Windows", windows_xdp, {}, R"(
            r0 = r10
            exit)",
            rejected(1, "r0 must be a number", "r0.type == number")),
        row("r0 out of range on one of two exits", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            if r2 == 0 goto other
            r0 = 1
            exit
        other:
            r0 = 5
            exit)",
            rejected(5, "r0 must be in [1, 3] at exit for xdp", "r0 in [1, 3]")),
        // eBPF defines division and modulo by 0 (the quotient is 0, the remainder the dividend): nothing to prove.
        row("division and modulo by a value that may be 0", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            r3 = 10
            r3 /= r2
            r3 %= r2
            r0 = 1
            exit)",
            accepted(6)),
        row("r0 = 3 from xdp on Windows", windows_xdp, {}, R"(
            r0 = 3
            exit)",
            accepted(2)),
        row("r0 = 3 from bind", windows_bind, {}, R"(
            r0 = 3
            exit)",
            rejected(1, "r0 must be in [0, 2] at exit for bind", "r0 in [0, 2]")),
        // Linux's XDP reads an unknown action as XDP_ABORTED: a warning, not a rejection (see the test below).
        row("r0 = 5 from xdp on Linux", linux_xdp, {}, R"(
            r0 = 5
            exit)",
            accepted(2)),
        row("r0 = 0 or 4 from xdp on Linux", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 12)
            r0 = 0
            if r2 == 0 goto out
            r0 = 4
        out:
            exit)",
            accepted(5)),
    });
}

TEST_CASE("verifier asm: a return value the hook reads as its fallback is a warning, not an error") {
    auto program = embpf::isa::assemble(R"(
        r0 = *(u32 *)(r1 + 12)
        exit)");
    REQUIRE(program.has_value());
    const platform::Platform& linux_platform = platform::linux();
    const verifier::ProgramInput input{"ifindex", "xdp", *program, {}, {}, {}};
    const verifier::Report report = verifier::verify(input, linux_platform, *linux_platform.program_type("xdp"));
    CHECK(report.verified);
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0].pc == 1);
    CHECK(report.warnings[0].message == "r0 may be outside [0, 4] at exit for xdp, which the hook reads as 0");
    CHECK(contains(report.text(verifier::Level::informational), "r0 may be outside [0, 4]"));

    // A type whose range is strict still refuses it.
    platform::ProgramType strict = *linux_platform.program_type("xdp");
    strict.out_of_range_return.reset();
    const verifier::Report refused = verifier::verify(input, linux_platform, strict);
    CHECK_FALSE(refused.verified);
    REQUIRE(refused.errors.size() == 1);
    CHECK(refused.errors[0].message == "r0 must be in [0, 4] at exit for xdp");
}

// Loads and stores into map memory, and probes of hashed maps, count platform::kFarAccessCost when the object's maps
// take 4 MiB and more together, however they are split: 62 maps of 4 MiB less 64 bytes each scatter reads as well as
// one large map would.
TEST_CASE("verifier asm: memory beyond the caches is judged by all the maps a program can reach") {
    auto program = embpf::isa::assemble(R"(
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        *(u64 *)(r10 - 16) = r1
        r2 = r10
        r2 += -4
        r1 = map_by_idx(0) ll
        call 1
        if r0 == 0 goto out
        r1 = *(u64 *)(r0 + 0)
        r2 = r10
        r2 += -16
        r1 = map_by_idx(1) ll
        call 1
    out:
        r0 = 2
        exit)");
    REQUIRE(program.has_value());
    const platform::Platform& linux_platform = platform::linux();
    const platform::ProgramType& xdp = *linux_platform.program_type("xdp");
    const std::uint32_t near = 3U << 20; // below 4 MiB with the small hash map, above with another like it
    auto cost = [&](std::vector<MapDescriptor> maps) {
        const verifier::Report report = verifier::verify({"reads", "xdp", *program, {}, {}, maps}, linux_platform, xdp);
        INFO(report.text());
        REQUIRE(report.verified);
        return *report.cost_bound;
    };
    const MapDescriptor values{"values", MapKind::array, 4, near, 1, std::nullopt, false, {}};
    const MapDescriptor table{"table", MapKind::hash, 8, 8, 16, std::nullopt, false, {}};
    const MapDescriptor other{"other", MapKind::array, 4, near, 1, std::nullopt, false, {}};
    const std::uint64_t alone = cost({values, table});
    // Together with another map just as large: the array lookup's element, the load through r0 and the hash lookup's
    // two probes count more.
    const std::uint64_t far = 4 * platform::kFarAccessCost;
    CHECK(cost({values, table, other}) == alone + far);
    // A map of maps counts an inner map per entry: 2 entries of a 512 KiB template make 1 MiB more.
    const MapDescriptor outer{"outer", MapKind::array_of_maps, 4, 4, 2, 3, false, {}};
    const MapDescriptor inner{"inner", MapKind::array, 4, 512U << 10, 1, std::nullopt, false, {}};
    CHECK(cost({values, table, outer, inner}) == alone + far);
    // Many small inner maps are as far as one large one: each is an object of its own (300,000 of 8 bytes).
    const MapDescriptor few_outer{"outer", MapKind::array_of_maps, 4, 4, 1000, 3, false, {}};
    const MapDescriptor many_outer{"outer", MapKind::array_of_maps, 4, 4, 300000, 3, false, {}};
    const MapDescriptor word{"inner", MapKind::array, 4, 8, 1, std::nullopt, false, {}};
    const MapDescriptor tiny_values{"values", MapKind::array, 4, 64, 1, std::nullopt, false, {}};
    CHECK(cost({tiny_values, table, many_outer, word}) == cost({tiny_values, table, few_outer, word}) + far);
    // A template flagged BPF_F_INNER_MAP takes inner maps of any size from the host: taken as far, however small.
    MapDescriptor any_inner{"inner", MapKind::array, 4, 8, 1, std::nullopt, false, {}};
    const MapDescriptor small_outer{"outer", MapKind::array_of_maps, 4, 4, 1, 3, false, {}};
    const MapDescriptor tiny{"values", MapKind::array, 4, 64, 1, std::nullopt, false, {}};
    const std::uint64_t small_maps = cost({tiny, table, small_outer, any_inner});
    any_inner.any_size = true;
    CHECK(cost({tiny, table, small_outer, any_inner}) == small_maps + far);
    // Small maps: no charge.
    const MapDescriptor small{"values", MapKind::array, 4, 64, 1, std::nullopt, false, {}};
    CHECK(cost({small, table}) == alone);
}

// The analysis inlines a subprogram at every call and keeps a state per block: a program whose inlined copies add up
// to more than 65,536 instructions is refused before they cost the host gigabytes.
// Helpers that work a byte at a time count each byte they may cover (platform::builtin_helper_byte_cost), not
// helper_call_cost's eighth: strnlen_s over 64 bytes of stack.
TEST_CASE("verifier asm: byte-at-a-time helpers count every byte") {
    auto program = embpf::isa::assemble(R"(
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        *(u64 *)(r10 - 16) = r1
        *(u64 *)(r10 - 24) = r1
        *(u64 *)(r10 - 32) = r1
        *(u64 *)(r10 - 40) = r1
        *(u64 *)(r10 - 48) = r1
        *(u64 *)(r10 - 56) = r1
        *(u64 *)(r10 - 64) = r1
        r1 = r10
        r1 += -64
        r2 = 64
        call 29
        r0 = 1
        exit)");
    REQUIRE(program.has_value());
    const platform::Platform& windows = platform::windows();
    const verifier::Report report =
        verifier::verify({"scan", "xdp", *program, {}, {}, {}}, windows, *windows.program_type("xdp"));
    INFO(report.text());
    REQUIRE(report.verified);
    const platform::HelperPrototype* strnlen = windows.helper(*windows.program_type("xdp"), 29);
    REQUIRE(strnlen != nullptr);
    CHECK(strnlen->name == "strnlen_s");
    CHECK(strnlen->cost_per_byte == 1);
    CHECK(report.instruction_bound == 15);
    CHECK(report.cost_bound == 15 + platform::helper_extra_cost(64, strnlen->cost, 1));
    CHECK(report.cost_bound == 15 + 8 + 64);
}

TEST_CASE("verifier asm: a program too large once its subprograms are inlined is refused") {
    auto build = [](int calls) {
        std::string text = "r0 = 0\n";
        for (int i = 0; i < calls; ++i) {
            text += "call sub\n";
        }
        text += "r0 = 1\nexit\nsub:\nr0 = 0\n";
        for (int i = 0; i < 2000; ++i) {
            text += "r0 += 1\n";
        }
        text += "exit\n";
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        return std::move(program).value();
    };
    const platform::Platform& windows = platform::windows();
    const platform::ProgramType& xdp = *windows.program_type("xdp");
    const auto small = build(30); // 30 * 2002 + 4 instructions
    const verifier::Report accepted = verifier::verify({"small", "xdp", small, {}, {}, {}}, windows, xdp);
    CHECK(accepted.verified);
    const auto large = build(40);
    const verifier::Report refused = verifier::verify({"large", "xdp", large, {}, {}, {}}, windows, xdp);
    CHECK_FALSE(refused.verified);
    REQUIRE_FALSE(refused.errors.empty());
    CHECK(refused.errors[0].message == "Program is too large to analyse");
    CHECK(contains(refused.errors[0].assertion, "<= 65536"));
}

// A stack written byte by byte makes hundreds of variables, and each block keeps states over all of them: the
// analysis refuses a program whose states outgrow Options::memory_limit instead of taking the host's memory.
// Stack bytes each holding a number related to r6 (`r3 = r6; r3 += k`), in the frames of a chain of calls: every
// frame's bytes stay related in the callee's state, so that three frames of 400 make a zone of some 1,200 variables,
// whose every copy and closure costs a square of it. Refused at the cap on related variables; two frames fit.
TEST_CASE("verifier asm: a zone may relate at most kMaxZoneVars variables") {
    const auto chain = [](int frames) {
        std::string text;
        for (int f = 0; f < frames; ++f) {
            text += f == 0 ? "r6 = *(u32 *)(r1 + 24)\n" : "f" + std::to_string(f) + ":\nr6 = r1\n";
            for (int i = 1; i <= 200; ++i) {
                text += "r3 = r6\nr3 += " + std::to_string(i) + "\n*(u8 *)(r10 - " + std::to_string(i) + ") = r3\n";
            }
            text += f + 1 < frames ? "r1 = r6\ncall f" + std::to_string(f + 1) + "\n" : "";
            text += "r0 = 1\nexit\n";
        }
        return text;
    };
    const platform::Platform& windows = platform::windows();
    const platform::ProgramType& xdp = *windows.program_type("xdp");
    auto two = embpf::isa::assemble(chain(2));
    REQUIRE(two.has_value());
    const verifier::Report fits = verifier::verify({"two", "xdp", *two, {}, {}, {}}, windows, xdp);
    CHECK(fits.verified);
    auto three = embpf::isa::assemble(chain(3));
    REQUIRE(three.has_value());
    const verifier::Report refused = verifier::verify({"three", "xdp", *three, {}, {}, {}}, windows, xdp);
    CHECK_FALSE(refused.verified);
    REQUIRE(refused.errors.size() == 1);
    CHECK(refused.errors[0].message == "Program is too large to analyse");
    CHECK(refused.errors[0].assertion == "related variables <= 512");
    // The cap holds for each analysis: the one after it starts afresh.
    CHECK(verifier::verify({"two", "xdp", *two, {}, {}, {}}, windows, xdp).verified);
}

TEST_CASE("verifier asm: a program whose states outgrow the memory limit is refused") {
    std::string text = "r1 = *(u32 *)(r1 + 24)\n";
    for (int i = 1; i <= 128; ++i) {
        text += "*(u8 *)(r10 - " + std::to_string(i) + ") = 1\n";
    }
    for (int i = 0; i < 200; ++i) {
        text += "if r1 == " + std::to_string(i) + " goto +0\n";
    }
    text += "r0 = 1\nexit\n";
    auto program = embpf::isa::assemble(text);
    REQUIRE(program.has_value());
    const platform::Platform& windows = platform::windows();
    const platform::ProgramType& xdp = *windows.program_type("xdp");
    const verifier::ProgramInput input{"bytes", "xdp", *program, {}, {}, {}};
    const verifier::Report fits = verifier::verify(input, windows, xdp);
    CHECK(fits.verified);
    const verifier::Report refused = verifier::verify(input, windows, xdp, {.memory_limit = 8 << 20});
    CHECK_FALSE(refused.verified);
    REQUIRE(refused.errors.size() == 1);
    CHECK(refused.errors[0].message == "Program is too large to analyse");
    CHECK(refused.errors[0].assertion == "analysis states <= 8388608 bytes");

    // And the work: the same program with 128 related stack bytes costs the analysis in proportion to their square.
    REQUIRE(fits.analysis_work > 0);
    const verifier::Report unlimited = verifier::verify(input, windows, xdp, {.work_limit = 0});
    CHECK(unlimited.verified);
    CHECK(unlimited.analysis_work == fits.analysis_work); // the count is the same every time
    const std::uint64_t half = fits.analysis_work / 2;
    const verifier::Report stopped = verifier::verify(input, windows, xdp, {.work_limit = half});
    CHECK_FALSE(stopped.verified);
    REQUIRE(stopped.errors.size() == 1);
    CHECK(stopped.errors[0].message == "Program is too complex to analyse");
    CHECK(stopped.errors[0].assertion == "analysis work <= " + std::to_string(half));
    CHECK(stopped.analysis_work > half);
    CHECK(stopped.analysis_work < fits.analysis_work);
}

// Sixty spilled pointers make each block's state hold a matrix of some 64 x 64 bounds, and a chain of `goto +0` makes
// a block of each instruction. The memory limit counts what the states really take (the matrices' spare room, the
// descending step's second set of states beside the first): 4,000 such blocks once fitted a count of 120 MB while
// taking 800 MB, and 6,000 of them in each of 13 programs kept a load for 13 s.
TEST_CASE("verifier asm: the memory limit counts the states as they are kept") {
    auto build = [](int blocks) {
        std::string text = "r6 = r1\n";
        for (int i = 1; i <= 60; ++i) {
            text += "*(u64 *)(r10 - " + std::to_string(8 * i) + ") = " + (i % 2 != 0 ? "r10\n" : "r6\n");
        }
        for (int i = 0; i < blocks; ++i) {
            text += "goto +0\n";
        }
        text += "r0 = 1\nexit\n";
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        return std::move(program).value();
    };
    const platform::Platform& windows = platform::windows();
    const platform::ProgramType& xdp = *windows.program_type("xdp");
    const verifier::Report fits = verifier::verify({"fits", "xdp", build(1000), {}, {}, {}}, windows, xdp);
    CHECK(fits.verified);
    const verifier::Report refused = verifier::verify({"large", "xdp", build(4000), {}, {}, {}}, windows, xdp);
    CHECK_FALSE(refused.verified);
    REQUIRE(refused.errors.size() == 1);
    CHECK(refused.errors[0].message == "Program is too large to analyse");
    CHECK(refused.errors[0].assertion == "analysis states <= 268435456 bytes");
}

// Loops whose back edges never run (r2 is 0): nested, and in a row. What the analysis does per block and edge climbs
// the loops around it, and the blocks of all loop bodies are listed once per loop around them: 16,000 nested loops took
// 2.4 GB before a refusal, 32,000 loops in a row 11 s (each loop walked every block of the program).
TEST_CASE("verifier asm: loops nest at most 32 deep, and many loops in a row cost each its own blocks") {
    auto nested = [](int depth) {
        std::string text = "r0 = 1\nr2 = 0\n";
        for (int i = 0; i < depth; ++i) {
            text += "h" + std::to_string(i) + ":\nr3 = 1\n";
        }
        for (int i = depth - 1; i >= 0; --i) {
            text += "if r2 != 0 goto h" + std::to_string(i) + "\n";
        }
        text += "exit\n";
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        return std::move(program).value();
    };
    const platform::Platform& windows = platform::windows();
    const platform::ProgramType& xdp = *windows.program_type("xdp");
    const auto deep = nested(32);
    const verifier::Report fits = verifier::verify({"deep", "xdp", deep, {}, {}, {}}, windows, xdp);
    CHECK(fits.verified);
    CHECK(fits.instruction_bound == 2 + 32 + 32 + 1);
    const auto deeper = nested(33);
    const verifier::Report refused = verifier::verify({"deeper", "xdp", deeper, {}, {}, {}}, windows, xdp);
    CHECK_FALSE(refused.verified);
    REQUIRE(refused.errors.size() == 1);
    CHECK(refused.errors[0].message == "Program is too large to analyse");
    CHECK(refused.errors[0].assertion == "loops nest <= 32 deep");

    std::string text = "r0 = 1\nr2 = 0\n";
    for (int i = 0; i < 3000; ++i) {
        text += "h" + std::to_string(i) + ":\nr3 = 1\nif r2 != 0 goto h" + std::to_string(i) + "\n";
    }
    text += "exit\n";
    auto row = embpf::isa::assemble(text);
    REQUIRE(row.has_value());
    const verifier::Report chain = verifier::verify({"row", "xdp", *row, {}, {}, {}}, windows, xdp);
    CHECK(chain.verified);
    CHECK(chain.instruction_bound == 2 + 3000 * 2 + 1); // no back edge runs
}

// A subprogram's blocks are found once, among the instructions a path reaches: a subprogram called many times with
// a long tail no path reaches once cost its whole length per call (20,000 calls of 1,000,000 dead instructions, 25 s).
TEST_CASE("verifier asm: a subprogram's unreachable instructions cost nothing per call") {
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text += "call sub\n";
    }
    text += "r0 = 1\nexit\nsub:\nr0 = 0\nexit\n";
    for (int i = 0; i < 10000; ++i) {
        text += "r0 = 1\n";
    }
    text += "exit\n";
    auto program = embpf::isa::assemble(text);
    REQUIRE(program.has_value());
    const platform::Platform& windows = platform::windows();
    const verifier::Report report =
        verifier::verify({"calls", "xdp", *program, {}, {}, {}}, windows, *windows.program_type("xdp"));
    CHECK(report.verified);
    CHECK(report.analysed_instructions == 102 + 100 * 2);
    CHECK(report.instruction_bound == 102 + 100 * 2);
}

// A program may fail at every instruction, and each failure names its source line, which BTF may make megabytes
// long: a report keeps 1,000 errors and 1 KiB of each line (600 errors of one 1 MB line took 1.8 GB and 11 s).
TEST_CASE("verifier asm: a report keeps a thousand errors and a kilobyte of each source line") {
    std::string text = "r2 = *(u32 *)(r1 + 0)\n"; // an error too: no 4-byte field at 0 (1,501 in all)
    for (int i = 0; i < 1500; ++i) {
        text += "if r2 != " + std::to_string(i) + " goto +1\nr0 = *(u64 *)(r1 + 1000)\n";
    }
    text += "r0 = 1\nexit\n";
    auto program = embpf::isa::assemble(text);
    REQUIRE(program.has_value());
    std::vector<embpf::btf::LineInfo> lines(1);
    lines[0].insn = 0;
    lines[0].line = 7;
    lines[0].file = "plugin.c";
    lines[0].source = std::string(100000, 'x');
    const platform::Platform& windows = platform::windows();
    const verifier::Report report =
        verifier::verify({"errors", "xdp", *program, {}, lines, {}}, windows, *windows.program_type("xdp"));
    CHECK_FALSE(report.verified);
    REQUIRE(report.errors.size() == 1001);
    CHECK(report.errors.back().message == "And 501 more");
    for (const verifier::Diagnostic& d : report.errors) {
        REQUIRE(d.source.has_value());
        CHECK(d.source->line == 7);
        CHECK(d.source->file == "plugin.c");
        CHECK(d.source->source == std::string(1024, 'x') + "...");
    }
}

// LD_ABS/LD_IND read the packet of the context in r6 and may end the program with r0 = 0.
TEST_CASE("verifier asm: legacy packet loads") {
    check_rows({
        row("LD_ABS, then LD_IND through its result", linux_socket, {}, R"(
            r6 = r1
            r0 = *(u16 *)skb[12]
            r7 = r0
            r0 = *(u8 *)skb[r7 + 14]
            exit)",
            accepted(5)),
        row("r1-r5 do not survive a legacy packet load", linux_socket, {}, R"(
            r6 = r1
            r2 = 1
            r0 = *(u8 *)skb[0]
            r0 = r2
            exit)",
            rejected(3, "r2 is uninitialized", "r2.type != uninit")),
        row("without the context in r6", linux_socket, {}, R"(
            r0 = *(u8 *)skb[0]
            exit)",
            rejected(0, "r6 is uninitialized", "r6.type != uninit")),
        row("with the stack pointer in r6", linux_socket, {}, R"(
            r6 = r10
            r0 = *(u8 *)skb[0]
            exit)",
            rejected(1, "r6 must be the context pointer for a legacy packet load", "r6.type == ctx && r6.offset == 0")),
        row("with r6 past the start of the context", linux_socket, {}, R"(
            r6 = r1
            r6 += 4
            r0 = *(u8 *)skb[0]
            exit)",
            rejected(2, "r6 must be the context pointer for a legacy packet load", "r6.type == ctx && r6.offset == 0")),
        row("LD_IND through a pointer", linux_socket, {}, R"(
            r6 = r1
            r2 = r10
            r0 = *(u8 *)skb[r2]
            exit)",
            rejected(2, "r2 must be a number", "r2.type == number")),
        row("in a type without a data range", linux_kprobe, {}, R"(
            r6 = r1
            r0 = *(u8 *)skb[0]
            exit)",
            rejected(1, "Legacy packet loads (LD_ABS/LD_IND) need a program type with a data range; kprobe has none")),
        row("while a ring buffer record is open", linux_socket, {ringbuf_map()}, R"(
            r6 = r1
            r1 = map_by_idx(0) ll
            r2 = 8
            r3 = 0
            call 131
            if r0 == 0 goto out
            r7 = r0
            r0 = *(u8 *)skb[0]
            r1 = r7
            r2 = 0
            call 132
        out:
            r0 = 0
            exit)",
            rejected(8, "A legacy packet load may end the program while a ring buffer record is open",
                     "open_records == 0")),
        row("where the hook does not accept r0 = 0", windows_xdp, {}, R"(
            r6 = r1
            r0 = *(u8 *)skb[0]
            r0 = 1
            exit)",
            rejected(1, "A legacy packet load may end the program with r0 = 0, outside [1, 3] for xdp")),
    });
}

// Shapes clang emits for packet parsing, which a verifier must follow to be of use.
TEST_CASE("verifier asm: clang's packet patterns") {
    check_rows({
        row("the 32-bit length form bounds the packet", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r1 = *(u32 *)(r1 + 0)
            w2 -= w1
            if w2 < 8 goto out
            r0 = *(u64 *)(r1 + 0)
            r0 = 2
            exit
        out:
            r0 = 1
            exit)",
            accepted(7)),
        row("the 32-bit length form, and a read past it", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r1 = *(u32 *)(r1 + 0)
            w2 -= w1
            if w2 < 8 goto out
            r0 = *(u64 *)(r1 + 1)
            r0 = 2
            exit
        out:
            r0 = 1
            exit)",
            rejected(4, "Upper bound must be at most packet_size", "valid_access(r1.offset+1, width=8)")),
        row("the 32-bit distance between two packet pointers", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r1 = *(u32 *)(r1 + 0)
            r4 = r1
            r4 += 14
            if r4 > r2 goto out
            w4 -= w1
            r0 = r4
            if r0 != 14 goto out
            r0 = 2
            exit
        out:
            r0 = 1
            exit)",
            accepted(10)),
        // Cilium's inlined copies: the bounds check sets a flag (0 or -22), a later branch on the flag guards the
        // read. The paths into that branch stay apart while the flag holds different constants on them.
        row("a packet check carried by a flag", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r1 = *(u32 *)(r1 + 0)
            r4 = r1
            r1 += 4
            if r1 > r2 goto fail
            r3 = 0
            goto check
        fail:
            r3 = -22
        check:
            if w3 != 0 goto out
            r0 = *(u32 *)(r4 + 0)
        out:
            r0 = 2
            exit)",
            accepted(11)),
        row("a packet check carried by a flag, and a read past what it checked", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r1 = *(u32 *)(r1 + 0)
            r4 = r1
            r1 += 4
            if r1 > r2 goto fail
            r3 = 0
            goto check
        fail:
            r3 = -22
        check:
            if w3 != 0 goto out
            r0 = *(u64 *)(r4 + 0)
        out:
            r0 = 2
            exit)",
            rejected(9, "Upper bound must be at most packet_size", "valid_access(r4.offset, width=8)")),
        // The flag reaches its test through a copy and shifts (clang's sign extension of an int result).
        row("a packet check carried by a flag, shifted and copied before its test", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r1 = *(u32 *)(r1 + 0)
            r4 = r1
            r1 += 4
            if r1 > r2 goto fail
            r3 = 0
            goto check
        fail:
            r3 = -22
        check:
            r3 <<= 32
            r5 = r3
            r5 >>= 32
            if r5 != 0 goto out
            r0 = *(u32 *)(r4 + 0)
        out:
            r0 = 2
            exit)",
            accepted(14)),
        // Anything else written to the tested register in between breaks the chain: the paths join.
        row("a flag replaced by a load before its test", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 4)
            r6 = *(u32 *)(r1 + 0)
            r4 = r6
            r6 += 4
            if r6 > r2 goto fail
            r3 = 0
            goto check
        fail:
            r3 = -22
        check:
            r3 = *(u32 *)(r1 + 12)
            if w3 != 0 goto out
            r0 = *(u32 *)(r4 + 0)
        out:
            r0 = 2
            exit)",
            rejected(10, "Upper bound must be at most packet_size", "valid_access(r4.offset, width=4)")),
        row("a 32-bit comparison of constants is decided by their low 32 bits", linux_xdp, {}, R"(
            r3 = -22
            if w3 == 0 goto never
            r0 = 2
            exit
        never:
            r0 = *(u64 *)(r10 - 8)
            exit)",
            accepted(4)),
        row("a 32-bit comparison of constants whose low 32 bits are equal", linux_xdp, {}, R"(
            r3 = 0x100000000 ll
            if w3 == 0 goto taken
            r0 = 2
            exit
        taken:
            r0 = *(u64 *)(r10 - 8)
            exit)",
            rejected(5, "Stack content is not initialized", "initialized(r10-8, width=8)")),
        // Ranges inside one 2^32 window: their low 32 bits are the value minus the window's start (read as signed,
        // the window starts 2^31 lower), so a 32-bit comparison decides as the 64-bit one of the shifted values.
        row("a 32-bit signed comparison of negative flags held zero-extended", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            r3 &= 15
            r4 = 0xFFFFFF60 ll
            r3 += r4
            if w3 s< 0 goto out
            r0 = *(u64 *)(r10 - 8)
        out:
            r0 = 2
            exit)",
            accepted(7)),
        row("a 32-bit signed comparison of a range across the sign of its low half", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            r3 &= 31
            r4 = 0x7FFFFFF0 ll
            r3 += r4
            if w3 s< 0 goto out
            r0 = *(u64 *)(r10 - 8)
        out:
            r0 = 2
            exit)",
            rejected(6, "Stack content is not initialized", "initialized(r10-8, width=8)")),
        row("a 32-bit comparison of a range above 2^32", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            r3 &= 15
            r4 = 0x100000000 ll
            r3 += r4
            if w3 < 16 goto out
            r0 = *(u64 *)(r10 - 8)
        out:
            r4 = 0x100000005 ll
            if w3 != 5 goto done
            if r3 == r4 goto done
            r0 = *(u64 *)(r10 - 8)
        done:
            r0 = 2
            exit)",
            accepted(10)),
        row("a 32-bit comparison of a range across 2^32", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            r3 &= 31
            r4 = 0xFFFFFFF0 ll
            r3 += r4
            if w3 < 16 goto out
            r0 = *(u64 *)(r10 - 8)
        out:
            r0 = 2
            exit)",
            rejected(6, "Stack content is not initialized", "initialized(r10-8, width=8)")),
        // Across windows, against a constant: the values whose low half is on the relation's side, window by window.
        row("a zero-extended number not negative as a signed 32-bit number is below 2^31", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            if w3 s> -1 goto positive
            r0 = 2
            exit
        positive:
            if r3 > 0x7FFFFFFF goto never
            r0 = 2
            exit
        never:
            r0 = *(u64 *)(r10 - 8)
            exit)",
            accepted(5)),
        row("a zero-extended number below 5 as a signed 32-bit number may be large", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            if w3 s< 5 goto small
            r0 = 2
            exit
        small:
            if r3 < 5 goto out
            r0 = *(u64 *)(r10 - 8)
        out:
            r0 = 2
            exit)",
            rejected(5, "Stack content is not initialized", "initialized(r10-8, width=8)")),
        row("no 32-bit number is below the least one", linux_xdp, {}, R"(
            r3 = *(u32 *)(r1 + 12)
            r4 = 0x300000000 ll
            r3 += r4
            if w3 s< -2147483648 goto never
            r0 = 2
            exit
        never:
            r0 = *(u64 *)(r10 - 8)
            exit)",
            accepted(6)),
        row("check data+34, then read at offsets below 34", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 34
            if r4 > r3 goto out
            r0 = *(u16 *)(r2 + 12)
            r0 = *(u8 *)(r2 + 23)
            r0 = *(u32 *)(r2 + 26)
            r0 = *(u32 *)(r2 + 30)
        out:
            r0 = 1
            exit)",
            accepted(11)),
        // 4 + 64 * 9 + 2 instructions.
        row("a loop over the packet's bytes, checked each iteration", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = 0
            r5 = 0
        loop:
            r6 = r2
            r6 += r5
            r7 = r6
            r7 += 1
            if r7 > r3 goto done
            r7 = *(u8 *)(r6 + 0)
            r4 += r7
            r5 += 1
            if r5 < 64 goto loop
        done:
            r0 = 1
            exit)",
            accepted_loop(582)),
        row("a loop over the packet's bytes reading one past its check", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = 0
            r5 = 0
        loop:
            r6 = r2
            r6 += r5
            r7 = r6
            r7 += 1
            if r7 > r3 goto done
            r7 = *(u8 *)(r6 + 1)
            r4 += r7
            r5 += 1
            if r5 < 64 goto loop
        done:
            r0 = 1
            exit)",
            rejected(9, "Upper bound must be at most packet_size", "valid_access(r6.offset+1, width=1)")),
        row("the header after IPv4 options: IHL * 4, checked", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 34
            if r4 > r3 goto out
            r5 = *(u8 *)(r2 + 14)
            r5 &= 15
            r5 <<= 2
            r4 = r2
            r4 += 14
            r4 += r5
            r6 = r4
            r6 += 8
            if r6 > r3 goto out
            r0 = *(u16 *)(r4 + 2)
            r0 = *(u16 *)(r4 + 6)
        out:
            r0 = 1
            exit)",
            accepted(18)),
        row("the header after IPv4 options read past its check", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 34
            if r4 > r3 goto out
            r5 = *(u8 *)(r2 + 14)
            r5 &= 15
            r5 <<= 2
            r4 = r2
            r4 += 14
            r4 += r5
            r6 = r4
            r6 += 8
            if r6 > r3 goto out
            r0 = *(u16 *)(r4 + 2)
            r0 = *(u16 *)(r4 + 7)
        out:
            r0 = 1
            exit)",
            rejected(15, "Upper bound must be at most packet_size", "valid_access(r4.offset+7, width=2)")),
        row("a checked packet pointer spilled across a helper call and filled", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            *(u64 *)(r10 - 8) = r2
            call 6
            r5 = *(u64 *)(r10 - 8)
            r0 = *(u16 *)(r5 + 12)
        out:
            r0 = 1
            exit)",
            accepted(11)),
        row("a spilled packet pointer filled and read past its check", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            *(u64 *)(r10 - 8) = r2
            call 6
            r5 = *(u64 *)(r10 - 8)
            r0 = *(u16 *)(r5 + 13)
        out:
            r0 = 1
            exit)",
            rejected(8, "Upper bound must be at most packet_size", "valid_access(r5.offset+13, width=2)")),
    });
}

// Subprograms share the caller's view of its stack through pointers; a call chain is at most eight frames deep.
TEST_CASE("verifier asm: calls to subprograms") {
    check_rows({
        row("a subprogram incrementing the caller's stack slot", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            call increment
            r2 = *(u64 *)(r10 - 8)
            r0 = 1
            exit
        increment:
            r2 = *(u64 *)(r1 + 0)
            r2 += 1
            *(u64 *)(r1 + 0) = r2
            r0 = 0
            exit)",
            accepted(12)),
        row("a subprogram reading past the caller's slot", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            call increment
            r0 = 1
            exit
        increment:
            r2 = *(u64 *)(r1 + 8)
            r0 = 0
            exit)",
            rejected(6, "Upper bound must be at most r10")),
        // The entry and seven subprograms: eight frames, two instructions each.
        row("a chain of eight frames", windows_xdp, {}, R"(
            call f1
            exit
        f1: call f2
            exit
        f2: call f3
            exit
        f3: call f4
            exit
        f4: call f5
            exit
        f5: call f6
            exit
        f6: call f7
            exit
        f7: r0 = 1
            exit)",
            accepted(16)),
        // The call in f7, at pc 14, would open the ninth frame.
        row("a chain of nine frames", windows_xdp, {}, R"(
            call f1
            exit
        f1: call f2
            exit
        f2: call f3
            exit
        f3: call f4
            exit
        f4: call f5
            exit
        f5: call f6
            exit
        f6: call f7
            exit
        f7: call f8
            exit
        f8: r0 = 1
            exit)",
            rejected(14, "Call depth exceeds 8", "depth <= 8")),
    });
}

// bpf_loop and for_each_map_elem: the helper call heads a loop through its callback, which runs in a frame of its
// own with the helper's arguments; the helper bounds the iterations.
TEST_CASE("verifier asm: callbacks") {
    MapDescriptor ring = ringbuf_map();
    MapDescriptor any_size_inner = array_map();
    any_size_inner.any_size = true;
    MapDescriptor big_keys = hash_map();
    big_keys.key_size = 257;
    check_rows({
        // 10 calls of 3 instructions (the helper call and the callback's two), the 4 before and the 2 after.
        row("bpf_loop with a callback", linux_xdp, {}, R"(
            r1 = 10
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            accepted_loop(37)),
        // The index stays below nr_loops: a 16-byte array on the caller's stack indexed by it, 8 bytes a step.
        row("the index of a callback bounded by nr_loops", linux_xdp, {}, R"(
            *(u64 *)(r10 - 16) = 0
            *(u64 *)(r10 - 8) = 0
            r1 = 2
            r2 = code(callback) ll
            r3 = r10
            r3 += -16
            r4 = 0
            call 181
            r1 = *(u64 *)(r10 - 8)
            r0 = 2
            exit
        callback:
            r1 <<= 3
            r2 += r1
            r3 = *(u64 *)(r2 + 0)
            r3 += 1
            *(u64 *)(r2 + 0) = r3
            r0 = 0
            exit)",
            accepted_loop(2 * 8 + 11)),
        row("an index one past the caller's array", linux_xdp, {}, R"(
            *(u64 *)(r10 - 16) = 0
            *(u64 *)(r10 - 8) = 0
            r1 = 3
            r2 = code(callback) ll
            r3 = r10
            r3 += -16
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r1 <<= 3
            r2 += r1
            r3 = *(u64 *)(r2 + 0)
            r0 = 0
            exit)",
            rejected(13, "Upper bound must be at most r10", "valid_access(r2.offset, width=8)")),
        // nr_loops unknown: at most 2^23 calls.
        row("bpf_loop with any nr_loops", linux_xdp, {}, R"(
            call 7
            r1 = r0
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = 1
            exit)",
            accepted_loop(3 * (std::uint64_t{1} << 23))),
        // The calls and the result would tell the pointer's low 32 bits.
        row("bpf_loop with a pointer for nr_loops", linux_xdp, {}, R"(
            r1 = r10
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            rejected(5, "r1 must be a number", "r1.type == number")),
        // Inner maps flagged BPF_F_INNER_MAP may hold more elements than their template: no bound on the calls.
        row("for_each_map_elem over an inner map of any size", linux_xdp, {outer_map(1), any_size_inner}, R"(
            r1 = map_by_idx(0) ll
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            call 1
            if r0 == 0 goto out
            r1 = r0
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
        out:
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            rejected(12,
                     "Helper for_each_map_elem walks maps of a known size; inner maps of values may have any "
                     "(BPF_F_INNER_MAP)",
                     "!values.any_size")),
        row("a callback returning 2", linux_xdp, {}, R"(
            r1 = 4
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = 2
            exit)",
            rejected(9, "A callback must return 0 or 1", "r0 in [0, 1]")),
        row("a callback returning a pointer", linux_xdp, {}, R"(
            r1 = 4
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = r10
            exit)",
            rejected(9, "r0 must be a number", "r0.type == number")),
        row("a callback the analysis cannot find before the call", linux_xdp, {}, R"(
            r6 = code(callback) ll
            r1 = 4
            r2 = r6
            r3 = 0
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            rejected(6, "r2 must be loaded with the callback's address (lddw) in the instructions just before the call",
                     "r2.type == func")),
        row("a callback context that is not on the stack", linux_xdp, {}, R"(
            r3 = r1
            r1 = 4
            r2 = code(callback) ll
            r4 = 0
            call 181
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            rejected(5, "r3 must be a stack pointer or null", "r3.type in {stack, null}")),
        // A pointer into the callback's frame left in the caller's stack is stale once the callback returns.
        row("a pointer into a callback's frame kept by the caller", linux_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = 1
            r2 = code(callback) ll
            r3 = r10
            r3 += -8
            r4 = 0
            call 181
            r1 = *(u64 *)(r10 - 8)
            r0 = *(u64 *)(r1 + 0)
            r0 = 2
            exit
        callback:
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            *(u64 *)(r2 + 0) = r1
            r0 = 0
            exit)",
            // Two paths: no call (the slot holds 0) and one call.
            rejected_among(2, 9, "r1 points into the frame of a function that returned", "r1.type != stale stack")),
        // for_each_map_elem: the callback gets the map, a copy of the key, the value and the context.
        row("for_each_map_elem reading keys and values", linux_xdp, {array_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
            r0 = 2
            exit
        callback:
            r0 = *(u32 *)(r2 + 0)
            r1 = *(u64 *)(r3 + 8)
            r1 += r0
            *(u64 *)(r3 + 8) = r1
            r0 = 0
            exit)",
            accepted_loop(4 * 7 + 5)),
        row("for_each_map_elem reading past the value", linux_xdp, {array_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
            r0 = 2
            exit
        callback:
            r1 = *(u64 *)(r3 + 12)
            r0 = 0
            exit)",
            rejected(9, "Upper bound must be at most the value size 16")),
        row("for_each_map_elem reading past the key", linux_xdp, {array_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
            r0 = 2
            exit
        callback:
            r1 = *(u64 *)(r2 + 0)
            r0 = 0
            exit)",
            rejected(9, "Stack content is not initialized")),
        row("for_each_map_elem over a ring buffer", linux_xdp, {ring}, R"(
            r1 = map_by_idx(0) ll
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            rejected(6, "Map events of kind ringbuf cannot be used with helper for_each_map_elem",
                     "r1.map.kind fits for_each_map_elem")),
        row("for_each_map_elem over keys larger than the callback's half frame", linux_xdp, {big_keys}, R"(
            r1 = map_by_idx(0) ll
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
            r0 = 2
            exit
        callback:
            r0 = 0
            exit)",
            rejected(6,
                     "Helper for_each_map_elem hands its callback keys of at most 256 bytes; those of table have 257",
                     "table.key_size <= 256")),
    });
}

// A callback's counter is bounded where its loop calls back; inside an inner loop it is the same counter, kept as
// joined, not widened: a callback running bpf_loop(5) five times is bounded by a few hundred instructions, not by
// millions.
TEST_CASE("verifier asm: nested callbacks keep the outer count") {
    auto program = embpf::isa::assemble(R"(
            *(u64 *)(r10 - 8) = 0
            r3 = r10
            r3 += -8
            w1 = 5
            r2 = code(outer) ll
            r4 = 0
            call 181
            r0 = *(u64 *)(r10 - 8)
            r0 &= 1
            exit
        outer:
            r3 = r2
            w1 = 5
            r2 = code(inner) ll
            r4 = 0
            call 181
            r0 = 0
            exit
        inner:
            r3 = *(u64 *)(r2 + 0)
            r3 += r1
            *(u64 *)(r2 + 0) = r3
            r0 = 0
            exit)");
    REQUIRE(program.has_value());
    const platform::Platform& kernel = platform::linux();
    const verifier::Report report =
        verifier::verify({"nested", "xdp", *program, {}, {}, {}}, kernel, *kernel.program_type("xdp"));
    INFO(report.text());
    REQUIRE(report.verified);
    REQUIRE(report.instruction_bound.has_value());
    // A run: 7 before, 3 after, 5 outer calls of 6 instructions and the helper call, each making 5 inner calls of
    // 5 instructions and the helper call: 10 + 5 * (7 + 5 * 6) = 195.
    CHECK(*report.instruction_bound >= 195);
    CHECK(*report.instruction_bound <= 400);
}

// Maps flagged BPF_F_RDONLY_PROG are read-only to programs, as `.rodata` is: no store into a value, no helper that
// changes the map.
TEST_CASE("verifier asm: maps read-only to programs") {
    embpf::elf::MapDefinition flagged;
    flagged.name = "config";
    flagged.type = 2; // BPF_MAP_TYPE_ARRAY
    flagged.key_size = 4;
    flagged.value_size = 8;
    flagged.max_entries = 4;
    flagged.map_flags = 1U << 7; // BPF_F_RDONLY_PROG
    embpf::elf::MapDefinition plain = flagged;
    plain.map_flags = 0;
    const std::vector<embpf::elf::MapDefinition> definitions{flagged, plain};
    auto described = verifier::describe_maps(definitions, platform::linux());
    REQUIRE(described.has_value());
    CHECK((*described)[0].read_only);
    CHECK((*described)[0].frozen_value.empty()); // not frozen: the host may change it, so nothing is a constant
    CHECK_FALSE((*described)[1].read_only);
    MapDescriptor read_only = (*described)[0];
    check_rows({
        row("a store into a value of a map read-only to programs", linux_xdp, {read_only}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            *(u64 *)(r0 + 0) = 1
        out:
            r0 = 2
            exit)",
            rejected(7, "Map value of config is read-only", "writable(config)")),
        row("an update of a map read-only to programs", linux_xdp, {read_only}, R"(
            *(u32 *)(r10 - 4) = 0
            *(u64 *)(r10 - 16) = 0
            r2 = r10
            r2 += -4
            r3 = r10
            r3 += -16
            r1 = map_by_idx(0) ll
            r4 = 0
            call 2
            r0 = 2
            exit)",
            rejected(9, "Map config is read-only to programs; helper map_update_elem changes it", "writable(config)")),
        row("a read of a map read-only to programs", linux_xdp, {read_only}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = *(u64 *)(r0 + 0)
        out:
            r0 = 2
            exit)",
            accepted(9)),
    });
}

// A bloom filter's map_peek_elem reads the value it tests (a queue's writes it): it must be initialized, and may be
// read-only memory.
TEST_CASE("verifier asm: bloom filters") {
    const MapDescriptor bloom{"seen", MapKind::bloom_filter, 0, 8, 64, std::nullopt, false, {}};
    check_rows({
        row("a bloom filter tested for a value on the stack", linux_xdp, {bloom}, R"(
            *(u64 *)(r10 - 8) = 7
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            call 89
            r0 = 2
            exit)",
            accepted(7)),
        row("a bloom filter tested for an uninitialized value", linux_xdp, {bloom}, R"(
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            call 89
            r0 = 2
            exit)",
            rejected(4, "Stack content is not initialized", "initialized(r10-8, width=8)")),
        row("a value popped from a bloom filter", linux_xdp, {bloom}, R"(
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            call 88
            r0 = 2
            exit)",
            rejected(4, "Map seen of kind bloom_filter cannot be used with helper map_pop_elem",
                     "r1.map.kind fits map_pop_elem")),
    });
}

// The rest of docs/verifier.md's catalogue: memory a program or helper may not use, released memory, returned
// frames, maps of maps, unsupported instructions and bad map references.
TEST_CASE("verifier asm: memory kinds, maps of maps and unsupported instructions") {
    check_rows({
        row("a load through a map", windows_xdp, {hash_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = *(u8 *)(r1 + 0)
            r0 = 1
            exit)",
            rejected(2, "r1 does not point to memory a program may access",
                     "r1.type in {stack, packet, map_value, alloc}")),
        row("the context handed to trace_printk as its buffer", windows_xdp, {}, R"(
            r2 = 8
            call 12
            r0 = 1
            exit)",
            rejected(1, "r1 does not point to memory a helper may use",
                     "r1.type in {stack, packet, map_value, alloc}")),
        row("a context field at a variable offset", windows_xdp, {}, R"(
            r5 = *(u32 *)(r1 + 24)
            r5 &= 4
            r1 += r5
            r2 = *(u32 *)(r1 + 0)
            r0 = 1
            exit)",
            rejected(3, "Context offset is not a constant", "r1.offset is constant")),
        // The metadata lies in front of the data: [data_meta, data) once compared, never below data_meta.
        row("xdp on Windows: metadata checked against data", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 16)
            r3 = *(u64 *)(r1 + 0)
            r4 = r2
            r4 += 4
            if r4 > r3 goto out
            r0 = *(u32 *)(r2 + 0)
            *(u32 *)(r2 + 0) = r0
        out:
            r0 = 1
            exit)",
            accepted(9)),
        row("xdp on Windows: metadata read without a check", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 16)
            r0 = *(u32 *)(r2 + 0)
            r0 = 1
            exit)",
            rejected(1, "Upper bound must be at most packet_size", "valid_access(r2.offset, width=4)")),
        row("xdp on Windows: one byte below the metadata", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 16)
            r3 = *(u64 *)(r1 + 0)
            r4 = r2
            r4 += 4
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 - 1)
        out:
            r0 = 1
            exit)",
            rejected(5, "Lower bound must be at least data_meta", "valid_access(r2.offset-1, width=1)")),
        row("xdp on Linux: metadata read past data", linux_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 8)
            r3 = *(u32 *)(r1 + 0)
            r4 = r2
            r4 += 4
            if r4 > r3 goto out
            r0 = *(u64 *)(r2 + 0)
        out:
            r0 = 1
            exit)",
            rejected(5, "Upper bound must be at most packet_size", "valid_access(r2.offset, width=8)")),
        row("bind on Windows: no metadata, data offsets from 0", windows_bind, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 4
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 - 1)
        out:
            r0 = 0
            exit)",
            rejected(5, "Lower bound must be at least 0", "valid_access(r2.offset-1, width=1)")),
        row("a ring buffer record written after its submission", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            r6 = r0
            r1 = r0
            r2 = 0
            call 132
            *(u8 *)(r6 + 0) = 0
        out:
            r0 = 2
            exit)",
            rejected(10, "r6 points to memory already submitted or discarded")),
        row("a pointer into a returned subprogram's frame", windows_xdp, {}, R"(
            call frame
            r1 = *(u64 *)(r0 + 0)
            r0 = 1
            exit
        frame:
            *(u64 *)(r10 - 8) = 0
            r0 = r10
            r0 += -8
            exit)",
            rejected(1, "r0 points into the frame of a function that returned")),
        row("a pointer handed to trace_printk as a value to print", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r3 = r10
            r1 = r10
            r1 += -8
            r2 = 8
            call 13
            r0 = 1
            exit)",
            rejected(5, "r3 must be a number", "r3.type == number")),
        row("strncmp against a stack buffer for its constant string", linux_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -8
            r2 = 8
            r3 = r10
            r3 += -8
            call 182
            r0 = 2
            exit)",
            rejected(6, "r3 must point to a constant string in read-only memory")),
        row("a lookup in an array of maps without an inner map", windows_xdp, {outer_map(std::nullopt)}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            r0 = 1
            exit)",
            rejected(5, "Map outer of kind array_of_maps has no inner map definition", "inner(outer)")),
        row("a lookup in an array of maps, then in the inner map", windows_xdp, {outer_map(1), array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = r0
            r2 = r10
            r2 += -4
            call 1
            if r0 == 0 goto out
            r1 = *(u64 *)(r0 + 8)
        out:
            r0 = 1
            exit)",
            accepted(14)),
        row("the inner map's value read one byte past its end", windows_xdp, {outer_map(1), array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r1 = r0
            r2 = r10
            r2 += -4
            call 1
            if r0 == 0 goto out
            r1 = *(u64 *)(r0 + 9)
        out:
            r0 = 1
            exit)",
            rejected(12, "Upper bound must be at most the value size 16", "valid_access(r0.offset+9, width=8)")),
        row("an indirect call", windows_xdp, {}, R"(
            r2 = 0
            callx r2
            r0 = 1
            exit)",
            rejected(1, "Indirect calls (callx) are not supported")),
        row("a call to a kernel function", linux_xdp, {}, R"(
            call kfunc 1234
            r0 = 2
            exit)",
            rejected(0, "Calls to kernel functions are not supported")),
        row("a map reference past the program's maps", windows_xdp, {hash_map()}, R"(
            r1 = map_by_idx(1) ll
            r0 = 1
            exit)",
            rejected(0, "lddw refers to no map of the program")),
        row("a global-data reference past its value", windows_xdp, {rodata_map()}, R"(
            r1 = map_value_by_idx(0, 17) ll
            r0 = 1
            exit)",
            rejected(0, "lddw points outside the value of map rodata")),
        // Two ways into the loop of pcs 2-4: by falling through to 2 and by jumping to 3.
        row("a loop entered in its middle", windows_xdp, {}, R"(
            r2 = *(u32 *)(r1 + 24)
            if r2 == 0 goto middle
        head:
            r2 += 1
        middle:
            r2 += 1
            if r2 < 10 goto head
            r0 = 1
            exit)",
            rejected(3, "Irreducible control flow: a loop is entered other than at its head", "reducible")),
    });
}

// Each "rejected" row below is a program an earlier verifier accepted and that crashed its host, wrote to the host's
// stack or handed the program a host address; each "accepted" row is the safe program of the same shape.
TEST_CASE("verifier asm: objects, pointer offsets, helper writes and the host's limits") {
    // Two lookups of different keys in one map, or one lookup executed twice: two objects.
    constexpr std::string_view two_lookups = R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r6 = r0
            *(u32 *)(r10 - 4) = 1
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
    )";
    auto after_two_lookups = [&](std::string_view tail) {
        static std::vector<std::string> texts; // the rows keep views of their text
        texts.push_back(std::string(two_lookups) + std::string(tail));
        return std::string_view(texts.back());
    };
    check_rows({
        row("two lookups in one map, used separately", windows_xdp, {array_map()}, after_two_lookups(R"(
            r1 = *(u32 *)(r6 + 12)
            r2 = *(u32 *)(r0 + 12)
        out:
            r0 = 1
            exit)"),
            accepted(17)),
        row("two lookups in one map: unequal pointers say nothing", windows_xdp, {array_map()}, after_two_lookups(R"(
            if r0 == r6 goto out
            r1 = *(u64 *)(r10 + 8)
        out:
            r0 = 1
            exit)"),
            rejected(16, "Upper bound must be at most r10", "valid_access(r10.offset+8, width=8)")),
        row("two lookups in one map: equal pointers say nothing", windows_xdp, {array_map()}, after_two_lookups(R"(
            if r0 != r6 goto out
            r1 = *(u64 *)(r10 + 8)
        out:
            r0 = 1
            exit)"),
            rejected(16, "Upper bound must be at most r10", "valid_access(r10.offset+8, width=8)")),
        row("two lookups in one map: their distance", windows_xdp, {array_map()}, after_two_lookups(R"(
            r0 -= r6
        out:
            r0 = 1
            exit)"),
            rejected(15, "Subtraction of pointers to different objects", "r0.object == r6.object")),
        row("two lookups in one map: their order", windows_xdp, {array_map()}, after_two_lookups(R"(
            if r0 > r6 goto out
        out:
            r0 = 1
            exit)"),
            rejected(15, "Comparison of pointers to different objects", "r0.object == r6.object")),
        row("one lookup and a pointer derived from it compare by offset", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r6 = r0
            r6 += 8
            r1 = r6
            r1 -= r0
            if r6 > r0 goto out
            r1 = *(u64 *)(r10 + 8)
        out:
            r0 = 1
            exit)",
            accepted(13)),
        // The subprogram's lookup runs twice: the first result is no longer the object the second names.
        row("one lookup instruction executed twice", windows_xdp, {array_map()}, R"(
            r1 = 0
            call lookup
            if r0 == 0 goto out
            r6 = r0
            r1 = 1
            call lookup
            if r0 == 0 goto out
            if r0 != r6 goto out
            r1 = *(u64 *)(r10 + 8)
        out:
            r0 = 1
            exit
        lookup:
            *(u32 *)(r10 - 4) = r1
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            exit)",
            rejected(8, "Upper bound must be at most r10", "valid_access(r10.offset+8, width=8)")),
        row("two inner maps of one map of maps", windows_xdp, {outer_map(1), array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r6 = r0
            *(u32 *)(r10 - 4) = 1
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            if r0 == r6 goto out
            r1 = *(u64 *)(r10 + 8)
        out:
            r0 = 1
            exit)",
            rejected(16, "Upper bound must be at most r10", "valid_access(r10.offset+8, width=8)")),
        row("two ring buffer records of one size", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            r6 = r0
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto drop
            r7 = r0
            r7 -= r6
            r1 = r0
            r2 = 0
            call 133
        drop:
            r1 = r6
            r2 = 0
            call 133
        out:
            r0 = 2
            exit)",
            rejected(14, "Subtraction of pointers to different objects", "r7.object == r6.object")),
        row("two ring buffer records held at once, each submitted", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            r6 = r0
            r1 = map_by_idx(0) ll
            r2 = 8
            r3 = 0
            call 131
            if r0 == 0 goto drop
            *(u64 *)(r0 + 0) = 1
            *(u64 *)(r6 + 8) = 2
            r1 = r0
            r2 = 0
            call 132
            *(u64 *)(r6 + 0) = 3
            r1 = r6
            r2 = 0
            call 132
            goto out
        drop:
            r1 = r6
            r2 = 0
            call 133
        out:
            r0 = 2
            exit)",
            accepted(23)),
        row("a record used after it is submitted", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            r6 = r0
            r1 = r6
            r2 = 0
            call 132
            *(u64 *)(r6 + 0) = 3
        out:
            r0 = 2
            exit)",
            rejected(10, "r6 points to memory already submitted or discarded", "r6.type != released")),
        row("a ring buffer record neither submitted nor discarded", linux_xdp, {ringbuf_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = 16
            r3 = 0
            call 131
            if r0 == 0 goto out
            *(u64 *)(r0 + 0) = 1
        out:
            r0 = 2
            exit)",
            rejected(8, "A ring buffer record may be neither submitted nor discarded", "open_records == 0")),
        row("a null check covers copies made before it", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            r6 = r0
            *(u64 *)(r10 - 16) = r0
            if r0 == 0 goto out
            r1 = *(u32 *)(r6 + 0)
            r7 = *(u64 *)(r10 - 16)
            r1 = *(u32 *)(r7 + 4)
        out:
            r0 = 1
            exit)",
            accepted(13)),
        row("a copy on the null side of the check", windows_xdp, {array_map()}, R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            r6 = r0
            if r0 != 0 goto out
            r1 = *(u32 *)(r6 + 0)
        out:
            r0 = 1
            exit)",
            rejected(8, "r6 is not a pointer", "r6.type is pointer")),

        // Offsets: a pointer far from its object could wrap around or reach 0, and compare as no offset says.
        row("a pointer offset of -2^62", windows_xdp, {}, R"(
            r4 = r10
            r3 = -4611686018427387904 ll
            r4 += r3
            if r4 > r10 goto out
        out:
            r0 = 1
            exit)",
            rejected(3, "Pointer offset must stay within [-32768, 536870912]", "r4.offset in [-32768, 536870912]")),
        row("a 32-bit number added to a packet pointer", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r5 = *(u32 *)(r1 + 24)
            r2 += r5
            r0 = 1
            exit)",
            rejected(2, "Pointer offset must stay within [-32768, 536870912]", "r2.offset in [-32768, 536870912]")),
        row("a pointer compared with data_end", windows_xdp, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
            r4 = r2
            r4 += 14
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 13)
        out:
            r0 = 1
            exit)",
            accepted(8)),

        // Helper writes: only what the contract proves written is initialized.
        row("memcpy_s: the copied bytes are written", windows_xdp, {}, R"(
            *(u64 *)(r10 - 32) = 7
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = r10
            r3 += -32
            r4 = 8
            call 22
            r0 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            accepted(11)),
        row("memcpy_s: the bytes past the copy are not", windows_xdp, {}, R"(
            *(u64 *)(r10 - 32) = 7
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = r10
            r3 += -32
            r4 = 8
            call 22
            r0 = *(u64 *)(r10 - 8)
            r0 = 1
            exit)",
            rejected(8, "Stack content is not initialized", "initialized(r10-8, width=8)")),
        row("memcpy_s of no bytes writes nothing", windows_xdp, {}, R"(
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -16
            r2 = 8
            r3 = r10
            r3 += -8
            r4 = 0
            call 22
            r0 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            rejected(8, "Stack content is not initialized", "initialized(r10-16, width=8)")),
        row("memmove_s that may not fit writes nothing", windows_xdp, {}, R"(
            *(u64 *)(r10 - 32) = 7
            *(u64 *)(r10 - 24) = 7
            r1 = r10
            r1 += -16
            r2 = 8
            r3 = r10
            r3 += -32
            r4 = 16
            call 25
            r0 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            rejected(9, "Stack content is not initialized", "initialized(r10-16, width=8)")),
        row("strncpy_s fills its whole destination", windows_xdp, {}, R"(
            *(u64 *)(r10 - 32) = 7
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = r10
            r3 += -32
            r4 = 8
            call 27
            r0 = *(u64 *)(r10 - 8)
            r0 = 1
            exit)",
            accepted(11)),
        row("strncat_s reads the string it appends to", windows_xdp, {}, R"(
            *(u64 *)(r10 - 32) = 0
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = r10
            r3 += -32
            r4 = 1
            call 28
            r0 = 1
            exit)",
            rejected(7, "Stack content is not initialized", "initialized(r10-16, width=16)")),
        row("strncat_s onto an initialized string", windows_xdp, {}, R"(
            *(u64 *)(r10 - 32) = 0
            *(u64 *)(r10 - 16) = 0
            *(u64 *)(r10 - 8) = 0
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = r10
            r3 += -32
            r4 = 1
            call 28
            r0 = 1
            exit)",
            accepted(12)),
        row("map_pop_elem fills the value, with zeros when the queue is empty", windows_xdp, {queue_map()}, R"(
            r1 = map_by_idx(0) ll
            r2 = r10
            r2 += -8
            call 17
            r0 = *(u64 *)(r10 - 8)
            r0 = 1
            exit)",
            accepted(7)),
        row("memset writes every byte", windows_xdp, {}, R"(
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = 0
            call 24
            r0 = *(u64 *)(r10 - 8)
            r0 = 1
            exit)",
            accepted(8)),
        row("a pointer spilled where a memcpy_s that may fail may write", windows_xdp, {}, R"(
            *(u64 *)(r10 - 16) = r1
            *(u64 *)(r10 - 48) = 7
            *(u64 *)(r10 - 40) = 7
            *(u64 *)(r10 - 32) = 7
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = r10
            r3 += -48
            r4 = 24
            call 22
            r0 = *(u64 *)(r10 - 16)
            r0 = 1
            exit)",
            rejected(11, "Reads part of a spilled pointer", "r10-16 holds a pointer")),
        row("snprintf fills its whole buffer", linux_xdp, {rodata_map()}, R"(
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = map_value_by_idx(0, 0) ll
            r4 = 0
            r5 = 0
            call 165
            r0 = *(u64 *)(r10 - 8)
            r0 = 2
            exit)",
            accepted(10)),
        row("a format string that ends in a NUL", linux_xdp, {rodata_map()}, R"(
            *(u64 *)(r10 - 8) = 0
            *(u64 *)(r10 - 16) = 0
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = map_value_by_idx(0, 2) ll
            r4 = 0
            r5 = 0
            call 165
            r0 = 2
            exit)",
            accepted(11)),
        // trace_vprintk's data go to the host's sink only, as trace_printk's r3-r5 do (a `%s` argument is a pointer
        // to the string); snprintf's come back to the program, where a pointer among them would tell an address.
        row("trace_vprintk's data hold a pointer", linux_kprobe, {rodata_map()}, R"(
            r7 = r10
            r7 += -32
            *(u64 *)(r10 - 32) = 0
            *(u64 *)(r10 - 16) = r7
            *(u64 *)(r10 - 8) = 5
            r1 = map_value_by_idx(0, 2) ll
            r2 = 4
            r3 = r10
            r3 += -16
            r4 = 16
            call 177
            r0 = 0
            exit)",
            accepted(13)),
        row("snprintf's data hold a pointer", linux_kprobe, {rodata_map()}, R"(
            r7 = r10
            r7 += -32
            *(u64 *)(r10 - 32) = 0
            *(u64 *)(r10 - 16) = r7
            *(u64 *)(r10 - 8) = 5
            r1 = r10
            r1 += -64
            r2 = 16
            r3 = map_value_by_idx(0, 2) ll
            r4 = r10
            r4 += -16
            r5 = 16
            call 165
            r0 = 0
            exit)",
            rejected(13, "Reads part of a spilled pointer", "r10-16 holds a pointer")),
        row("a format string with no NUL in its value", linux_xdp, {rodata_map()}, R"(
            *(u64 *)(r10 - 8) = 0
            *(u64 *)(r10 - 16) = 0
            r1 = r10
            r1 += -16
            r2 = 16
            r3 = map_value_by_idx(0, 6) ll
            r4 = 0
            r5 = 0
            call 165
            r0 = 2
            exit)",
            rejected(9, "r3 must point to a string that ends in a NUL inside rodata", "terminated(r3)")),

        // The packet's size: nothing learned of it survives a helper that moves the packet.
        row("xdp_adjust_head forgets the packet's size", windows_xdp, {}, R"(
            r6 = r1
            r2 = *(u64 *)(r6 + 0)
            r3 = *(u64 *)(r6 + 8)
            r4 = r2
            r4 += 64
            if r4 > r3 goto out
            r1 = r6
            r2 = 8
            call 65536
            r2 = *(u64 *)(r6 + 0)
            r0 = *(u8 *)(r2 + 32)
        out:
            r0 = 1
            exit)",
            rejected(10, "Upper bound must be at most packet_size", "valid_access(r2.offset+32, width=1)")),
    });
}

TEST_CASE("verifier asm: each bound on the host is a parameter of the program type") {
    platform::Platform host = platform::windows();
    platform::ProgramType small = *host.program_type("xdp");
    small.name = "small_xdp";
    small.section_prefixes = {"small_xdp"};
    small.max_data_size = 100;
    REQUIRE(host.add_program_type(small).has_value());
    platform::ProgramType huge = small;
    huge.name = "huge_xdp";
    huge.section_prefixes = {"huge_xdp"};
    huge.max_data_size = (std::uint32_t{1} << 29) + 1;
    const auto refused = host.add_program_type(huge);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message == "program type huge_xdp: max_data_size is larger than 536870912 bytes");
    // A loop over every byte of the packet: its bound follows the largest packet the hook hands out.
    auto program = embpf::isa::assemble(R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 8)
        loop:
            r4 = r2
            r4 += 1
            if r4 > r3 goto out
            r0 = *(u8 *)(r2 + 0)
            r2 += 1
            goto loop
        out:
            r0 = 1
            exit)");
    REQUIRE(program.has_value());
    const verifier::ProgramInput input{"bytes", "xdp", *program, {}, {}, {}};
    const verifier::Report wide = verifier::verify(input, host, *host.program_type("xdp"));
    const verifier::Report narrow = verifier::verify(input, host, *host.program_type("small_xdp"));
    REQUIRE(wide.verified);
    REQUIRE(narrow.verified);
    CHECK(*narrow.instruction_bound < 1000);
    CHECK(*wide.instruction_bound > 65535);
}

TEST_CASE("verifier asm: a platform for untrusted plugins offers no helper that reads host memory") {
    platform::Platform host = platform::windows();
    CHECK(host.for_untrusted_plugins());
    platform::HelperPrototype peek = platform::proto(platform::ret::integer, platform::arg::anything);
    peek.id = 5000;
    peek.name = "peek_host";
    peek.reads_host_memory = true;
    peek.any_program_type = true;
    REQUIRE(host.add_helper(peek).has_value());
    auto program = embpf::isa::assemble("r1 = 0\ncall 5000\nr0 = 1\nexit");
    REQUIRE(program.has_value());
    const verifier::ProgramInput input{"peek", "xdp", *program, {}, {}, {}};
    const verifier::Report refused = verifier::verify(input, host, *host.program_type("xdp"));
    REQUIRE_FALSE(refused.verified);
    REQUIRE(refused.errors.size() == 1);
    CHECK(refused.errors[0].message ==
          "Helper peek_host reads host memory and is not available on platform windows, which runs untrusted plugins");
    // A test double for trusted kernel programs may offer it.
    host.set_for_untrusted_plugins(false);
    CHECK(verifier::verify(input, host, *host.program_type("xdp")).verified);

    // Linux's trace_printk prints r3-r5 whatever they hold (a stack or map address): trusted programs only.
    platform::Platform linux_plugins = platform::linux();
    linux_plugins.set_for_untrusted_plugins(true);
    auto printk = embpf::isa::assemble("*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = r10\ncall 6\n"
                                       "r0 = 2\nexit");
    REQUIRE(printk.has_value());
    const verifier::ProgramInput printk_input{"printk", "xdp", *printk, {}, {}, {}};
    CHECK(verifier::verify(printk_input, platform::linux(), *platform::linux().program_type("xdp")).verified);
    const verifier::Report untrusted =
        verifier::verify(printk_input, linux_plugins, *linux_plugins.program_type("xdp"));
    REQUIRE(untrusted.errors.size() == 1);
    CHECK(untrusted.errors[0].message ==
          "Helper trace_printk reads host memory and is not available on platform linux, which runs untrusted plugins");
}

// Over kMaxShapes states at a point, the two that lose least when joined are joined: a register holding values of two
// maps the semantics can tell apart loses as much as one holding two kinds of pointer (the join makes it unusable),
// more than registers that are numbers on one path and unset on another.
TEST_CASE("verifier asm: states over the limit keep values of different maps apart") {
    const MapDescriptor small{"small", MapKind::array, 4, 8, 1, std::nullopt, false, {}};
    const MapDescriptor large{"large", MapKind::array, 4, 64, 1, std::nullopt, false, {}};
    check_rows({
        // r7: a value of either map; r2-r5: each a number on some paths and unset on others (32 shapes), read only
        // where the context pointer is null, which no run reaches.
        row("a value of one of two maps, among many shapes", linux_socket, {small, large}, R"(
            r9 = r1
            r8 = *(u32 *)(r9 + 0)
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            if r8 > 100 goto +2
            r1 = map_by_idx(1) ll
            call 1
            if r0 != 0 goto +2
            r0 = 0
            exit
            r7 = r0
            if r8 & 1 goto +1
            r2 = 1
            if r8 & 2 goto +1
            r3 = 2
            if r8 & 4 goto +1
            r4 = 3
            if r8 & 8 goto +1
            r5 = 4
            r1 = 7
            *(u64 *)(r7 + 0) = r1
            r0 = 0
            if r9 != 0 goto +4
            r0 = r2
            r0 += r3
            r0 += r4
            r0 += r5
            exit)",
            accepted(24)),
    });
}

// A lookup's result on one path and 0 on another (`v = lookup(); if (!v) v = 0;`, or a result spilled on one path
// only): joined, as they are once the states outgrow the limit, they are a result that may be null, as the lookup
// returns it.
TEST_CASE("verifier asm: 0 on one path and a map value on the other join as a value that may be null") {
    // r2-r5: each the stack or the context (16 shapes), so that the joins over the limit are the ones the rows set up;
    // read only where the context pointer (r9) is null, which no run reaches.
    const std::string shapes = R"(
            r2 = r10
            if r8 & 1 goto +1
            r2 = r9
            r3 = r10
            if r8 & 2 goto +1
            r3 = r9
            r4 = r10
            if r8 & 4 goto +1
            r4 = r9
            r5 = r10
            if r8 & 8 goto +1
            r5 = r9
            )";
    const std::string unreached = R"(
            r0 = 0
            if r9 != 0 goto +4
            r0 = r2
            r0 = r3
            r0 = r4
            r0 = r5
            exit)";
    auto program = [&](std::string_view r7_on_null, std::string_view use) {
        return std::string(R"(
            r9 = r1
            r8 = *(u32 *)(r9 + 0)
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            )") +
               std::string(r7_on_null) +
               R"(
            if r0 == 0 goto +1
            r7 = r0
            *(u64 *)(r10 - 16) = r7
            )" +
               shapes + std::string(use) + unreached;
    };
    const std::string checked_register = program("r7 = 0", R"(
            if r7 == 0 goto +2
            r1 = 7
            *(u64 *)(r7 + 0) = r1)");
    const std::string unchecked_register = program("r7 = 0", R"(
            r1 = 7
            *(u64 *)(r7 + 0) = r1)");
    const std::string checked_cell = program("r7 = 0", R"(
            r6 = *(u64 *)(r10 - 16)
            if r6 == 0 goto +2
            r1 = 7
            *(u64 *)(r6 + 8) = r1)");
    const std::string unchecked_cell = program("r7 = 0", R"(
            r6 = *(u64 *)(r10 - 16)
            r1 = 7
            *(u64 *)(r6 + 8) = r1)");
    const std::string cell_past_the_value = program("r7 = 0", R"(
            r6 = *(u64 *)(r10 - 16)
            if r6 == 0 goto +2
            r1 = 7
            *(u64 *)(r6 + 12) = r1)");
    const std::string one_not_zero = program("r7 = 1", R"(
            if r7 == 0 goto +2
            r1 = 7
            *(u64 *)(r7 + 0) = r1)");
    // r7 the value and r6 0 on one path, the other way round on the other: each may be null where they join, but a
    // check of one says nothing of the other (found by attack round 34: the check made both non-null).
    const std::string swapped = R"(
            r9 = r1
            r8 = *(u32 *)(r9 + 0)
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r7 = r0
            r6 = 0
            if r8 & 16 goto +2
            r7 = 0
            r6 = r0
            )" + shapes + R"(
            if r7 == 0 goto +2
            r1 = 7
            *(u64 *)(r6 + 0) = r1
            )" + unreached + R"(
        out:
            r0 = 0
            exit)";
    // Copies of the value on one path, both 0 on the other: a check of one covers the other, as for a lookup's result.
    std::string copies = swapped;
    const std::string swap = "            r7 = 0\n            r6 = r0\n";
    const std::string both_zero = "            r7 = 0\n            r6 = 0\n";
    REQUIRE(copies.find(swap) != std::string::npos);
    copies.replace(copies.find(swap), swap.size(), both_zero);
    const std::string copy_of_value = "            r7 = r0\n            r6 = 0\n";
    REQUIRE(copies.find(copy_of_value) != std::string::npos);
    copies.replace(copies.find(copy_of_value), copy_of_value.size(), "            r7 = r0\n            r6 = r0\n");
    check_rows({
        row("a value or 0, checked", linux_socket, {array_map()}, checked_register, accepted(29)),
        row("a value or 0, not checked", linux_socket, {array_map()}, unchecked_register,
            rejected(25, "r7 may be null; compare it with 0 first", "r7 != null")),
        row("a value or 0 spilled, read back and checked", linux_socket, {array_map()}, checked_cell, accepted(30)),
        row("a value or 0 spilled, read back, not checked", linux_socket, {array_map()}, unchecked_cell,
            rejected(26, "r6 may be null; compare it with 0 first", "r6 != null")),
        // The value is 16 bytes: the offsets of both paths still count.
        row("a value or 0, written past its end", linux_socket, {array_map()}, cell_past_the_value,
            rejected(27, "Upper bound must be at most the value size 16", "valid_access(r6.offset+12, width=8)")),
        row("two values or 0, one checked", linux_socket, {array_map()}, swapped,
            rejected(28, "r6 may be null; compare it with 0 first", "r6 != null")),
        row("two copies of a value or both 0, one checked", linux_socket, {array_map()}, copies, accepted(31)),
        row("a value or 1 is no pointer", linux_socket, {array_map()}, one_not_zero,
            rejected(26, "r7 is not a pointer", "r7.type is pointer")),
    });
}

// bpf_spin_lock: map 0's 16-byte value holds its lock at 8 (MapDescriptor::spin_lock). A lock is taken and released on
// every path, one at a time, with no other helper called while it is held; its bytes are the helpers' only.
TEST_CASE("verifier asm: spin locks") {
    MapDescriptor locked{"locked", MapKind::array, 4, 16, 4, std::nullopt, false, {}};
    locked.spin_lock = 8;
    const std::vector<MapDescriptor> maps = {locked, array_map()};
    // r6: the value of map 0 at key 0 (or of the map an argument names), checked; then `body`.
    auto program = [](std::string_view body, int map = 0) {
        return std::string(R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx()") +
               std::to_string(map) + R"() ll
            call 1
            if r0 == 0 goto out
            r6 = r0
            )" +
               std::string(body) +
               R"(
        out:
            r0 = 0
            exit)";
    };
    // Map 0's lock, taken and released through r6.
    const std::string lock = R"(
            r1 = r6
            r1 += 8
            call 93
)";
    const std::string unlock = R"(
            r1 = r6
            r1 += 8
            call 94
)";
    const std::string take_and_release = program(lock + R"(
            r1 = *(u64 *)(r6 + 0)
            r1 += 1
            *(u64 *)(r6 + 0) = r1
)" + unlock);
    const std::string kept = program(lock);
    const std::string twice = program(lock + lock);
    const std::string release_only = program(unlock);
    const std::string helper_inside = program(lock + R"(
            call 5
)" + unlock);
    auto touching = [&](std::string_view access) {
        return program(lock + R"(
            )" + std::string(access) +
                       R"(
)" + unlock);
    };
    const std::string wrong_offset = program(std::string(R"(
            r1 = r6
            call 93
            r1 = r6
            call 94)"));
    const std::string no_lock = program(lock + unlock, 1);
    // Two lookups' values: the lock of one taken, the other's released.
    const std::string other_value = R"(
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r6 = r0
            *(u32 *)(r10 - 8) = 1
            r2 = r10
            r2 += -8
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r7 = r0
            r1 = r6
            r1 += 8
            call 93
            r1 = r7
            r1 += 8
            call 94
        out:
            r0 = 0
            exit)";
    // Taken on one path only.
    const std::string one_path = program(std::string(R"(
            r7 = *(u32 *)(r6 + 0)
            if r7 == 0 goto +3
)") + lock + unlock);
    // Taken in a subprogram, released by its caller.
    const std::string in_subprogram = program(std::string(R"(
            r1 = r6
            call take
)") + unlock + R"(
            r0 = 0
            exit
        take:
            r1 += 8
            call 93
            r0 = 0
            exit)");
    // Taken in a callback that returns holding it: the helper calls it again.
    const std::string in_callback = R"(
            r1 = 2
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 181
            r0 = 0
            exit
        callback:
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto +3
            r1 = r0
            r1 += 8
            call 93
            r0 = 0
            exit)";
    // A legacy packet load ends the program when its bytes lie outside the packet.
    const std::string packet_load = R"(
            r9 = r1
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto out
            r7 = r0
            r1 = r7
            r1 += 8
            call 93
            r6 = r9
            r0 = *(u8 *)skb[0]
            r1 = r7
            r1 += 8
            call 94
        out:
            r0 = 0
            exit)";
    check_rows({
        row("a lock taken and released around an update", linux_socket, maps, take_and_release, accepted(18)),
        row("a lock kept at exit", linux_socket, maps, kept,
            rejected(12, "A bpf_spin_lock is held at exit (call bpf_spin_unlock first)", "lock == none")),
        row("a lock taken twice", linux_socket, maps, twice,
            rejected_among(2, 13, "A bpf_spin_lock is already held; release it before taking another", "lock == none")),
        row("a lock released, not taken", linux_socket, maps, release_only,
            rejected(10, "bpf_spin_unlock without a bpf_spin_lock held", "lock != none")),
        row("a helper called under a lock", linux_socket, maps, helper_inside,
            rejected(11, "Helper calls are not allowed while a bpf_spin_lock is held (call bpf_spin_unlock first)",
                     "lock == none")),
        row("the lock's word loaded", linux_socket, maps, touching("r2 = *(u32 *)(r6 + 8)"),
            rejected(11, "The bpf_spin_lock of map locked is reached only through bpf_spin_lock and bpf_spin_unlock",
                     "valid_access(r6.offset+8, width=4) outside spin_lock")),
        row("the lock's word stored", linux_socket, maps, touching("*(u32 *)(r6 + 8) = 0"),
            rejected(11, "The bpf_spin_lock of map locked is reached only through bpf_spin_lock and bpf_spin_unlock",
                     "valid_access(r6.offset+8, width=4) outside spin_lock")),
        row("8 bytes over the lock's word", linux_socket, maps, touching("*(u64 *)(r6 + 4) = 0"),
            rejected(11, "The bpf_spin_lock of map locked is reached only through bpf_spin_lock and bpf_spin_unlock",
                     "valid_access(r6.offset+4, width=8) outside spin_lock")),
        row("the bytes beside the lock's word", linux_socket, maps,
            touching("*(u32 *)(r6 + 4) = 0\n            *(u32 *)(r6 + 12) = 0"), accepted(17)),
        row("the lock's word written by a helper", linux_socket, maps, R"(
            r9 = r1
            *(u32 *)(r10 - 4) = 0
            r2 = r10
            r2 += -4
            r1 = map_by_idx(0) ll
            call 1
            if r0 == 0 goto +5
            r1 = r9
            r2 = 0
            r3 = r0
            r4 = 16
            call 26
            r0 = 0
            exit)",
            rejected(12, "The bpf_spin_lock of map locked is reached only through bpf_spin_lock and bpf_spin_unlock",
                     "valid_access(r3.offset, width=r4) outside spin_lock")),
        row("a lock at the wrong offset", linux_socket, maps, wrong_offset,
            rejected_among(2, 9, "r1 must point to the bpf_spin_lock of a map value",
                           "r1.type == map_value && r1.offset == spin_lock")),
        row("a lock in a value without one", linux_socket, maps, no_lock,
            rejected_among(2, 10, "r1 must point to the bpf_spin_lock of a map value",
                           "r1.type == map_value && r1.offset == spin_lock")),
        row("one value's lock taken, another's released", linux_socket, maps, other_value,
            rejected(21, "bpf_spin_unlock of another bpf_spin_lock than the one held", "lock == r1.lock")),
        row("a lock taken on one path only", linux_socket, maps, one_path,
            rejected(15, "bpf_spin_unlock without a bpf_spin_lock held", "lock != none")),
        row("a lock taken in a subprogram and released by its caller", linux_socket, maps, in_subprogram, accepted(18)),
        // Each element a for_each_map_elem callback gets is one object while the call runs: its lock is one lock.
        row("each element's lock in a for_each_map_elem callback", linux_socket, maps, R"(
            r1 = map_by_idx(0) ll
            r2 = code(callback) ll
            r3 = 0
            r4 = 0
            call 164
            r0 = 0
            exit
        callback:
            r6 = r3
            r1 = r6
            r1 += 8
            call 93
            r1 = r6
            r1 += 8
            call 94
            r0 = 0
            exit)",
            accepted_loop(4 * 9 + 5)),
        row("a lock a callback keeps", linux_socket, maps, in_callback,
            rejected(19, "A bpf_spin_lock is held at exit (call bpf_spin_unlock first)", "lock == none")),
        row("a legacy packet load under a lock", linux_socket, maps, packet_load,
            rejected(13, "A legacy packet load may end the program while a bpf_spin_lock is held", "lock == none")),
    });
}

// probe_read*'s size is `u32 size`: a compiler passes a length checked in its low 32 bits (`w1 > 128`, or clang's
// `r1 = r2; r1 <<= 32; r1 >>= 32`) whole, its upper bits undefined. The low half of a register that may not fit it is
// a variable of its own while the register keeps its value, and the helper (and the check) read only it.
TEST_CASE("verifier asm: a length checked in its low 32 bits, passed whole to a helper that reads them") {
    // r6's low half checked against 16, then `middle`, then r2 passed whole as probe_read's size for a 16-byte buffer.
    const auto checked_then = [](std::string_view middle) {
        const auto lines = std::count(middle.begin(), middle.end(), '\n');
        return "r6 = *(u64 *)(r1 + 8)\nw1 = w6\nif r1 > 16 goto +" + std::to_string(lines + 6) + "\n" +
               std::string(middle) + "r3 = 0\nr1 = r10\nr1 += -16\ncall 4\nr0 = 0\nexit\nr0 = 0\nexit";
    };
    check_rows({
        row("clang's zero extension, then the length whole to probe_read", linux_kprobe, {}, R"(
            r2 = *(u64 *)(r1 + 8)
            r1 = r2
            r1 <<= 32
            r1 >>= 32
            if r1 > 16 goto +6
            r3 = 0
            r1 = r10
            r1 += -16
            call 4
            r0 = 0
            exit
            r0 = 0
            exit)",
            accepted(11)),
        row("a 32-bit move, then the length whole to probe_read", linux_kprobe, {}, R"(
            r2 = *(u64 *)(r1 + 8)
            w1 = w2
            if r1 > 16 goto +6
            r3 = 0
            r1 = r10
            r1 += -16
            call 4
            r0 = 0
            exit
            r0 = 0
            exit)",
            accepted(9)),
        row("a copy of the length keeps its low half", linux_kprobe, {}, R"(
            r6 = *(u64 *)(r1 + 8)
            w1 = w6
            if r1 > 16 goto +7
            r2 = r6
            r3 = 0
            r1 = r10
            r1 += -16
            call 4
            r0 = 0
            exit
            r0 = 0
            exit)",
            accepted(10)),
        row("the length changed after its low half was checked", linux_kprobe, {}, R"(
            r2 = *(u64 *)(r1 + 8)
            w1 = w2
            if r1 > 16 goto +7
            r2 += 1
            r3 = 0
            r1 = r10
            r1 += -16
            call 4
            r0 = 0
            exit
            r0 = 0
            exit)",
            rejected(7, "Upper bound must be at most r10", "valid_access(r1.offset, width=r2)")),
        row("a helper whose size is 64 bits reads it whole", linux_kprobe, {}, R"(
            r2 = *(u64 *)(r1 + 8)
            w1 = w2
            if r1 > 16 goto +5
            r1 = r10
            r1 += -16
            call 16
            r0 = 0
            exit
            r0 = 0
            exit)",
            rejected_among(2, 5, "Upper bound must be at most r10", "valid_access(r1.offset, width=r2)")),
        // Spilled and filled, the length keeps its low half (Falco: `ulen` checked in 32 bits, spilled, used later).
        row("the length spilled whole after its low half was checked", linux_kprobe, {},
            checked_then("*(u64 *)(r10 - 24) = r6\nr6 = 0\nr2 = *(u64 *)(r10 - 24)\nr2 <<= 32\nr2 >>= 32\n"),
            accepted(14)),
        row("its low 4 bytes spilled hold the checked half", linux_kprobe, {},
            checked_then("*(u32 *)(r10 - 24) = r6\nr2 = *(u32 *)(r10 - 24)\n"), accepted(11)),
        row("a spilled length whose slot was overwritten", linux_kprobe, {},
            checked_then("*(u64 *)(r10 - 24) = r6\nr7 = *(u64 *)(r1 + 16)\n*(u64 *)(r10 - 24) = r7\nr2 = *(u64 *)(r10 "
                         "- 24)\nr2 <<= 32\nr2 >>= 32\n"),
            rejected_among(2, 12, "Upper bound must be at most r10", "valid_access(r1.offset, width=r2)")),
        row("a spilled length's low half overwritten", linux_kprobe, {},
            checked_then("*(u64 *)(r10 - 24) = r6\nr7 = 1000\n*(u32 *)(r10 - 24) = r7\nr2 = *(u64 *)(r10 - 24)\nr2 <<= "
                         "32\nr2 >>= 32\n"),
            rejected(12, "Upper bound must be at most r10", "valid_access(r1.offset, width=r2)")),
        // Kept by a caller's frame across a local call (r6-r9 are saved), the low half returns with the register.
        row("the length kept across a local call", linux_kprobe, {}, R"(
            r6 = *(u64 *)(r1 + 8)
            w1 = w6
            if r1 > 16 goto +10
            call pc+11
            r2 = r6
            r2 <<= 32
            r2 >>= 32
            r3 = 0
            r1 = r10
            r1 += -16
            call 4
            r0 = 0
            exit
            r0 = 0
            exit
            r6 = 5000
            r0 = 0
            exit)",
            accepted(16)),
        // A constant's low half is exact: -22 is 0xffffffea, not zero.
        row("a constant zero-extended", linux_kprobe, {}, R"(
            r3 = -22
            r2 = r3
            r2 <<= 32
            r2 >>= 32
            r0 = 0
            r4 = 4294967274 ll
            if r2 == r4 goto +1
            r0 = *(u8 *)(r10 + 0)
            exit)",
            accepted(8)),
    });
}

// probe_read*_str stops at the string's NUL: a string the program wrote into its stack (Falco's "<NA>") may be read
// with a larger size when the analysis knows where its NUL is, every byte before it written.
TEST_CASE("verifier asm: probe_read_str of a string in the stack reads up to its NUL") {
    const std::string head = R"(
            *(u32 *)(r10 - 16) = 1044467260
            )";
    const std::string tail = R"(
            r1 = r10
            r1 += -64
            r2 = 48
            r3 = r10
            r3 += -16
            call 45
            r0 = 0
            exit)";
    check_rows({
        row("a NUL after the text", linux_kprobe, {}, head + "*(u8 *)(r10 - 12) = 0" + tail, accepted(10)),
        row("the NUL of a wider constant", linux_kprobe, {}, head + "*(u32 *)(r10 - 12) = 65" + tail, accepted(10)),
        row("an unknown byte, then the NUL", linux_kprobe, {}, R"(
            r6 = *(u64 *)(r1 + 8)
            *(u8 *)(r10 - 12) = r6
            *(u8 *)(r10 - 11) = 0)" + head + tail,
            accepted(12)),
        row("no NUL", linux_kprobe, {}, head + "*(u32 *)(r10 - 12) = 1094795585" + R"(
            *(u64 *)(r10 - 8) = -1)" + tail,
            rejected(8, "Upper bound must be at most r10", "valid_access(r3.offset, width=r2)")),
        row("an unwritten byte before the NUL", linux_kprobe, {}, head + "*(u8 *)(r10 - 11) = 0" + tail,
            rejected(7, "Upper bound must be at most r10", "valid_access(r3.offset, width=r2)")),
        row("probe_read reads the whole size", linux_kprobe, {}, head + "*(u8 *)(r10 - 12) = 0" + R"(
            r1 = r10
            r1 += -64
            r2 = 48
            r3 = r10
            r3 += -16
            call 4
            r0 = 0
            exit)",
            rejected(7, "Upper bound must be at most r10", "valid_access(r3.offset, width=r2)")),
    });
}

// tc's socket lookups return a host object (or 0) that sk_release takes; their netns and flags are numbers, as every
// plain argument of a helper but probe_read*'s address: a pointer there would tell the host an address (attack round
// 41 found stack, context, map and packet pointers taken there, read as probe_read reads its source).
TEST_CASE("verifier asm: plain arguments of helpers that read host memory are numbers") {
    const std::string lookup = R"(
            *(u64 *)(r10 - 16) = 0
            *(u64 *)(r10 - 8) = 0
            r2 = r10
            r2 += -16
            r3 = 12
            )";
    const std::string release = R"(
            call 84
            if r0 == 0 goto +3
            r6 = *(u32 *)(r0 + 72)
            r1 = r0
            call 86
            r0 = 0
            exit)";
    check_rows({
        row("a lookup, a field read through it, its release", linux_tc, {}, lookup + "r4 = -1\nr5 = 0" + release,
            accepted(14)),
        row("a stack pointer as the namespace", linux_tc, {}, lookup + "r4 = r10\nr4 += -16\nr5 = 0" + release,
            rejected(8, "r4 must be a number", "r4.type == number")),
        row("the context as the flags", linux_tc, {}, lookup + "r4 = -1\nr5 = r1" + release,
            rejected(7, "r5 must be a number", "r5.type == number")),
        row("a stack pointer released", linux_tc, {}, lookup + R"(r4 = -1
            r5 = 0
            call 84
            r1 = r10
            call 86
            r0 = 0
            exit)",
            rejected(9, "r1 must be a number (a host object's address)", "r1.type == number")),
        row("get_branch_snapshot's flags", linux_kprobe, {}, R"(
            r1 = r10
            r1 += -64
            r2 = 64
            r3 = r10
            call 176
            r0 = 0
            exit)",
            rejected(4, "r3 must be a number", "r3.type == number")),
        row("get_task_stack's flags", linux_tracing, {}, R"(
            r6 = *(u64 *)(r1 + 0)
            r1 = r6
            r2 = r10
            r2 += -64
            r3 = 64
            r4 = r10
            call 141
            r0 = 0
            exit)",
            rejected(6, "r4 must be a number", "r4.type == number")),
    });
}

// sk_storage_get(map, sk, value or null, flags): the socket a host object (a sock_addr context's sk), the value the
// storage starts with either null or readable memory of the map's value size, the result a value of the map or null.
TEST_CASE("verifier asm: sk_storage_get of a context's socket") {
    const std::string head = R"(
            r6 = r1
            r2 = *(u64 *)(r6 + 64)
            r1 = map_by_idx(0) ll
            )";
    const std::string tail = R"(
            r4 = 1
            call 107
            if r0 == 0 goto +2
            r1 = 7
            *(u64 *)(r0 + 8) = r1
            r0 = 1
            exit)";
    check_rows({
        row("no initial value", linux_sock_addr, {sk_storage_map()}, head + "r3 = 0" + tail, accepted(11)),
        row("an initial value of the value's size", linux_sock_addr, {sk_storage_map()},
            head + "*(u64 *)(r10 - 16) = 0\n*(u64 *)(r10 - 8) = 0\nr3 = r10\nr3 += -16" + tail, accepted(14)),
        row("an initial value shorter than the value", linux_sock_addr, {sk_storage_map()},
            head + "*(u64 *)(r10 - 8) = 0\nr3 = r10\nr3 += -8" + tail,
            rejected(8, "Upper bound must be at most r10", "valid_access(r3.offset, width=16)")),
        row("a number that may not be null as the value", linux_sock_addr, {sk_storage_map()}, head + "r3 = 8" + tail,
            rejected(6, "r3 may be null; compare it with 0 first", "r3 != null")),
        row("the storage used before its null check", linux_sock_addr, {sk_storage_map()}, head + R"(r3 = 0
            r4 = 1
            call 107
            r1 = 7
            *(u64 *)(r0 + 8) = r1
            r0 = 1
            exit)",
            rejected(8, "r0 may be null; compare it with 0 first", "r0 != null")),
        row("a map of another kind", linux_sock_addr, {hash_map()}, head + "r3 = 0" + tail,
            rejected_among(2, 6, "Map table of kind hash cannot be used with helper sk_storage_get",
                           "r1.map.kind fits sk_storage_get")),
    });
}

// get_local_storage(map, 0): the cgroup's storage in a cgroup_storage map, a value that is never null, which may hold
// a spin lock (the selftests' bpf_spin_lock_test).
TEST_CASE("verifier asm: get_local_storage") {
    MapDescriptor storage{"storage", MapKind::cgroup_storage, 16, 16, 0, std::nullopt, false, {}};
    storage.spin_lock = 8;
    const std::string head = R"(
            r1 = map_by_idx(0) ll
            r2 = 0
            call 81
            r6 = r0
            )";
    check_rows({
        row("the storage used without a null check", linux_cgroup_skb, {storage}, head + R"(r1 = 7
            *(u64 *)(r6 + 0) = r1
            r0 = 1
            exit)",
            accepted(8)),
        row("its lock taken and released", linux_cgroup_skb, {storage}, head + R"(r1 = r6
            r1 += 8
            call 93
            r1 = *(u64 *)(r6 + 0)
            r1 += 1
            *(u64 *)(r6 + 0) = r1
            r1 = r6
            r1 += 8
            call 94
            r0 = 1
            exit)",
            accepted(15)),
        row("past the value", linux_cgroup_skb, {storage}, head + R"(r1 = 7
            *(u64 *)(r6 + 16) = r1
            r0 = 1
            exit)",
            rejected(6, "Upper bound must be at most the value size 16", "valid_access(r6.offset+16, width=8)")),
        row("a map of another kind", linux_cgroup_skb, {array_map()}, head + R"(r0 = 1
            exit)",
            rejected(3, "Map values of kind array cannot be used with helper get_local_storage",
                     "r1.map.kind fits get_local_storage")),
    });
}

// A copy of an unbounded number, or the number plus a constant where the sum may wrap, stays linked to it modulo
// 2^64: a later bound on one that rules the wrap out bounds the other (Falco: `r2 = r1; r2 += 2; if r2 > 131071`, then
// r1 used as an offset, in [-2, 131069]).
TEST_CASE("verifier asm: a sum that may wrap stays linked to its operand") {
    // r1 used as an offset into the stack after the check, and the byte at r3 + k written.
    const auto use_r1 = [](std::string_view check, int k) {
        return "\n            r0 = 0\n            if " + std::string(check) +
               " goto +4\n            r3 = r10\n            r3 += -80\n            r3 += r1\n            *(u8 *)(r3 "
               "+ " +
               std::to_string(k) + ") = 0\n            exit";
    };
    // A length loaded with `load`, spilled, less `less`, zero-extended, checked against 127, and the spilled value
    // passed whole to helper `helper` as the size of a 128-byte stack buffer.
    const auto length_less = [](std::string_view load, int less, int helper) {
        return "r1 = *(" + std::string(load) + " *)(r1 + 8)\n*(u64 *)(r10 - 144) = r1\nr1 += " + std::to_string(less) +
               "\nr1 <<= 32\nr1 >>= 32\nr0 = 0\nif r1 > 127 goto +5\nr2 = *(u64 *)(r10 - 144)\nr1 = r10\n"
               "r1 += -128\nr3 = 0\ncall " +
               std::to_string(helper) + "\nexit";
    };
    check_rows({
        row("a copy checked, the original used", linux_kprobe, {}, R"(
            r1 = *(u64 *)(r1 + 8)
            r2 = r1)" + use_r1("r2 > 64", 0),
            accepted(9)),
        row("a sum checked, its operand used", linux_kprobe, {}, R"(
            r1 = *(u64 *)(r1 + 8)
            r2 = r1
            r2 += 2)" + use_r1("r2 > 64", 2),
            accepted(10)),
        // r1 may be -2 or -1 (the sum wrapped to 0 or 1): 2 bytes below r10 - 512.
        row("a sum checked, its operand wraps below the stack", linux_kprobe, {}, R"(
            r1 = *(u64 *)(r1 + 8)
            r2 = r1
            r2 += 2
            r0 = 0
            if r2 > 64 goto +4
            r3 = r10
            r3 += -512
            r3 += r1
            *(u8 *)(r3 + 0) = 0
            exit)",
            rejected(8, "Lower bound must be at least r10-512", "valid_access(r3.offset, width=1)")),
        row("a difference checked, its operand used", linux_kprobe, {}, R"(
            r1 = *(u64 *)(r1 + 8)
            r2 = r1
            r2 -= 5
            r0 = 0
            if r2 > 10 goto +4
            r3 = r10
            r3 += -20
            r3 += r1
            *(u8 *)(r3 - 1) = 0
            exit)",
            accepted(10)),
        row("a sum of a sum, checked", linux_kprobe, {}, R"(
            r1 = *(u64 *)(r1 + 8)
            r2 = r1
            r2 += 2
            r4 = r2
            r4 += 3)" + use_r1("r4 > 64", 5),
            accepted(12)),
        row("the operand changed after the sum", linux_kprobe, {}, R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 8)
            r2 = r1
            r2 += 2
            r1 = *(u64 *)(r6 + 16))" + use_r1("r2 > 64", 2),
            rejected_among(3, 9, "Pointer offset must stay within [-32768, 536870912]",
                           "r3.offset in [-32768, 536870912]")),
        row("the sum changed after it was taken", linux_kprobe, {}, R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 8)
            r2 = r1
            r2 += 2
            r2 = *(u64 *)(r6 + 16))" + use_r1("r2 > 64", 2),
            rejected_among(3, 9, "Pointer offset must stay within [-32768, 536870912]",
                           "r3.offset in [-32768, 536870912]")),
        // Joined with a path where the two are unrelated, the link is gone.
        row("a link on one path only", linux_kprobe, {}, R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 8)
            r2 = r1
            r2 += 2
            r7 = *(u64 *)(r6 + 24)
            if r7 == 0 goto +1
            r2 = *(u64 *)(r6 + 16))" + use_r1("r2 > 64", 2),
            rejected_among(3, 11, "Pointer offset must stay within [-32768, 536870912]",
                           "r3.offset in [-32768, 536870912]")),
        // A length loaded in 32 bits and spilled, less one, zero-extended and checked (Falco's `ulen - 1 > 127`): the
        // low half is the length minus one modulo 2^32, and 0 would have wrapped to 2^32 - 1, so the spilled length is
        // in [1, 128].
        row("a 32-bit length less one, checked in its low half", linux_kprobe, {}, length_less("u32", -1, 4),
            accepted(13)),
        // Less two, 1 would have wrapped to 2^32 - 1 and 0 to 2^32 - 2, both out: [2, 129], one too many.
        row("a 32-bit length less two, checked against one too many", linux_kprobe, {}, length_less("u32", -2, 4),
            rejected(11, "Upper bound must be at most r10", "valid_access(r1.offset, width=r2)")),
        // A 64-bit value: its low half in [0, 127] says nothing of it (2^32 + 5 has the low half 5).
        row("a 64-bit length less one, checked in its low half", linux_kprobe, {}, length_less("u64", -1, 16),
            rejected_among(2, 11, "Upper bound must be at most r10", "valid_access(r1.offset, width=r2)")),
        // On both paths the same link (one exact, one modular): kept.
        row("a link on both paths", linux_kprobe, {}, R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 8)
            r7 = *(u64 *)(r6 + 24)
            if r7 == 0 goto +1
            r1 &= 1023
            r2 = r1
            r2 += 2)" + use_r1("r2 > 64", 2),
            accepted(14)),
    });
}

// A map type the platform names but embpf does not implement (Linux's arena) leaves the object describable: only a
// program that refers to the map, or to a map of maps holding it, is refused.
TEST_CASE("verifier asm: maps embpf cannot make refuse only the programs that use them") {
    const platform::Platform& linux_platform = platform::linux();
    embpf::elf::MapDefinition arena;
    arena.name = "arena";
    arena.type = 33;
    arena.max_entries = 10;
    embpf::elf::MapDefinition array;
    array.name = "values";
    array.type = 2;
    array.key_size = 4;
    array.value_size = 8;
    array.max_entries = 1;
    embpf::elf::MapDefinition outer = array;
    outer.name = "outer";
    outer.type = 12; // array of maps whose template is the arena
    outer.value_size = 4;
    outer.inner_map = 0;
    auto maps = verifier::describe_maps(std::vector<embpf::elf::MapDefinition>{arena, array, outer}, linux_platform);
    REQUIRE_MESSAGE(maps.has_value(), (maps ? "" : maps.error().message));
    CHECK((*maps)[0].unsupported == "map arena: map type 33 (arena) of platform linux is not supported by embpf");
    CHECK((*maps)[1].unsupported.empty());
    auto verify_with = [&](std::string_view text) {
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        const verifier::ProgramInput input{"p", "xdp", *program, {}, {}, *maps};
        return verifier::verify(input, linux_platform, *linux_platform.program_type("xdp"));
    };
    CHECK(verify_with("r1 = map_by_idx(1) ll\nr0 = 2\nexit").verified);
    for (const std::string_view text : {"r1 = map_by_idx(0) ll\nr0 = 2\nexit", "r1 = map_by_idx(2) ll\nr0 = 2\nexit"}) {
        CAPTURE(text);
        const verifier::Report refused = verify_with(text);
        REQUIRE_FALSE(refused.verified);
        REQUIRE(refused.errors.size() == 1);
        CHECK(refused.errors[0].message ==
              "map arena: map type 33 (arena) of platform linux is not supported by embpf");
    }
    // A number no Linux map type has is still an error of the object.
    arena.type = 999;
    auto unknown = verifier::describe_maps(std::vector<embpf::elf::MapDefinition>{arena}, linux_platform);
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().message == "map arena: unknown map type 999 for platform linux");
}

// `call kfunc 0` is a call to a weak kernel function the loader found absent (its address is 0): refused where a run
// reaches it, harmless where none does.
TEST_CASE("verifier asm: a call to an absent weak kernel function") {
    const platform::Platform& linux_platform = platform::linux();
    auto verify_text = [&](std::string_view text) {
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        const verifier::ProgramInput input{"p", "socket", *program, {}, {}, {}};
        return verifier::verify(input, linux_platform, *linux_platform.program_type("socket_filter"));
    };
    const verifier::Report reached = verify_text("r1 = 3\ncall kfunc 0\nr0 = 0\nexit");
    REQUIRE_FALSE(reached.verified);
    CHECK(reached.errors[0].message ==
          "Call to a weak kernel function the platform does not provide (test its address, which is 0, first)");
    const verifier::Report tested = verify_text("r0 = 7\nr1 = 0 ll\nif r1 == 0 goto +2\ncall kfunc 0\nr0 = 1\nexit");
    CHECK_MESSAGE(tested.verified, tested.text());
    CHECK(verify_text("r1 = 3\ncall kfunc 12\nr0 = 0\nexit").errors[0].message ==
          "Calls to kernel functions are not supported");
}

// fentry, tp_btf and lsm programs read the objects their hook hands them (kernel objects in the kernel) directly:
// their arguments are host addresses, read through with probe loads, never written through.
TEST_CASE("verifier asm: host addresses a tracing hook hands over") {
    const platform::Platform linux_platform = platform::linux();
    auto verify_as = [&](const platform::Platform& p, std::string_view type, std::string_view text) {
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        const verifier::ProgramInput input{"host", std::string(type), *program, {}, {}, {}};
        return verifier::verify(input, p, *p.program_type(type));
    };
    // An argument, a field of the object it points to, an object a field points to, and one of its fields.
    const std::string_view chain = R"(
        r6 = *(u64 *)(r1 + 8)
        if r6 == 0 goto +6
        r0 = *(u32 *)(r6 + 16)
        r7 = *(u64 *)(r6 + 24)
        r7 += 8
        r2 = *(u8 *)(r7 + 0)
        r0 += r2
        r0 &= 1
        r0 = 0
        exit)";
    for (const std::string_view type : {"tracing", "lsm"}) {
        CAPTURE(type);
        const verifier::Report report = verify_as(linux_platform, type, chain);
        CHECK_MESSAGE(report.verified, report.text());
        CHECK(report.probe_loads == std::vector<std::uint32_t>{2, 3, 5});
        // Each is a system call's read of the host: it counts as much in the cost bound.
        REQUIRE(report.instruction_bound.has_value());
        CHECK(report.cost_bound == *report.instruction_bound + 3 * platform::kProbeLoadCost);
    }
    // A raw tracepoint's arguments are numbers only probe_read follows, as in the kernel.
    const verifier::Report raw = verify_as(linux_platform, "raw_tracepoint", chain);
    REQUIRE_FALSE(raw.verified);
    CHECK(raw.errors[0].message == "r6 is not a pointer");
    CHECK(raw.probe_loads.empty());
    // A 4-byte part of an argument, or a number computed from one, is a plain number.
    const verifier::Report half =
        verify_as(linux_platform, "tracing", "r6 = *(u32 *)(r1 + 8)\nr0 = *(u8 *)(r6 + 0)\nexit");
    REQUIRE_FALSE(half.verified);
    CHECK(half.errors[0].message == "r6 is not a pointer");
    const verifier::Report scaled =
        verify_as(linux_platform, "tracing", "r6 = *(u64 *)(r1 + 8)\nr6 *= 2\nr0 = *(u8 *)(r6 + 0)\nexit");
    REQUIRE_FALSE(scaled.verified);
    CHECK(scaled.errors[0].message == "r6 is not a pointer");
    const verifier::Report difference =
        verify_as(linux_platform, "tracing",
                  "r6 = *(u64 *)(r1 + 8)\nr7 = *(u64 *)(r1 + 0)\nr6 -= r7\nr0 = *(u8 *)(r6 + 0)\nexit");
    REQUIRE_FALSE(difference.verified);
    CHECK(difference.errors[0].message == "r6 is not a pointer");
    // Never written through, nor handed to a helper as memory.
    for (const std::string_view text : {"r6 = *(u64 *)(r1 + 0)\n*(u32 *)(r6 + 0) = 1\nr0 = 0\nexit",
                                        "r6 = *(u64 *)(r1 + 0)\nr7 = 1\nlock *(u64 *)(r6 + 0) += r7\nr0 = 0\nexit",
                                        "r1 = *(u64 *)(r1 + 0)\nr2 = 8\ncall 16\nr0 = 0\nexit"}) {
        CAPTURE(text);
        const verifier::Report written = verify_as(linux_platform, "tracing", text);
        REQUIRE_FALSE(written.verified);
        CHECK(written.errors[0].message.find("is a host address: programs read fields through it, and never write it "
                                             "or hand it to helpers as memory") != std::string::npos);
    }
    // A host address on one path and a number on the other joins as a host address: probe loads are safe anywhere.
    const verifier::Report joined = verify_as(linux_platform, "tracing", R"(
        r6 = *(u64 *)(r1 + 0)
        r2 = *(u64 *)(r1 + 8)
        if r2 == 0 goto +1
        r6 = 64
        r0 = *(u8 *)(r6 + 0)
        r0 = 0
        exit)");
    CHECK_MESSAGE(joined.verified, joined.text());
    CHECK(joined.probe_loads == std::vector<std::uint32_t>{4});
    // A platform for untrusted plugins reads no host memory.
    platform::Platform untrusted = platform::linux();
    untrusted.set_for_untrusted_plugins(true);
    const verifier::Report refused = verify_as(untrusted, "tracing", chain);
    REQUIRE_FALSE(refused.verified);
    CHECK(refused.errors[0].message ==
          "r6 is a host address, which only a platform for trusted plugins lets programs read");
    CHECK(refused.probe_loads.empty());
}

// Helpers of tracing programs that take a host object (a socket or task the hook handed over) and hand one back.
TEST_CASE("verifier asm: helpers that take and return host objects") {
    const platform::Platform linux_platform = platform::linux();
    auto verify_as = [&](std::string_view type, std::string_view text) {
        auto program = embpf::isa::assemble(text);
        REQUIRE(program.has_value());
        const verifier::ProgramInput input{"objects", std::string(type), *program, {}, {}, {}};
        return verifier::verify(input, linux_platform, *linux_platform.program_type(type));
    };
    // skc_to_tcp_sock(sk): the socket as a TCP socket, or 0; its fields are read with probe loads.
    const std::string_view cast = R"(
        r1 = *(u64 *)(r1 + 0)
        call 137
        if r0 == 0 goto +1
        r0 = *(u32 *)(r0 + 1800)
        r0 = 0
        exit)";
    const verifier::Report tracing = verify_as("tracing", cast);
    CHECK_MESSAGE(tracing.verified, tracing.text());
    CHECK(tracing.probe_loads == std::vector<std::uint32_t>{3});
    // Kprobes do not have the casts (tracing_prog_func_proto() grants them, bpf_tracing_func_proto() does not).
    const verifier::Report kprobe = verify_as("kprobe", cast);
    REQUIRE_FALSE(kprobe.verified);
    CHECK(kprobe.errors[0].message == "Helper 137 is not available to program type kprobe");
    // A pointer the program holds would come back as a number: its address.
    for (const std::string_view text : {"r1 = r10\nr1 += -8\ncall 137\nr0 = 0\nexit", "call 137\nr0 = 0\nexit"}) {
        CAPTURE(text);
        const verifier::Report pointer = verify_as("tracing", text);
        REQUIRE_FALSE(pointer.verified);
        CHECK(pointer.errors[0].message == "r1 must be a number (a host object's address)");
        CHECK(pointer.errors[0].assertion == "r1.type == number");
    }
    // The result is never memory the program may write, nor a map.
    const verifier::Report written = verify_as("tracing", R"(
        r1 = *(u64 *)(r1 + 0)
        call 137
        if r0 == 0 goto +1
        *(u32 *)(r0 + 0) = 1
        r0 = 0
        exit)");
    REQUIRE_FALSE(written.verified);
    CHECK(written.errors[0].message.find("is a host address") != std::string::npos);
    // seq_write(seq, data, len): an iterator's seq_file (ctx->meta->seq) takes the bytes.
    const verifier::Report seq = verify_as("tracing", R"(
        r6 = *(u64 *)(r1 + 0)
        r1 = *(u64 *)(r6 + 0)
        *(u64 *)(r10 - 8) = 7
        r2 = r10
        r2 += -8
        r3 = 8
        call 127
        r0 = 0
        exit)");
    CHECK_MESSAGE(seq.verified, seq.text());
    CHECK(seq.probe_loads == std::vector<std::uint32_t>{1});
    // get_task_stack(task, buf, size, flags) writes the stack buffer; any part of it on some returns.
    const verifier::Report stack = verify_as("kprobe", R"(
        call 158
        r1 = r0
        r2 = r10
        r2 += -64
        r3 = 64
        r4 = 0
        call 141
        r0 = *(u64 *)(r10 - 64)
        exit)");
    REQUIRE_FALSE(stack.verified);
    CHECK(stack.errors[0].message == "Stack content is not initialized");
}

TEST_SUITE_END();

// Linux's 32-bit packet pointer fields: each load of one runs as an 8-byte load of the host's pointer behind the
// struct (ContextDescriptor::host_offset), so every run reaching it must load that field, from the same offset.
TEST_CASE("verifier asm: loads of 32-bit packet pointer fields become loads of the host's pointers") {
    const platform::Platform& linux_platform = platform::linux();
    const platform::ProgramType& xdp = *linux_platform.program_type("xdp");
    REQUIRE(xdp.context.host_size() == 48);
    auto verify_text = [&](std::string_view name, std::string_view text,
                           const platform::ProgramType& type) -> verifier::Report {
        auto program = embpf::isa::assemble(text);
        REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
        const verifier::ProgramInput input{std::string(name), type.name, *program, {}, {}, {}};
        return verifier::verify(input, linux_platform, type);
    };
    using Load = verifier::Report::ContextLoad;

    SUBCASE("data, data_end and data_meta, through r1 and through a copy moved 4 bytes on") {
        const verifier::Report report = verify_text("fields", R"(
            r2 = *(u32 *)(r1 + 0)
            r6 = r1
            r6 += 4
            r3 = *(u32 *)(r6 + 0)
            r4 = *(u32 *)(r1 + 8)
            r5 = *(u32 *)(r1 + 12)
            r0 = 2
            exit)",
                                                    xdp);
        REQUIRE_MESSAGE(report.verified, report.text());
        CHECK(report.context_loads == std::vector<Load>{{0, 24}, {3, 32 - 4}, {4, 40}});
        // The code that runs: 8-byte loads of the pointers, the ifindex load as it was.
        auto program = embpf::isa::assemble("r2 = *(u32 *)(r1 + 0)\nr6 = r1\nr6 += 4\nr3 = *(u32 *)(r6 + 0)\n"
                                            "r4 = *(u32 *)(r1 + 8)\nr5 = *(u32 *)(r1 + 12)\nr0 = 2\nexit");
        REQUIRE(program.has_value());
        const std::vector<embpf::isa::Instruction> code = verifier::rewrite_context_loads(*program, report);
        auto expected = embpf::isa::assemble("r2 = *(u64 *)(r1 + 24)\nr6 = r1\nr6 += 4\nr3 = *(u64 *)(r6 + 28)\n"
                                             "r4 = *(u64 *)(r1 + 40)\nr5 = *(u32 *)(r1 + 12)\nr0 = 2\nexit");
        REQUIRE(expected.has_value());
        CHECK(code == *expected);
    }
    SUBCASE("__sk_buff's fields lie behind its 192 bytes") {
        const platform::ProgramType& tc = *linux_platform.program_type("sched_cls");
        const verifier::Report report = verify_text("skb", R"(
            r2 = *(u32 *)(r1 + 76)
            r3 = *(u32 *)(r1 + 80)
            r0 = 0
            exit)",
                                                    tc);
        REQUIRE_MESSAGE(report.verified, report.text());
        CHECK(report.context_loads == std::vector<Load>{{0, 192}, {1, 200}});
    }
    SUBCASE("one load of data from one call and of ingress_ifindex from another is refused") {
        // Each call of the subprogram is analysed on its own: one reads data, the other ingress_ifindex, through
        // the one instruction.
        const verifier::Report report = verify_text("two fields", R"(
            r6 = r1
            call read
            r1 = r6
            r1 += 12
            call read
            r0 = 2
            exit
        read:
            r0 = *(u32 *)(r1 + 0)
            exit)",
                                                    xdp);
        CHECK_FALSE(report.verified);
        REQUIRE_MESSAGE(report.errors.size() == 1, report.text());
        CHECK(report.errors[0].pc == 7);
        CHECK(report.errors[0].message == "A load of a 32-bit packet pointer field of the context must load that "
                                          "field, from the context at one offset, in every run");
    }
    SUBCASE("one load of data from the context on one path and of the stack on the other is refused") {
        const verifier::Report report = verify_text("context or stack", R"(
            r2 = *(u32 *)(r1 + 12)
            r3 = 0
            *(u64 *)(r10 - 8) = r3
            r6 = r1
            if r2 == 0 goto read
            r6 = r10
            r6 += -8
        read:
            r3 = *(u32 *)(r6 + 0)
            r0 = 2
            exit)",
                                                    xdp);
        CHECK_FALSE(report.verified);
        REQUIRE_MESSAGE(report.errors.size() == 1, report.text());
        CHECK(report.errors[0].pc == 7);
        CHECK(contains(report.errors[0].message, "must load that field, from the context at one offset"));
    }
    SUBCASE("data from one call and data_end from another, through one load, is refused") {
        const verifier::Report report = verify_text("data or data_end", R"(
            r6 = r1
            call read
            r1 = r6
            r1 += 4
            call read
            r0 = 2
            exit
        read:
            r0 = *(u32 *)(r1 + 0)
            r0 = 0
            exit)",
                                                    xdp);
        CHECK_FALSE(report.verified);
        REQUIRE_MESSAGE(report.errors.size() == 1, report.text());
        CHECK(report.errors[0].pc == 7);
        CHECK(contains(report.errors[0].message, "must load that field, from the context at one offset"));
    }
    SUBCASE("the same field from every call, through pointers moved alike, is accepted") {
        const verifier::Report report = verify_text("data twice", R"(
            r6 = r1
            call read
            r1 = r6
            call read
            r0 = 2
            exit
        read:
            r0 = *(u32 *)(r1 + 0)
            r0 = 0
            exit)",
                                                    xdp);
        REQUIRE_MESSAGE(report.verified, report.text());
        CHECK(report.context_loads == std::vector<Load>{{6, 24}});
    }
    SUBCASE("eBPF for Windows' 64-bit fields need no rewrite") {
        const platform::Platform& windows = platform::windows();
        auto program = embpf::isa::assemble("r2 = *(u64 *)(r1 + 0)\nr3 = *(u64 *)(r1 + 8)\nr0 = 1\nexit");
        REQUIRE(program.has_value());
        const verifier::ProgramInput input{"windows", "xdp", *program, {}, {}, {}};
        const verifier::Report report = verifier::verify(input, windows, *windows.program_type("xdp"));
        REQUIRE(report.verified);
        CHECK(report.context_loads.empty());
        CHECK(windows.program_type("xdp")->context.host_size() == windows.program_type("xdp")->context.size);
    }
}

// A host's request hook whose context hands over three memory regions (tests/api/request_hook.hpp).
namespace {

using testing_hooks::request_platform;

const Target request{&request_platform, "request"};

// Reads the last byte of the path, the first 4 of the headers, writes the body's first 2: each after its check.
constexpr std::string_view kEachRegion = R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 8)
            r0 = 0
            if r3 == 0 goto headers
            r4 = r2
            r4 += r3
            r0 = *(u8 *)(r4 - 1)
        headers:
            r2 = *(u64 *)(r1 + 16)
            r3 = *(u64 *)(r1 + 24)
            if r3 < 4 goto body
            r5 = *(u32 *)(r2 + 0)
            r5 &= 0xff
            r0 += r5
        body:
            r2 = *(u64 *)(r1 + 32)
            r3 = *(u32 *)(r1 + 40)
            if r3 < 2 goto out
            *(u16 *)(r2 + 0) = r0
        out:
            exit)";

} // namespace

TEST_CASE("verifier asm: a context's memory regions, each proven in its own bounds") {
    check_rows({
        row("regions: each region after its own check", request, {}, kEachRegion, accepted(18)),
        row("regions: the byte at the path's length", request, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 8)
            r0 = 0
            if r3 == 0 goto out
            r4 = r2
            r4 += r3
            r0 = *(u8 *)(r4 + 0)
        out:
            exit)",
            rejected(6, "Upper bound must be at most the size of path", "valid_access(r4.offset, width=1)")),
        row("regions: the headers' fourth byte after a check of three", request, {}, R"(
            r2 = *(u64 *)(r1 + 16)
            r3 = *(u64 *)(r1 + 24)
            r0 = 0
            if r3 < 3 goto out
            r0 = *(u8 *)(r2 + 3)
        out:
            exit)",
            rejected(4, "Upper bound must be at most the size of headers", "valid_access(r2.offset+3, width=1)")),
        row("regions: the body's byte at an index one past the check", request, {}, R"(
            r2 = *(u64 *)(r1 + 32)
            r3 = *(u32 *)(r1 + 40)
            r4 = *(u32 *)(r1 + 12)
            r0 = 0
            if r4 > r3 goto out
            r2 += r4
            r0 = *(u8 *)(r2 + 0)
        out:
            exit)",
            rejected(6, "Upper bound must be at most the size of body", "valid_access(r2.offset, width=1)")),
        row("regions: the body's byte at an index below its length", request, {}, R"(
            r2 = *(u64 *)(r1 + 32)
            r3 = *(u32 *)(r1 + 40)
            r4 = *(u32 *)(r1 + 12)
            r0 = 0
            if r4 >= r3 goto out
            r2 += r4
            r0 = *(u8 *)(r2 + 0)
        out:
            exit)",
            accepted(8)),
        row("regions: the headers' length does not bound the path", request, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 24)
            r0 = 0
            if r3 < 1 goto out
            r0 = *(u8 *)(r2 + 0)
        out:
            exit)",
            rejected(4, "Upper bound must be at most the size of path", "valid_access(r2.offset, width=1)")),
        row("regions: no write into the path", request, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u32 *)(r1 + 8)
            r0 = 0
            if r3 < 1 goto out
            *(u8 *)(r2 + 0) = r0
        out:
            exit)",
            rejected(4, "The memory path of request is read-only", "writable(path)")),
        row("regions: pointers into two regions do not compare", request, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 16)
            r0 = 0
            if r2 > r3 goto out
            r0 = 1
        out:
            exit)",
            rejected(3, "Comparison of pointers to different regions")),
        row("regions: nor subtract", request, {}, R"(
            r2 = *(u64 *)(r1 + 0)
            r3 = *(u64 *)(r1 + 16)
            r2 -= r3
            r0 = 0
            exit)",
            rejected(2, "Invalid operation on a pointer")),
        row("regions: a pointer field is read whole", request, {}, R"(
            r2 = *(u32 *)(r1 + 0)
            r0 = 0
            exit)",
            rejected(0, "Context offset 0 width 4 is not a field of request", "ctx_field(0, 4)")),
        row("regions: nor written", request, {}, R"(
            r2 = 0x10000
            *(u64 *)(r1 + 0) = r2
            r0 = 0
            exit)",
            rejected(1, "Context field path is read-only", "writable(ctx.path)")),
        row("regions: a region pointer is not a number to return", request, {}, R"(
            r0 = *(u64 *)(r1 + 16)
            exit)",
            rejected(1, "r0 must be a number", "r0.type == number")),
    });
}

TEST_CASE("verifier asm: memory region fields are validated when the type is added") {
    platform::Platform p = platform::windows();
    platform::ProgramType type = *request_platform().program_type("request");
    type.name = "bad";
    type.section_prefixes = {"bad"};
    SUBCASE("a pointer that is not 8 bytes") {
        type.context.fields[0].size = 4;
        type.context.fields[0].name = "path";
        type.context.fields.erase(type.context.fields.begin() + 1); // path_len would overlap nothing; keep it simple
        type.context.fields[0].size_field.clear();
        const auto refused = p.add_program_type(type);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "memory field path must be an 8-byte pointer"));
    }
    SUBCASE("a size field that is writable") {
        type.context.fields[7].name = "status";
        type.context.fields[0].size_field = "status";
        const auto refused = p.add_program_type(type);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "the size of memory field path must be a read-only"));
    }
    SUBCASE("a size field that names nothing") {
        type.context.fields[3].size_field = "nothing";
        const auto refused = p.add_program_type(type);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "nothing is not"));
    }
    SUBCASE("a region too large") {
        type.context.fields[5].memory_size = platform::kMaxRegionSize + 1;
        const auto refused = p.add_program_type(type);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "memory field body may hold at most"));
    }
}

// Attack round 55: of `rX <<= k; rX s>>= k` (or `>>=`) whose value does not fit, the right shift took the left one's
// result for a value that fits and skipped itself: r8 was held at x << 29 where it is -1, the branch on -1 held
// unreachable, and its store far above the stack was never checked.
TEST_CASE("verifier asm: a shift pair whose value does not fit is two shifts") {
    check_rows({
        row("arithmetic: the pair's result, not the left shift's", windows_xdp, {}, R"(
            r8 = 0x3fffffffffffff ll
            r8 <<= 29
            r8 s>>= 29
            if r8 == -1 goto bad
            r0 = 0
            exit
        bad:
            r1 = r10
            r1 += 4000
            r0 = 1
            *(u64 *)(r1 + 0) = r0
            exit)",
            rejected_among(2, 10, "Upper bound must be at most r10", "valid_access(r1.offset, width=8)")),
        row("logical: the same", windows_xdp, {}, R"(
            r8 = 0xc6ff023952010852 ll
            r8 <<= 2
            r8 >>= 2
            r9 = 0x6ff023952010852 ll
            if r8 == r9 goto bad
            r0 = 0
            exit
        bad:
            r1 = r10
            r1 += 4000
            r0 = 1
            *(u64 *)(r1 + 0) = r0
            exit)",
            rejected_among(2, 12, "Upper bound must be at most r10", "valid_access(r1.offset, width=8)")),
    });
}
