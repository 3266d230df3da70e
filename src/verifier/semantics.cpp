#include "semantics.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_map>

namespace embpf::verifier::detail {

namespace op = isa::op;

namespace {

constexpr Bound kU32Max = 0xFFFFFFFFLL;

std::string reg(int r) { return "r" + std::to_string(r); }

std::string signed_offset(Bound k) {
    if (k == 0) {
        return "";
    }
    return k > 0 ? "+" + std::to_string(k) : std::to_string(k);
}

bool finite(const Interval& i) { return i.lo != kNegInf && i.hi != kInf; }

// An interval from 128-bit ends; top when the value could leave int64 (the machine would wrap).
Interval exact(__int128 lo, __int128 hi) {
    if (lo <= kNegInf || hi >= kInf) {
        return {};
    }
    return {static_cast<Bound>(lo), static_cast<Bound>(hi)};
}

Interval constant(Bound c) { return {c, c}; }

Interval bits(int n) { return {0, n >= 63 ? kInf : (Bound{1} << n) - 1}; }

// The smallest 2^k - 1 covering v (v >= 0).
Bound fill_bits(Bound v) {
    Bound out = 0;
    while (out < v) {
        out = out * 2 + 1;
    }
    return out;
}

// The low 32 bits of the values in i, as the 32-bit ALU sees them: exact for values inside one window
// [k * 2^32, (k + 1) * 2^32) (a constant, a small negative range), else any.
Interval low32(const Interval& i) {
    if (i.lo == kNegInf || i.hi == kInf || (i.lo >> 32) != (i.hi >> 32)) {
        return {0, kU32Max};
    }
    const Bound base = (i.lo >> 32) * (Bound{1} << 32);
    return {i.lo - base, i.hi - base};
}
Interval wrap32(const Interval& i) { return i.within(0, kU32Max) ? i : Interval{0, kU32Max}; }

// The k of the window of 2^32 values holding v, whose low 32 bits are v - k 2^32: [k 2^32, (k + 1) 2^32), or read as
// signed [k 2^32 - 2^31, k 2^32 + 2^31). floor(v / 2^32) or floor((v + 2^31) / 2^32), without overflow.
Bound window_index(Bound v, bool is_signed) { return is_signed ? ((v >> 31) + 1) >> 1 : v >> 32; }
// Windows this far out are left alone, so that the difference of two windows' starts fits a Bound.
constexpr Bound kMaxWindow = Bound{1} << 30;

// The ISA's arithmetic on known values, at 64 or 32 bits (RFC 9669: division by zero gives 0, modulo by zero keeps
// the dividend, shift amounts are masked to the width).
template <typename U>
U eval(std::uint8_t code, std::int16_t offset, U a, U b) {
    using S = std::make_signed_t<U>;
    constexpr U mask = sizeof(U) * 8 - 1;
    const auto sa = static_cast<S>(a);
    const auto sb = static_cast<S>(b);
    switch (code) {
    case op::ADD: return a + b;
    case op::SUB: return a - b;
    case op::MUL: return a * b;
    case op::DIV:
        if (b == 0) {
            return 0;
        }
        if (offset == 1) {
            return sb == -1 ? U{0} - a : static_cast<U>(sa / sb);
        }
        return a / b;
    case op::MOD:
        if (b == 0) {
            return a;
        }
        if (offset == 1) {
            return sb == -1 ? U{0} : static_cast<U>(sa % sb);
        }
        return a % b;
    case op::OR: return a | b;
    case op::AND: return a & b;
    case op::XOR: return a ^ b;
    case op::LSH: return a << (b & mask);
    case op::RSH: return a >> (b & mask);
    case op::ARSH: return static_cast<U>(sa >> (b & mask));
    default: return 0;
    }
}

// Interval arithmetic for values not both known. `width` is 64 or 32 (operands already reduced to low 32 bits).
Interval abstract_op(std::uint8_t code, std::int16_t offset, const Interval& a, const Interval& b, int width) {
    const bool nonneg = a.lo >= 0 && b.lo >= 0;
    switch (code) {
    case op::ADD:
        if (finite(a) && finite(b)) {
            return exact(static_cast<__int128>(a.lo) + b.lo, static_cast<__int128>(a.hi) + b.hi);
        }
        return {};
    case op::SUB:
        if (finite(a) && finite(b)) {
            return exact(static_cast<__int128>(a.lo) - b.hi, static_cast<__int128>(a.hi) - b.lo);
        }
        return {};
    case op::MUL:
        if (finite(a) && finite(b)) {
            const std::array<__int128, 4> c{static_cast<__int128>(a.lo) * b.lo, static_cast<__int128>(a.lo) * b.hi,
                                            static_cast<__int128>(a.hi) * b.lo, static_cast<__int128>(a.hi) * b.hi};
            return exact(*std::min_element(c.begin(), c.end()), *std::max_element(c.begin(), c.end()));
        }
        return {};
    case op::DIV:
        if (offset == 0 || nonneg) {
            if (nonneg && a.hi != kInf) {
                const Bound low = b.hi == kInf ? 0 : a.lo / std::max<Bound>(b.hi, 1);
                return {b.lo == 0 ? 0 : low, a.hi / std::max<Bound>(b.lo, 1)};
            }
            if (offset == 0 && b.lo >= 2) {
                return {0, static_cast<Bound>(~std::uint64_t{0} >> (64 - width) >> 1)};
            }
        }
        return {};
    case op::MOD:
        if (offset == 0 || nonneg) {
            if (b.lo >= 1 && b.hi != kInf) {
                const Bound top = b.hi - 1;
                return a.lo >= 0 ? Interval{0, std::min(top, a.hi)} : Interval{0, top};
            }
            if (a.lo >= 0) {
                return {0, a.hi};
            }
        }
        return {};
    case op::AND:
        if (a.lo >= 0 && b.lo >= 0) {
            return {0, std::min(a.hi, b.hi)};
        }
        if (a.lo >= 0) {
            return {0, a.hi};
        }
        if (b.lo >= 0) {
            return {0, b.hi};
        }
        return {};
    case op::OR:
    case op::XOR:
        if (nonneg && a.hi != kInf && b.hi != kInf) {
            return {code == op::OR ? std::max(a.lo, b.lo) : 0, fill_bits(std::max(a.hi, b.hi))};
        }
        return {};
    case op::LSH:
        if (b.singleton() && a.lo >= 0 && a.hi != kInf) {
            const int k = static_cast<int>(b.lo & (width - 1));
            return exact(static_cast<__int128>(a.lo) << k, static_cast<__int128>(a.hi) << k);
        }
        return {};
    case op::RSH:
        if (b.singleton()) {
            const int k = static_cast<int>(b.lo & (width - 1));
            if (a.lo >= 0) {
                // A value with no upper bound is still at most 2^63 - 1.
                const Bound top = a.hi == kInf ? std::numeric_limits<std::int64_t>::max() : a.hi;
                return {a.lo >> k, k == 0 && a.hi == kInf ? kInf : top >> k};
            }
            if (k > 0) {
                return {0, static_cast<Bound>((~std::uint64_t{0} >> (64 - width)) >> k)};
            }
            return {};
        }
        return a.lo >= 0 ? Interval{0, a.hi} : Interval{};
    case op::ARSH:
        if (width == 64 && b.singleton()) {
            const int k = static_cast<int>(b.lo & 63);
            const Bound lo = a.lo == kNegInf ? std::numeric_limits<std::int64_t>::min() >> k : a.lo >> k;
            const Bound hi = a.hi == kInf ? kInf >> k : a.hi >> k;
            return {lo, hi};
        }
        if (a.lo >= 0) {
            return {0, a.hi};
        }
        return {};
    default: return {};
    }
}

// dst := a + b, or a - b: the result's interval and its differences to the operands' old values, so that what the
// zone knew of the operands carries over (data + len <= data_end, end - start == packet_size). dst may be a or b;
// kTemp and kTemp + 1 are scratch.
void assign_sum(Zone& z, Var dst, Var a, Var b, bool subtract) {
    const Interval ia = z.interval(a);
    const Interval ib = z.interval(b);
    Interval range = abstract_op(subtract ? op::SUB : op::ADD, 0, ia, ib, 64);
    if (range.is_top()) {
        // It could wrap: an operand's value is linked to the result modulo 2^64 (a bound on either later gives one on
        // the other where it rules the wrap out).
        if (ib.singleton()) {
            z.assign_wrapping(dst, a, subtract ? static_cast<Bound>(0 - static_cast<std::uint64_t>(ib.lo)) : ib.lo);
        } else if (!subtract && ia.singleton()) {
            z.assign_wrapping(dst, b, ia.lo);
        } else {
            z.forget(dst);
        }
        return;
    }
    if (ib.singleton()) {
        z.assign(dst, a, subtract ? -ib.lo : ib.lo);
        return;
    }
    if (!subtract && ia.singleton()) {
        z.assign(dst, b, ia.lo);
        return;
    }
    z.assign(kTemp, a, 0);
    z.assign(kTemp + 1, b, 0);
    if (subtract) {
        const Bound down = z.diff_ub(kTemp + 1, kTemp);
        range.hi = std::min(range.hi, z.diff_ub(kTemp, kTemp + 1));
        range.lo = std::max(range.lo, down == kInf ? kNegInf : -down);
    }
    z.set(dst, range);
    // Not both operands are constants here, so both are finite: the negations cannot overflow.
    if (subtract) {
        z.constrain(dst, kTemp, -ib.lo);
        z.constrain(kTemp, dst, ib.hi);
    } else {
        z.constrain(dst, kTemp, ib.hi);
        z.constrain(kTemp, dst, -ib.lo);
        z.constrain(dst, kTemp + 1, ia.hi);
        z.constrain(kTemp + 1, dst, -ia.lo);
    }
    z.forget(kTemp);
    z.forget(kTemp + 1);
}

bool same_region(const Type& a, const Type& b) {
    if (a.kind != b.kind) {
        return false;
    }
    if (a.kind == Kind::shared || a.kind == Kind::alloc || a.kind == Kind::map || a.kind == Kind::func ||
        a.kind == Kind::packet) {
        return a.aux == b.aux; // the packet, or one of the context's memory regions
    }
    return true;
}

// Applies f to every register, saved register and stack cell type of a state, with its zone variable.
template <typename F>
void for_each_type(State& s, F&& f) {
    for (int r = 0; r < 11; ++r) {
        f(s.regs[r], reg_var(r));
    }
    for (std::size_t frame = 0; frame < s.saved.size(); ++frame) {
        for (std::size_t i = 0; i < kSavedRegisters; ++i) {
            f(s.saved[frame][i], saved_var(frame, static_cast<int>(i) + 1));
        }
    }
    for (Cell& cell : s.cells) {
        f(cell.type, cell_var(cell.offset));
    }
}

using MK = platform::MapKind;

std::string kind_name(MK kind) { return std::string(platform::to_string(kind)); }

} // namespace

namespace {
// What a map takes besides its elements (the runtime's object, its lock, its allocation's header): counted for each
// inner map a map of maps may hold, many small maps being as far from the caches as one large one.
constexpr std::uint64_t kMapObjectBytes = 512;
} // namespace

Semantics::Semantics(std::span<const isa::Instruction> code, const platform::Platform& platform,
                     const platform::ProgramType& type, std::span<const MapDescriptor> maps,
                     std::vector<std::optional<MapLoad>> loads, std::vector<std::optional<bool>> externs)
    : m_code(code), m_platform(platform), m_type(type), m_maps(maps), m_loads(std::move(loads)),
      m_externs(std::move(externs)), m_targets(code.size() + 1) {
    // The context's memory regions (validate() checked their fields); regions of one size field share its variable.
    for (const platform::ContextField* field : type.context.regions()) {
        Region region;
        region.offset = field->offset;
        region.most = field->memory_size;
        region.writable = field->memory_writable;
        region.name = field->name;
        region.size_var = kRegionSizeVar + static_cast<Var>(m_regions.size());
        if (const platform::ContextField* size = type.context.field(field->size_field);
            !field->size_field.empty() && size != nullptr) {
            region.size_field = size->offset;
            region.size_width = size->size;
            region.most = field->memory_size == 0 ? platform::kMaxRegionSize : field->memory_size;
            for (const Region& other : m_regions) {
                if (other.size_field == region.size_field) {
                    region.size_var = other.size_var;
                    region.most = std::min(region.most, other.most);
                }
            }
        }
        m_regions.push_back(std::move(region));
    }
    // What the maps take together, each as its runtime lays it out (about: elements of hashed maps carry their key
    // and a header), a map of maps with an inner map in every entry.
    std::uint64_t total = 0;
    auto footprint = [](const MapDescriptor& m) -> std::uint64_t {
        if (m.kind == MK::ringbuf) {
            return m.max_entries; // its size in bytes
        }
        if (m.kind == MK::bloom_filter) {
            // Its bits: max_entries * hash functions (at most 15) * 7/5, rounded up to a power of two, so at most
            // 5.25 bytes an entry.
            return std::uint64_t{6} * std::max<std::uint32_t>(m.max_entries, 1);
        }
        const std::uint64_t value =
            std::uint64_t{m.value_size} * (platform::is_per_cpu(m.kind) ? std::max<std::uint32_t>(m.slots, 1) : 1);
        const std::uint64_t element = platform::is_hashed(m.kind) ? std::uint64_t{m.key_size} + value + 64 : value;
        return element * std::max<std::uint32_t>(m.max_entries, 1);
    };
    for (const MapDescriptor& m : maps) {
        std::uint64_t bytes = footprint(m);
        if (m.inner && *m.inner < maps.size()) {
            // Inner maps of any size (BPF_F_INNER_MAP): as large as a host may make them. Each inner map is an object
            // of its own besides its elements (kMapObjectBytes), reached through a pointer.
            bytes += maps[*m.inner].any_size
                         ? platform::kFarMemoryBytes
                         : (footprint(maps[*m.inner]) + kMapObjectBytes) * std::max<std::uint32_t>(m.max_entries, 1);
        }
        total = total > ~std::uint64_t{0} - bytes ? ~std::uint64_t{0} : total + bytes;
    }
    m_far = total >= platform::kFarMemoryBytes;
    // Each map's first alike map: same kind, sizes, slots, rights, lock and constant value, and the same inner template
    // (or inner templates alike that hold no maps themselves). Compared only within a bucket of a hash of all of it:
    // an object may have tens of thousands of maps, and a comparison of every pair took seconds per program.
    auto same_contents = [](const MapDescriptor& a, const MapDescriptor& b) {
        return a.kind == b.kind && a.key_size == b.key_size && a.value_size == b.value_size &&
               a.read_only == b.read_only && a.frozen_value == b.frozen_value && a.slots == b.slots &&
               a.any_size == b.any_size && a.spin_lock == b.spin_lock;
    };
    auto plain_inner = [&](const MapDescriptor& m) {
        return m.inner && *m.inner < maps.size() && !maps[*m.inner].inner ? &maps[*m.inner] : nullptr;
    };
    auto alike = [&](const MapDescriptor& a, const MapDescriptor& b) {
        if (!same_contents(a, b)) {
            return false;
        }
        if (a.inner == b.inner) {
            return true;
        }
        // Templates of maps of maps: alike if they hold no maps themselves.
        const MapDescriptor* x = plain_inner(a);
        const MapDescriptor* y = plain_inner(b);
        return x != nullptr && y != nullptr && same_contents(*x, *y);
    };
    auto mix = [](std::uint64_t h, std::uint64_t v) { return (h ^ v) * 0x100000001b3ULL; };
    auto hash_contents = [&](const MapDescriptor& m) {
        std::uint64_t h = 0xcbf29ce484222325ULL;
        for (const std::uint64_t v : {std::uint64_t{static_cast<std::uint32_t>(m.kind)}, std::uint64_t{m.key_size},
                                      std::uint64_t{m.value_size}, std::uint64_t{m.slots}, std::uint64_t{m.read_only},
                                      std::uint64_t{m.any_size}, std::uint64_t{m.frozen_value.size()}}) {
            h = mix(h, v);
        }
        for (std::size_t k = 0; k < m.frozen_value.size() && k < 64; ++k) {
            h = mix(h, m.frozen_value[k]);
        }
        return h;
    };
    // Alike maps hash alike: the inner template counts by its contents when it holds no maps, else by its index.
    auto hash_alike = [&](const MapDescriptor& m) {
        std::uint64_t h = hash_contents(m);
        if (!m.inner) {
            return mix(h, 1);
        }
        if (const MapDescriptor* inner = plain_inner(m)) {
            return mix(mix(h, 2), hash_contents(*inner));
        }
        return mix(mix(h, 3), *m.inner);
    };
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> buckets; // hash -> first maps of their kind
    m_alike.resize(maps.size());
    for (std::size_t i = 0; i < maps.size(); ++i) {
        m_alike[i] = static_cast<std::uint32_t>(i);
        std::vector<std::uint32_t>& bucket = buckets[hash_alike(maps[i])];
        for (const std::uint32_t j : bucket) {
            if (alike(maps[i], maps[j])) {
                m_alike[i] = j;
                break;
            }
        }
        if (m_alike[i] == i) {
            bucket.push_back(static_cast<std::uint32_t>(i));
        }
    }
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        if (isa::is_branch(code[pc].opcode)) {
            const std::int64_t to = static_cast<std::int64_t>(pc) + 1 + isa::branch_offset(code[pc]);
            if (to >= 0 && static_cast<std::size_t>(to) < m_targets.size()) {
                m_targets[static_cast<std::size_t>(to)] = true;
            }
        }
    }
}

