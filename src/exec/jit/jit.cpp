// The baseline JIT: translation, executable memory, and the support functions its code calls.
#include "embpf/exec/jit.hpp"

#include "../metering.hpp"
#include "../support.hpp"
#include "embpf/isa/decode.hpp"
#include "jit_code.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace embpf::exec {

namespace detail {

JitCode::~JitCode() {
#ifdef __linux__
    if (memory != nullptr) {
        munmap(memory, mapped);
    }
#endif
}

namespace {

using Entry = std::uint64_t (*)(std::uint64_t, std::uint64_t, const JitCode*);
// Metered code's entry: the fourth argument is where the run says it exhausted its budget.
using MeteredEntry = std::uint64_t (*)(std::uint64_t, std::uint64_t, const JitCode*, std::uint64_t*);
using Thunk = std::uint64_t (*)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, JitRun*);

std::uint64_t stop(JitRun* run) {
    run->stop = 1;
    return 0;
}

// Metering: a callback invocation of the function at `index` charges its length; past the budget the run ends.
bool charge_callback(JitRun* run, std::uint64_t index) {
    const JitCode& code = *run->code;
    if (code.budget == 0) {
        return true;
    }
    const std::uint64_t charge = code.function_lengths[index];
    if (charge > run->budget) {
        *run->exhausted = 1;
        stop(run);
        return false;
    }
    run->budget -= charge;
    return true;
}

// The entry of the callback at instruction `index`, or 0.
std::uint64_t callback_entry(const JitCode& code, std::uint64_t index) {
    const auto found = std::lower_bound(code.callbacks.begin(), code.callbacks.end(), index,
                                        [](const auto& entry, std::uint64_t i) { return entry.first < i; });
    return found != code.callbacks.end() && found->first == index ? found->second : 0;
}

// Runs the callback at `callee` in a frame below the caller's (r10 - 512): r1-r4 as given.
std::uint64_t call_back(JitRun* run, std::uint64_t callee, std::uint64_t r10, std::uint64_t r1, std::uint64_t r2,
                        std::uint64_t r3, std::uint64_t r4) {
    run->callee = callee;
    return reinterpret_cast<Thunk>(static_cast<std::uintptr_t>(run->code->thunk))(r1, r2, r3, r4, r10, run);
}

// bpf_loop(nr_loops, callback, ctx, flags): the callback runs with (index, ctx) until it returns non-zero or
// nr_loops calls were made; the result is the calls made. As the interpreter: flags other than 0 are -EINVAL, more
// than platform::kMaxCallbackLoops loops -E2BIG, and a frame past the deepest ends the run.
std::uint64_t loop(std::uint64_t nr_loops, std::uint64_t index, std::uint64_t ctx, std::uint64_t flags, std::uint64_t,
                   JitRun* run) {
    if (flags != 0) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    }
    const std::uint64_t callee = callback_entry(*run->code, index);
    if (run->depth >= isa::kMaxCallDepth || callee == 0) {
        return stop(run);
    }
    if (static_cast<std::uint32_t>(nr_loops) > platform::kMaxCallbackLoops) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(E2BIG));
    }
    const std::uint64_t r10 = run->r10 - isa::kStackSize;
    const std::uint64_t limit = static_cast<std::uint32_t>(nr_loops);
    ++run->depth;
    std::uint64_t calls = 0;
    while (calls < limit) {
        if (!charge_callback(run, index)) {
            break;
        }
        const std::uint64_t i = calls++;
        if (call_back(run, callee, r10, i, ctx, 0, 0) != 0) {
            break;
        }
    }
    --run->depth;
    return calls;
}

// for_each_map_elem(map, callback, ctx, flags): the callback runs with (map, key, value, ctx) for each element, the
// key a copy at the bottom of its frame, until it returns non-zero; the result is the elements visited.
std::uint64_t for_each(std::uint64_t map, std::uint64_t index, std::uint64_t ctx, std::uint64_t flags, std::uint64_t,
                       JitRun* run) {
    if (flags != 0) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    }
    const std::uint64_t callee = callback_entry(*run->code, index);
    if (run->depth >= isa::kMaxCallDepth || callee == 0) {
        return stop(run);
    }
    const std::uint64_t r10 = run->r10 - isa::kStackSize;
    const std::uint64_t key_at = r10 - isa::kStackSize;
    alignas(8) std::uint8_t key[platform::kMaxCallbackKey];
    ++run->depth;
    std::uint64_t calls = 0;
    for (;;) {
        const MapElement next = run->code->next_element(map, calls, calls == 0 ? nullptr : key, key);
        if (next.value == nullptr || !charge_callback(run, index)) {
            break;
        }
        ++calls;
        std::memcpy(reinterpret_cast<void*>(static_cast<std::uintptr_t>(key_at)), key,
                    std::min<std::size_t>(next.key_size, platform::kMaxCallbackKey));
        if (call_back(run, callee, r10, map, key_at, reinterpret_cast<std::uintptr_t>(next.value), ctx) != 0) {
            break;
        }
    }
    --run->depth;
    return calls;
}

