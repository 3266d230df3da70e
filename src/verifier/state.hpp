// The abstract state at one program point: what each register and stack byte may hold. A state is one "shape" (every
// register has a single type: a number, or a pointer into one region) with a zone over the numbers and offsets; the
// analysis keeps a few shapes per point (a disjunction) so that a register that is a stack pointer on one path and a
// map value on the other keeps both offsets exactly.
#pragma once

#include "zone.hpp"

#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

namespace embpf::verifier::detail {

enum class Kind : std::uint8_t {
    uninit,
    number,
    ctx,    ///< the context struct; offset from its start
    stack,  ///< offset from the program's r10 (a subprogram's frame lies 512 bytes below its caller's)
    packet, ///< offset from the first byte of the packet (aux 0: the context's data field) or, for aux r + 1, of the
            ///< context's memory region r (platform::FieldKind::memory)
    shared, ///< a map value; aux = map index
    alloc,  ///< memory a helper allocated; aux = its size
    map,    ///< a map itself; aux = map index
    func,   ///< a subprogram's address; aux = its instruction index
    invalid ///< cannot be used; aux says why (a Stale value)
};

enum Stale : std::uint32_t {
    kMixedTypes = 0,
    kMovedPacket = 1,
    kReleasedAlloc = 2,
    kReturnedFrame = 3,
    kPartialPointer = 4, ///< the rest of a spilled pointer some bytes of which were overwritten
    /// The low 32 bits of a packet pointer (`w8 = w2`), its variable the pointer's offset: a part of a host address
    /// that only one use makes a number of, subtracting another packet pointer's low half (`w8 -= w1`), as the
    /// distance between the two (modulo 2^32).
    kLowHalfPacket = 5,
};

/// Which object of a region a pointer points into. Regions with one object (the context, the stack, the packet, a
/// map named by `lddw`, global data) use kOneObject. A helper that hands out objects (map lookups, ring-buffer
/// reservations, inner maps) at instruction pc gives its result `pc + 1`, which names the object the latest execution
/// of that instruction returned: before the call, pointers still naming it are renamed kSomeObject. kSomeObject is
/// some object of the region, perhaps another than any other pointer's: nothing is learned by comparing such pointers.
/// A number's aux: the number may be a host address a tracing hook handed the program (an argument of a fentry, tp_btf
/// or lsm program, a field loaded through one), which loads may read through as probe reads. It is a number in every
/// other respect, and a number that is one on some path is one where the paths join: the flag says which numbers a
/// program means to read through, while a probe read is safe at any address.
inline constexpr std::uint32_t kPlainNumber = 0;
inline constexpr std::uint32_t kHostAddress = 1;

inline constexpr std::uint32_t kOneObject = 0;
inline constexpr std::uint32_t kSomeObject = 0xFFFFFFFF;

struct Type {
    Kind kind = Kind::uninit;
    bool nullable = false;
    std::uint32_t aux = 0;
    std::uint32_t object = kOneObject;
    friend bool operator==(const Type&, const Type&) = default;