bool Semantics::extension_pair(std::size_t shift, const Interval& value) const {
    // `rX <<= k; rX >>= k` (or `s>>=`) as clang emits it to zero- or sign-extend a 32-bit counter: the identity
    // when the value already fits, and then the relations of rX survive the pair.
    if (shift + 1 >= m_code.size() || m_targets[shift + 1]) {
        return false;
    }
    const isa::Instruction& left = m_code[shift];
    const isa::Instruction& right = m_code[shift + 1];
    if (left.opcode != (op::ALU64 | op::LSH | op::K) || right.dst != left.dst || right.imm != left.imm ||
        left.imm <= 0 || left.imm >= 64) {
        return false;
    }
    const int k = left.imm;
    if (right.opcode == (op::ALU64 | op::RSH | op::K)) {
        return value.lo >= 0 && value.hi != kInf && value.hi <= static_cast<Bound>((~std::uint64_t{0}) >> k);
    }
    if (right.opcode == (op::ALU64 | op::ARSH | op::K)) {
        const Bound half = Bound{1} << (63 - k);
        return value.lo >= -half && value.hi != kInf && value.hi < half;
    }
    return false;
}

void Semantics::report(std::size_t pc, std::string message, std::string assertion) const {
    if (m_sink != nullptr) {
        m_sink->push_back({pc, std::move(message), std::move(assertion)});
    }
}

void Semantics::warn(std::size_t pc, std::string message) const {
    if (m_sink != nullptr) {
        m_sink->push_back({pc, std::move(message), "", true});
    }
}

State Semantics::initial() const {
    State s;
    s.regs[1] = {Kind::ctx, false, 0};
    s.zone.set(reg_var(1), constant(0));
    s.regs[10] = {Kind::stack, false, 0};
    s.zone.set(reg_var(10), constant(0));
    s.zone.set(kOpenRecords, constant(0));
    const platform::ContextDescriptor& ctx = m_type.context;
    if (ctx.data >= 0 && ctx.data_end >= 0) {
        set_packet_bounds(s);
    }
    // Each memory region's size, as the entry checks it.
    for (const Region& region : m_regions) {
        s.zone.set(region.size_var, region.size_field < 0 ? constant(region.most) : Interval{0, region.most});
    }
    return s;
}

bool Semantics::usable(State& s, std::size_t pc, int r) const {
    const Type& t = s.regs[r];
    if (t.kind == Kind::uninit) {
        report(pc, reg(r) + " is uninitialized", reg(r) + ".type != uninit");
        return false;
    }
    if (t.kind == Kind::invalid) {
        switch (t.aux) {
        case kMovedPacket:
            report(pc, "Packet pointer used after a helper that moves the packet", reg(r) + ".type != stale packet");
            break;
        case kReleasedAlloc:
            report(pc, reg(r) + " points to memory already submitted or discarded", reg(r) + ".type != released");
            break;
        case kReturnedFrame:
            report(pc, reg(r) + " points into the frame of a function that returned", reg(r) + ".type != stale stack");
            break;
        case kLowHalfPacket:
            report(pc,
                   reg(r) + " holds the low 32 bits of a packet pointer, which only a 32-bit subtraction of another "
                            "packet pointer makes a number",
                   reg(r) + ".type != low half of a pointer");
            break;
        default: report(pc, reg(r) + " has a different type on different paths", reg(r) + ".type is consistent");
        }
        return false;
    }
    return true;
}

void Semantics::set_packet_bounds(State& s) const {
    // Every entry point refuses a longer packet, and metadata that is not right in front of the data and at most
    // platform::kMaxPacketMetaSize long (a type without the field has none).
    s.zone.forget(kPacketSize);
    s.zone.set(kPacketSize, {0, m_type.max_data_size});
    s.zone.forget(kMetaOffset);
    s.zone.set(kMetaOffset, {m_type.context.meta >= 0 ? -Bound{platform::kMaxPacketMetaSize} : 0, 0});
}

std::optional<Bound> Semantics::known_string(const State& s, int r) const {
    const Interval o = s.zone.interval(reg_var(r));
    if (s.regs[r].kind != Kind::stack || !o.singleton() || o.lo < -kStackBytes || o.lo >= 0) {
        return std::nullopt;
    }
    for (Bound at = o.lo; at < 0; ++at) {
        if (!s.init.test(static_cast<std::size_t>(kStackBytes + at))) {
            return std::nullopt; // not written: the helper would read it
        }
        for (const Cell& cell : s.cells) {
            if (cell.offset > at || at >= cell.offset + cell.width || cell.type.kind != Kind::number) {
                continue;
            }
            const Interval v = s.zone.interval(cell_var(cell.offset));
            const auto byte = static_cast<std::uint64_t>(v.lo) >> (8 * (at - cell.offset)) & 0xFF;
            if (v.singleton() && byte == 0) {
                return at - o.lo + 1;
            }
        }
    }
    return std::nullopt;
}

void Semantics::set_number(State& s, int r, Interval range) const {
    s.regs[r] = {Kind::number, false, 0};
    s.zone.set(reg_var(r), range);
}

// When rSRC's value may not fit 32 bits, its low half gets a variable of its own (low32_var, a shadow the zone forgets
// whenever rSRC changes), equal to rDST and shared by the registers equal to rSRC: what a test of rDST learns then
// holds for rSRC's low half as long as rSRC keeps its value (a length checked as `if w1 > 128` and passed whole to a
// helper that reads 32 bits of it).
void Semantics::zero_extend(State& s, int dst, int src) const {
    const Interval v = s.zone.interval(reg_var(src));
    if (v.within(0, kU32Max)) {
        s.regs[dst] = Type{Kind::number, false, kPlainNumber};
        s.zone.assign(reg_var(dst), reg_var(src), 0);
        return;
    }
    const Interval bits = low32(v);
    if (bits.singleton()) {
        set_number(s, dst, bits);
        return;
    }
    const Var low = low32_var(src);
    if (!s.zone.has(low)) {
        s.zone.set(low, bits);
        if (s.zone.has(reg_var(src))) {
            for (int r = 0; r < 11; ++r) {
                if (r == src || s.regs[r].kind != Kind::number || !s.zone.has(reg_var(r)) ||
                    s.zone.diff_ub(reg_var(r), reg_var(src)) != 0 || s.zone.diff_ub(reg_var(src), reg_var(r)) != 0) {
                    continue;
                }
                if (s.zone.has(low32_var(r))) {
                    s.zone.constrain(low32_var(r), low, 0);
                    s.zone.constrain(low, low32_var(r), 0);
                } else {
                    s.zone.assign(low32_var(r), low, 0);
                }
            }
        }
    }
    // rDST == rSRC modulo 2^32, and so it is to what rSRC's value equals plus a constant (a length loaded, spilled,
    // then `r1 += -1; r1 <<= 32; r1 >>= 32; if r1 > 127`: the spilled length is in [1, 128]).
    std::vector<std::pair<Var, Bound>> relatives = s.zone.exact_relatives(reg_var(src), [&](Var y) {
        return y != reg_var(dst) && (y < kPacketSize || (y >= cell_var(-kStackBytes) && y < cell_var(0)));
    });
    if (src != dst) {
        relatives.emplace_back(reg_var(src), 0);
    }
    s.zone.assign(kTemp + 3, low, 0);
    s.regs[dst] = Type{Kind::number, false, kPlainNumber};
    s.zone.assign(reg_var(dst), kTemp + 3, 0); // forgets rDST's own shadow; the others stay equal to it
    s.zone.forget(kTemp + 3);
    for (std::size_t i = 0; i < relatives.size() && i < 8; ++i) {
        s.zone.add_link({reg_var(dst), relatives[i].first, relatives[i].second, 32});
    }
}

bool Semantics::zero_extension_pair(std::size_t shift) const {
    if (shift + 1 >= m_code.size() || m_targets[shift + 1]) {
        return false;
    }
    const isa::Instruction& left = m_code[shift];
    const isa::Instruction& right = m_code[shift + 1];
    return left.opcode == (op::ALU64 | op::LSH | op::K) && left.imm == 32 &&
           right.opcode == (op::ALU64 | op::RSH | op::K) && right.imm == 32 && right.dst == left.dst;
}

void Semantics::invalidate(State& s, Kind kind, Stale why, std::uint32_t object) const {
    // A fill of a cell gets the stale pointer too, which cannot be used. Given an object, only pointers that may
    // point into it: those naming it, and those to some object of the region.
    for_each_type(s, [&](Type& t, Var var) {
        if (kind == Kind::packet && t.kind == Kind::invalid && t.aux == kLowHalfPacket) {
            t = {Kind::invalid, false, why}; // the low half of a pointer into the packet that moved
            s.zone.forget(var);
            return;
        }
        if (t.kind == kind && (object == kSomeObject || t.object == object || t.object == kSomeObject)) {
            t = {Kind::invalid, false, why};
            s.zone.forget(var);
        }
    });
}

void Semantics::new_object(State& s, std::size_t pc) const {
    const auto object = static_cast<std::uint32_t>(pc + 1);
    for_each_type(s, [&](Type& t, Var) {
        if (t.is_pointer() && t.object == object) {
            t.object = kSomeObject; // what an earlier execution of this call returned
        }
    });
    if (s.lock.object == object) {
        s.lock.object = kSomeObject;
    }
}

void Semantics::null_checked(State& s, int r, bool is_null) const {
    const Type checked = s.regs[r];
    if (!is_null && checked.nullable && checked.kind == Kind::alloc) {
        s.zone.assign(kOpenRecords, kOpenRecords, 1); // a record the program now holds and must release
    }
    // Copies of a lookup's result are null exactly when it is: a check of one covers all of them.
    const bool copies = checked.object != kOneObject && checked.object != kSomeObject;
    for_each_type(s, [&](Type& t, Var var) {
        const bool same = &t == &s.regs[r] || (copies && t.nullable && t.kind == checked.kind && t.aux == checked.aux &&
                                               t.object == checked.object);
        if (!same) {
            return;
        }
        if (is_null) {
            t = {Kind::number, false, 0};
            s.zone.set(var, constant(0));
        } else {
            t.nullable = false;
        }
    });
}

void Semantics::check_offset(State& s, std::size_t pc, int r) const {
    const Interval o = s.zone.interval(reg_var(r));
    if (o.lo >= kMinPointerOffset && o.hi <= kMaxPointerOffset) {
        return;
    }
    report(pc, "Pointer offset must stay within [-32768, 536870912]",
           reg(r) + ".offset in [" + std::to_string(kMinPointerOffset) + ", " + std::to_string(kMaxPointerOffset) +
               "]");
    s.zone.constrain(kZero, reg_var(r), -kMinPointerOffset);
    s.zone.constrain(reg_var(r), kZero, kMaxPointerOffset);
}

std::string Semantics::access(int r, Bound k, Width width) const {
    return "valid_access(" + reg(r) + ".offset" + signed_offset(k) +
           ", width=" + (width.reg >= 0 ? reg(width.reg) : std::to_string(width.bytes)) + ")";
}

