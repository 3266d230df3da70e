#include "state.hpp"

#include <algorithm>

namespace embpf::verifier::detail {

namespace {

bool holds_pointer(const Cell& cell) { return cell.type.kind != Kind::number; }

Type merge_types(const Type& a, const Type& b) {
    if (a.kind == Kind::uninit || b.kind == Kind::uninit) {
        return {};
    }
    if ((a.kind == Kind::invalid && a.aux == kLowHalfPacket) || (b.kind == Kind::invalid && b.aux == kLowHalfPacket)) {
        return {Kind::invalid, false, kMixedTypes}; // a number on another path must not pass for a part of an address
    }
    if (a.kind == Kind::invalid) {
        return a;
    }
    if (b.kind == Kind::invalid) {
        return b;
    }
    return {Kind::invalid, false, kMixedTypes};
}

// 0 (n, in state ns) on one path and a map value or an inner map (p) on the other: a lookup's result that may be
// null, as the lookup itself returns it (`v = lookup(); if (!v) v = 0;`, a result spilled on one path of a branch). The
// variable is 0 on the null path and the offset on the other, so the joined offset covers both. Records are left out:
// the count of open records follows their null checks.
bool null_or_pointer(const Type& n, const State& ns, const Type& p, Var var) {
    return n.kind == Kind::number && (p.kind == Kind::shared || p.kind == Kind::map) &&
           ns.zone.interval(var) == Interval{0, 0};
}

// The lookups whose results a join with 0 leaves copies of one another (null_checked() checks them together): those
// for which, on each path, every register, saved register and cell that the join makes a pointer into the lookup's
// object held a pointer into it, or every one held 0 (the lookup returned null on that path, or did not run). Where one
// copy held 0 and another the pointer, a check of one says nothing of the other: such results point into some object.
std::vector<std::uint32_t> joined_lookups(const State& a, const State& b) {
    struct Seen {
        std::uint32_t object;
        bool pointer[2];
        bool zero[2];
    };
    std::vector<Seen> seen;
    auto note = [&](std::uint32_t object, int side, bool pointer) {
        auto it = std::find_if(seen.begin(), seen.end(), [&](const Seen& x) { return x.object == object; });
        if (it == seen.end()) {
            seen.push_back(Seen{object, {false, false}, {false, false}});
            it = seen.end() - 1;
        }
        (pointer ? it->pointer : it->zero)[side] = true;
    };
    auto lookup = [](const Type& t) { return t.object != kOneObject && t.object != kSomeObject; };
    auto visit = [&](const Type& x, const Type& y, Var var) {
        if (x.is_pointer() && y.is_pointer() && lookup(x) && x.kind == y.kind && x.aux == y.aux &&
            x.object == y.object) {
            note(x.object, 0, true);
            note(x.object, 1, true);
        } else if (null_or_pointer(x, a, y, var) && lookup(y)) {
            note(y.object, 0, false);
            note(y.object, 1, true);
        } else if (null_or_pointer(y, b, x, var) && lookup(x)) {
            note(x.object, 0, true);
            note(x.object, 1, false);
        }
    };
    for (int r = 0; r < 11; ++r) {
        visit(a.regs[r], b.regs[r], reg_var(r));
    }
    for (std::size_t f = 0; f < std::min(a.saved.size(), b.saved.size()); ++f) {
        for (std::size_t i = 0; i < kSavedRegisters; ++i) {
            visit(a.saved[f][i], b.saved[f][i], saved_var(f, static_cast<int>(i) + 1));
        }
    }
    for (const Cell& cell : a.cells) {
        const auto other = std::find_if(b.cells.begin(), b.cells.end(), [&](const Cell& c) {
            return c.offset == cell.offset && c.width == cell.width;
        });
        if (other != b.cells.end()) {
            visit(cell.type, other->type, cell_var(cell.offset));
        }
    }
    std::vector<std::uint32_t> kept;
    for (const Seen& x : seen) {
        if (!(x.pointer[0] && x.zero[0]) && !(x.pointer[1] && x.zero[1])) {
            kept.push_back(x.object);
        }
    }
    return kept;
}

// Aligns the registers, saved registers and cells of two states before their zones are combined: what differs is
// made the same in both (and its variable forgotten), so that the zones speak of the same things.
void align(State& a, State& b, AlikeMaps alike) {
    const std::vector<std::uint32_t> lookups = joined_lookups(a, b);
    auto joined_object = [&](std::uint32_t object) {
        return object == kOneObject || std::find(lookups.begin(), lookups.end(), object) != lookups.end() ? object
                                                                                                          : kSomeObject;
    };
    // Pointers into one region, or into the maps (values) of two alike maps: the offset survives.
    auto same_region = [&](const Type& x, const Type& y) {
        if (x.kind != y.kind || !x.is_pointer()) {
            return false;
        }
        return x.aux == y.aux || ((x.kind == Kind::map || x.kind == Kind::shared) && x.aux < alike.size() &&
                                  y.aux < alike.size() && alike[x.aux] == alike[y.aux]);
    };
    // Null on one path is null on the joined one, and pointers into different objects (different maps are different
    // objects) point into some object.
    auto merge_region = [](Type& x, const Type& y) {
        x.nullable = x.nullable || y.nullable;
        if (x.object != y.object || x.aux != y.aux) {
            x.object = kSomeObject;
        }
        x.aux = std::min(x.aux, y.aux);
    };
    auto align_type = [&](Type& x, Type& y, Var var) {
        if (x == y) {
            return;
        }
        if (x.kind == Kind::number && y.kind == Kind::number) {
            x = y = Type{Kind::number, false, kHostAddress}; // a host address on one path: one on the joined path
            return;
        }
        if (same_region(x, y)) {
            merge_region(x, y);
            y = x;
            return;
        }
        if (null_or_pointer(x, a, y, var) || null_or_pointer(y, b, x, var)) {
            Type& p = x.kind == Kind::number ? y : x;
            p.nullable = true;
            p.object = joined_object(p.object);
            x = y = p;
            return;
        }
        x = y = merge_types(x, y);
        a.zone.forget(var);
        b.zone.forget(var);
    };
    for (int r = 0; r < 11; ++r) {
        align_type(a.regs[r], b.regs[r], reg_var(r));
    }
    const std::size_t frames = std::min(a.saved.size(), b.saved.size());
    for (std::size_t f = 0; f < frames; ++f) {
        for (std::size_t i = 0; i < kSavedRegisters; ++i) {
            align_type(a.saved[f][i], b.saved[f][i], saved_var(f, static_cast<int>(i) + 1));
        }
    }
    // A cell both states hold survives; one that holds pointers into one region on both paths survives as registers do.
    std::vector<Cell> kept;
    for (const Cell& cell : a.cells) {
        const auto other = std::find_if(b.cells.begin(), b.cells.end(), [&](const Cell& c) {
            return c.offset == cell.offset && c.width == cell.width;
        });
        if (other == b.cells.end()) {
            continue;
        }
        if (*other == cell) {
            kept.push_back(cell);
        } else if (cell.type.kind == Kind::number && other->type.kind == Kind::number) {
            kept.push_back(Cell{cell.offset, cell.width, Type{Kind::number, false, kHostAddress}});
        } else if (same_region(cell.type, other->type)) {
            Cell merged = cell;
            merge_region(merged.type, other->type);
            kept.push_back(merged);
        } else if (null_or_pointer(cell.type, a, other->type, cell_var(cell.offset)) ||
                   null_or_pointer(other->type, b, cell.type, cell_var(cell.offset))) {
            Cell merged = cell;
            merged.type = cell.type.kind == Kind::number ? other->type : cell.type;
            merged.type.nullable = true;
            merged.type.object = joined_object(merged.type.object);
            kept.push_back(merged);
        }
    }
    for (State* s : {&a, &b}) {
        for (const Cell& cell : s->cells) {
            if (std::find_if(kept.begin(), kept.end(), [&](const Cell& c) {
                    return c.offset == cell.offset && c.width == cell.width; // kept, perhaps as a pointer or null
                }) != kept.end()) {
                continue;
            }
            s->zone.forget(cell_var(cell.offset));
            if (holds_pointer(cell)) {
                // Its bytes hold a pointer on one path only: reading them as a number would leak it.
                for (int i = 0; i < cell.width; ++i) {
                    a.init.reset(static_cast<std::size_t>(kStackBytes + cell.offset + i));
                    b.init.reset(static_cast<std::size_t>(kStackBytes + cell.offset + i));
                }
            }
        }
    }
    a.cells = kept;
    b.cells = std::move(kept);
    if (!(a.lock == b.lock)) {
        a.lock = b.lock = Type{Kind::invalid, false, kMixedTypes}; // held on one path only, or another lock
    }
    a.init &= b.init;
    b.init = a.init;
}

} // namespace

bool State::same_shape(const State& other) const noexcept {
    // Numbers are numbers, host addresses or not: they join in place.
    auto alike = [](const Type& a, const Type& b) {
        return a == b || (a.kind == Kind::number && b.kind == Kind::number);
    };
    if (!std::equal(regs.begin(), regs.end(), other.regs.begin(), alike) || saved.size() != other.saved.size() ||
        !(lock == other.lock)) {
        return false;
    }
    for (std::size_t f = 0; f < saved.size(); ++f) {
        if (!std::equal(saved[f].begin(), saved[f].end(), other.saved[f].begin(), alike)) {
            return false;
        }
    }
    auto next_pointer = [](const std::vector<Cell>& list, std::size_t i) {
        while (i < list.size() && !holds_pointer(list[i])) {
            ++i;
        }
        return i;
    };
    std::size_t i = next_pointer(cells, 0);
    std::size_t j = next_pointer(other.cells, 0);
    while (i < cells.size() && j < other.cells.size()) {
        if (!(cells[i] == other.cells[j])) {
            return false;
        }
        i = next_pointer(cells, i + 1);
        j = next_pointer(other.cells, j + 1);
    }
    return i == cells.size() && j == other.cells.size();
}

State join(const State& a, const State& b, AlikeMaps alike) {
    if (a.bottom()) {
        return b;
    }
    if (b.bottom()) {
        return a;
    }
    State x = a;
    State y = b;
    align(x, y, alike);
    x.zone = Zone::join(x.zone, y.zone);
    return x;
}

State widen(const State& old, const State& next, std::span<const Bound> thresholds, AlikeMaps alike) {
    if (old.bottom()) {
        return next;
    }
    if (next.bottom()) {
        return old;
    }
    State x = old;
    State y = next;
    align(x, y, alike);
    x.zone = Zone::widen(x.zone, y.zone, thresholds, kLoopDownVar);
    return x;
}

namespace {

// Whether a and b hold the same constant, or both no constant, in each of the partition's variables.
bool same_partition(const State& a, const State& b, std::span<const Var> partition) {
    for (const Var v : partition) {
        const Interval x = a.zone.interval(v);
        const Interval y = b.zone.interval(v);
        if (x.singleton() != y.singleton() || (x.singleton() && x.lo != y.lo)) {
            return false;
        }
    }
    return true;
}

// What joining two states of different shapes loses: each register (or saved register) whose types differ, a pointer
// against anything but a pointer into the same region above all (the join makes it unusable: another kind, or the
// value of a map the semantics can tell apart), each pointer cell one has and the other has not, and each partition
// variable that holds different constants.
std::size_t distance(const State& a, const State& b, std::span<const Var> partition, AlikeMaps alike) {
    auto differ = [&](const Type& x, const Type& y, Var var) -> std::size_t {
        if (x == y) {
            return 0;
        }
        if (null_or_pointer(x, a, y, var) || null_or_pointer(y, b, x, var)) {
            return 1; // a pointer that may be null
        }
        if (!x.is_pointer() && !y.is_pointer()) {
            return 1;
        }
        const bool maps = x.kind == Kind::map || x.kind == Kind::shared;
        const bool same_region =
            x.kind == y.kind &&
            (x.aux == y.aux || (maps && x.aux < alike.size() && y.aux < alike.size() && alike[x.aux] == alike[y.aux]));
        return same_region ? 1 : 16;
    };
    std::size_t d = 0;
    for (std::size_t r = 0; r < a.regs.size(); ++r) {
        d += differ(a.regs[r], b.regs[r], reg_var(static_cast<int>(r)));
    }
    if (a.saved.size() != b.saved.size()) {
        return ~std::size_t{0};
    }
    for (std::size_t f = 0; f < a.saved.size(); ++f) {
        for (std::size_t r = 0; r < a.saved[f].size(); ++r) {
            d += differ(a.saved[f][r], b.saved[f][r], saved_var(f, static_cast<int>(r) + 1));
        }
    }
    std::size_t pointers_a = 0;
    std::size_t pointers_b = 0;
    for (const Cell& cell : a.cells) {
        pointers_a += holds_pointer(cell) ? 1 : 0;
    }
    for (const Cell& cell : b.cells) {
        pointers_b += holds_pointer(cell) ? 1 : 0;
    }
    d += pointers_a > pointers_b ? pointers_a - pointers_b : pointers_b - pointers_a;
    d += a.lock == b.lock ? 0 : 16;
    for (const Var v : partition) {
        d += same_partition(a, b, std::span<const Var>(&v, 1)) ? 0 : 64;
    }
    return d;
}

} // namespace

void add_state(States& set, State state, std::span<const Var> partition, bool in_loop, AlikeMaps alike) {
    if (state.bottom()) {
        return;
    }
    for (State& existing : set) {
        if (existing.same_shape(state) && same_partition(existing, state, partition)) {
            existing = join(existing, state, alike);
            return;
        }
    }
    set.push_back(std::move(state));
    while (set.size() > kMaxShapes) {
        // Over the limit: join the two states that differ least, so that a register holding a stack pointer on one
        // path and a map value on another stays usable on both while other states can give way.
        std::size_t best_i = set.size() - 2;
        std::size_t best_j = set.size() - 1;
        std::size_t best = ~std::size_t{0};
        for (std::size_t i = 0; !in_loop && i < set.size(); ++i) {
            for (std::size_t j = i + 1; j < set.size(); ++j) {
                const std::size_t d = distance(set[i], set[j], partition, alike);
                if (d < best) {
                    best = d;
                    best_i = i;
                    best_j = j;
                }
            }
        }
        set[best_i] = join(set[best_i], set[best_j], alike);
        set.erase(set.begin() + static_cast<std::ptrdiff_t>(best_j));
    }
}

std::string type_name(const Type& type) {
    std::string out;
    switch (type.kind) {
    case Kind::uninit: return "uninit";
    case Kind::number: return "number";
    case Kind::ctx: out = "ctx"; break;
    case Kind::stack: out = "stack"; break;
    case Kind::packet: out = type.aux == 0 ? "packet" : "region(" + std::to_string(type.aux - 1) + ")"; break;
    case Kind::shared: out = "map_value(" + std::to_string(type.aux) + ")"; break;
    case Kind::alloc: out = "alloc(" + std::to_string(type.aux) + ")"; break;
    case Kind::map: out = "map(" + std::to_string(type.aux) + ")"; break;
    case Kind::func: out = "func(" + std::to_string(type.aux) + ")"; break;
    case Kind::invalid: return "invalid";
    }
    if (type.object == kSomeObject) {
        out += "#any";
    } else if (type.object != kOneObject) {
        out += "#" + std::to_string(type.object - 1);
    }
    if (type.nullable) {
        out += "_or_null";
    }
    return out;
}

std::string to_string(const State& state) {
    if (state.bottom()) {
        return "bottom";
    }
    auto name = [](Var v) -> std::string {
        if (v <= 10) {
            return "r" + std::to_string(v);
        }
        if (v < kPacketSize) {
            const Var i = v - kSavedVar;
            return "frame" + std::to_string(i / kSavedRegisters) + ".r" + std::to_string(1 + i % kSavedRegisters);
        }
        if (v == kPacketSize) {
            return "packet_size";
        }
        if (v == kMetaOffset) {
            return "meta_offset";
        }
        if (v == kOpenRecords) {
            return "open_records";
        }
        if (v >= kLow32Var && v < kLow32Var + 11) {
            return "w" + std::to_string(v - kLow32Var) + ".low";
        }
        if (v >= kLow32Var + kSavedVar && v < kLow32Var + kPacketSize) {
            const Var i = v - kLow32Var - kSavedVar;
            return "frame" + std::to_string(i / kSavedRegisters) + ".w" + std::to_string(1 + i % kSavedRegisters) +
                   ".low";
        }
        if (v >= kLoopVar) {
            return v >= kLoopDownVar ? "loop" + std::to_string(v - kLoopDownVar) + ".down"
                                     : "loop" + std::to_string(v - kLoopVar) + ".up";
        }
        if (v >= kCellShadowBase && v < kCellShadowBase + kStackBytes) {
            return "stack[" + std::to_string(static_cast<std::int64_t>(v) - kCellShadowBase - kStackBytes) + "].low";
        }
        if (v >= kCellVar) {
            return "stack[" + std::to_string(static_cast<std::int64_t>(v) - kCellVar - kStackBytes) + "]";
        }
        return "t" + std::to_string(v);
    };
    std::string out;
    for (int r = 0; r <= 10; ++r) {
        if (state.regs[r].kind != Kind::uninit) {
            out += "r" + std::to_string(r) + ":" + type_name(state.regs[r]) + " ";
        }
    }
    for (const Cell& cell : state.cells) {
        out += "stack[" + std::to_string(cell.offset) + ":" + std::to_string(cell.width) + "]:" + type_name(cell.type) +
               " ";
    }
    if (state.lock.kind != Kind::uninit) {
        out += "lock:" + type_name(state.lock) + " ";
    }
    out += "{" + state.zone.to_string(name) + "}";
    return out;
}

} // namespace embpf::verifier::detail
