// CO-RE relocations. Programs clang compiled against tests/elf/core/local.h are relocated against targets whose
// BTF lays the same types out differently (tests/elf/core/target_*.h, included here too, so that offsetof and
// sizeof give the expected values independently of any BTF) and then run in the interpreter on contexts laid out
// as the target. Hand-made BTF covers the rules and the hostile inputs clang never writes.
#include "embpf/elf/core.hpp"
#include "embpf/exec/interpreter.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The C headers declare types only; each gets a namespace so that the layouts can coexist.
namespace local {
#include "elf/core/local.h"
}
namespace v1 {
#include "elf/core/target_v1.h"
}
namespace v2 {
#include "elf/core/target_v2.h"
}
namespace ambiguous {
#include "elf/core/target_ambiguous.h"
}

using namespace embpf;
using btf::CoreKind;
using btf::Kind;

namespace {

std::string str(std::uint64_t value) { return std::to_string(value); }

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

/// The value a relocated instruction holds: an ALU immediate, a load or store offset, an lddw's 64 bits.
std::uint64_t held(const elf::ProgramDefinition& program, std::uint32_t insn) {
    REQUIRE(insn < program.instructions.size());
    const isa::Instruction& ins = program.instructions[insn];
    if (isa::is_lddw(ins)) {
        REQUIRE(insn + 1 < program.instructions.size());
        return isa::lddw_imm(ins, program.instructions[insn + 1]);
    }
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(isa::is_alu(ins.opcode) ? ins.imm : ins.offset));
}

/// Runs a relocated program in the checked interpreter with `ctx` as its context.
template <typename Context>
std::uint64_t run(const elf::ProgramDefinition& program, Context& ctx) {
    auto vm = exec::Interpreter::create(program.instructions);
    if (!vm) {
        FAIL(vm.error().message);
    }
    auto outcome = vm->run_checked(&ctx, sizeof ctx);
    if (!outcome) {
        FAIL(outcome.error().message);
    }
    return outcome->r0;
}

/// The lowest and highest bit a bitfield occupies in its struct, found by setting all its bits.
template <typename Struct, typename Set>
std::pair<std::uint32_t, std::uint32_t> bit_span(Set set_all_bits) {
    Struct value;
    std::memset(&value, 0, sizeof value);
    set_all_bits(value);
    unsigned char bytes[sizeof(Struct)];
    std::memcpy(bytes, &value, sizeof value);
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    bool seen = false;
    for (std::uint32_t bit = 0; bit < sizeof(Struct) * 8; ++bit) {
        if (((bytes[bit / 8] >> (bit % 8)) & 1) != 0) {
            low = seen ? low : bit;
            high = bit;
            seen = true;
        }
    }
    REQUIRE(seen);
    return {low, high};
}

/// What a CO-RE bitfield read needs, from the bits the field occupies and the size of its declared type: the
/// naturally aligned unit of that size holding the field, and the shifts that isolate it in a 64-bit register.
struct BitfieldLayout {
    std::uint64_t byte_offset = 0;
    std::uint64_t byte_size = 0;
    std::uint64_t lshift = 0;
    std::uint64_t rshift = 0;
};

BitfieldLayout bitfield_layout(std::pair<std::uint32_t, std::uint32_t> bits, std::uint32_t unit_bytes) {
    BitfieldLayout layout;
    layout.byte_size = unit_bytes;
    layout.byte_offset = bits.first / (unit_bytes * 8) * unit_bytes;
    REQUIRE(bits.second < (layout.byte_offset + unit_bytes) * 8); // one unit holds it in these layouts
    layout.lshift = 64 - (bits.second + 1 - layout.byte_offset * 8);
    layout.rshift = 64 - (bits.second - bits.first + 1);
    return layout;
}

#ifdef EMBPF_TEST_CORE_DIR

elf::ObjectFile load(std::string_view name) {
    auto object = elf::read_object(std::filesystem::path(EMBPF_TEST_CORE_DIR) / (std::string(name) + ".o"));
    if (!object) {
        FAIL(object.error().message);
    }
    REQUIRE(object->btf != nullptr);
    return std::move(object).value();
}

/// The program objects, read once.
struct Objects {
    elf::ObjectFile program = load("program");
    elf::ObjectFile v1 = load("target_v1");
    elf::ObjectFile v2 = load("target_v2");
    elf::ObjectFile ambiguous = load("target_ambiguous");

    [[nodiscard]] elf::ProgramDefinition get(std::string_view name) const {
        for (const elf::ProgramDefinition& candidate : program.programs) {
            if (candidate.name == name) {
                return candidate;
            }
        }
        FAIL("no program " << name);
        return {};
    }
};

const Objects& objects() {
    static const Objects loaded;
    return loaded;
}

struct Relocated {
    elf::ProgramDefinition program;
    std::vector<elf::CoreOutcome> outcomes;

    /// The outcomes of this kind, in instruction order.
    [[nodiscard]] std::vector<elf::CoreOutcome> of(CoreKind kind) const {
        std::vector<elf::CoreOutcome> out;
        for (const elf::CoreOutcome& outcome : outcomes) {
            if (outcome.kind == kind) {
                out.push_back(outcome);
            }
        }
        return out;
    }
    /// The single outcome of this kind and access.
    [[nodiscard]] elf::CoreOutcome one(CoreKind kind, std::string_view access = {}) const {
        std::vector<elf::CoreOutcome> found;
        for (const elf::CoreOutcome& outcome : of(kind)) {
            if (access.empty() || outcome.access == access) {
                found.push_back(outcome);
            }
        }
        REQUIRE(found.size() == 1);
        return found.front();
    }
};

Relocated relocate(std::string_view name, const elf::ObjectFile& target) {
    Relocated out{objects().get(name), {}};
    REQUIRE_FALSE(out.program.core_relocations.empty());
    auto outcomes = elf::apply_core_relocations(out.program, *objects().program.btf, *target.btf);
    if (!outcomes) {
        FAIL(outcomes.error().message);
    }
    out.outcomes = std::move(outcomes).value();
    REQUIRE(out.outcomes.size() == out.program.core_relocations.size());
    return out;
}

Error relocation_error(std::string_view name, const elf::ObjectFile& target) {
    elf::ProgramDefinition program = objects().get(name);
    const auto before = program.instructions;
    auto outcomes = elf::apply_core_relocations(program, *objects().program.btf, *target.btf);
    REQUIRE_FALSE(outcomes.has_value());
    CHECK(program.instructions == before); // left unchanged
    return outcomes.error();
}