    [[nodiscard]] bool is_pointer() const noexcept {
        return kind == Kind::ctx || kind == Kind::stack || kind == Kind::packet || kind == Kind::shared ||
               kind == Kind::alloc || kind == Kind::map || kind == Kind::func;
    }
    /// Two pointers of these types point into one object, so their offsets compare as their addresses do.
    [[nodiscard]] bool same_object(const Type& other) const noexcept {
        return is_pointer() && kind == other.kind && aux == other.aux && object == other.object &&
               object != kSomeObject;
    }
    /// A type whose variable in the zone means something (a number's value or a pointer's offset).
    [[nodiscard]] bool has_var() const noexcept {
        return kind != Kind::uninit && (kind != Kind::invalid || aux == kLowHalfPacket);
    }
};

inline constexpr std::int32_t kFrameSize = 512;
inline constexpr std::int32_t kStackBytes = kFrameSize * 8;

/// A value spilled to the stack: its bytes [offset, offset + width) hold exactly a register's value.
struct Cell {
    std::int32_t offset = 0;
    std::uint8_t width = 0;
    Type type;
    friend bool operator==(const Cell&, const Cell&) = default;
};

/// The registers a caller's frame keeps while a function it called runs: r1-r9.
inline constexpr std::size_t kSavedRegisters = 9;

// Zone variables.
inline constexpr Var kRegVar = 0;             // r0..r10: 0..10
inline constexpr Var kSavedVar = 11;          // caller frames' r1..r9: 11 + 9 * frame + (r - 1)
inline constexpr Var kPacketSize = 100;       // data_end - data
inline constexpr Var kMetaOffset = 101;       // data_meta - data (<= 0)
inline constexpr Var kTemp = 102;             // scratch: 102..105
inline constexpr Var kOpenRecords = 106;      // ring-buffer records reserved, checked non-null, not yet released
inline constexpr Var kLow32Var = kShadowBase; // r0..r10's low 32 bits, when their values may not fit them: 110..120
                                              // (and the saved registers': 121..209)
inline constexpr Var kRegionSizeVar = 210;    // the size of the context's memory region r: 210 + r
inline constexpr Var kCellVar = 10000;        // a cell at stack offset o: kCellVar + kStackBytes + o
inline constexpr Var kLoopVar = 1000000;      // iteration counter of loop l, counting up: kLoopVar + l
inline constexpr Var kLoopDownVar = 2000000;  // and counting down: kLoopDownVar + l

[[nodiscard]] constexpr Var reg_var(int r) noexcept { return kRegVar + static_cast<Var>(r); }
[[nodiscard]] constexpr Var low32_var(int r) noexcept { return kLow32Var + static_cast<Var>(r); }
[[nodiscard]] constexpr Var saved_var(std::size_t frame, int r) noexcept {
    return kSavedVar + static_cast<Var>(kSavedRegisters * frame) + static_cast<Var>(r - 1);
}
[[nodiscard]] constexpr Var cell_var(std::int32_t offset) noexcept {
    return kCellVar + static_cast<Var>(kStackBytes + offset);
}
/// The low 32 bits of the number a cell at stack offset o holds, when its value may not fit them.
[[nodiscard]] constexpr Var cell_low32_var(std::int32_t offset) noexcept { return shadow_of(cell_var(offset)); }
static_assert(kShadowed == kPacketSize && kShadowBase + kShadowed <= kCellVar);
static_assert(kCellVar == kShadowedCells && kCellVar + kStackBytes == kShadowedCellsEnd);
[[nodiscard]] constexpr Var loop_var(std::size_t loop) noexcept { return kLoopVar + static_cast<Var>(loop); }
[[nodiscard]] constexpr Var loop_down_var(std::size_t loop) noexcept { return kLoopDownVar + static_cast<Var>(loop); }

struct State {
    std::array<Type, 11> regs{};
    /// r1-r9 of each caller frame (saved[f][r - 1]): r6-r9 at every call, r1-r5 at a callback's only (the helper call
    /// runs again with them after each return); a local call leaves them uninitialized.
    std::vector<std::array<Type, kSavedRegisters>> saved;
    std::vector<Cell> cells;       ///< sorted by offset, never overlapping
    std::bitset<kStackBytes> init; ///< byte at stack offset o is bit kStackBytes + o
    /// The bpf_spin_lock held: the map value whose lock bpf_spin_lock took (a pointer's type: map, object), uninit
    /// when none is, invalid when one may be on some paths and not on others, or which one is unknown.
    Type lock;
    Zone zone;

    [[nodiscard]] bool bottom() const noexcept { return zone.is_bottom(); }
    [[nodiscard]] std::size_t frame() const noexcept { return saved.size(); }
    /// Same types everywhere (registers, saved registers, cells holding pointers, the lock): states of one shape are
    /// joined variable by variable.
    [[nodiscard]] bool same_shape(const State& other) const noexcept;

    friend bool operator==(const State&, const State&) = default;
};

/// Maps the verifier cannot tell apart: `alike[i]` is the least index of a map whose kind, sizes, inner template and
/// rights equal map i's (Semantics::alike_maps). A register that holds one of two alike maps on two paths, or points
/// into a value of either, keeps a usable type when the paths join: the lesser index, and some object of it (the two
/// maps are different objects). Empty: every map is alike only itself.
using AlikeMaps = std::span<const std::uint32_t>;

/// The least state above both (types that differ become invalid or uninitialized).
[[nodiscard]] State join(const State& a, const State& b, AlikeMaps alike = {});
/// Widening of two states of the same shape.
[[nodiscard]] State widen(const State& old, const State& next, std::span<const Bound> thresholds, AlikeMaps alike = {});

/// A disjunction of states, at most kMaxShapes of them.
inline constexpr std::size_t kMaxShapes = 12;
using States = std::vector<State>;
/// Adds `state` to `set`: joined with the state of the same shape, or kept apart while there is room. States whose
/// `partition` variables hold different constants count as different shapes (a flag a later branch tests: `r3 = 0`
/// after a packet check and `r3 = -22` after its failure stay apart until the branch on r3 separates them).
/// Over kMaxShapes, the two states that differ least are joined; with `in_loop`, the two last (a choice that depends on
/// the states can change from one round of a loop to the next, and the analysis would not converge).
void add_state(States& set, State state, std::span<const Var> partition = {}, bool in_loop = false,
               AlikeMaps alike = {});

[[nodiscard]] std::string to_string(const State& state);
[[nodiscard]] std::string type_name(const Type& type);

} // namespace embpf::verifier::detail
