// The numeric domain: a zone (difference-bound matrix) over the variables of one abstract state. Each variable is a
// mathematical integer that fits int64 (callers drop a variable when an operation could wrap); the matrix holds upper
// bounds of `v_j - v_i`, row and column 0 standing for the constant 0, so intervals are the edges to 0. The matrix is
// kept closed by every operation except widening, so that bounds read straight off it.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace embpf::verifier::detail {

using Bound = std::int64_t;
inline constexpr Bound kInf = std::numeric_limits<std::int64_t>::max();
inline constexpr Bound kNegInf = -kInf;

/// a + b with infinities; results beyond the int64 range saturate away from zero, which only loosens bounds.
[[nodiscard]] inline Bound add_bounds(Bound a, Bound b) noexcept {
    if (a == kInf || b == kInf) {
        return kInf;
    }
    const __int128 sum = static_cast<__int128>(a) + b;
    if (sum >= kInf) {
        return kInf;
    }
    if (sum <= kNegInf) {
        return kNegInf + 1; // an upper bound below -2^63 + 1 cannot be met by any int64; keep it finite
    }
    return static_cast<Bound>(sum);
}

using Var = std::uint32_t;
inline constexpr Var kZero = std::numeric_limits<Var>::max();

struct Interval {
    Bound lo = kNegInf;
    Bound hi = kInf;
    [[nodiscard]] bool is_top() const noexcept { return lo == kNegInf && hi == kInf; }
    [[nodiscard]] bool singleton() const noexcept { return lo == hi && lo != kInf && lo != kNegInf; }
    [[nodiscard]] bool within(Bound a, Bound b) const noexcept { return lo >= a && hi <= b; }
    friend bool operator==(const Interval&, const Interval&) = default;
};

/// The work zones of this thread did: for each quadratic step (a copy, a closure after a new constraint, a join, a
/// widening, a comparison) the square of its dimension, and for each step over one variable's row and column (forget,
/// set, assign, a new slot) kColumnWork times the dimension. The analysis' time follows it (Options::work_limit).
inline thread_local std::uint64_t t_zone_work = 0;
/// What a step over one row and one column counts for in t_zone_work, for each variable: the column's entries lie a
/// row apart in memory, a cache line each in a large zone.
inline constexpr std::uint64_t kColumnWork = 8;
/// What a copy counts for besides its matrix: the allocations, and the rest of the state a zone is copied with (the
/// registers, the stack's cells and its bitmap of written bytes, 512 bytes).
inline constexpr std::uint64_t kCopyWork = 512;

/// The variables one zone may relate before the program is refused (Program is too large to analyse): its matrix then
/// takes 2 MiB, and every copy, join and closure a square of it. Real programs need fewer than a hundred (the
/// ebpf-samples corpus at most 94); a zone past this sets t_zone_overflow, which the analysis checks at each block.
/// (At 1,024, zones of 8 MiB came from fresh pages at each copy and cost 4-6 ns per unit of counted work, three times
/// the corpus' rate: seven accepted programs of that shape loaded in 5 s within an object's budget.)
inline constexpr std::size_t kMaxZoneVars = 512;

/// Variables below kShadowed (the registers and the callers' saved registers) and in [kShadowedCells,
/// kShadowedCellsEnd) (the stack's cells) may have a shadow (shadow_of): a fact about the variable's value that is not
/// linear in it (the value of its low 32 bits, when the value itself may not fit them). Any change of the variable
/// (forget, set, assign) forgets its shadow, so that a shadow holds exactly while the value it describes does;
/// refinements of the variable (constrain) and joins keep it.
inline constexpr Var kShadowed = 100;
inline constexpr Var kShadowBase = 110;
inline constexpr Var kShadowedCells = 10000;
inline constexpr Var kShadowedCellsEnd = 10000 + 4096;
inline constexpr Var kCellShadowBase = 20000;

/// The shadow of v, kZero when v has none.
[[nodiscard]] constexpr Var shadow_of(Var v) noexcept {
    if (v < kShadowed) {
        return kShadowBase + v;
    }
    if (v >= kShadowedCells && v < kShadowedCellsEnd) {
        return kCellShadowBase + (v - kShadowedCells);
    }
    return kZero;
}
inline thread_local bool t_zone_overflow = false;

/// v == w + c modulo 2^64 (or 2^32): what an addition that may wrap leaves of the relation between its result and its
/// operand
/// (`r2 = r1; r2 += 2` with r1 unbounded). When a bound on one of them later rules the wrap out (`if r2 > 131071`),
/// the relation becomes the zone's difference v - w == c, and the other's bound follows.
struct ModLink {
    Var v = 0;
    Var w = 0;
    Bound c = 0;
    std::uint8_t bits = 64; ///< modulo 2^bits: 64, or 32 for a low half and what its value was related to
    friend auto operator<=>(const ModLink&, const ModLink&) = default;
};
/// The links one zone keeps; past this the oldest go.
inline constexpr std::size_t kMaxLinks = 16;