std::uint32_t target_id(const elf::ObjectFile& object, std::string_view name, Kind kind) {
    const auto id = object.btf->find(name, kind);
    REQUIRE(id.has_value());
    return *id;
}

#endif

} // namespace

#ifdef EMBPF_TEST_CORE_DIR

TEST_CASE("core: field loads move to where the target puts the fields") {
    const Objects& o = objects();

    SUBCASE("pid and prio, the program run on both layouts") {
        local::task before{};
        before.pid = 1000;
        before.prio = 7;
        CHECK(run(o.get("read_pid_prio"), before) == 1007);

        const Relocated r = relocate("read_pid_prio", o.v1);
        const elf::CoreOutcome pid = r.one(CoreKind::field_byte_offset, "0:0");
        const elf::CoreOutcome prio = r.one(CoreKind::field_byte_offset, "0:3");
        CHECK(held(r.program, pid.insn) == offsetof(v1::task, pid));
        CHECK(held(r.program, prio.insn) == offsetof(v1::task, prio));
        CHECK(pid.local_value == offsetof(local::task, pid));
        CHECK(pid.applied);
        CHECK(pid.description ==
              "struct task.pid: offset " + str(offsetof(local::task, pid)) + " -> " + str(offsetof(v1::task, pid)));
        CHECK(prio.description ==
              "struct task.prio: offset " + str(offsetof(local::task, prio)) + " -> " + str(offsetof(v1::task, prio)));

        v1::task after{};
        after.pid = 1000;
        after.prio = 7;
        after.start_time = 0xdeadbeef;
        CHECK(run(r.program, after) == 1007);
    }

    SUBCASE("an array element") {
        const Relocated r = relocate("read_comm", o.v1);
        const elf::CoreOutcome comm = r.one(CoreKind::field_byte_offset, "0:1:2");
        CHECK(held(r.program, comm.insn) == offsetof(v1::task, comm) + 2);
        CHECK(comm.description == "struct task.comm[2]: offset " + str(offsetof(local::task, comm) + 2) + " -> " +
                                      str(offsetof(v1::task, comm) + 2));
        v1::task ctx{};
        std::memcpy(ctx.comm, "init", 5);
        CHECK(run(r.program, ctx) == 'i');
    }

    SUBCASE("through anonymous members, with a widened unsigned load") {
        const Relocated r = relocate("read_mm", o.v1);
        const elf::CoreOutcome users = r.one(CoreKind::field_byte_offset, "0:1");
        const elf::CoreOutcome rss = r.one(CoreKind::field_byte_offset, "0:2:0"); // through the anonymous union
        CHECK(held(r.program, users.insn) == offsetof(v1::mm, users));
        CHECK(held(r.program, rss.insn) == offsetof(v1::mm, rss));
        // users grew from 2 to 4 bytes: the load grew with it.
        const isa::Instruction& load = r.program.instructions[users.insn];
        CHECK(isa::op_size(load.opcode) == isa::op::W);
        CHECK(isa::op_size(objects().get("read_mm").instructions[users.insn].opcode) == isa::op::H);
        CHECK(rss.description ==
              "struct mm.rss: offset " + str(offsetof(local::mm, rss)) + " -> " + str(offsetof(v1::mm, rss)));

        v1::mm ctx{};
        ctx.users = 70000; // more than 16 bits: only a 4-byte load reads it whole
        ctx.rss = 42;
        ctx.total = ~0ull;
        CHECK(run(r.program, ctx) == 70000042);
    }

    SUBCASE("a local flavor matches the target's plain name") {
        const Relocated r = relocate("read_old_pid", o.v1);
        const elf::CoreOutcome pid = r.one(CoreKind::field_byte_offset);
        CHECK(held(r.program, pid.insn) == offsetof(v1::task, pid));
        CHECK(pid.description ==
              "struct task___old_abi.pid: offset 0 -> " + str(offsetof(v1::task, pid)) + " (target struct task.pid)");
        v1::task ctx{};
        ctx.pid = 99;
        CHECK(run(r.program, ctx) == 99);
    }

    SUBCASE("a field already where the target has it is left alone") {
        const Relocated r = relocate("read_comm", o.ambiguous); // both candidates agree on comm
        const elf::CoreOutcome comm = r.one(CoreKind::field_byte_offset);
        CHECK_FALSE(comm.applied);
        CHECK(comm.local_value == comm.target_value);
        CHECK(r.program.instructions == objects().get("read_comm").instructions);
    }
}

TEST_CASE("core: bitfields are read wherever and however wide the target makes them") {
    const Objects& o = objects();

    SUBCASE("v1: 6 signed bits in the middle of an int") {
        const auto bits = bit_span<v1::task>([](v1::task& t) { t.flags = -1; });
        const BitfieldLayout expected = bitfield_layout(bits, sizeof(int));
        const Relocated r = relocate("read_flags", o.v1);
        const elf::CoreOutcome offset = r.one(CoreKind::field_byte_offset);
        CHECK(held(r.program, offset.insn) == expected.byte_offset);
        CHECK(held(r.program, r.one(CoreKind::field_byte_size).insn) == expected.byte_size);
        CHECK(held(r.program, r.one(CoreKind::field_signed).insn) == 1);
        for (const auto& lshift : r.of(CoreKind::field_lshift_u64)) {
            CHECK(held(r.program, lshift.insn) == expected.lshift);
        }
        REQUIRE(r.of(CoreKind::field_rshift_u64).size() == 2); // the signed and the unsigned shift
        for (const auto& rshift : r.of(CoreKind::field_rshift_u64)) {
            CHECK(held(r.program, rshift.insn) == expected.rshift);
        }
        CHECK(r.one(CoreKind::field_signed).description == "struct task.flags: signed 0 -> 1");

        for (const int value : {-5, 31, -32, 0}) {
            v1::task ctx{};
            std::memset(&ctx, 0xff, sizeof ctx); // neighbours all ones: the shifts must cut them off
            ctx.flags = value;
            CHECK(run(r.program, ctx) == static_cast<std::uint64_t>(static_cast<std::int64_t>(value)));
        }
    }

    SUBCASE("v2: 35 unsigned bits in a 64-bit unit") {
        const auto bits = bit_span<v2::task___v2>([](v2::task___v2& t) { t.flags = t.flags - 1; });
        const BitfieldLayout expected = bitfield_layout(bits, sizeof(unsigned long long));
        const Relocated r = relocate("read_flags", o.v2);
        CHECK(held(r.program, r.one(CoreKind::field_byte_offset).insn) == expected.byte_offset);
        CHECK(held(r.program, r.one(CoreKind::field_byte_size).insn) == 8);
        CHECK(held(r.program, r.one(CoreKind::field_signed).insn) == 0);

        v2::task___v2 ctx{};
        std::memset(&ctx, 0xff, sizeof ctx);
        ctx.flags = (1ull << 34) | 5;
        CHECK(run(r.program, ctx) == ((1ull << 34) | 5));
    }

    SUBCASE("the builtins alone") {
        const auto bits = bit_span<v1::task>([](v1::task& t) { t.flags = -1; });
        const BitfieldLayout expected = bitfield_layout(bits, sizeof(int));
        const Relocated lshift = relocate("flags_lshift", o.v1);
        const Relocated rshift = relocate("flags_rshift", o.v1);
        char unused = 0;
        CHECK(run(lshift.program, unused) == expected.lshift);
        CHECK(run(rshift.program, unused) == expected.rshift);
        CHECK(lshift.one(CoreKind::field_lshift_u64).description ==
              "struct task.flags: lshift 61 -> " + str(expected.lshift));
    }
}

