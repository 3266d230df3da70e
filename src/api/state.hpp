// The state behind Program and Object handles, shared by the api's sources: internal to the api stage.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/api/registry.hpp"
#include "embpf/exec/aot.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/invocation.hpp"
#include "embpf/runtime/map.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace embpf {

namespace detail {

// A program as its engine runs it. It is an Invocable so that runtime::invoke runs it and prog_array maps hold it.
// Always owned by shared_ptr: a promotion in the background finds it through weak_from_this().
struct ProgramState final : runtime::Invocable, std::enable_shared_from_this<ProgramState> {
    std::string name;
    std::string section;
    std::shared_ptr<const platform::Platform> platform; // what `type` and the checked runs read, kept alive
    const platform::ProgramType* type = nullptr;
    bool verified = false;
    verifier::Report report; // empty for programs loaded unverified
    /// What the verifier proved (verifier::Report::facts), for the optimizing JIT: made for the engines optimized and
    /// automatic, kept for the program's life under automatic (the background compilation reads them; nothing writes
    /// them after the load), dropped after the load otherwise.
    std::vector<verifier::InstructionFacts> facts;
    std::vector<std::string> relocation_report;
    std::optional<exec::Interpreter> interpreter; // the code as loaded; checked runs
    exec::HelperTable helpers;                    // the helpers the code calls, for the engines that translate it
    std::uint64_t instruction_budget = 0;         // LoadOptions::instruction_budget, for every engine's code
    mutable std::atomic<std::uint64_t> budget_exhausted{0}; // the unchecked runs the budget stopped
    /// What an unchecked run of a verified program runs: a copy of the interpreter at load, another engine's code
    /// after Program::use_engine. Read under the invocation's epoch guard; a swap retires the one it replaces, so that
    /// runs under way finish with it.
    mutable std::atomic<const exec::Executable*> executable{nullptr};
    // Automatic tiering (LoadOptions::engine = automatic). A run reads `promotion` alone, relaxed, and counts only
    // while it says `counting`: once the program is promoted, or was never to be, its runs write nothing here.
    mutable std::atomic<Promotion> promotion{Promotion::none};
    mutable std::atomic<std::uint64_t> runs{0}; // the unchecked runs counted toward promote_after
    std::uint64_t promote_after = 0;            // LoadOptions::promote_after
    // Orders the promotion's changes with the swaps that go with them, so that a host's use_engine is never undone
    // by a promotion finishing after it; and guards engine_fallback, which the background compilation may extend.
    mutable std::mutex engine_mutex;
    mutable std::condition_variable promotion_changed; // wait_for_promotion
    mutable std::string engine_fallback; // why the engine LoadOptions asked for does not run it (under engine_mutex)
    std::vector<std::shared_ptr<runtime::Map>> maps; // what the program refers to, kept alive with it
    /// The lddw instructions the loader wrote a map's address into, in the object's order of map references: compiled
    /// code (AotOptions::references) reads those addresses by index.
    std::vector<std::uint32_t> references;
    std::vector<std::uint32_t> reference_maps; // the object's map index of each, kNoIndex for one into a map's value
    /// The code compiled ahead of time bound to this load (LoadOptions::engine = aot), for prepare(aot).
    std::shared_ptr<const exec::AotProgram> aot;
    exec::CheckedOptions checked;              // the memory a checked run may touch besides ctx and stack
    std::uint32_t id = 0;                      // unique in the process (Registry)
    std::vector<runtime::RegionField> regions; // the context's memory regions, which every entry checks
    // Registry's run statistics, written only while they are on (run_stats_on): a cache line of their own, so that
    // threads counting runs do not evict the fields every run reads (executable, promotion).
    struct alignas(64) RunStats {
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> time_ns{0};
    };
    mutable RunStats stats;

    const std::string& program_name() const noexcept override { return name; }
    const platform::ProgramType& program_type() const noexcept override { return *type; }
    Result<runtime::EntryRegions> enter(const void* ctx, std::size_t ctx_size) const override {
        return runtime::check_entry(*type, ctx, ctx_size, report.reads_packet_meta, regions);
    }
    /// One program's run, without following tail calls, on a context enter() accepted, counted in `stats` while run
    /// statistics are on. Unverified programs, and every program in a checked invocation, run in the checked
    /// interpreter, which may touch `entry`'s data range and memory regions besides ctx and stack.
    Result<exec::CheckedOutcome> step(void* ctx, std::size_t ctx_size, const runtime::EntryRegions& entry,
                                      const runtime::InvocationOptions& options) const override;
    /// step() without the statistics.
    Result<exec::CheckedOutcome> run_step(void* ctx, std::size_t ctx_size, const runtime::EntryRegions& entry,
                                          const runtime::InvocationOptions& options) const;
    exec::EngineKind kind() const noexcept override {
        const exec::Executable* now = executable.load(std::memory_order_acquire);
        return now != nullptr ? now->kind() : exec::EngineKind::interpreter;
    }
    /// The program's code for engine `kind`: interpreter, jit or optimized.
    Result<std::unique_ptr<const exec::Executable>> prepare(exec::EngineKind kind) const;
    /// Prepares the program's code for engine `kind` and swaps it in (a load).
    Result<void> install(exec::EngineKind kind) const;
    /// Program::use_engine: install(), as the host's final choice, which ends automatic tiering.
    Result<void> use_engine(exec::EngineKind kind) const;
    /// What the optimizing JIT is told of the program: its data range, probe loads and the arrays it may inline.
    exec::OptimizerOptions optimizer_options() const;
    /// What ahead-of-time compilation is told of it: its data range, probe loads, map references and facts.
    exec::AotOptions aot_options() const;
    /// The helper id of map_lookup_elem, on Linux and Windows alike.
    static constexpr std::uint32_t kLookupHelper = 1;
    /// The program's arrays whose lookups compiled code may compute itself, when its lookup helper is the maps' own
    /// (nullopt otherwise: a host's own lookup is always called).
    std::optional<std::vector<exec::InlineArray>> own_lookup_arrays() const;
    /// Puts `next` in the executable slot and returns what it held, for the caller to retire (runtime::retire_delete)
    /// once it holds no lock: retiring may reclaim earlier code, whose release waits for LLVM.
    [[nodiscard]] const exec::Executable* exchange_executable(std::unique_ptr<const exec::Executable> next) const {
        return executable.exchange(next.release(), std::memory_order_acq_rel);
    }
    /// Puts `next` in the executable slot and retires what it held.
    void swap_executable(std::unique_ptr<const exec::Executable> next) const {
        retire(exchange_executable(std::move(next)));
    }
    static void retire(const exec::Executable* old) noexcept {
        if (old != nullptr) {
            runtime::retire_delete(const_cast<exec::Executable*>(old));
        }
    }

