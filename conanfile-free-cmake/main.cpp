// A minimal host: assemble and interpret a program, then load the plugin embpf_add_plugin built and verified (through
// libelf), verify it again as the load does, run it on a packet and read its map.
#include <embpf/embpf.hpp>
#include <embpf/testing/context.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>

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

    auto spec = embpf::ObjectSpec::open(std::filesystem::path(CONSUMER_PLUGIN));
    if (!spec) {
        std::fprintf(stderr, "%s\n", spec.error().message.c_str());
        return 1;
    }
    auto object = embpf::Object::load(*spec);
    if (!object) {
        std::fprintf(stderr, "%s\n", object.error().message.c_str());
        return 1;
    }
    auto plugin = object->program("count_bytes");
    auto counts = object->map<std::uint32_t, std::uint64_t>("by_first_byte");
    if (!plugin || !counts) {
        std::fprintf(stderr, "the plugin has no count_bytes program or by_first_byte map\n");
        return 1;
    }
    const std::array<std::uint8_t, 60> packet{0x45};
    std::uint64_t length = 0;
    for (int i = 0; i < 3; ++i) {
        auto context = embpf::testing::skb(*plugin, packet);
        auto ran = context.run(*plugin);
        if (!ran) {
            std::fprintf(stderr, "%s\n", ran.error().message.c_str());
            return 1;
        }
        length = *ran;
    }
    const auto seen = counts->lookup(0x45);
    std::printf("consumer: plugin verified: %s, r0 = %llu, packets starting 0x45: %llu\n",
                plugin->verified() ? "yes" : "no", static_cast<unsigned long long>(length),
                static_cast<unsigned long long>(seen.value_or(0)));
    return r0 == 42 && xdp != nullptr && plugin->verified() && length == packet.size() && seen == 3u ? 0 : 1;
}
