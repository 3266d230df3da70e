// The state behind Program and Object handles, shared by the api's sources: internal to the api stage.
#pragma once

#include "embpf/api/object.hpp"
#include "embpf/api/registry.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/invocation.hpp"
#include "embpf/runtime/map.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace embpf {

namespace detail {

// A program as its engine runs it. It is an Invocable so that runtime::invoke runs it and prog_array maps hold it.
struct ProgramState final : runtime::Invocable {
    std::string name;
    std::string section;
    std::shared_ptr<const platform::Platform> platform; // what `type` and the checked runs read, kept alive
    const platform::ProgramType* type = nullptr;
    bool verified = false;
    verifier::Report report; // empty for programs loaded unverified
    std::vector<std::string> relocation_report;
    std::optional<exec::Interpreter> interpreter; // the code as loaded; checked runs
    exec::HelperTable helpers;                    // the helpers the code calls, for the engines that translate it
    std::string engine_fallback;                  // why the engine LoadOptions asked for does not run it
    std::uint64_t instruction_budget = 0;         // LoadOptions::instruction_budget, for every engine's code
    mutable std::atomic<std::uint64_t> budget_exhausted{0}; // the unchecked runs the budget stopped
    /// What an unchecked run of a verified program runs: a copy of the interpreter at load, another engine's code
    /// after Program::use_engine. Read under the invocation's epoch guard; a swap retires the one it replaces, so that
    /// runs under way finish with it.
    mutable std::atomic<const exec::Executable*> executable{nullptr};
    std::vector<std::shared_ptr<runtime::Map>> maps; // what the program refers to, kept alive with it
    exec::CheckedOptions checked;                    // the memory a checked run may touch besides ctx and stack
    std::uint32_t id = 0;                            // unique in the process (Registry)
    std::vector<runtime::RegionField> regions;       // the context's memory regions, which every entry checks

    const std::string& program_name() const noexcept override { return name; }
    const platform::ProgramType& program_type() const noexcept override { return *type; }
    Result<runtime::EntryRegions> enter(const void* ctx, std::size_t ctx_size) const override {
        return runtime::check_entry(*type, ctx, ctx_size, report.reads_packet_meta, regions);
    }
    /// One program's run, without following tail calls, on a context enter() accepted. Unverified programs, and every
    /// program in a checked invocation, run in the checked interpreter, which may touch `entry`'s data range and
    /// memory regions besides ctx and stack.
    Result<exec::CheckedOutcome> step(void* ctx, std::size_t ctx_size, const runtime::EntryRegions& entry,
                                      const runtime::InvocationOptions& options) const override;
    exec::EngineKind kind() const noexcept override {
        const exec::Executable* now = executable.load(std::memory_order_acquire);
        return now != nullptr ? now->kind() : exec::EngineKind::interpreter;
    }
    /// Prepares the program's code for engine `kind` and swaps it in (Program::use_engine).
    Result<void> use_engine(exec::EngineKind kind) const;
    /// What the optimizing JIT is told of the program: its data range, probe loads and the arrays it may inline.
    exec::OptimizerOptions optimizer_options() const;
    /// Puts `next` in the executable slot and retires what it held.
    void swap_executable(std::unique_ptr<const exec::Executable> next) const {
        if (const exec::Executable* old = executable.exchange(next.release(), std::memory_order_acq_rel)) {
            runtime::retire_delete(const_cast<exec::Executable*>(old));
        }
    }
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
};

} // namespace detail

namespace detail {
/// The next program id.
[[nodiscard]] std::uint32_t next_program_id() noexcept;
/// Registers a loaded object's programs and maps for Registry's listings.
void track(const std::shared_ptr<ObjectState>& object);
/// Every link of every live hook (hook.cpp).
[[nodiscard]] std::vector<LinkInfo> live_links();
} // namespace detail

} // namespace embpf