TEST_CASE("core: field, type and enum builtins give the target's answers") {
    const Objects& o = objects();
    struct Row {
        const char* program;
        const elf::ObjectFile* target;
        std::uint64_t expected;
        CoreKind kind;
    };
    const Row rows[] = {
        {"has_prio", &o.v1, 1, CoreKind::field_exists},
        {"has_prio", &o.v2, 0, CoreKind::field_exists},
        {"comm_size", &o.v1, sizeof(v1::task::comm), CoreKind::field_byte_size},
        {"comm_size", &o.v2, sizeof(v2::task___v2::comm), CoreKind::field_byte_size},
        {"prio_signed", &o.v1, 0, CoreKind::field_signed},
        {"comm_size", &o.ambiguous, sizeof(ambiguous::task::comm), CoreKind::field_byte_size},
        {"task_exists", &o.v1, 1, CoreKind::type_exists},
        {"task_exists", &o.v2, 1, CoreKind::type_exists},
        {"cgroup_exists", &o.v1, 0, CoreKind::type_exists},
        {"task_size", &o.v1, sizeof(v1::task), CoreKind::type_size},
        {"task_size", &o.v2, sizeof(v2::task___v2), CoreKind::type_size},
        {"task_size", &o.ambiguous, sizeof(ambiguous::task), CoreKind::type_size},
        {"task_type_id", &o.v1, target_id(o.v1, "task", Kind::struct_), CoreKind::type_id_target},
        {"task_type_id", &o.v2, target_id(o.v2, "task___v2", Kind::struct_), CoreKind::type_id_target},
        {"task_local_type_id", &o.v2, target_id(o.program, "task", Kind::struct_), CoreKind::type_id_local},
        {"zombie_exists", &o.v1, 1, CoreKind::enumval_exists},
        {"zombie_value", &o.v1, v1::TASK_ZOMBIE, CoreKind::enumval_value},
        {"zombie_value", &o.v2, v2::TASK_ZOMBIE, CoreKind::enumval_value},
        {"stopped_exists", &o.v1, 0, CoreKind::enumval_exists},
        {"stopped_exists", &o.v2, 1, CoreKind::enumval_exists},
        {"zombie_exists", &o.ambiguous, 0, CoreKind::enumval_exists},
    };
    for (const Row& row : rows) {
        CAPTURE(row.program);
        CAPTURE(row.expected);
        const Relocated r = relocate(row.program, *row.target);
        REQUIRE(r.outcomes.size() == 1);
        const elf::CoreOutcome& outcome = r.outcomes.front();
        CHECK(outcome.kind == row.kind);
        CHECK(outcome.target_value == row.expected);
        CHECK(outcome.applied == (outcome.local_value != row.expected));
        CHECK(held(r.program, outcome.insn) == row.expected);
        char unused = 0;
        CHECK(run(r.program, unused) == row.expected);
    }

    CHECK(relocate("cgroup_exists", o.v1).outcomes.front().description ==
          "struct cgroup: exists 1 -> 0 (not in the target)");
    CHECK(relocate("zombie_value", o.v1).outcomes.front().description ==
          "enum task_state::TASK_ZOMBIE: value " + str(local::TASK_ZOMBIE) + " -> " + str(v1::TASK_ZOMBIE));
    CHECK(relocate("zombie_value", o.v2).outcomes.front().description ==
          "enum task_state::TASK_ZOMBIE: value " + str(local::TASK_ZOMBIE) + " -> " + str(v2::TASK_ZOMBIE) +
              " (target enum task_state___v2::TASK_ZOMBIE)");
    CHECK(relocate("task_size", o.v1).outcomes.front().description ==
          "struct task: size " + str(sizeof(local::task)) + " -> " + str(sizeof(v1::task)));
}

