// Memory a plugin makes the host allocate while it runs, and memory a torn-down object gives back.
#include "embpf/api/object.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/map.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using namespace embpf;
using testing_seeds::BindContext;

namespace {

const std::string kTail = EMBPF_TEST_TAIL_DIR;

Object load(const std::string& path, const LoadOptions& options = {}) {
    auto spec = ObjectSpec::open(std::filesystem::path(path));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, options);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

std::uint64_t run_churn(const Object& object) {
    static const char app[] = "app.exe";
    BindContext ctx;
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;
    auto r0 = object.program("churn").value().run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    return *r0;
}

} // namespace

TEST_CASE("memory: by default an object may not make its host allocate more than 1 GiB of maps") {
    CHECK(LoadOptions{}.memory_limit == std::size_t{1} << 30);
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/huge_map.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto refused = Object::load(*spec);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("memory limit of 1073741824 bytes") != std::string::npos,
                  refused.error().message);
}

TEST_CASE("time: by default a program whose runs may take more than 2^30 instructions is refused") {
    CHECK(LoadOptions{}.max_instructions == std::uint64_t{1} << 30);
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/long_loops.o"), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto refused = Object::load(*spec);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("program nested") != std::string::npos, refused.error().message);
    CHECK_MESSAGE(refused.error().message.find("more than LoadOptions::max_instructions (1073741824)") !=
                      std::string::npos,
                  refused.error().message);
    // The host may allow it, and the short loop loads either way.
    auto allowed = Object::load(*spec, {.max_instructions = 0});
    REQUIRE_MESSAGE(allowed.has_value(), (allowed ? "" : allowed.error().message));
    CHECK(allowed->program("nested").value().verification().instruction_bound.value() > (std::uint64_t{1} << 30));
    CHECK(allowed->program("short_loop").value().verification().instruction_bound.value() < 100000);
}

TEST_CASE("time: a program that tail-calls gets a 33rd of max_instructions, so that a chain stays within twice it") {
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/tail_loop.o"), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    // 70,000,010 instructions: below 2^30, above 2^30 / 33.
    auto refused = Object::load(*spec);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("more than LoadOptions::max_instructions / 33 (32537631) for a "
                                               "program that tail-calls") != std::string::npos,
                  refused.error().message);
    // The tail call itself counts its implementation's cost.
    const std::uint64_t bound = 70000010 + platform::builtin_helper_cost("tail_call");
    auto allowed = Object::load(*spec, {.max_instructions = 33 * bound});
    REQUIRE_MESSAGE(allowed.has_value(), (allowed ? "" : allowed.error().message));
    CHECK(allowed->program("loop_then_tail_call").value().verification().instruction_bound == 70000010);
    CHECK(allowed->program("loop_then_tail_call").value().verification().cost_bound == bound);
    CHECK_FALSE(Object::load(*spec, {.max_instructions = 33 * bound - 1}).has_value());
    CHECK(Object::load(*spec, {.max_instructions = 0}).has_value());
}

