// Decoding and validation against RFC 9669: programs built slot by slot (never with the assembler, which must not
// produce invalid forms), with the index of the offending instruction.
#include "embpf/isa/decode.hpp"
#include "embpf/isa/instruction.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace isa = embpf::isa;
using embpf::ErrorKind;
using isa::Instruction;
using isa::make;

// Opcodes spelled as the RFC's hex so the tests do not lean on the header's constants.
constexpr Instruction kExit = make(0x95);
constexpr Instruction kMov0 = make(0xb7, 0, 0, 0, 0);     // r0 = 0
constexpr Instruction kAdd1 = make(0x07, 0, 0, 0, 1);     // r0 += 1
constexpr Instruction kLddw = make(0x18, 1, 0, 0, 1);     // r1 = 1 ll, first slot
constexpr Instruction kLddwNext = make(0x00, 0, 0, 0, 0); // second slot
constexpr Instruction jump(std::int16_t offset) { return make(0x05, 0, 0, offset, 0); }

std::vector<std::uint8_t> to_bytes(const std::vector<Instruction>& program) {
    std::vector<std::uint8_t> bytes;
    for (const Instruction& ins : program) {
        const std::uint64_t word = isa::to_word(ins);
        for (int i = 0; i < 8; ++i) {
            bytes.push_back(static_cast<std::uint8_t>(word >> (8 * i)));
        }
    }
    return bytes;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

constexpr std::optional<ErrorKind> kAnyKind = std::nullopt;

struct Invalid {
    const char* name;
    std::vector<Instruction> program;
    std::size_t pc;
    std::optional<ErrorKind> kind; ///< nullopt: any kind
};

void check_error(const embpf::Error& error, const Invalid& c) {
    INFO("message: ", error.message);
    if (c.kind.has_value()) {
        CHECK(error.kind == *c.kind);
    }
    CHECK_FALSE(error.message.empty());
    REQUIRE(error.pc.has_value());
    CHECK(*error.pc == c.pc);
    CHECK(contains(error.message, std::to_string(c.pc)));
}

void check_invalid(const std::vector<Invalid>& cases) {
    for (const Invalid& c : cases) {
        INFO("case: ", std::string(c.name));
        const auto validated = isa::validate(c.program);
        CHECK_FALSE(validated.has_value());
        if (!validated.has_value()) {
            check_error(validated.error(), c);
        }
        const std::vector<std::uint8_t> bytes = to_bytes(c.program);
        const auto decoded = isa::decode(std::span<const std::uint8_t>(bytes));
        CHECK_FALSE(decoded.has_value());
        if (!decoded.has_value()) {
            check_error(decoded.error(), c);
        }
    }
}

constexpr auto kInvalid = ErrorKind::invalid_input;

} // namespace

TEST_CASE("decode: unknown opcodes") {
    check_invalid({
        {"0x8e (jmp32 callx)", {kMov0, make(0x8e), kExit}, 1, kInvalid},
        {"0xff", {kMov0, kMov0, make(0xff), kExit}, 2, kInvalid},
        {"0x00 (ld imm w)", {kMov0, make(0x00, 0, 0, 0, 1), kExit}, 1, kInvalid},
        {"0xe7 (alu64 op 0xe)", {kMov0, make(0xe7, 0, 0, 0, 1), kExit}, 1, kInvalid},
        {"0xe5 (jmp op 0xe)", {kMov0, make(0xe5, 0, 0, 0, 1), kExit}, 1, kInvalid},
        {"0xf6 (jmp32 op 0xf)", {kMov0, make(0xf6, 0, 0, 0, 1), kExit}, 1, kInvalid},
        {"0x86 (call in jmp32)", {kMov0, make(0x86, 0, 0, 0, 1), kExit}, 1, kInvalid},
        {"0x96 (exit in jmp32)", {kMov0, make(0x96), kExit}, 1, kInvalid},
        {"0x9d (exit with X)", {kMov0, make(0x9d)}, 1, kInvalid},
        {"0x0d (ja with X)", {kMov0, make(0x0d, 0, 1), kExit}, 1, kInvalid},
        {"0x8f (neg with X)", {kMov0, make(0x8f, 0, 1), kExit}, 1, kInvalid},
        {"0xdf (alu64 end with X)", {kMov0, make(0xdf, 0, 0, 0, 16), kExit}, 1, kInvalid},
        {"0x82 (st memsx)", {kMov0, make(0x82, 10, 0, -8, 1), kExit}, 1, kInvalid},
        {"0xc2 (st atomic)", {kMov0, make(0xc2, 10, 0, -8, 0), kExit}, 1, kInvalid},
        {"0x83 (stx memsx)", {kMov0, make(0x83, 10, 1, -8), kExit}, 1, kInvalid},
        {"0xd3 (atomic byte)", {kMov0, make(0xd3, 10, 1, -8, 0), kExit}, 1, kInvalid},
        {"0xcb (atomic half)", {kMov0, make(0xcb, 10, 1, -8, 0), kExit}, 1, kInvalid},
        {"0x99 (memsx dw)", {kMov0, make(0x99, 0, 1, 0), kExit}, 1, kInvalid},
        {"0x06 (ja32) with a nonzero offset", {make(0x06, 0, 0, 1, 1), kMov0, kExit}, 0, kInvalid},
    });
}

