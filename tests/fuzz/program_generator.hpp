// Random eBPF programs shaped like what clang emits for packet filters on eBPF for Windows (the xdp and bind hooks):
// bounds checks against data_end, map lookups with null checks, stack buffers handed to helpers, counted loops. Most
// checks are right, so that the verifier accepts a good share of the programs and the soundness oracle has something
// to run; a few are planted wrong (off by one, a missing null check, an unbounded index), and those are the programs
// a sound verifier must refuse. Header-only and deterministic: the same bytes or seed give the same program.
#pragma once

#include "embpf/isa/instruction.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace embpf::fuzz {

/// Where the generator's choices come from: the bytes of a fuzzer input, one or a few per decision, so that libFuzzer's
/// mutations map onto program changes; once they run out (or for a seed), a splitmix64 stream seeded from them.
class Entropy {
  public:
    explicit Entropy(std::uint64_t seed) : m_state(seed) {}
    explicit Entropy(std::span<const std::uint8_t> bytes) : m_bytes(bytes), m_state(fnv1a(bytes)) {}

    /// A number in [0, n).
    [[nodiscard]] std::uint32_t below(std::uint32_t n) {
        if (n <= 1) {
            return 0;
        }
        std::uint64_t value = 0;
        if (m_pos < m_bytes.size()) {
            for (std::uint32_t range = n; range != 0 && m_pos < m_bytes.size(); range >>= 8) {
                value = value << 8 | m_bytes[m_pos++];
            }
        } else {
            value = next();
        }
        return static_cast<std::uint32_t>(value % n);
    }
    /// A number in [lo, hi].
    [[nodiscard]] std::int64_t between(std::int64_t lo, std::int64_t hi) {
        return lo + static_cast<std::int64_t>(below(static_cast<std::uint32_t>(hi - lo + 1)));
    }
    [[nodiscard]] bool chance(unsigned percent) { return below(100) < percent; }
    [[nodiscard]] std::uint64_t bits() {
        std::uint64_t value = 0;
        for (int i = 0; i < 4; ++i) {
            value = value << 16 | below(1U << 16);
        }
        return value;
    }
    template <typename T>
    [[nodiscard]] const T& pick(std::span<const T> items) {
        return items[below(static_cast<std::uint32_t>(items.size()))];
    }

  private:
    static std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
        std::uint64_t hash = 0xcbf29ce484222325ULL;
        for (std::uint8_t b : bytes) {
            hash = (hash ^ b) * 0x100000001b3ULL;
        }
        return hash;
    }
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    std::span<const std::uint8_t> m_bytes;
    std::size_t m_pos = 0;
    std::uint64_t m_state = 0;
};

/// A generated program with what its runs need to know.
struct GeneratedProgram {
    std::string type; ///< a program type of platform::windows(): "xdp" or "bind"
    /// Map references are pseudo `lddw`s (LddwSource::map_index, imm = index into `maps`).
    std::vector<isa::Instruction> instructions;
    std::vector<verifier::MapDescriptor> maps;
    /// Data-range sizes at the edges of the program's bounds checks: the sizes where an off-by-one shows.
    std::vector<std::uint32_t> packet_sizes;
    /// Keys the program looks up, updates or deletes (little-endian, zero-extended to the key size).
    std::vector<std::uint64_t> keys;
    unsigned mistakes = 0; ///< errors planted on purpose; a program without any may still be refused
};

struct GeneratorOptions {
    std::string type; ///< "xdp" or "bind"; empty: either
    /// Keep adding top-level pieces until the program has this many instruction slots; 0: 2 to 20 pieces.
    std::size_t min_instructions = 0;
    /// Percent chance that a piece of code carries a planted error; -1: none in half of the programs, 10 in the rest.
    int mistake_percent = -1;
    std::uint32_t max_loop_iterations = 16;
    bool countdown_loops = true; ///< loops that count down, which the verifier cannot bound yet
    bool early_exits = true;     ///< exits in the middle, which may leave the rest of the program unreachable
};

namespace detail {

enum Reg : int { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };
// Fixed roles for the whole program, in callee-saved registers so that helper calls keep them.
inline constexpr int kCtx = R6;
inline constexpr int kData = R7;
inline constexpr int kEnd = R8;
inline constexpr int kAcc = R9;     // a number every piece folds its results into
inline constexpr int kCounter = R5; // the loop counter: loop bodies make no calls, so r5 survives

inline constexpr std::uint32_t kAdjustHead = 0x10000; // eBPF for Windows' bpf_xdp_adjust_head

/// Jumps by label, resolved into slot offsets at the end.
class Emitter {
  public:
    using Label = std::size_t;

    [[nodiscard]] Label label() {
        m_labels.push_back(kUnbound);
        return m_labels.size() - 1;
    }
    void bind(Label label) { m_labels[label] = m_code.size(); }
    void emit(const isa::Instruction& ins) { m_code.push_back(ins); }
    void jump(std::uint8_t opcode, int dst, int src, std::int32_t imm, Label target) {
        m_fixups.emplace_back(m_code.size(), target);
        emit(isa::make(opcode, dst, src, 0, imm));
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_code.size(); }

    [[nodiscard]] std::vector<isa::Instruction> finish() {
        for (const auto& [pc, label] : m_fixups) {
            const auto offset = static_cast<std::ptrdiff_t>(m_labels[label]) - static_cast<std::ptrdiff_t>(pc + 1);
            if (m_code[pc].opcode == isa::op::CALL_OP || m_code[pc].opcode == isa::op::LDDW) {
                // A local call and a callback's address (`lddw rN, <function>`) keep their distance in imm.
                m_code[pc].imm = static_cast<std::int32_t>(offset);
                continue;
            }
            m_code[pc].offset = static_cast<std::int16_t>(std::clamp<std::ptrdiff_t>(
                offset, std::numeric_limits<std::int16_t>::min(), std::numeric_limits<std::int16_t>::max()));
        }
        return std::move(m_code);
    }

  private:
    static constexpr std::size_t kUnbound = std::numeric_limits<std::size_t>::max();
    std::vector<isa::Instruction> m_code;
    std::vector<std::size_t> m_labels;
    std::vector<std::pair<std::size_t, Label>> m_fixups;
};

class Generator {
  public:
    Generator(Entropy& entropy, const GeneratorOptions& options) : m_rng(entropy), m_options(options) {}

    GeneratedProgram run() {
        m_out.type = !m_options.type.empty() ? m_options.type : (m_rng.chance(65) ? "xdp" : "bind");
        m_xdp = m_out.type == "xdp";
        const platform::ProgramType* type = platform::windows().program_type(m_out.type);
        m_ret_min = type != nullptr ? type->return_min : 0;
        m_ret_max = type != nullptr ? type->return_max : 0;
        if (m_options.mistake_percent >= 0) {
            m_mistake_percent = static_cast<unsigned>(m_options.mistake_percent);
        } else {
            m_mistake_percent = m_rng.chance(50) ? 0 : 10;
        }
        make_maps();
        m_exit = m_e.label();
        prologue();
        if (m_options.min_instructions > 0) {
            while (m_e.size() < m_options.min_instructions) {
                piece();
            }
        } else {
            for (std::uint32_t n = 2 + m_rng.below(19); n > 0; --n) {
                piece();
            }
        }
        m_e.bind(m_exit);
        set_return();
        exit();
        for (const Subprogram& subprogram : m_subprograms) {
            subprogram_body(subprogram);
        }
        for (const Callback& callback : m_callbacks) {
            callback_body(callback);
        }
        m_out.instructions = m_e.finish();
        std::sort(m_out.packet_sizes.begin(), m_out.packet_sizes.end());
        m_out.packet_sizes.erase(std::unique(m_out.packet_sizes.begin(), m_out.packet_sizes.end()),
                                 m_out.packet_sizes.end());
        return std::move(m_out);
    }

  private:
    using Label = Emitter::Label;

    // What the generator knows about each stack byte, to read only what was written (unless it slips).
    enum class Byte : std::uint8_t { uninit, number, pointer };
    enum class PointerKind : std::uint8_t { packet, packet_end, ctx };
    struct Stack {
        std::array<Byte, isa::kStackSize> bytes{};
        std::map<int, PointerKind> spills; // 8-byte slots holding a pointer, by offset from r10
    };

    struct Width {
        std::uint8_t size;
        int bytes;
    };
    struct Subprogram {
        Emitter::Label entry;
        int buffer;    // bytes of the caller's stack the callee gets in r1
        bool past_r10; // the buffer ends at the caller's r10, so reading past it leaves the stack
    };
    // A callback of bpf_loop (map: kNoMap) or for_each_map_elem, and the context it gets.
    struct Callback {
        Emitter::Label entry;
        std::size_t map;
        int buffer;      // bytes of the caller's stack the context points to (bpf_loop: 8 per index)
        bool null_ctx;   // the context is null: the callback tests it before using it
        bool check_null; // it tests it even when not null
    };
    static constexpr std::array<Width, 4> kWidths{
        {{isa::op::B, 1}, {isa::op::H, 2}, {isa::op::W, 4}, {isa::op::DW, 8}}};

    // --- choices ---------------------------------------------------------------------------------------------------

    // A planted error, at the program's rate.
    bool slip() {
        if (m_mistake_percent == 0 || !m_rng.chance(m_mistake_percent)) {
            return false;
        }
        ++m_out.mistakes;
        return true;
    }
    Width width() { return kWidths[m_rng.below(4)]; }
    Width width_at_most(int bytes) {
        std::uint32_t count = 0;
        while (count < kWidths.size() && kWidths[count].bytes <= bytes) {
            ++count;
        }
        return kWidths[m_rng.below(std::max<std::uint32_t>(count, 1))];
    }
    std::int32_t small_imm() {
        switch (m_rng.below(4)) {
        case 0: return static_cast<std::int32_t>(m_rng.below(16));
        case 1: return static_cast<std::int32_t>(m_rng.between(-256, 256));
        case 2: return static_cast<std::int32_t>(1U << m_rng.below(31));
        default: return static_cast<std::int32_t>(static_cast<std::uint32_t>(m_rng.bits()));
        }
    }
    void note_size(std::int64_t bytes) {
        for (std::int64_t size : {bytes - 1, bytes, bytes + 1}) {
            if (size >= 0 && size <= 4096) {
                m_out.packet_sizes.push_back(static_cast<std::uint32_t>(size));
            }
        }
    }
    static int round8(int bytes) { return (bytes + 7) / 8 * 8; }

    // --- instructions ----------------------------------------------------------------------------------------------

    void mov(int dst, std::int32_t imm) {
        m_e.emit(isa::make(isa::op::ALU64 | isa::op::MOV | isa::op::K, dst, 0, 0, imm));
    }
    void mov_r(int dst, int src) { m_e.emit(isa::make(isa::op::ALU64 | isa::op::MOV | isa::op::X, dst, src)); }
    void alu(std::uint8_t code, int dst, std::int32_t imm, bool is64 = true) {
        m_e.emit(isa::make((is64 ? isa::op::ALU64 : isa::op::ALU) | code | isa::op::K, dst, 0, 0, imm));
    }
    void alu_r(std::uint8_t code, int dst, int src, bool is64 = true) {
        m_e.emit(isa::make((is64 ? isa::op::ALU64 : isa::op::ALU) | code | isa::op::X, dst, src));
    }
    void add(int dst, std::int32_t imm) { alu(isa::op::ADD, dst, imm); }
    void ldx(std::uint8_t size, int dst, int src, int offset) {
        m_e.emit(isa::make(isa::op::LDX | isa::op::MEM | size, dst, src, static_cast<std::int16_t>(offset)));
    }
    void stx(std::uint8_t size, int dst, int offset, int src) {
        m_e.emit(isa::make(isa::op::STX | isa::op::MEM | size, dst, src, static_cast<std::int16_t>(offset)));
    }
    void st(std::uint8_t size, int dst, int offset, std::int32_t imm) {
        m_e.emit(isa::make(isa::op::ST | isa::op::MEM | size, dst, 0, static_cast<std::int16_t>(offset), imm));
    }
    void lddw_map(int dst, std::size_t map) {
        m_e.emit(isa::make(isa::op::LDDW, dst, static_cast<int>(isa::LddwSource::map_index), 0,
                           static_cast<std::int32_t>(map)));
        m_e.emit(isa::make(0));
    }
    void call(std::uint32_t id) { m_e.emit(isa::make(isa::op::CALL_OP, 0, 0, 0, static_cast<std::int32_t>(id))); }
    void exit() { m_e.emit(isa::make(isa::op::EXIT_OP)); }
    void jump(std::uint8_t code, int dst, std::int32_t imm, Label target, bool is32 = false) {
        m_e.jump((is32 ? isa::op::JMP32 : isa::op::JMP) | code | isa::op::K, dst, 0, imm, target);
    }
    void jump_r(std::uint8_t code, int dst, int src, Label target, bool is32 = false) {
        m_e.jump((is32 ? isa::op::JMP32 : isa::op::JMP) | code | isa::op::X, dst, src, 0, target);
    }
    void ja(Label target) { m_e.jump(isa::op::JA_OP, 0, 0, 0, target); }

