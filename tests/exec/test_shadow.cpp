// The checked interpreter's initialization shadow: stack bytes (and bytes of memory a helper hands out
// uninitialized) are readable only once the program, or a helper by its prototype's `writes` contract, wrote them.
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace {

using embpf::Result;
using embpf::exec::CheckedOptions;
using embpf::exec::CheckedOutcome;
using embpf::exec::HelperTable;
using embpf::exec::Interpreter;
using embpf::exec::MemoryRegion;

void* as_ptr(std::uint64_t value) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(value)); }

// Stand-ins for eBPF for Windows' helpers, by the ids of platform::windows().
std::uint64_t fake_memcpy_s(std::uint64_t dst, std::uint64_t size, std::uint64_t src, std::uint64_t n, std::uint64_t) {
    if (n > size) {
        return 22; // EINVAL: writes nothing
    }
    std::memmove(as_ptr(dst), as_ptr(src), n);
    return 0;
}
std::uint64_t fake_memset(std::uint64_t dst, std::uint64_t size, std::uint64_t value, std::uint64_t, std::uint64_t) {
    std::memset(as_ptr(dst), static_cast<int>(value), size);
    return 0;
}
std::uint64_t fake_strncpy_s(std::uint64_t dst, std::uint64_t size, std::uint64_t, std::uint64_t, std::uint64_t) {
    if (size > 0) {
        std::memset(as_ptr(dst), 0, 1);
    }
    return 0;
}
alignas(8) std::array<std::uint8_t, 16> g_record{};
std::uint64_t fake_reserve(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    return reinterpret_cast<std::uintptr_t>(g_record.data());
}
// A new 16-byte record at each call, in order through a large buffer (wrapping around).
alignas(8) std::array<std::uint8_t, 16 * 4096> g_records{};
std::size_t g_next_record = 0;
std::uint64_t fake_reserve_next(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    const std::size_t k = g_next_record++ % 4096;
    return reinterpret_cast<std::uintptr_t>(g_records.data() + 16 * k);
}

// eBPF for Windows' helpers, and one whose contract proves nothing written (Writes::some), as a host may declare.
constexpr std::uint32_t kSomeWriter = 5000;
const embpf::platform::Platform& shadow_platform() {
    static const embpf::platform::Platform platform = [] {
        embpf::platform::Platform p = embpf::platform::windows();
        embpf::platform::HelperPrototype some = embpf::platform::proto(
            embpf::platform::ret::integer, embpf::platform::arg::ptr_to_writable_mem, embpf::platform::arg::const_size);
        some.id = kSomeWriter;
        some.name = "write_some";
        some.any_program_type = true;
        some.writes = embpf::platform::Writes::some;
        REQUIRE(p.add_helper(some).has_value());
        return p;
    }();
    return platform;
}

CheckedOptions shadow_options() {
    CheckedOptions options;
    options.check_initialization = true;
    options.platform = &shadow_platform();
    options.program_type = shadow_platform().program_type("xdp");
    return options;
}

Result<CheckedOutcome> run(const std::string& text, const CheckedOptions& options = shadow_options()) {
    auto code = embpf::isa::assemble(text);
    REQUIRE_MESSAGE(code.has_value(), text);
    HelperTable helpers;
    helpers.set(22, &fake_memcpy_s);
    helpers.set(24, &fake_memset);
    helpers.set(27, &fake_strncpy_s);
    helpers.set(28, &fake_strncpy_s);
    helpers.set(kSomeWriter, &fake_strncpy_s);
    helpers.set(6, &fake_reserve);      // an id the windows platform knows as get_prandom_u32: only used without one
    helpers.set(7, &fake_reserve_next); // likewise
    auto interpreter = Interpreter::create(*code, helpers);
    REQUIRE_MESSAGE(interpreter.has_value(), (interpreter ? std::string() : interpreter.error().message));
    return interpreter->run_checked(nullptr, 0, options);
}

// A run stopped at `pc` by a read of unwritten bytes.
void check_unwritten(const Result<CheckedOutcome>& result, std::size_t pc) {
    REQUIRE_FALSE(result.has_value());
    INFO(result.error().message);
    CHECK(result.error().message.find("uninitialized") != std::string::npos);
    REQUIRE(result.error().pc.has_value());
    CHECK(*result.error().pc == pc);
}