TEST_CASE("decode: legacy packet loads") {
    // LD_ABS and LD_IND of 1, 2 and 4 bytes are instructions; r0 is implied, so dst and offset stay 0, and LD_ABS has
    // no source register.
    for (const Instruction& ins : {make(0x20, 0, 0, 0, 4), make(0x28, 0, 0, 0, 4), make(0x30, 0, 0, 0, -1),
                                   make(0x40, 0, 1, 0, 4), make(0x48, 0, 7, 0, 0), make(0x50, 0, 10, 0, -4)}) {
        CAPTURE(ins.opcode);
        const std::vector<Instruction> program = {kMov0, ins, kExit};
        CHECK(isa::validate(program).has_value());
        CHECK(isa::is_legacy_packet_load(ins));
    }
    check_invalid({
        {"0x38 ld abs dw", {kMov0, make(0x38, 0, 0, 0, 4), kExit}, 1, kInvalid},
        {"0x58 ld ind dw", {kMov0, make(0x58, 0, 1, 0, 4), kExit}, 1, kInvalid},
        {"ld abs with a dst register", {kMov0, make(0x20, 1, 0, 0, 4), kExit}, 1, kInvalid},
        {"ld abs with a src register", {kMov0, make(0x20, 0, 1, 0, 4), kExit}, 1, kInvalid},
        {"ld ind with an offset", {kMov0, make(0x40, 0, 1, 2, 4), kExit}, 1, kInvalid},
        {"ld ind from r11", {kMov0, make(0x40, 0, 11, 0, 4), kExit}, 1, kInvalid},
    });
}

TEST_CASE("decode: registers") {
    check_invalid({
        {"dst r11", {make(0xb7, 11, 0, 0, 0), kExit}, 0, kInvalid},
        {"src r15", {kMov0, make(0x0f, 0, 15), kExit}, 1, kInvalid},
        {"ldx src r12", {kMov0, make(0x79, 0, 12, 0), kExit}, 1, kInvalid},
        {"jeq src r11", {kMov0, make(0x1d, 0, 11, 0), kExit}, 1, kInvalid},
        {"stx dst r13", {kMov0, make(0x7b, 13, 1, -8), kExit}, 1, kInvalid},
        {"callx r14", {kMov0, make(0x8d, 14), kExit}, 1, kInvalid},
        {"r10 = 0", {make(0xb7, 10, 0, 0, 0), kExit}, 0, kInvalid},
        {"r10 += 8", {kMov0, make(0x07, 10, 0, 0, 8), kExit}, 1, kInvalid},
        {"w10 = 0", {kMov0, make(0xb4, 10, 0, 0, 0), kExit}, 1, kInvalid},
        {"r10 = r1", {kMov0, make(0xbf, 10, 1), kExit}, 1, kInvalid},
        {"r10 = -r10", {kMov0, make(0x87, 10), kExit}, 1, kInvalid},
        {"load into r10", {kMov0, make(0x79, 10, 1, 0), kExit}, 1, kInvalid},
        {"lddw into r10", {kMov0, make(0x18, 10, 0, 0, 1), kLddwNext, kExit}, 1, kInvalid},
        {"atomic fetch into r10", {kMov0, make(0xdb, 1, 10, 0, 0x01), kExit}, 1, kInvalid},
    });
}