bool Semantics::check_bounds(State& s, std::size_t pc, int r, Bound k, Width width,
                             const std::string& assertion) const {
    const Type t = s.regs[r];
    const Var off = reg_var(r);
    Bound low = 0;
    Bound high = 0;
    std::string low_text = "0";
    std::string high_text;
    switch (t.kind) {
    case Kind::stack:
        low = -kFrameSize * static_cast<Bound>(s.frame() + 1);
        high = 0;
        low_text = "r10-512";
        high_text = "r10";
        break;
    case Kind::ctx:
        high = m_type.context.size;
        high_text = "the context size " + std::to_string(high);
        break;
    case Kind::shared:
        high = m_maps[t.aux].value_size;
        high_text = "the value size " + std::to_string(high);
        break;
    case Kind::alloc:
        high = t.aux;
        high_text = "the allocated size " + std::to_string(high);
        break;
    case Kind::packet: high_text = t.aux == 0 ? "packet_size" : "the size of " + m_regions[t.aux - 1].name; break;
    default: return false;
    }
    // The end of the access: offset + k + width, as a variable when the width is a register.
    Var end = off;
    Bound end_add = k + width.bytes;
    if (width.reg >= 0) {
        end = kTemp + 2;
        assign_sum(s.zone, end, off, reg_var(width.reg), false);
        end_add = k;
    }
    bool ok = true;
    // Lower: offset + k >= low (the packet: >= data_meta - data, 0 for a type without metadata).
    const Interval o = s.zone.interval(off);
    if (t.kind == Kind::packet && t.aux == 0 && m_type.context.meta >= 0) {
        if (add_bounds(s.zone.diff_ub(kMetaOffset, off), -k) > 0) {
            report(pc, "Lower bound must be at least data_meta", assertion);
            ok = false;
            if (!s.zone.constrain(kMetaOffset, off, k)) {
                return false;
            }
        }
    } else if (o.lo == kNegInf || add_bounds(o.lo, k) < low) {
        report(pc, "Lower bound must be at least " + low_text, assertion);
        ok = false;
        if (!s.zone.constrain(kZero, off, add_bounds(k, -low))) {
            return false; // no run gets past this access
        }
    }
    // Upper: end + end_add <= high (packet: <= packet_size).
    if (t.kind == Kind::packet) {
        const Var size = t.aux == 0 ? kPacketSize : m_regions[t.aux - 1].size_var;
        if (add_bounds(s.zone.diff_ub(end, size), end_add) > 0) {
            report(pc, "Upper bound must be at most " + high_text, assertion);
            ok = false;
            s.zone.constrain(end, size, -end_add);
        }
    } else {
        const Interval e = s.zone.interval(end);
        if (e.hi == kInf || add_bounds(e.hi, end_add) > high) {
            report(pc, "Upper bound must be at most " + high_text, assertion);
            ok = false;
            s.zone.constrain(end, kZero, add_bounds(high, -end_add));
        }
    }
    s.zone.forget(kTemp + 2); // what the assumed end taught the offset and the size stays in the zone
    return ok;
}

void Semantics::stack_write(State& s, std::int32_t lo, std::int32_t hi, bool exact) const {
    std::vector<Cell> leftovers;
    for (auto it = s.cells.begin(); it != s.cells.end();) {
        if (it->offset < hi && it->offset + it->width > lo) {
            if (it->type.kind != Kind::number) {
                // What is left of an overwritten pointer stays unreadable.
                const std::int32_t end = it->offset + it->width;
                const Type part{Kind::invalid, false, kPartialPointer};
                if (it->offset < lo) {
                    leftovers.push_back({it->offset, static_cast<std::uint8_t>(lo - it->offset), part});
                }
                if (end > hi) {
                    leftovers.push_back({hi, static_cast<std::uint8_t>(end - hi), part});
                }
                if (!exact) {
                    const std::int32_t from = std::max(it->offset, lo);
                    leftovers.push_back({from, static_cast<std::uint8_t>(std::min(end, hi) - from), part});
                }
            }
            s.zone.forget(cell_var(it->offset));
            it = s.cells.erase(it);
        } else {
            ++it;
        }
    }
    for (const Cell& cell : leftovers) {
        auto pos = std::lower_bound(s.cells.begin(), s.cells.end(), cell.offset,
                                    [](const Cell& c, std::int32_t offset) { return c.offset < offset; });
        s.cells.insert(pos, cell);
    }
    if (exact) {
        for (std::int32_t b = lo; b < hi; ++b) {
            s.init.set(static_cast<std::size_t>(kStackBytes + b));
        }
    }
}

bool Semantics::check_memory(State& s, std::size_t pc, int r, Bound k, Width width, bool write, bool helper,
                             Bound written, bool pointers) const {
    const Type t = s.regs[r];
    const std::string assertion = access(r, k, width);
    if (t.kind == Kind::number) {
        if (t.aux == kHostAddress) {
            report(pc,
                   reg(r) + " is a host address: programs read fields through it, and never write it or hand it to " +
                       "helpers as memory",
                   reg(r) + ".type is pointer");
            return false;
        }
        report(pc, reg(r) + " is not a pointer", reg(r) + ".type is pointer");
        return false;
    }
    if (t.nullable) {
        report(pc, reg(r) + " may be null; compare it with 0 first", reg(r) + " != null");
        s.regs[r].nullable = false; // assumed from here on, so one missing check is one error
        return false;
    }
    if (t.kind == Kind::map || t.kind == Kind::func || (helper && t.kind == Kind::ctx)) {
        report(pc, reg(r) + " does not point to memory " + (helper ? "a helper may use" : "a program may access"),
               reg(r) + ".type in {stack, packet, map_value, alloc}");
        return false;
    }
    if (!helper && m_cost != nullptr) {
        // A load or store into map memory larger than the caches may miss them (platform::kFarAccessCost): the
        // maps of the object together, or one record that large.
        if ((m_far && (t.kind == Kind::shared || t.kind == Kind::alloc)) ||
            (t.kind == Kind::alloc && t.aux >= platform::kFarMemoryBytes)) {
            *m_cost = *m_cost > ~std::uint64_t{0} - platform::kFarAccessCost ? ~std::uint64_t{0}
                                                                             : *m_cost + platform::kFarAccessCost;
        }
    }
    if (!check_bounds(s, pc, r, k, width, assertion)) {
        return false;
    }
    if (t.kind == Kind::packet && t.aux == 0 && write && m_type.context.read_only_data) {
        report(pc, "The packet of " + m_type.name + " is read-only", "writable(packet)");
        return false;
    }
    if (t.kind == Kind::packet && t.aux > 0 && write && !m_regions[t.aux - 1].writable) {
        report(pc, "The memory " + m_regions[t.aux - 1].name + " of " + m_type.name + " is read-only",
               "writable(" + m_regions[t.aux - 1].name + ")");
        return false;
    }
    if (t.kind == Kind::shared && write && m_maps[t.aux].read_only) {
        report(pc, "Map value of " + m_maps[t.aux].name + " is read-only", "writable(" + m_maps[t.aux].name + ")");
        return false;
    }
    if (t.kind == Kind::shared && m_maps[t.aux].spin_lock && (write || !helper)) {
        // The lock's bytes belong to bpf_spin_lock and bpf_spin_unlock (a helper may read them: map updates leave
        // them be). An access whose offset or width varies is taken at its widest.
        const Bound lock = *m_maps[t.aux].spin_lock;
        const Interval o = s.zone.interval(reg_var(r));
        const Bound most = width.reg >= 0 ? s.zone.interval(reg_var(width.reg)).hi : width.bytes;
        const Bound first = add_bounds(o.lo == kNegInf ? kNegInf + 1 : o.lo, k);
        const Bound end = add_bounds(add_bounds(o.hi, k), most);
        if (first < lock + 4 && end > lock && most > 0) {
            report(pc,
                   "The bpf_spin_lock of map " + m_maps[t.aux].name +
                       " is reached only through bpf_spin_lock and bpf_spin_unlock",
                   assertion + " outside spin_lock");
            return false;
        }
    }
    if (t.kind != Kind::stack) {
        return true;
    }
    // The stack: bytes read must have been written, and pointers spilled there are not readable as bytes.
    const Interval o = s.zone.interval(reg_var(r));
    const Interval w = width.reg >= 0 ? s.zone.interval(reg_var(width.reg)) : constant(width.bytes);
    const Bound bottom = -kFrameSize * static_cast<Bound>(s.frame() + 1);
    const auto lo = static_cast<std::int32_t>(std::clamp<Bound>(add_bounds(o.lo, k), bottom, 0));
    const auto hi = static_cast<std::int32_t>(std::clamp<Bound>(add_bounds(add_bounds(o.hi, k), w.hi), bottom, 0));
    if (!write) {
        for (std::int32_t b = lo; b < hi; ++b) {
            if (!s.init.test(static_cast<std::size_t>(kStackBytes + b))) {
                const std::int32_t base = frame_base(s);
                report(pc, "Stack content is not initialized",
                       "initialized(r10" + signed_offset(lo - base) + ", width=" + std::to_string(hi - lo) + ")");
                for (std::int32_t x = lo; x < hi; ++x) {
                    s.init.set(static_cast<std::size_t>(kStackBytes + x));
                }
                return false;
            }
        }
        for (const Cell& cell : s.cells) {
            if (cell.type.kind == Kind::number || cell.offset >= hi || cell.offset + cell.width <= lo || pointers) {
                continue;
            }
            const bool whole = !helper && o.singleton() && cell.offset == lo && width.reg < 0 &&
                               width.bytes == cell.width &&
                               !(cell.type.kind == Kind::invalid && cell.type.aux == kPartialPointer);
            if (!whole) {
                report(pc, "Reads part of a spilled pointer",
                       "r10" + signed_offset(cell.offset - frame_base(s)) + " holds a pointer");
                return false;
            }
        }
        return true;
    }
    // A write: exactly known bytes become initialized (a helper's memory: the least size its contract proves
    // written); the rest of what it may touch loses what it held.
    const bool exact = o.singleton() && (width.reg < 0 || w.lo >= 0);
    if (exact) {
        const Bound proven = std::clamp<Bound>(written, 0, std::max<Bound>(w.lo, 0));
        const auto end = static_cast<std::int32_t>(std::clamp<Bound>(add_bounds(lo, proven), lo, hi));
        stack_write(s, lo, end, true);
        if (end < hi) {
            stack_write(s, end, hi, false);
        }
    } else {
        stack_write(s, lo, hi, false);
    }
    return true;
}

void Semantics::step(State& s, std::size_t pc) const {
    const isa::Instruction& ins = m_code[pc];
    const std::uint8_t cls = isa::op_class(ins.opcode);
    switch (cls) {
    case op::ALU:
    case op::ALU64: alu(s, pc, ins); return;
    case op::LDX:
        m_translated_load = false;
        load(s, pc, ins);
        if (!m_translated_load) {
            note_load(pc, kPlainLoad);
        }
        return;
    case op::ST:
    case op::STX:
        if (isa::op_mode(ins.opcode) == op::ATOMIC) {
            atomic(s, pc, ins);
        } else {
            store(s, pc, ins);
        }
        return;
    case op::LD:
        if (isa::is_lddw(ins)) {
            lddw(s, pc);
            return;
        }
        if (isa::is_legacy_packet_load(ins)) {
            packet_load(s, pc, ins);
            return;
        }
        break;
    case op::JMP:
        if (ins.opcode == op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::helper)) {
            call(s, pc, ins);
            return;
        }
        if (ins.opcode == op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local)) {
            return; // the graph's call edge; a call refused for its depth was reported there
        }
        if (ins.opcode == op::CALLX_OP || ins.opcode == op::CALL_OP) {
            report(pc, ins.opcode == op::CALLX_OP ? "Indirect calls (callx) are not supported"
                       : ins.imm == 0
                           ? "Call to a weak kernel function the platform does not provide (test its address, which "
                             "is 0, first)"
                           : "Calls to kernel functions are not supported");
            set_number(s, 0, {});
            for (int r = 1; r <= 5; ++r) {
                s.regs[r] = {};
                s.zone.forget(reg_var(r));
            }
            return;
        }
        return; // jumps and exits: the graph's edges
    default: break;
    }
    report(pc, "Unsupported instruction");
}

// LD_ABS/LD_IND read the packet of the context in r6 and end the program with r0 = 0 when the bytes lie outside it,
// so each is also an exit: what an exit requires must hold there, with r0 = 0. They clobber r1-r5, as Linux's do.
void Semantics::packet_load(State& s, std::size_t pc, const isa::Instruction& ins) const {
    const platform::ContextDescriptor& ctx = m_type.context;
    if (ctx.data < 0 || ctx.data_end < 0) {
        report(pc, "Legacy packet loads (LD_ABS/LD_IND) need a program type with a data range; " + m_type.name +
                       " has none");
    } else if (usable(s, pc, 6) && (s.regs[6].kind != Kind::ctx || s.zone.interval(reg_var(6)) != constant(0))) {
        report(pc, "r6 must be the context pointer for a legacy packet load", "r6.type == ctx && r6.offset == 0");
    }
    if (isa::op_mode(ins.opcode) == op::IND && usable(s, pc, ins.src) && s.regs[ins.src].kind != Kind::number) {
        report(pc, reg(ins.src) + " must be a number", reg(ins.src) + ".type == number");
    }
    const Interval open = s.zone.interval(kOpenRecords);
    if (!(open.lo == 0 && open.hi == 0)) {
        report(pc, "A legacy packet load may end the program while a ring buffer record is open", "open_records == 0");
    }
    if (s.lock.kind != Kind::uninit) {
        report(pc, "A legacy packet load may end the program while a bpf_spin_lock is held", "lock == none");
    }
    if ((0 < m_type.return_min || 0 > m_type.return_max) && !m_type.out_of_range_return) {
        report(pc, "A legacy packet load may end the program with r0 = 0, outside [" +
                       std::to_string(m_type.return_min) + ", " + std::to_string(m_type.return_max) + "] for " +
                       m_type.name);
    }
    const std::uint8_t size = isa::op_size(ins.opcode);
    set_number(s, 0, bits(size == op::B ? 8 : size == op::H ? 16 : 32));
    for (int r = 1; r <= 5; ++r) {
        s.regs[r] = {};
        s.zone.forget(reg_var(r));
    }
}

