// The entry every execution engine shares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace embpf::exec {

/// The signature of a helper: five 64-bit arguments in r1-r5, the result in r0.
using HelperFunction = std::uint64_t (*)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t);

/// The engines: the interpreter, the baseline JIT (one pass, ready at once), the optimizing JIT (LLVM), and
/// ahead-of-time compiled code.
enum class EngineKind { interpreter, jit, optimized, aot };

[[nodiscard]] constexpr std::string_view to_string(EngineKind kind) noexcept {
    switch (kind) {
    case EngineKind::interpreter: return "interpreter";
    case EngineKind::jit: return "jit";
    case EngineKind::optimized: return "optimized";
    case EngineKind::aot: return "aot";
    }
    return "unknown";
}

/// A program prepared by an engine. run() is the one entry: r1 = ctx, r2 = ctx_size, r10 = the top
/// of a fresh stack. It is safe to call from many threads at once.
class Executable {
  public:
    Executable() = default;
    Executable(const Executable&) = default;
    Executable& operator=(const Executable&) = default;
    virtual ~Executable() = default;

    [[nodiscard]] virtual std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept = 0;
    [[nodiscard]] virtual EngineKind kind() const noexcept = 0;
};

} // namespace embpf::exec