TEST_CASE("core: what the target cannot give is an error naming the instruction, the type and the access") {
    const Objects& o = objects();

    SUBCASE("a missing field") {
        const Error error = relocation_error("read_pid_prio", o.v2);
        const elf::ProgramDefinition program = o.get("read_pid_prio");
        std::uint32_t prio_insn = 0;
        for (const auto& relocation : program.core_relocations) {
            prio_insn = relocation.access == "0:3" ? relocation.insn : prio_insn;
        }
        CHECK(error.kind == ErrorKind::invalid_input);
        CHECK(error.pc == prio_insn);
        CHECK(contains(error.message, "instruction " + str(prio_insn)));
        CHECK(contains(error.message, "struct task"));
        CHECK(contains(error.message, "\"0:3\""));
        CHECK(contains(error.message, "struct task.prio does not exist in the target"));
        CHECK(contains(error.message, "struct task___v2"));
    }
    SUBCASE("a missing type") {
        CHECK(contains(relocation_error("read_mm", o.v2).message, "the target has no struct named mm"));
        CHECK(
            contains(relocation_error("zombie_value", o.ambiguous).message, "the target has no enum named task_state"));
    }
    SUBCASE("a signed field that grew cannot be loaded with a resized load") {
        const Error error = relocation_error("read_uid", o.v2);
        CHECK(contains(error.message, "4 bytes locally and 8 in the target"));
        // v1 keeps it 4 bytes: only the offset moves.
        const Relocated r = relocate("read_uid", o.v1);
        CHECK(held(r.program, r.one(CoreKind::field_byte_offset).insn) == offsetof(v1::cred, uid));
    }
    SUBCASE("candidates that disagree") {
        CHECK(contains(relocation_error("read_pid_prio", o.ambiguous).message, "ambiguous target"));
        CHECK(contains(relocation_error("has_prio", o.ambiguous).message, "ambiguous target"));
        const Error ids = relocation_error("task_type_id", o.ambiguous);
        CHECK(contains(ids.message, "ambiguous target: struct task gives type id"));
        CHECK(contains(ids.message, "struct task___old gives type id"));
    }
    SUBCASE("an instruction that was not compiled for its relocation") {
        elf::ProgramDefinition program = o.get("read_pid_prio");
        for (const auto& relocation : program.core_relocations) {
            if (relocation.access == "0:3") {
                REQUIRE(program.instructions[relocation.insn].offset == offsetof(local::task, prio));
                program.instructions[relocation.insn].offset = 20;
            }
        }
        auto outcomes = elf::apply_core_relocations(program, *o.program.btf, *o.v1.btf);
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "holds 20 where the local types give 24"));
        CHECK(contains(outcomes.error().message, "not compiled for this relocation"));
    }
    SUBCASE("applying twice fails the check, because the instruction no longer holds the local value") {
        Relocated r = relocate("read_pid_prio", o.v1);
        auto again = elf::apply_core_relocations(r.program, *o.program.btf, *o.v1.btf);
        CHECK_FALSE(again.has_value());
    }
}

#endif // EMBPF_TEST_CORE_DIR

namespace {

/// Writes a `.BTF` section type by type; ids start at 1.
class BtfWriter {
  public:
    struct MemberSpec {
        std::string_view name;
        std::uint32_t type = 0;
        std::uint32_t bit_offset = 0;
        std::uint32_t bitfield_size = 0;
    };

    [[nodiscard]] std::uint32_t next_id() const { return m_count + 1; }

    std::uint32_t int_type(std::string_view name, std::uint32_t size, bool is_signed) {
        const std::uint32_t id = record(name, Kind::int_, 0, false, size);
        word((is_signed ? 1u << 24 : 0u) | size * 8);
        return id;
    }
    std::uint32_t ptr(std::uint32_t to) { return record({}, Kind::ptr, 0, false, to); }
    std::uint32_t typedef_type(std::string_view name, std::uint32_t to) {
        return record(name, Kind::typedef_, 0, false, to);
    }
    std::uint32_t array(std::uint32_t element, std::uint32_t index_type, std::uint32_t count) {
        const std::uint32_t id = record({}, Kind::array, 0, false, 0);
        word(element);
        word(index_type);
        word(count);
        return id;
    }
    std::uint32_t composite(std::string_view name, std::uint32_t size, const std::vector<MemberSpec>& members,
                            Kind kind = Kind::struct_) {
        bool bitfields = false;
        for (const MemberSpec& member : members) {
            bitfields = bitfields || member.bitfield_size != 0;
        }
        const auto vlen = static_cast<std::uint32_t>(members.size());
        const std::uint32_t id = record(name, kind, vlen, bitfields, size);
        for (const MemberSpec& member : members) {
            word(offset_of(member.name));
            word(member.type);
            word(bitfields ? member.bitfield_size << 24 | member.bit_offset : member.bit_offset);
        }
        return id;
    }
    std::uint32_t enumeration(std::string_view name,
                              std::initializer_list<std::pair<std::string_view, std::uint32_t>> values) {
        const std::uint32_t id = record(name, Kind::enum_, static_cast<std::uint32_t>(values.size()), false, 4);
        for (const auto& [enumerator, value] : values) {
            word(offset_of(enumerator));
            word(value);
        }
        return id;
    }
    std::uint32_t func_proto(std::uint32_t returns, const std::vector<std::uint32_t>& params) {
        const std::uint32_t id =
            record({}, Kind::func_proto, static_cast<std::uint32_t>(params.size()), false, returns);
        for (const std::uint32_t param : params) {
            word(0);
            word(param);
        }
        return id;
    }

    [[nodiscard]] btf::Types build() const {
        std::vector<std::uint8_t> bytes;
        const auto put = [&](std::uint32_t value, int width) {
            for (int i = 0; i < width; ++i) {
                bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
            }
        };
        put(0xeb9f, 2);
        put(1, 1); // version
        put(0, 1); // flags
        put(24, 4);
        put(0, 4);
        put(static_cast<std::uint32_t>(m_types.size()), 4);
        put(static_cast<std::uint32_t>(m_types.size()), 4);
        put(static_cast<std::uint32_t>(m_strings.size()), 4);
        bytes.insert(bytes.end(), m_types.begin(), m_types.end());
        bytes.insert(bytes.end(), m_strings.begin(), m_strings.end());
        auto types = btf::Types::parse(bytes);
        if (!types) {
            FAIL(types.error().message);
        }
        return std::move(types).value();
    }

  private:
    std::uint32_t offset_of(std::string_view name) {
        if (name.empty()) {
            return 0;
        }
        const auto offset = static_cast<std::uint32_t>(m_strings.size());
        m_strings.append(name);
        m_strings.push_back('\0');
        return offset;
    }
    void word(std::uint32_t value) {
        for (int i = 0; i < 4; ++i) {
            m_types.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
        }
    }
    std::uint32_t record(std::string_view name, Kind kind, std::uint32_t vlen, bool kind_flag,
                         std::uint32_t size_or_type) {
        word(offset_of(name));
        word((kind_flag ? 0x80000000u : 0u) | static_cast<std::uint32_t>(kind) << 24 | vlen);
        word(size_or_type);
        return ++m_count;
    }

