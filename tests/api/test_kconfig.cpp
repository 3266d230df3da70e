// `.kconfig` externs: the loader places them in a read-only map, the platform gives their values by libbpf's rules,
// and the verifier reads them as the constants they are.
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

using namespace embpf;

namespace {

const std::string kObject = std::string(EMBPF_TEST_API_DIR) + "/kconfig.o";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A socket filter's context around a small packet.
struct SkBuff : testing_packets::SkBuffAround {
    SkBuff() : SkBuffAround(16) {}
};

Result<std::uint64_t> run(const platform::Platform& platform, const char* program) {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &platform);
    if (!spec) {
        return std::move(spec).error();
    }
    // Only `program` is loaded: the other's verdict must not decide this one's load.
    std::erase_if(spec->programs(), [&](const ProgramSpec& p) { return p.name() != program; });
    auto object = Object::load(*spec);
    if (!object) {
        return std::move(object).error();
    }
    auto loaded = object->program(program);
    if (!loaded) {
        return std::move(loaded).error();
    }
    SkBuff skb;
    return loaded->run(skb.bytes.data(), skb.bytes.size());
}

} // namespace

TEST_CASE("kconfig: the externs get places in one read-only .kconfig map, aligned to their sizes") {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    REQUIRE(spec->kconfig_map().has_value());
    const MapSpec& map = spec->maps().at(*spec->kconfig_map());
    CHECK(map.name == ".kconfig");
    CHECK(map.read_only);
    REQUIRE(spec->kconfig().size() == 7);
    for (const elf::KconfigExtern& ext : spec->kconfig()) {
        CAPTURE(ext.name);
        CHECK(ext.offset + ext.size <= map.value_size);
        if (ext.kind != elf::KconfigKind::character_array) {
            CHECK(ext.offset % ext.size == 0);
        }
        CHECK(ext.weak == (ext.name.rfind("CONFIG_EMBPF_", 0) == 0));
    }
    CHECK(spec->kconfig()[0].name == "LINUX_KERNEL_VERSION");
    CHECK(spec->kconfig()[0].kind == elf::KconfigKind::integer);
    CHECK(spec->kconfig()[1].kind == elf::KconfigKind::boolean);
    CHECK(spec->kconfig()[2].kind == elf::KconfigKind::tristate);
    CHECK(spec->kconfig()[3].kind == elf::KconfigKind::character_array);
    CHECK(spec->kconfig()[4].kind == elf::KconfigKind::signed_integer);
    CHECK(spec->kconfig()[5].kind == elf::KconfigKind::integer);
    CHECK(spec->kconfig()[6].name == "CONFIG_HZ");
}

TEST_CASE("kconfig: linux() gives libbpf's own values, and a weak extern it lacks reads as zero") {
    auto r0 = run(platform::linux(), "read_kconfig");
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK((*r0 & 15) == 6);       // LINUX_KERNEL_VERSION 6.18.0
    CHECK(((*r0 >> 4) & 1) == 1); // LINUX_HAS_BPF_COOKIE
    CHECK(((*r0 >> 5) & 3) == 1); // CONFIG_BPF_SYSCALL=y as TRI_YES
    CHECK(((*r0 >> 8) & 255) == '(');
    CHECK(((*r0 >> 16) & 255) == 0);  // "(none)" cut to three bytes and a zero
    CHECK(((*r0 >> 24) & 127) == 64); // CONFIG_EMBPF_OFFSET: weak and absent, so 0

    auto spec = ObjectSpec::open(std::filesystem::path(kObject));
    REQUIRE(spec.has_value());
    auto value = spec->kconfig_value(platform::linux());
    REQUIRE(value.has_value());
    CHECK(value->size() == spec->maps().at(*spec->kconfig_map()).value_size);
    const std::uint32_t version = (6U << 16) | (18U << 8);
    CHECK(std::memcmp(value->data(), &version, 4) == 0);
}

TEST_CASE("kconfig: a host's values, read by the extern's type") {
    platform::Platform host = platform::linux();
    host.set_kconfig("CONFIG_BPF_SYSCALL", "m");
    host.set_kconfig("CONFIG_DEFAULT_HOSTNAME", "\"ab\"");
    host.set_kconfig("CONFIG_EMBPF_OFFSET", "-7");
    host.set_kconfig("LINUX_HAS_BPF_COOKIE", "n");
    host.set_kconfig("LINUX_KERNEL_VERSION", "0x050f00");
    auto r0 = run(host, "read_kconfig");
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK((*r0 & 15) == 5);
    CHECK(((*r0 >> 4) & 1) == 0);
    CHECK(((*r0 >> 5) & 3) == 2); // TRI_MODULE
    CHECK(((*r0 >> 8) & 255) == 'a');
    CHECK(((*r0 >> 24) & 127) == 57);
}