void Semantics::lddw(State& s, std::size_t pc) const {
    const isa::Instruction& ins = m_code[pc];
    const int dst = ins.dst;
    if (pc < m_loads.size() && m_loads[pc]) {
        const MapLoad& load = *m_loads[pc];
        if (load.value) {
            s.regs[dst] = {Kind::shared, false, static_cast<std::uint32_t>(load.map)};
            s.zone.set(reg_var(dst), constant(load.offset));
        } else {
            s.regs[dst] = {Kind::map, false, static_cast<std::uint32_t>(load.map)};
            s.zone.set(reg_var(dst), constant(0));
        }
        return;
    }
    switch (static_cast<isa::LddwSource>(ins.src)) {
    case isa::LddwSource::imm64:
        set_number(s, dst, constant(static_cast<Bound>(isa::lddw_imm(ins, m_code[pc + 1]))));
        return;
    case isa::LddwSource::code_address: {
        const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
        s.regs[dst] = {Kind::func, false, static_cast<std::uint32_t>(target)};
        s.zone.set(reg_var(dst), constant(0));
        return;
    }
    case isa::LddwSource::variable:
        if (pc < m_externs.size() && m_externs[pc]) {
            // An extern the host gives at load: any number, verified for every value it may give.
            set_number(s, dst, {});
            if (*m_externs[pc]) {
                s.regs[dst].aux = kHostAddress;
            }
            return;
        }
        report(pc, "lddw of a variable the program declares no extern for", "extern reference");
        set_number(s, dst, {});
        return;
    default: report(pc, "lddw refers to no map of the program", "map reference"); set_number(s, dst, {});
    }
}

void Semantics::alu(State& s, std::size_t pc, const isa::Instruction& ins) const {
    const bool is64 = isa::op_class(ins.opcode) == op::ALU64;
    const std::uint8_t code = isa::op_code(ins.opcode);
    const bool x = isa::op_source(ins.opcode) == op::X;
    const int dst = ins.dst;
    const int src = ins.src;
    const Var dv = reg_var(dst);
    const Var sv = reg_var(src);

    if (code == op::MOV) {
        if (!x) {
            set_number(s, dst,
                       constant(is64 ? Bound{ins.imm} : static_cast<Bound>(static_cast<std::uint32_t>(ins.imm))));
            return;
        }
        if (!usable(s, pc, src)) {
            set_number(s, dst, {});
            return;
        }
        const Type t = s.regs[src];
        if (!is64 && ins.offset == 0 && t.kind == Kind::packet && t.aux == 0 && !t.nullable) {
            // `w8 = w2` of a packet pointer: its low half, which a subtraction of another may make a distance of.
            s.regs[dst] = Type{Kind::invalid, false, kLowHalfPacket};
            s.zone.assign(dv, sv, 0);
            return;
        }
        if (t.kind != Kind::number && (ins.offset != 0 || !is64)) {
            report(pc, "Invalid operation on a pointer", reg(src) + ".type == number");
            set_number(s, dst, is64 ? Interval{} : Interval{0, kU32Max});
            return;
        }
        if (ins.offset != 0) { // sign extension (movsx): keep the value when it already fits
            const int bitsn = ins.offset;
            const Bound half = Bound{1} << (bitsn - 1);
            const Interval v = s.zone.interval(sv);
            const bool fits = is64 ? v.within(-half, half - 1) : v.within(0, half - 1);
            if (fits) {
                s.regs[dst] = t;
                s.zone.assign(dv, sv, 0);
            } else {
                set_number(s, dst, is64 ? Interval{-half, half - 1} : Interval{0, kU32Max});
            }
            return;
        }
        if (!is64) {
            const Interval v = s.zone.interval(sv);
            if (v.within(0, kU32Max)) {
                s.regs[dst] = t;
                s.zone.assign(dv, sv, 0);
            } else if (t.kind == Kind::number) {
                zero_extend(s, dst, src);
            } else {
                set_number(s, dst, {0, kU32Max});
            }
            return;
        }
        s.regs[dst] = t;
        s.zone.assign(dv, sv, 0);
        if (t.kind == Kind::number && dst != src && s.zone.has(low32_var(src))) {
            s.zone.assign(low32_var(dst), low32_var(src), 0); // a copy's low half is the original's
        }
        return;
    }

    const auto low_half = [](const Type& t) { return t.kind == Kind::invalid && t.aux == kLowHalfPacket; };
    if (!is64 && code == op::SUB && x && low_half(s.regs[dst]) &&
        ((s.regs[src].kind == Kind::packet && s.regs[src].aux == 0 && !s.regs[src].nullable) ||
         low_half(s.regs[src]))) {
        // The low halves of two pointers into the packet: their difference modulo 2^32 is that of the offsets.
        assign_sum(s.zone, kTemp + 2, dv, sv, true);
        const Interval distance = s.zone.interval(kTemp + 2);
        s.zone.forget(kTemp + 2);
        s.regs[dst] = Type{Kind::number, false, 0};
        if (distance.within(0, kU32Max)) {
            assign_sum(s.zone, dv, dv, sv, true);
            return;
        }
        set_number(s, dst, wrap32(distance));
        return;
    }
    if (!usable(s, pc, dst)) {
        set_number(s, dst, {});
        return;
    }
    if (code == op::NEG || code == op::END) {
        if (s.regs[dst].kind != Kind::number) {
            report(pc, "Invalid operation on a pointer", reg(dst) + ".type == number");
            set_number(s, dst, {});
            return;
        }
        const Interval v = s.zone.interval(dv);
        if (code == op::NEG) {
            if (v.singleton()) {
                const std::uint64_t r =
                    is64 ? 0 - static_cast<std::uint64_t>(v.lo) : std::uint64_t{0 - static_cast<std::uint32_t>(v.lo)};
                set_number(s, dst, constant(static_cast<Bound>(r)));
            } else if (is64 && finite(v)) {
                set_number(s, dst, exact(-static_cast<__int128>(v.hi), -static_cast<__int128>(v.lo)));
            } else {
                set_number(s, dst, is64 ? Interval{} : Interval{0, kU32Max});
            }
            return;
        }
        const int width = ins.imm;
        const bool swap = is64 || isa::op_source(ins.opcode) == op::TO_BE;
        if (width != 16 && width != 32 && width != 64) {
            report(pc, "Unsupported instruction");
            set_number(s, dst, {});
            return;
        }
        if (!swap) {
            if (width == 64) {
                return;
            }
            if (v.within(0, (Bound{1} << width) - 1)) {
                return; // truncation keeps it
            }
            set_number(s, dst, bits(width));
            return;
        }
        if (v.singleton()) {
            auto u = static_cast<std::uint64_t>(v.lo);
            std::uint64_t r = 0;
            for (int i = 0; i < width / 8; ++i) {
                r = (r << 8) | ((u >> (8 * i)) & 0xFF);
            }
            set_number(s, dst, constant(static_cast<Bound>(r)));
            return;
        }
        set_number(s, dst, width == 64 ? Interval{} : bits(width)); // a 64-bit swap may set the sign bit
        return;
    }

    // Binary operations: dst op= src|imm.
    Type st{Kind::number, false, 0};
    Interval b = constant(is64 ? Bound{ins.imm} : static_cast<Bound>(static_cast<std::uint32_t>(ins.imm)));
    if (x) {
        if (!usable(s, pc, src)) {
            set_number(s, dst, {});
            return;
        }
        st = s.regs[src];
        b = s.zone.interval(sv);
    }
    const Type dt = s.regs[dst];
    const bool dst_pointer = dt.kind != Kind::number;
    const bool src_pointer = st.kind != Kind::number;

    if (dst_pointer || src_pointer) {
        if (!is64 && code == op::SUB && dst_pointer && src_pointer && !dt.nullable && !st.nullable &&
            dt.kind != Kind::map && dt.kind != Kind::func && same_region(dt, st) && dt.same_object(st)) {
            // `w1 -= w4` of two pointers into one object (`(int)(ip6 - data)`): the low 32 bits of the distance
            // between their offsets, a number as the 64-bit distance is. Nothing of where the object lies.
            assign_sum(s.zone, kTemp + 2, dv, sv, true);
            const Interval distance = s.zone.interval(kTemp + 2);
            s.zone.forget(kTemp + 2);
            if (distance.within(0, kU32Max)) {
                // The low 32 bits are the whole distance: it keeps its relations, as the 64-bit one does
                // (`w2 = w_end - w_data` still bounds the packet).
                s.regs[dst] = Type{Kind::number, false, 0};
                assign_sum(s.zone, dv, dv, sv, true);
                return;
            }
            set_number(s, dst, wrap32(distance));
            return;
        }
        if (!is64 || (code != op::ADD && code != op::SUB)) {
            report(pc, "Invalid operation on a pointer", (dst_pointer ? reg(dst) : reg(src)) + ".type == number");
            set_number(s, dst, {});
            return;
        }
        if ((dst_pointer && dt.nullable) || (src_pointer && st.nullable)) {
            const int r = dst_pointer && dt.nullable ? dst : src;
            report(pc, reg(r) + " may be null; compare it with 0 first", reg(r) + " != null");
            set_number(s, dst, {});
            return;
        }
        if (dt.kind == Kind::map || dt.kind == Kind::func || st.kind == Kind::map || st.kind == Kind::func) {
            report(pc, "Invalid operation on a pointer", (dst_pointer ? reg(dst) : reg(src)) + ".type == number");
            set_number(s, dst, {});
            return;
        }
        if (dst_pointer && src_pointer) {
            if (code != op::SUB || !same_region(dt, st)) {
                report(pc,
                       code == op::SUB ? "Invalid operation on a pointer"
                                       : "Only a number may be added to or subtracted from a pointer",
                       reg(src) + ".type == number");
                set_number(s, dst, {});
                return;
            }
            if (!dt.same_object(st)) {
                // Their distance is where the host placed two objects: a host address in all but name.
                report(pc, "Subtraction of pointers to different objects",
                       reg(dst) + ".object == " + reg(src) + ".object");
                set_number(s, dst, {});
                return;
            }
            // The distance between two pointers into one region is a number.
        } else if (src_pointer && code == op::SUB) {
            report(pc, "Only a number may be added to or subtracted from a pointer", reg(src) + ".type == number");
            set_number(s, dst, {});
            return;
        }
    }

    const Interval a = s.zone.interval(dv);
    if (is64 && !x && !dst_pointer && (extension_pair(pc, a) || (pc > 0 && extension_pair(pc - 1, a)))) {
        return; // the identity, as a pair
    }
    if (is64 && !x && dt.kind == Kind::number && zero_extension_pair(pc)) {
        return; // the pair's right shift does both
    }
    if (is64 && !x && !dst_pointer && extension_pair(pc, Interval{0, 0})) {
        // The left shift of a pair whose value does not fit: the right shift must not take what the left one makes
        // for a value that fits and skip itself (`x << k` can fit when x does not). An unknown number never fits.
        set_number(s, dst, {});
        return;
    }
    if (is64 && !x && dt.kind == Kind::number && pc > 0 && zero_extension_pair(pc - 1)) {
        // Clang's `r1 = r2; r1 <<= 32; r1 >>= 32` extends r2, which may be unknown (and then no relation made r1
        // equal to it): its low half is what the test of r1 learns of.
        int source = dst;
        if (pc >= 2 && !m_targets[pc - 1]) {
            const isa::Instruction& copy = m_code[pc - 2];
            if (copy.opcode == (op::ALU64 | op::MOV | op::X) && copy.offset == 0 && copy.dst == dst &&
                copy.src != dst && s.regs[copy.src].kind == Kind::number) {
                source = copy.src;
            }
        }
        zero_extend(s, dst, source);
        return;
    }
    // Constants fold exactly, with the machine's wrapping.
    if (!dst_pointer && !src_pointer && a.singleton() && b.singleton()) {
        if (is64) {
            const std::uint64_t r =
                eval(code, ins.offset, static_cast<std::uint64_t>(a.lo), static_cast<std::uint64_t>(b.lo));
            set_number(s, dst, constant(static_cast<Bound>(r)));
        } else {
            const std::uint32_t r =
                eval(code, ins.offset, static_cast<std::uint32_t>(a.lo), static_cast<std::uint32_t>(b.lo));
            set_number(s, dst, constant(static_cast<Bound>(r)));
        }
        return;
    }
    if (!is64 && (code == op::ADD || code == op::SUB) && a.within(0, kU32Max) && b.within(0, kU32Max)) {
        // Operands that fit 32 bits and a sum or difference that does too: the 32-bit result is the 64-bit one, and
        // keeps dst's relations (`w2 += 1` still counts a loop's iterations).
        Var other = sv;
        if (!x) {
            other = kTemp + 3;
            s.zone.set(other, b);
        }
        assign_sum(s.zone, kTemp + 2, dv, other, code == op::SUB);
        const Interval result = s.zone.interval(kTemp + 2);
        s.zone.forget(kTemp + 2);
        if (result.within(0, kU32Max)) {
            assign_sum(s.zone, dv, dv, other, code == op::SUB);
            s.zone.forget(kTemp + 3);
            return;
        }
        s.zone.forget(kTemp + 3);
    }
    if (!is64) {
        const Interval a32 = low32(a);
        const Interval b32 = low32(b);
        // Signed 32-bit operations read the low 32 bits as signed: only values below 2^31 mean what they say.
        const bool signed_op = code == op::ARSH || ((code == op::DIV || code == op::MOD) && ins.offset == 1);
        if (signed_op && !(a32.hi <= 0x7FFFFFFF && b32.hi <= 0x7FFFFFFF)) {
            set_number(s, dst, {0, kU32Max});
            return;
        }
        set_number(s, dst, wrap32(abstract_op(code, ins.offset, a32, b32, 32)));
        return;
    }
    if (code == op::ADD || code == op::SUB) {
        // Relational: dst = dst +/- src keeps what is known of dst's differences.
        if (!dst_pointer && !src_pointer) {
            // A host address plus or minus a number (a field's offset, an array's index) is one too.
            const bool host = dt.aux == kHostAddress || (code == op::ADD && st.aux == kHostAddress);
            s.regs[dst] = Type{Kind::number, false,
                               host && !(code == op::SUB && st.aux == kHostAddress) ? kHostAddress : kPlainNumber};
        } else {
            s.regs[dst] = dst_pointer && src_pointer ? Type{Kind::number, false, 0} : (dst_pointer ? dt : st);
        }
        Var other = sv;
        if (!x) {
            other = kTemp + 2;
            s.zone.set(other, b);
        }
        assign_sum(s.zone, dv, dv, other, code == op::SUB);
        s.zone.forget(kTemp + 2);
        if (s.regs[dst].kind != Kind::number) {
            check_offset(s, pc, dst);
        }
        return;
    }
    set_number(s, dst, abstract_op(code, ins.offset, a, b, 64));
}

