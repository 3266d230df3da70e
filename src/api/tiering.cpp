// Automatic tiering (LoadOptions::engine = automatic): a program starts in the baseline JIT, counts its runs, and the
// run that reaches LoadOptions::promote_after hands it to the process's background compiler, whose optimized code is
// then swapped in under running invocations (ProgramState::swap_executable's epoch reclamation).
#include "state.hpp"

#include "embpf/exec/optimized.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/runtime/epoch.hpp"

#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>

namespace embpf {
namespace detail {

namespace {

// The process's one background compiler: a thread, started by the first promotion, that compiles one program at a
// time (LLVM compiles one at a time anyway, under the optimizing JIT's lock), oldest request first. Its queue holds
// weak pointers, so that a program whose last handle goes while it waits is skipped; the program being compiled is
// held until its compilation ends, since LLVM reads its instructions.
class Compiler {
  public:
    void submit(std::weak_ptr<const ProgramState> program);
    // At exit: drops the queue (those programs stay where they run) and waits for the compilation under way, which
    // uses LLVM's statics and the runtime's: they are destroyed after this (registered with atexit after them, see
    // prepare_compiler() and work()). Again, later, it does nothing.
    void stop() noexcept;

    // fork(): the queue is held across it (prepare, then parent or child), and the child puts back the program the
    // parent's thread was about to compile, which the child's own thread will.
    void before_fork() noexcept { m_mutex.lock(); }
    void after_fork_in_parent() noexcept { m_mutex.unlock(); }
    void after_fork_in_child() noexcept;