// callx: the helper whose id the program computed; an id without one ends the run, as the unwind helper's 0 does.
std::uint64_t callx(std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, std::uint64_t r4, std::uint64_t r5,
                    JitRun* run) {
    const JitCode& code = *run->code;
    const std::optional<std::uint64_t> r0 =
        call_by_id(code.helpers, code.helper_arguments, code.unwind, run->callx_id, r1, r2, r3, r4, r5);
    return r0 ? *r0 : stop(run);
}

// LD_ABS/LD_IND: `size` bytes of the packet of the context in r6 at `offset`, big-endian; outside the data range
// (or at a negative offset) the run ends with 0.
std::uint64_t packet_load(std::uint64_t r6, std::int64_t offset, std::uint64_t size, JitRun* run) {
    const std::optional<std::uint64_t> value = packet_bytes(r6, *run->code->packet, offset, size);
    return value ? *value : stop(run);
}

} // namespace

void begin_translation(std::span<const isa::Instruction> program, const JitOptions& options, JitImage& image) {
    image.size = 0;
    image.lines.clear();
    image.callbacks.clear();
    image.labels.resize(program.size() + 1);
    image.functions.resize(program.size());
    image.marks.assign(program.size(), 0);
    image.jumps.clear();
    image.calls.clear();
    image.function_lengths.clear();
    if (options.instruction_budget != 0) {
        image.function_lengths = function_lengths(program);
    }
    std::vector<std::uint8_t>& marks = image.marks;
    for (const std::uint32_t pc : options.probe_loads) {
        if (pc < marks.size()) {
            marks[pc] |= kJitProbe;
        }
    }
    marks[0] |= kJitFunction;
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        const isa::Instruction& ins = program[pc];
        if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local)) {
            marks[pc + 1 + static_cast<std::size_t>(static_cast<std::int64_t>(ins.imm))] |= kJitFunction;
        }
        if (isa::is_lddw(ins)) {
            if (ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
                marks[static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm)] |=
                    kJitFunction | kJitCallback;
            }
            ++pc;
        }
    }
}

namespace {

constexpr JitSupport kSupport{&loop, &for_each, &callx, &packet_load, &probe_load};

} // namespace
} // namespace detail

std::optional<JitTarget> host_jit_target() noexcept {
#if defined(__x86_64__) && defined(__linux__)
    return JitTarget::x86_64;
#elif defined(__aarch64__) && defined(__linux__)
    return JitTarget::arm64;
#else
    return std::nullopt;
#endif
}

namespace {

Result<void> check_program(std::span<const isa::Instruction> program, const JitOptions& options) {
    if (auto valid = isa::validate(program); !valid) {
        return std::move(valid).error();
    }
    for (const std::uint32_t pc : options.probe_loads) {
        if (pc >= program.size() || isa::op_class(program[pc].opcode) != isa::op::LDX) {
            return Error::invalid("probe load at instruction " + std::to_string(pc) + ": not a load of the program");
        }
    }
    if (options.packet && options.packet->pointer_width != 4 && options.packet->pointer_width != 8) {
        return Error::invalid("packet layout: pointer width " + std::to_string(options.packet->pointer_width) +
                              " is neither 4 nor 8");
    }
    if (options.instruction_budget != 0) {
        if (auto layout = detail::check_metered_layout(program); !layout) {
            return std::move(layout).error();
        }
    }
    return {};
}

Result<void> translate_into(std::span<const isa::Instruction> program, const HelperTable& helpers,
                            const JitOptions& options, JitTarget target, detail::JitImage& image) {
    std::uint64_t key = 0;
    if (options.blind_constants) {
        std::random_device device;
        key = (static_cast<std::uint64_t>(device()) << 32) | device();
    }
    return target == JitTarget::x86_64
               ? detail::translate_x86_64(program, helpers, options, detail::kSupport, key, image)
               : detail::translate_arm64(program, helpers, options, detail::kSupport, key, image);
}

// Each thread's translation scratch, reused so that its pages are touched once, not by every translation. The
// scratches are listed in the process rather than held by thread_local storage alone: a main thread that ends with
// pthread_exit never runs its thread_local destructors (glibc), and its scratch would be memory nothing reaches.
struct ScratchList {
    std::mutex mutex;
    std::vector<detail::JitImage*> images;
};

ScratchList& scratch_list() {
    static ScratchList* const list = new ScratchList; // never destroyed: threads may translate during exit
    return *list;
}

struct ThreadScratch {
    detail::JitImage* image = nullptr;
    ThreadScratch() = default;
    ThreadScratch(const ThreadScratch&) = delete;
    ThreadScratch& operator=(const ThreadScratch&) = delete;
    ~ThreadScratch() {
        if (image == nullptr) {
            return;
        }
        ScratchList& list = scratch_list();
        {
            const std::lock_guard lock(list.mutex);
            std::erase(list.images, image);
        }
        delete image;
    }
};

detail::JitImage* thread_scratch() {
    thread_local ThreadScratch scratch;
    if (scratch.image == nullptr) {
        auto image = std::make_unique<detail::JitImage>();
        ScratchList& list = scratch_list();
        const std::lock_guard lock(list.mutex);
        list.images.push_back(image.get());
        scratch.image = image.release();
    }
    return scratch.image;
}

} // namespace