void Semantics::note_load(std::size_t pc, std::int32_t offset) const {
    if (m_sink == nullptr || m_type.context.pointer_width != 4) {
        return;
    }
    const auto [it, inserted] = m_context_loads.emplace(static_cast<std::uint32_t>(pc), offset);
    if (!inserted && it->second != offset) {
        it->second = kMixedLoads;
    }
}

void Semantics::load(State& s, std::size_t pc, const isa::Instruction& ins) const {
    const int dst = ins.dst;
    const int src = ins.src;
    const Bound width = isa::size_bytes(isa::op_size(ins.opcode));
    const bool sign = isa::op_mode(ins.opcode) == op::MEMSX;
    const Bound k = ins.offset;
    const Interval result = sign ? Interval{-(Bound{1} << (8 * width - 1)), (Bound{1} << (8 * width - 1)) - 1}
                                 : (width == 8 ? Interval{} : bits(static_cast<int>(8 * width)));
    if (!usable(s, pc, src)) {
        set_number(s, dst, result);
        return;
    }
    const Type t = s.regs[src];
    if (t.kind == Kind::number && t.aux == kHostAddress) {
        // A host address a tracing hook handed over: read as probe_read reads, 0 where the host cannot be read. An
        // 8-byte field may hold another object's address.
        if (m_platform.for_untrusted_plugins()) {
            report(pc, reg(src) + " is a host address, which only a platform for trusted plugins lets programs read",
                   reg(src) + ".type is pointer");
        } else if (m_sink != nullptr) {
            m_probe_loads.insert(static_cast<std::uint32_t>(pc));
        }
        if (m_cost != nullptr) {
            *m_cost = *m_cost > ~std::uint64_t{0} - platform::kProbeLoadCost ? ~std::uint64_t{0}
                                                                             : *m_cost + platform::kProbeLoadCost;
        }
        set_number(s, dst, result);
        if (width == 8 && !sign) {
            s.regs[dst].aux = kHostAddress;
        }
        return;
    }
    if (!check_memory(s, pc, src, k, {width, -1}, false, false)) {
        set_number(s, dst, result);
        return;
    }
    const Interval o = s.zone.interval(reg_var(src));
    if (t.kind == Kind::shared && m_maps[t.aux].read_only && m_maps[t.aux].kind == MK::array &&
        m_maps[t.aux].max_entries == 1 && o.singleton()) {
        // A frozen value (.rodata, which nothing writes after load) holds what the object was loaded with: a
        // configuration constant such as Cilium's Ethernet header length bounds the accesses it guards.
        const std::vector<std::uint8_t>& value = m_maps[t.aux].frozen_value;
        const Bound at = o.lo + k;
        if (at >= 0 && at + width <= static_cast<Bound>(value.size())) {
            std::uint64_t bits_loaded = 0;
            for (Bound i = width - 1; i >= 0; --i) {
                bits_loaded = (bits_loaded << 8) | value[static_cast<std::size_t>(at + i)];
            }
            if (sign && width < 8 && (bits_loaded >> (8 * width - 1)) != 0) {
                bits_loaded |= ~std::uint64_t{0} << (8 * width); // sign-extended
            }
            const auto number = static_cast<Bound>(bits_loaded);
            if (number != kInf && number != kNegInf && number != std::numeric_limits<std::int64_t>::min()) {
                set_number(s, dst, constant(number));
                return;
            }
        }
    }
    if (t.kind == Kind::ctx) {
        const platform::ContextDescriptor& ctx = m_type.context;
        if (!o.singleton()) {
            report(pc, "Context offset is not a constant", reg(src) + ".offset is constant");
            set_number(s, dst, result);
            return;
        }
        const Bound at = o.lo + k;
        const platform::ContextField* field =
            ctx.field_at(static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(width));
        // A pointer field (the packet's, a memory region's) is read whole, at its width, unsigned.
        const bool memory = field != nullptr && field->kind == platform::FieldKind::memory;
        const bool pointer = field != nullptr && (memory || platform::is_packet_pointer(field->kind));
        if (field == nullptr || !field->readable ||
            (pointer &&
             (static_cast<Bound>(field->offset) != at || width != (memory ? 8 : ctx.pointer_width) || sign))) {
            report(pc,
                   "Context offset " + std::to_string(at) + " width " + std::to_string(width) + " is not a field of " +
                       m_type.name,
                   "ctx_field(" + std::to_string(at) + ", " + std::to_string(width) + ")");
            set_number(s, dst, result);
            return;
        }
        if (memory) {
            const auto region = static_cast<std::size_t>(
                std::find_if(m_regions.begin(), m_regions.end(), [&](const Region& r) { return r.offset == at; }) -
                m_regions.begin());
            s.regs[dst] = {Kind::packet, false, static_cast<std::uint32_t>(region + 1)};
            s.zone.set(reg_var(dst), constant(0));
            return;
        }
        if (field->kind == platform::FieldKind::host_addresses) {
            // An argument, perhaps an object's address: whole, a host address the program may read through.
            set_number(s, dst, result);
            if (width == 8 && (at - field->offset) % 8 == 0) {
                s.regs[dst].aux = kHostAddress;
            }
            return;
        }
        if (pointer) {
            if (ctx.pointer_width == 4) {
                // Runs as an 8-byte load of the host's pointer, from the same register.
                note_load(pc, static_cast<std::int32_t>(ctx.host_offset(static_cast<std::int32_t>(at)) - o.lo));
                m_translated_load = true;
            }
            s.regs[dst] = {Kind::packet, false, 0};
            if (field->kind == platform::FieldKind::packet_start) {
                s.zone.set(reg_var(dst), constant(0));
            } else if (field->kind == platform::FieldKind::packet_meta) {
                s.zone.assign(reg_var(dst), kMetaOffset, 0);
                m_reads_meta = true;
            } else {
                s.zone.assign(reg_var(dst), kPacketSize, 0);
            }
            return;
        }
        set_number(s, dst, result);
        // A memory region's size field, whole: the region's size.
        for (const Region& region : m_regions) {
            if (region.size_field == at && width == region.size_width && !sign &&
                static_cast<Bound>(field->offset) == at) {
                s.zone.assign(reg_var(dst), region.size_var, 0);
                break;
            }
        }
        return;
    }
    if (t.kind == Kind::stack && o.singleton()) {
        const auto at = static_cast<std::int32_t>(o.lo + k);
        for (const Cell& cell : s.cells) {
            if (cell.offset == at && cell.width == width) {
                const Interval v = s.zone.interval(cell_var(at));
                if (cell.type.kind == Kind::number && sign && width < 8 &&
                    !v.within(0, (Bound{1} << (8 * width - 1)) - 1)) {
                    set_number(s, dst, result);
                    return;
                }
                s.regs[dst] = cell.type;
                s.zone.assign(reg_var(dst), cell_var(at), 0);
                if (s.zone.has(cell_low32_var(at))) {
                    s.zone.assign(low32_var(dst), cell_low32_var(at), 0); // what was known of the spilled low half
                }
                return;
            }
        }
    }
    set_number(s, dst, result);
}

void Semantics::store(State& s, std::size_t pc, const isa::Instruction& ins) const {
    const bool x = isa::op_class(ins.opcode) == op::STX;
    const int dst = ins.dst;
    const Bound width = isa::size_bytes(isa::op_size(ins.opcode));
    const Bound k = ins.offset;
    Type value{Kind::number, false, 0};
    if (x) {
        if (!usable(s, pc, ins.src)) {
            return;
        }
        value = s.regs[ins.src];
    }
    if (!usable(s, pc, dst)) {
        return;
    }
    const Type t = s.regs[dst];
    if (value.kind != Kind::number && t.kind != Kind::stack) {
        report(pc, "Pointer stored outside the stack", reg(ins.src) + ".type == number");
        return;
    }
    const Interval o = s.zone.interval(reg_var(dst));
    if (t.kind == Kind::ctx) {
        if (!check_bounds(s, pc, dst, k, {width, -1}, access(dst, k, {width, -1}))) {
            return;
        }
        if (!o.singleton()) {
            report(pc, "Context offset is not a constant", reg(dst) + ".offset is constant");
            return;
        }
        const Bound at = o.lo + k;
        const platform::ContextField* field =
            m_type.context.field_at(static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(width));
        if (field == nullptr) {
            report(pc,
                   "Context offset " + std::to_string(at) + " width " + std::to_string(width) + " is not a field of " +
                       m_type.name,
                   "ctx_field(" + std::to_string(at) + ", " + std::to_string(width) + ")");
            return;
        }
        if (!field->writable) {
            report(pc, "Context field " + field->name + " is read-only", "writable(ctx." + field->name + ")");
        }
        return;
    }
    if (value.kind != Kind::number && (width != 8 || !o.singleton())) {
        report(pc, "Invalid operation on a pointer", reg(ins.src) + ".type == number");
        return;
    }
    if (t.kind != Kind::stack) {
        check_memory(s, pc, dst, k, {width, -1}, true, false);
        return;
    }
    if (!check_memory(s, pc, dst, k, {width, -1}, true, false)) {
        return;
    }
    if (!o.singleton()) {
        return; // check_memory forgot the cells it may have touched
    }
    // check_memory cleared the bytes' old cells and marked them written; the cell records what they hold.
    const auto at = static_cast<std::int32_t>(o.lo + k);
    Cell cell{at, static_cast<std::uint8_t>(width), value};
    const Var cv = cell_var(at);
    if (x) {
        // A spilled number keeps what is known of its low half (a length checked as `if w1 > 128`, spilled whole and
        // filled later), and a 4-byte store of it holds exactly that half.
        const Interval v = s.zone.interval(reg_var(ins.src));
        const bool low_half = value.kind == Kind::number && s.zone.has(low32_var(ins.src));
        if (width == 8 || v.within(0, (Bound{1} << (8 * width)) - 1)) {
            s.zone.assign(cv, reg_var(ins.src), 0);
            if (width == 8 && low_half) {
                s.zone.assign(cell_low32_var(at), low32_var(ins.src), 0);
            }
        } else if (width == 4 && low_half) {
            s.zone.assign(cv, low32_var(ins.src), 0);
        } else {
            s.zone.set(cv, bits(static_cast<int>(8 * width)));
        }
    } else {
        const Bound imm = ins.imm;
        s.zone.set(cv, constant(width == 8 ? imm
                                           : static_cast<Bound>(static_cast<std::uint64_t>(imm) &
                                                                ((std::uint64_t{1} << (8 * width)) - 1))));
    }
    auto pos = std::lower_bound(s.cells.begin(), s.cells.end(), at,
                                [](const Cell& c, std::int32_t offset) { return c.offset < offset; });
    s.cells.insert(pos, cell);
}

void Semantics::atomic(State& s, std::size_t pc, const isa::Instruction& ins) const {
    const int dst = ins.dst;
    const int src = ins.src;
    const Bound width = isa::size_bytes(isa::op_size(ins.opcode));
    const Bound k = ins.offset;
    if (!usable(s, pc, dst) || !usable(s, pc, src)) {
        return;
    }
    if (s.regs[src].kind != Kind::number) {
        report(pc, "Pointer stored outside the stack", reg(src) + ".type == number");
        return;
    }
    if (ins.imm == op::CMPXCHG && !usable(s, pc, 0)) {
        return;
    }
    if (ins.imm == op::CMPXCHG && s.regs[0].kind != Kind::number) {
        report(pc, "Pointer stored outside the stack", "r0.type == number");
        return;
    }
    if (s.regs[dst].kind == Kind::packet) {
        // The host places packets where it likes: an atomic on one may be misaligned, and nothing shares it.
        report(pc, "Atomic operations are not allowed on the packet", reg(dst) + ".type != packet");
        return;
    }
    if (s.regs[dst].kind == Kind::ctx) {
        report(pc, reg(dst) + " does not point to memory a program may access",
               reg(dst) + ".type in {stack, packet, map_value, alloc}");
        return;
    }
    if (!check_memory(s, pc, dst, k, {width, -1}, false, true) ||
        !check_memory(s, pc, dst, k, {width, -1}, true, false)) {
        return;
    }
    // Stack frames, map values and allocations start 8-byte aligned; an atomic must be aligned to its width.
    const Interval o = s.zone.interval(reg_var(dst));
    if (!o.singleton() || (o.lo + k) % width != 0) {
        report(pc, "Misaligned atomic access",
               "aligned(" + reg(dst) + ".offset" + signed_offset(k) + ", " + std::to_string(width) + ")");
    }
    const Interval result = width == 8 ? Interval{} : bits(32);
    if (ins.imm == op::CMPXCHG) {
        set_number(s, 0, result);
    } else if ((ins.imm & op::FETCH) != 0) {
        set_number(s, src, result);
    }
}

Bound Semantics::proven_written(const State& s, const platform::HelperPrototype& helper, std::size_t arg,
                                Interval size) const {
    switch (helper.writes) {
    case platform::Writes::all: return size.lo;
    case platform::Writes::some: return 0;
    case platform::Writes::source_if_fits:
        // The next memory argument's size, when it surely fits; otherwise the helper may write nothing.
        for (std::size_t i = arg + 1; i + 1 < helper.arg_count(); ++i) {
            if (platform::is_memory_arg(helper.args[i])) {
                const Interval source = s.zone.interval(reg_var(static_cast<int>(i) + 2));
                const bool number = s.regs[i + 2].kind == Kind::number;
                return number && source.lo >= 0 && source.hi <= size.lo ? source.lo : 0;
            }
        }
        return 0;
    }
    return 0;
}

