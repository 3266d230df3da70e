// libFuzzer target: any bytes are decoded as a program and, when valid, run by the checked
// interpreter on a small input. A checked run may refuse or stop, never touch memory it was not
// given (AddressSanitizer watches) and never loop past its budget.
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/decode.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace {
std::uint64_t echo(std::uint64_t r1, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return r1; }
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto program = embpf::isa::decode(std::span<const std::uint8_t>(data, size - size % 8));
    if (!program) {
        return 0;
    }
    embpf::exec::HelperTable helpers;
    helpers.set(1, &echo);
    helpers.set(5, &echo);
    helpers.set_unwind(5);
    auto interpreter = embpf::exec::Interpreter::create(*program, helpers);
    if (!interpreter) {
        return 0;
    }
    std::array<std::uint8_t, 64> memory{};
    for (std::size_t i = 0; i < memory.size() && i < size; ++i) {
        memory[i] = data[size - 1 - i];
    }
    embpf::exec::CheckedOptions options;
    options.instruction_budget = 10000;
    auto outcome = interpreter->run_checked(memory.data(), memory.size(), options);
    if (outcome && outcome->instructions > options.instruction_budget) {
        __builtin_trap();
    }
    return 0;
}
