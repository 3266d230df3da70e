// An encoder of the AArch64 (A64) instructions the baseline JIT emits: 32- and 64-bit general-purpose operations,
// loads and stores with immediate and register offsets, exclusive loads and stores, branches. Internal to the exec
// stage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace embpf::exec::a64 {

/// x0-x30; 31 is the zero register or the stack pointer, as the instruction reads it.
using Reg = std::uint8_t;
inline constexpr Reg xzr = 31;
inline constexpr Reg sp = 31;
inline constexpr Reg lr = 30;
inline constexpr Reg fp = 29;

enum Cond : std::uint8_t {
    eq = 0,
    ne = 1,
    hs = 2, // unsigned >=
    lo = 3, // unsigned <
    hi = 8, // unsigned >
    ls = 9, // unsigned <=
    ge = 10,
    lt = 11,
    gt = 12,
    le = 13,
};
[[nodiscard]] constexpr Cond invert(Cond c) { return static_cast<Cond>(c ^ 1); }

/// Operand width: W (32-bit, zero-extending its result) or X (64-bit) registers.
enum class Width : std::uint8_t { w32, w64 };

enum class Logic : std::uint32_t { and_ = 0x0A000000, orr = 0x2A000000, eor = 0x4A000000, ands = 0x6A000000 };
enum class Shift : std::uint32_t { lslv = 0x1AC02000, lsrv = 0x1AC02400, asrv = 0x1AC02800 };

/// Writes 32-bit instruction words into a buffer it does not own (see x86::Assembler).
class Assembler {
  public:
    explicit Assembler(std::vector<std::uint8_t>& buffer) : m_code(buffer) {
        if (m_code.size() < 4096) {
            m_code.resize(4096);
        }
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }

    void word(std::uint32_t w) {
        if (m_code.size() - m_size < 4) [[unlikely]] {
            m_code.resize(m_code.size() * 2);
        }
        std::memcpy(m_code.data() + m_size, &w, 4);
        m_size += 4;
    }

