// libFuzzer target: platform::from_json must turn any bytes into a platform or an error naming what is wrong, and a
// platform it returns must be written (to_json) and read back unchanged. A broken invariant is a finding
// (__builtin_trap).
#include "embpf/platform/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

// What the run checked, printed at exit for tools/fuzz.sh, which fails a run that checked nothing.
struct Stats {
    std::uint64_t platforms = 0; ///< descriptions read, each written and read back
    std::uint64_t refused = 0;   ///< descriptions refused with a message
    ~Stats() {
        std::fprintf(stderr, "stat::embpf_compared: %llu\nstat::embpf_refused: %llu\n",
                     static_cast<unsigned long long>(platforms), static_cast<unsigned long long>(refused));
    }
} stats;

void finding(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_platform: %s: %s\n", what, detail.c_str());
    __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto platform = embpf::platform::from_json(text);
    if (!platform) {
        if (platform.error().message.empty()) {
            finding("refused without a message", std::string(text.substr(0, 200)));
        }
        ++stats.refused;
        return 0;
    }
    const std::string written = embpf::platform::to_json(*platform);
    auto again = embpf::platform::from_json(written);
    if (!again) {
        finding("what to_json wrote does not read back", again.error().message);
    }
    if (embpf::platform::to_json(*again) != written) {
        finding("the platform read back differs", written.substr(0, 200));
    }
    ++stats.platforms;
    return 0;
}