    // Folds a number into the accumulator.
    void fold(int reg) {
        static constexpr std::array<std::uint8_t, 4> kOps{isa::op::ADD, isa::op::XOR, isa::op::OR, isa::op::SUB};
        const std::uint8_t code = kOps[m_rng.below(4)];
        alu_r(code, kAcc, reg, !m_rng.chance(15));
    }

    // --- the stack as the generator tracks it ----------------------------------------------------------------------

    static bool on_stack(int offset, int bytes) {
        return offset >= -static_cast<int>(isa::kStackSize) && offset + bytes <= 0;
    }
    Byte& byte_at(int offset) {
        return m_stack.bytes[static_cast<std::size_t>(offset + static_cast<int>(isa::kStackSize))];
    }
    void wrote(int offset, int bytes, Byte kind = Byte::number) {
        for (int i = 0; i < bytes; ++i) {
            if (on_stack(offset + i, 1)) {
                byte_at(offset + i) = kind;
            }
        }
        for (auto it = m_stack.spills.begin(); it != m_stack.spills.end();) {
            const bool overlaps = it->first < offset + bytes && offset < it->first + 8;
            it = overlaps ? m_stack.spills.erase(it) : std::next(it);
        }
    }
    // A helper may have written some of [offset, offset + bytes): spilled pointers there are gone.
    void clobbered(int offset, int bytes) {
        for (int i = 0; i < bytes; ++i) {
            if (on_stack(offset + i, 1) && byte_at(offset + i) == Byte::pointer) {
                byte_at(offset + i) = Byte::uninit;
            }
        }
        for (auto it = m_stack.spills.begin(); it != m_stack.spills.end();) {
            const bool overlaps = it->first < offset + bytes && offset < it->first + 8;
            it = overlaps ? m_stack.spills.erase(it) : std::next(it);
        }
    }
    bool is_number(int offset, int bytes) {
        if (!on_stack(offset, bytes)) {
            return false;
        }
        for (int i = 0; i < bytes; ++i) {
            if (byte_at(offset + i) != Byte::number) {
                return false;
            }
        }
        return true;
    }
    // What is certainly true after a branch that may or may not have run.
    static Stack meet(const Stack& a, const Stack& b) {
        Stack out;
        for (std::size_t i = 0; i < out.bytes.size(); ++i) {
            out.bytes[i] = a.bytes[i] == b.bytes[i] ? a.bytes[i] : Byte::uninit;
        }
        for (const auto& [offset, kind] : a.spills) {
            auto it = b.spills.find(offset);
            if (it != b.spills.end() && it->second == kind) {
                out.spills.emplace(offset, kind);
            }
        }
        return out;
    }
    // A stack buffer of `bytes` below r10, 8-aligned.
    int stack_buffer(int bytes, int spread = 16) {
        const int base = round8(bytes);
        const int room = (static_cast<int>(isa::kStackSize) - base) / 8;
        return -(base + 8 * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(std::min(spread, room + 1)))));
    }
    // Stores numbers over [offset, offset + bytes), the widest stores first; a slip leaves the last one out.
    void fill_stack(int offset, int bytes, bool leave_gap) {
        int done = 0;
        while (done < bytes) {
            const int left = bytes - done;
            const Width w = left >= 8 ? kWidths[3] : left >= 4 ? kWidths[2] : left >= 2 ? kWidths[1] : kWidths[0];
            if (leave_gap && done + w.bytes >= bytes) {
                break;
            }
            if (m_rng.chance(50)) {
                stx(w.size, R10, offset + done, kAcc);
            } else {
                st(w.size, R10, offset + done, small_imm());
            }
            wrote(offset + done, w.bytes);
            done += w.bytes;
        }
    }
    // A slot that holds a number: its offset in `offset`.
    bool find_number(int bytes, int& offset) {
        for (int tries = 0; tries < 24; ++tries) {
            const int candidate = -static_cast<int>(8 * (1 + m_rng.below(48)));
            if (is_number(candidate, bytes)) {
                offset = candidate;
                return true;
            }
        }
        return false;
    }

    // --- program structure -----------------------------------------------------------------------------------------

    void make_maps() {
        std::uint32_t count = m_rng.chance(10) ? 0 : 1 + m_rng.below(2);
        static constexpr std::array<platform::MapKind, 10> kKinds{
            platform::MapKind::array,    platform::MapKind::array,        platform::MapKind::array,
            platform::MapKind::hash,     platform::MapKind::hash,         platform::MapKind::hash,
            platform::MapKind::lru_hash, platform::MapKind::percpu_array, platform::MapKind::percpu_hash,
            platform::MapKind::array};
        static constexpr std::array<std::uint32_t, 10> kValueSizes{4, 8, 8, 12, 16, 16, 24, 32, 40, 64};
        static constexpr std::array<std::uint32_t, 6> kKeySizes{4, 4, 8, 8, 16, 12};
        for (std::uint32_t i = 0; i < count; ++i) {
            verifier::MapDescriptor map;
            map.name = "map" + std::to_string(i);
            map.kind = m_rng.pick(std::span<const platform::MapKind>(kKinds));
            const bool array = map.kind == platform::MapKind::array || map.kind == platform::MapKind::percpu_array;
            map.key_size = array ? 4 : m_rng.pick(std::span<const std::uint32_t>(kKeySizes));
            map.value_size =
                m_rng.chance(5) ? 1 + m_rng.below(7) : m_rng.pick(std::span<const std::uint32_t>(kValueSizes));
            map.max_entries = 1 + m_rng.below(16);
            map.read_only = array && m_rng.chance(5);
            if (map.read_only && map.kind == platform::MapKind::array && m_rng.chance(50)) {
                // Frozen, as `.rodata` is: one entry whose value the verifier knows (its numbers bound accesses);
                // the runtime map holds it (soundness.hpp's fill_maps).
                map.max_entries = 1;
                map.frozen_value.resize(map.value_size);
                for (std::uint8_t& b : map.frozen_value) {
                    b = static_cast<std::uint8_t>(m_rng.chance(50) ? m_rng.below(80) : m_rng.below(256));
                }
            }
            m_out.maps.push_back(std::move(map));
        }
        m_keyed = m_out.maps.size();
        // A queue or a stack for map_pop_elem and map_peek_elem, which write their value only when there is one.
        if (m_rng.chance(25)) {
            verifier::MapDescriptor map;
            map.name = "map" + std::to_string(m_out.maps.size());
            map.kind = m_rng.chance(50) ? platform::MapKind::queue : platform::MapKind::stack;
            map.key_size = 0;
            map.value_size = m_rng.pick(std::span<const std::uint32_t>(kValueSizes));
            map.max_entries = 1 + m_rng.below(4);
            m_queue = m_out.maps.size();
            m_out.maps.push_back(std::move(map));
        }
        // A map whose value holds a bpf_spin_lock, for spin_lock() only (the other pieces' accesses would touch it).
        if (m_rng.chance(30)) {
            verifier::MapDescriptor map;
            map.name = "map" + std::to_string(m_out.maps.size());
            map.kind = m_rng.chance(50) ? platform::MapKind::array : platform::MapKind::hash;
            map.key_size = 4;
            map.value_size = m_rng.chance(50) ? 16 : 24;
            map.max_entries = 1 + m_rng.below(4);
            map.spin_lock = 4 * m_rng.below(map.value_size / 4);
            m_locked = m_out.maps.size();
            m_out.maps.push_back(std::move(map));
        }
    }
    // A map lookups, updates and deletes may use (not the queue).
    [[nodiscard]] std::size_t keyed_map() { return m_rng.below(static_cast<std::uint32_t>(m_keyed)); }

    void prologue() {
        mov_r(kCtx, R1);
        switch (m_rng.below(4)) {
        case 0: mov(kAcc, small_imm()); break;
        case 1: ldx(isa::op::W, kAcc, kCtx, m_xdp ? 24 : 44); break;
        case 2:
            call(6); // get_prandom_u32
            mov_r(kAcc, R0);
            break;
        default:
            if (m_xdp) {
                ldx(isa::op::H, kAcc, kCtx, 24);
            } else {
                ldx(isa::op::DW, kAcc, kCtx, 16);
            }
            break;
        }
        ldx(isa::op::DW, kData, kCtx, 0);
        ldx(isa::op::DW, kEnd, kCtx, 8);
    }

    // r0 in the hook's range, computed the ways compilers do; a slip puts it outside or leaves it unset.
    void set_return() {
        const std::int64_t span = m_ret_max - m_ret_min + 1;
        if (slip()) {
            switch (m_rng.below(4)) {
            case 0: mov(R0, static_cast<std::int32_t>(m_ret_max + 1)); return;
            case 1: mov(R0, static_cast<std::int32_t>(m_ret_min - 1)); return;
            case 2:
                mov_r(R0, kAcc);
                alu(isa::op::AND, R0, 3);
                return;
            default: return; // r0 as whatever the last call left, or uninitialized
            }
        }
        switch (m_rng.below(5)) {
        case 0: mov(R0, static_cast<std::int32_t>(m_ret_min + m_rng.below(static_cast<std::uint32_t>(span)))); break;
        case 1:
            mov_r(R0, kAcc);
            alu(isa::op::AND, R0, 1);
            add(R0, static_cast<std::int32_t>(m_ret_min));
            break;
        case 2:
            mov_r(R0, kAcc);
            alu(isa::op::MOD, R0, static_cast<std::int32_t>(span));
            add(R0, static_cast<std::int32_t>(m_ret_min));
            break;
        case 3:
            alu_r(isa::op::MOV, R0, kAcc, false);
            alu(isa::op::AND, R0, 1, false);
            alu(isa::op::ADD, R0, static_cast<std::int32_t>(m_ret_min), false);
            break;
        default: {
            const Label clamp = m_e.label();
            const Label done = m_e.label();
            mov_r(R0, kAcc);
            jump(isa::op::JGT, R0, static_cast<std::int32_t>(m_ret_max), clamp);
            jump(isa::op::JLT, R0, static_cast<std::int32_t>(m_ret_min), clamp);
            ja(done);
            m_e.bind(clamp);
            mov(R0, static_cast<std::int32_t>(m_ret_min));
            m_e.bind(done);
            break;
        }
        }
    }

    enum class Piece : std::uint8_t {
        packet_const,
        packet_var,
        stack_store,
        stack_load,
        spill,
        fill,
        map_lookup,
        map_update,
        map_delete,
        memset,
        memcpy,
        alu,
        branch,
        loop,
        ctx,
        adjust_head,
        meta,
        early_exit,
        atomic,
        counter_access,
        call_local,
        two_objects,
        big_offset,
        helper_write,
        queue_pop,
        nullable_copy,
        stale_packet,
        length_index,
        legacy_load,
        low_half_length,
        callback,
        spin_lock,
    };
    struct Weighted {
        Piece piece;
        std::uint32_t weight;
        bool calls; // makes helper calls (or a loop): never inside a loop body
    };
    static constexpr std::array<Weighted, 32> kPieces{{
        {Piece::packet_const, 12, false},
        {Piece::packet_var, 8, false},
        {Piece::stack_store, 6, false},
        {Piece::stack_load, 5, false},
        {Piece::spill, 3, false},
        {Piece::fill, 3, false},
        {Piece::map_lookup, 9, true},
        {Piece::map_update, 3, true},
        {Piece::map_delete, 1, true},
        {Piece::memset, 3, true},
        {Piece::memcpy, 3, true},
        {Piece::alu, 10, false},
        {Piece::branch, 6, false},
        {Piece::loop, 4, true},
        {Piece::ctx, 4, false},
        {Piece::adjust_head, 1, true},
        {Piece::meta, 1, false},
        {Piece::early_exit, 2, false},
        {Piece::atomic, 2, false},
        {Piece::counter_access, 10, false},
        {Piece::call_local, 3, true},
        {Piece::two_objects, 6, true},
        {Piece::big_offset, 4, false},
        {Piece::helper_write, 6, true},
        {Piece::queue_pop, 3, true},
        {Piece::nullable_copy, 2, true},
        {Piece::stale_packet, 2, true},
        {Piece::length_index, 2, true},
        {Piece::legacy_load, 3, true}, // clobbers r1-r5, the loop counter among them
        {Piece::low_half_length, 3, false},
        {Piece::callback, 3, true},
        {Piece::spin_lock, 3, true},
    }};

    void piece() {
        std::uint32_t total = 0;
        for (const Weighted& w : kPieces) {
            total += allowed(w) ? w.weight : 0;
        }
        std::uint32_t roll = m_rng.below(total);
        for (const Weighted& w : kPieces) {
            if (!allowed(w)) {
                continue;
            }
            if (roll < w.weight) {
                emit_piece(w.piece);
                return;
            }
            roll -= w.weight;
        }
    }
    bool allowed(const Weighted& w) const {
        if (m_in_loop && w.calls) {
            return false;
        }
        switch (w.piece) {
        case Piece::counter_access: return m_in_loop;
        case Piece::adjust_head:
        case Piece::stale_packet:
        case Piece::meta: return m_xdp;
        case Piece::queue_pop: return m_queue != kNoMap;
        case Piece::spin_lock: return m_locked != kNoMap && !m_in_loop;
        // Windows' xdp refuses r0 = 0, which a legacy load that ends the program returns.
        case Piece::legacy_load: return !m_xdp;
        // The stack tracking is straight-line, and these leave pointers on the stack.
        case Piece::two_objects:
        case Piece::helper_write: return !m_in_loop;
        case Piece::early_exit: return m_options.early_exits;
        // A spill in a loop body changes what a fill before it reads in the next round, which the straight-line
        // tracking of the stack does not see.
        case Piece::spill:
        case Piece::fill: return !m_in_loop;
        case Piece::branch: return m_depth < 3;
        case Piece::loop: return m_depth < 2;
        default: return true;
        }
    }
    void emit_piece(Piece piece) {
        switch (piece) {
        case Piece::packet_const: packet_const(); break;
        case Piece::packet_var: packet_var(); break;
        case Piece::stack_store: stack_store(); break;
        case Piece::stack_load: stack_load(); break;
        case Piece::spill: spill(); break;
        case Piece::fill: fill(); break;
        case Piece::map_lookup: map_lookup(); break;
        case Piece::map_update: map_update(); break;
        case Piece::map_delete: map_delete(); break;
        case Piece::memset: memset(); break;
        case Piece::memcpy: memcpy(); break;
        case Piece::alu: alu_piece(); break;
        case Piece::branch: branch(); break;
        case Piece::loop: loop(); break;
        case Piece::ctx: ctx_piece(); break;
        case Piece::adjust_head: adjust_head(); break;
        case Piece::meta: meta(); break;
        case Piece::early_exit: early_exit(); break;
        case Piece::atomic: atomic(); break;
        case Piece::counter_access: counter_access(); break;
        case Piece::call_local: call_local(); break;
        case Piece::two_objects: two_objects(); break;
        case Piece::big_offset: big_offset(); break;
        case Piece::helper_write: helper_write(); break;
        case Piece::queue_pop: queue_pop(); break;
        case Piece::nullable_copy: nullable_copy(); break;
        case Piece::stale_packet: stale_packet(); break;
        case Piece::length_index: length_index(); break;
        case Piece::legacy_load: legacy_load(); break;
        case Piece::low_half_length: low_half_length(); break;
        case Piece::callback: callback(); break;
        case Piece::spin_lock: spin_lock(); break;
        }
    }

    // --- the pieces --------------------------------------------------------------------------------------------------

    // A load or store at base + offset; stores into the data range only where the hook lets programs write it.
    void access(int base, int offset, Width w, bool store_ok) {
        if (store_ok && m_rng.chance(30)) {
            if (w.bytes == 8 && slip()) {
                stx(isa::op::DW, base, offset, m_rng.chance(50) ? kCtx : R10); // a pointer leaks out
            } else if (m_rng.chance(50)) {
                stx(w.size, base, offset, kAcc);
            } else {
                st(w.size, base, offset, small_imm());
            }
            return;
        }
        ldx(w.size, R3, base, offset);
        fold(R3);
    }

    // `if data + k > data_end goto skip` in the forms clang emits, then an access at a constant offset.
    void packet_const() {
        const Width w = width();
        const int offset = static_cast<int>(m_rng.chance(20) ? m_rng.below(4) : m_rng.below(48));
        const int needed = offset + w.bytes;
        note_size(needed);
        int checked = needed;
        int at = offset;
        bool inverted = false;
        std::uint32_t form = m_rng.below(7);
        if (slip()) {
            switch (m_rng.below(3)) {
            case 0: checked = needed - 1; break;
            case 1: at = offset + 1; break;
            default:
                inverted = true;
                form = 0;
                break;
            }
        }
        const Label skip = m_e.label();
        int base = kData;
        int base_offset = at;
        switch (form) {
        case 0:
            mov_r(R2, kData);
            add(R2, checked);
            jump_r(inverted ? isa::op::JLE : isa::op::JGT, R2, kEnd, skip);
            break;
        case 1:
            mov_r(R2, kData);
            add(R2, checked);
            jump_r(isa::op::JLT, kEnd, R2, skip);
            base = R2;
            base_offset = at - checked;
            break;
        case 2: {
            const Label ok = m_e.label();
            mov_r(R2, kData);
            add(R2, checked);
            jump_r(isa::op::JLE, R2, kEnd, ok);
            ja(skip);
            m_e.bind(ok);
            break;
        }
        case 3:
            mov_r(R2, kData);
            add(R2, checked - 1);
            jump_r(isa::op::JGE, R2, kEnd, skip);
            break;
        case 5: {
            // The check carried by a flag: 0 where it passed, -22 where it failed (a slip: 0 on both), then a branch
            // on the flag, 32-bit or not, guards the access.
            const Label fail = m_e.label();
            const Label check = m_e.label();
            mov_r(R2, kData);
            add(R2, checked);
            jump_r(isa::op::JGT, R2, kEnd, fail);
            mov(R4, 0);
            ja(check);
            m_e.bind(fail);
            mov(R4, slip() ? 0 : -22);
            m_e.bind(check);
            jump(isa::op::JNE, R4, 0, skip, m_rng.chance(50));
            break;
        }
        case 6: // the length form at 32 bits: (int)(data_end - data) < k
            mov_r(R2, kEnd);
            alu_r(isa::op::SUB, R2, kData, false);
            jump(isa::op::JLT, R2, checked, skip, m_rng.chance(50));
            break;
        default: // the length form: data_end - data < k
            mov_r(R2, kEnd);
            alu_r(isa::op::SUB, R2, kData);
            jump(isa::op::JLT, R2, checked, skip);
            break;
        }
        access(base, base_offset, w, m_xdp || m_rng.chance(5));
        m_e.bind(skip);
    }

    // A number bounded by a mask, a modulus, a shift or a comparison, added to data, then checked.
    void packet_var() {
        const Width w = width();
        const int offset = static_cast<int>(m_rng.below(16));
        const Label skip = m_e.label();
        int slot = 0;
        switch (m_rng.below(m_in_loop ? 3 : 4)) {
        case 0: mov_r(R3, kAcc); break;
        case 1:
            mov_r(R3, kAcc);
            alu(isa::op::RSH, R3, static_cast<std::int32_t>(m_rng.below(32)));
            break;
        case 2:
            if (find_number(8, slot)) {
                ldx(isa::op::DW, R3, R10, slot);
            } else {
                mov_r(R3, kAcc);
            }
            break;
        default:
            call(6);
            mov_r(R3, R0);
            break;
        }
        const std::uint32_t bits = m_rng.below(8);
        std::int64_t max = (std::int64_t{1} << bits) - 1;
        const std::uint32_t mistake = slip() ? 1 + m_rng.below(4) : 0;
        if (mistake == 1) {
            max = 1 << 20; // no bound at all
        } else if (mistake == 2) {
            jump(isa::op::JSGT, R3, static_cast<std::int32_t>(max), skip); // negative numbers pass
        } else {
            switch (m_rng.below(5)) {
            case 0: alu(isa::op::AND, R3, static_cast<std::int32_t>(max), !m_rng.chance(30)); break;
            case 1: jump(isa::op::JGT, R3, static_cast<std::int32_t>(max), skip); break;
            case 2: alu(isa::op::MOD, R3, static_cast<std::int32_t>(max + 1)); break;
            case 3:
                if (bits == 0) {
                    mov(R3, 0);
                } else {
                    alu(isa::op::RSH, R3, static_cast<std::int32_t>(64 - bits));
                }
                break;
            default: jump(isa::op::JGE, R3, static_cast<std::int32_t>(max + 1), skip); break;
            }
        }
        mov_r(R2, kData);
        alu_r(mistake == 4 ? isa::op::SUB : isa::op::ADD, R2, R3);
        mov_r(R4, R2);
        add(R4, offset + w.bytes - (mistake == 3 ? 1 : 0));
        jump_r(isa::op::JGT, R4, kEnd, skip);
        access(R2, offset, w, m_xdp);
        m_e.bind(skip);
        note_size(offset + w.bytes);
        note_size(max + offset + w.bytes);
    }

    void stack_store() {
        const Width w = width();
        int offset = -static_cast<int>(8 * (1 + m_rng.below(40)));
        offset += w.bytes * static_cast<int>(m_rng.below(8 / w.bytes));
        if (slip()) {
            offset = m_rng.chance(50) ? -w.bytes + 1 : -static_cast<int>(isa::kStackSize) - 1;
        }
        if (m_rng.chance(50)) {
            stx(w.size, R10, offset, kAcc);
        } else {
            st(w.size, R10, offset, small_imm());
        }
        wrote(offset, w.bytes);
    }

    void stack_load() {
        Width w = width();
        int offset = 0;
        bool found = false;
        for (int tries = 0; tries < 24 && !found; ++tries) {
            w = width();
            offset = -static_cast<int>(8 * (1 + m_rng.below(48)));
            offset += w.bytes * static_cast<int>(m_rng.below(8 / w.bytes));
            found = is_number(offset, w.bytes);
        }
        if (slip()) {
            switch (m_rng.below(3)) {
            case 0: offset = 0; break; // above r10
            case 1: offset = -static_cast<int>(isa::kStackSize) - 8; break;
            default: offset = -static_cast<int>(8 * (1 + m_rng.below(60))); break; // maybe never written
            }
        } else if (!found) {
            stack_store();
            return;
        }
        ldx(w.size, R3, R10, offset);
        fold(R3);
    }

    void spill() {
        static constexpr std::array<std::pair<int, PointerKind>, 3> kPointers{
            {{kData, PointerKind::packet}, {kEnd, PointerKind::packet_end}, {kCtx, PointerKind::ctx}}};
        const auto& [reg, kind] = kPointers[m_rng.below(3)];
        const int offset = -static_cast<int>(8 * (1 + m_rng.below(40)));
        stx(isa::op::DW, R10, offset, reg);
        wrote(offset, 8, Byte::pointer);
        m_stack.spills[offset] = kind;
    }

    void fill() {
        if (m_stack.spills.empty()) {
            spill();
            return;
        }
        auto it = m_stack.spills.begin();
        std::advance(it, m_rng.below(static_cast<std::uint32_t>(m_stack.spills.size())));
        const auto [offset, kind] = *it;
        const Label skip = m_e.label();
        const int needed = 1 + static_cast<int>(m_rng.below(32));
        int read_at = needed - 1;
        note_size(needed);
        if (slip()) {
            switch (m_rng.below(3)) {
            case 0: ldx(isa::op::W, R2, R10, offset); break; // half a pointer
            case 1: {
                const int at = offset + static_cast<int>(m_rng.below(8));
                st(isa::op::B, R10, at, 0); // the slot is a pointer no more
                wrote(at, 1);
                ldx(isa::op::DW, R2, R10, offset);
                break;
            }
            default:
                ldx(isa::op::DW, R2, R10, offset);
                read_at = needed; // one past what was checked
                break;
            }
        } else if (kind == PointerKind::packet && m_rng.chance(25)) {
            ldx(isa::op::DW, kData, R10, offset);
            return;
        } else {
            ldx(isa::op::DW, R2, R10, offset);
        }
        switch (kind) {
        case PointerKind::packet:
            mov_r(R3, R2);
            add(R3, needed);
            jump_r(isa::op::JGT, R3, kEnd, skip);
            ldx(isa::op::B, R4, R2, read_at);
            fold(R4);
            break;
        case PointerKind::packet_end:
            mov_r(R3, kData);
            add(R3, needed);
            jump_r(isa::op::JGT, R3, R2, skip);
            ldx(isa::op::B, R4, kData, read_at);
            fold(R4);
            break;
        case PointerKind::ctx:
            ldx(isa::op::W, R3, R2, m_xdp ? 24 : 44);
            fold(R3);
            break;
        }
        m_e.bind(skip);
    }

    std::uint64_t pick_key(const verifier::MapDescriptor& map) {
        const std::uint64_t key = m_rng.chance(85) ? m_rng.below(map.max_entries + 2) : m_rng.below(1U << 16);
        if (std::find(m_out.keys.begin(), m_out.keys.end(), key) == m_out.keys.end()) {
            m_out.keys.push_back(key);
        }
        return key;
    }
    // The key in its first 4 or 8 bytes, zeros after; a slip leaves the last store out.
    void write_key(int offset, std::uint32_t key_size, std::uint64_t key, bool leave_gap) {
        const int size = static_cast<int>(key_size);
        if (m_rng.chance(30) && size >= 4) {
            mov(R3, static_cast<std::int32_t>(key));
            stx(size >= 8 ? isa::op::DW : isa::op::W, R10, offset, R3);
        } else {
            st(size >= 8 ? isa::op::DW : isa::op::W, R10, offset, static_cast<std::int32_t>(key));
        }
        const int first = size >= 8 ? 8 : std::min(size, 4);
        wrote(offset, first);
        if (size > first) {
            const int rest = size - first;
            int done = 0;
            while (done < rest) {
                const int left = rest - done;
                const Width w = left >= 8 ? kWidths[3] : left >= 4 ? kWidths[2] : left >= 2 ? kWidths[1] : kWidths[0];
                if (leave_gap && done + w.bytes >= rest) {
                    break;
                }
                st(w.size, R10, offset + first + done, 0);
                wrote(offset + first + done, w.bytes);
                done += w.bytes;
            }
        }
    }

    void map_lookup() {
        if (m_keyed == 0) {
            alu_piece();
            return;
        }
        const std::size_t index = keyed_map();
        const verifier::MapDescriptor& map = m_out.maps[index];
        const int key_offset = stack_buffer(static_cast<int>(map.key_size));
        const bool partial_key = map.key_size > 4 && slip();
        write_key(key_offset, map.key_size, pick_key(map), partial_key);
        lddw_map(R1, index);
        mov_r(R2, R10);
        add(R2, key_offset);
        call(1);
        const Label skip = m_e.label();
        if (!slip()) {
            if (m_rng.chance(70)) {
                jump(isa::op::JEQ, R0, 0, skip);
            } else {
                const Label use = m_e.label();
                jump(isa::op::JNE, R0, 0, use);
                ja(skip);
                m_e.bind(use);
            }
        }
        const Stack before = m_stack;
        const std::uint32_t ops = 1 + m_rng.below(2);
        for (std::uint32_t i = 0; i < ops; ++i) {
            value_op(map, i + 1 == ops, skip);
        }
        m_e.bind(skip);
        m_stack = meet(before, m_stack);
    }

    // One use of the value r0 points to; the last use may move r0 or call a helper.
    void value_op(const verifier::MapDescriptor& map, bool last, Label skip) {
        const int size = static_cast<int>(map.value_size);
        const bool writable = !map.read_only || slip();
        switch (m_rng.below(last ? 6 : 3)) {
        case 0:
        case 1: {
            const Width w = width_at_most(size);
            int offset = static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size - w.bytes + 1)));
            if (slip()) {
                offset = size - w.bytes + 1;
            }
            access(R0, offset, w, writable);
            break;
        }
        case 2: {
            if (size < 8 || !writable) {
                ldx(isa::op::B, R3, R0, 0);
                fold(R3);
                break;
            }
            const bool wide = m_rng.chance(60);
            int offset = wide ? 8 * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size / 8)))
                              : 4 * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size / 4)));
            if (slip()) {
                offset += wide ? 4 : 2; // misaligned, maybe past the end
            }
            static constexpr std::array<std::int32_t, 5> kAtomics{isa::op::ATOMIC_ADD, isa::op::ATOMIC_OR,
                                                                  isa::op::ATOMIC_AND, isa::op::ATOMIC_XOR,
                                                                  isa::op::ATOMIC_ADD | isa::op::FETCH};
            const std::int32_t op = m_rng.pick(std::span<const std::int32_t>(kAtomics));
            mov_r(R3, kAcc);
            m_e.emit(isa::make(isa::op::STX | isa::op::ATOMIC | (wide ? isa::op::DW : isa::op::W), R0, R3,
                               static_cast<std::int16_t>(offset), op));
            if ((op & isa::op::FETCH) != 0) {
                fold(R3);
            }
            break;
        }
        case 3: {
            const Width w = width_at_most(size);
            const int room = size - w.bytes;
            int mask = 0;
            while (mask * 2 + 1 <= room) {
                mask = mask * 2 + 1;
            }
            mov_r(R3, kAcc);
            if (slip()) {
                alu(isa::op::AND, R3, mask * 2 + 1);
            } else if (m_rng.chance(50)) {
                alu(isa::op::AND, R3, mask);
            } else {
                jump(isa::op::JGT, R3, room, skip);
            }
            alu_r(isa::op::ADD, R0, R3);
            ldx(w.size, R4, R0, 0);
            fold(R4);
            break;
        }
        case 4: {
            if (!writable) {
                ldx(isa::op::B, R3, R0, 0);
                fold(R3);
                break;
            }
            const int at = static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size)));
            mov_r(R1, R0);
            add(R1, at);
            mov(R2, size - at + (slip() ? 1 : 0));
            mov(R3, static_cast<std::int32_t>(m_rng.below(256)));
            call(24); // memset
            fold(R0);
            break;
        }
        default: {
            // memcpy_s from the value to a stack buffer, or from a stack buffer into the value.
            const int at = static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size)));
            const int n = 1 + static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size - at)));
            const int buffer = stack_buffer(n);
            if (m_rng.chance(60) || !writable) {
                mov_r(R3, R0);
                add(R3, at);
                mov_r(R1, R10);
                add(R1, buffer);
                mov(R2, n);
                const bool wrong = slip();
                mov(R4, n + (wrong ? size - at - n + 1 : 0));
                call(22);
                if (wrong) {
                    clobbered(buffer, n);
                } else {
                    wrote(buffer, n);
                }
            } else {
                if (!is_number(buffer, n)) {
                    fill_stack(buffer, n, false);
                }
                mov_r(R1, R0);
                add(R1, at);
                mov(R2, size - at + (slip() ? 1 : 0));
                mov_r(R3, R10);
                add(R3, buffer);
                mov(R4, n);
                call(22);
            }
            fold(R0);
            break;
        }
        }
    }

    void map_update() {
        if (m_keyed == 0) {
            alu_piece();
            return;
        }
        const std::size_t index = keyed_map();
        const verifier::MapDescriptor& map = m_out.maps[index];
        const int key_offset = stack_buffer(static_cast<int>(map.key_size), 4);
        const int value_offset =
            key_offset - round8(static_cast<int>(map.value_size)) - 8 * static_cast<int>(m_rng.below(4));
        write_key(key_offset, map.key_size, pick_key(map), false);
        fill_stack(value_offset, static_cast<int>(map.value_size), slip());
        lddw_map(R1, index);
        mov_r(R2, R10);
        add(R2, key_offset);
        mov_r(R3, R10);
        add(R3, value_offset);
        mov(R4, static_cast<std::int32_t>(m_rng.below(3))); // BPF_ANY, BPF_NOEXIST, BPF_EXIST
        call(2);
        fold(R0);
    }

    void map_delete() {
        if (m_keyed == 0) {
            alu_piece();
            return;
        }
        const std::size_t index = keyed_map();
        const verifier::MapDescriptor& map = m_out.maps[index];
        const int key_offset = stack_buffer(static_cast<int>(map.key_size));
        write_key(key_offset, map.key_size, pick_key(map), false);
        lddw_map(R1, index);
        mov_r(R2, R10);
        add(R2, key_offset);
        call(3);
        fold(R0);
    }

    void memset() {
        switch (m_rng.below(3)) {
        case 0: { // the packet, after a check
            const int n = 1 + static_cast<int>(m_rng.below(32));
            note_size(n);
            const Label skip = m_e.label();
            mov_r(R2, kData);
            add(R2, n);
            jump_r(isa::op::JGT, R2, kEnd, skip);
            mov_r(R1, kData);
            mov(R2, n + (slip() ? 1 : 0));
            mov(R3, static_cast<std::int32_t>(m_rng.below(256)));
            call(24);
            fold(R0);
            m_e.bind(skip);
            return;
        }
        case 1:
            // bind's socket_address, the one writable field: helpers get the context only as the context.
            if (!m_xdp && slip()) {
                mov_r(R1, kCtx);
                add(R1, 24);
                mov(R2, 16 + (slip() ? 1 : 0));
                mov(R3, static_cast<std::int32_t>(m_rng.below(256)));
                call(24);
                fold(R0);
                return;
            }
            [[fallthrough]];
        default: { // a stack buffer, by a constant or a bounded size
            const int n = 1 + static_cast<int>(m_rng.below(64));
            const int offset = stack_buffer(n);
            mov_r(R1, R10);
            add(R1, offset);
            const bool variable = m_rng.chance(25);
            const bool wrong = slip();
            if (variable) {
                int mask = 0;
                while (mask * 2 + 1 <= -offset) {
                    mask = mask * 2 + 1;
                }
                mov_r(R2, kAcc);
                alu(isa::op::AND, R2, wrong ? mask * 2 + 1 : mask);
            } else {
                mov(R2, wrong ? -offset + 1 : n);
            }
            mov(R3, static_cast<std::int32_t>(m_rng.below(256)));
            call(24);
            fold(R0);
            if (!variable && !wrong) {
                wrote(offset, n);
            } else {
                clobbered(offset, -offset);
            }
            return;
        }
        }
    }

    // memcpy_s into a stack buffer from initialized stack or from the packet.
    void memcpy() {
        const int n = 1 + static_cast<int>(m_rng.below(48));
        const int dst = -round8(n) - 8 * static_cast<int>(m_rng.below(8));
        const int src_n = m_rng.chance(85) ? 1 + static_cast<int>(m_rng.below(static_cast<std::uint32_t>(n))) : n + 4;
        const Label skip = m_e.label();
        bool wrong = slip();
        if (m_rng.chance(50)) {
            // Source below the destination so that the two never overlap.
            const int src = dst - round8(src_n) - 8 * static_cast<int>(m_rng.below(4));
            if (!is_number(src, src_n)) {
                fill_stack(src, src_n, wrong);
            }
            mov_r(R3, R10);
            add(R3, src);
        } else {
            note_size(src_n);
            mov_r(R2, kData);
            add(R2, src_n - (wrong ? 1 : 0));
            jump_r(isa::op::JGT, R2, kEnd, skip);
            mov_r(R3, kData);
        }
        wrong = !wrong && slip();
        mov_r(R1, R10);
        add(R1, dst);
        mov(R2, wrong ? -dst + 1 : n);
        mov(R4, src_n);
        call(22);
        fold(R0);
        m_e.bind(skip);
        if (!wrong && src_n <= n && on_stack(dst, n)) {
            // memcpy_s writes the source's bytes when they fit, and nothing when they do not.
            const Stack before = m_stack;
            clobbered(dst, n);
            wrote(dst, src_n);
            m_stack = meet(before, m_stack); // the packet path may have skipped the copy
        } else {
            clobbered(dst, -dst);
        }
    }

    void alu_piece() {
        static constexpr std::array<std::uint8_t, 12> kOps{isa::op::ADD, isa::op::SUB, isa::op::MUL,  isa::op::DIV,
                                                           isa::op::OR,  isa::op::AND, isa::op::LSH,  isa::op::RSH,
                                                           isa::op::MOD, isa::op::XOR, isa::op::ARSH, isa::op::MOV};
        for (std::uint32_t n = 1 + m_rng.below(3); n > 0; --n) {
            const bool is64 = m_rng.chance(70);
            const std::uint8_t code = m_rng.pick(std::span<const std::uint8_t>(kOps));
            switch (m_rng.below(8)) {
            case 0:
            case 1:
            case 2:
            case 3: {
                std::int32_t imm = small_imm();
                if (code == isa::op::LSH || code == isa::op::RSH || code == isa::op::ARSH) {
                    imm = static_cast<std::int32_t>(m_rng.below(is64 ? 64 : 32));
                } else if (code == isa::op::DIV || code == isa::op::MOD) {
                    imm = 1 + static_cast<std::int32_t>(m_rng.below(1000));
                } else if (code == isa::op::MOV && m_rng.chance(70)) {
                    break; // resetting the accumulator throws away what the program computed
                }
                alu(code, kAcc, imm, is64);
                break;
            }
            case 4:
            case 5: {
                // Division and modulo by a register may divide by zero, which eBPF defines.
                mov_r(R3, kAcc);
                alu(isa::op::RSH, R3, static_cast<std::int32_t>(m_rng.below(64)));
                if (code == isa::op::LSH || code == isa::op::RSH || code == isa::op::ARSH) {
                    alu(isa::op::AND, R3, is64 ? 63 : 31);
                }
                alu_r(code == isa::op::MOV ? isa::op::XOR : code, kAcc, R3, is64);
                break;
            }
            case 6:
                if (m_rng.chance(50)) {
                    m_e.emit(isa::make((is64 ? isa::op::ALU64 : isa::op::ALU) | isa::op::NEG, kAcc));
                } else {
                    static constexpr std::array<std::int32_t, 3> kBits{16, 32, 64};
                    const std::uint8_t order = m_rng.chance(50) ? isa::op::TO_BE : isa::op::TO_LE;
                    const std::int32_t bits = m_rng.pick(std::span<const std::int32_t>(kBits));
                    m_e.emit(isa::make(isa::op::ALU | isa::op::END | order, kAcc, 0, 0, bits));
                }
                break;
            default:
                // ISA v4: signed division and modulo (offset 1), sign-extending moves.
                if (m_rng.chance(50)) {
                    const std::uint8_t division = m_rng.chance(50) ? isa::op::DIV : isa::op::MOD;
                    const auto divisor = static_cast<std::int32_t>(m_rng.between(-100, 100)) | 1;
                    m_e.emit(
                        isa::make((is64 ? isa::op::ALU64 : isa::op::ALU) | division | isa::op::K, kAcc, 0, 1, divisor));
                } else {
                    static constexpr std::array<std::int16_t, 3> kExtend{8, 16, 32};
                    m_e.emit(isa::make(isa::op::ALU64 | isa::op::MOV | isa::op::X, kAcc, kAcc,
                                       m_rng.pick(std::span<const std::int16_t>(kExtend))));
                }
                break;
            }
        }
    }

    void condition(Label target) {
        static constexpr std::array<std::uint8_t, 11> kJumps{isa::op::JEQ,  isa::op::JNE,  isa::op::JGT,  isa::op::JGE,
                                                             isa::op::JLT,  isa::op::JLE,  isa::op::JSET, isa::op::JSGT,
                                                             isa::op::JSGE, isa::op::JSLT, isa::op::JSLE};
        const std::uint8_t code = m_rng.pick(std::span<const std::uint8_t>(kJumps));
        const bool is32 = m_rng.chance(20);
        if (m_rng.chance(25)) {
            mov_r(R3, kAcc);
            alu(isa::op::RSH, R3, static_cast<std::int32_t>(m_rng.below(64)));
            jump_r(code, kAcc, R3, target, is32);
        } else {
            jump(code, kAcc, small_imm(), target, is32);
        }
    }

    void branch() {
        const Label other = m_e.label();
        condition(other);
        const Stack before = m_stack;
        ++m_depth;
        for (std::uint32_t n = 1 + m_rng.below(3); n > 0; --n) {
            piece();
        }
        const Stack then_state = m_stack;
        if (m_rng.chance(40)) {
            const Label done = m_e.label();
            ja(done);
            m_e.bind(other);
            m_stack = before;
            for (std::uint32_t n = 1 + m_rng.below(2); n > 0; --n) {
                piece();
            }
            m_stack = meet(then_state, m_stack);
            m_e.bind(done);
        } else {
            m_e.bind(other);
            m_stack = meet(before, then_state);
        }
        --m_depth;
    }

    void loop_body() {
        const bool was = m_in_loop;
        m_in_loop = true;
        ++m_depth;
        for (std::uint32_t n = 1 + m_rng.below(3); n > 0; --n) {
            piece();
        }
        --m_depth;
        m_in_loop = was;
    }

    void loop() {
        if (m_in_loop) {
            alu_piece();
            return;
        }
        const auto count = static_cast<std::int32_t>(1 + m_rng.below(m_options.max_loop_iterations));
        const Label head = m_e.label();
        const Label done = m_e.label();
        const Stack before = m_stack;
        const std::uint32_t mistake = slip() ? 1 + m_rng.below(3) : 0;
        note_size(count);
        note_size(count + 8);
        // Counting down is rarer: the verifier bounds loops by counters that go up.
        const std::uint32_t roll = m_rng.below(20);
        std::uint32_t form = roll < 7 ? 0 : roll < 14 ? 1 : roll < 18 ? 2 : 3;
        if (form == 3 && !m_options.countdown_loops) {
            form = roll % 3;
        }
        switch (form) {
        case 0: // for (i = 0; i < n; i++), compiled as a do-while
            mov(kCounter, 0);
            m_e.bind(head);
            loop_body();
            if (mistake == 1) {
                add(kCounter, 2);
                jump(isa::op::JNE, kCounter, count | 1, head); // steps over the end
            } else if (mistake == 2) {
                jump_r(isa::op::JLT, kCounter, kAcc, head); // no increment, unbounded limit
            } else {
                alu(isa::op::ADD, kCounter, 1, !m_rng.chance(30)); // `w5 += 1` as often as `r5 += 1`
                jump(isa::op::JLT, kCounter, count, head, m_rng.chance(20));
            }
            break;
        case 1: // while (i < n)
            mov(kCounter, 0);
            m_e.bind(head);
            jump(mistake != 0 ? isa::op::JEQ : isa::op::JGE, kCounter, mistake != 0 ? count | 1 : count, done);
            loop_body();
            alu(isa::op::ADD, kCounter, mistake != 0 ? 2 : 1, !m_rng.chance(30));
            ja(head);
            m_e.bind(done);
            m_stack = meet(before, m_stack);
            break;
        case 2: // for (i = 0; i < n; i++) { ...; if (x) break; }
            mov(kCounter, 0);
            m_e.bind(head);
            loop_body();
            condition(done);
            add(kCounter, mistake != 0 ? 0 : 1);
            jump(isa::op::JLT, kCounter, count, head);
            m_e.bind(done);
            break;
        default: // a countdown, from a constant or from a masked number
            if (mistake != 0) {
                mov_r(kCounter, kAcc);
            } else if (m_rng.chance(50)) {
                mov(kCounter, count);
            } else {
                std::int32_t mask = 1;
                while (mask * 2 + 1 <= count) {
                    mask = mask * 2 + 1;
                }
                mov_r(kCounter, kAcc);
                alu(isa::op::AND, kCounter, mask);
                jump(isa::op::JEQ, kCounter, 0, done);
            }
            m_e.bind(head);
            loop_body();
            alu(isa::op::SUB, kCounter, 1);
            if (m_rng.chance(50)) {
                jump(isa::op::JNE, kCounter, 0, head);
            } else {
                jump(isa::op::JSGT, kCounter, 0, head);
            }
            m_e.bind(done);
            m_stack = meet(before, m_stack);
            break;
        }
    }

    // Inside a loop: the byte at data + counter, checked against data_end.
    void counter_access() {
        const Width w = width();
        const Label skip = m_e.label();
        mov_r(R2, kData);
        alu_r(isa::op::ADD, R2, kCounter);
        mov_r(R3, R2);
        add(R3, w.bytes - (slip() ? 1 : 0));
        jump_r(isa::op::JGT, R3, kEnd, skip);
        access(R2, 0, w, m_xdp);
        m_e.bind(skip);
    }

    void ctx_piece() {
        if (m_xdp) {
            if (slip()) {
                switch (m_rng.below(4)) {
                case 0: ldx(isa::op::W, R3, kCtx, 28); break;   // padding
                case 1: ldx(isa::op::DW, R3, kCtx, 24); break;  // ifindex and the padding after it
                case 2: stx(isa::op::W, kCtx, 24, kAcc); break; // read-only
                default: ldx(isa::op::W, R3, kCtx, 32); break;  // past the end
                }
                fold(R3);
                return;
            }
            const Width w = width_at_most(4);
            ldx(w.size, R3, kCtx,
                24 + w.bytes * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(4 / w.bytes))));
            fold(R3);
            return;
        }
        if (slip()) {
            switch (m_rng.below(4)) {
            case 0: stx(isa::op::DW, kCtx, 16, kAcc); break;   // process_id is read-only
            case 1: ldx(isa::op::B, R3, kCtx, 41); break;      // padding
            case 2: ldx(isa::op::W, R3, kCtx, 38); break;      // straddles socket_address's end
            default: stx(isa::op::DW, kCtx, 24, kData); break; // a pointer into the context
            }
            fold(R3);
            return;
        }
        switch (m_rng.below(5)) {
        case 0: ldx(isa::op::DW, R3, kCtx, 16); break;
        case 1: ldx(isa::op::B, R3, kCtx, m_rng.chance(50) ? 40 : 48); break;
        case 2: ldx(isa::op::W, R3, kCtx, 44); break;
        case 3: {
            const Width w = width();
            ldx(w.size, R3, kCtx,
                24 + w.bytes * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(16 / w.bytes))));
            break;
        }
        default: {
            const Width w = width();
            const int at = 24 + w.bytes * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(16 / w.bytes)));
            if (m_rng.chance(50)) {
                stx(w.size, kCtx, at, kAcc);
            } else {
                st(w.size, kCtx, at, small_imm());
            }
            return;
        }
        }
        fold(R3);
    }

    // bpf_xdp_adjust_head moves the packet: every packet pointer must be loaded again.
    void adjust_head() {
        mov_r(R1, kCtx);
        mov(R2, static_cast<std::int32_t>(m_rng.between(-16, 16)));
        call(kAdjustHead);
        m_adjusted = true;
        fold(R0);
        for (auto it = m_stack.spills.begin(); it != m_stack.spills.end();) {
            it = it->second != PointerKind::ctx ? m_stack.spills.erase(it) : std::next(it);
        }
        if (!slip()) {
            ldx(isa::op::DW, kData, kCtx, 0);
            ldx(isa::op::DW, kEnd, kCtx, 8);
        }
    }

    // The metadata in front of the packet (up to 16 bytes in the soundness runs), checked against data; planted
    // errors: a check one byte short, or a read below data_meta.
    void meta() {
        const Width w = width();
        const Label skip = m_e.label();
        ldx(isa::op::DW, R2, kCtx, 16);
        mov_r(R3, R2);
        add(R3, w.bytes - (slip() ? 1 : 0));
        jump_r(isa::op::JGT, R3, kData, skip);
        ldx(w.size, R4, R2, slip() ? -1 : 0);
        fold(R4);
        m_e.bind(skip);
    }

    void early_exit() {
        if (m_rng.chance(50)) {
            const Label go_on = m_e.label();
            condition(go_on);
            set_return();
            exit();
            m_e.bind(go_on);
        } else {
            condition(m_exit);
        }
    }

    // LD_ABS or LD_IND of the data range through the context in r6: in range, past its end (the program ends with
    // r0 = 0) or at a negative offset. A slip moves r6 off the context first, which the verifier must refuse.
    void legacy_load() {
        static constexpr std::array<std::uint8_t, 3> kSizes{isa::op::B, isa::op::H, isa::op::W};
        const std::uint8_t size = kSizes[m_rng.below(3)];
        const bool moved = slip();
        if (moved) {
            add(kCtx, 8);
        }
        std::int32_t imm = static_cast<std::int32_t>(m_rng.below(24));
        if (m_rng.chance(10)) {
            imm = m_rng.chance(50) ? -static_cast<std::int32_t>(m_rng.below(8)) - 1 : 1 << m_rng.below(31);
        }
        if (m_rng.chance(50)) {
            m_e.emit(isa::make(isa::op::LD | isa::op::ABS | size, 0, 0, 0, imm));
        } else {
            mov_r(R3, kAcc);
            alu(isa::op::AND, R3, 31);
            m_e.emit(isa::make(isa::op::LD | isa::op::IND | size, 0, R3, 0, imm));
        }
        if (moved) {
            add(kCtx, -8);
        }
        fold(R0);
    }

    // A bpf-to-bpf call: the callee gets a buffer in the caller's frame (r1, r1 + size), a number (r2) and the
    // packet (r3, r4), and returns a number. Callees come after the main program's exit.
    void call_local() {
        Subprogram subprogram{m_e.label(), 8 * (1 + static_cast<int>(m_rng.below(4))), false};
        const int buffer = stack_buffer(subprogram.buffer);
        if (!is_number(buffer, subprogram.buffer)) {
            fill_stack(buffer, subprogram.buffer, slip());
        }
        subprogram.past_r10 = buffer + subprogram.buffer == 0;
        mov_r(R1, R10);
        add(R1, buffer);
        mov_r(R2, kAcc);
        mov_r(R3, kData);
        mov_r(R4, kEnd);
        m_e.jump(isa::op::CALL_OP, 0, static_cast<int>(isa::CallSource::local), 0, subprogram.entry);
        fold(R0);
        m_subprograms.push_back(subprogram);
    }

    // bpf_loop over an array of 8-byte slots on the stack, the callback indexing it by its index; or
    // for_each_map_elem over a keyed map, the callback reading the key copy and the value, writing the value and
    // adding to a slot of the caller's stack.
    void callback() {
        Callback cb{m_e.label(), kNoMap, 8, false, m_rng.chance(30)};
        const bool walk = m_keyed > 0 && m_rng.chance(40);
        if (walk) {
            cb.map = keyed_map();
        } else {
            cb.buffer = 8 * (1 + static_cast<int>(m_rng.below(4)));
        }
        cb.null_ctx = m_rng.chance(10);
        const int buffer = stack_buffer(cb.buffer);
        if (!cb.null_ctx && !is_number(buffer, cb.buffer)) {
            fill_stack(buffer, cb.buffer, slip());
        }
        if (walk) {
            lddw_map(R1, cb.map);
        } else {
            // Calls with the indexes 0 .. nr_loops - 1: within the slots, or one past them.
            const int slots = cb.buffer / 8;
            if (m_rng.chance(50)) {
                mov(R1, slots - (slip() ? 0 : 1) + 1);
            } else {
                int mask = 1;
                while (mask * 2 <= slots) {
                    mask *= 2;
                }
                mov_r(R1, kAcc);
                alu(isa::op::AND, R1, (slip() ? mask * 2 : mask) - 1);
                add(R1, 1);
            }
        }
        m_e.jump(isa::op::LDDW, R2, static_cast<int>(isa::LddwSource::code_address), 0, cb.entry);
        m_e.emit(isa::make(0));
        if (cb.null_ctx) {
            mov(R3, 0);
        } else {
            mov_r(R3, R10);
            add(R3, buffer);
        }
        mov(R4, 0);
        call(walk ? 164U : 181U);
        fold(R0);
        m_callbacks.push_back(cb);
    }

    void callback_body(const Callback& cb) {
        m_e.bind(cb.entry);
        const Label out = m_e.label();
        mov(R0, 0);
        const int ctx = cb.map == kNoMap ? R2 : R4;
        if (cb.null_ctx || cb.check_null) {
            if (!slip() || !cb.null_ctx) {
                jump(isa::op::JEQ, ctx, 0, out);
            }
        }
        if (cb.map == kNoMap) {
            // The slot of this index.
            alu(isa::op::LSH, R1, 3);
            alu_r(isa::op::ADD, R2, R1);
            ldx(isa::op::DW, R3, R2, 0);
            alu_r(isa::op::ADD, R3, R1);
            stx(isa::op::DW, R2, 0, R3);
        } else {
            const verifier::MapDescriptor& map = m_out.maps[cb.map];
            const Width k = width_at_most(static_cast<int>(map.key_size));
            int at = static_cast<int>(m_rng.below(map.key_size - static_cast<std::uint32_t>(k.bytes) + 1));
            if (slip()) {
                at = static_cast<int>(map.key_size) - k.bytes + 1; // past the key copy: unwritten stack
            }
            ldx(k.size, R5, R2, at);
            const Width v = width_at_most(static_cast<int>(map.value_size));
            int from = static_cast<int>(m_rng.below(map.value_size - static_cast<std::uint32_t>(v.bytes) + 1));
            if (slip()) {
                from = static_cast<int>(map.value_size) - v.bytes + 1; // past the value
            }
            ldx(v.size, R0, R3, from);
            alu_r(isa::op::ADD, R5, R0);
            if (!map.read_only || slip()) {
                stx(v.size, R3, from, R5);
            }
            ldx(isa::op::DW, R1, R4, 0);
            alu_r(isa::op::XOR, R1, R5);
            stx(isa::op::DW, R4, 0, R1);
            mov(R0, 0);
        }
        m_e.bind(out);
        switch (m_rng.below(4)) {
        case 0: mov(R0, 1); break; // stop
        case 1:
            if (cb.map != kNoMap) {
                break;
            }
            // Stop or go on by the index.
            mov_r(R0, R1);
            alu(isa::op::AND, R0, slip() ? 3 : 1);
            break;
        default: break; // go on
        }
        if (slip()) {
            mov(R0, 2); // not 0 or 1
        }
        exit();
    }

    void subprogram_body(const Subprogram& subprogram) {
        m_e.bind(subprogram.entry);
        mov(R0, 0);
        const Width w = width_at_most(subprogram.buffer);
        int at = static_cast<int>(m_rng.below(static_cast<std::uint32_t>(subprogram.buffer - w.bytes + 1)));
        if (subprogram.past_r10 && slip()) {
            at = subprogram.buffer - w.bytes + 1; // past the caller's r10
        }
        ldx(w.size, R5, R1, at);
        alu_r(isa::op::ADD, R0, R5);
        const Width s = width_at_most(subprogram.buffer);
        stx(s.size, R1,
            s.bytes * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(subprogram.buffer / s.bytes))), R2);
        // The callee's own frame.
        const int slot = -8 * (1 + static_cast<int>(m_rng.below(8)));
        stx(isa::op::DW, R10, slot, R2);
        ldx(isa::op::DW, R5, R10, slot);
        alu_r(isa::op::XOR, R0, R5);
        // The packet, checked against the end the caller passed.
        const int needed = 1 + static_cast<int>(m_rng.below(24));
        note_size(needed);
        const Label skip = m_e.label();
        mov_r(R5, R3);
        add(R5, needed);
        jump_r(isa::op::JGT, R5, R4, skip);
        ldx(isa::op::B, R5, R3, needed - (slip() ? 0 : 1));
        alu_r(isa::op::ADD, R0, R5);
        m_e.bind(skip);
        exit();
    }

    // An atomic operation on a stack slot or, planted as an error, on the packet: its alignment is the host's, and
    // an atomic operation needs a natural one.
    void atomic() {
        const bool wide = m_rng.chance(60);
        const int bytes = wide ? 8 : 4;
        const Label skip = m_e.label();
        int base = R10;
        int offset = 0;
        if (m_rng.chance(70) || !slip()) {
            offset = -static_cast<int>(8 * (1 + m_rng.below(32)));
            if (!wide && m_rng.chance(50)) {
                offset += 4;
            }
            if (slip()) {
                offset += 2; // misaligned
            }
            if (!is_number(offset, bytes) && !slip()) {
                stx(wide ? isa::op::DW : isa::op::W, R10, offset, kAcc);
                wrote(offset, bytes);
            }
        } else {
            base = kData;
            offset = bytes * static_cast<int>(m_rng.below(8));
            note_size(offset + bytes);
            mov_r(R2, kData);
            add(R2, offset + bytes - (m_rng.chance(20) ? 1 : 0));
            jump_r(isa::op::JGT, R2, kEnd, skip);
        }
        static constexpr std::array<std::int32_t, 7> kAtomics{
            isa::op::ATOMIC_ADD, isa::op::ATOMIC_OR, isa::op::ATOMIC_XOR | isa::op::FETCH,
            isa::op::ATOMIC_AND, isa::op::XCHG,      isa::op::ATOMIC_ADD | isa::op::FETCH,
            isa::op::CMPXCHG};
        const std::int32_t op = m_rng.pick(std::span<const std::int32_t>(kAtomics));
        mov_r(R3, kAcc);
        if (op == isa::op::CMPXCHG) {
            mov(R0, small_imm());
        }
        m_e.emit(isa::make(isa::op::STX | isa::op::ATOMIC | (wide ? isa::op::DW : isa::op::W), base, R3,
                           static_cast<std::int16_t>(offset), op));
        if (op == isa::op::CMPXCHG) {
            fold(R0);
        } else if ((op & isa::op::FETCH) != 0) {
            fold(R3);
        }
        m_e.bind(skip);
    }

    // --- pieces that probe the holes of a verifier taking distinct things as one -----------------------------------

    // An access no sound verifier lets a program make on a path it can reach: planted where a verifier that took two
    // objects as one, or offsets as unbounded integers, would see a dead path.
    void canary() {
        switch (m_rng.below(3)) {
        case 0: ldx(isa::op::DW, R3, R10, 8); break;                                     // above the stack
        case 1: ldx(isa::op::B, R3, R10, -static_cast<int>(isa::kStackSize) - 1); break; // below it
        default: ldx(isa::op::DW, R3, kCtx, 4096); break;                                // past the context
        }
        fold(R3);
    }

    // Looks up `key` in map `index`; r0 is the value, and a null result goes to `null`.
    void lookup(std::size_t index, std::uint64_t key, Label null, int spread = 4) {
        const verifier::MapDescriptor& map = m_out.maps[index];
        const int key_offset = stack_buffer(static_cast<int>(map.key_size), spread);
        write_key(key_offset, map.key_size, key, false);
        lddw_map(R1, index);
        mov_r(R2, R10);
        add(R2, key_offset);
        call(1);
        jump(isa::op::JEQ, R0, 0, null);
    }
    std::uint64_t other_key(const verifier::MapDescriptor& map, std::uint64_t key) {
        const std::uint64_t other = m_rng.chance(80) ? (key + 1) % (map.max_entries + 1) : pick_key(map);
        if (std::find(m_out.keys.begin(), m_out.keys.end(), other) == m_out.keys.end()) {
            m_out.keys.push_back(other);
        }
        return other;
    }
    // A slot for a pointer, below the key buffers of lookups.
    int pointer_slot() { return -static_cast<int>(264 + 8 * m_rng.below(30)); }

    // Two lookups (one map, two keys; or two maps), the first value kept on the stack: the two are compared or
    // subtracted. A verifier that takes them for one object finds a comparison always true or false, or a difference
    // it knows, and a planted access on the path it thinks dead (or at the difference) shows it.
    void two_objects() {
        if (m_keyed == 0) {
            alu_piece();
            return;
        }
        const Stack before = m_stack;
        const Label skip = m_e.label();
        const std::size_t first = keyed_map();
        // Values of two maps are two regions: comparing them at all is refused, so that is a planted error.
        const std::size_t second = m_keyed > 1 && slip() ? keyed_map() : first;
        const std::uint64_t key = pick_key(m_out.maps[first]);
        lookup(first, key, skip);
        const int slot = pointer_slot();
        stx(isa::op::DW, R10, slot, R0);
        wrote(slot, 8, Byte::pointer);
        lookup(second, second == first ? other_key(m_out.maps[first], key) : pick_key(m_out.maps[second]), skip);
        ldx(isa::op::DW, R1, R10, slot);
        // r1 = the first value + c1, r0 = the second + c0.
        const auto size0 = static_cast<std::int32_t>(m_out.maps[second].value_size);
        const auto size1 = static_cast<std::int32_t>(m_out.maps[first].value_size);
        const std::int32_t c0 = m_rng.chance(60) ? 0 : static_cast<std::int32_t>(m_rng.below(size0));
        const std::int32_t c1 = m_rng.chance(60) ? 0 : static_cast<std::int32_t>(m_rng.below(size1));
        if (c0 != 0) {
            add(R0, c0);
        }
        if (c1 != 0) {
            add(R1, c1);
        }
        auto safe_reads = [&] {
            ldx(isa::op::B, R3, R0, size0 - c0 - 1);
            fold(R3);
            ldx(isa::op::B, R3, R1, -c1);
            fold(R3);
        };
        // Ordering two objects or taking their distance tells where the host put them: a sound verifier refuses
        // both, so they are planted errors; == and != are fine.
        const bool leak = slip();
        if (!leak || m_rng.chance(55)) {
            static constexpr std::array<std::uint8_t, 2> kEquality{isa::op::JEQ, isa::op::JNE};
            static constexpr std::array<std::uint8_t, 6> kOrder{isa::op::JLT, isa::op::JGT,  isa::op::JLE,
                                                                isa::op::JGE, isa::op::JSLT, isa::op::JSGT};
            const std::uint8_t code = leak ? m_rng.pick(std::span<const std::uint8_t>(kOrder))
                                           : m_rng.pick(std::span<const std::uint8_t>(kEquality));
            // What a verifier that sees one object at offsets c0 and c1 concludes.
            bool taken = false;
            switch (code) {
            case isa::op::JEQ: taken = c0 == c1; break;
            case isa::op::JNE: taken = c0 != c1; break;
            case isa::op::JLT:
            case isa::op::JSLT: taken = c0 < c1; break;
            case isa::op::JGT:
            case isa::op::JSGT: taken = c0 > c1; break;
            case isa::op::JLE: taken = c0 <= c1; break;
            default: taken = c0 >= c1; break;
            }
            const Label target = m_e.label();
            const Label done = m_e.label();
            const bool plant = slip();
            jump_r(code, R0, R1, target);
            if (plant && taken) {
                canary();
            } else {
                safe_reads();
            }
            ja(done);
            m_e.bind(target);
            if (plant && !taken) {
                canary();
            } else {
                safe_reads();
            }
            m_e.bind(done);
        } else {
            // The distance between the two values, as an offset into the stack (a verifier that took them for one
            // object knows it as c0 - c1), or folded in as a number.
            mov_r(R3, R0);
            alu_r(isa::op::SUB, R3, R1);
            if (slip()) {
                mov_r(R2, R10);
                add(R2, -8 - (c0 - c1));
                alu_r(isa::op::ADD, R2, R3);
                ldx(isa::op::B, R3, R2, 0);
            }
            fold(R3);
            safe_reads();
        }
        m_e.bind(skip);
        m_stack = meet(before, m_stack);
    }

    static constexpr std::array<std::int64_t, 10> kBigOffsets{std::int64_t{1} << 62,
                                                              -(std::int64_t{1} << 62),
                                                              std::numeric_limits<std::int64_t>::min(),
                                                              std::numeric_limits<std::int64_t>::max(),
                                                              std::int64_t{1} << 32,
                                                              -(std::int64_t{1} << 32),
                                                              std::int64_t{1} << 40,
                                                              -(std::int64_t{1} << 48),
                                                              -512,
                                                              65536};
    // Offsets a pointer may carry: [-2^15, 2^29]. Beyond them an address may wrap or reach 0.
    static bool offset_in_range(std::int64_t k) { return k >= -(std::int64_t{1} << 15) && k <= std::int64_t{1} << 29; }
    // An offset outside that range only as a planted error.
    std::int64_t big_offset_value() {
        const bool far = slip();
        for (;;) {
            const std::int64_t k = m_rng.chance(75) ? m_rng.pick(std::span<const std::int64_t>(kBigOffsets))
                                                    : static_cast<std::int64_t>(m_rng.bits()) >> m_rng.below(64);
            if (offset_in_range(k) != far) {
                return k;
            }
        }
    }
    void lddw(int dst, std::int64_t value) {
        const auto bits = static_cast<std::uint64_t>(value);
        m_e.emit(isa::make(isa::op::LDDW, dst, 0, 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(bits))));
        m_e.emit(isa::make(0, 0, 0, 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(bits >> 32))));
    }

    // A pointer plus an offset up to +-2^63: compared with its base (where wrap-around decides), taken back by the
    // same amount and used (which is fine), or used as it is (which never is).
    void big_offset() {
        const std::int64_t k = big_offset_value();
        static constexpr std::array<int, 3> kBases{R10, kData, kCtx};
        const int base = kBases[m_rng.below(3)];
        mov_r(R4, base);
        lddw(R3, k);
        alu_r(isa::op::ADD, R4, R3);
        switch (m_rng.below(3)) {
        case 0: {
            static constexpr std::array<std::uint8_t, 6> kJumps{isa::op::JGT, isa::op::JLT,  isa::op::JGE,
                                                                isa::op::JLE, isa::op::JSGT, isa::op::JSLT};
            const std::uint8_t code = m_rng.pick(std::span<const std::uint8_t>(kJumps));
            // Offsets taken as integers: base + k against base + 0.
            bool taken = false;
            switch (code) {
            case isa::op::JGT:
            case isa::op::JSGT: taken = k > 0; break;
            case isa::op::JLT:
            case isa::op::JSLT: taken = k < 0; break;
            case isa::op::JGE: taken = k >= 0; break;
            default: taken = k <= 0; break;
            }
            const Label target = m_e.label();
            const Label done = m_e.label();
            const bool plant = slip();
            jump_r(code, R4, base, target);
            if (plant && taken) {
                canary();
            }
            ja(done);
            m_e.bind(target);
            if (plant && !taken) {
                canary();
            }
            m_e.bind(done);
            break;
        }
        case 1: {
            // Back by the same amount: the base again.
            alu_r(isa::op::SUB, R4, R3);
            int slot = 0;
            if (base == R10 && find_number(8, slot)) {
                ldx(isa::op::DW, R3, R4, slot);
                fold(R3);
            } else if (base == kCtx) {
                ldx(isa::op::W, R3, R4, m_xdp ? 24 : 44);
                fold(R3);
            }
            break;
        }
        default:
            if (base == kData) {
                // The packet check a program would make: base + k + 8 against data_end.
                const Label skip = m_e.label();
                const bool plant = slip();
                mov_r(R2, R4);
                add(R2, 8);
                jump_r(isa::op::JGT, R2, kEnd, skip);
                if (plant) {
                    ldx(isa::op::DW, R3, R4, 0);
                    fold(R3);
                }
                m_e.bind(skip);
            } else if (slip()) {
                ldx(isa::op::B, R3, R4, 0);
                fold(R3);
            }
            break;
        }
    }

    // A helper that writes a stack buffer (memcpy_s, memmove_s, memset, strncpy_s, strncat_s), maybe over a spilled
    // pointer, then reads of the buffer: of bytes its contract proves written, or (planted) of others.
    void helper_write() {
        const int size = 1 + static_cast<int>(m_rng.below(64));
        const int dst = -round8(size) - 8 * static_cast<int>(m_rng.below(6));
        static constexpr std::array<std::uint32_t, 5> kHelpers{22, 25, 24, 27, 28};
        const std::uint32_t helper = m_rng.pick(std::span<const std::uint32_t>(kHelpers));
        // A pointer spilled inside the buffer: after the call it is gone, or still there when the helper wrote
        // nothing over it.
        int spill_at = 1;
        // strncat_s appends to the string its buffer holds: the buffer must be initialized first (a planted error
        // when not), and then every byte of it stays initialized.
        const bool appends = helper == 28;
        if (appends && !slip()) {
            fill_stack(dst, size, false);
        } else if (size >= 8 && m_rng.chance(30)) {
            spill_at = dst + 8 * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size / 8)));
            stx(isa::op::DW, R10, spill_at, m_rng.chance(50) ? kCtx : kData);
            wrote(spill_at, 8, Byte::pointer);
        }
        int written = 0; // the first `written` bytes of the buffer, proven
        if (helper == 24) {
            mov_r(R1, R10);
            add(R1, dst);
            mov(R2, size);
            mov(R3, static_cast<std::int32_t>(m_rng.below(256)));
            written = size;
        } else {
            // The source: initialized stack below the buffer, `n` bytes; n > size makes memcpy_s fail.
            const int n = m_rng.chance(80) ? 1 + static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size)))
                                           : size + 1 + static_cast<int>(m_rng.below(8));
            const int src = dst - round8(n) - 8 * static_cast<int>(m_rng.below(3));
            if (!on_stack(src, n)) {
                return;
            }
            if (!is_number(src, n)) {
                fill_stack(src, n, false);
            }
            mov_r(R1, R10);
            add(R1, dst);
            mov(R2, size);
            mov_r(R3, R10);
            add(R3, src);
            mov(R4, n);
            written = (helper == 22 || helper == 25) && n <= size ? n : 0;
            if (appends && is_number(dst, size)) {
                written = size;
            }
        }
        call(helper);
        fold(R0);
        clobbered(dst, size);
        wrote(dst, written);
        for (std::uint32_t reads = 1 + m_rng.below(3); reads > 0; --reads) {
            const Width w = width_at_most(size);
            int at = dst + static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size - w.bytes + 1)));
            if (!is_number(at, w.bytes) && !slip()) {
                if (written < w.bytes) {
                    continue;
                }
                at = dst + static_cast<int>(m_rng.below(static_cast<std::uint32_t>(written - w.bytes + 1)));
            }
            ldx(w.size, R3, R10, at);
            fold(R3);
        }
        if (spill_at <= 0 && slip()) {
            // The spilled pointer, used as one (a verifier that ignored the helper's writes) or stored into the
            // packet (a verifier that took the slot as written over).
            ldx(isa::op::DW, R3, R10, spill_at);
            if (m_rng.chance(50) || !m_xdp) {
                ldx(isa::op::B, R4, R3, 0);
                fold(R4);
            } else {
                const Label skip = m_e.label();
                mov_r(R2, kData);
                add(R2, 8);
                jump_r(isa::op::JGT, R2, kEnd, skip);
                stx(isa::op::DW, kData, 0, R3);
                m_e.bind(skip);
                note_size(8);
            }
        }
    }

    // map_pop_elem or map_peek_elem into a stack buffer: nothing is written when the queue is empty.
    void queue_pop() {
        const verifier::MapDescriptor& map = m_out.maps[m_queue];
        const int size = static_cast<int>(map.value_size);
        const int dst = stack_buffer(size, 4);
        if (m_rng.chance(30)) {
            fill_stack(dst, size, false);
        }
        lddw_map(R1, m_queue);
        mov_r(R2, R10);
        add(R2, dst);
        call(m_rng.chance(50) ? 17 : 18);
        const bool checked = m_rng.chance(50);
        const Label skip = m_e.label();
        if (checked) {
            jump(isa::op::JNE, R0, 0, skip); // 0 on success: the value is there
        }
        fold(R0);
        clobbered(dst, size);
        const Width w = width_at_most(size);
        const int at = dst + static_cast<int>(m_rng.below(static_cast<std::uint32_t>(size - w.bytes + 1)));
        if (is_number(at, w.bytes) || slip()) {
            ldx(w.size, R3, R10, at);
            fold(R3);
        }
        m_e.bind(skip);
    }

    // A map value pointer copied (to a register or the stack) before one copy is checked against null: the check
    // covers every copy. Planted: before the check, the original is replaced by another nullable value (an earlier
    // lookup's, from the stack), which the check does not cover.
    // A value's lock taken, a field of the value used under it, the lock released. Planted: no null check, the lock's
    // offset off by 4, the lock taken twice, a helper called under it, the lock's own word used, no release.
    void spin_lock() {
        const verifier::MapDescriptor& map = m_out.maps[m_locked];
        const int lock = static_cast<int>(*map.spin_lock);
        const int key_offset = stack_buffer(4);
        write_key(key_offset, 4, pick_key(map), false);
        lddw_map(R1, m_locked);
        mov_r(R2, R10);
        add(R2, key_offset);
        call(1);
        const Label skip = m_e.label();
        const Stack before = m_stack;
        // One planted error at most: 1 no null check, 2 the offset, 3 twice, 4 the lock's word, 5 a helper, 6 no
        // release.
        const std::uint32_t planted = slip() ? 1 + m_rng.below(6) : 0;
        if (planted != 1) {
            jump(isa::op::JEQ, R0, 0, skip);
        }
        const int slot = pointer_slot();
        stx(isa::op::DW, R10, slot, R0);
        wrote(slot, 8, Byte::pointer);
        auto lock_call = [&](std::int32_t id, bool off) {
            ldx(isa::op::DW, R1, R10, slot);
            add(R1, off ? lock + (lock == 0 || m_rng.chance(50) ? 4 : -4) : lock);
            call(id);
        };
        lock_call(93, planted == 2);
        if (planted == 3) {
            lock_call(93, false);
        }
        // A 4-byte field beside the lock (planted: the lock's own).
        int field = lock;
        if (planted != 4) {
            const int fields = static_cast<int>(map.value_size) / 4 - 1;
            field = 4 * static_cast<int>(m_rng.below(static_cast<std::uint32_t>(fields)));
            if (field >= lock) {
                field += 4;
            }
        }
        ldx(isa::op::DW, R2, R10, slot);
        access(R2, field, kWidths[2], true);
        if (planted == 5) {
            call(6); // get_prandom_u32
        }
        if (planted != 6) {
            lock_call(94, false);
        }
        m_e.bind(skip);
        m_stack = meet(before, m_stack);
    }

    void nullable_copy() {
        if (m_keyed == 0) {
            alu_piece();
            return;
        }
        const Stack before = m_stack;
        const std::size_t index = keyed_map();
        const verifier::MapDescriptor& map = m_out.maps[index];
        const std::uint64_t key = pick_key(map);
        const bool planted = slip();
        const int earlier = pointer_slot();
        auto lookup_nullable = [&](std::uint64_t k) {
            const int key_offset = stack_buffer(static_cast<int>(map.key_size), 4);
            write_key(key_offset, map.key_size, k, false);
            lddw_map(R1, index);
            mov_r(R2, R10);
            add(R2, key_offset);
            call(1);
        };
        if (planted) {
            lookup_nullable(other_key(map, key));
            stx(isa::op::DW, R10, earlier, R0);
            wrote(earlier, 8, Byte::pointer);
        }
        lookup_nullable(key);
        const Label skip = m_e.label();
        const bool via_stack = m_rng.chance(35);
        int slot = pointer_slot();
        if (slot == earlier) {
            slot -= 8;
        }
        if (via_stack) {
            stx(isa::op::DW, R10, slot, R0);
            wrote(slot, 8, Byte::pointer);
        } else {
            mov_r(R1, R0);
        }
        if (planted) {
            ldx(isa::op::DW, R0, R10, earlier);
        }
        const int value = static_cast<int>(map.value_size);
        const int at = static_cast<int>(m_rng.below(static_cast<std::uint32_t>(value)));
        if (via_stack) {
            // Checked in r0 (planted: in a fill of the copy), used through a fill of the copy (planted: r0).
            if (planted) {
                ldx(isa::op::DW, R1, R10, slot);
                jump(isa::op::JEQ, R1, 0, skip);
                ldx(isa::op::B, R3, R0, at);
            } else {
                jump(isa::op::JEQ, R0, 0, skip);
                ldx(isa::op::DW, R1, R10, slot);
                ldx(isa::op::B, R3, R1, at);
            }
        } else {
            jump(isa::op::JEQ, R1, 0, skip);
            ldx(isa::op::B, R3, R0, at);
        }
        fold(R3);
        m_e.bind(skip);
        m_stack = meet(before, m_stack);
    }

    // A bounds check (or the packet's length, kept on the stack), then bpf_xdp_adjust_head, then the packet: facts
    // about the old packet say nothing about the new one. Planted: the access without a new check.
    void stale_packet() {
        const int needed = 1 + static_cast<int>(m_rng.below(32));
        note_size(needed);
        const Label skip = m_e.label();
        const bool by_length = m_rng.chance(40);
        const int slot = -static_cast<int>(8 * (1 + m_rng.below(40)));
        if (by_length) {
            mov_r(R3, kEnd);
            alu_r(isa::op::SUB, R3, kData);
            stx(isa::op::DW, R10, slot, R3);
            wrote(slot, 8);
        } else {
            mov_r(R2, kData);
            add(R2, needed);
            jump_r(isa::op::JGT, R2, kEnd, skip);
        }
        mov_r(R1, kCtx);
        mov(R2, static_cast<std::int32_t>(m_rng.between(-16, 16)));
        call(kAdjustHead);
        m_adjusted = true;
        fold(R0);
        for (auto it = m_stack.spills.begin(); it != m_stack.spills.end();) {
            it = it->second != PointerKind::ctx ? m_stack.spills.erase(it) : std::next(it);
        }
        ldx(isa::op::DW, kData, kCtx, 0);
        ldx(isa::op::DW, kEnd, kCtx, 8);
        if (by_length) {
            ldx(isa::op::DW, R3, R10, slot);
            jump(isa::op::JLT, R3, needed, skip);
        }
        if (!slip()) {
            mov_r(R2, kData);
            add(R2, needed);
            jump_r(isa::op::JGT, R2, kEnd, skip);
        }
        ldx(isa::op::B, R3, kData, needed - 1);
        fold(R3);
        m_e.bind(skip);
    }

    // The packet's length, shifted to index a map value: safe because no packet is longer than 65,535 bytes, unless
    // (planted) bpf_xdp_adjust_head grew it first.
    void length_index() {
        std::size_t index = kNoMap;
        for (std::size_t i = 0; i < m_keyed; ++i) {
            if (m_out.maps[i].value_size >= 8 && !m_out.maps[i].read_only) {
                index = i;
                break;
            }
        }
        // After bpf_xdp_adjust_head the packet may be longer than any the hook hands over: the piece is an error then.
        if (index == kNoMap || (m_adjusted && !slip())) {
            packet_const();
            return;
        }
        const verifier::MapDescriptor& map = m_out.maps[index];
        const auto value = static_cast<std::int64_t>(map.value_size);
        int shift = 0;
        while ((std::int64_t{0xFFFF} >> shift) + 1 > value) {
            ++shift;
        }
        m_out.packet_sizes.push_back(0xFFFF);
        m_out.packet_sizes.push_back(0xFFFF - (1 << shift) + 1);
        const Label skip = m_e.label();
        lookup(index, pick_key(map), skip);
        if (m_xdp && !m_adjusted && slip()) {
            m_adjusted = true;
            mov_r(kAcc, R0); // kept across the call; the accumulator starts again from it
            mov_r(R1, kCtx);
            mov(R2, -static_cast<std::int32_t>(1 + m_rng.below(16)));
            call(kAdjustHead);
            mov_r(R0, kAcc);
            for (auto it = m_stack.spills.begin(); it != m_stack.spills.end();) {
                it = it->second != PointerKind::ctx ? m_stack.spills.erase(it) : std::next(it);
            }
            ldx(isa::op::DW, kData, kCtx, 0);
            ldx(isa::op::DW, kEnd, kCtx, 8);
            mov(kAcc, 0);
        }
        mov_r(R3, kEnd);
        alu_r(isa::op::SUB, R3, kData);
        alu(isa::op::RSH, R3, shift);
        alu_r(isa::op::ADD, R0, R3);
        ldx(isa::op::B, R3, R0, 0);
        fold(R3);
        m_e.bind(skip);
    }

    // The packet's length as clang may compute `(int)(data_end - data)`: the low halves of the two pointers subtracted
    // in 32 bits (`w4 = w_end; w4 -= w_data`), a number that bounds an access as the length does. Slips: the halves
    // subtracted the other way round (the distance wraps to near 2^32 and bounds nothing), or a check one byte short.
    void low_half_length() {
        const Width w = width();
        const Label skip = m_e.label();
        const auto offset = static_cast<std::int32_t>(m_rng.below(40));
        const bool swapped = slip();
        const bool short_by_one = !swapped && slip();
        note_size(offset + w.bytes);
        alu_r(isa::op::MOV, R4, swapped ? kData : kEnd, false);
        alu_r(isa::op::SUB, R4, swapped ? kEnd : kData, false);
        jump(isa::op::JLT, R4, offset + w.bytes - (short_by_one ? 1 : 0), skip, m_rng.chance(30));
        access(kData, offset, w, m_xdp);
        fold(R4);
        m_e.bind(skip);
    }

    static constexpr std::size_t kNoMap = std::numeric_limits<std::size_t>::max();

    Entropy& m_rng;
    GeneratorOptions m_options;
    std::size_t m_keyed = 0;       // maps [0, m_keyed) have keys
    std::size_t m_queue = kNoMap;  // the queue or stack map, if any
    std::size_t m_locked = kNoMap; // the map whose value holds a bpf_spin_lock, if any
    bool m_adjusted = false;       // bpf_xdp_adjust_head was called: the packet may have grown past the hook's limit
    std::vector<Subprogram> m_subprograms;
    std::vector<Callback> m_callbacks;
    Emitter m_e;
    GeneratedProgram m_out;
    Stack m_stack;
    Label m_exit = 0;
    bool m_xdp = true;
    bool m_in_loop = false;
    int m_depth = 0;
    unsigned m_mistake_percent = 0;
    std::int64_t m_ret_min = 0;
    std::int64_t m_ret_max = 0;
};

} // namespace detail

/// A program from the next choices of `entropy`.
[[nodiscard]] inline GeneratedProgram generate_program(Entropy& entropy, const GeneratorOptions& options = {}) {
    return detail::Generator(entropy, options).run();
}

} // namespace embpf::fuzz