class Zone {
  public:
    Zone() = default;
    // Copies hold only the variables in use (the matrix grows by doubling and may be mostly spare room).
    Zone(const Zone& other);
    Zone& operator=(const Zone& other);
    Zone(Zone&&) noexcept = default;
    Zone& operator=(Zone&&) noexcept = default;
    ~Zone() = default;

    [[nodiscard]] bool is_bottom() const noexcept { return m_bottom; }
    void set_bottom() noexcept;

    [[nodiscard]] bool has(Var v) const noexcept { return slot(v) >= 0; }
    void forget(Var v);
    /// v in [lo, hi], forgetting what was known of v.
    void set(Var v, Interval range);
    /// v := w + c (w may be v itself). The caller makes sure this cannot wrap.
    void assign(Var v, Var w, Bound c);
    /// v := w + c modulo 2^64, where this may wrap (w may be v itself): v is forgotten, and linked to w and to what w
    /// is linked or related to, so that a later bound on v or on them that rules the wrap out carries over.
    void assign_wrapping(Var v, Var w, Bound c);
    [[nodiscard]] const std::vector<ModLink>& links() const noexcept { return m_links; }
    void add_link(ModLink link);
    /// The variables `wanted` picks whose difference to v the zone knows exactly: (y, d) with v == y + d.
    [[nodiscard]] std::vector<std::pair<Var, Bound>> exact_relatives(Var v,
                                                                     const std::function<bool(Var)>& wanted) const;
    /// Adds v - w <= c (w or v may be kZero); false when the state became bottom.
    bool constrain(Var v, Var w, Bound c);
    [[nodiscard]] Interval interval(Var v) const noexcept;
    /// An upper bound of v - w (kInf when none is known; kZero stands for 0).
    [[nodiscard]] Bound diff_ub(Var v, Var w) const noexcept;

    [[nodiscard]] static Zone join(const Zone& a, const Zone& b);
    /// Keeps the bounds of `old` that `next` does not exceed; a bound that grew moves to the next of `thresholds`
    /// (sorted), differences to infinity. Bounds of variables numbered `plain` and above skip to the last threshold:
    /// counters whose bounds come from their relations gain nothing from stepping.
    [[nodiscard]] static Zone widen(const Zone& old, const Zone& next, std::span<const Bound> thresholds,
                                    Var plain = kZero);
    friend bool operator==(const Zone& a, const Zone& b);

    [[nodiscard]] const std::vector<Var>& vars() const noexcept { return m_vars; }
    /// The bytes the zone holds in memory: its matrix with spare room, and its variables.
    [[nodiscard]] std::size_t bytes() const noexcept {
        return m_m.capacity() * sizeof(Bound) + m_vars.capacity() * sizeof(Var);
    }
    [[nodiscard]] std::string to_string(const std::function<std::string(Var)>& name) const;
    /// Gives back the spare room of a matrix that grew (doubling leaves up to three quarters of it unused): a zone
    /// kept for long holds only what it needs, as a copy does.
    void compact();

  private:
    [[nodiscard]] int slot(Var v) const noexcept {
        if (v == kZero) {
            return 0;
        }
        for (std::size_t i = 0; i < m_vars.size(); ++i) {
            if (m_vars[i] == v) {
                return static_cast<int>(i + 1);
            }
        }
        return -1;
    }
    [[nodiscard]] std::size_t dim() const noexcept { return m_vars.size() + 1; }
    Bound& at(std::size_t i, std::size_t j) noexcept { return m_m[i * m_stride + j]; }
    [[nodiscard]] Bound at(std::size_t i, std::size_t j) const noexcept { return m_m[i * m_stride + j]; }
    int add_slot(Var v);
    template <typename Pick>
    static Zone combine(const Zone& a, const Zone& b, Pick pick);
    void close_over(std::size_t s);
    bool add_constraint(Var v, Var w, Bound c);
    void drop_links(Var v);
    void sync_links();
    /// A link holds in this zone: kept, or implied by the difference v - w == c.
    [[nodiscard]] bool implies(const ModLink& link) const noexcept;

    std::vector<Var> m_vars;
    std::vector<ModLink> m_links; ///< sorted
    std::vector<Bound> m_m{0};
    std::size_t m_stride = 1;
    bool m_bottom = false;
};

} // namespace embpf::verifier::detail