TEST_CASE("decode: jump and call targets") {
    check_invalid({
        {"goto forward out of range", {kMov0, jump(5), kExit}, 1, kInvalid},
        {"goto backward out of range", {kMov0, jump(-3), kExit}, 1, kInvalid},
        {"conditional jump just past the end", {kMov0, make(0x15, 0, 0, 1, 0), kExit}, 1, kInvalid},
        {"ja32 out of range", {kMov0, make(0x06, 0, 0, 0, 10), kExit}, 1, kInvalid},
        {"ja32 backward out of range", {kMov0, make(0x06, 0, 0, 0, -3), kExit}, 1, kInvalid},
        {"jump into the second slot of a lddw", {jump(1), kLddw, kLddwNext, kExit}, 0, kInvalid},
        {"backward jump into the second slot of a lddw", {kLddw, kLddwNext, kMov0, jump(-3), kExit}, 3, kInvalid},
        {"local call forward out of range", {kMov0, make(0x85, 0, 1, 0, 5), kExit}, 1, kInvalid},
        {"local call backward out of range", {kMov0, make(0x85, 0, 1, 0, -3), kExit}, 1, kInvalid},
        {"local call into the second slot of a lddw",
         {make(0x85, 0, 1, 0, 2), kExit, kLddw, kLddwNext, kExit},
         0,
         kInvalid},
        {"call with unknown source 3", {kMov0, make(0x85, 0, 3, 0, 1), kExit}, 1, kInvalid},
    });
}

TEST_CASE("decode: program structure") {
    check_invalid({
        {"lddw as the last slot", {kMov0, kExit, kLddw}, 2, kAnyKind},
        {"lddw with a nonzero offset", {kMov0, make(0x18, 1, 0, 1, 1), kLddwNext, kExit}, 1, kInvalid},
        {"lddw with pseudo source 7", {kMov0, make(0x18, 1, 7, 0, 1), kLddwNext, kExit}, 1, kInvalid},
        {"lddw code address out of range", {kMov0, make(0x18, 1, 4, 0, 5), kLddwNext, kExit}, 1, kInvalid},
        {"missing final exit", {kMov0, kAdd1}, 1, kAnyKind},
        {"conditional jump as the last instruction", {kMov0, make(0x15, 0, 0, -2, 0)}, 1, kAnyKind},
        {"helper call as the last instruction", {kMov0, make(0x85, 0, 0, 0, 1)}, 1, kAnyKind},
    });
}

TEST_CASE("decode: the second slot of a lddw") {
    // The bad fields belong to the lddw at pc 1; naming its second slot (pc 2) is also accepted.
    const std::vector<std::vector<Instruction>> programs = {
        {kMov0, kLddw, make(0xb7, 0, 0, 0, 0), kExit}, {kMov0, kLddw, make(0x18, 0, 0, 0, 0), kExit},
        {kMov0, kLddw, make(0x00, 1, 0, 0, 0), kExit}, {kMov0, kLddw, make(0x00, 0, 1, 0, 0), kExit},
        {kMov0, kLddw, make(0x00, 0, 0, 1, 0), kExit},
    };
    for (std::size_t i = 0; i < programs.size(); ++i) {
        CAPTURE(i);
        const auto validated = isa::validate(programs[i]);
        REQUIRE_FALSE(validated.has_value());
        INFO("message: ", validated.error().message);
        REQUIRE(validated.error().pc.has_value());
        const std::size_t pc = *validated.error().pc;
        CHECK((pc == 1 || pc == 2));
        CHECK(contains(validated.error().message, std::to_string(pc)));
        CHECK(validated.error().kind == kInvalid);
    }
}

