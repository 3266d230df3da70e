#include "zone.hpp"

#include <algorithm>

namespace embpf::verifier::detail {

Zone::Zone(const Zone& other)
    : m_vars(other.m_vars), m_links(other.m_links), m_stride(std::max<std::size_t>(8, other.dim() + 2)),
      m_bottom(other.m_bottom) {
    const std::size_t n = other.dim();
    t_zone_work += m_stride * m_stride + kCopyWork;
    m_m.assign(m_stride * m_stride, kInf);
    for (std::size_t i = 0; i < n; ++i) {
        std::copy_n(&other.m_m[i * other.m_stride], n, &m_m[i * m_stride]);
    }
}

Zone& Zone::operator=(const Zone& other) {
    if (this != &other) {
        Zone copy(other);
        *this = std::move(copy);
    }
    return *this;
}

void Zone::compact() {
    const std::size_t tight = std::max<std::size_t>(8, dim() + 2);
    if (m_stride > tight + tight / 4) {
        Zone copy(*this);
        *this = std::move(copy);
    }
}

void Zone::set_bottom() noexcept {
    m_bottom = true;
    m_vars.clear();
    m_links.clear();
    m_m.assign(1, 0);
    m_stride = 1;
}

int Zone::add_slot(Var v) {
    const std::size_t n = dim();
    if (n > kMaxZoneVars) {
        t_zone_overflow = true;
    }
    t_zone_work += kColumnWork * n;
    if (n + 1 > m_stride) {
        const std::size_t stride = std::max<std::size_t>(8, m_stride * 2);
        // A new matrix, filled and copied into: counted as a copy of its size is (a zone copied tight grows so at the
        // third variable it adds).
        t_zone_work += stride * stride + kCopyWork;
        std::vector<Bound> grown(stride * stride, kInf);
        for (std::size_t i = 0; i < n; ++i) {
            std::copy_n(&m_m[i * m_stride], n, &grown[i * stride]);
        }
        m_m = std::move(grown);
        m_stride = stride;
    }
    for (std::size_t i = 0; i <= n; ++i) {
        at(i, n) = kInf;
        at(n, i) = kInf;
    }
    at(n, n) = 0;
    m_vars.push_back(v);
    return static_cast<int>(n);
}

void Zone::forget(Var v) {
    if (const Var shadow = shadow_of(v); shadow != kZero) {
        forget(shadow); // what it said of the old value
    }
    drop_links(v);
    const int found = slot(v);
    if (found <= 0) {
        return;
    }
    const auto s = static_cast<std::size_t>(found);
    const std::size_t last = dim() - 1;
    t_zone_work += kColumnWork * dim();
    if (s != last) {
        for (std::size_t j = 0; j < dim(); ++j) {
            at(s, j) = at(last, j);
            at(j, s) = at(j, last);
        }
        at(s, s) = 0;
        m_vars[s - 1] = m_vars[last - 1];
    }
    m_vars.pop_back();
}

void Zone::set(Var v, Interval range) {
    if (m_bottom) {
        return;
    }
    forget(v);
    if (range.lo > range.hi) {
        set_bottom();
        return;
    }
    if (range.is_top()) {
        return;
    }
    const auto s = static_cast<std::size_t>(add_slot(v));
    t_zone_work += kColumnWork * dim();
    // -2^63 has no negation in int64: a bound there is no bound (below) or the least finite one (above).
    at(0, s) = std::max(range.hi, kNegInf + 1);
    at(s, 0) = range.lo <= kNegInf ? kInf : -range.lo;
    for (std::size_t j = 1; j < dim(); ++j) {
        if (j != s) {
            at(j, s) = add_bounds(at(j, 0), at(0, s));
            at(s, j) = add_bounds(at(s, 0), at(0, j));
        }
    }
}

void Zone::assign(Var v, Var w, Bound c) {
    if (m_bottom) {
        return;
    }
    if (v == w) {
        if (const Var shadow = shadow_of(v); c != 0 && shadow != kZero) {
            forget(shadow); // the low 32 bits moved too
        }
        if (c != 0) {
            drop_links(v);
        }
        const int found = slot(v);
        if (found <= 0) {
            return;
        }
        const auto s = static_cast<std::size_t>(found);
        t_zone_work += kColumnWork * dim();
        for (std::size_t j = 0; j < dim(); ++j) {
            if (j != s) {
                at(j, s) = add_bounds(at(j, s), c);
                at(s, j) = add_bounds(at(s, j), -c);
            }
        }
        return;
    }
    forget(v);
    const int source = slot(w);
    if (source < 0) {
        if (w != kZero) {
            assign_wrapping(v, w, c); // w is unbounded: v == w + c is kept as a link
        }
        return;
    }
    const auto ws = static_cast<std::size_t>(source);
    const auto s = static_cast<std::size_t>(add_slot(v));
    t_zone_work += kColumnWork * dim();
    for (std::size_t j = 0; j < dim(); ++j) {
        if (j != s) {
            at(j, s) = add_bounds(at(j, ws), c);
            at(s, j) = add_bounds(at(ws, j), -c);
        }
    }
    at(ws, s) = c;
    at(s, ws) = -c;
}

bool Zone::constrain(Var v, Var w, Bound c) {
    if (!add_constraint(v, w, c)) {
        return false;
    }
    if (!m_links.empty()) {
        sync_links();
    }
    return !m_bottom;
}

namespace {

[[nodiscard]] Bound wrapping_add(Bound a, Bound b) noexcept {
    return static_cast<Bound>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

[[nodiscard]] Bound wrapping_sub(Bound a, Bound b) noexcept {
    return static_cast<Bound>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

} // namespace

void Zone::add_link(ModLink link) {
    if (link.v == link.w || link.v == kZero || link.w == kZero) {
        return;
    }
    const auto pos = std::lower_bound(m_links.begin(), m_links.end(), link);
    if (pos != m_links.end() && *pos == link) {
        return;
    }
    m_links.insert(pos, link);
    if (m_links.size() > kMaxLinks) {
        m_links.erase(m_links.begin()); // dropping a link only forgets
    }
}

void Zone::drop_links(Var v) {
    if (m_links.empty()) {
        return;
    }
    std::erase_if(m_links, [v](const ModLink& l) { return l.v == v || l.w == v; });
}

bool Zone::implies(const ModLink& link) const noexcept {
    if (std::binary_search(m_links.begin(), m_links.end(), link)) {
        return true;
    }
    return link.c != kInf && link.c != kNegInf && diff_ub(link.v, link.w) == link.c &&
           diff_ub(link.w, link.v) == -link.c;
}

void Zone::assign_wrapping(Var v, Var w, Bound c) {
    if (m_bottom) {
        return;
    }
    // What v's new value is linked to: w itself (unless v is w), and what w is linked or related to.
    std::vector<ModLink> found;
    if (v != w) {
        found.push_back({v, w, c});
    }
    for (const ModLink& l : m_links) {
        if (l.v == w && l.w != v) {
            found.push_back({v, l.w, wrapping_add(l.c, c), l.bits}); // w == x + c0
        } else if (l.w == w && l.v != v) {
            found.push_back({v, l.v, wrapping_sub(c, l.c), l.bits}); // x == w + c0
        }
    }
    forget(v);
    for (const ModLink& l : found) {
        add_link(l);
    }
}

namespace {

[[nodiscard]] __int128 floor_div(__int128 x, __int128 m) noexcept { return x >= 0 ? x / m : -((-x + m - 1) / m); }

} // namespace

void Zone::sync_links() {
    // v == w + c + m * 2^bits for some integer m. Where the bounds of v and w leave one m, the link is the difference
    // v - w == c + m * 2^bits (a sum's wrap ruled out, or the one way a low half can come from a value).
    auto ends = [](Interval i) {
        return std::pair<__int128, __int128>{i.lo == kNegInf ? std::numeric_limits<std::int64_t>::min() : i.lo,
                                             i.hi == kInf ? std::numeric_limits<std::int64_t>::max() : i.hi};
    };
    // A bound learned through one link may leave one m to another: rounds until none is learned.
    const std::vector<ModLink> links = m_links;
    for (std::size_t round = 0; round < links.size(); ++round) {
        bool learned = false;
        for (const ModLink& l : links) {
            if (m_bottom) {
                return;
            }
            const Interval iv = interval(l.v);
            const Interval iw = interval(l.w);
            if (iv.is_top() && iw.is_top()) {
                continue; // nothing to learn: the link keeps what a difference would say
            }
            const auto [a, b] = ends(iv);
            const auto [wl, wh] = ends(iw);
            const __int128 modulus = static_cast<__int128>(1) << l.bits;
            // w == v - c - m * 2^bits lies in [wl, wh] for some v in [a, b].
            const __int128 m_hi = floor_div(b - l.c - wl, modulus);
            const __int128 m_lo = -floor_div(-(a - l.c - wh), modulus);
            if (m_lo != m_hi) {
                continue;
            }
            const __int128 d = l.c + m_lo * modulus;
            if (d >= kInf || d <= kNegInf) {
                continue;
            }
            const auto diff = static_cast<Bound>(d);
            if (diff_ub(l.v, l.w) == diff && diff_ub(l.w, l.v) == -diff) {
                continue;
            }
            add_constraint(l.v, l.w, diff);
            add_constraint(l.w, l.v, -diff);
            learned = true;
        }
        if (!learned) {
            return;
        }
    }
}

std::vector<std::pair<Var, Bound>> Zone::exact_relatives(Var v, const std::function<bool(Var)>& wanted) const {
    std::vector<std::pair<Var, Bound>> out;
    const int sv = slot(v);
    if (sv <= 0 || m_bottom) {
        return out;
    }
    for (std::size_t i = 0; i < m_vars.size(); ++i) {
        const Var y = m_vars[i];
        if (y == v || !wanted(y)) {
            continue;
        }
        const Bound d = at(i + 1, static_cast<std::size_t>(sv)); // v - y <= d
        if (d != kInf && d != kNegInf && at(static_cast<std::size_t>(sv), i + 1) == -d) {
            out.emplace_back(y, d);
        }
    }
    return out;
}

bool Zone::add_constraint(Var v, Var w, Bound c) {
    if (m_bottom) {
        return false;
    }
    if (c == kInf) {
        return true;
    }
    int sv = slot(v);
    if (sv < 0) {
        sv = add_slot(v);
    }
    int sw = slot(w);
    if (sw < 0) {
        sw = add_slot(w);
    }
    const auto a = static_cast<std::size_t>(sw);
    const auto b = static_cast<std::size_t>(sv);
    if (at(a, b) <= c) {
        return true;
    }
    if (add_bounds(at(b, a), c) < 0) {
        set_bottom();
        return false;
    }
    const std::size_t n = dim();
    t_zone_work += n * n;
    // Every shortest path that improves uses the new edge once: i -> a -> b -> j.
    std::vector<Bound> to_a(n);
    std::vector<Bound> from_b(n);
    for (std::size_t i = 0; i < n; ++i) {
        to_a[i] = at(i, a);
        from_b[i] = at(b, i);
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (to_a[i] == kInf) {
            continue;
        }
        const Bound head = add_bounds(to_a[i], c);
        Bound* row = &m_m[i * m_stride];
        for (std::size_t j = 0; j < n; ++j) {
            const Bound through = add_bounds(head, from_b[j]);
            if (through < row[j]) {
                row[j] = through;
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (at(i, i) < 0) {
            set_bottom();
            return false;
        }
    }
    return true;
}

Interval Zone::interval(Var v) const noexcept {
    if (m_bottom) {
        return {kInf, kNegInf};
    }
    const int found = slot(v);
    if (found < 0) {
        return {};
    }
    const auto s = static_cast<std::size_t>(found);
    const Bound down = at(s, 0);
    return {down == kInf ? kNegInf : -down, at(0, s)};
}

Bound Zone::diff_ub(Var v, Var w) const noexcept {
    const int sv = slot(v);
    const int sw = slot(w);
    if (sv < 0 || sw < 0) {
        return kInf;
    }
    return at(static_cast<std::size_t>(sw), static_cast<std::size_t>(sv));
}

namespace {

// The slots of `b` for the variables both zones have, in a's order; 0 (the constant) first.
void common_slots(const std::vector<Var>& a, const std::vector<Var>& b, std::vector<Var>& vars,
                  std::vector<std::size_t>& in_a, std::vector<std::size_t>& in_b) {
    in_a.push_back(0);
    in_b.push_back(0);
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (std::size_t j = 0; j < b.size(); ++j) {
            if (a[i] == b[j]) {
                vars.push_back(a[i]);
                in_a.push_back(i + 1);
                in_b.push_back(j + 1);
                break;
            }
        }
    }
}

Bound next_threshold(Bound x, std::span<const Bound> thresholds) {
    const auto it = std::lower_bound(thresholds.begin(), thresholds.end(), x);
    return it == thresholds.end() ? kInf : *it;
}

} // namespace

// A zone over the variables both have, each bound chosen by `pick(bound in a, bound in b, row, column)`.
template <typename Pick>
Zone Zone::combine(const Zone& a, const Zone& b, Pick pick) {
    Zone out;
    std::vector<Var> vars;
    std::vector<std::size_t> in_a;
    std::vector<std::size_t> in_b;
    common_slots(a.m_vars, b.m_vars, vars, in_a, in_b);
    const std::size_t n = in_a.size();
    t_zone_work += a.dim() * b.dim() + n * n;
    out.m_vars = std::move(vars);
    out.m_stride = std::max<std::size_t>(8, n);
    out.m_m.assign(out.m_stride * out.m_stride, kInf);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            out.at(i, j) = pick(a.at(in_a[i], in_a[j]), b.at(in_b[i], in_b[j]), i, j, out.m_vars);
        }
    }
    return out;
}

Zone Zone::join(const Zone& a, const Zone& b) {
    if (a.m_bottom) {
        return b;
    }
    if (b.m_bottom) {
        return a;
    }
    Zone out = combine(
        a, b, [](Bound x, Bound y, std::size_t, std::size_t, const std::vector<Var>&) { return std::max(x, y); });
    // A link either keeps, or its difference implies, on both sides.
    for (const Zone* z : {&a, &b}) {
        for (const ModLink& l : z->m_links) {
            if (a.implies(l) && b.implies(l)) {
                out.add_link(l);
            }
        }
    }
    return out;
}

Zone Zone::widen(const Zone& old, const Zone& next, std::span<const Bound> thresholds, Var plain) {
    if (old.m_bottom) {
        return next;
    }
    if (next.m_bottom) {
        return old;
    }
    Zone out = combine(old, next, [&](Bound o, Bound x, std::size_t i, std::size_t j, const std::vector<Var>& vars) {
        // Differences go to infinity; bounds (edges to 0) pass through the thresholds, except those of the
        // variables from `plain` on, which jump to the last one.
        if (x <= o) {
            return o;
        }
        if ((i == 0) == (j == 0)) {
            return kInf;
        }
        if (vars[i + j - 1] >= plain) {
            return thresholds.empty() || x > thresholds.back() ? kInf : thresholds.back();
        }
        return next_threshold(x, thresholds);
    });
    // Only the links the old zone kept: no link is gained from one round to the next.
    for (const ModLink& l : old.m_links) {
        if (next.implies(l)) {
            out.add_link(l);
        }
    }
    return out;
}

bool operator==(const Zone& a, const Zone& b) {
    if (a.m_bottom || b.m_bottom) {
        return a.m_bottom == b.m_bottom;
    }
    if (a.m_vars.size() != b.m_vars.size() || a.m_links != b.m_links) {
        return false;
    }
    std::vector<std::size_t> map(a.dim());
    t_zone_work += a.dim() * a.dim();
    map[0] = 0;
    for (std::size_t i = 0; i < a.m_vars.size(); ++i) {
        const int s = b.slot(a.m_vars[i]);
        if (s < 0) {
            return false;
        }
        map[i + 1] = static_cast<std::size_t>(s);
    }
    for (std::size_t i = 0; i < a.dim(); ++i) {
        for (std::size_t j = 0; j < a.dim(); ++j) {
            if (a.at(i, j) != b.at(map[i], map[j])) {
                return false;
            }
        }
    }
    return true;
}

std::string Zone::to_string(const std::function<std::string(Var)>& name) const {
    if (m_bottom) {
        return "bottom";
    }
    std::string out;
    auto separate = [&out] {
        if (!out.empty()) {
            out += ", ";
        }
    };
    for (std::size_t i = 1; i < dim(); ++i) {
        const Interval range = interval(m_vars[i - 1]);
        separate();
        out += name(m_vars[i - 1]) + "=";
        if (range.singleton()) {
            out += std::to_string(range.lo);
        } else {
            out += "[" + (range.lo == kNegInf ? std::string("-oo") : std::to_string(range.lo)) + ", " +
                   (range.hi == kInf ? std::string("+oo") : std::to_string(range.hi)) + "]";
        }
    }
    for (std::size_t i = 1; i < dim(); ++i) {
        for (std::size_t j = 1; j < dim(); ++j) {
            const Bound d = at(i, j);
            // Only relations the intervals do not already imply.
            if (i == j || d == kInf || d >= add_bounds(at(i, 0), at(0, j))) {
                continue;
            }
            separate();
            out += name(m_vars[j - 1]) + "-" + name(m_vars[i - 1]) + "<=" + std::to_string(d);
        }
    }
    return out;
}

} // namespace embpf::verifier::detail
