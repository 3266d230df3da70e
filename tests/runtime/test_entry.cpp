// runtime::check_entry's rule that a run's regions lie apart, on contexts a host declares: a region the program may
// write shares no byte with another, and no region or packet shares a byte with the context, which holds the host's
// pointers, even where nothing is writable (attack round 59: a read-only region over a read-only context showed the
// host's pointers as bytes).
#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/runtime/invocation.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

namespace platform = embpf::platform;
namespace runtime = embpf::runtime;

struct Raw {
    const std::uint8_t* raw;
    std::uint32_t raw_len;
    std::uint32_t pad;
    const std::uint8_t* more;
    std::uint32_t more_len;
    std::uint32_t verdict;
};

platform::ProgramType raw_type(bool writable_verdict) {
    platform::ProgramType type;
    type.name = "raw";
    type.context =
        platform::ContextLayout<Raw>()
            .memory(&Raw::raw, &Raw::raw_len, "raw", "raw_len", 4096)
            .memory(&Raw::more, &Raw::more_len, "more", "more_len", 4096)
            .field(&Raw::verdict, "verdict", writable_verdict ? platform::Access::read_write : platform::Access::read)
            .descriptor();
    return type;
}

std::string entry_error(const platform::ProgramType& type, const Raw& ctx) {
    const std::vector<runtime::RegionField> regions = runtime::region_fields(type.context);
    auto entry = runtime::check_entry(type, &ctx, sizeof ctx, false, regions);
    return entry ? std::string() : entry.error().message;
}

} // namespace

TEST_CASE("entry: no region shares a byte with the context, even where nothing is writable") {
    for (const bool writable : {false, true}) {
        CAPTURE(writable);
        const platform::ProgramType type = raw_type(writable);
        std::vector<std::uint8_t> bytes(64, 1);
        Raw ctx{bytes.data(), 32, 0, bytes.data() + 16, 32, 0};
        // Two read-only regions over the same bytes: accepted.
        CHECK(entry_error(type, ctx).empty());
        // A read-only region over the context's last byte: refused.
        ctx.raw = reinterpret_cast<const std::uint8_t*>(&ctx) + sizeof ctx - 1;
        ctx.raw_len = 8;
        const std::string over = entry_error(type, ctx);
        CHECK(over.find("the context and the raw memory of the raw context share bytes") != std::string::npos);
        if (!writable) {
            CHECK(over.find("the context holds the host's pointers") != std::string::npos);
        }
        // Right behind it: accepted.
        ctx.raw = reinterpret_cast<const std::uint8_t*>(&ctx) + sizeof ctx;
        CHECK(entry_error(type, ctx).empty());
        // An empty region at the context: nothing to show.
        ctx.raw = reinterpret_cast<const std::uint8_t*>(&ctx);
        ctx.raw_len = 0;
        CHECK(entry_error(type, ctx).empty());
    }
}