    // --- data processing -----------------------------------------------------------------------------------------
    void add(Width w, Reg d, Reg n, Reg m) { word(sf(w) | 0x0B000000 | rm(m) | rn(n) | d); }
    void sub(Width w, Reg d, Reg n, Reg m) { word(sf(w) | 0x4B000000 | rm(m) | rn(n) | d); }
    void cmp(Width w, Reg n, Reg m) { word(sf(w) | 0x6B000000 | rm(m) | rn(n) | xzr); }
    void logic(Logic op, Width w, Reg d, Reg n, Reg m) {
        word(sf(w) | static_cast<std::uint32_t>(op) | rm(m) | rn(n) | d);
    }
    void tst(Width w, Reg n, Reg m) { logic(Logic::ands, w, xzr, n, m); }
    void mov(Width w, Reg d, Reg m) { logic(Logic::orr, w, d, xzr, m); }
    /// add d, n, #imm12 (n and d may be sp); `shifted` multiplies the immediate by 4096.
    void add_imm(Width w, Reg d, Reg n, std::uint32_t imm12, bool shifted = false) {
        word(sf(w) | 0x11000000 | (shifted ? 1u << 22 : 0) | (imm12 & 0xFFF) << 10 | rn(n) | d);
    }
    void sub_imm(Width w, Reg d, Reg n, std::uint32_t imm12, bool shifted = false) {
        word(sf(w) | 0x51000000 | (shifted ? 1u << 22 : 0) | (imm12 & 0xFFF) << 10 | rn(n) | d);
    }
    void cmp_imm(Width w, Reg n, std::uint32_t imm12) {
        word(sf(w) | 0x71000000 | (imm12 & 0xFFF) << 10 | rn(n) | xzr);
    }
    /// mov between sp and a register (add #0).
    void mov_sp(Reg d, Reg n) { add_imm(Width::w64, d, n, 0); }
    void madd(Width w, Reg d, Reg n, Reg m, Reg a) { word(sf(w) | 0x1B000000 | rm(m) | (a & 31u) << 10 | rn(n) | d); }
    void msub(Width w, Reg d, Reg n, Reg m, Reg a) { word(sf(w) | 0x1B008000 | rm(m) | (a & 31u) << 10 | rn(n) | d); }
    void mul(Width w, Reg d, Reg n, Reg m) { madd(w, d, n, m, xzr); }
    void udiv(Width w, Reg d, Reg n, Reg m) { word(sf(w) | 0x1AC00800 | rm(m) | rn(n) | d); }
    void sdiv(Width w, Reg d, Reg n, Reg m) { word(sf(w) | 0x1AC00C00 | rm(m) | rn(n) | d); }
    void shift(Shift op, Width w, Reg d, Reg n, Reg m) {
        word(sf(w) | static_cast<std::uint32_t>(op) | rm(m) | rn(n) | d);
    }
    /// UBFM / SBFM: the bitfield moves behind lsl, lsr, asr #imm and the extensions.
    void ubfm(Width w, Reg d, Reg n, std::uint32_t immr, std::uint32_t imms) {
        word(sf(w) | (w == Width::w64 ? 1u << 22 : 0) | 0x53000000 | immr << 16 | imms << 10 | rn(n) | d);
    }
    void sbfm(Width w, Reg d, Reg n, std::uint32_t immr, std::uint32_t imms) {
        word(sf(w) | (w == Width::w64 ? 1u << 22 : 0) | 0x13000000 | immr << 16 | imms << 10 | rn(n) | d);
    }
    void lsl_imm(Width w, Reg d, Reg n, std::uint32_t s) {
        const std::uint32_t bits = w == Width::w64 ? 64 : 32;
        ubfm(w, d, n, (bits - s) % bits, bits - 1 - s);
    }
    void lsr_imm(Width w, Reg d, Reg n, std::uint32_t s) { ubfm(w, d, n, s, w == Width::w64 ? 63 : 31); }
    void asr_imm(Width w, Reg d, Reg n, std::uint32_t s) { sbfm(w, d, n, s, w == Width::w64 ? 63 : 31); }
    void rev16(Reg d, Reg n) { word(0x5AC00400 | rn(n) | d); }
    void rev32(Reg d, Reg n) { word(0x5AC00800 | rn(n) | d); }
    void rev64(Reg d, Reg n) { word(0xDAC00C00 | rn(n) | d); }
    /// movz / movk / movn of a 16-bit chunk at `shift` (0, 16, 32, 48).
    void movz(Width w, Reg d, std::uint32_t imm16, std::uint32_t shift) {
        word(sf(w) | 0x52800000 | hw(shift) | imm16 << 5 | d);
    }
    void movk(Width w, Reg d, std::uint32_t imm16, std::uint32_t shift) {
        word(sf(w) | 0x72800000 | hw(shift) | imm16 << 5 | d);
    }
    void movn(Width w, Reg d, std::uint32_t imm16, std::uint32_t shift) {
        word(sf(w) | 0x12800000 | hw(shift) | imm16 << 5 | d);
    }
    /// d = value, in the fewest movz/movn/movk (a 32-bit value zero-extends).
    void mov_imm(Reg d, std::uint64_t value) {
        if (value <= 0xFFFFFFFFu) {
            const auto v = static_cast<std::uint32_t>(value);
            if ((v >> 16) == 0xFFFF && (v & 0xFFFF) != 0xFFFF) {
                movn(Width::w32, d, ~v & 0xFFFF, 0);
                return;
            }
            movz(Width::w32, d, v & 0xFFFF, 0);
            if ((v >> 16) != 0) {
                movk(Width::w32, d, v >> 16, 16);
            }
            return;
        }
        int ones = 0;
        for (int i = 0; i < 4; ++i) {
            ones += ((value >> (16 * i)) & 0xFFFF) == 0xFFFF ? 1 : 0;
        }
        const bool negative = ones >= 2; // start from all ones: fewer chunks to set
        bool first = true;
        for (std::uint32_t i = 0; i < 4; ++i) {
            const auto chunk = static_cast<std::uint32_t>((value >> (16 * i)) & 0xFFFF);
            if (chunk == (negative ? 0xFFFFu : 0u)) {
                continue;
            }
            if (first) {
                if (negative) {
                    movn(Width::w64, d, ~chunk & 0xFFFF, 16 * i);
                } else {
                    movz(Width::w64, d, chunk, 16 * i);
                }
                first = false;
            } else {
                movk(Width::w64, d, chunk, 16 * i);
            }
        }
        if (first) { // all chunks alike: 0 or all ones
            if (negative) {
                movn(Width::w64, d, 0, 0);
            } else {
                movz(Width::w64, d, 0, 0);
            }
        }
    }

