// An encoder of the x86-64 instructions the baseline JIT emits: general-purpose registers, 32- and 64-bit operand
// sizes, memory operands [base + disp]. Internal to the exec stage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace embpf::exec::x86 {

enum Reg : std::uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

/// Condition codes (the low nibble of jcc and setcc).
enum Cond : std::uint8_t {
    below = 0x2,       // unsigned <
    above_equal = 0x3, // unsigned >=
    equal = 0x4,
    not_equal = 0x5,
    below_equal = 0x6,   // unsigned <=
    above = 0x7,         // unsigned >
    less = 0xC,          // signed <
    greater_equal = 0xD, // signed >=
    less_equal = 0xE,    // signed <=
    greater = 0xF,       // signed >
};

/// The /digit of the group-1 arithmetic opcodes (0x81, 0x83) and their r/m, reg forms (digit * 8 + 1).
enum class Arith : std::uint8_t { add = 0, or_ = 1, and_ = 4, sub = 5, xor_ = 6, cmp = 7 };
/// The /digit of the shift group (0xC1, 0xD3).
enum class Shift : std::uint8_t { rol = 0, ror = 1, shl = 4, shr = 5, sar = 7 };

/// Operand width: 32-bit operations zero the upper half of their destination.
enum class Width : std::uint8_t { w32, w64 };