void Semantics::call(State& s, std::size_t pc, const isa::Instruction& ins) const {
    const auto id = static_cast<std::uint32_t>(ins.imm);
    const platform::HelperPrototype* helper = m_platform.helper(m_type, id);
    auto clobber = [&](const Type& r0, Interval range) {
        for (int r = 1; r <= 5; ++r) {
            s.regs[r] = {};
            s.zone.forget(reg_var(r));
        }
        s.regs[0] = r0;
        if (r0.has_var()) {
            s.zone.set(reg_var(0), range);
        } else {
            s.zone.forget(reg_var(0));
        }
    };
    if (helper == nullptr) {
        const platform::HelperPrototype* general = m_platform.helper(id);
        if (general != nullptr && general->reads_host_memory && m_platform.for_untrusted_plugins()) {
            report(pc,
                   "Helper " + general->name + " reads host memory and is not available on platform " +
                       m_platform.name() + ", which runs untrusted plugins",
                   "helper(" + std::to_string(id) + ")");
        } else {
            report(pc, "Helper " + std::to_string(id) + " is not available to program type " + m_type.name,
                   "helper(" + std::to_string(id) + ")");
        }
        clobber({Kind::number, false, 0}, {});
        return;
    }
    const std::string& name = helper->name;
    const bool lock_helper = helper->args[0] == platform::ArgKind::ptr_to_spin_lock;
    if (s.lock.kind != Kind::uninit && !lock_helper) { // a second spin_lock is refused below
        // Another thread waits on the lock meanwhile: a helper that blocks or ends the program (a tail call) would
        // hold it up, or for ever.
        report(pc, "Helper calls are not allowed while a bpf_spin_lock is held (call bpf_spin_unlock first)",
               "lock == none");
    }
    if (helper->ret == platform::ReturnKind::no_return_on_success) {
        check_released(s, pc); // a tail call that succeeds ends this program
    }
    const MapDescriptor* map = nullptr;
    std::optional<std::size_t> map_index;
    Bound alloc_size = -1;
    std::uint64_t bytes = 0; // the memory the call covers: what it costs (platform::helper_call_cost)
    auto covers = [&](Bound size) {
        const auto n = static_cast<std::uint64_t>(std::clamp<Bound>(size, 0, kInf));
        bytes = bytes > ~std::uint64_t{0} - n ? ~std::uint64_t{0} : bytes + n;
    };
    const std::size_t count = helper->arg_count();
    if (helper->u32_sizes) {
        // The helper reads the low 32 bits of its sizes: so does the check (r1-r5 mean nothing after the call).
        for (std::size_t i = 0; i < count; ++i) {
            const int r = static_cast<int>(i) + 1;
            if ((helper->args[i] != platform::ArgKind::const_size &&
                 helper->args[i] != platform::ArgKind::const_size_or_zero) ||
                s.regs[r].kind != Kind::number || s.zone.interval(reg_var(r)).within(0, kU32Max)) {
                continue;
            }
            if (s.zone.has(low32_var(r))) {
                s.zone.assign(kTemp + 3, low32_var(r), 0); // through a copy: writing rN forgets its low half
                s.zone.assign(reg_var(r), kTemp + 3, 0);
                s.zone.forget(kTemp + 3);
            } else {
                s.zone.set(reg_var(r), {0, kU32Max});
            }
        }
    }
    for (std::size_t i = 0; i < count; ++i) {
        const int r = static_cast<int>(i) + 1;
        const platform::ArgKind kind = helper->args[i];
        if (!usable(s, pc, r)) {
            if (platform::is_memory_arg(kind)) {
                ++i;
            }
            continue;
        }
        const Type t = s.regs[r];
        const Interval v = s.zone.interval(reg_var(r));
        switch (kind) {
        case platform::ArgKind::none: break;
        case platform::ArgKind::anything:
            if (helper->reads_host_memory && helper->reads_address && t.is_pointer() && t.kind != Kind::map &&
                t.kind != Kind::func) {
                // probe_read* reads the address it is given. A pointer the program holds is read as its memory is:
                // as many bytes as the size argument before it, inside its region, written, no spilled pointer among
                // them, and never the context (whose fields hold the host's pointers).
                int size_reg = -1;
                for (std::size_t j = 0; j < i; ++j) {
                    if (helper->args[j] == platform::ArgKind::const_size ||
                        helper->args[j] == platform::ArgKind::const_size_or_zero) {
                        size_reg = static_cast<int>(j) + 1;
                    }
                }
                if (size_reg < 0 || s.regs[size_reg].kind != Kind::number) {
                    report(pc, reg(r) + " must be a number", reg(r) + ".type == number");
                    break;
                }
                if (t.kind == Kind::ctx) {
                    // The context: only bytes of readable number fields (a tracing program's saved registers),
                    // at a known offset and size; never a pointer field or the padding between fields. A context
                    // with no pointer field at all (a tracepoint's record, saved registers) holds none of the host's
                    // addresses: reading it at any offset, or past its end (a tracepoint's __data_loc strings, a USDT
                    // argument's register chosen at run time), is reading the host as from any address.
                    const Interval n = s.zone.interval(reg_var(size_reg));
                    if (std::all_of(
                            m_type.context.fields.begin(), m_type.context.fields.end(),
                            [](const platform::ContextField& f) { return !platform::is_packet_pointer(f.kind); })) {
                        covers(n.hi);
                        break;
                    }
                    bool fields = v.singleton() && n.singleton() && v.lo >= 0 && n.lo >= 0 &&
                                  v.lo + n.lo <= static_cast<Bound>(m_type.context.size);
                    for (Bound at = v.lo; fields && at < v.lo + n.lo;) {
                        const platform::ContextField* field =
                            m_type.context.field_at(static_cast<std::uint32_t>(at), 1);
                        fields = field != nullptr && field->readable && !platform::is_packet_pointer(field->kind);
                        at = fields ? static_cast<Bound>(field->offset + field->size) : at;
                    }
                    if (!fields) {
                        report(pc, reg(r) + " must point to number fields of the context, at a known offset and size",
                               "ctx_fields(" + reg(r) + ", " + reg(size_reg) + ")");
                    }
                    covers(n.hi);
                    break;
                }
                if (helper->reads_string && t.kind == Kind::stack) {
                    // A string the program wrote into its stack, whose NUL the analysis knows: read up to it.
                    if (const std::optional<Bound> length = known_string(s, r)) {
                        check_memory(s, pc, r, 0, {*length, -1}, false, true, 0);
                        break;
                    }
                }
                check_memory(s, pc, r, 0, {0, size_reg}, false, true, 0);
                break;
            }
            [[fallthrough]];
        case platform::ArgKind::const_size:
        case platform::ArgKind::const_size_or_zero:
            if (t.kind != Kind::number) {
                report(pc, reg(r) + " must be a number", reg(r) + ".type == number");
            }
            break;
        case platform::ArgKind::ptr_to_ctx:
            if (t.kind != Kind::ctx || !(v.lo == 0 && v.hi == 0)) {
                report(pc, reg(r) + " must be the context pointer",
                       reg(r) + ".type == ctx && " + reg(r) + ".offset == 0");
            }
            break;
        case platform::ArgKind::ptr_to_spin_lock: {
            // Exactly the lock's 4 bytes, in a value of a map that has one.
            const bool value = t.kind == Kind::shared && !t.nullable && t.aux < m_maps.size();
            const std::optional<std::uint32_t> at = value ? m_maps[t.aux].spin_lock : std::nullopt;
            if (!at || !(v.lo == *at && v.hi == *at)) {
                report(pc, reg(r) + " must point to the bpf_spin_lock of a map value",
                       reg(r) + ".type == map_value && " + reg(r) + ".offset == spin_lock");
            }
            break;
        }
        case platform::ArgKind::host_object:
            // The helper hands it back as a host object's address (skc_to_tcp_sock): a pointer the program holds
            // would come back as a number, its address.
            if (t.kind != Kind::number) {
                report(pc, reg(r) + " must be a number (a host object's address)", reg(r) + ".type == number");
            }
            break;
        case platform::ArgKind::ptr_to_ctx_or_null:
            if (!(t.kind == Kind::ctx || t.kind == Kind::number) || !(v.lo == 0 && v.hi == 0)) {
                report(pc, reg(r) + " must be the context pointer or null",
                       reg(r) + ".type in {ctx, null} && " + reg(r) + ".offset == 0");
            }
            break;
        case platform::ArgKind::ptr_to_map:
        case platform::ArgKind::ptr_to_map_of_programs: {
            if (t.kind != Kind::map) {
                report(pc, reg(r) + " must be a map", reg(r) + ".type == map");
                break;
            }
            if (t.nullable) {
                report(pc, reg(r) + " may be null; compare it with 0 first", reg(r) + " != null");
                break;
            }
            const MapDescriptor& m = m_maps[t.aux];
            if (kind == platform::ArgKind::ptr_to_map_of_programs) {
                if (m.kind != MK::prog_array) {
                    report(pc, reg(r) + " must be a program array", reg(r) + ".map.kind == prog_array");
                    break;
                }
            } else if (!platform::accepts_map(*helper, m.kind)) {
                report(pc, "Map " + m.name + " of kind " + kind_name(m.kind) + " cannot be used with helper " + name,
                       reg(r) + ".map.kind fits " + name);
                break;
            }
            if (m.read_only && (name == "map_update_elem" || name == "map_delete_elem" || name == "map_push_elem" ||
                                name == "map_pop_elem" || name == "map_lookup_and_delete_elem")) {
                // `.rodata`, `.kconfig` and maps flagged BPF_F_RDONLY_PROG: programs only read them.
                report(pc, "Map " + m.name + " is read-only to programs; helper " + name + " changes it",
                       "writable(" + m.name + ")");
                break;
            }
            map = &m;
            map_index = t.aux;
            break;
        }
        case platform::ArgKind::ptr_to_map_value_or_null:
            if (t.kind == Kind::number) {
                if (!(v.lo == 0 && v.hi == 0)) {
                    report(pc, reg(r) + " may be null; compare it with 0 first", reg(r) + " != null");
                }
                break;
            }
            [[fallthrough]];
        case platform::ArgKind::ptr_to_map_key:
        case platform::ArgKind::ptr_to_map_value:
        case platform::ArgKind::ptr_to_uninit_map_value: {
            if (map == nullptr) {
                break; // the map argument's error says it
            }
            const Bound size = kind == platform::ArgKind::ptr_to_map_key ? map->key_size : map->value_size;
            // map_peek_elem tests a bloom filter for the value it is given: it reads it.
            const bool write = kind == platform::ArgKind::ptr_to_uninit_map_value && map->kind != MK::bloom_filter;
            covers(size);
            check_memory(s, pc, r, 0, {size, -1}, write, true,
                         write ? proven_written(s, *helper, i, constant(size)) : size);
            break;
        }
        case platform::ArgKind::ptr_to_readable_mem:
        case platform::ArgKind::ptr_to_readable_mem_or_null:
        case platform::ArgKind::ptr_to_writable_mem: {
            const int size_reg = r + 1;
            const bool positive = i + 1 < count && helper->args[i + 1] == platform::ArgKind::const_size;
            ++i;
            if (!usable(s, pc, size_reg)) {
                break;
            }
            if (s.regs[size_reg].kind != Kind::number) {
                report(pc, reg(size_reg) + " must be a number", reg(size_reg) + ".type == number");
                break;
            }
            const Interval size = s.zone.interval(reg_var(size_reg));
            if (positive && size.lo < 1) {
                report(pc, reg(size_reg) + " must be positive", reg(size_reg) + " > 0");
                s.zone.constrain(kZero, reg_var(size_reg), -1);
            } else if (size.lo < 0) {
                report(pc, reg(size_reg) + " must not be negative", reg(size_reg) + " >= 0");
                s.zone.constrain(kZero, reg_var(size_reg), 0);
            }
            covers(s.zone.interval(reg_var(size_reg)).hi);
            if (kind == platform::ArgKind::ptr_to_readable_mem_or_null && t.kind == Kind::number) {
                if (!(v.lo == 0 && v.hi == 0) || s.zone.interval(reg_var(size_reg)).hi != 0) {
                    report(pc, reg(r) + " may be null; compare it with 0 first", reg(r) + " != null");
                }
                break;
            }
            const bool write = kind == platform::ArgKind::ptr_to_writable_mem;
            if (write && helper->reads_writable && !check_memory(s, pc, r, 0, {0, size_reg}, false, true)) {
                break;
            }
            check_memory(s, pc, r, 0, {0, size_reg}, write, true,
                         write ? proven_written(s, *helper, i - 1, s.zone.interval(reg_var(size_reg))) : kInf,
                         !write && helper->sinks_data && helper->reads_host_memory);
            break;
        }
        case platform::ArgKind::ptr_to_alloc_mem:
            if (t.kind != Kind::alloc || t.nullable || !(v.lo == 0 && v.hi == 0)) {
                report(pc, reg(r) + " must be memory returned by an allocating helper", reg(r) + ".type == alloc");
            } else {
                s.zone.assign(kOpenRecords, kOpenRecords, -1);
            }
            break;
        case platform::ArgKind::const_alloc_size_or_zero:
            if (t.kind != Kind::number || !v.singleton() || v.lo < 0 || v.lo > 0x7FFFFFFF) {
                report(pc, reg(r) + " must be a known constant", reg(r) + " is constant");
            } else {
                alloc_size = v.lo;
                covers(alloc_size);
            }
            break;
        case platform::ArgKind::ptr_to_func: {
            const std::optional<std::size_t> target = callback_target(pc);
            if (helper->callback() == platform::Callback::none) {
                report(pc, "Helper " + name + " takes a callback, which embpf runs only for its own helpers",
                       "callback(" + name + ")");
            } else if (!target) {
                // The graph found none: the function was not loaded into the register just before the call.
                report(
                    pc,
                    reg(r) +
                        " must be loaded with the callback's address (lddw) in the instructions just before the call",
                    reg(r) + ".type == func");
            } else if (t.kind != Kind::func || t.aux != *target) {
                report(pc, reg(r) + " must be the callback the call was analysed with, at " + std::to_string(*target),
                       reg(r) + ".type == func(" + std::to_string(*target) + ")");
            }
            if (helper->callback() == platform::Callback::loop && s.regs[1].kind != Kind::number &&
                s.regs[1].kind != Kind::uninit) {
                // The calls it makes, and what it returns, would tell the pointer's low 32 bits.
                report(pc, "r1 must be a number", "r1.type == number");
            }
            if (helper->callback() == platform::Callback::for_each_map_elem && map != nullptr && map->any_size) {
                report(pc,
                       "Helper " + name + " walks maps of a known size; inner maps of " + map->name +
                           " may have any (BPF_F_INNER_MAP)",
                       "!" + map->name + ".any_size");
            }
            if (helper->callback() == platform::Callback::for_each_map_elem && map != nullptr &&
                map->key_size > platform::kMaxCallbackKey) {
                report(pc,
                       "Helper " + name + " hands its callback keys of at most " +
                           std::to_string(platform::kMaxCallbackKey) + " bytes; those of " + map->name + " have " +
                           std::to_string(map->key_size),
                       map->name + ".key_size <= " + std::to_string(platform::kMaxCallbackKey));
            }
            break;
        }
        case platform::ArgKind::ptr_to_stack_or_null:
            if (!(t.kind == Kind::stack && !t.nullable) && !(t.kind == Kind::number && v.lo == 0 && v.hi == 0)) {
                report(pc, reg(r) + " must be a stack pointer or null", reg(r) + ".type in {stack, null}");
            }
            break;
        case platform::ArgKind::ptr_to_const_str:
            if (t.kind != Kind::shared || t.nullable || !m_maps[t.aux].read_only) {
                report(pc, reg(r) + " must point to a constant string in read-only memory",
                       reg(r) + ".type == read-only map_value");
            } else if (check_memory(s, pc, r, 0, {1, -1}, false, true)) {
                // The helper reads up to a NUL: one must follow every offset the pointer may have.
                const std::vector<std::uint8_t>& value = m_maps[t.aux].frozen_value;
                const auto last_nul = std::find(value.rbegin(), value.rend(), 0);
                const Interval o = s.zone.interval(reg_var(r));
                covers(static_cast<Bound>(value.size()) - std::max<Bound>(o.lo, 0));
                if (last_nul == value.rend() ||
                    o.hi > static_cast<Bound>(value.size()) - 1 - (last_nul - value.rbegin())) {
                    report(pc, reg(r) + " must point to a string that ends in a NUL inside " + m_maps[t.aux].name,
                           "terminated(" + reg(r) + ")");
                }
            }
            break;
        }
    }
    if (map != nullptr && m_far) {
        // A hashed map's bucket, then its element, may each miss the caches (any other map: the element or entry).
        covers(static_cast<Bound>(8 * platform::kFarAccessCost * (platform::is_hashed(map->kind) ? 2 : 1)));
    }
    if (m_far) {
        // Memory a helper reads or writes in map values or records may miss the caches too: once for each such
        // argument (what follows its first line, a helper walks in order).
        for (std::size_t i = 0; i < count; ++i) {
            const Type& t = s.regs[i + 1];
            if (helper->args[i] != platform::ArgKind::ptr_to_map && (t.kind == Kind::shared || t.kind == Kind::alloc)) {
                covers(static_cast<Bound>(8 * platform::kFarAccessCost));
            }
        }
    }
    if (map != nullptr && m_far && map->kind == MK::lpm_trie && map->key_size > 4) {
        // Each level of a trie larger than the caches is a dependent miss, not the kLpmLevelCost of a cached one.
        covers(static_cast<Bound>(8 * (platform::kFarAccessCost - platform::kLpmLevelCost) *
                                  (std::uint64_t{map->key_size - 4} * 8 + 1)));
    }
    if (map != nullptr) {
        // A helper that takes a value may insert it (an update, or sk_storage_get creating the socket's).
        const bool update = std::any_of(helper->args.begin(), helper->args.end(), [](platform::ArgKind a) {
            return a == platform::ArgKind::ptr_to_map_value || a == platform::ArgKind::ptr_to_map_value_or_null;
        });
        covers(static_cast<Bound>(std::min<std::uint64_t>(
            platform::map_call_bytes(map->kind, map->key_size, map->value_size, map->slots, update),
            static_cast<std::uint64_t>(kInf))));
    }
    if (m_cost != nullptr) {
        const std::uint64_t extra = platform::helper_extra_cost(bytes, helper->cost, helper->cost_per_byte);
        *m_cost = *m_cost > ~std::uint64_t{0} - extra ? ~std::uint64_t{0} : *m_cost + extra;
    }
    if (helper->reallocates_packet) {
        // A packet moved or resized: pointers into it are stale, and nothing learned of its size holds.
        invalidate(s, Kind::packet, kMovedPacket);
        if (m_type.context.data >= 0 && m_type.context.data_end >= 0) {
            set_packet_bounds(s);
        }
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (helper->args[i] == platform::ArgKind::ptr_to_alloc_mem) {
            // The record named by its reservation is released, with every pointer that may point into it: those
            // to some record may. A record another reservation named is another record.
            invalidate(s, Kind::alloc, kReleasedAlloc, s.regs[i + 1].object);
        }
    }
    if (lock_helper) {
        const Type held = s.regs[1];
        if (name == "spin_lock") {
            if (s.lock.kind != Kind::uninit) {
                // Two at once could wait on each other in two threads; the same one twice waits on itself.
                report(pc, "A bpf_spin_lock is already held; release it before taking another", "lock == none");
            }
            s.lock = held;
        } else if (s.lock.kind == Kind::uninit) {
            report(pc, "bpf_spin_unlock without a bpf_spin_lock held", "lock != none");
        } else if (!(s.lock.kind == Kind::shared && held.same_object(s.lock))) {
            // Another lock than the one held, or one the analysis cannot tell is the same (a lookup's result whose
            // lookup ran again, values joined from different paths).
            report(pc, "bpf_spin_unlock of another bpf_spin_lock than the one held", "lock == " + reg(1) + ".lock");
            s.lock = {};
        } else {
            s.lock = {};
        }
    }
    const auto object = static_cast<std::uint32_t>(pc + 1); // the object this call hands out, if any
    switch (helper->ret) {
    case platform::ReturnKind::integer:
    case platform::ReturnKind::no_return_on_success: clobber({Kind::number, false, 0}, {}); break;
    case platform::ReturnKind::void_: clobber({}, {}); break;
    case platform::ReturnKind::host_object_or_null: clobber({Kind::number, false, kHostAddress}, {}); break;
    case platform::ReturnKind::ptr_to_map_value:
        // The cgroup's storage (get_local_storage): one value, never null.
        if (map == nullptr || map->kind == MK::hash_of_maps || map->kind == MK::array_of_maps) {
            clobber({Kind::number, false, 0}, {});
        } else {
            new_object(s, pc);
            clobber({Kind::shared, false, static_cast<std::uint32_t>(*map_index), object}, constant(0));
        }
        break;
    case platform::ReturnKind::ptr_to_map_value_or_null:
        if (map == nullptr) {
            clobber({Kind::number, false, 0}, {});
        } else if (map->kind == MK::hash_of_maps || map->kind == MK::array_of_maps) {
            if (!map->inner) {
                report(pc, "Map " + map->name + " of kind " + kind_name(map->kind) + " has no inner map definition",
                       "inner(" + map->name + ")");
                clobber({Kind::number, false, 0}, {});
                break;
            }
            new_object(s, pc);
            clobber({Kind::map, true, static_cast<std::uint32_t>(*map->inner), object}, constant(0));
        } else {
            new_object(s, pc);
            clobber({Kind::shared, true, static_cast<std::uint32_t>(*map_index), object}, constant(0));
        }
        break;
    case platform::ReturnKind::ptr_to_alloc_mem_or_null:
        new_object(s, pc);
        // A size error was reported; then nothing of it is accessible.
        clobber({Kind::alloc, true, static_cast<std::uint32_t>(std::max<Bound>(alloc_size, 0)), object}, constant(0));
        break;
    }
}

