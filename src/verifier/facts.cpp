// Report::facts: the analysis' states read back as RegisterFacts, joined over the states at each instruction, and
// access_fact over them.
#include "facts.hpp"

#include <algorithm>
#include <limits>

namespace embpf::verifier {

namespace detail {

namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// A zone bound as a value: the zone's infinities are the ends of the int64 range (kNegInf is -2^63 + 1, which stands
// for no bound, so it is widened to -2^63).
std::int64_t low(Bound b) { return b == kNegInf ? kMin : b; }
std::int64_t high(Bound b) { return b == kInf ? kMax : b; }

// a + d, saturating at the ends of the int64 range, which stand for no bound and stay so.
std::int64_t shift(std::int64_t a, std::int64_t d) {
    if (a == kMin || a == kMax) {
        return a;
    }
    const __int128 sum = static_cast<__int128>(a) + d;
    return sum <= kMin ? kMin : sum >= kMax ? kMax : static_cast<std::int64_t>(sum);
}

RegisterFact fact_of(const State& s, int r, const std::vector<bool>& exact) {
    using K = RegisterFact::Kind;
    const Type& t = s.regs[static_cast<std::size_t>(r)];
    RegisterFact f;
    const Interval v = t.has_var() ? s.zone.interval(reg_var(r)) : Interval{};
    const std::int64_t lo = low(v.lo);
    const std::int64_t hi = high(v.hi);
    auto pointer = [&](K kind) {
        f.kind = kind;
        f.may_be_null = t.nullable;
        f.offset_min = lo;
        f.offset_max = hi;
    };
    switch (t.kind) {
    case Kind::uninit:
    case Kind::invalid: return f;
    case Kind::number:
        f.kind = K::number;
        f.smin = lo;
        f.smax = hi;
        if (lo >= 0 || hi < 0) { // one side of 0: the unsigned values keep their order
            f.umin = static_cast<std::uint64_t>(lo);
            f.umax = static_cast<std::uint64_t>(hi);
        }
        return f;
    case Kind::ctx: pointer(K::context); return f;
    case Kind::stack: {
        pointer(K::stack);
        // The zone's offsets are from the entry's r10; a frame lies kFrameSize below its caller's.
        const auto frame = static_cast<std::int64_t>(s.frame());
        f.offset_min = shift(lo, frame * kFrameSize);
        f.offset_max = shift(hi, frame * kFrameSize);
        if (f.offset_min >= -kFrameSize && f.offset_max <= 0) {
            f.frame = RegisterFact::Frame::own;
        } else if (f.offset_min > 0 && f.offset_max <= frame * kFrameSize) {
            f.frame = RegisterFact::Frame::caller;
        }
        return f;
    }
    case Kind::packet:
        if (t.aux == 0) {
            pointer(K::packet);
            f.end_min = -high(s.zone.diff_ub(kPacketSize, reg_var(r)));
            f.end_max = high(s.zone.diff_ub(reg_var(r), kPacketSize));
            if (f.end_min == -kMax) {
                f.end_min = kMin;
            }
        } else {
            pointer(K::memory);
            f.index = t.aux - 1;
        }
        return f;
    case Kind::shared:
    case Kind::map:
        pointer(t.kind == Kind::shared ? K::map_value : K::map);
        f.index = t.aux;
        f.exact_map = t.aux < exact.size() && exact[t.aux];
        return f;
    case Kind::alloc:
        pointer(K::allocation);
        f.index = t.aux;
        return f;
    case Kind::func:
        pointer(K::function);
        f.index = t.aux;
        return f;
    }
    return f;
}

void join_fact(RegisterFact& a, const RegisterFact& b) {
    using K = RegisterFact::Kind;
    if (a.kind != b.kind) {
        a = {};
        return;
    }
    switch (a.kind) {
    case K::unknown: return;
    case K::number:
        a.smin = std::min(a.smin, b.smin);
        a.smax = std::max(a.smax, b.smax);
        a.umin = std::min(a.umin, b.umin);
        a.umax = std::max(a.umax, b.umax);
        return;
    case K::memory:
    case K::allocation:
    case K::function:
        if (a.index != b.index) { // different regions, sizes or functions: no kind covers both
            a = {};
            return;
        }
        break;
    case K::map_value:
    case K::map:
        if (a.index != b.index) {
            a.index = RegisterFact::kNoIndex;
        }
        a.exact_map = a.exact_map && b.exact_map && a.index != RegisterFact::kNoIndex;
        break;
    case K::context:
    case K::stack:
    case K::packet: break;
    }
    a.may_be_null = a.may_be_null || b.may_be_null;
    if (a.frame != b.frame) {
        a.frame = RegisterFact::Frame::unknown;
    }
    a.offset_min = std::min(a.offset_min, b.offset_min);
    a.offset_max = std::max(a.offset_max, b.offset_max);
    a.end_min = std::min(a.end_min, b.end_min);
    a.end_max = std::max(a.end_max, b.end_max);
}

} // namespace

std::vector<bool> exact_maps(std::span<const MapDescriptor> maps, AlikeMaps alike) {
    std::vector<std::size_t> members(maps.size(), 0);
    auto group = [&](std::size_t i) { return i < alike.size() ? alike[i] : i; };
    for (std::size_t i = 0; i < maps.size(); ++i) {
        if (group(i) < members.size()) {
            ++members[group(i)];
        }
    }
    std::vector<bool> exact(maps.size(), false);
    for (std::size_t i = 0; i < maps.size(); ++i) {
        exact[i] = group(i) < members.size() && members[group(i)] == 1;
    }
    for (const MapDescriptor& map : maps) {
        if (map.inner && *map.inner < exact.size()) {
            exact[*map.inner] = false; // a lookup in the outer map gives some map it describes
        }
    }
    return exact;
}

InstructionFacts facts_of(const State& s, const std::vector<bool>& exact) {
    InstructionFacts facts;
    facts.reached = true;
    for (int r = 0; r < isa::kRegisterCount; ++r) {
        facts.registers[static_cast<std::size_t>(r)] = fact_of(s, r, exact);
    }
    return facts;
}

void join_facts(InstructionFacts& into, const InstructionFacts& other) {
    if (!other.reached) {
        return;
    }
    if (!into.reached) {
        into = other;
        return;
    }
    for (std::size_t r = 0; r < into.registers.size(); ++r) {
        join_fact(into.registers[r], other.registers[r]);
    }
}

void forget_shift_pairs(std::span<InstructionFacts> facts, std::span<const isa::Instruction> code) {
    namespace op = isa::op;
    for (std::size_t pc = 1; pc < code.size() && pc < facts.size(); ++pc) {
        const isa::Instruction& left = code[pc - 1];
        const isa::Instruction& right = code[pc];
        const bool pair =
            left.opcode == (op::ALU64 | op::LSH | op::K) &&
            (right.opcode == (op::ALU64 | op::RSH | op::K) || right.opcode == (op::ALU64 | op::ARSH | op::K)) &&
            right.dst == left.dst && right.imm == left.imm && left.dst < isa::kRegisterCount;
        if (pair && facts[pc].reached && (pc < 2 || !isa::is_lddw(code[pc - 2]))) {
            RegisterFact& f = facts[pc].registers[left.dst];
            if (f.kind == RegisterFact::Kind::number) {
                f = RegisterFact{};
                f.kind = RegisterFact::Kind::number; // the widest intervals
            }
        }
    }
}

} // namespace detail

