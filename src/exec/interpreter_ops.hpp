// The interpreter's internal operations: one per instruction form, chosen once at pre-decode.
#pragma once

#include <cstdint>

namespace embpf::exec::detail {

// X(name): the handlers of the dispatch loop, in the order of the Op enumeration.
#define EMBPF_ALU_OPS(X, W)                                                                                            \
    X(ADD##W##_K)                                                                                                      \
    X(ADD##W##_X)                                                                                                      \
    X(SUB##W##_K)                                                                                                      \
    X(SUB##W##_X)                                                                                                      \
    X(MUL##W##_K)                                                                                                      \
    X(MUL##W##_X)                                                                                                      \
    X(DIV##W##_K)                                                                                                      \
    X(DIV##W##_X)                                                                                                      \
    X(SDIV##W##_K)                                                                                                     \
    X(SDIV##W##_X)                                                                                                     \
    X(MOD##W##_K)                                                                                                      \
    X(MOD##W##_X)                                                                                                      \
    X(SMOD##W##_K)                                                                                                     \
    X(SMOD##W##_X)                                                                                                     \
    X(OR##W##_K)                                                                                                       \
    X(OR##W##_X)                                                                                                       \
    X(AND##W##_K)                                                                                                      \
    X(AND##W##_X)                                                                                                      \
    X(LSH##W##_K)                                                                                                      \
    X(LSH##W##_X)                                                                                                      \
    X(RSH##W##_K)                                                                                                      \
    X(RSH##W##_X)                                                                                                      \
    X(ARSH##W##_K)                                                                                                     \
    X(ARSH##W##_X)                                                                                                     \
    X(XOR##W##_K)                                                                                                      \
    X(XOR##W##_X)                                                                                                      \
    X(MOV##W##_K)                                                                                                      \
    X(MOV##W##_X)                                                                                                      \
    X(NEG##W)

#define EMBPF_JMP_OPS(X, W)                                                                                            \
    X(JEQ##W##_K)                                                                                                      \
    X(JEQ##W##_X)                                                                                                      \
    X(JGT##W##_K)                                                                                                      \
    X(JGT##W##_X)                                                                                                      \
    X(JGE##W##_K)                                                                                                      \
    X(JGE##W##_X)                                                                                                      \
    X(JSET##W##_K)                                                                                                     \
    X(JSET##W##_X)                                                                                                     \
    X(JNE##W##_K)                                                                                                      \
    X(JNE##W##_X)                                                                                                      \
    X(JSGT##W##_K)                                                                                                     \
    X(JSGT##W##_X)                                                                                                     \
    X(JSGE##W##_K)                                                                                                     \
    X(JSGE##W##_X)                                                                                                     \
    X(JLT##W##_K)                                                                                                      \
    X(JLT##W##_X)                                                                                                      \
    X(JLE##W##_K)                                                                                                      \
    X(JLE##W##_X)                                                                                                      \
    X(JSLT##W##_K)                                                                                                     \
    X(JSLT##W##_X)                                                                                                     \
    X(JSLE##W##_K)                                                                                                     \
    X(JSLE##W##_X)

#define EMBPF_ATOMIC_OPS(X, W)                                                                                         \
    X(ATOMIC##W##_ADD)                                                                                                 \
    X(ATOMIC##W##_OR)                                                                                                  \
    X(ATOMIC##W##_AND)                                                                                                 \
    X(ATOMIC##W##_XOR)                                                                                                 \
    X(ATOMIC##W##_FETCH_ADD)                                                                                           \
    X(ATOMIC##W##_FETCH_OR)                                                                                            \
    X(ATOMIC##W##_FETCH_AND)                                                                                           \
    X(ATOMIC##W##_FETCH_XOR)                                                                                           \
    X(ATOMIC##W##_XCHG)                                                                                                \
    X(ATOMIC##W##_CMPXCHG)

#define EMBPF_INTERPRETER_OPS(X)                                                                                       \
    EMBPF_ALU_OPS(X, 64)                                                                                               \
    EMBPF_ALU_OPS(X, 32)                                                                                               \
    X(MOVSX64_8)                                                                                                       \
    X(MOVSX64_16)                                                                                                      \
    X(MOVSX64_32)                                                                                                      \
    X(MOVSX32_8)                                                                                                       \
    X(MOVSX32_16)                                                                                                      \
    X(LE16)                                                                                                            \
    X(LE32)                                                                                                            \
    X(LE64)                                                                                                            \
    X(BE16)                                                                                                            \
    X(BE32)                                                                                                            \
    X(BE64)                                                                                                            \
    X(BSWAP16)                                                                                                         \
    X(BSWAP32)                                                                                                         \
    X(BSWAP64)                                                                                                         \
    X(JA)                                                                                                              \
    X(JA32)                                                                                                            \
    EMBPF_JMP_OPS(X, 64)                                                                                               \
    EMBPF_JMP_OPS(X, 32)                                                                                               \
    X(CALL_HELPER)                                                                                                     \
    X(CALL_HELPER_UNWIND)                                                                                              \
    X(CALL_LOCAL)                                                                                                      \
    X(CALLX)                                                                                                           \
    X(EXIT)                                                                                                            \
    X(LDDW)                                                                                                            \
    X(LD_ABS_B)                                                                                                        \
    X(LD_ABS_H)                                                                                                        \
    X(LD_ABS_W)                                                                                                        \
    X(LD_IND_B)                                                                                                        \
    X(LD_IND_H)                                                                                                        \
    X(LD_IND_W)                                                                                                        \
    X(LDX_B)                                                                                                           \
    X(LDX_H)                                                                                                           \
    X(LDX_W)                                                                                                           \
    X(LDX_DW)                                                                                                          \
    X(LDXSX_B)                                                                                                         \
    X(LDXSX_H)                                                                                                         \
    X(LDXSX_W)                                                                                                         \
    X(LDX_PROBE)                                                                                                       \
    X(ST_B)                                                                                                            \
    X(ST_H)                                                                                                            \
    X(ST_W)                                                                                                            \
    X(ST_DW)                                                                                                           \
    X(STX_B)                                                                                                           \
    X(STX_H)                                                                                                           \
    X(STX_W)                                                                                                           \
    X(STX_DW)                                                                                                          \
    EMBPF_ATOMIC_OPS(X, 32)                                                                                            \
    EMBPF_ATOMIC_OPS(X, 64)                                                                                            \
    X(CALL_LOOP)                                                                                                       \
    X(CALL_FOR_EACH)                                                                                                   \
    X(CALL_ABSENT)                                                                                                     \
    X(FELL_OFF)

enum class Op : std::uint16_t {
#define EMBPF_OP_ENUM(name) name,
    EMBPF_INTERPRETER_OPS(EMBPF_OP_ENUM)
#undef EMBPF_OP_ENUM
        count
};

} // namespace embpf::exec::detail