    std::vector<std::uint8_t> m_types;
    std::string m_strings = std::string(1, '\0');
    std::uint32_t m_count = 0;
};

constexpr std::uint8_t ldx_w = isa::op::LDX | isa::op::MEM | isa::op::W;
constexpr std::uint8_t mov64_k = isa::op::ALU64 | isa::op::MOV | isa::op::K;
constexpr std::uint8_t mov32_k = isa::op::ALU | isa::op::MOV | isa::op::K;
constexpr std::uint8_t add64_x = isa::op::ALU64 | isa::op::ADD | isa::op::X;
constexpr std::uint8_t jeq_k = isa::op::JMP | isa::op::JEQ | isa::op::K;

elf::ProgramDefinition hand_program(std::vector<isa::Instruction> code, std::vector<btf::CoreRelocation> relocations) {
    elf::ProgramDefinition program;
    program.name = "hand";
    program.instructions = std::move(code);
    program.core_relocations = std::move(relocations);
    return program;
}

/// Local types shared by the hand-made cases: `struct s { int a; int b; }` (id 2) and `enum e { A = 1 }` (id 3).
struct LocalTypes {
    btf::Types types;
    std::uint32_t s = 0;
    std::uint32_t e = 0;
};

LocalTypes local_types() {
    BtfWriter w;
    const std::uint32_t i = w.int_type("int", 4, true);
    LocalTypes out;
    out.s = w.composite("s", 8, {{"a", i, 0}, {"b", i, 32}});
    out.e = w.enumeration("e", {{"A", 1}});
    out.types = w.build();
    return out;
}

Result<std::vector<elf::CoreOutcome>> apply(elf::ProgramDefinition& program, const btf::Types& local,
                                            const btf::Types& target) {
    return elf::apply_core_relocations(program, local, target);
}

} // namespace

TEST_CASE("core: fields are found by name through anonymous structs and unions") {
    const LocalTypes l = local_types();
    BtfWriter w;
    const std::uint32_t i = w.int_type("int", 4, true);
    const std::uint32_t inner = w.composite({}, 8, {{"c", i, 0}, {"b", i, 32}});
    const std::uint32_t middle = w.composite({}, 8, {{"pad", i, 0}, {{}, inner, 0}}, Kind::union_);
    w.composite("s", 16, {{"a", i, 0}, {{}, middle, 64}});
    const btf::Types target = w.build();

    elf::ProgramDefinition program = hand_program({isa::make(ldx_w, 0, 1, 4), isa::make(isa::op::EXIT_OP)},
                                                  {{0, l.s, "0:1", CoreKind::field_byte_offset}});
    auto outcomes = apply(program, l.types, target);
    REQUIRE(outcomes.has_value());
    CHECK(program.instructions[0].offset == 12);
    CHECK(outcomes->front().description == "struct s.b: offset 4 -> 12");
}

TEST_CASE("core: candidates share the essential name and a compatible member type") {
    const LocalTypes l = local_types();
    elf::ProgramDefinition program = hand_program({isa::make(ldx_w, 0, 1, 4), isa::make(isa::op::EXIT_OP)},
                                                  {{0, l.s, "0:1", CoreKind::field_byte_offset}});

    SUBCASE("names that only look flavored are other types") {
        BtfWriter w;
        const std::uint32_t i = w.int_type("int", 4, true);
        w.composite("s___", 8, {{"b", i, 0}});
        w.composite("s____x", 8, {{"b", i, 0}});
        w.composite("s", 8, {{"b", i, 0}}, Kind::union_); // a union is no candidate for a struct
        auto outcomes = apply(program, l.types, w.build());
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "the target has no struct named s"));
    }
    SUBCASE("a member of the right name but of another shape does not count") {
        BtfWriter w;
        const std::uint32_t i = w.int_type("int", 4, true);
        const std::uint32_t inner = w.composite("inner", 4, {{"x", i, 0}});
        w.composite("s___a", 8, {{"b", inner, 0}});
        w.composite("s___b", 8, {{"a", i, 0}, {"b", i, 32}, {"c", i, 64}});
        auto outcomes = apply(program, l.types, w.build());
        REQUIRE(outcomes.has_value());
        CHECK(program.instructions[0].offset == 4);
        CHECK(outcomes->front().description == "struct s.b: offset 4 -> 4 (target struct s___b.b)");
        CHECK_FALSE(outcomes->front().applied);
    }
}

TEST_CASE("core: flexible arrays and element accesses") {
    // Local `struct f { int n; int data[]; }`, access f->data[3]; the target puts data after a long long.
    BtfWriter lw;
    const std::uint32_t li = lw.int_type("int", 4, true);
    const std::uint32_t larr = lw.array(li, li, 0);
    const std::uint32_t lf = lw.composite("f", 4, {{"n", li, 0}, {"data", larr, 32}});
    const btf::Types local = lw.build();

    BtfWriter tw;
    const std::uint32_t ti = tw.int_type("int", 4, true);
    const std::uint32_t tll = tw.int_type("long long", 8, true);
    const std::uint32_t tarr = tw.array(ti, ti, 0);
    tw.composite("f", 16, {{"pad", tll, 0}, {"n", ti, 64}, {"data", tarr, 96}});
    const btf::Types target = tw.build();

    elf::ProgramDefinition program =
        hand_program({isa::make(ldx_w, 0, 1, 16), isa::make(mov64_k, 2, 0, 0, 4), isa::make(isa::op::EXIT_OP)},
                     {{0, lf, "0:1:3", CoreKind::field_byte_offset}, {1, lf, "0:1:3", CoreKind::field_byte_size}});
    auto outcomes = apply(program, local, target);
    REQUIRE(outcomes.has_value());
    CHECK(program.instructions[0].offset == 12 + 3 * 4);
    CHECK(program.instructions[1].imm == 4);
    CHECK(outcomes->front().description == "struct f.data[3]: offset 16 -> 24");
}

TEST_CASE("core: function prototypes decide type existence") {
    // typedef int (*handler)(int);
    BtfWriter lw;
    const std::uint32_t li = lw.int_type("int", 4, true);
    const std::uint32_t lh = lw.typedef_type("handler", lw.ptr(lw.func_proto(li, {li})));
    const btf::Types local = lw.build();

    const auto exists_in = [&](std::size_t param_count) {
        BtfWriter tw;
        const std::uint32_t ti = tw.int_type("int", 4, true);
        const std::vector<std::uint32_t> params(param_count, ti);
        tw.typedef_type("handler", tw.ptr(tw.func_proto(ti, params)));
        elf::ProgramDefinition program = hand_program({isa::make(mov64_k, 0, 0, 0, 1), isa::make(isa::op::EXIT_OP)},
                                                      {{0, lh, "0", CoreKind::type_exists}});
        auto outcomes = apply(program, local, tw.build());
        REQUIRE(outcomes.has_value());
        return program.instructions[0].imm;
    };
    CHECK(exists_in(1) == 1);
    CHECK(exists_in(2) == 0);
    CHECK(exists_in(0) == 0);
}