std::optional<AccessFact> access_fact(std::span<const InstructionFacts> facts, std::span<const isa::Instruction> code,
                                      std::size_t pc) {
    if (pc >= code.size() || pc >= facts.size() || !facts[pc].reached) {
        return std::nullopt;
    }
    const isa::Instruction& ins = code[pc];
    const std::uint8_t cls = isa::op_class(ins.opcode);
    const std::uint8_t mode = isa::op_mode(ins.opcode);
    std::uint8_t base = 0;
    if (cls == isa::op::LDX && (mode == isa::op::MEM || mode == isa::op::MEMSX)) {
        base = ins.src;
    } else if ((cls == isa::op::ST && mode == isa::op::MEM) ||
               (cls == isa::op::STX && (mode == isa::op::MEM || mode == isa::op::ATOMIC))) {
        base = ins.dst;
    } else {
        return std::nullopt;
    }
    if (base >= facts[pc].registers.size()) {
        return std::nullopt;
    }
    const RegisterFact& fact = facts[pc].registers[base];
    AccessFact access;
    access.width = static_cast<std::uint32_t>(isa::size_bytes(isa::op_size(ins.opcode)));
    if (!fact.is_pointer()) {
        return access; // a number (a probe read through a host address) or unknown: nothing about the region
    }
    access.region = fact.kind;
    access.exact_map = fact.exact_map;
    access.index = fact.index;
    access.offset_min = detail::shift(fact.offset_min, ins.offset);
    access.offset_max = detail::shift(fact.offset_max, ins.offset);
    if (fact.kind == RegisterFact::Kind::stack && access.offset_min != std::numeric_limits<std::int64_t>::min() &&
        access.offset_max != std::numeric_limits<std::int64_t>::max()) {
        const std::int64_t end = access.offset_max + access.width; // one past the last byte accessed
        if (access.offset_min >= -detail::kFrameSize && end <= 0) {
            access.frame = RegisterFact::Frame::own;
        } else if (access.offset_min >= 0) {
            // At or above r10: the verifier accepts a stack access only inside the frames of the call chain, so these
            // bytes are a caller's.
            access.frame = RegisterFact::Frame::caller;
        }
    }
    return access;
}

} // namespace embpf::verifier
