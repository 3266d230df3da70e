// A minimal host: assemble and interpret a program, then load the plugin embpf_add_plugin built and verified through
// the C++ skeleton it generated (the object embedded, read by libelf from memory): set the plugin's global before the
// load, which verifies it again, run it on packets and read its map through the skeleton's typed member. The object
// file on disk opens too, with the same program, and loads with engine = aot: its program runs the code
// embpf_add_plugin compiled ahead of time into this executable (AOT, consumer_plugin::aot).
#include "consumer_plugin_aot.h"
#include "count_bytes.skel.hpp"

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

    auto spec = count_bytes::Spec::open(); // the platform it was built for (PLATFORM linux)
    if (!spec) {
        std::fprintf(stderr, "%s\n", spec.error().message.c_str());
        return 1;
    }
    spec->rodata.min_length = 20; // shorter packets are passed over
    auto object = spec->load();
    if (!object) {
        std::fprintf(stderr, "%s\n", object.error().message.c_str());
        return 1;
    }
    const embpf::Program& plugin = object->programs.count_bytes;
    const std::array<std::uint8_t, 60> packet{0x45};
    const std::array<std::uint8_t, 10> runt{0x45};
    std::uint64_t length = 0;
    for (int i = 0; i < 4; ++i) {
        auto context = embpf::testing::skb(plugin, i < 3 ? std::span<const std::uint8_t>(packet) : runt);
        auto ran = context.run(plugin);
        if (!ran) {
            std::fprintf(stderr, "%s\n", ran.error().message.c_str());
            return 1;
        }
        length = i < 3 ? *ran : length;
        if (i == 3 && *ran != 0) {
            std::fprintf(stderr, "the plugin counted a packet shorter than min_length\n");
            return 1;
        }
    }
    const auto seen = object->maps.by_first_byte.lookup(0x45); // embpf::Map<std::uint32_t, std::uint64_t>
    std::printf("consumer: plugin verified: %s, r0 = %llu, packets starting 0x45: %llu, min_length %u\n",
                plugin.verified() ? "yes" : "no", static_cast<unsigned long long>(length),
                static_cast<unsigned long long>(seen.value_or(0)), object->rodata.read().min_length);

    auto on_disk = embpf::ObjectSpec::open(std::filesystem::path(CONSUMER_PLUGIN));
    const bool same = on_disk && on_disk->program("count_bytes") != nullptr;
    std::printf("consumer: %s opens: %s\n", CONSUMER_PLUGIN, same ? "yes" : "no");

    // Native mode: the object's program bound to the code compiled into this executable (min_length as built, 0).
    bool native = false;
    if (same) {
        embpf::LoadOptions options;
        options.engine = embpf::exec::EngineKind::aot;
        options.aot_module = &consumer_plugin_module;
        auto compiled = embpf::Object::load(*on_disk, options);
        if (!compiled) {
            std::fprintf(stderr, "%s\n", compiled.error().message.c_str());
            return 1;
        }
        auto count = compiled->program("count_bytes");
        if (count && count->engine() == embpf::exec::EngineKind::aot) {
            auto ran = embpf::testing::skb(*count, packet).run(*count);
            native = ran && *ran == packet.size();
        }
    }
    std::printf("consumer: compiled ahead of time, engine aot: %s\n", native ? "yes" : "no");
    return r0 == 42 && xdp != nullptr && plugin.verified() && length == packet.size() && seen == 3u && same && native
               ? 0
               : 1;
}