TEST_CASE("time: helper calls count by the memory they cover, in the verifier's bound and in checked budgets") {
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/helper_costs.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    // 10,000 updates of a 4 MiB value: 110,014 instructions, but each update costs 1 + (4 + 4 MiB) / 8 and the
    // update's own work. Counted as one instruction each, a run took some 10 seconds here while its bound was 10^5.
    auto refused = Object::load(*spec);
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("program copy_big") != std::string::npos, refused.error().message);
    CHECK_MESSAGE(refused.error().message.find("may cost 5248440279 instructions") != std::string::npos,
                  refused.error().message);

    auto allowed = Object::load(*spec, {.max_instructions = 0});
    REQUIRE_MESSAGE(allowed.has_value(), (allowed ? "" : allowed.error().message));
    const verifier::Report& big = allowed->program("copy_big").value().verification();
    CHECK(big.instruction_bound == 110014);
    // The maps take 8 MiB and more, so each map element a helper reaches, and each map value it reads or writes, may
    // miss the caches: platform::kFarAccessCost more for each.
    const std::uint64_t miss = platform::kFarAccessCost;
    const std::uint64_t lookup = platform::helper_call_cost(4) - 1 + platform::builtin_helper_cost("map_lookup_elem");
    const std::uint64_t update =
        platform::helper_call_cost(4 + (1 << 22)) - 1 + platform::builtin_helper_cost("map_update_elem");
    CHECK(big.cost_bound == 110014 + lookup + miss + 10000 * (update + 2 * miss));
    CHECK(big.cost_bound == 5248440279);
    // A load from the 8 MiB of big_values may miss the caches too.
    const verifier::Report& far = allowed->program("far_read").value().verification();
    REQUIRE(far.instruction_bound.has_value());
    CHECK(far.cost_bound == *far.instruction_bound + lookup + miss + miss);

    // One lookup (a 4-byte key) and one update (the key and a 1 KiB value) on the longest path of 18 instructions.
    const Program small = allowed->program("copy_small").value();
    const std::uint64_t cost =
        18 + lookup + platform::helper_call_cost(4 + 1024) - 1 + platform::builtin_helper_cost("map_update_elem");
    CHECK(cost == 188);
    CHECK(small.verification().instruction_bound == 18);
    // The verifier adds the misses (the two elements and the value the update reads), which checked runs do not
    // count: the run needs `cost` exactly.
    REQUIRE(small.verification().cost_bound == cost + 3 * miss);
    MapHandle values = allowed->map("small_values").value();
    const std::uint8_t k0[4] = {0, 0, 0, 0};
    const std::uint8_t k1[4] = {1, 0, 0, 0};
    std::vector<std::uint8_t> pattern(1024, 0x5A);
    REQUIRE(values.update(k0, pattern, 0).has_value());
    auto value_at_1 = [&] {
        auto found = values.lookup(k1);
        REQUIRE(found.has_value());
        REQUIRE(found->has_value());
        return **found;
    };
    static const char app[] = "app.exe";
    BindContext ctx;
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;
    // The verifier's bound is the budget this run needs, exactly: one short stops it at its exit.
    auto short_by_one = small.run_checked(&ctx, sizeof ctx, cost - 1);
    REQUIRE_FALSE(short_by_one.has_value());
    CHECK_MESSAGE(short_by_one.error().message.find("budget") != std::string::npos, short_by_one.error().message);
    // The update is charged before it runs: a budget that its cost exceeds (three instructions follow it) stops the
    // run before anything is copied.
    CHECK(value_at_1() == pattern); // the run stopped at its exit had updated it
    REQUIRE(values.update(k1, std::vector<std::uint8_t>(1024, 0), 0).has_value());
    auto stopped = small.run_checked(&ctx, sizeof ctx, cost - 4);
    REQUIRE_FALSE(stopped.has_value());
    CHECK_MESSAGE(stopped.error().message.find("budget") != std::string::npos, stopped.error().message);
    CHECK(value_at_1() == std::vector<std::uint8_t>(1024, 0));
    auto ran = small.run_checked(&ctx, sizeof ctx, cost);
    REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().message));
    CHECK(ran->r0 == 1);
    CHECK(ran->instructions == cost);
    CHECK(value_at_1() == pattern);
}

TEST_CASE("time: per-CPU inserts count every slot they clear, and LPM-trie calls every level they may walk") {
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/helper_costs.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, {.max_instructions = 0, .slots = 128});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const std::uint64_t lookup = platform::helper_call_cost(4) - 1 + platform::builtin_helper_cost("map_lookup_elem");
    static const char app[] = "app.exe";
    BindContext ctx;
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;

    // The object's maps take 8 MiB and more: each probe of a hashed map (a bucket, an element) may miss the caches.
    const std::uint64_t probes = 2 * platform::kFarAccessCost;

    // A new element of a per-CPU hash map with 128 slots: 128 values of 1 KiB cleared or copied.
    const Program insert = object->program("per_cpu_insert").value();
    const std::uint64_t insert_cost =
        18 + lookup + platform::helper_call_cost(4 + 1024 * 128) - 1 + platform::builtin_helper_cost("map_update_elem");
    CHECK(insert.verification().instruction_bound == 18);
    // The lookup's element and the value the update reads may miss too.
    CHECK(insert.verification().cost_bound == insert_cost + probes + 2 * platform::kFarAccessCost);
    // The checked interpreter counts helpers the same, cache misses not: the run takes the longest path, and needs
    // the whole bound but the probes.
    auto ran = insert.run_checked(&ctx, sizeof ctx, insert_cost);
    REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().message));
    CHECK(ran->r0 == 1);
    CHECK(ran->instructions == insert_cost);

    // A trie of 260-byte keys may be 2,049 levels deep.
    const Program trie = object->program("trie_lookup").value();
    const std::uint64_t levels = 8 * platform::kLpmLevelCost * (256 * 8 + 1);
    const std::uint64_t trie_cost =
        15 + lookup + platform::helper_call_cost(260 + levels) - 1 + platform::builtin_helper_cost("map_lookup_elem");
    // And each of the 2,049 levels it may walk is a miss too: the maps are larger than the caches.
    CHECK(trie.verification().cost_bound == trie_cost + probes + 2 * platform::kFarAccessCost +
                                                (platform::kFarAccessCost - platform::kLpmLevelCost) * (256 * 8 + 1));
    auto looked = trie.run_checked(&ctx, sizeof ctx, trie_cost);
    REQUIRE_MESSAGE(looked.has_value(), (looked ? "" : looked.error().message));
    CHECK(looked->r0 == 2); // the trie is empty
    CHECK(looked->instructions > trie_cost - 15);
}