void Semantics::refine(State& s, Var a, Var b, std::uint8_t code, bool taken, bool is32, bool pointers) const {
    // The relation that holds on this edge, as one of: ==, !=, <u, <=u, <s, <=s (operands maybe swapped).
    enum class Rel { eq, ne, ult, ule, slt, sle, none };
    Rel rel = Rel::none;
    bool swap = false;
    switch (code) {
    case op::JEQ: rel = taken ? Rel::eq : Rel::ne; break;
    case op::JNE: rel = taken ? Rel::ne : Rel::eq; break;
    case op::JGT: rel = taken ? Rel::ult : Rel::ule, swap = taken; break;  // a > b: b < a
    case op::JGE: rel = taken ? Rel::ule : Rel::ult, swap = taken; break;  // a >= b: b <= a; else a < b
    case op::JLT: rel = taken ? Rel::ult : Rel::ule, swap = !taken; break; // a < b; else b <= a
    case op::JLE: rel = taken ? Rel::ule : Rel::ult, swap = !taken; break; // a <= b; else b < a
    case op::JSGT: rel = taken ? Rel::slt : Rel::sle, swap = taken; break;
    case op::JSGE: rel = taken ? Rel::sle : Rel::slt, swap = taken; break;
    case op::JSLT: rel = taken ? Rel::slt : Rel::sle, swap = !taken; break;
    case op::JSLE: rel = taken ? Rel::sle : Rel::slt, swap = !taken; break;
    default: return; // jset: nothing learned
    }
    if (swap) {
        std::swap(a, b);
    }
    const Interval ia = s.zone.interval(a);
    const Interval ib = s.zone.interval(b);
    if (is32 && !pointers && ia.singleton() && ib.singleton()) {
        // Two constants: their low 32 bits decide the comparison (a flag of -22 against 0 is `!=`, whatever the
        // upper bits).
        const auto ua = static_cast<std::uint32_t>(static_cast<std::uint64_t>(ia.lo));
        const auto ub = static_cast<std::uint32_t>(static_cast<std::uint64_t>(ib.lo));
        const auto sa = static_cast<std::int32_t>(ua);
        const auto sb = static_cast<std::int32_t>(ub);
        bool holds = true;
        switch (rel) {
        case Rel::eq: holds = ua == ub; break;
        case Rel::ne: holds = ua != ub; break;
        case Rel::ult: holds = ua < ub; break;
        case Rel::ule: holds = ua <= ub; break;
        case Rel::slt: holds = sa < sb; break;
        case Rel::sle: holds = sa <= sb; break;
        case Rel::none: break;
        }
        if (!holds) {
            s.zone.set_bottom();
        }
        return;
    }
    if (is32 && !pointers) {
        // A value inside one window [k 2^32, (k + 1) 2^32) has the low 32 bits value - k 2^32; read as signed, one
        // inside [k 2^32 - 2^31, k 2^32 + 2^31) has value - k 2^32 too. When both operands lie inside one window
        // each, the 32-bit relation is one of the 64-bit values, shifted by the windows' difference (a flag of
        // -156 held as 0xFFFFFF64 is below 0 as a signed 32-bit number).
        const bool is_signed = rel == Rel::slt || rel == Rel::sle;
        const auto window = [is_signed](const Interval& i) -> std::optional<Bound> {
            if (i.lo == kNegInf || i.hi == kInf) {
                return std::nullopt;
            }
            const Bound k = window_index(i.lo, is_signed);
            if (k != window_index(i.hi, is_signed) || k >= kMaxWindow || k <= -kMaxWindow) {
                return std::nullopt;
            }
            return k * (Bound{1} << 32);
        };
        const std::optional<Bound> wa = window(ia);
        const std::optional<Bound> wb = window(ib);
        if ((!wa || !wb) && rel != Rel::ne && (ia.singleton() != ib.singleton())) {
            // A range across windows against a constant: the values whose low half is on the relation's side,
            // window by window; their hull bounds the range (a result zero-extended to [0, 2^32) is not negative
            // as a signed 32-bit number exactly when it is below 2^31).
            const bool constant_right = ib.singleton();
            const Var x = constant_right ? a : b;
            const Interval range = constant_right ? ia : ib;
            const auto bits = static_cast<std::uint32_t>(static_cast<std::uint64_t>(constant_right ? ib.lo : ia.lo));
            const Bound c = is_signed ? Bound{static_cast<std::int32_t>(bits)} : Bound{bits};
            const Bound low = is_signed ? -(Bound{1} << 31) : 0;
            const Bound high = is_signed ? (Bound{1} << 31) - 1 : kU32Max;
            const Bound strict = rel == Rel::slt || rel == Rel::ult ? 1 : 0;
            // The low halves t that satisfy `t R c` (constant on the right) or `c R t`.
            Bound tlo = low;
            Bound thi = high;
            if (rel == Rel::eq) {
                tlo = thi = c;
            } else if (constant_right) {
                thi = c - strict;
            } else {
                tlo = c + strict;
            }
            if (range.lo == kNegInf || range.hi == kInf) {
                return;
            }
            const Bound first = window_index(range.lo, is_signed);
            const Bound last = window_index(range.hi, is_signed);
            if (last - first > 3 || first <= -kMaxWindow || last >= kMaxWindow) {
                return;
            }
            Bound hull_lo = kInf;
            Bound hull_hi = kNegInf;
            for (Bound k = first; k <= last; ++k) {
                const Bound base = k * (Bound{1} << 32);
                const Bound lo = std::max(range.lo, base + std::max(low, tlo));
                const Bound hi = std::min(range.hi, base + std::min(high, thi));
                if (lo <= hi) {
                    hull_lo = std::min(hull_lo, lo);
                    hull_hi = std::max(hull_hi, hi);
                }
            }
            if (hull_lo > hull_hi) {
                s.zone.set_bottom();
                return;
            }
            s.zone.constrain(kZero, x, -hull_lo);
            s.zone.constrain(x, kZero, hull_hi);
            return;
        }
        if (!wa || !wb || (rel == Rel::ne && *wa != *wb)) {
            return;
        }
        // a32 - b32 = a - b - shift, a32 and b32 being the integers the comparison reads (signed or not).
        const Bound shift = *wa - *wb;
        switch (rel) {
        case Rel::eq:
            s.zone.constrain(a, b, shift);
            s.zone.constrain(b, a, -shift);
            return;
        case Rel::slt:
        case Rel::ult: s.zone.constrain(a, b, shift - 1); return;
        case Rel::sle:
        case Rel::ule: s.zone.constrain(a, b, shift); return;
        case Rel::ne:
        case Rel::none: break; // ne: one window, so values differ as their low halves do
        }
    }
    if (pointers) {
        // Offsets in one region: address order is offset order.
        if (rel == Rel::ult) {
            rel = Rel::slt;
        } else if (rel == Rel::ule) {
            rel = Rel::sle;
        }
    }
    switch (rel) {
    case Rel::eq:
        s.zone.constrain(a, b, 0);
        s.zone.constrain(b, a, 0);
        return;
    case Rel::ne:
        if (ib.singleton()) {
            if (ia.lo == ib.lo) {
                s.zone.constrain(kZero, a, -(ib.lo + 1));
            }
            if (ia.hi == ib.lo) {
                s.zone.constrain(a, kZero, ib.lo - 1);
            }
            if (ia.singleton() && ia.lo == ib.lo) {
                s.zone.set_bottom();
            }
        } else if (ia.singleton()) {
            if (ib.lo == ia.lo) {
                s.zone.constrain(kZero, b, -(ia.lo + 1));
            }
            if (ib.hi == ia.lo) {
                s.zone.constrain(b, kZero, ia.lo - 1);
            }
        }
        return;
    case Rel::slt: s.zone.constrain(a, b, -1); return;
    case Rel::sle: s.zone.constrain(a, b, 0); return;
    case Rel::ult:
    case Rel::ule: {
        // a <u b: when b is known not negative, a lies in [0, b] as a signed number too.
        const Bound gap = rel == Rel::ult ? -1 : 0;
        if (ib.lo >= 0) {
            s.zone.constrain(kZero, a, 0);
            s.zone.constrain(a, b, gap);
        }
        if (ia.hi < 0 && ib.lo >= 0) {
            s.zone.set_bottom(); // a negative a is a huge unsigned number: above any non-negative b
        }
        return;
    }
    case Rel::none: return;
    }
}

