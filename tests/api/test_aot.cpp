// Native mode (LoadOptions::engine = aot): an object's programs written out as C by generate_aot, built into a shared
// object by the system's C compiler, and loaded with it; the same results as the interpreter's, and code that is not
// this load's own refused with the load. Skipped (with a message) where no C compiler runs.
#include "../../tools/common/compile_c.hpp"
#include "embpf/api/aot.hpp"
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/api/ring_buffer.hpp"
#include "linux_contexts.hpp"
#include "process_directory.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace embpf;
using testing_seeds::FiveTuple;
using testing_seeds::XdpContext;

namespace {

const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;
const std::string kCallbacks = std::string(EMBPF_TEST_API_DIR) + "/callbacks.o";
const std::string kNames = std::string(EMBPF_TEST_API_DIR) + "/aot_names.o";

ObjectSpec open(const std::string& path, const platform::Platform* platform = nullptr) {
    auto spec = ObjectSpec::open(std::filesystem::path(path), platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    return std::move(spec).value();
}

// This process's directory of C files and shared objects, removed when the tests end.
const std::filesystem::path& test_directory() {
    static const testing_files::ProcessDirectory directory("embpf-test-aot-");
    return directory.path();
}

// The shared object of `spec`'s programs, built in a directory of this process's; nullopt (with a message) where no
// C compiler runs.
std::optional<std::filesystem::path> build(const ObjectSpec& spec, const std::string& name,
                                           AotGenerateOptions options = {}) {
    options.module_symbol = "embpf_aot_module";
    auto generated = generate_aot(spec, spec.platform(), options);
    REQUIRE_MESSAGE(generated.has_value(), (generated ? "" : generated.error().message));
    const std::filesystem::path& dir = test_directory();
    const std::filesystem::path c_file = dir / (name + ".c");
    const std::filesystem::path library = dir / (name + ".so");
    {
        std::ofstream out(c_file);
        out << generated->source;
        REQUIRE(out.good());
    }
    if (auto failed = tools::compile_shared(c_file, library)) {
        if (failed->starts_with("cannot run the C compiler")) {
            MESSAGE("skipped: " << *failed);
            return std::nullopt;
        }
        FAIL("the generated C does not compile: " << *failed);
    }
    return library;
}

// Ethernet + IPv4 + UDP from 10.0.0.1:sport to 10.0.0.2:53, cut to `length` bytes.
std::vector<std::uint8_t> udp_packet(std::uint16_t sport, std::size_t length = 60) {
    std::vector<std::uint8_t> bytes(60, 0);
    bytes[12] = 0x08;
    bytes[14] = 0x45;
    bytes[23] = 17;
    const std::uint8_t addresses[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(bytes.data() + 26, addresses, sizeof addresses);
    bytes[34] = static_cast<std::uint8_t>(sport >> 8);
    bytes[35] = static_cast<std::uint8_t>(sport);
    bytes[37] = 53;
    bytes.resize(length);
    return bytes;
}

// The verdicts of the five-tuple seed on a few packets, and the source ports of the records it sent.
std::pair<std::vector<std::uint64_t>, std::vector<std::uint16_t>> five_tuples(const Object& object) {
    auto program = object.program("packet_parse");
    REQUIRE(program.has_value());
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map");
    REQUIRE(tuples.has_value());
    std::vector<std::uint64_t> verdicts;
    for (auto bytes : {udp_packet(5353), udp_packet(1234, 40), udp_packet(4444), udp_packet(53, 20)}) {
        XdpContext ctx{bytes.data(), bytes.data() + bytes.size(), 0, 1};
        auto verdict = program->run(&ctx, sizeof ctx);
        REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
        verdicts.push_back(*verdict);
    }
    std::vector<std::uint16_t> ports;
    tuples->consume([&](const FiveTuple& tuple) { ports.push_back(tuple.src_port); });
    return {verdicts, ports};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_SUITE_BEGIN("api");

TEST_CASE("aot: the five-tuple seed runs from its shared object as it runs in the interpreter") {
    const ObjectSpec spec = open(kSeeds + "/myxdp_stage4.o");
    const auto library = build(spec, "stage4");
    if (!library) {
        return;
    }
    auto native = Object::load(spec, {.engine = exec::EngineKind::aot, .aot_library = *library});
    REQUIRE_MESSAGE(native.has_value(), (native ? "" : native.error().message));
    auto program = native->program("packet_parse");
    REQUIRE(program.has_value());
    CHECK(program->engine() == exec::EngineKind::aot);
    CHECK(program->engine_fallback().empty());
    auto interpreted = Object::load(spec, {.engine = exec::EngineKind::interpreter});
    REQUIRE(interpreted.has_value());
    const auto expected = five_tuples(*interpreted);
    const auto got = five_tuples(*native);
    CHECK(got.first == expected.first);
    CHECK(got.second == expected.second);
    CHECK(got.second.size() == 2); // the two long enough UDP packets
}

TEST_CASE("aot: bpf_loop and for_each_map_elem callbacks run in compiled code as in the interpreter") {
    const ObjectSpec spec = open(kCallbacks, &platform::linux());
    const auto library = build(spec, "callbacks");
    if (!library) {
        return;
    }
    auto native = Object::load(spec, {.engine = exec::EngineKind::aot, .aot_library = *library});
    REQUIRE_MESSAGE(native.has_value(), (native ? "" : native.error().message));
    auto interpreted = Object::load(spec, {.engine = exec::EngineKind::interpreter});
    REQUIRE(interpreted.has_value());
    for (const Object* object : {&*native, &*interpreted}) {
        auto values = object->map<std::uint32_t, std::uint64_t>("values");
        REQUIRE(values.has_value());
        for (std::uint32_t i = 0; i < 8; ++i) {
            REQUIRE(values->update(i, std::uint64_t{3} * i + 1).has_value());
        }
        auto table = object->map<std::uint64_t, std::uint64_t>("table");
        REQUIRE(table.has_value());
        REQUIRE(table->update(7, 70).has_value());
    }
    for (const std::string& name : native->program_names()) {
        CAPTURE(name);
        auto compiled = native->program(name);
        auto reference = interpreted->program(name);
        REQUIRE(compiled.has_value());
        REQUIRE(reference.has_value());
        CHECK(compiled->engine() == exec::EngineKind::aot);
        testing_packets::SkBuffAround a(16);
        testing_packets::SkBuffAround b(16);
        auto got = compiled->run(a.bytes.data(), a.bytes.size());
        auto expected = reference->run(b.bytes.data(), b.bytes.size());
        REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
        REQUIRE(expected.has_value());
        CHECK(*got == *expected);
    }
    // What the callbacks wrote through their value pointers.
    auto native_values = native->map<std::uint32_t, std::uint64_t>("values").value();
    auto interpreted_values = interpreted->map<std::uint32_t, std::uint64_t>("values").value();
    for (std::uint32_t i = 0; i < 8; ++i) {
        CHECK(native_values.lookup(i) == interpreted_values.lookup(i));
    }
}

TEST_CASE("aot: code not generated from this load's programs is refused with the load") {
    const ObjectSpec stage4 = open(kSeeds + "/myxdp_stage4.o");
    const auto library = build(stage4, "stage4_refusals");
    if (!library) {
        return;
    }
    SUBCASE("another object") {
        const ObjectSpec stage3 = open(kSeeds + "/myxdp_stage3.o");
        auto loaded = Object::load(stage3, {.engine = exec::EngineKind::aot, .aot_library = *library});
        REQUIRE_FALSE(loaded.has_value());
        CHECK(contains(loaded.error().message, "generated from another object"));
    }
    SUBCASE("the same object with a program changed after it was opened") {
        ObjectSpec changed = stage4;
        ProgramSpec* program = changed.program("packet_parse");
        REQUIRE(program != nullptr);
        // The first instruction that sets r0 to a constant returns another verdict now.
        bool edited = false;
        for (isa::Instruction& ins : program->definition.instructions) {
            if (ins.opcode == (isa::op::ALU64 | isa::op::MOV | isa::op::K) && ins.dst == 0 && ins.imm == 1) {
                ins.imm = 2;
                edited = true;
                break;
            }
        }
        REQUIRE(edited);
        auto loaded = Object::load(changed, {.engine = exec::EngineKind::aot, .aot_library = *library});
        REQUIRE_FALSE(loaded.has_value());
        CHECK(contains(loaded.error().message, "was not generated from this program"));
    }
    SUBCASE("metering, no compiled code, unverified") {
        auto metered = Object::load(
            stage4, {.engine = exec::EngineKind::aot, .aot_library = *library, .instruction_budget = 1000});
        REQUIRE_FALSE(metered.has_value());
        CHECK(contains(metered.error().message, "not metered"));
        auto none = Object::load(stage4, {.engine = exec::EngineKind::aot});
        REQUIRE_FALSE(none.has_value());
        CHECK(contains(none.error().message, "aot_module"));
        auto missing = Object::load(stage4, {.engine = exec::EngineKind::aot, .aot_library = "/nonexistent/p.so"});
        REQUIRE_FALSE(missing.has_value());
        CHECK(contains(missing.error().message, "cannot open the compiled plugin"));
    }
}

TEST_CASE("aot: a module without one of the object's programs fails the load naming it") {
    const ObjectSpec spec = open(kCallbacks, &platform::linux());
    const auto library = build(spec, "callbacks_partial", {.programs = {"loop_all"}});
    if (!library) {
        return;
    }
    auto loaded = Object::load(spec, {.engine = exec::EngineKind::aot, .aot_library = *library});
    REQUIRE_FALSE(loaded.has_value());
    CHECK(contains(loaded.error().message, "has no code for it"));
    // The program alone loads.
    ObjectSpec alone = spec;
    std::erase_if(alone.programs(), [](const ProgramSpec& program) { return program.name() != "loop_all"; });
    auto one = Object::load(alone, {.engine = exec::EngineKind::aot, .aot_library = *library});
    REQUIRE_MESSAGE(one.has_value(), (one ? "" : one.error().message));
    CHECK(one->program("loop_all")->engine() == exec::EngineKind::aot);
}

TEST_CASE("aot: generate_aot refuses a program that does not verify, with the verifier's report") {
    const ObjectSpec spec = open(kSeeds + "/myxdp_stage2.o");
    auto generated = generate_aot(spec, spec.platform());
    REQUIRE_FALSE(generated.has_value());
    CHECK(contains(generated.error().message, "verification failed"));
    CHECK(generated.error().report != nullptr);
    CHECK_FALSE(generate_aot(open(kSeeds + "/myxdp_stage4.o"), platform::linux(), {.prefix = "9lives"}).has_value());
}

TEST_CASE("aot: programs named like the generated code's own names, and a fetch-and-add the C compiler folds") {
    const ObjectSpec spec = open(kNames, &platform::linux());
    // With the default module symbol (embpf_plugin_module, which the program `module` would take) the C compiles.
    auto plain = generate_aot(spec, platform::linux());
    REQUIRE_MESSAGE(plain.has_value(), (plain ? "" : plain.error().message));
    const std::filesystem::path& dir = test_directory();
    {
        std::ofstream out(dir / "names_plain.c");
        out << plain->source;
    }
    if (auto failed = tools::compile_shared(dir / "names_plain.c", dir / "names_plain.so")) {
        if (failed->starts_with("cannot run the C compiler")) {
            MESSAGE("skipped: " << *failed);
            return;
        }
        FAIL("the generated C does not compile: " << *failed);
    }
    // Under a prefix that makes a program's function a name of the prelude (embpf_opaque) too.
    for (const char* prefix : {"embpf_plugin", "embpf"}) {
        CAPTURE(prefix);
        auto interpreted = Object::load(spec, {.engine = exec::EngineKind::interpreter}); // a fresh `total`
        REQUIRE(interpreted.has_value());
        const auto library = build(spec, std::string("names_") + prefix, {.prefix = prefix});
        REQUIRE(library.has_value());
        auto native = Object::load(spec, {.engine = exec::EngineKind::aot, .aot_library = *library});
        REQUIRE_MESSAGE(native.has_value(), (native ? "" : native.error().message));
        for (const std::string& name : native->program_names()) {
            CAPTURE(name);
            auto compiled = native->program(name);
            REQUIRE(compiled.has_value());
            CHECK(compiled->engine() == exec::EngineKind::aot);
            testing_packets::SkBuffAround a(16);
            testing_packets::SkBuffAround b(16);
            auto got = compiled->run(a.bytes.data(), a.bytes.size());
            auto expected = interpreted->program(name)->run(b.bytes.data(), b.bytes.size());
            REQUIRE(got.has_value());
            REQUIRE(expected.has_value());
            CHECK(*got == *expected);
        }
    }
}

TEST_CASE("aot: a program's name cannot end the comment it is written in (attack round 66)") {
    ObjectSpec spec = open(kNames, &platform::linux());
    // A backslash-newline would splice the comment's lines into `*/`, and the rest of the name would be C; so would
    // the trigraph of a backslash.
    const std::string injected = " int injected_by_name = 1; extern int also_injected; //";
    spec.programs()[0].definition.name = std::string("a*\\\n/") + injected;
    spec.programs()[1].definition.name = std::string("b*?\?/\n/") + injected;
    const auto library = build(spec, "names_injected");
    if (!library) {
        return;
    }
    void* handle = ::dlopen(library->c_str(), RTLD_NOW | RTLD_LOCAL);
    REQUIRE(handle != nullptr);
    CHECK(::dlsym(handle, "injected_by_name") == nullptr);
    ::dlclose(handle);
    auto native = Object::load(spec, {.engine = exec::EngineKind::aot, .aot_library = *library});
    REQUIRE_MESSAGE(native.has_value(), (native ? "" : native.error().message));
}

TEST_CASE("aot: array lookups computed in the compiled code give what the map's lookup gives") {
    const ObjectSpec spec = open(std::string(EMBPF_TEST_API_DIR) + "/arrays.o", &platform::linux());
    auto generated = generate_aot(spec, platform::linux());
    REQUIRE(generated.has_value());
    CHECK(contains(generated->source, "env->arrays[0].values")); // the lookup is computed where the map is an array
    const auto library = build(spec, "arrays");
    if (!library) {
        return;
    }
    auto native = Object::load(spec, {.engine = exec::EngineKind::aot, .aot_library = *library});
    REQUIRE_MESSAGE(native.has_value(), (native ? "" : native.error().message));
    auto interpreted = Object::load(spec, {.engine = exec::EngineKind::interpreter});
    REQUIRE(interpreted.has_value());
    auto compiled = native->program("count_by_length").value();
    auto reference = interpreted->program("count_by_length").value();
    CHECK(compiled.engine() == exec::EngineKind::aot);
    // Lengths inside the array, past it, and far past it (a key whose stride product overflows 32 bits).
    for (const std::uint32_t length : {0U, 3U, 7U, 3U, 8U, 9U, 0x80000000U, 0xffffffffU, 7U}) {
        CAPTURE(length);
        testing_packets::SkBuffAround a(16);
        testing_packets::SkBuffAround b(16);
        std::memcpy(a.bytes.data(), &length, sizeof length); // __sk_buff::len
        std::memcpy(b.bytes.data(), &length, sizeof length);
        auto got = compiled.run(a.bytes.data(), a.bytes.size());
        auto expected = reference.run(b.bytes.data(), b.bytes.size());
        REQUIRE(got.has_value());
        REQUIRE(expected.has_value());
        CHECK(*got == *expected);
    }
    auto native_slots = native->map<std::uint32_t, std::uint64_t>("slots").value();
    auto interpreted_slots = interpreted->map<std::uint32_t, std::uint64_t>("slots").value();
    for (std::uint32_t i = 0; i < 8; ++i) {
        CHECK(native_slots.lookup(i) == interpreted_slots.lookup(i));
    }
    CHECK(native_slots.lookup(3) == std::optional<std::uint64_t>(2));
}

TEST_CASE("aot: an object with two programs of one name is refused") {
    ObjectSpec spec = open(kNames, &platform::linux());
    REQUIRE(spec.programs().size() >= 2);
    spec.programs()[1].definition.name = spec.programs()[0].name();
    auto generated = generate_aot(spec, platform::linux());
    REQUIRE_FALSE(generated.has_value());
    CHECK(contains(generated.error().message, "two programs named"));
}

TEST_SUITE_END();
