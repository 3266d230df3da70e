// Result<T>: value() of an error (and error() of a value) is the caller's bug. No exception crosses the API: it says
// so on stderr, with the error's message, and aborts; it never throws std::bad_variant_access.
#include "embpf/embpf.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

using namespace embpf;

namespace {

Result<int> fails() { return Error::invalid("the input is bad", 7); }
Result<int> succeeds() { return 42; }
Result<void> fails_void() { return Error::unsupported("not here"); }

struct Ending {
    bool aborted = false;   ///< killed by SIGABRT
    std::string diagnostic; ///< what it wrote to stderr
};

// Runs `misuse` in a child process with stderr captured; how the child ended.
Ending in_child(const std::function<void()>& misuse) {
    int pipe_ends[2];
    REQUIRE(pipe(pipe_ends) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        dup2(pipe_ends[1], STDERR_FILENO);
        close(pipe_ends[0]);
        std::signal(SIGABRT, SIG_DFL); // the test framework's crash handler stays with the parent
        try {
            misuse();
        } catch (...) {
            _exit(3); // an exception: not what the API promises
        }
        _exit(0); // returned: not what the API promises either
    }
    close(pipe_ends[1]);
    Ending ending;
    char buffer[512];
    for (ssize_t n; (n = read(pipe_ends[0], buffer, sizeof buffer)) > 0;) {
        ending.diagnostic.append(buffer, static_cast<std::size_t>(n));
    }
    close(pipe_ends[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    ending.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    return ending;
}

} // namespace

TEST_CASE("result: value() of an error aborts with the error's message, and throws nothing") {
    const Ending plain = in_child([] { (void)fails().value(); });
    CHECK(plain.aborted);
    CHECK(plain.diagnostic == "embpf: value() of a Result that holds an error: the input is bad\n");
    // Every way to the value: const, operator*, operator->.
    CHECK(in_child([] {
              const Result<int> r = fails();
              (void)r.value();
          }).aborted);
    CHECK(in_child([] {
              Result<int> r = fails();
              (void)*r;
          }).aborted);
    CHECK(in_child([] {
              Result<std::string> text = Error::runtime("stopped");
              (void)text->size();
          }).aborted);
    const Ending nothing = in_child([] { fails_void().value(); });
    CHECK(nothing.aborted);
    CHECK(nothing.diagnostic == "embpf: value() of a Result that holds an error: not here\n");
    // A failed load's value(): the load's own message.
    const std::vector<std::uint8_t> garbage(64, 0x5a);
    auto spec = ObjectSpec::open(std::span<const std::uint8_t>(garbage));
    REQUIRE_FALSE(spec.has_value());
    const Ending load = in_child([&] { (void)spec.value(); });
    CHECK(load.aborted);
    CHECK(load.diagnostic == "embpf: value() of a Result that holds an error: " + spec.error().message + "\n");
}

TEST_CASE("result: error() of a value aborts too; the right calls return") {
    const Ending ending = in_child([] { (void)succeeds().error(); });
    CHECK(ending.aborted);
    CHECK(ending.diagnostic == "embpf: error() of a Result that holds a value\n");
    CHECK(in_child([] { (void)Result<void>().error(); }).aborted);
    // The error stays readable, a value is a value, and value_or falls back.
    const Result<int> r = fails();
    CHECK(r.error().message == "the input is bad");
    CHECK(r.error().pc == std::optional<std::size_t>(7));
    CHECK(succeeds().value() == 42);
    CHECK(fails().value_or(5) == 5);
    Result<void>().value(); // returns
}