TEST_CASE("time: a plugin's hash maps are seeded at random even when they ask for BPF_F_ZERO_SEED") {
    // Two loads of one object, the same keys in both: with the zero seed they iterate in the same order, with
    // random seeds the orders of 64 keys differ (equal by chance with a probability far below 10^-9).
    auto order = [](const platform::Platform& platform) {
        auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/zero_seed.o"), &platform);
        REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
        std::vector<std::vector<std::vector<std::uint8_t>>> orders;
        for (int load = 0; load < 2; ++load) {
            auto object = Object::load(*spec);
            REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
            MapHandle seeded = object->map("seeded").value();
            for (std::uint8_t k = 0; k < 64; ++k) {
                const std::uint8_t key[4] = {k, 0, 0, 0};
                const std::uint8_t value[4] = {};
                REQUIRE(seeded.update(key, value, 0).has_value());
            }
            auto keys = seeded.keys();
            REQUIRE(keys.has_value());
            REQUIRE(keys->size() == 64);
            orders.push_back(std::move(keys).value());
        }
        return orders[0] == orders[1];
    };
    REQUIRE(platform::windows().for_untrusted_plugins());
    CHECK_FALSE(order(platform::windows()));
    // On a platform for trusted programs too: 16,384 keys of one bucket made each lookup of linux()'s hash map walk
    // them all, 28.8 s at 4% of the run budget.
    platform::Platform trusted = platform::windows();
    trusted.set_for_untrusted_plugins(false);
    CHECK_FALSE(order(trusted));
}

TEST_CASE("time: the instructions verified for all of an object's programs are bounded") {
    CHECK(LoadOptions{}.max_analysed_instructions == std::uint64_t{1} << 19);
    auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/long_loops.o"), &platform::linux());
    REQUIRE(spec.has_value());
    auto each = Object::load(*spec, {.max_instructions = 0});
    REQUIRE(each.has_value());
    const std::uint64_t nested = each->program("nested").value().verification().analysed_instructions;
    const std::uint64_t short_loop = each->program("short_loop").value().verification().analysed_instructions;
    CHECK(nested > 0);
    CHECK(short_loop > 0);
    // Enough for both: loads; enough for the first only: refused at the second, naming the option.
    CHECK(Object::load(*spec, {.max_instructions = 0, .max_analysed_instructions = nested + short_loop}).has_value());
    auto refused = Object::load(*spec, {.max_instructions = 0, .max_analysed_instructions = nested + short_loop - 1});
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("LoadOptions::max_analysed_instructions") != std::string::npos,
                  refused.error().message);

    // And the analysis' work for all of them: what bounds the time a load takes, however the programs relate their
    // variables (a few thousand instructions that relate dozens of stack slots took minutes before it).
    CHECK(LoadOptions{}.max_analysis_work == std::uint64_t{1} << 31);
    const std::uint64_t nested_work = each->program("nested").value().verification().analysis_work;
    const std::uint64_t short_work = each->program("short_loop").value().verification().analysis_work;
    CHECK(nested_work > 0);
    CHECK(short_work > 0);
    // Each program also counts what loading it costs besides its analysis.
    REQUIRE(each->program_names().size() == 2);
    const std::uint64_t both = nested_work + short_work + 2 * LoadOptions::work_per_program +
                               2 * LoadOptions::work_per_map * spec->maps().size();
    CHECK(Object::load(*spec, {.max_instructions = 0, .max_analysis_work = both}).has_value());
    CHECK_FALSE(Object::load(*spec, {.max_instructions = 0, .max_analysis_work = both - 1}).has_value());
    auto busy = Object::load(*spec, {.max_instructions = 0, .max_analysis_work = std::min(nested_work, short_work)});
    REQUIRE_FALSE(busy.has_value());
    const std::string& why = busy.error().message;
    const bool named = why.find("LoadOptions::max_analysis_work") != std::string::npos ||
                       why.find("Program is too complex to analyse") != std::string::npos;
    CHECK_MESSAGE(named, why);
    CHECK(Object::load(*spec, {.max_instructions = 0, .max_analysis_work = 0}).has_value());
}