/// Writes into a buffer it does not own (a translation's scratch, reused from one translation to the next so that
/// its pages are touched once): size() bytes of it are the code, the rest is room.
class Assembler {
  public:
    explicit Assembler(std::vector<std::uint8_t>& buffer) : m_code(buffer) {
        if (m_code.size() < 4096) {
            m_code.resize(4096);
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return m_code.data(); }

    void byte(std::uint8_t b) {
        if (m_size == m_code.size()) [[unlikely]] {
            m_code.resize(m_code.size() * 2);
        }
        m_code[m_size++] = b;
    }
    void imm32(std::int32_t v) { raw(&v, 4); }
    void imm64(std::uint64_t v) { raw(&v, 8); }
    /// Rewrites the 32-bit field at `at` (a rel32 fixup).
    void patch32(std::size_t at, std::int32_t v) { std::memcpy(m_code.data() + at, &v, 4); }

    // --- register to register -----------------------------------------------------------------------------------
    /// `op r/m, reg` for the two-operand arithmetic opcodes: add 01, or 09, and 21, sub 29, xor 31, cmp 39, mov 89,
    /// test 85.
    void rr(std::uint8_t opcode, Width w, Reg dst, Reg src) {
        rex(w == Width::w64, src, dst);
        byte(opcode);
        modrm(3, src, dst);
    }
    void mov(Width w, Reg dst, Reg src) { rr(0x89, w, dst, src); }
    void arith(Arith op, Width w, Reg dst, Reg src) {
        rr(static_cast<std::uint8_t>(static_cast<int>(op) * 8 + 1), w, dst, src);
    }
    void test(Width w, Reg a, Reg b) { rr(0x85, w, a, b); }
    void imul(Width w, Reg dst, Reg src) {
        rex(w == Width::w64, dst, src);
        byte(0x0F);
        byte(0xAF);
        modrm(3, dst, src);
    }

    // --- register and immediate ---------------------------------------------------------------------------------
    /// `op r/m, imm` (sign-extended to 64 bits for Width::w64).
    void arith(Arith op, Width w, Reg dst, std::int32_t imm) {
        rex(w == Width::w64, 0, dst);
        if (imm >= -128 && imm <= 127) {
            byte(0x83);
            modrm(3, static_cast<std::uint8_t>(op), dst);
            byte(static_cast<std::uint8_t>(imm));
        } else {
            byte(0x81);
            modrm(3, static_cast<std::uint8_t>(op), dst);
            imm32(imm);
        }
    }
    void test(Width w, Reg dst, std::int32_t imm) {
        rex(w == Width::w64, 0, dst);
        byte(0xF7);
        modrm(3, 0, dst);
        imm32(imm);
    }
    void imul(Width w, Reg dst, Reg src, std::int32_t imm) {
        rex(w == Width::w64, dst, src);
        byte(0x69);
        modrm(3, dst, src);
        imm32(imm);
    }
    /// dst = imm: the shortest of `mov r32, imm32` (zero-extends), `mov r/m64, simm32` and `movabs`.
    void mov_imm(Reg dst, std::uint64_t imm) {
        if (imm <= 0xFFFFFFFFu) {
            rex(false, 0, dst);
            byte(static_cast<std::uint8_t>(0xB8 + (dst & 7)));
            imm32(static_cast<std::int32_t>(static_cast<std::uint32_t>(imm)));
        } else if (static_cast<std::int64_t>(imm) >= INT32_MIN && static_cast<std::int64_t>(imm) <= INT32_MAX) {
            rex(true, 0, dst);
            byte(0xC7);
            modrm(3, 0, dst);
            imm32(static_cast<std::int32_t>(imm));
        } else {
            movabs(dst, imm);
        }
    }
    /// `movabs r64, imm64`, always ten bytes.
    void movabs(Reg dst, std::uint64_t imm) {
        rex(true, 0, dst);
        byte(static_cast<std::uint8_t>(0xB8 + (dst & 7)));
        imm64(imm);
    }
    void shift(Shift op, Width w, Reg dst, std::uint8_t count) {
        rex(w == Width::w64, 0, dst);
        byte(0xC1);
        modrm(3, static_cast<std::uint8_t>(op), dst);
        byte(count);
    }
    /// Shift by cl.
    void shift_cl(Shift op, Width w, Reg dst) {
        rex(w == Width::w64, 0, dst);
        byte(0xD3);
        modrm(3, static_cast<std::uint8_t>(op), dst);
    }

    // --- one operand ----------------------------------------------------------------------------------------------
    void neg(Width w, Reg r) { group3(3, w, r); }
    void div(Width w, Reg r) { group3(6, w, r); }
    void idiv(Width w, Reg r) { group3(7, w, r); }
    /// Sign-extends rax into rdx (cqo) or eax into edx (cdq).
    void sign_extend_ax(Width w) {
        if (w == Width::w64) {
            byte(0x48);
        }
        byte(0x99);
    }
    void bswap(Width w, Reg r) {
        rex(w == Width::w64, 0, r);
        byte(0x0F);
        byte(static_cast<std::uint8_t>(0xC8 + (r & 7)));
    }
    /// movzx r32, r/m16 of a register.
    void movzx16(Reg dst, Reg src) {
        rex(false, dst, src);
        byte(0x0F);
        byte(0xB7);
        modrm(3, dst, src);
    }
    /// Sign extension of a register's low `bits` (8, 16, 32) into the whole of dst (w64) or its low half (w32).
    void movsx(Width w, Reg dst, Reg src, int bits) {
        if (bits == 32) {
            rex(true, dst, src);
            byte(0x63);
        } else {
            rex(w == Width::w64, dst, src, bits == 8 && src >= 4);
            byte(0x0F);
            byte(bits == 8 ? 0xBE : 0xBF);
        }
        modrm(3, dst, src);
    }
    void push(Reg r) {
        if (r >= 8) {
            byte(0x41);
        }
        byte(static_cast<std::uint8_t>(0x50 + (r & 7)));
    }
    void pop(Reg r) {
        if (r >= 8) {
            byte(0x41);
        }
        byte(static_cast<std::uint8_t>(0x58 + (r & 7)));
    }
    void ret() { byte(0xC3); }
    void call(Reg r) {
        rex(false, 0, r);
        byte(0xFF);
        modrm(3, 2, r);
    }
    /// call qword [base + disp]
    void call(Reg base, std::int32_t disp) {
        rex(false, 0, base);
        byte(0xFF);
        memory(2, base, disp);
    }

    // --- memory -------------------------------------------------------------------------------------------------
    /// Loads `bytes` (1, 2, 4, 8) at [base + disp] into dst, zero-extended, or sign-extended to 64 bits.
    void load(Reg dst, Reg base, std::int32_t disp, int bytes, bool sign = false) {
        if (bytes == 8) {
            rex(true, dst, base);
            byte(0x8B);
        } else if (bytes == 4) {
            rex(sign, dst, base);
            byte(sign ? 0x63 : 0x8B);
        } else {
            rex(sign, dst, base);
            byte(0x0F);
            byte(bytes == 1 ? (sign ? 0xBE : 0xB6) : (sign ? 0xBF : 0xB7));
        }
        memory(dst, base, disp);
    }
    /// Stores the low `bytes` of src at [base + disp].
    void store(Reg base, std::int32_t disp, Reg src, int bytes) {
        if (bytes == 2) {
            byte(0x66);
        }
        rex(bytes == 8, src, base, bytes == 1 && src >= 4);
        byte(bytes == 1 ? 0x88 : 0x89);
        memory(src, base, disp);
    }
    /// Stores an immediate (sign-extended for 8 bytes) of `bytes` at [base + disp].
    void store_imm(Reg base, std::int32_t disp, std::int32_t imm, int bytes) {
        if (bytes == 2) {
            byte(0x66);
        }
        rex(bytes == 8, 0, base);
        byte(bytes == 1 ? 0xC6 : 0xC7);
        memory(0, base, disp);
        if (bytes == 1) {
            byte(static_cast<std::uint8_t>(imm));
        } else if (bytes == 2) {
            const auto v = static_cast<std::uint16_t>(imm);
            raw(&v, 2);
        } else {
            imm32(imm);
        }
    }
    void lea(Reg dst, Reg base, std::int32_t disp) {
        rex(true, dst, base);
        byte(0x8D);
        memory(dst, base, disp);
    }
    /// `op [base + disp], src` with the two-operand opcodes of rr(), optionally locked.
    void rm(std::uint8_t opcode, Width w, Reg base, std::int32_t disp, Reg src, bool lock = false) {
        if (lock) {
            byte(0xF0);
        }
        rex(w == Width::w64, src, base);
        byte(opcode);
        memory(src, base, disp);
    }
    /// `op qword/dword [base + disp], imm`.
    void arith_mem(Arith op, Width w, Reg base, std::int32_t disp, std::int32_t imm) {
        rex(w == Width::w64, 0, base);
        if (imm >= -128 && imm <= 127) {
            byte(0x83);
            memory(static_cast<std::uint8_t>(op), base, disp);
            byte(static_cast<std::uint8_t>(imm));
        } else {
            byte(0x81);
            memory(static_cast<std::uint8_t>(op), base, disp);
            imm32(imm);
        }
    }
    /// Two-byte opcodes 0F xx on [base + disp] with a register: xadd 0F C1, cmpxchg 0F B1.
    void rm0f(std::uint8_t opcode, Width w, Reg base, std::int32_t disp, Reg src, bool lock) {
        if (lock) {
            byte(0xF0);
        }
        rex(w == Width::w64, src, base);
        byte(0x0F);
        byte(opcode);
        memory(src, base, disp);
    }

    // --- control flow: rel32 fields are returned for patching ----------------------------------------------------
    std::size_t jmp() {
        byte(0xE9);
        return hole();
    }
    std::size_t jcc(Cond c) {
        byte(0x0F);
        byte(static_cast<std::uint8_t>(0x80 | c));
        return hole();
    }
    std::size_t call_rel() {
        byte(0xE8);
        return hole();
    }
    /// Points the rel32 field at `field` to `target` (offsets in the code).
    void bind(std::size_t field, std::size_t target) {
        patch32(field,
                static_cast<std::int32_t>(static_cast<std::int64_t>(target) - static_cast<std::int64_t>(field + 4)));
    }

  private:
    void raw(const void* p, std::size_t n) {
        if (m_code.size() - m_size < n) [[unlikely]] {
            m_code.resize(m_code.size() * 2);
        }
        std::memcpy(m_code.data() + m_size, p, n);
        m_size += n;
    }
    std::size_t hole() {
        const std::size_t at = m_size;
        imm32(0);
        return at;
    }
    // A REX prefix when one is needed: 64-bit operand size, an extended register in reg or rm, or (byte operands)
    // spl/bpl/sil/dil rather than ah/ch/dh/bh.
    void rex(bool w, std::uint8_t reg, std::uint8_t rm, bool force = false) {
        const std::uint8_t value =
            static_cast<std::uint8_t>(0x40 | (w ? 8 : 0) | ((reg & 8) != 0 ? 4 : 0) | ((rm & 8) != 0 ? 1 : 0));
        if (value != 0x40 || force) {
            byte(value);
        }
    }
    void modrm(std::uint8_t mod, std::uint8_t reg, std::uint8_t rm) {
        byte(static_cast<std::uint8_t>((mod << 6) | ((reg & 7) << 3) | (rm & 7)));
    }
    // [base + disp]: disp8 or disp32 (never mod 00, which means RIP-relative for rbp and r13); rsp and r12 need a SIB.
    void memory(std::uint8_t reg, std::uint8_t base, std::int32_t disp) {
        const bool short_disp = disp >= -128 && disp <= 127;
        modrm(short_disp ? 1 : 2, reg, base);
        if ((base & 7) == 4) {
            byte(0x24);
        }
        if (short_disp) {
            byte(static_cast<std::uint8_t>(disp));
        } else {
            imm32(disp);
        }
    }
    void group3(std::uint8_t digit, Width w, Reg r) {
        rex(w == Width::w64, 0, r);
        byte(0xF7);
        modrm(3, digit, r);
    }

    std::vector<std::uint8_t>& m_code;
    std::size_t m_size = 0;
};

} // namespace embpf::exec::x86