Result<JitTranslation> translate(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                 const JitOptions& options, JitTarget target) {
    if (auto checked = check_program(program, options); !checked) {
        return std::move(checked).error();
    }
    detail::JitImage image;
    detail::begin_translation(program, options, image);
    if (auto translated = translate_into(program, helpers, options, target, image); !translated) {
        return std::move(translated).error();
    }
    return JitTranslation{std::vector<std::uint8_t>(image.code.begin(), image.code.begin() + image.size),
                          std::move(image.lines)};
}

Result<Jit> Jit::create(std::span<const isa::Instruction> program, HelperTable helpers, const JitOptions& options) {
    const std::optional<JitTarget> target = host_jit_target();
    if (!target) {
        return Error::unsupported("the JIT does not translate for this machine");
    }
    if (auto checked = check_program(program, options); !checked) {
        return std::move(checked).error();
    }
    detail::JitImage& image = *thread_scratch();
    detail::begin_translation(program, options, image);
    if (auto translated = translate_into(program, helpers, options, *target, image); !translated) {
        return std::move(translated).error();
    }
    auto code = std::make_shared<detail::JitCode>();
#ifdef __linux__
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t mapped = (image.size + page - 1) / page * page;
    // MAP_POPULATE: the pages come in one go, not a fault each.
    void* memory = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (memory == MAP_FAILED) {
        return Error::runtime("the JIT could not map " + std::to_string(mapped) +
                              " bytes for code: " + std::strerror(errno));
    }
    code->memory = memory;
    code->mapped = mapped;
    std::memcpy(memory, image.code.data(), image.size);
    // AArch64 fetches instructions through caches the writes did not go through.
    __builtin___clear_cache(static_cast<char*>(memory), static_cast<char*>(memory) + image.size);
    // Written, now executable and never writable again.
    if (mprotect(memory, mapped, PROT_READ | PROT_EXEC) != 0) {
        return Error::runtime(std::string("the JIT could not make its code executable: ") + std::strerror(errno));
    }
#endif
    const auto base = reinterpret_cast<std::uintptr_t>(code->memory);
    code->code_size = image.size;
    code->program.assign(program.begin(), program.end());
    code->helpers.assign(helpers.functions().begin(), helpers.functions().end());
    code->helper_arguments.assign(helpers.arguments().begin(), helpers.arguments().end());
    code->unwind = helpers.unwind();
    code->next_element = helpers.next_element();
    code->packet = options.packet;
    for (const auto& [index, offset] : image.callbacks) {
        code->callbacks.emplace_back(index, base + offset);
    }
    code->thunk = base + image.thunk;
    code->lines.assign(image.lines.begin(), image.lines.end());
    code->budget = options.instruction_budget;
    code->function_lengths = image.function_lengths;
    if (image.code.size() > (std::size_t{4} << 20)) {
        image = detail::JitImage{}; // a rare large program's scratch is not kept for the thread's life
    }
    return Jit(std::move(code));
}

std::uint64_t Jit::run(void* ctx, std::size_t ctx_size) const noexcept {
    if (m_code->budget != 0) {
        return run_metered(ctx, ctx_size).r0;
    }
    const auto entry = reinterpret_cast<detail::Entry>(m_code->memory);
    return entry(reinterpret_cast<std::uintptr_t>(ctx), ctx_size, m_code.get());
}

RunOutcome Jit::run_metered(void* ctx, std::size_t ctx_size) const noexcept {
    if (m_code->budget == 0) {
        return {run(ctx, ctx_size), false};
    }
    std::uint64_t exhausted = 0;
    const auto entry = reinterpret_cast<detail::MeteredEntry>(m_code->memory);
    const std::uint64_t r0 = entry(reinterpret_cast<std::uintptr_t>(ctx), ctx_size, m_code.get(), &exhausted);
    return {r0, exhausted != 0};
}

std::uint64_t Jit::instruction_budget() const noexcept { return m_code->budget; }

std::span<const std::uint8_t> Jit::machine_code() const noexcept {
    return {static_cast<const std::uint8_t*>(m_code->memory), m_code->code_size};
}
std::span<const JitLine> Jit::lines() const noexcept { return m_code->lines; }
std::uint64_t Jit::code_address() const noexcept { return reinterpret_cast<std::uintptr_t>(m_code->memory); }
std::span<const isa::Instruction> Jit::program() const noexcept { return m_code->program; }

} // namespace embpf::exec