TEST_CASE("decode: reserved fields") {
    check_invalid({
        {"alu K with src != 0", {kMov0, make(0x07, 0, 1, 0, 1), kExit}, 1, kInvalid},
        {"alu X with imm != 0", {kMov0, make(0x0f, 0, 1, 0, 1), kExit}, 1, kInvalid},
        {"add with a nonzero offset", {kMov0, make(0x07, 0, 0, 1, 1), kExit}, 1, kInvalid},
        {"div with offset 2", {kMov0, make(0x3f, 0, 1, 2, 0), kExit}, 1, kInvalid},
        {"mov K with offset 8", {kMov0, make(0xb7, 0, 0, 8, 1), kExit}, 1, kInvalid},
        {"movsx64 with offset 24", {kMov0, make(0xbf, 0, 1, 24), kExit}, 1, kInvalid},
        {"movsx32 with offset 32", {kMov0, make(0xbc, 0, 1, 32), kExit}, 1, kInvalid},
        {"neg with imm != 0", {kMov0, make(0x87, 0, 0, 0, 1), kExit}, 1, kInvalid},
        {"neg with src != 0", {kMov0, make(0x87, 0, 1, 0, 0), kExit}, 1, kInvalid},
        {"exit with imm != 0", {kMov0, make(0x95, 0, 0, 0, 1)}, 1, kInvalid},
        {"exit with dst != 0", {kMov0, make(0x95, 1)}, 1, kInvalid},
        {"goto with imm != 0", {make(0x05, 0, 0, 0, 1), kExit}, 0, kInvalid},
        {"jeq K with src != 0", {kMov0, make(0x15, 0, 1, 0, 0), kExit}, 1, kInvalid},
        {"jeq X with imm != 0", {kMov0, make(0x1d, 0, 1, 0, 5), kExit}, 1, kInvalid},
        {"helper call with dst != 0", {kMov0, make(0x85, 1, 0, 0, 1), kExit}, 1, kInvalid},
        {"ldx with imm != 0", {kMov0, make(0x79, 0, 1, 0, 1), kExit}, 1, kInvalid},
        {"st with src != 0", {kMov0, make(0x7a, 10, 1, -8, 1), kExit}, 1, kInvalid},
        {"stx with imm != 0", {kMov0, make(0x7b, 10, 1, -8, 1), kExit}, 1, kInvalid},
        {"end with imm 8", {kMov0, make(0xd4, 0, 0, 0, 8), kExit}, 1, kInvalid},
        {"be with imm 24", {kMov0, make(0xdc, 0, 0, 0, 24), kExit}, 1, kInvalid},
        {"bswap with imm 0", {kMov0, make(0xd7, 0, 0, 0, 0), kExit}, 1, kInvalid},
        {"end with src != 0", {kMov0, make(0xd4, 0, 1, 0, 16), kExit}, 1, kInvalid},
        {"atomic op 0x10", {kMov0, make(0xdb, 10, 1, -8, 0x10), kExit}, 1, kInvalid},
        {"atomic op 0x02", {kMov0, make(0xc3, 10, 1, -8, 0x02), kExit}, 1, kInvalid},
        {"xchg without fetch", {kMov0, make(0xdb, 10, 1, -8, 0xe0), kExit}, 1, kInvalid},
        {"cmpxchg without fetch", {kMov0, make(0xc3, 10, 1, -8, 0xf0), kExit}, 1, kInvalid},
    });
}

TEST_CASE("decode: empty program") {
    const std::vector<Instruction> empty;
    const auto validated = isa::validate(empty);
    REQUIRE_FALSE(validated.has_value());
    CHECK_FALSE(validated.error().message.empty());
    const std::vector<std::uint8_t> bytes;
    CHECK_FALSE(isa::decode(std::span<const std::uint8_t>(bytes)).has_value());
}

TEST_CASE("decode: byte length must be a multiple of 8") {
    const std::vector<std::uint8_t> twelve = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0};
    const auto decoded = isa::decode(std::span<const std::uint8_t>(twelve));
    REQUIRE_FALSE(decoded.has_value());
    CHECK_FALSE(decoded.error().message.empty());
    CHECK(decoded.error().kind == kInvalid);
}

