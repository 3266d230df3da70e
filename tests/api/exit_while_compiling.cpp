// A host that ends while the background compiler still compiles its programs (LoadOptions::engine = automatic with
// promote_after 0 queues every program at load): once the first program is promoted, returning from main with the
// object in a static, or calling std::exit with it alive, must end the process cleanly. The compilation under way
// must end before the statics LLVM made during earlier compilations are destroyed.
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {
std::optional<embpf::Object> g_object;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OBJECT [exit]\n", argv[0]);
        return 2;
    }
    auto spec = embpf::ObjectSpec::open(std::filesystem::path(argv[1]));
    if (!spec) {
        std::fprintf(stderr, "%s\n", spec.error().message.c_str());
        return 2;
    }
    embpf::LoadOptions options;
    options.engine = embpf::exec::EngineKind::automatic;
    options.promote_after = 0;
    auto object = embpf::Object::load(*spec, options);
    if (!object) {
        std::fprintf(stderr, "%s\n", object.error().message.c_str());
        return 2;
    }
    g_object.emplace(std::move(object).value());
    // The first program's compilation done (what LLVM makes on first use is made by then), the others' under way.
    const std::vector<std::string> names = g_object->program_names();
    if (names.empty()) {
        std::fprintf(stderr, "the object has no programs\n");
        return 2;
    }
    (void)g_object->program(names.front())->wait_for_promotion(std::chrono::seconds(60));
    if (argc > 2 && std::string_view(argv[2]) == "exit") {
        std::exit(0);
    }
    return 0;
}