TEST_CASE("memory: replacing one key 20,000 times in one invocation leaves a one-entry map bounded") {
    const Object object = load(kTail + "/churn.o");
    const MapHandle one = object.map("one").value();
    const std::size_t before = one.memory_size();
    CHECK(run_churn(object) == 1); // some replacements were refused (-ENOMEM) once the allowance was used up
    const std::size_t after = one.memory_size();
    MESSAGE("one-entry hash map: " << before << " bytes at load, " << after << " after 20,000 replacements");
    // Each element holds a 256-byte value: without the bound the map grows by 20,000 of them (over 5 MB).
    const std::size_t element = 256 + 64;
    const std::uint32_t slots = one.runtime_map()->config().slots;
    CHECK(after <= before + (runtime::retired_allowance(slots) + 16) * element);
    CHECK(after < 20'000 * element / 50);

    // Once the invocation has ended its retirements are reclaimed, and updates succeed again.
    runtime::synchronize();
    const std::uint32_t key = 0;
    std::uint8_t value[256] = {};
    MapHandle writable = one;
    CHECK(writable.update({reinterpret_cast<const std::uint8_t*>(&key), 4}, value).has_value());
    CHECK(one.memory_size() == after);
}

TEST_CASE("memory: LoadOptions::memory_limit also bounds what maps allocate while programs run") {
    std::size_t at_load = 0;
    {
        const Object unlimited = load(kTail + "/churn.o");
        at_load = unlimited.memory_size();
    }
    const std::size_t limit = at_load + 2000; // less than one more chunk of elements
    const Object object = load(kTail + "/churn.o", {.memory_limit = limit});
    CHECK(object.memory_size() == at_load);
    CHECK(run_churn(object) == 1);
    CHECK(object.memory_size() <= limit);
    CHECK(object.memory_size() == at_load);
}

TEST_CASE("memory: a torn-down object's maps are freed at once, not left in a reclamation batch") {
    runtime::synchronize(); // this thread's batch starts empty
    std::weak_ptr<runtime::Map> depth;
    {
        auto spec = ObjectSpec::open(std::filesystem::path(kTail + "/tail_calls.o"));
        REQUIRE(spec.has_value());
        auto object = Object::load(*spec, {.unverified = true});
        REQUIRE(object.has_value());
        // The program array holds `recurse`, which holds `depth`.
        REQUIRE(object->map("programs")->set_program(3, object->program("recurse").value()).has_value());
        depth = object->map("depth")->runtime_map();
    }
    CHECK(depth.expired());
    CHECK(runtime::pending_retirements() == 0);
}

TEST_CASE("memory: AnalysisBudget counts an object's programs as Object::load does") {
    LoadOptions options;
    options.max_analysis_work = 1'000'000;
    options.max_analysed_instructions = 100;
    AnalysisBudget budget(options, 2);
    CHECK(budget.work_left() == 1'000'000); // under one program's default limit
    verifier::Report report;
    report.analysis_work = 900'000;
    report.analysed_instructions = 40;
    CHECK_FALSE(budget.charge(report).has_value()); // 900,000 + 2^14 + 2 x 32
    CHECK(budget.work_left() == 1'000'000 - 900'000 - LoadOptions::work_per_program - 2 * LoadOptions::work_per_map);
    report.analysis_work = 90'000;
    const auto over = budget.charge(report);
    REQUIRE(over.has_value());
    CHECK(over->find("LoadOptions::max_analysis_work") != std::string::npos);
    CHECK(budget.work_left() == 1); // spent: the next program may do (almost) nothing, never unlimited

    AnalysisBudget instructions(options, 0);
    report.analysis_work = 0;
    report.analysed_instructions = 101;
    const auto many = instructions.charge(report);
    REQUIRE(many.has_value());
    CHECK(many->find("LoadOptions::max_analysed_instructions") != std::string::npos);

    options.max_analysis_work = 0;
    CHECK(AnalysisBudget(options, 0).work_left() == 0); // no limit
}