const char* const kMemcpy16 = "r1 = r10\nr1 += -16\nr2 = 16\nr3 = r10\nr3 += -32\n";

} // namespace

TEST_SUITE("interpreter initialization shadow") {
    TEST_CASE("off by default: the stack reads as zeros") {
        CheckedOptions options;
        const auto result = run("r0 = *(u64 *)(r10 - 8)\nexit", options);
        REQUIRE(result.has_value());
        CHECK(result->r0 == 0);
    }

    TEST_CASE("the program's own stores") {
        CHECK(run("*(u64 *)(r10 - 8) = 7\nr0 = *(u64 *)(r10 - 8)\nexit")->r0 == 7);
        check_unwritten(run("r0 = *(u64 *)(r10 - 8)\nexit"), 0);
        // Four of eight bytes written.
        check_unwritten(run("*(u32 *)(r10 - 8) = 1\nr0 = *(u64 *)(r10 - 8)\nexit"), 1);
        CHECK(run("*(u32 *)(r10 - 8) = 1\nr0 = *(u32 *)(r10 - 8)\nexit").has_value());
        // An atomic reads what it updates.
        check_unwritten(run("r3 = 1\nlock *(u64 *)(r10 - 8) += r3\nr0 = 0\nexit"), 1);
        CHECK(run("r3 = 1\n*(u64 *)(r10 - 8) = r3\nlock *(u64 *)(r10 - 8) += r3\nr0 = *(u64 *)(r10 - 8)\nexit")->r0 ==
              2);
    }

    TEST_CASE("a local call gets a frame with nothing in it") {
        // g leaves 1 at its r10 - 8; f, entered at the same depth afterwards, must not read it.
        check_unwritten(run("call g\ncall f\nexit\n"
                            "g:\n*(u64 *)(r10 - 8) = 1\nr0 = 0\nexit\n"
                            "f:\nr0 = *(u64 *)(r10 - 8)\nexit"),
                        6);
        // The caller's frame, through a pointer, keeps what the caller wrote.
        CHECK(run("*(u64 *)(r10 - 8) = 5\nr1 = r10\nr1 += -8\ncall f\nexit\n"
                  "f:\nr0 = *(u64 *)(r1 + 0)\nexit")
                  ->r0 == 5);
    }

    TEST_CASE("helpers write what their prototype's contract says") {
        // memset (Writes::all): every byte.
        CHECK(run("r1 = r10\nr1 += -16\nr2 = 16\nr3 = 9\ncall 24\nr0 = *(u64 *)(r10 - 16)\n"
                  "r0 = *(u64 *)(r10 - 8)\nexit")
                  ->r0 == 0x0909090909090909ULL);
        // memcpy_s (Writes::source_if_fits): the first 8 bytes of a 16-byte destination...
        const std::string copy8 = std::string("*(u64 *)(r10 - 32) = 3\n") + kMemcpy16 + "r4 = 8\ncall 22\n";
        CHECK(run(copy8 + "r0 = *(u64 *)(r10 - 16)\nexit")->r0 == 3);
        check_unwritten(run(copy8 + "r0 = *(u64 *)(r10 - 8)\nexit"), 8);
        // ... and nothing when the source does not fit.
        const std::string copy24 = std::string("*(u64 *)(r10 - 32) = 3\n*(u64 *)(r10 - 24) = 3\n"
                                               "*(u64 *)(r10 - 16) = 3\n*(u64 *)(r10 - 8) = 3\n") +
                                   "r1 = r10\nr1 += -40\nr2 = 8\nr3 = r10\nr3 += -32\nr4 = 24\ncall 22\n";
        check_unwritten(run(copy24 + "r0 = *(u64 *)(r10 - 40)\nexit"), 11);
        // strncpy_s (Writes::all): every byte of its destination, whatever it copied.
        CHECK(
            run("*(u64 *)(r10 - 32) = 65\n" + std::string(kMemcpy16) + "r4 = 8\ncall 27\nr0 = *(u64 *)(r10 - 8)\nexit")
                .has_value());
        // A helper declared Writes::some: nothing proven, whatever it did.
        check_unwritten(run("r1 = r10\nr1 += -16\nr2 = 16\ncall 5000\nr0 = *(u8 *)(r10 - 16)\nexit"), 4);
    }

    TEST_CASE("strncat_s reads the string it appends to") {
        const std::string append =
            "*(u64 *)(r10 - 32) = 65\n" + std::string(kMemcpy16) + "r4 = 1\ncall 28\nr0 = 0\nexit";
        check_unwritten(run(append), 7);
        CHECK(run("*(u64 *)(r10 - 16) = 0\n*(u64 *)(r10 - 8) = 0\n" + append).has_value());
    }

    TEST_CASE("helpers must not read unwritten bytes") {
        // memcpy_s from 8 bytes of which 4 were written.
        const auto result = run("*(u32 *)(r10 - 32) = 1\n" + std::string(kMemcpy16) + "r4 = 8\ncall 22\nr0 = 0\nexit");
        check_unwritten(result, 7);
        CHECK(result.error().message.find("helper 22") != std::string::npos);
    }

    TEST_CASE("without the platform, helpers write nothing the shadow knows of") {
        CheckedOptions options;
        options.check_initialization = true;
        check_unwritten(run("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 24\nr0 = *(u64 *)(r10 - 8)\nexit", options), 5);
    }

    TEST_CASE("memory a helper hands out uninitialized") {
        CheckedOptions options;
        options.check_initialization = true;
        options.helper_result_region = [](std::uint32_t helper, const std::uint64_t*,
                                          std::uint64_t r0) -> std::optional<MemoryRegion> {
            if (helper != 6 || r0 == 0) {
                return std::nullopt;
            }
            return MemoryRegion{as_ptr(r0), g_record.size(), true, false};
        };
        check_unwritten(run("call 6\nr0 = *(u32 *)(r0 + 4)\nexit", options), 1);
        CHECK(run("call 6\n*(u32 *)(r0 + 4) = 8\nr0 = *(u32 *)(r0 + 4)\nexit", options)->r0 == 8);
        // Marked initialized, the same memory reads freely.
        options.helper_result_region = [](std::uint32_t, const std::uint64_t*,
                                          std::uint64_t r0) -> std::optional<MemoryRegion> {
            return MemoryRegion{as_ptr(r0), g_record.size(), true};
        };
        CHECK(run("call 6\nr0 = *(u32 *)(r0 + 12)\nexit", options).has_value());
    }

    TEST_CASE("thousands of regions handed out in one run are each found, and each starts unwritten") {
        CheckedOptions options;
        options.check_initialization = true;
        options.helper_result_region = [](std::uint32_t, const std::uint64_t*,
                                          std::uint64_t r0) -> std::optional<MemoryRegion> {
            return MemoryRegion{as_ptr(r0), 16, true, false};
        };
        // 3,000 records: each written at offset 0 and read back; then offset 4 of the last, never written.
        const std::string loop = "r6 = 0\n"
                                 "call 7\n"
                                 "*(u32 *)(r0 + 0) = 7\n"
                                 "r1 = *(u32 *)(r0 + 0)\n"
                                 "r6 += 1\n"
                                 "if r6 < 3000 goto -5\n";
        g_next_record = 0;
        auto written = run(loop + "r0 = *(u32 *)(r0 + 0)\nexit", options);
        REQUIRE_MESSAGE(written.has_value(), (written ? "" : written.error().message));
        CHECK(written->r0 == 7);
        g_next_record = 0;
        check_unwritten(run(loop + "r0 = *(u32 *)(r0 + 4)\nexit", options), 6);
        // Past the buffer's 4,096 records the same addresses come again: new records there start unwritten.
        g_next_record = 0;
        const std::string again = "r6 = 0\n"
                                  "call 7\n"
                                  "*(u32 *)(r0 + 0) = 7\n"
                                  "r6 += 1\n"
                                  "if r6 < 4096 goto -4\n"
                                  "call 7\n" // record 0 again
                                  "r0 = *(u32 *)(r0 + 0)\n"
                                  "exit";
        check_unwritten(run(again, options), 6);
        // Memory outside every region is refused: one byte before the buffer.
        g_next_record = 0;
        auto outside = run("call 7\nr0 += -1\nr0 = *(u8 *)(r0 + 0)\nexit", options);
        REQUIRE_FALSE(outside.has_value());
    }
}
