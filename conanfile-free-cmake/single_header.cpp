// A host that includes only the single header (single_include/embpf/embpf.hpp) and links the installed library: it
// loads the plugin embpf_add_plugin built, runs it on a packet with test_run and reads its map.
#include <embpf/embpf.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
    if (argc != 2) {
        return 2;
    }
    auto spec = embpf::ObjectSpec::open(std::filesystem::path(argv[1]));
    auto object = spec ? embpf::Object::load(*spec) : embpf::Result<embpf::Object>(spec.error());
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
    auto ran = plugin->test_run({.data_in = packet, .repeat = 4});
    if (!ran) {
        std::fprintf(stderr, "%s\n", ran.error().message.c_str());
        return 1;
    }
    const auto seen = counts->lookup(0x45);
    std::printf("single header: r0 = %llu, packets starting 0x45: %llu\n", static_cast<unsigned long long>(ran->retval),
                static_cast<unsigned long long>(seen.value_or(0)));
    return ran->retval == packet.size() && seen == 4u ? 0 : 1;
}