TEST_CASE("core: instructions that cannot take the value are errors") {
    const LocalTypes l = local_types();
    BtfWriter w;
    const std::uint32_t i = w.int_type("int", 4, true);
    w.composite("s", 40008, {{"a", i, 0}, {"b", i, 40000 * 8}});
    w.enumeration("e", {{"A", 0x80000000u}});
    const btf::Types target = w.build();

    struct Row {
        const char* name;
        std::vector<isa::Instruction> code;
        btf::CoreRelocation relocation;
        const char* error; // nullptr: succeeds
    };
    const isa::Instruction ret = isa::make(isa::op::EXIT_OP);
    const Row rows[] = {
        {"offset beyond 16 bits",
         {isa::make(ldx_w, 0, 1, 4), ret},
         {0, l.s, "0:1", CoreKind::field_byte_offset},
         "does not fit the 16-bit offset"},
        {"offset in a 32-bit immediate",
         {isa::make(mov64_k, 0, 0, 0, 4), ret},
         {0, l.s, "0:1", CoreKind::field_byte_offset},
         nullptr},
        {"register source",
         {isa::make(add64_x, 0, 1), ret},
         {0, l.s, "0:1", CoreKind::field_byte_offset},
         "takes a register"},
        {"a jump",
         {isa::make(jeq_k, 0, 0, 0, 4), ret},
         {0, l.s, "0:1", CoreKind::field_byte_offset},
         "holds no constant"},
        {"past the end", {ret}, {5, l.s, "0:1", CoreKind::field_byte_offset}, "past the end of the program"},
        {"unsigned 2^31 in mov64",
         {isa::make(mov64_k, 0, 0, 0, 1), ret},
         {0, l.e, "0", CoreKind::enumval_value},
         "does not fit the sign-extended 32-bit immediate"},
        {"unsigned 2^31 in mov32",
         {isa::make(mov32_k, 0, 0, 0, 1), ret},
         {0, l.e, "0", CoreKind::enumval_value},
         nullptr},
        {"unsigned 2^31 in lddw",
         {isa::make(isa::op::LDDW, 0, 0, 0, 1), isa::make(0), ret},
         {0, l.e, "0", CoreKind::enumval_value},
         nullptr},
        {"lddw of a map",
         {isa::make(isa::op::LDDW, 0, 1, 0, 1), isa::make(0), ret},
         {0, l.e, "0", CoreKind::enumval_value},
         "not a plain 64-bit constant load"},
        {"lddw cut short",
         {ret, isa::make(isa::op::LDDW, 0, 0, 0, 1)},
         {1, l.e, "0", CoreKind::enumval_value},
         "not a plain 64-bit constant load"},
        {"wrong compiled value",
         {isa::make(mov64_k, 0, 0, 0, 7), ret},
         {0, l.e, "0", CoreKind::enumval_value},
         "holds 7 where the local types give 1"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        elf::ProgramDefinition program = hand_program(row.code, {row.relocation});
        auto outcomes = apply(program, l.types, target);
        if (row.error == nullptr) {
            REQUIRE(outcomes.has_value());
            continue;
        }
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, row.error));
        CHECK(outcomes.error().pc == row.relocation.insn);
        CHECK(program.instructions == row.code);
    }

    elf::ProgramDefinition wide = hand_program({isa::make(isa::op::LDDW, 0, 0, 0, 1), isa::make(0), ret},
                                               {{0, l.e, "0", CoreKind::enumval_value}});
    REQUIRE(apply(wide, l.types, target).has_value());
    CHECK(isa::lddw_imm(wide.instructions[0], wide.instructions[1]) == 0x80000000u);
}

