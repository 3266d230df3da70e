#include "embpf/runtime/invocation.hpp"

#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/helpers.hpp"
#include "invocation_scope.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace embpf::runtime {
namespace {

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

Error in_program(const std::string& program, Error error) {
    error.message = "program " + program + ": " + error.message;
    return error;
}

} // namespace

std::vector<RegionField> region_fields(const platform::ContextDescriptor& context) {
    std::vector<RegionField> out;
    for (const platform::ContextField* field : context.regions()) {
        RegionField region{field->offset, -1, 0, field->memory_size, field->memory_writable, field->name};
        if (const platform::ContextField* size = context.field(field->size_field); !field->size_field.empty() && size) {
            region.size_field = static_cast<std::int32_t>(size->offset);
            region.size_width = static_cast<std::uint8_t>(size->size);
            region.most = field->memory_size == 0 ? platform::kMaxRegionSize : field->memory_size;
        }
        out.push_back(std::move(region));
    }
    return out;
}

bool EntryRegions::same_as(const EntryRegions& other) const noexcept {
    const auto same = [](const exec::MemoryRegion& a, const exec::MemoryRegion& b) {
        return a.start == b.start && a.size == b.size;
    };
    return data.has_value() == other.data.has_value() && (!data || same(*data, *other.data)) &&
           std::equal(memory.begin(), memory.end(), other.memory.begin(), other.memory.end(), same);
}

namespace {

Result<EntryRegions> check_regions(const platform::ProgramType& type, const void* ctx, std::size_t ctx_size,
                                   bool reads_meta, std::span<const RegionField> regions);

// The regions a run reaches lie apart where the program writes one of two: the verifier takes a store to one region
// to leave every other as it was (a packet write that reached the context's data_end would move the bounds it
// proved), and the optimizing JIT's code relies on it too. Read-only regions may share bytes, but none the context's:
// it holds the host's pointers (to the data range, to each region), which a program must never read as bytes.
Result<void> check_apart(const platform::ProgramType& type, const void* ctx, const EntryRegions& entry,
                         std::span<const RegionField> regions) {
    struct Span {
        std::string name;
        std::uint64_t start = 0;
        std::uint64_t size = 0;
        bool writable = false;
    };
    std::vector<Span> spans;
    const platform::ContextDescriptor& context = type.context;
    const bool context_writable = std::any_of(context.fields.begin(), context.fields.end(),
                                              [](const platform::ContextField& f) { return f.writable; });
    spans.push_back({"context", reinterpret_cast<std::uintptr_t>(ctx), context.host_size(), context_writable});
    if (entry.data) {
        spans.push_back({"data range", reinterpret_cast<std::uintptr_t>(entry.data->start), entry.data->size,
                         entry.data->writable});
    }
    for (std::size_t i = 0; i < entry.memory.size() && i < regions.size(); ++i) {
        spans.push_back({regions[i].name + " memory", reinterpret_cast<std::uintptr_t>(entry.memory[i].start),
                         entry.memory[i].size, entry.memory[i].writable});
    }
    for (std::size_t a = 0; a < spans.size(); ++a) {
        for (std::size_t b = a + 1; b < spans.size(); ++b) {
            const Span& x = spans[a];
            const Span& y = spans[b];
            const bool with_context = a == 0; // spans[0]
            if (x.size == 0 || y.size == 0 || (!x.writable && !y.writable && !with_context)) {
                continue;
            }
            if (x.start < y.start + y.size && y.start < x.start + x.size) {
                const std::string why = x.writable || y.writable
                                            ? "a program may write " + (x.writable ? "the " + x.name : "the " + y.name)
                                            : "the context holds the host's pointers, which no region may show";
                return Error::invalid("the " + x.name + " and the " + y.name + " of the " + type.name +
                                      " context share bytes, and " + why + ": a run's regions must lie apart");
            }
        }
    }
    return {};
}

} // namespace