void Semantics::assume(State& s, std::size_t pc, bool taken) const {
    const isa::Instruction& ins = m_code[pc];
    const bool is32 = isa::op_class(ins.opcode) == op::JMP32;
    const std::uint8_t code = isa::op_code(ins.opcode);
    const bool x = isa::op_source(ins.opcode) == op::X;
    const int dst = ins.dst;
    if (!usable(s, pc, dst) || (x && !usable(s, pc, ins.src))) {
        return;
    }
    const Type dt = s.regs[dst];
    const Type st = x ? s.regs[ins.src] : Type{Kind::number, false, 0};
    const Bound imm = is32 ? static_cast<Bound>(static_cast<std::uint32_t>(ins.imm)) : Bound{ins.imm};
    const Var dv = reg_var(dst);
    Var sv = x ? reg_var(ins.src) : kTemp + 3;
    if (!x) {
        s.zone.set(kTemp + 3, constant(imm));
    }
    auto done = [&] {
        if (!x) {
            s.zone.forget(kTemp + 3);
        }
    };
    const bool dp = dt.kind != Kind::number;
    const bool sp = st.kind != Kind::number;
    if (!dp && !sp) {
        refine(s, dv, sv, code, taken, is32, false);
        done();
        return;
    }
    if (dp != sp) {
        // A pointer against a number: only a null check.
        const int p = dp ? dst : ins.src;
        const Type pt = dp ? dt : st;
        const Interval n = s.zone.interval(dp ? sv : dv);
        const bool zero = n.lo == 0 && n.hi == 0;
        if (!zero || is32 || (code != op::JEQ && code != op::JNE)) {
            report(pc, is32 ? "Invalid operation on a pointer" : "Comparison of a pointer with a number",
                   is32 ? reg(p) + ".type == number"
                        : (dp ? (x ? reg(ins.src) : std::to_string(imm)) : reg(dst)) + " == 0");
            done();
            return;
        }
        const bool is_null = (code == op::JEQ) == taken;
        if (is_null && !pt.nullable) {
            // A pointer to memory is never 0: objects lie above 64 KiB and offsets stay above -32 KiB.
            s.zone.set_bottom();
            return;
        }
        null_checked(s, p, is_null);
        done();
        return;
    }
    // Two pointers: into one region, and neither possibly null.
    if (!same_region(dt, st)) {
        report(pc, "Comparison of pointers to different regions", reg(dst) + ".region == " + reg(ins.src) + ".region");
        done();
        return;
    }
    if (dt.nullable || st.nullable) {
        const int r = dt.nullable ? dst : ins.src;
        report(pc, reg(r) + " may be null; compare it with 0 first", reg(r) + " != null");
        done();
        return;
    }
    if (is32 || code == op::JSET) {
        report(pc, "Invalid operation on a pointer", reg(dst) + ".type == number");
        done();
        return;
    }
    if (!dt.same_object(st)) {
        // Two lookups, two reservations: equal or not, their offsets say nothing about each other, and their order
        // is the host's.
        if (code != op::JEQ && code != op::JNE) {
            report(pc, "Comparison of pointers to different objects",
                   reg(dst) + ".object == " + reg(ins.src) + ".object");
        }
        done();
        return;
    }
    // Offsets stay within [-32 KiB, 512 MiB] of objects that lie in [64 KiB, 2^47): addresses compare as offsets.
    refine(s, dv, sv, code, taken, false, true);
    done();
}

void Semantics::push_frame(State& s, int first) const {
    std::array<Type, kSavedRegisters> saved{};
    const std::size_t frame = s.frame();
    for (int r = first; r <= 9; ++r) {
        Type& kept = saved[static_cast<std::size_t>(r - 1)];
        kept = s.regs[r];
        if (kept.has_var()) {
            s.zone.assign(saved_var(frame, r), reg_var(r), 0);
            if (s.zone.has(low32_var(r))) {
                s.zone.assign(shadow_of(saved_var(frame, r)), low32_var(r), 0); // and what is known of its low half
            }
        }
        s.regs[r] = {};
        s.zone.forget(reg_var(r));
    }
    s.saved.push_back(saved);
    s.regs[0] = {};
    s.zone.forget(reg_var(0));
    const std::int32_t base = frame_base(s);
    s.zone.set(reg_var(10), constant(base));
    stack_write(s, base - kFrameSize, base, false);
    for (std::int32_t b = base - kFrameSize; b < base; ++b) {
        s.init.reset(static_cast<std::size_t>(kStackBytes + b));
    }
}

void Semantics::pop_frame(State& s) const {
    const std::int32_t base = frame_base(s);
    // Pointers into the frame that ends are stale.
    auto stale = [&](Type& t, Var var) {
        if (t.kind == Kind::stack && s.zone.interval(var).lo < base) {
            t = {Kind::invalid, false, kReturnedFrame};
            s.zone.forget(var);
        }
    };
    for (int r = 0; r <= 5; ++r) {
        stale(s.regs[r], reg_var(r));
    }
    stack_write(s, base - kFrameSize, base, false);
    for (std::int32_t b = base - kFrameSize; b < base; ++b) {
        s.init.reset(static_cast<std::size_t>(kStackBytes + b));
    }
    for (Cell& cell : s.cells) {
        if (cell.type.kind == Kind::stack && s.zone.interval(cell_var(cell.offset)).lo < base) {
            // A caller's cell pointing into the callee's frame: a fill gets a pointer that cannot be used.
            cell.type = {Kind::invalid, false, kReturnedFrame};
            s.zone.forget(cell_var(cell.offset));
        }
    }
    for (int r = 1; r <= 9; ++r) {
        s.regs[r] = {};
        s.zone.forget(reg_var(r));
    }
    const std::array<Type, kSavedRegisters> saved = s.saved.back();
    s.saved.pop_back();
    const std::size_t frame = s.frame();
    for (int r = 1; r <= 9; ++r) {
        const Type& kept = saved[static_cast<std::size_t>(r - 1)];
        s.regs[r] = kept;
        if (kept.has_var()) {
            s.zone.assign(reg_var(r), saved_var(frame, r), 0);
            if (s.zone.has(shadow_of(saved_var(frame, r)))) {
                s.zone.assign(low32_var(r), shadow_of(saved_var(frame, r)), 0);
            }
        }
        s.zone.forget(saved_var(frame, r));
    }
    s.zone.set(reg_var(10), constant(frame_base(s)));
}

void Semantics::enter_call(State& s, std::size_t) const { push_frame(s, 6); }

void Semantics::leave_call(State& s, std::size_t pc) const {
    if (!usable(s, pc, 0)) {
        s.regs[0] = {Kind::number, false, 0};
        s.zone.forget(reg_var(0));
    }
    pop_frame(s); // r1-r5 were not kept: uninitialized after the call
}

std::optional<std::size_t> Semantics::callback_target(std::size_t pc) const {
    const auto found = m_callbacks.find(pc);
    if (found == m_callbacks.end()) {
        return std::nullopt;
    }
    return found->second;
}

void Semantics::enter_callback(State& s, std::size_t pc, std::optional<Var> counter) const {
    const platform::HelperPrototype* helper = m_platform.helper(m_type, static_cast<std::uint32_t>(m_code[pc].imm));
    const platform::Callback kind = helper != nullptr ? helper->callback() : platform::Callback::none;
    const std::optional<std::size_t> target = callback_target(pc);
    // The helper call itself checks its arguments (the edge past the loop runs it); only a call the runtime runs
    // as the graph has it calls back: the callback the graph inlined, a context on the stack or null.
    const Type& fn = s.regs[2];
    const Type& ctx = s.regs[3];
    const Interval ctx_value = s.zone.interval(reg_var(3));
    const bool ctx_ok = (ctx.kind == Kind::stack && !ctx.nullable) ||
                        (ctx.kind == Kind::number && ctx_value.lo == 0 && ctx_value.hi == 0);
    if (kind == platform::Callback::none || !target || fn.kind != Kind::func || fn.aux != *target || !ctx_ok) {
        s.zone.set_bottom();
        return;
    }
    // How many times it may run: index < limit.
    Bound limit = 0;
    std::optional<std::size_t> map;
    if (kind == platform::Callback::loop) {
        limit = static_cast<Bound>(platform::kMaxCallbackLoops);
        const Interval n = s.zone.interval(reg_var(1));
        if (s.regs[1].kind != Kind::number) {
            s.zone.set_bottom(); // the helper call reports it
            return;
        }
        if (n.lo >= 0 && n.hi <= 0xFFFFFFFF) {
            limit = std::min(limit, n.hi); // nr_loops is read as 32 bits: a value that fits is itself
            if (counter && !s.zone.constrain(*counter, reg_var(1), -1)) {
                return;
            }
        }
    } else {
        if (s.regs[1].kind != Kind::map) {
            s.zone.set_bottom();
            return;
        }
        map = s.regs[1].aux;
        const MapDescriptor& walked = m_maps[*map];
        if (!platform::accepts_map(*helper, walked.kind) || walked.key_size > platform::kMaxCallbackKey ||
            walked.any_size) {
            s.zone.set_bottom(); // the helper call reports it
            return;
        }
        limit = static_cast<Bound>(m_maps[*map].max_entries);
    }
    if (limit <= 0 || (counter && !s.zone.constrain(*counter, kZero, limit - 1))) {
        s.zone.set_bottom();
        return;
    }
    push_frame(s, 1);
    const std::size_t caller = s.frame() - 1;
    const std::array<Type, kSavedRegisters>& args = s.saved.back();
    auto pass = [&](int r, int from) {
        s.regs[r] = args[static_cast<std::size_t>(from - 1)];
        if (s.regs[r].has_var()) {
            s.zone.assign(reg_var(r), saved_var(caller, from), 0);
        }
    };
    if (kind == platform::Callback::loop) {
        // callback(index, ctx): the index is the count of calls before this one.
        s.regs[1] = {Kind::number, false, 0};
        if (counter) {
            s.zone.assign(reg_var(1), *counter, 0);
            s.zone.constrain(reg_var(1), kZero, limit - 1);
            s.zone.constrain(kZero, reg_var(1), 0);
        } else {
            s.zone.set(reg_var(1), {0, limit - 1});
        }
        pass(2, 3);
        return;
    }
    // callback(map, key, value, ctx). The key is a copy at the bottom of the callback's frame (writing it changes
    // nothing of the map); the value is the element's own memory.
    const MapDescriptor& m = m_maps[*map];
    pass(1, 1);
    const std::int32_t base = frame_base(s);
    const std::int32_t key_at = base - kFrameSize;
    s.regs[2] = {Kind::stack, false, 0};
    s.zone.set(reg_var(2), constant(key_at));
    stack_write(s, key_at, key_at + static_cast<std::int32_t>(m.key_size), true); // written: initialized
    // One element for the whole call, named as a lookup names its result (Type::object): its lock is one lock.
    new_object(s, pc);
    s.regs[3] = {Kind::shared, false, static_cast<std::uint32_t>(*map), static_cast<std::uint32_t>(pc + 1)};
    s.zone.set(reg_var(3), constant(0));
    pass(4, 3);
}

void Semantics::leave_callback(State& s, std::size_t pc) const {
    check_unlocked(s, pc); // the helper calls it again, or returns to a program that may not hold it
    // The helper reads 0 as "go on" and anything else as "stop"; Linux holds callbacks to 0 and 1.
    if (usable(s, pc, 0)) {
        const Interval v = s.zone.interval(reg_var(0));
        if (s.regs[0].kind != Kind::number) {
            report(pc, "r0 must be a number", "r0.type == number");
        } else if (v.lo < 0 || v.hi > 1) {
            report(pc, "A callback must return 0 or 1", "r0 in [0, 1]");
        }
    }
    pop_frame(s); // r1-r9 as the helper call had them: it runs again
    s.regs[0] = {};
    s.zone.forget(reg_var(0));
}

void Semantics::check_unlocked(State& s, std::size_t pc) const {
    // A lock the program keeps waits for ever for its release: every later bpf_spin_lock of it spins.
    if (s.lock.kind != Kind::uninit) {
        report(pc, "A bpf_spin_lock is held at exit (call bpf_spin_unlock first)", "lock == none");
        s.lock = {};
    }
}

void Semantics::check_released(State& s, std::size_t pc) const {
    // A record neither submitted nor discarded stays busy: the ring buffer's reader waits on it for ever.
    const Interval open = s.zone.interval(kOpenRecords);
    if (!(open.lo == 0 && open.hi == 0)) {
        report(pc, "A ring buffer record may be neither submitted nor discarded", "open_records == 0");
        s.zone.set(kOpenRecords, constant(0));
    }
}

void Semantics::check_exit(State& s, std::size_t pc) const {
    check_released(s, pc);
    check_unlocked(s, pc);
    if (!usable(s, pc, 0)) {
        return;
    }
    if (s.regs[0].kind != Kind::number) {
        report(pc, "r0 must be a number", "r0.type == number");
        return;
    }
    const Bound lo = m_type.return_min;
    const Bound hi = m_type.return_max;
    // A range covering every int32 is no constraint: hooks read 32 bits of it.
    if (lo <= std::numeric_limits<std::int32_t>::min() && hi >= std::numeric_limits<std::int32_t>::max()) {
        return;
    }
    const Interval v = s.zone.interval(reg_var(0));
    if (v.lo < lo || v.hi > hi) {
        const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
        if (m_type.out_of_range_return) {
            warn(pc, "r0 may be outside " + range + " at exit for " + m_type.name + ", which the hook reads as " +
                         std::to_string(*m_type.out_of_range_return));
        } else {
            report(pc, "r0 must be in " + range + " at exit for " + m_type.name, "r0 in " + range);
        }
    }
}

} // namespace embpf::verifier::detail
