// libFuzzer target: the ELF reader must turn any bytes into an object or an error.
#include "embpf/elf/object_file.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto object = embpf::elf::read_object(std::span<const std::uint8_t>(data, size));
    if (object) {
        for (const auto& program : object->programs) {
            // Whatever the reader links must be a structurally valid program.
            if (program.instructions.empty()) {
                __builtin_trap();
            }
        }
    }
    return 0;
}