Result<EntryRegions> check_entry(const platform::ProgramType& type, const void* ctx, std::size_t ctx_size,
                                 bool reads_meta, std::span<const RegionField> regions) {
    auto entry = check_regions(type, ctx, ctx_size, reads_meta, regions);
    if (!entry) {
        return entry;
    }
    if (auto apart = check_apart(type, ctx, *entry, regions); !apart) {
        return std::move(apart).error();
    }
    return entry;
}

namespace {

Result<EntryRegions> check_regions(const platform::ProgramType& type, const void* ctx, std::size_t ctx_size,
                                   bool reads_meta, std::span<const RegionField> regions) {
    const platform::ContextDescriptor& context = type.context;
    if (ctx_size < context.host_size()) {
        return Error::invalid(
            "a context of " + std::to_string(ctx_size) + " bytes is smaller than the " +
            std::to_string(context.host_size()) + " bytes of a " + type.name + " context" +
            (context.host_size() != context.size ? " (its struct, then the data range's pointers)" : ""));
    }
    if (context.size > 0 && reinterpret_cast<std::uintptr_t>(ctx) < kLowestAddress) {
        return Error::invalid("the context pointer " + hex(reinterpret_cast<std::uintptr_t>(ctx)) +
                              " is below 65536, where the verifier assumes no object lies");
    }
    if (ctx_size > kHighestAddress || reinterpret_cast<std::uintptr_t>(ctx) > kHighestAddress - ctx_size) {
        return Error::invalid("the context pointer " + hex(reinterpret_cast<std::uintptr_t>(ctx)) +
                              " lies where a program's offsets would wrap the address around (its " +
                              std::to_string(ctx_size) + " bytes end past " + hex(kHighestAddress) + ")");
    }
    const auto* bytes = static_cast<const std::uint8_t*>(ctx);
    EntryRegions entry;
    // The memory regions: each no larger than its field allows, above the first 64 KiB and not wrapping around.
    for (const RegionField& region : regions) {
        std::uint64_t start = 0;
        std::uint64_t size = region.most;
        std::memcpy(&start, bytes + region.pointer, 8);
        if (region.size_field >= 0) {
            size = 0;
            std::memcpy(&size, bytes + region.size_field, region.size_width); // little-endian
        }
        if (size > region.most) {
            return Error::invalid("the " + region.name + " memory of the " + type.name + " context has " +
                                  std::to_string(size) + " bytes, more than the " + std::to_string(region.most) +
                                  " it may have");
        }
        // Even an empty region's pointer: the verifier takes every pointer to memory as no less than 65536 (a
        // comparison with 0, an order between offsets), so a null one would make it skip what a run does.
        if (start < kLowestAddress || start > kHighestAddress || size > kHighestAddress - start) {
            return Error::invalid("the " + region.name + " pointer " + hex(start) + " of the " + type.name +
                                  " context is below 65536, or its region ends where a program's offsets would "
                                  "wrap the address around (an empty region too points at or above 65536)");
        }
        entry.memory.push_back(exec::MemoryRegion{reinterpret_cast<const void*>(static_cast<std::uintptr_t>(start)),
                                                  static_cast<std::size_t>(size), region.writable});
    }
    // The host's pointers: the fields themselves, or (for 32-bit fields) the 8-byte slots behind the struct.
    const std::size_t width = context.pointer_width == 4 ? 8 : context.pointer_width;
    if (context.data < 0 || context.data_end < 0 || width != 8) {
        return entry;
    }
    for (const std::int32_t field : {context.data, context.data_end, context.meta}) {
        if (field >= 0 && static_cast<std::size_t>(context.host_offset(field)) + width > ctx_size) {
            return Error::invalid("the " + type.name + " context descriptor places data, data_end or data_meta past " +
                                  "its " + std::to_string(ctx_size) + " bytes");
        }
    }
    std::uint64_t data = 0;
    std::uint64_t data_end = 0;
    std::memcpy(&data, bytes + context.host_offset(context.data), width);
    std::memcpy(&data_end, bytes + context.host_offset(context.data_end), width);
    if (data < kLowestAddress) {
        return Error::invalid("the data pointer " + hex(data) + " of the " + type.name +
                              " context is below 65536, where the verifier assumes no object lies");
    }
    if (data > data_end) {
        return Error::invalid("the data pointer " + hex(data) + " of the " + type.name + " context is past data_end " +
                              hex(data_end));
    }
    if (data_end > kHighestAddress) {
        return Error::invalid("the data range of the " + type.name + " context ends at " + hex(data_end) +
                              ", where a program's offsets would wrap the address around");
    }
    if (data_end - data > type.max_data_size) {
        return Error::invalid("a data range of " + std::to_string(data_end - data) + " bytes exceeds the " +
                              std::to_string(type.max_data_size) + " bytes (max_data_size) of a " + type.name +
                              " program");
    }
    std::uint64_t start = data;
    if (context.meta >= 0) {
        std::uint64_t meta = 0;
        std::memcpy(&meta, bytes + context.host_offset(context.meta), width);
        if (meta <= data && data - meta <= platform::kMaxPacketMetaSize && meta >= kLowestAddress) {
            start = meta;
        } else if (reads_meta) {
            return Error::invalid("the data_meta pointer " + hex(meta) + " of the " + type.name +
                                  " context is not at most " + std::to_string(platform::kMaxPacketMetaSize) +
                                  " bytes in front of data " + hex(data) +
                                  ", and the program reads it (without metadata, data_meta is data)");
        }
    }
    entry.data = exec::MemoryRegion{reinterpret_cast<const void*>(static_cast<std::uintptr_t>(start)), data_end - start,
                                    !context.read_only_data};
    return entry;
}

} // namespace