TEST_CASE("kconfig: the verifier reads an extern as its value, so the value decides whether an access verifies") {
    platform::Platform host = platform::linux();
    for (int index = 0; index < 8; ++index) {
        CAPTURE(index);
        host.set_kconfig("CONFIG_EMBPF_INDEX", std::to_string(index));
        auto r0 = run(host, "index_by_kconfig");
        REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
        CHECK(*r0 == 10U + static_cast<unsigned>(index));
    }
    // Past the 8-byte table the same program does not verify: the value is a constant, not any number.
    host.set_kconfig("CONFIG_EMBPF_INDEX", "8");
    auto past = run(host, "index_by_kconfig");
    REQUIRE_FALSE(past.has_value());
    CHECK(contains(past.error().message, "index_by_kconfig"));
    host.set_kconfig("CONFIG_EMBPF_INDEX", "0xffff");
    CHECK_FALSE(run(host, "index_by_kconfig").has_value());
}

TEST_CASE("kconfig: the maps the verifier is given hold the platform's values, for tools that verify without loading") {
    platform::Platform host = platform::linux();
    for (const unsigned hz : {245U, 250U, 252U, 253U, 1000U}) {
        CAPTURE(hz);
        host.set_kconfig("CONFIG_HZ", std::to_string(hz));
        auto spec = ObjectSpec::open(std::filesystem::path(kObject), &host);
        REQUIRE(spec.has_value());
        auto maps = spec->map_descriptors(host);
        REQUIRE(maps.has_value());
        CHECK(maps->at(*spec->kconfig_map()).frozen_value == spec->kconfig_value(host).value());
        const ProgramSpec* program = spec->program("index_by_hz");
        REQUIRE(program != nullptr);
        const verifier::Report report =
            verifier::verify(program->definition, *maps, host, *host.program_type("socket_filter"));
        CHECK(report.verified == (hz <= 252));
        auto r0 = run(host, "index_by_hz");
        CHECK(r0.has_value() == (hz <= 252));
        if (r0) {
            CHECK(*r0 == 10 + hz - 245);
        }
    }
}

TEST_CASE("kconfig: a missing or unfit value fails the load and names the extern") {
    struct Case {
        const char* name;
        const char* value; // empty: removed from the platform
        const char* says;
    };
    const Case cases[] = {
        {"LINUX_KERNEL_VERSION", "", "has no value for it"},
        {"LINUX_HAS_BPF_COOKIE", "m", "cannot be held by a bool"},
        {"LINUX_HAS_BPF_COOKIE", "1", "does not hold"},
        {"CONFIG_BPF_SYSCALL", "\"y\"", "only a char array holds"},
        {"CONFIG_DEFAULT_HOSTNAME", "\"unclosed", "no closing quote"},
        {"CONFIG_DEFAULT_HOSTNAME", "7", "does not hold"},
        {"LINUX_KERNEL_VERSION", "-1", "does not fit"},
        {"LINUX_KERNEL_VERSION", "0x100000000", "does not fit"},
        {"LINUX_KERNEL_VERSION", "99999999999999999999999", "neither y, n, m, a number"},
        {"LINUX_KERNEL_VERSION", "12abc", "neither y, n, m, a number"},
        {"LINUX_KERNEL_VERSION", "09", "neither y, n, m, a number"}, // octal
        {"CONFIG_EMBPF_OFFSET", "2147483648", "does not fit"},
        {"CONFIG_EMBPF_INDEX", "65536", "does not fit"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        CAPTURE(c.value);
        platform::Platform host = platform::linux();
        host.set_kconfig(c.name, c.value);
        auto spec = ObjectSpec::open(std::filesystem::path(kObject), &host);
        REQUIRE(spec.has_value());
        auto value = spec->kconfig_value(host);
        REQUIRE_FALSE(value.has_value());
        CHECK(contains(value.error().message, c.name));
        CHECK(contains(value.error().message, c.says));
        auto object = Object::load(*spec);
        REQUIRE_FALSE(object.has_value());
        CHECK(object.error().message == value.error().message);
    }
    // The limits themselves fit.
    platform::Platform host = platform::linux();
    host.set_kconfig("CONFIG_EMBPF_OFFSET", "-2147483648");
    host.set_kconfig("CONFIG_EMBPF_INDEX", "65535");
    host.set_kconfig("LINUX_KERNEL_VERSION", "0xffffffff");
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &host);
    REQUIRE(spec.has_value());
    CHECK(spec->kconfig_value(host).has_value());
}