TEST_CASE("core: malformed relocations and hostile BTF are errors, never crashes") {
    const LocalTypes l = local_types();
    const auto run_one = [](const btf::Types& local, const btf::Types& target, btf::CoreRelocation relocation,
                            isa::Instruction ins) {
        elf::ProgramDefinition program = hand_program({ins, isa::make(isa::op::EXIT_OP)}, {std::move(relocation)});
        return apply(program, local, target);
    };

    SUBCASE("access strings") {
        std::string long_access = "0";
        for (int k = 0; k < 70; ++k) {
            long_access += ":0";
        }
        const std::pair<std::string, const char*> rows[] = {
            {"", "malformed access string"},
            {"0:", "malformed access string"},
            {":1", "malformed access string"},
            {"0:x", "malformed access string"},
            {"0:-1", "malformed access string"},
            {"0:4294967296", "malformed access string"},
            {"0:7", "member 7 of struct s, which has 2 members"},
            {"0:1:0", "neither a struct, a union nor an array"},
            {long_access, "more than 64 steps"},
        };
        for (const auto& row : rows) {
            CAPTURE(row.first);
            auto outcomes =
                run_one(l.types, l.types, {0, l.s, row.first, CoreKind::field_byte_offset}, isa::make(ldx_w, 0, 1, 4));
            REQUIRE_FALSE(outcomes.has_value());
            CHECK(contains(outcomes.error().message, row.second));
            CHECK(contains(outcomes.error().message, "struct s"));
        }
        auto type = run_one(l.types, l.types, {0, l.s, "1", CoreKind::type_size}, isa::make(mov64_k, 0, 0, 0, 8));
        REQUIRE_FALSE(type.has_value());
        CHECK(contains(type.error().message, "must be \"0\""));
        auto enumerator = run_one(l.types, l.types, {0, l.e, "3", CoreKind::enumval_value}, isa::make(mov64_k));
        REQUIRE_FALSE(enumerator.has_value());
        CHECK(contains(enumerator.error().message, "names no enumerator"));
        auto not_enum = run_one(l.types, l.types, {0, l.s, "0", CoreKind::enumval_value}, isa::make(mov64_k));
        REQUIRE_FALSE(not_enum.has_value());
        CHECK(contains(not_enum.error().message, "needs an enum"));
    }

    SUBCASE("kinds and ids") {
        auto matches = run_one(l.types, l.types, {0, l.s, "0", CoreKind::type_matches}, isa::make(mov64_k, 0, 0, 0, 1));
        REQUIRE_FALSE(matches.has_value());
        CHECK(matches.error().kind == ErrorKind::unsupported);
        auto dangling = run_one(l.types, l.types, {0, 99, "0:0", CoreKind::field_byte_offset}, isa::make(ldx_w));
        REQUIRE_FALSE(dangling.has_value());
        CHECK(contains(dangling.error().message, "type 99 does not exist"));
        auto array_shift = run_one(l.types, l.types, {0, l.s, "0", CoreKind::field_lshift_u64}, isa::make(mov64_k));
        REQUIRE_FALSE(array_shift.has_value());
        CHECK(contains(array_shift.error().message, "does not apply to an array element"));
    }

    SUBCASE("anonymous local types cannot be matched") {
        BtfWriter w;
        const std::uint32_t i = w.int_type("int", 4, true);
        const std::uint32_t anon = w.composite({}, 4, {{"x", i, 0}});
        const btf::Types types = w.build();
        auto outcomes = run_one(types, types, {0, anon, "0:0", CoreKind::field_byte_offset}, isa::make(ldx_w));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(outcomes.error().kind == ErrorKind::unsupported);
    }

    SUBCASE("a typedef cycle in the local types") {
        BtfWriter w;
        const std::uint32_t first = w.next_id();
        w.typedef_type("t", first + 1);
        w.typedef_type("u", first);
        const btf::Types types = w.build();
        auto outcomes = run_one(types, types, {0, first, "0:0", CoreKind::field_byte_offset}, isa::make(ldx_w));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "a cycle?"));
    }

    SUBCASE("a dangling member type in the target") {
        BtfWriter w;
        w.int_type("int", 4, true);
        w.composite("s", 8, {{"b", 999, 0}});
        auto outcomes =
            run_one(l.types, w.build(), {0, l.s, "0:1", CoreKind::field_byte_offset}, isa::make(ldx_w, 0, 1, 4));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "type 999 does not exist"));
    }

    SUBCASE("a target struct made of anonymous copies of itself") {
        BtfWriter w;
        const std::uint32_t self = w.next_id();
        w.composite("s", 8, std::vector<BtfWriter::MemberSpec>(60, BtfWriter::MemberSpec{{}, self, 0, 0}));
        auto outcomes =
            run_one(l.types, w.build(), {0, l.s, "0:1", CoreKind::field_byte_offset}, isa::make(ldx_w, 0, 1, 4));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "longer than 64 steps"));
    }

    SUBCASE("anonymous members that fan out 60 ways on each of 20 levels") {
        // Searching every path would take 60^20 steps; the search gives up after a fixed budget.
        BtfWriter w;
        const std::uint32_t i = w.int_type("int", 4, true);
        std::uint32_t level = w.composite({}, 4, {{"x", i, 0}});
        for (int depth = 0; depth < 20; ++depth) {
            level = w.composite({}, 4, std::vector<BtfWriter::MemberSpec>(60, BtfWriter::MemberSpec{{}, level, 0, 0}));
        }
        w.composite("s", 4, {{{}, level, 0}});
        auto outcomes =
            run_one(l.types, w.build(), {0, l.s, "0:1", CoreKind::field_byte_offset}, isa::make(ldx_w, 0, 1, 4));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "takes more than"));
    }

    SUBCASE("arrays of themselves") {
        BtfWriter lw;
        const std::uint32_t li = lw.int_type("int", 4, true);
        const std::uint32_t ls = lw.composite("s", 8, {{"b", lw.next_id() + 1, 0}});
        const std::uint32_t self_array = lw.array(lw.next_id(), li, 1);
        CHECK(self_array == ls + 1);
        const btf::Types types = lw.build();
        auto outcomes = run_one(types, types, {0, ls, "0:0", CoreKind::field_byte_offset}, isa::make(ldx_w));
        REQUIRE_FALSE(outcomes.has_value());
    }

    SUBCASE("prototypes whose parameters are all themselves") {
        BtfWriter w;
        const std::uint32_t ptr = w.next_id() + 1;
        const std::uint32_t proto = w.next_id() + 2;
        const std::uint32_t handler = w.typedef_type("handler", ptr);
        w.ptr(proto);
        w.func_proto(ptr, std::vector<std::uint32_t>(100, ptr));
        const btf::Types types = w.build();
        auto outcomes = run_one(types, types, {0, handler, "0", CoreKind::type_exists}, isa::make(mov64_k, 0, 0, 0, 1));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "nest deeper"));
    }

    SUBCASE("prototypes that fan out 100 ways on each of 10 levels") {
        BtfWriter w;
        const std::uint32_t i = w.int_type("int", 4, true);
        std::uint32_t level = w.ptr(w.func_proto(i, {}));
        for (int depth = 0; depth < 10; ++depth) {
            level = w.ptr(w.func_proto(i, std::vector<std::uint32_t>(100, level)));
        }
        const std::uint32_t handler = w.typedef_type("handler", level);
        const btf::Types types = w.build();
        auto outcomes = run_one(types, types, {0, handler, "0", CoreKind::type_exists}, isa::make(mov64_k, 0, 0, 0, 1));
        REQUIRE_FALSE(outcomes.has_value());
        CHECK(contains(outcomes.error().message, "takes more than"));
    }
}

