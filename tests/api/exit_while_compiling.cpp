// A host that ends while the background compiler still compiles its programs (LoadOptions::engine = automatic with
// promote_after 0 queues every program at load): once the first program is promoted, returning from main with the
// object in a static, or calling std::exit with it alive, must end the process cleanly. The compilation under way
// must end before the statics LLVM made during earlier compilations are destroyed. A main thread that ends with
// pthread_exit ends the process (the compiler's thread ends once idle, attack round 60), and a child forked while the
// parent compiles compiles too (round 60: it waited for ever on LLVM's lock).
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {
std::optional<embpf::Object> g_object;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OBJECT [exit|pthread_exit|fork|fork_idle]\n", argv[0]);
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
    const std::string_view mode = argc > 2 ? argv[2] : "";
    if (mode == "exit") {
        std::exit(0);
    }
    if (mode == "pthread_exit") {
        // The main thread ends and the process with its last thread: the compiler's ends once idle.
        pthread_exit(nullptr);
    }
    if (mode == "fork_idle") {
        // Every program promoted, the compiler's thread waits for work when the host forks: the child's own
        // promotions, each a signal to a thread of its own, must all complete (round 61: the second deadlocked on the
        // parent's waiter, counted still by the child's copy of the condition variable).
        for (const std::string& name : names) {
            (void)g_object->program(name)->wait_for_promotion(std::chrono::seconds(60));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const pid_t child = fork();
        if (child == 0) {
            alarm(60);
            auto again = embpf::Object::load(*spec, options);
            bool promoted = again.has_value();
            for (const std::string& name : names) {
                promoted = promoted && again->program(name)->wait_for_promotion(std::chrono::seconds(30));
            }
            _exit(promoted ? 0 : 3);
        }
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child) {
            return 4;
        }
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
    }
    if (mode == "fork") {
        // A child forked while the parent's compiler may be compiling compiles too (fork waits for the compilation
        // under way, and the child gets LLVM's lock free).
        const pid_t child = fork();
        if (child == 0) {
            alarm(60); // a child that waits for ever fails the test by the signal
            embpf::LoadOptions optimized;
            optimized.engine = embpf::exec::EngineKind::optimized;
            auto again = embpf::Object::load(*spec, optimized);
            _exit(again && again->program(names.front())->engine() == embpf::exec::EngineKind::optimized ? 0 : 3);
        }
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child) {
            return 4;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "the forked child %s %d\n", WIFEXITED(status) ? "exited with" : "was killed by signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return 1;
        }
    }
    return 0;
}