  private:
    void work() noexcept;
    // Starts the thread (m_mutex held), after joining one that ended idle or letting go of a parent's.
    void start();

    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::weak_ptr<const ProgramState>> m_queue;
    std::weak_ptr<const ProgramState> m_current; // the program the thread compiles now
    std::thread m_thread;
    pid_t m_owner = 0;      // the process that started m_thread: the child of a fork() has no such thread to wait for
    bool m_running = false; // m_thread runs work(): it ends once idle, so that it never keeps the process alive
    bool m_stopped = false;
    std::uint64_t m_compilations = 0;
};

// How long the thread waits for work before it ends (a later promotion starts another): a host whose main thread
// ends with pthread_exit ends once its own threads have.
constexpr std::chrono::seconds kIdleCompiler{1};

constexpr std::string_view kExiting = "the process is exiting";

void Compiler::submit(std::weak_ptr<const ProgramState> program) {
    std::unique_lock lock(m_mutex);
    if (m_stopped) {
        lock.unlock();
        if (const auto live = program.lock()) {
            live->give_up_promotion(kExiting);
        }
        return;
    }
    m_queue.push_back(std::move(program));
    if (!m_running || m_owner != getpid()) {
        start();
    }
    lock.unlock();
    m_wake.notify_one();
}

void Compiler::stop() noexcept {
    std::deque<std::weak_ptr<const ProgramState>> dropped;
    std::thread worker;
    {
        const std::lock_guard lock(m_mutex);
        m_stopped = true;
        dropped.swap(m_queue);
        if (m_owner == getpid()) {
            worker = std::move(m_thread);
        }
    }
    m_wake.notify_all();
    if (worker.joinable() && worker.get_id() != std::this_thread::get_id()) {
        try {
            worker.join();
        } catch (const std::exception&) {
            worker.detach();
        }
    } else if (worker.joinable()) {
        worker.detach();
    }
    for (const std::weak_ptr<const ProgramState>& program : dropped) {
        if (const auto live = program.lock()) {
            live->give_up_promotion(kExiting);
        }
    }
}

void stop_compiler_at_exit() noexcept;

void Compiler::start() {
    if (m_thread.joinable()) {
        if (m_owner == getpid()) {
            m_thread.join(); // it ended idle (it takes no lock on its way out)
        } else {
            m_thread.detach(); // the parent's, copied by fork(): nothing to join
        }
    }
    // The thread starts with every signal blocked, so that the host's signals go to the host's threads.
    sigset_t all;
    sigset_t before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    try {
        m_thread = std::thread([this] { work(); });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
    m_owner = getpid();
    m_running = true;
}

void Compiler::after_fork_in_child() noexcept {
    if (!m_current.expired()) {
        m_queue.push_front(std::move(m_current));
    }
    m_current.reset();
    m_running = false;
    // The condition variable may still count the parent's thread, waiting for work, among its waiters: a signal in
    // the child would wait for ever for it to leave (attack round 61). The child's one thread holds the mutex; both
    // are made anew, free.
    new (&m_wake) std::condition_variable();
    new (&m_mutex) std::mutex();
    // What the parent had queued is the child's to compile too, whether or not it asks for more (round 61: a worker
    // that only ran what the parent loaded kept those programs in the baseline for ever).
    if (!m_queue.empty()) {
        try {
            start();
        } catch (...) {
            // No thread: the queue waits for the child's next promotion.
        }
    }
}

void Compiler::work() noexcept {
    pthread_setname_np(pthread_self(), "embpf-compiler");
    for (;;) {
        std::shared_ptr<const ProgramState> program;
        bool register_exit = false;
        {
            std::unique_lock lock(m_mutex);
            m_current.reset();
            if (!m_wake.wait_for(lock, kIdleCompiler, [this] { return m_stopped || !m_queue.empty(); }) || m_stopped) {
                m_running = false;
                return;
            }
            m_current = std::move(m_queue.front());
            m_queue.pop_front();
            program = m_current.lock();
            // The statics LLVM made in the compilations before this one (the warm-up's first) are destroyed at exit
            // after the handler registered now, which waits for this compilation: registered again before each of
            // the first compilations, then before every 64th, for what later ones make (LLVM makes some of its
            // statics on first use, and a static destroyed under a running compilation crashes it).
            if (program) {
                register_exit = m_compilations < 64 || m_compilations % 64 == 0;
                ++m_compilations;
            }
        }
        if (program) {
            if (register_exit) {
                std::atexit(stop_compiler_at_exit);
            }
            program->promote();
            program.reset();
        }
        // The baseline code a promotion retired waits in this thread's batch, which no run on this thread would
        // ever hand over: hand it to the reclaimer now.
        runtime::try_reclaim();
    }
}

Compiler& compiler() {
    // Never destroyed: a run during static destruction may still ask for a promotion (given up then).
    static Compiler* const instance = [] {
        auto* made = new Compiler();
        pthread_atfork([] { compiler().before_fork(); }, [] { compiler().after_fork_in_parent(); },
                       [] { compiler().after_fork_in_child(); });
        return made;
    }();
    return *instance;
}

void stop_compiler_at_exit() noexcept { compiler().stop(); }

// A small program through every kind of code the lowering makes (arithmetic of both widths, division, shifts, byte
// swaps, each width of load and store, atomics, a loop, a local call, a helper call), metered and not.
constexpr const char* kWarmUp = R"(
    r6 = r1
    r7 = *(u64 *)(r6 + 0)
    r8 = 0
    r9 = 64
loop:
    *(u64 *)(r10 - 8) = r7
    *(u32 *)(r10 - 12) = w7
    *(u16 *)(r10 - 14) = r7
    *(u8 *)(r10 - 15) = r7
    r1 = *(u8 *)(r10 - 15)
    r2 = *(u16 *)(r10 - 14)
    r3 = *(s32 *)(r10 - 12)
    r8 += r1
    r8 ^= r2
    r8 *= r3
    w8 /= w9
    r8 %= r9
    r8 s/= r9
    r8 <<= 3
    r8 s>>= 1
    r8 = be32 r8
    r8 = bswap64 r8
    r1 = 1
    lock *(u64 *)(r10 - 8) += r1
    r1 = atomic_fetch_xor((u64 *)(r10 - 8), r1)
    r0 = r8
    r0 = cmpxchg_64(r10 - 8, r0, r1)
    r8 += r0
    r9 += -1
    if w9 != 0 goto loop
    r1 = r8
    call low_byte
    r1 = r0
    r2 = 0
    call 1
    exit
low_byte:
    r0 = r1
    r0 &= 255
    exit)";

std::uint64_t warm_up_helper(std::uint64_t a, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return a; }

// Once, before the first background compilation can start: what LLVM makes on first use is made here, on the loading
// thread, and the handler that stops the compiler at exit registered after it (so run before its destruction).
void prepare_compiler() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        // (A failure here costs only the warm-up: each compilation reports its own.)
        if (auto program = isa::assemble(kWarmUp)) {
            exec::HelperTable helpers;
            helpers.set(1, &warm_up_helper);
            (void)exec::OptimizedJit::create(*program, helpers);
            (void)exec::OptimizedJit::create(*program, helpers, {.instruction_budget = 1000});
        }
        std::atexit(stop_compiler_at_exit);
    });
}