// Matching a relocation against a struct of many members takes a step per member: one CoreRelocator holds the
// relocations of all the programs it serves to CoreRelocator::max_steps together, so that an object cannot make its
// load slow by the number of its programs or relocations (1,000 programs each rebuilt the target's index, 28 s).
TEST_CASE("core: one relocator serves many programs within one budget of steps") {
    const LocalTypes l = local_types();
    BtfWriter w;
    const std::uint32_t i = w.int_type("int", 4, true);
    std::vector<std::string> names;
    for (std::uint32_t m = 0; m < 65535; ++m) {
        names.push_back("m" + std::to_string(m));
    }
    std::vector<BtfWriter::MemberSpec> members;
    for (std::uint32_t m = 0; m < 65535; ++m) {
        members.push_back({names[m], i, m * 32});
    }
    w.composite("s", 65535 * 4, members); // no member b
    const btf::Types target = w.build();

    // A program of `r0 = 1` instructions, each asking whether s.b exists: 65,535 steps each.
    auto build = [&](std::uint32_t count) {
        std::vector<isa::Instruction> code;
        std::vector<btf::CoreRelocation> relocations;
        for (std::uint32_t k = 0; k < count; ++k) {
            code.push_back(isa::make(mov64_k, 0, 0, 0, 1));
            relocations.push_back({k, l.s, "0:1", CoreKind::field_exists});
        }
        code.push_back(isa::make(isa::op::EXIT_OP));
        return hand_program(std::move(code), std::move(relocations));
    };
    const std::uint32_t half = static_cast<std::uint32_t>(elf::CoreRelocator::max_steps / 65535 / 2) + 10;

    // Alone, each program fits.
    elf::ProgramDefinition alone = build(half);
    auto outcomes = apply(alone, l.types, target);
    REQUIRE_MESSAGE(outcomes.has_value(), (outcomes ? "" : outcomes.error().message));
    CHECK(outcomes->size() == half);
    CHECK(alone.instructions[0].imm == 0); // s.b does not exist in the target

    // Together through one relocator, the second runs out.
    elf::CoreRelocator relocator(l.types, target);
    elf::ProgramDefinition first = build(half);
    REQUIRE(relocator.apply(first).has_value());
    CHECK(first.instructions == alone.instructions);
    CHECK(relocator.steps() >= std::uint64_t{half} * 65535);
    elf::ProgramDefinition second = build(half);
    const auto before = second.instructions;
    auto refused = relocator.apply(second);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("CO-RE relocations take more than 67108864 steps together") !=
                      std::string::npos,
                  refused.error().message);
    CHECK(second.instructions == before); // left unchanged
}

namespace {

/// Local types for the path cases: `struct nosuch` (the root, which no target has), then 62 more structs, each with
/// one member named `member` whose type is the next struct (the last one's an int). Returns the types and the root.
std::pair<btf::Types, std::uint32_t> nested_members(const std::string& member) {
    BtfWriter w;
    const std::uint32_t i = w.int_type("int", 4, true);
    const std::uint32_t first = w.next_id();
    constexpr std::uint32_t depth = 63;
    for (std::uint32_t k = 0; k < depth; ++k) {
        const std::string name = k == 0 ? "nosuch" : "s" + std::to_string(k);
        w.composite(name, 4, {{member, k + 1 < depth ? first + k + 1 : i, 0}});
    }
    return {w.build(), first};
}

/// "0:0:...:0": the root, then the first member of each of the 63 structs (64 steps, the most an access has).
std::string access_through_all() {
    std::string access = "0";
    for (int k = 0; k < 63; ++k) {
        access += ":0";
    }
    return access;
}

} // namespace

// 63 nested members all named by one 1,000,000-byte string: each relocation's description held the whole path, 63 MB
// (20 relocations: 22 s and 2.6 GB). Paths show names cut to 512 bytes and are cut to 4,096 bytes, and every byte a
// relocation keeps costs a step of the relocator's budget.
TEST_CASE("core: access paths cut long member names short, and what an outcome keeps counts as steps") {
    const std::string long_name(100000, 'm');
    const auto [local, root] = nested_members(long_name);
    const LocalTypes target = local_types();
    const std::string access = access_through_all();
    elf::ProgramDefinition program =
        hand_program({isa::make(mov64_k, 0, 0, 0, 1), isa::make(mov64_k, 0, 0, 0, 1), isa::make(isa::op::EXIT_OP)},
                     {{0, root, access, CoreKind::field_exists}, {1, root, access, CoreKind::field_exists}});
    elf::CoreRelocator relocator(local, target.types);
    auto outcomes = relocator.apply(program);
    REQUIRE_MESSAGE(outcomes.has_value(), (outcomes ? "" : outcomes.error().message.substr(0, 1000)));
    REQUIRE(outcomes->size() == 2);
    std::uint64_t kept = 0;
    for (const elf::CoreOutcome& outcome : *outcomes) {
        const std::string& description = outcome.description;
        CHECK(description.size() <= 4096 + 100);
        CHECK(description.rfind("struct nosuch." + std::string(512, 'm') + "....", 0) == 0);
        CHECK(contains(description, "...: exists 1 -> 0 (not in the target)"));
        kept += description.size() + outcome.access.size();
    }
    CHECK(program.instructions[0].imm == 0);
    CHECK(relocator.steps() >= kept);

    // An error shows the access string cut short too.
    elf::ProgramDefinition malformed = hand_program({isa::make(mov64_k, 0, 0, 0, 1), isa::make(isa::op::EXIT_OP)},
                                                    {{0, root, "0:" + long_name, CoreKind::field_exists}});
    auto refused = relocator.apply(malformed);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "malformed access string"));
    CHECK(refused.error().message.size() < 2000);
}

// With names of 60 bytes the paths are not cut (3.9 KB each), but the relocations of an object together keep no more
// bytes than CoreRelocator::max_steps: past it, as past its steps, a relocator refuses further relocations.
TEST_CASE("core: the bytes all relocations keep are held to the relocator's steps") {
    const auto nested = nested_members(std::string(60, 'm'));
    const btf::Types& local = nested.first;
    const std::uint32_t root = nested.second; // a variable, not a binding: lambdas capture it
    const LocalTypes target = local_types();
    const std::string access = access_through_all();
    auto build = [&](std::uint32_t count) {
        std::vector<isa::Instruction> code;
        std::vector<btf::CoreRelocation> relocations;
        for (std::uint32_t k = 0; k < count; ++k) {
            code.push_back(isa::make(mov64_k, 0, 0, 0, 1));
            relocations.push_back({k, root, access, CoreKind::field_exists});
        }
        code.push_back(isa::make(isa::op::EXIT_OP));
        return hand_program(std::move(code), std::move(relocations));
    };
    elf::CoreRelocator relocator(local, target.types);
    elf::ProgramDefinition first = build(6000);
    auto outcomes = relocator.apply(first);
    REQUIRE_MESSAGE(outcomes.has_value(), (outcomes ? "" : outcomes.error().message.substr(0, 1000)));
    std::uint64_t kept = 0;
    for (const elf::CoreOutcome& outcome : *outcomes) {
        CHECK(outcome.description.size() > 3800); // not cut: 63 names of 60 bytes
        kept += outcome.description.size() + outcome.access.size();
    }
    CHECK(relocator.steps() >= kept);
    CHECK(kept <= elf::CoreRelocator::max_steps);

    elf::ProgramDefinition second = build(6000);
    auto refused = relocator.apply(second);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(contains(refused.error().message, "CO-RE relocations take more than 67108864 steps together"),
                  refused.error().message);
}