    // --- memory -----------------------------------------------------------------------------------------------------
    /// Loads and stores of `bytes` (1, 2, 4, 8): [n + imm] with a scaled unsigned 12-bit or an unscaled signed 9-bit
    /// immediate, or [n + m]. Sign-extending loads extend to 64 bits.
    [[nodiscard]] static bool fits_scaled(std::int32_t offset, int bytes) {
        return offset >= 0 && offset % bytes == 0 && offset / bytes < 4096;
    }
    [[nodiscard]] static bool fits_unscaled(std::int32_t offset) { return offset >= -256 && offset <= 255; }
    void load(Reg t, Reg n, std::int32_t offset, int bytes, bool sign = false) {
        if (fits_scaled(offset, bytes)) {
            word(size_bits(bytes) | 0x39000000 | (sign ? 0x00800000 : 0x00400000) |
                 static_cast<std::uint32_t>(offset / bytes) << 10 | rn(n) | t);
        } else {
            word(size_bits(bytes) | 0x38000000 | (sign ? 0x00800000 : 0x00400000) |
                 (static_cast<std::uint32_t>(offset) & 0x1FF) << 12 | rn(n) | t);
        }
    }
    void store(Reg t, Reg n, std::int32_t offset, int bytes) {
        if (fits_scaled(offset, bytes)) {
            word(size_bits(bytes) | 0x39000000 | static_cast<std::uint32_t>(offset / bytes) << 10 | rn(n) | t);
        } else {
            word(size_bits(bytes) | 0x38000000 | (static_cast<std::uint32_t>(offset) & 0x1FF) << 12 | rn(n) | t);
        }
    }
    void load_indexed(Reg t, Reg n, Reg m, int bytes, bool sign = false) {
        word(size_bits(bytes) | 0x38206800 | (sign ? 0x00800000 : 0x00400000) | rm(m) | rn(n) | t);
    }
    void store_indexed(Reg t, Reg n, Reg m, int bytes) { word(size_bits(bytes) | 0x38206800 | rm(m) | rn(n) | t); }
    /// ldaxr / stlxr (status in s: 0 when the store happened).
    void ldaxr(Width w, Reg t, Reg n) { word((w == Width::w64 ? 0xC85FFC00 : 0x885FFC00) | rn(n) | t); }
    void stlxr(Width w, Reg s, Reg t, Reg n) { word((w == Width::w64 ? 0xC800FC00 : 0x8800FC00) | rm(s) | rn(n) | t); }
    void dmb_ish() { word(0xD5033BBF); }
    /// stp/ldp of 64-bit registers: pre-indexed (writeback before), post-indexed (after), or at an offset.
    void stp_pre(Reg a, Reg b, Reg n, std::int32_t offset) { word(0xA9800000 | pair(a, b, n, offset)); }
    void ldp_post(Reg a, Reg b, Reg n, std::int32_t offset) { word(0xA8C00000 | pair(a, b, n, offset)); }
    void stp(Reg a, Reg b, Reg n, std::int32_t offset) { word(0xA9000000 | pair(a, b, n, offset)); }
    void ldp(Reg a, Reg b, Reg n, std::int32_t offset) { word(0xA9400000 | pair(a, b, n, offset)); }

    // --- branches: the offset of the word is returned for patching ------------------------------------------------
    std::size_t b() { return emit(0x14000000); }
    std::size_t bl() { return emit(0x94000000); }
    std::size_t b_cond(Cond c) { return emit(0x54000000 | c); }
    std::size_t cbz(Width w, Reg t) { return emit(sf(w) | 0x34000000 | t); }
    std::size_t cbnz(Width w, Reg t) { return emit(sf(w) | 0x35000000 | t); }
    void blr(Reg n) { word(0xD63F0000 | rn(n)); }
    void ret() { word(0xD65F03C0); }

    /// Points the branch at `at` to `target` (byte offsets); false when it is out of the branch's range.
    [[nodiscard]] bool bind(std::size_t at, std::size_t target) {
        const std::int64_t delta = (static_cast<std::int64_t>(target) - static_cast<std::int64_t>(at)) / 4;
        std::uint32_t w = 0;
        std::memcpy(&w, m_code.data() + at, 4);
        if ((w & 0x7C000000) == 0x14000000) { // b, bl: imm26
            if (delta < -(std::int64_t{1} << 25) || delta >= (std::int64_t{1} << 25)) {
                return false;
            }
            w = (w & 0xFC000000) | (static_cast<std::uint32_t>(delta) & 0x03FFFFFF);
        } else { // b.cond, cbz, cbnz: imm19
            if (delta < -(std::int64_t{1} << 18) || delta >= (std::int64_t{1} << 18)) {
                return false;
            }
            w = (w & 0xFF00001F) | (static_cast<std::uint32_t>(delta) & 0x7FFFF) << 5;
        }
        std::memcpy(m_code.data() + at, &w, 4);
        return true;
    }

  private:
    static constexpr std::uint32_t sf(Width w) { return w == Width::w64 ? 0x80000000u : 0; }
    static constexpr std::uint32_t rm(Reg m) { return static_cast<std::uint32_t>(m & 31) << 16; }
    static constexpr std::uint32_t rn(Reg n) { return static_cast<std::uint32_t>(n & 31) << 5; }
    static constexpr std::uint32_t hw(std::uint32_t shift) { return (shift / 16) << 21; }
    static constexpr std::uint32_t size_bits(int bytes) {
        return bytes == 8 ? 0xC0000000u : bytes == 4 ? 0x80000000u : bytes == 2 ? 0x40000000u : 0;
    }
    static constexpr std::uint32_t pair(Reg a, Reg b, Reg n, std::int32_t offset) {
        return (static_cast<std::uint32_t>(offset / 8) & 0x7F) << 15 | static_cast<std::uint32_t>(b & 31) << 10 |
               rn(n) | (a & 31u);
    }
    std::size_t emit(std::uint32_t w) {
        const std::size_t at = m_size;
        word(w);
        return at;
    }

    std::vector<std::uint8_t>& m_code;
    std::size_t m_size = 0;
};

} // namespace embpf::exec::a64