void append_reason(std::string& fallback, const std::string& reason) {
    fallback += (fallback.empty() ? "" : "; ") + reason;
}

} // namespace

void compile_in_background(std::weak_ptr<const ProgramState> program) noexcept {
    try {
        compiler().submit(program);
    } catch (const std::exception& error) {
        // No thread (std::system_error) or no memory: the program stays where it runs.
        if (const auto live = program.lock()) {
            live->give_up_promotion(error.what());
        }
    }
}

void ProgramState::arm_promotion(const LoadOptions& options) {
    promote_after = options.promote_after;
    if (!verified) {
        promotion.store(Promotion::failed, std::memory_order_relaxed); // engine_fallback says why (install)
        return;
    }
    // Known at the load: the program would never be compiled. (Set before the program is shared: no lock.)
    if (!exec::optimizer_available()) {
        append_reason(engine_fallback, "program " + name +
                                           ": not promoted: the optimizing JIT is not in this build (it needs LLVM "
                                           "19: EMBPF_WITH_LLVM)");
        promotion.store(Promotion::failed, std::memory_order_relaxed);
        return;
    }
    prepare_compiler();
    promotion.store(Promotion::counting, std::memory_order_relaxed);
}

void ProgramState::count_run() const {
    // Exactly one run sees the count reach promote_after; the runs that saw `counting` before the promotion was
    // requested count on past it, and request nothing.
    if (runs.fetch_add(1, std::memory_order_relaxed) + 1 == promote_after) {
        request_promotion();
    }
}

void ProgramState::request_promotion() const {
    {
        const std::lock_guard lock(engine_mutex);
        if (promotion.load(std::memory_order_relaxed) != Promotion::counting) {
            return; // the host chose an engine meanwhile
        }
        promotion.store(Promotion::compiling, std::memory_order_relaxed);
    }
    compile_in_background(weak_from_this());
}

void ProgramState::promote() const noexcept {
    try {
        if (promotion.load(std::memory_order_acquire) != Promotion::compiling) {
            return; // the host chose an engine while it waited: nothing to compile
        }
        auto code = prepare(exec::EngineKind::optimized);
        const exec::Executable* old = nullptr;
        {
            const std::lock_guard lock(engine_mutex);
            if (promotion.load(std::memory_order_relaxed) != Promotion::compiling) {
                return; // the host's choice came during the compilation, and stands: the code is thrown away
            }
            if (!code) {
                append_reason(engine_fallback, code.error().message); // it names the program and the refusal
                promotion.store(Promotion::failed, std::memory_order_release);
                promotion_changed.notify_all();
                return;
            }
            old = exchange_executable(std::move(code).value());
            promotion.store(Promotion::promoted, std::memory_order_release);
            promotion_changed.notify_all();
        }
        retire(old);
    } catch (const std::exception& error) {
        give_up_promotion(error.what()); // out of memory
    } catch (...) {
        give_up_promotion("the compilation failed");
    }
}

void ProgramState::give_up_promotion(std::string_view why) const noexcept {
    const std::lock_guard lock(engine_mutex);
    const Promotion now = promotion.load(std::memory_order_relaxed);
    if (now != Promotion::counting && now != Promotion::compiling) {
        return;
    }
    try {
        append_reason(engine_fallback, "program " + name + ": not promoted: " + std::string(why));
    } catch (const std::exception&) {
        // No memory for the reason: the program still stays where it runs.
    }
    promotion.store(Promotion::failed, std::memory_order_release);
    promotion_changed.notify_all();
}

} // namespace detail
} // namespace embpf