std::uint64_t Invocable::run(void* ctx, std::size_t ctx_size) const noexcept {
    auto outcome = invoke(*this, ctx, ctx_size);
    return outcome ? outcome->r0 : 0;
}

Result<exec::CheckedOutcome> invoke(const Invocable& program, void* ctx, std::size_t ctx_size,
                                    const InvocationOptions& options) {
    auto entry = program.enter(ctx, ctx_size);
    if (!entry) {
        return in_program(program.program_name(), std::move(entry).error());
    }
    const EpochGuard guard; // what the chain reads (map elements, program-array entries) lives until it ends
    const InvocationScope invocation;
    if (invocation.too_deep()) {
        return in_program(program.program_name(),
                          Error::invalid("invocations nest more than " + std::to_string(kMaxInvocationDepth) +
                                         " deep (a host helper that runs programs)"));
    }
    if (!invocation.entered()) {
        return in_program(program.program_name(),
                          Error::invalid("the invocation this one is nested in, and those nested in it, ran " +
                                         std::to_string(kMaxRunsPerInvocation) + " programs already"));
    }
    set_current_context(ctx, ctx_size);
    const platform::ProgramType& type = program.program_type();
    PacketState& packet = packet_state();
    if (type.context.data >= 0 && type.context.data_end >= 0 && type.context.pointer_width >= 4) {
        // The data range as the entry accepted it, and the room around it the host gave.
        const auto range = platform::data_range(type.context, {static_cast<const std::uint8_t*>(ctx), ctx_size});
        const std::uint64_t data = range ? range->data : 0;
        const std::uint64_t data_end = range ? range->data_end : 0;
        if (options.headroom > data - kLowestAddress || options.tailroom > kHighestAddress - data_end) {
            return in_program(program.program_name(),
                              Error::invalid("the room around the data range reaches below 65536 or where a "
                                             "program's offsets would wrap the address around"));
        }
        // The room is where packet helpers may move the data range, which the program then writes: apart from the
        // context and its memory regions, as the entry holds the data range (check_entry).
        if (options.headroom != 0 || options.tailroom != 0) {
            const std::uint64_t low = data - options.headroom;
            const std::uint64_t high = data_end + options.tailroom;
            const auto shares = [&](const void* at, std::size_t size) {
                const auto start = reinterpret_cast<std::uintptr_t>(at);
                return size != 0 && start < high && low < start + size;
            };
            const bool memory = std::any_of(entry->memory.begin(), entry->memory.end(),
                                            [&](const exec::MemoryRegion& r) { return shares(r.start, r.size); });
            if (shares(ctx, type.context.host_size()) || memory) {
                return in_program(program.program_name(),
                                  Error::invalid(std::string("the room around the data range shares bytes with ") +
                                                 (memory ? "a memory region of the context" : "the context") +
                                                 ": packet helpers would move the data range over it"));
            }
        }
        auto* start = reinterpret_cast<std::uint8_t*>(static_cast<std::uintptr_t>(data));
        auto* end = reinterpret_cast<std::uint8_t*>(static_cast<std::uintptr_t>(data_end));
        packet = PacketState{ctx,
                             &type,
                             start,
                             end,
                             start - options.headroom,
                             end + options.tailroom,
                             options.private_context && !outer_context_overlaps(ctx, ctx_size),
                             false};
    }
    // A checked run may use the room too: a packet helper may move the range into it mid-run, and it is the host's
    // buffer, which the host vouches for. (Without room, the entry's regions as they are: no copy on the fast path.)
    const bool room = packet.type != nullptr && (options.headroom != 0 || options.tailroom != 0);
    EntryRegions widened;
    const auto with_room = [&](const EntryRegions& regions) -> const EntryRegions& {
        if (!room || !regions.data) {
            return regions;
        }
        widened = regions;
        auto* start = std::min(static_cast<std::uint8_t*>(const_cast<void*>(widened.data->start)), packet.lowest);
        widened.data->start = start;
        widened.data->size = static_cast<std::size_t>(packet.highest - start);
        return widened;
    };
    auto first = program.step(ctx, ctx_size, with_room(*entry), options);
    if (!first) {
        return first;
    }
    // A successful tail call stopped the program: run the one it switched to, with the same context. Program arrays
    // hold only programs of the caller's type (ProgramArrayMap::bind_program_type), so the type's entry checks hold
    // for it too; its own (its regions, whether it reads data_meta) are checked again.
    exec::CheckedOutcome total = *first;
    while (const Invocable* next = take_tail_call()) {
        // A program unverified (or checked) before may have rewritten the context: the next one, verified or not, is
        // entitled to the data range the host handed over, and to nothing else.
        auto again = next->enter(ctx, ctx_size);
        if (!again) {
            return in_program(next->program_name(), std::move(again).error());
        }
        if (packet.moved) {
            // A packet helper moved the range and wrote its pointers: the range is now what the first program's
            // entry reads there, provided it is the one the helpers keep.
            auto now = program.enter(ctx, ctx_size);
            if (!now || !now->data ||
                static_cast<const std::uint8_t*>(now->data->start) + now->data->size != packet.data_end ||
                static_cast<const std::uint8_t*>(now->data->start) > packet.data) {
                return in_program(next->program_name(),
                                  Error::runtime("a tail call reached this program with a data range other than the "
                                                 "packet helpers left"));
            }
            entry->data = now->data;
            packet.moved = false;
        }
        if (!again->same_as(*entry)) {
            return in_program(next->program_name(),
                              Error::runtime("a tail call reached this program with a data range or "
                                             "memory regions other than the host passed: a program "
                                             "before it in the chain rewrote the context's pointers"));
        }
        auto step = next->step(ctx, ctx_size, with_room(*entry), options);
        if (!step) {
            return step;
        }
        total.r0 = step->r0;
        total.instructions += step->instructions;
    }
    // A hook that tolerates any return value reads its low 32 bits (as Linux's XDP and sk_skb hooks do) and a value
    // outside its range as its fallback (XDP_ABORTED, SK_DROP): the host gets the value the hook reads, always in
    // range.
    if (type.out_of_range_return) {
        const auto value = static_cast<std::int64_t>(static_cast<std::int32_t>(total.r0));
        total.r0 = value < type.return_min || value > type.return_max
                       ? static_cast<std::uint64_t>(*type.out_of_range_return)
                       : static_cast<std::uint64_t>(value);
    }
    return total;
}

} // namespace embpf::runtime