    // Automatic tiering (tiering.cpp).
    /// Arms the promotion of a program loaded with `automatic` whose baseline is in place, or records at once why
    /// there will be none.
    void arm_promotion(const LoadOptions& options);
    /// Counts a run while `promotion` says counting; the run that reaches promote_after asks for the promotion.
    void count_run() const;
    /// Hands the promotion to the background compiler, once (from counting to compiling).
    void request_promotion() const;
    /// The background compiler's job: compiles the optimizing JIT's code and swaps it in, unless the host chose an
    /// engine meanwhile; a failure leaves the program where it runs, with the reason.
    void promote() const noexcept;
    /// Ends a promotion that will not happen (from counting or compiling to failed), with the reason.
    void give_up_promotion(std::string_view why) const noexcept;
    ProgramState() = default;
    ProgramState(const ProgramState&) = delete;
    ProgramState& operator=(const ProgramState&) = delete;
    ~ProgramState() override { delete executable.load(std::memory_order_acquire); }
};

struct ObjectState {
    ObjectState() = default;
    ObjectState(const ObjectState&) = delete;
    ObjectState& operator=(const ObjectState&) = delete;
    // Programs in a program array hold the maps they use, which may be that array: empty the arrays when the object
    // and the last Program handle taken from it go, as Linux empties a program array when its last file descriptor
    // closes, so no cycle outlives it.
    //
    // The entries cleared are retired, and would wait in this thread's reclamation batch (holding their programs and
    // the programs' maps) until the batch fills: hand them over and reclaim now, so that the memory of a torn-down
    // object comes back at once unless another thread is inside an invocation (then the next reclamation frees it).
    ~ObjectState() {
        bool cleared = false;
        for (auto& entry : maps) {
            if (entry.second.kind() == platform::MapKind::prog_array) {
                static_cast<runtime::ProgramArrayMap&>(*entry.second.runtime_map()).clear();
                cleared = true;
            }
        }
        if (cleared) {
            maps.clear();
            programs.clear();
            // Twice: freeing a program may retire more (the entries of a program array only it held).
            runtime::try_reclaim();
            runtime::try_reclaim();
        }
    }

    std::shared_ptr<const platform::Platform> platform;
    std::vector<std::pair<std::string, MapHandle>> maps;
    std::map<std::string, std::shared_ptr<const ProgramState>, std::less<>> programs;
    std::map<std::string, Error, std::less<>> unavailable; // programs that did not load, and why
    std::size_t memory = 0;                                // what the maps took at creation
    std::shared_ptr<runtime::MemoryBudget> budget;         // LoadOptions::memory_limit, also while programs run
    /// generate_aot's load: programs keep their facts and run in the interpreter; no compiled code is bound.
    bool keep_facts = false;
    std::shared_ptr<const void> aot_library; // LoadOptions::aot_library, open while the object lives
};

} // namespace detail

namespace detail {
/// Whether run statistics are on: bit 0 is the host's switch (Registry::enable_stats), and each holder
/// (hold_run_stats) adds 2. Read relaxed by every run; nothing else is ordered by it.
extern std::atomic<std::uint32_t> g_run_stats;
[[nodiscard]] inline bool run_stats_on() noexcept { return g_run_stats.load(std::memory_order_relaxed) != 0; }
/// Keeps run statistics on until the matching release, whatever the host's switch says (an introspection server).
void hold_run_stats() noexcept;
void release_run_stats() noexcept;
/// The next program id.
[[nodiscard]] std::uint32_t next_program_id() noexcept;
/// Registers a loaded object's programs and maps for Registry's listings.
void track(const std::shared_ptr<ObjectState>& object);
/// Every link of every live hook (hook.cpp).
[[nodiscard]] std::vector<LinkInfo> live_links();
/// Queues `program`'s promotion for the process's background compiler (tiering.cpp), which skips it should the
/// program be gone by its turn. Never throws: a promotion that cannot be queued is given up, with the reason.
void compile_in_background(std::weak_ptr<const ProgramState> program) noexcept;
} // namespace detail

} // namespace embpf
