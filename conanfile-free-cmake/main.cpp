// A minimal host: assemble, prepare and run a program through the installed embpf.
#include <embpf/embpf.hpp>

#include <cstdio>

int main() {
    auto program = embpf::isa::assemble("r0 = 6\nr0 *= 7\nexit\n");
    if (!program) {
        std::fprintf(stderr, "%s\n", program.error().message.c_str());
        return 1;
    }
    auto interpreter = embpf::exec::Interpreter::create(*program);
    if (!interpreter) {
        std::fprintf(stderr, "%s\n", interpreter.error().message.c_str());
        return 1;
    }
    const auto r0 = interpreter->run(nullptr);
    std::printf("consumer: r0 = %llu\n", static_cast<unsigned long long>(r0));
    // Built in CMake's default GNU mode, where `linux` is a predefined macro that embpf's header drops.
    const embpf::platform::ProgramType* xdp = embpf::platform::linux().program_type("xdp");
    std::printf("consumer: linux() has xdp: %s\n", xdp != nullptr ? "yes" : "no");
    return r0 == 42 && xdp != nullptr ? 0 : 1;
}