TEST_CASE("decode: bytes are little-endian slots") {
    // r0 = 42; r0 = *(u8 *)(r1 + 2); *(u64 *)(r10 - 8) = r1; exit
    const std::vector<std::uint8_t> bytes = {
        0xb7, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, //
        0x71, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x7b, 0x1a, 0xf8, 0xff, 0x00, 0x00, 0x00, 0x00, //
        0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    const std::vector<Instruction> expected = {make(0xb7, 0, 0, 0, 42), make(0x71, 0, 1, 2, 0),
                                               make(0x7b, 10, 1, -8, 0), kExit};
    const auto decoded = isa::decode(std::span<const std::uint8_t>(bytes));
    REQUIRE(decoded.has_value());
    CHECK(decoded.value() == expected);

    std::vector<std::byte> as_bytes;
    for (std::uint8_t b : bytes) {
        as_bytes.push_back(static_cast<std::byte>(b));
    }
    const auto decoded_bytes = isa::decode(std::span<const std::byte>(as_bytes));
    REQUIRE(decoded_bytes.has_value());
    CHECK(decoded_bytes.value() == expected);
}

TEST_CASE("decode: valid edge cases") {
    struct Valid {
        std::string name;
        std::vector<Instruction> program;
    };
    std::vector<Valid> cases = {
        {"goto back as the last instruction", {kMov0, kAdd1, jump(-2)}},
        {"goto -1 as the last instruction", {kMov0, jump(-1)}},
        {"ja32 with the offset in imm", {make(0x06, 0, 0, 0, 1), kMov0, kExit}},
        {"ja32 backward as the last instruction", {kMov0, kAdd1, make(0x06, 0, 0, 0, -2)}},
        {"exit before the end", {kMov0, kExit, kAdd1, kExit}},
        {"jump to the first slot of a lddw", {jump(0), kLddw, kLddwNext, kExit}},
        {"jump over a lddw", {jump(2), kLddw, kLddwNext, kExit}},
        {"lddw before exit", {kLddw, kLddwNext, kExit}},
        {"local call", {make(0x85, 0, 1, 0, 1), kExit, kMov0, kExit}},
        {"helper call with any id", {make(0x85, 0, 0, 0, 12345), kExit}},
        {"callx", {make(0xb7, 2, 0, 0, 1), make(0x8d, 2), kExit}},
        {"r10 as a base and a source", {make(0x7b, 10, 1, -8), make(0xbf, 0, 10), make(0x79, 0, 10, -8), kExit}},
        {"lock add with r10 as the value", {make(0xdb, 1, 10, 0, 0x00), kExit}},
        {"sdiv, smod, movsx, memsx, bswap",
         {make(0x3f, 0, 1, 1), make(0x9f, 0, 1, 1), make(0x34, 0, 0, 1, 3), make(0xbf, 0, 1, 8), make(0xbf, 0, 1, 16),
          make(0xbf, 0, 1, 32), make(0xbc, 0, 1, 8), make(0xbc, 0, 1, 16), make(0x91, 0, 1, 0), make(0x89, 0, 1, 0),
          make(0x81, 0, 1, 0), make(0xd7, 0, 0, 0, 16), make(0xd7, 0, 0, 0, 32), make(0xd7, 0, 0, 0, 64), kExit}},
        {"every atomic op in both widths",
         {make(0xdb, 10, 1, -8, 0x00), make(0xdb, 10, 1, -8, 0x01), make(0xdb, 10, 1, -8, 0x40),
          make(0xdb, 10, 1, -8, 0x41), make(0xdb, 10, 1, -8, 0x50), make(0xdb, 10, 1, -8, 0x51),
          make(0xdb, 10, 1, -8, 0xa0), make(0xdb, 10, 1, -8, 0xa1), make(0xdb, 10, 1, -8, 0xe1),
          make(0xdb, 10, 1, -8, 0xf1), make(0xc3, 10, 1, -8, 0x00), make(0xc3, 10, 1, -8, 0x01),
          make(0xc3, 10, 1, -8, 0x40), make(0xc3, 10, 1, -8, 0x41), make(0xc3, 10, 1, -8, 0x50),
          make(0xc3, 10, 1, -8, 0x51), make(0xc3, 10, 1, -8, 0xa0), make(0xc3, 10, 1, -8, 0xa1),
          make(0xc3, 10, 1, -8, 0xe1), make(0xc3, 10, 1, -8, 0xf1), kExit}},
    };
    for (int source = 0; source <= 6; ++source) {
        // map_value_fd (2) and map_value_index (6) carry an offset in the second imm; for code_address (4) imm is
        // pc-relative like a local call, here landing on the exit.
        cases.push_back({"lddw pseudo source " + std::to_string(source),
                         {make(0x18, 1, source, 0, 1), make(0x00, 0, 0, 0, 4), kExit}});
    }
    for (const Valid& c : cases) {
        INFO("case: ", c.name);
        const auto validated = isa::validate(c.program);
        CHECK_MESSAGE(validated.has_value(), (validated.has_value() ? std::string() : validated.error().message));
        const std::vector<std::uint8_t> bytes = to_bytes(c.program);
        const auto decoded = isa::decode(std::span<const std::uint8_t>(bytes));
        CHECK_MESSAGE(decoded.has_value(), (decoded.has_value() ? std::string() : decoded.error().message));
        if (decoded.has_value()) {
            CHECK(decoded.value() == c.program);
        }
    }
}

TEST_CASE("decode: validate_instruction looks at one instruction") {
    // A jump far out of range is fine in isolation; a bad opcode is not.
    const std::vector<Instruction> program = {jump(100), make(0xff), kExit};
    CHECK(isa::validate_instruction(program, 0).has_value());
    const auto bad = isa::validate_instruction(program, 1);
    REQUIRE_FALSE(bad.has_value());
    REQUIRE(bad.error().pc.has_value());
    CHECK(*bad.error().pc == 1);
    CHECK(isa::validate_instruction(program, 2).has_value());
}

TEST_CASE("decode: required_version") {
    struct Row {
        const char* name;
        Instruction ins;
        int version;
    };
    const std::vector<Row> rows = {
        {"add64 imm", make(0x07, 0, 0, 0, 1), 1},
        {"exit", kExit, 1},
        {"jeq", make(0x15, 0, 0, 1, 0), 1},
        {"lddw", kLddw, 1},
        {"unsigned div", make(0x3f, 0, 1, 0), 1},
        {"mov64 reg", make(0xbf, 0, 1, 0), 1},
        {"le16", make(0xd4, 0, 0, 0, 16), 1},
        {"ldxw", make(0x61, 0, 1, 0), 1},
        {"jlt", make(0xa5, 0, 0, 1, 0), 2},
        {"jle reg", make(0xbd, 0, 1, 1), 2},
        {"jslt", make(0xc5, 0, 0, 1, 0), 2},
        {"jsle reg", make(0xdd, 0, 1, 1), 2},
        {"jeq32", make(0x16, 0, 0, 1, 0), 3},
        {"jgt32 reg", make(0x2e, 0, 1, 1), 3},
        {"jlt32", make(0xa6, 0, 0, 1, 0), 3},
        {"atomic fetch add64", make(0xdb, 10, 1, -8, 0x01), 3},
        {"atomic cmpxchg32", make(0xc3, 10, 1, -8, 0xf1), 3},
        {"atomic xchg64", make(0xdb, 10, 1, -8, 0xe1), 3},
        {"sdiv64", make(0x3f, 0, 1, 1), 4},
        {"sdiv32 imm", make(0x34, 0, 0, 1, 3), 4},
        {"smod64", make(0x9f, 0, 1, 1), 4},
        {"movsx64 s8", make(0xbf, 0, 1, 8), 4},
        {"movsx32 s16", make(0xbc, 0, 1, 16), 4},
        {"memsx b", make(0x91, 0, 1, 0), 4},
        {"memsx w", make(0x81, 0, 1, 0), 4},
        {"bswap64", make(0xd7, 0, 0, 0, 64), 4},
        {"ja32", make(0x06, 0, 0, 0, 1), 4},
    };
    for (const Row& row : rows) {
        INFO("case: ", std::string(row.name));
        CHECK(isa::required_version(row.ins) == row.version);
    }
}

TEST_CASE("decode: to_word and from_words") {
    // Words from the conformance suite: the 8 slot bytes read little-endian.
    struct Row {
        std::uint64_t word;
        Instruction ins;
    };
    const std::vector<Row> rows = {
        {0x00000001000000b7, make(0xb7, 0, 0, 0, 1)},      // r0 = 1
        {0xffffffff000001b7, make(0xb7, 1, 0, 0, -1)},     // r1 = -1
        {0x0000000000021071, make(0x71, 0, 1, 2, 0)},      // r0 = *(u8 *)(r1 + 2)
        {0x000000f1fff81ac3, make(0xc3, 10, 1, -8, 0xf1)}, // w0 = cmpxchg32_32(r10 - 8, w0, w1)
        {0x0000000f00060055, make(0x55, 0, 0, 6, 15)},     // if r0 != 15 goto +6
        {0x000000000000028d, make(0x8d, 2)},               // callx r2
        {0x9abcdef000000018, make(0x18, 0, 0, 0, static_cast<std::int32_t>(0x9abcdef0))},
        {0x1234567800000000, make(0x00, 0, 0, 0, 0x12345678)},
        {0x0000000000000095, kExit},
    };
    std::vector<std::uint64_t> words;
    std::vector<Instruction> expected;
    for (const Row& row : rows) {
        CHECK(isa::to_word(row.ins) == row.word);
        words.push_back(row.word);
        expected.push_back(row.ins);
    }
    const std::vector<Instruction> program = isa::from_words(words);
    CHECK(program == expected);
    std::vector<std::uint64_t> round_trip;
    for (const Instruction& ins : program) {
        round_trip.push_back(isa::to_word(ins));
    }
    CHECK(round_trip == words);
    CHECK(isa::lddw_imm(program[6], program[7]) == 0x123456789abcdef0);
}
