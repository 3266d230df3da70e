// The Platform container: lookups and the checks that keep host extensions consistent with the built-in tables.
#include "embpf/platform/platform.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace embpf::platform {

std::string_view to_string(ArgKind kind) noexcept {
    switch (kind) {
    case ArgKind::none: return "none";
    case ArgKind::anything: return "anything";
    case ArgKind::ptr_to_ctx: return "ptr_to_ctx";
    case ArgKind::ptr_to_ctx_or_null: return "ptr_to_ctx_or_null";
    case ArgKind::host_object: return "host_object";
    case ArgKind::ptr_to_spin_lock: return "ptr_to_spin_lock";
    case ArgKind::ptr_to_map: return "ptr_to_map";
    case ArgKind::ptr_to_map_of_programs: return "ptr_to_map_of_programs";
    case ArgKind::ptr_to_map_key: return "ptr_to_map_key";
    case ArgKind::ptr_to_map_value: return "ptr_to_map_value";
    case ArgKind::ptr_to_map_value_or_null: return "ptr_to_map_value_or_null";
    case ArgKind::ptr_to_uninit_map_value: return "ptr_to_uninit_map_value";
    case ArgKind::ptr_to_readable_mem: return "ptr_to_readable_mem";
    case ArgKind::ptr_to_readable_mem_or_null: return "ptr_to_readable_mem_or_null";
    case ArgKind::ptr_to_writable_mem: return "ptr_to_writable_mem";
    case ArgKind::const_size: return "const_size";
    case ArgKind::const_size_or_zero: return "const_size_or_zero";
    case ArgKind::ptr_to_alloc_mem: return "ptr_to_alloc_mem";
    case ArgKind::const_alloc_size_or_zero: return "const_alloc_size_or_zero";
    case ArgKind::ptr_to_func: return "ptr_to_func";
    case ArgKind::ptr_to_stack_or_null: return "ptr_to_stack_or_null";
    case ArgKind::ptr_to_const_str: return "ptr_to_const_str";
    }
    return "unknown";
}

std::string_view to_string(ReturnKind kind) noexcept {
    switch (kind) {
    case ReturnKind::integer: return "integer";
    case ReturnKind::void_: return "void";
    case ReturnKind::ptr_to_map_value_or_null: return "ptr_to_map_value_or_null";
    case ReturnKind::ptr_to_alloc_mem_or_null: return "ptr_to_alloc_mem_or_null";
    case ReturnKind::no_return_on_success: return "no_return_on_success";
    case ReturnKind::host_object_or_null: return "host_object_or_null";
    case ReturnKind::ptr_to_map_value: return "ptr_to_map_value";
    }
    return "unknown";
}

std::string_view to_string(FieldKind kind) noexcept {
    switch (kind) {
    case FieldKind::scalar: return "scalar";
    case FieldKind::packet_start: return "packet_start";
    case FieldKind::packet_end: return "packet_end";
    case FieldKind::packet_meta: return "packet_meta";
    case FieldKind::memory: return "memory";
    case FieldKind::host_addresses: return "host_addresses";
    }
    return "unknown";
}

std::string_view to_string(MapKind kind) noexcept {
    switch (kind) {
    case MapKind::hash: return "hash";
    case MapKind::array: return "array";
    case MapKind::prog_array: return "prog_array";
    case MapKind::percpu_hash: return "percpu_hash";
    case MapKind::percpu_array: return "percpu_array";
    case MapKind::hash_of_maps: return "hash_of_maps";
    case MapKind::array_of_maps: return "array_of_maps";
    case MapKind::lru_hash: return "lru_hash";
    case MapKind::lpm_trie: return "lpm_trie";
    case MapKind::queue: return "queue";
    case MapKind::lru_percpu_hash: return "lru_percpu_hash";
    case MapKind::stack: return "stack";
    case MapKind::ringbuf: return "ringbuf";
    case MapKind::perf_event_array: return "perf_event_array";
    case MapKind::stack_trace: return "stack_trace";
    case MapKind::cgroup_array: return "cgroup_array";
    case MapKind::cgroup_storage: return "cgroup_storage";
    case MapKind::percpu_cgroup_storage: return "percpu_cgroup_storage";
    case MapKind::devmap: return "devmap";
    case MapKind::devmap_hash: return "devmap_hash";
    case MapKind::cpumap: return "cpumap";
    case MapKind::xskmap: return "xskmap";
    case MapKind::sockmap: return "sockmap";
    case MapKind::sockhash: return "sockhash";
    case MapKind::reuseport_sockarray: return "reuseport_sockarray";
    case MapKind::sk_storage: return "sk_storage";
    case MapKind::inode_storage: return "inode_storage";
    case MapKind::task_storage: return "task_storage";
    case MapKind::bloom_filter: return "bloom_filter";
    }
    return "unknown";
}

std::size_t HelperPrototype::arg_count() const noexcept {
    const auto first_none = std::find(args.begin(), args.end(), ArgKind::none);
    return static_cast<std::size_t>(first_none - args.begin());
}

Callback HelperPrototype::callback() const noexcept {
    // Only the runtime's own implementations run callbacks: a host helper's function has no way to call the program.
    if (implementation != nullptr || std::find(args.begin(), args.end(), ArgKind::ptr_to_func) == args.end()) {
        return Callback::none;
    }
    if (name == "loop" && args[0] == ArgKind::anything && args[1] == ArgKind::ptr_to_func &&
        args[2] == ArgKind::ptr_to_stack_or_null && args[3] == ArgKind::anything) {
        return Callback::loop;
    }
    if (name == "for_each_map_elem" && args[0] == ArgKind::ptr_to_map && args[1] == ArgKind::ptr_to_func &&
        args[2] == ArgKind::ptr_to_stack_or_null && args[3] == ArgKind::anything) {
        return Callback::for_each_map_elem;
    }
    return Callback::none;
}

const ContextField* ContextDescriptor::field_at(std::uint32_t offset, std::uint32_t width) const noexcept {
    if (width == 0) {
        return nullptr;
    }
    // 64-bit arithmetic: offset + width must not wrap around.
    const std::uint64_t end = std::uint64_t{offset} + width;
    for (const ContextField& f : fields) {
        if (offset >= f.offset && end <= std::uint64_t{f.offset} + f.size) {
            return &f;
        }
    }
    return nullptr;
}

const ContextField* ContextDescriptor::field(std::string_view field_name) const noexcept {
    for (const ContextField& f : fields) {
        if (f.name == field_name) {
            return &f;
        }
    }
    return nullptr;
}

std::vector<const ContextField*> ContextDescriptor::regions() const {
    std::vector<const ContextField*> out;
    for (const ContextField& f : fields) {
        if (f.kind == FieldKind::memory) {
            out.push_back(&f);
        }
    }
    return out;
}

std::uint32_t ContextDescriptor::host_size() const noexcept {
    if (pointer_width != 4) {
        return size;
    }
    return ((size + 7U) & ~7U) + 3 * 8;
}

std::int32_t ContextDescriptor::host_offset(std::int32_t offset) const noexcept {
    if (offset < 0 || pointer_width != 4) {
        return offset;
    }
    const auto slots = static_cast<std::int32_t>((size + 7U) & ~7U);
    if (offset == data) {
        return slots;
    }
    if (offset == data_end) {
        return slots + 8;
    }
    if (offset == meta) {
        return slots + 16;
    }
    return offset;
}

Result<void> set_data_range(const ContextDescriptor& context, std::span<std::uint8_t> ctx, const void* data,
                            const void* data_end, const void* data_meta) {
    if (context.data < 0 || context.data_end < 0) {
        return Error::invalid("the context has no data range");
    }
    if (ctx.size() < context.host_size()) {
        return Error::invalid("a context of " + std::to_string(ctx.size()) + " bytes is smaller than the " +
                              std::to_string(context.host_size()) + " bytes a host hands over");
    }
    const auto put = [&](std::int32_t field, const void* pointer) {
        const auto address = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(pointer));
        const std::int32_t at = context.host_offset(field);
        if (context.pointer_width == 4 || sizeof(void*) == 8) {
            std::memcpy(ctx.data() + at, &address, 8);
        } else {
            const auto narrow = static_cast<std::uint32_t>(address);
            std::memcpy(ctx.data() + at, &narrow, 4);
        }
    };
    put(context.data, data);
    put(context.data_end, data_end);
    if (context.meta >= 0) {
        put(context.meta, data_meta == nullptr ? data : data_meta);
    }
    return {};
}

std::optional<DataRange> data_range(const ContextDescriptor& context, std::span<const std::uint8_t> ctx) noexcept {
    if (context.data < 0 || context.data_end < 0 || ctx.size() < context.host_size()) {
        return std::nullopt;
    }
    const auto get = [&](std::int32_t field) {
        std::uint64_t address = 0;
        std::memcpy(&address, ctx.data() + context.host_offset(field),
                    context.pointer_width == 4 || sizeof(void*) == 8 ? 8 : 4); // little-endian
        return static_cast<std::uintptr_t>(address);
    };
    return DataRange{get(context.data), get(context.data_end)};
}

bool ProgramType::allows_helper(std::uint32_t id) const noexcept {
    if (std::find(helpers.begin(), helpers.end(), id) != helpers.end()) {
        return true;
    }
    return std::any_of(own_helpers.begin(), own_helpers.end(), [id](const HelperPrototype& h) { return h.id == id; });
}

namespace {

std::string describe(const HelperPrototype& helper) {
    return "helper " + std::to_string(helper.id) + " (" + helper.name + ")";
}

Result<void> validate_context(const ProgramType& type) {
    const ContextDescriptor& ctx = type.context;
    const std::string where = "program type " + type.name + ": ";
    if (ctx.pointer_width != 4 && ctx.pointer_width != 8) {
        return Error::invalid(where + "context pointer width must be 4 or 8, not " + std::to_string(ctx.pointer_width));
    }
    if (ctx.pointer_width == 4 && ctx.size > kMaxTranslatedContextSize) {
        // The loader rewrites loads of the 32-bit fields into loads of the pointers behind the struct: their offsets
        // must fit an instruction's 16-bit offset.
        return Error::invalid(where + "a context with 32-bit packet pointer fields may have at most " +
                              std::to_string(kMaxTranslatedContextSize) + " bytes, not " + std::to_string(ctx.size));
    }
    std::vector<const ContextField*> sorted;
    for (const ContextField& f : ctx.fields) {
        if (f.size == 0 || std::uint64_t{f.offset} + f.size > ctx.size) {
            return Error::invalid(where + "context field " + f.name + " does not fit in the " +
                                  std::to_string(ctx.size) + "-byte context");
        }
        if (f.kind == FieldKind::memory) {
            if (f.size != 8 || f.writable) {
                return Error::invalid(where + "memory field " + f.name +
                                      " must be an 8-byte pointer the program "
                                      "cannot write");
            }
            if (f.memory_size > kMaxRegionSize) {
                return Error::invalid(where + "memory field " + f.name + " may hold at most " +
                                      std::to_string(kMaxRegionSize) + " bytes, not " + std::to_string(f.memory_size));
            }
            if (!f.size_field.empty()) {
                const ContextField* size = ctx.field(f.size_field);
                if (size == nullptr || size->kind != FieldKind::scalar || (size->size != 4 && size->size != 8) ||
                    size->writable) {
                    return Error::invalid(where + "the size of memory field " + f.name + " must be a read-only " +
                                          "4- or 8-byte scalar field, and " + f.size_field + " is not");
                }
            }
        } else if (!f.size_field.empty() || f.memory_size != 0 || f.memory_writable) {
            return Error::invalid(where + "context field " + f.name +
                                  " is no memory field, and has a region's size "
                                  "or rights");
        }
        if (is_packet_pointer(f.kind)) {
            if (f.size != ctx.pointer_width) {
                return Error::invalid(where + "packet pointer field " + f.name + " must be " +
                                      std::to_string(ctx.pointer_width) + " bytes wide");
            }
            if (f.writable) {
                return Error::invalid(where + "packet pointer field " + f.name + " cannot be writable");
            }
        }
        sorted.push_back(&f);
    }
    if (ctx.regions().size() > kMaxContextRegions) {
        return Error::invalid(where + "a context may hand over at most " + std::to_string(kMaxContextRegions) +
                              " memory regions");
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const ContextField* a, const ContextField* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < sorted.size(); ++i) {
        if (sorted[i - 1]->offset + sorted[i - 1]->size > sorted[i]->offset) {
            return Error::invalid(where + "context fields " + sorted[i - 1]->name + " and " + sorted[i]->name +
                                  " overlap");
        }
    }
    // Each packet offset names exactly the field of that kind, and every packet field is named by its offset.
    const auto check_pointer = [&](std::int32_t offset, FieldKind kind) -> Result<void> {
        const auto has_kind = [kind](const ContextField& f) { return f.kind == kind; };
        const auto count = std::count_if(ctx.fields.begin(), ctx.fields.end(), has_kind);
        if (offset < 0) {
            if (count != 0) {
                return Error::invalid(where + "a " + std::string(to_string(kind)) +
                                      " field is listed but the descriptor has no offset for it");
            }
            return {};
        }
        const ContextField* f = ctx.field_at(static_cast<std::uint32_t>(offset), ctx.pointer_width);
        if (f == nullptr || f->offset != static_cast<std::uint32_t>(offset) || f->kind != kind || count != 1) {
            return Error::invalid(where + "context offset " + std::to_string(offset) + " must be the one " +
                                  std::string(to_string(kind)) + " field");
        }
        return {};
    };
    for (const auto& [offset, kind] :
         {std::pair{ctx.data, FieldKind::packet_start}, std::pair{ctx.data_end, FieldKind::packet_end},
          std::pair{ctx.meta, FieldKind::packet_meta}}) {
        if (auto r = check_pointer(offset, kind); !r) {
            return r;
        }
    }
    if ((ctx.data < 0) != (ctx.data_end < 0) || (ctx.meta >= 0 && ctx.data < 0)) {
        return Error::invalid(where + "a context with packet access needs both data and data_end");
    }
    return {};
}

} // namespace

namespace {
// A host's function decides what it returns: the verifier would trust a pointer it cannot check.
Result<void> check_host_result(const HelperPrototype& helper) {
    if (helper.implementation != nullptr && helper.ret != ReturnKind::integer && helper.ret != ReturnKind::void_) {
        return Error::invalid("host helper " + helper.name + ": its prototype returns " +
                              std::string(to_string(helper.ret)) +
                              "; a host helper returns a number (ret::integer) or nothing (ret::void_)");
    }
    return {};
}
} // namespace

Result<void> validate(const HelperPrototype& helper) {
    const std::string where = describe(helper) + ": ";
    if (helper.name.empty()) {
        return Error::invalid("helper " + std::to_string(helper.id) + " has no name");
    }
    // What these flags allow (a pointer read as an address, a string read up to its NUL, pointers among data that go
    // to the host) is for helpers that read host memory, which platforms for untrusted plugins never offer.
    if ((helper.reads_address || helper.reads_string || helper.sinks_data) && !helper.reads_host_memory) {
        return Error::invalid(where + "reads_address, reads_string and sinks_data describe a helper that reads host "
                                      "memory (reads_host_memory)");
    }
    const std::size_t count = helper.arg_count();
    bool has_map = false;
    int alloc_sizes = 0;
    for (std::size_t i = 0; i < helper.args.size(); ++i) {
        const ArgKind arg = helper.args[i];
        const std::string which = "argument " + std::to_string(i + 1) + " (" + std::string(to_string(arg)) + ")";
        if (i >= count) {
            if (arg != ArgKind::none) {
                return Error::invalid(where + which + " follows an unused argument");
            }
            continue;
        }
        if (is_memory_arg(arg) && (i + 1 >= count || !is_size_arg(helper.args[i + 1]))) {
            return Error::invalid(where + which + " must be followed by its size");
        }
        if (is_size_arg(arg) && (i == 0 || !is_memory_arg(helper.args[i - 1]))) {
            return Error::invalid(where + which + " must follow a memory argument");
        }
        switch (arg) {
        case ArgKind::ptr_to_map: has_map = true; break;
        case ArgKind::ptr_to_map_key:
        case ArgKind::ptr_to_map_value:
        case ArgKind::ptr_to_map_value_or_null:
        case ArgKind::ptr_to_uninit_map_value:
            if (!has_map) {
                return Error::invalid(where + which + " needs an earlier map argument");
            }
            break;
        case ArgKind::const_alloc_size_or_zero: ++alloc_sizes; break;
        default: break;
        }
    }
    if (std::find(helper.args.begin(), helper.args.end(), ArgKind::ptr_to_spin_lock) != helper.args.end() &&
        (helper.implementation != nullptr || (helper.name != "spin_lock" && helper.name != "spin_unlock") ||
         helper.args[0] != ArgKind::ptr_to_spin_lock || count != 1 || helper.ret != ReturnKind::void_)) {
        return Error::invalid(where + "a bpf_spin_lock is taken and released by the built-in spin_lock and "
                                      "spin_unlock only, which take the lock and return nothing");
    }
    const bool returns_alloc = helper.ret == ReturnKind::ptr_to_alloc_mem_or_null;
    if (returns_alloc != (alloc_sizes == 1) || alloc_sizes > 1) {
        return Error::invalid(where + "a helper returning allocated memory takes exactly one allocation size");
    }
    if ((helper.ret == ReturnKind::ptr_to_map_value_or_null || helper.ret == ReturnKind::ptr_to_map_value) &&
        helper.args[0] != ArgKind::ptr_to_map) {
        return Error::invalid(where + "returning a map value needs the map as argument 1");
    }
    return {};
}

Platform::Platform(std::string name, std::vector<MapType> map_types)
    : m_name(std::move(name)), m_map_types(std::move(map_types)) {}

void Platform::set_kconfig(std::string name, std::string value) {
    if (value.empty()) {
        m_kconfig.erase(name);
        return;
    }
    m_kconfig.insert_or_assign(std::move(name), std::move(value));
}

const HelperPrototype* Platform::helper(std::uint32_t id) const noexcept {
    const auto it = m_helper_index.find(id);
    return it == m_helper_index.end() ? nullptr : &m_helpers[it->second];
}

const HelperPrototype* Platform::helper(const ProgramType& type, std::uint32_t id) const noexcept {
    for (const HelperPrototype& own : type.own_helpers) {
        if (own.id == id) {
            return m_untrusted_plugins && own.reads_host_memory ? nullptr : &own;
        }
    }
    const HelperPrototype* general = helper(id);
    if (general != nullptr && m_untrusted_plugins && general->reads_host_memory) {
        return nullptr;
    }
    if (general != nullptr && general->any_program_type) {
        return general;
    }
    if (std::find(type.helpers.begin(), type.helpers.end(), id) == type.helpers.end()) {
        return nullptr;
    }
    return general;
}

Result<void> Platform::add_helper(std::uint32_t id, std::string name, HelperImplementation function,
                                  HelperPrototype prototype) {
    if (function == nullptr) {
        return Error::invalid("host helper " + name + " has no function");
    }
    prototype.id = id;
    prototype.name = std::move(name);
    prototype.implementation = function;
    prototype.any_program_type = true;
    return add_helper(std::move(prototype));
}

Result<void> Platform::replace_implementation(std::string_view name, HelperImplementation function) {
    if (function == nullptr) {
        return Error::invalid("helper " + std::string(name) + ": no function to run");
    }
    std::vector<HelperPrototype*> found;
    for (HelperPrototype& h : m_helpers) {
        if (h.name == name) {
            found.push_back(&h);
        }
    }
    for (ProgramType& type : m_program_types) {
        for (HelperPrototype& h : type.own_helpers) {
            if (h.name == name) {
                found.push_back(&h);
            }
        }
    }
    if (found.empty()) {
        return Error::invalid("platform " + m_name + " has no helper named " + std::string(name));
    }
    for (const HelperPrototype* h : found) {
        if (h->ret != ReturnKind::integer && h->ret != ReturnKind::void_) {
            return Error::invalid("helper " + std::string(name) +
                                  " returns an address or does not return: only a helper that returns a number "
                                  "may run another function");
        }
        if (h->callback() != Callback::none) {
            return Error::invalid("helper " + std::string(name) +
                                  " runs a callback of the program: the runtime runs it, no other function may");
        }
        const bool writes_memory = std::any_of(h->args.begin(), h->args.end(), [](ArgKind arg) {
            return arg == ArgKind::ptr_to_writable_mem || arg == ArgKind::ptr_to_uninit_map_value;
        });
        if (writes_memory && h->writes != Writes::some) {
            // The verifier takes the bytes the contract says written as initialized: a function that left them as
            // they were would let a program read what lay there before (a pointer spilled to the stack, a value of
            // an earlier run).
            return Error::invalid("helper " + std::string(name) +
                                  " writes memory its contract proves initialized, which another function need not "
                                  "do: it cannot be replaced");
        }
        if (std::find(h->args.begin(), h->args.end(), ArgKind::ptr_to_spin_lock) != h->args.end()) {
            return Error::invalid("helper " + std::string(name) +
                                  " takes a bpf_spin_lock, which only the runtime's own helpers take and release");
        }
    }
    for (HelperPrototype* h : found) {
        h->implementation = function;
    }
    return {};
}

const HelperPrototype* Platform::helper_by_name(std::string_view helper_name) const noexcept {
    for (const HelperPrototype& h : m_helpers) {
        if (h.name == helper_name) {
            return &h;
        }
    }
    return nullptr;
}

const ProgramType* Platform::program_type(std::string_view type_name) const noexcept {
    for (const ProgramType& t : m_program_types) {
        if (t.name == type_name) {
            return &t;
        }
    }
    return nullptr;
}

const ProgramType* Platform::program_type_by_id(std::uint32_t platform_id) const noexcept {
    for (const ProgramType& t : m_program_types) {
        if (t.platform_id == platform_id) {
            return &t;
        }
    }
    return nullptr;
}

const ProgramType* Platform::program_type_for_section(std::string_view section) const noexcept {
    const ProgramType* best = nullptr;
    std::size_t best_length = 0;
    for (const ProgramType& t : m_program_types) {
        for (const std::string& prefix : t.section_prefixes) {
            if (prefix.size() > best_length && section.starts_with(prefix)) {
                best = &t;
                best_length = prefix.size();
            }
        }
    }
    return best;
}

Result<MapKind> Platform::map_kind(std::uint32_t platform_map_type) const {
    for (const MapType& m : m_map_types) {
        if (m.id == platform_map_type) {
            if (!m.kind.has_value()) {
                return Error::unsupported("map type " + std::to_string(m.id) + " (" + m.name + ") of platform " +
                                          m_name + " is not supported by embpf");
            }
            return *m.kind;
        }
    }
    return Error::invalid("unknown map type " + std::to_string(platform_map_type) + " for platform " + m_name);
}

std::optional<std::uint32_t> Platform::map_type_id(MapKind kind) const noexcept {
    for (const MapType& m : m_map_types) {
        if (m.kind == kind) {
            return m.id;
        }
    }
    return std::nullopt;
}

std::string Platform::map_type_name(std::uint32_t platform_map_type) const {
    for (const MapType& m : m_map_types) {
        if (m.id == platform_map_type) {
            return m.name;
        }
    }
    return "unknown(" + std::to_string(platform_map_type) + ")";
}

Result<void> Platform::add_helper(HelperPrototype prototype) {
    if (auto r = check_host_result(prototype); !r) {
        return r;
    }
    if (auto r = validate(prototype); !r) {
        return r;
    }
    if (const HelperPrototype* existing = helper(prototype.id)) {
        return Error::invalid("platform " + m_name + " already has helper " + std::to_string(prototype.id) + " (" +
                              existing->name + ")");
    }
    if (helper_by_name(prototype.name) != nullptr) {
        return Error::invalid("platform " + m_name + " already has a helper named " + prototype.name);
    }
    m_helper_index.emplace(prototype.id, m_helpers.size());
    m_helpers.push_back(std::move(prototype));
    return {};
}

Result<void> Platform::add_program_type(ProgramType type) {
    if (type.name.empty()) {
        return Error::invalid("a program type needs a name");
    }
    if (program_type(type.name) != nullptr) {
        return Error::invalid("platform " + m_name + " already has program type " + type.name);
    }
    const std::string where = "program type " + type.name + ": ";
    if (type.return_min > type.return_max) {
        return Error::invalid(where + "return_min is greater than return_max");
    }
    if (type.out_of_range_return &&
        (*type.out_of_range_return < type.return_min || *type.out_of_range_return > type.return_max)) {
        return Error::invalid(where + "out_of_range_return " + std::to_string(*type.out_of_range_return) +
                              " is outside [return_min, return_max]");
    }
    // The verifier keeps pointer offsets within 2^29; a longer data range would take the packet's end past them.
    if (type.max_data_size > (std::uint32_t{1} << 29)) {
        return Error::invalid(where + "max_data_size is larger than 536870912 bytes");
    }
    for (const std::string& prefix : type.section_prefixes) {
        if (prefix.empty()) {
            return Error::invalid(where + "empty section prefix");
        }
        for (const ProgramType& other : m_program_types) {
            if (std::find(other.section_prefixes.begin(), other.section_prefixes.end(), prefix) !=
                other.section_prefixes.end()) {
                return Error::invalid(where + "section prefix \"" + prefix + "\" already selects " + other.name);
            }
        }
    }
    if (auto r = validate_context(type); !r) {
        return r;
    }
    for (std::size_t i = 0; i < type.own_helpers.size(); ++i) {
        if (auto r = validate(type.own_helpers[i]); !r) {
            return Error::invalid(where + r.error().message);
        }
        if (auto r = check_host_result(type.own_helpers[i]); !r) {
            return Error::invalid(where + r.error().message);
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (type.own_helpers[j].id == type.own_helpers[i].id) {
                return Error::invalid(where + "two own helpers with id " + std::to_string(type.own_helpers[i].id));
            }
        }
    }
    for (const std::uint32_t id : type.helpers) {
        const bool own = std::any_of(type.own_helpers.begin(), type.own_helpers.end(),
                                     [id](const HelperPrototype& h) { return h.id == id; });
        if (!own && helper(id) == nullptr) {
            return Error::invalid(where + "allows helper " + std::to_string(id) + ", which platform " + m_name +
                                  " does not have");
        }
    }
    m_program_types.push_back(std::move(type));
    return {};
}

namespace {
// Which map kinds a helper's map argument accepts, by the helper's name (the same on every platform).
struct MapRule {
    std::string_view helper;
    std::initializer_list<MapKind> kinds;
};
using MK = MapKind;
#define EMBPF_KEYED                                                                                                    \
    MK::hash, MK::array, MK::percpu_hash, MK::percpu_array, MK::lru_hash, MK::lpm_trie, MK::lru_percpu_hash
const MapRule kMapRules[] = {
    {"map_lookup_elem", {EMBPF_KEYED, MK::hash_of_maps, MK::array_of_maps}},
    {"map_update_elem", {EMBPF_KEYED}},
    {"map_delete_elem", {EMBPF_KEYED, MK::hash_of_maps, MK::array_of_maps}},
    {"map_lookup_and_delete_elem", {EMBPF_KEYED, MK::queue, MK::stack}},
    // A bloom filter takes values (push) and tests them (peek, which reads its value: see
    // platform::peek_reads_value).
    {"map_push_elem", {MK::queue, MK::stack, MK::bloom_filter}},
    {"map_pop_elem", {MK::queue, MK::stack}},
    {"map_peek_elem", {MK::queue, MK::stack, MK::bloom_filter}},
    {"ringbuf_output", {MK::ringbuf}},
    {"ringbuf_reserve", {MK::ringbuf}},
    {"ringbuf_query", {MK::ringbuf}},
    {"perf_event_output", {MK::perf_event_array}},
    {"skb_output", {MK::perf_event_array}},
    {"sk_storage_get", {MK::sk_storage}},
    {"get_local_storage", {MK::cgroup_storage, MK::percpu_cgroup_storage}},
    {"sk_storage_delete", {MK::sk_storage}},
    {"map_lookup_percpu_elem", {MK::percpu_hash, MK::percpu_array, MK::lru_percpu_hash}},
    // Linux walks these kinds only (no map_for_each_callback for tries, maps of maps, queues).
    {"for_each_map_elem", {MK::hash, MK::array, MK::percpu_hash, MK::percpu_array, MK::lru_hash, MK::lru_percpu_hash}},
};
#undef EMBPF_KEYED

} // namespace

namespace {

// What embpf's implementation of each built-in helper costs besides the memory its arguments cover: a fixed part
// (HelperPrototype::cost) and a part per byte of that memory (HelperPrototype::cost_per_byte). Measured against the
// interpreter's instructions: a hash-map update takes some 20 ns, a clock read 25 ns (vDSO), a lookup under 10 ns;
// records wake their consumer with a write to an eventfd when it is waiting; with 4 MiB arguments a string scan
// takes some 0.6 ns a byte, a string read from host memory 1.5 ns, snprintf's format 3 ns and trace_printk's 20 ns
// (its text goes to the host's sink).
struct HelperCost {
    std::string_view name;
    std::uint32_t cost;
    std::uint32_t per_byte;
};
constexpr HelperCost kHelperCosts[] = {
    {"map_lookup_elem", 8, 0},
    {"map_lookup_percpu_elem", 8, 0},
    {"map_update_elem", 32, 0},
    {"map_delete_elem", 32, 0},
    {"map_lookup_and_delete_elem", 32, 0},
    {"map_push_elem", 32, 0},
    {"map_pop_elem", 32, 0},
    {"map_peek_elem", 32, 0},
    {"ktime_get_ns", 32, 0},
    {"ktime_get_boot_ns", 32, 0},
    {"ktime_get_coarse_ns", 32, 0},
    {"ktime_get_tai_ns", 32, 0},
    {"ktime_get_ms", 32, 0},
    {"ktime_get_boot_ms", 32, 0},
    {"jiffies64", 32, 0},
    {"tail_call", 8, 0},
    {"ringbuf_reserve", 16, 0},
    {"ringbuf_query", 16, 0},
    {"ringbuf_output", kSystemCallCost, 0},
    {"ringbuf_submit", kSystemCallCost, 0},
    {"ringbuf_discard", kSystemCallCost, 0},
    {"perf_event_output", kSystemCallCost, 0},
    {"get_current_uid_gid", 2 * kSystemCallCost, 0},
    {"get_current_logon_id", kSystemCallCost, 0},
    {"is_current_admin", kSystemCallCost, 0},
    {"get_current_comm", kSystemCallCost, 0},
    // process_vm_readv walks the page tables and may fault: some 2.5 µs a call here, three system calls.
    {"probe_read", 3 * kSystemCallCost, 0},
    {"probe_read_user", 3 * kSystemCallCost, 0},
    {"probe_read_kernel", 3 * kSystemCallCost, 0},
    // A string is read a page at a time: two pages at most for the sizes programs use, and a read a page.
    {"probe_read_str", 6 * kSystemCallCost, 3},
    {"probe_read_user_str", 6 * kSystemCallCost, 3},
    {"probe_read_kernel_str", 6 * kSystemCallCost, 3},
    // Formatting and the host's trace sink; on linux() each %s is a string read (two pages at most, a read of three
    // system calls' time each): trace_printk's three arguments, snprintf's twelve.
    {"trace_printk", 19 * kSystemCallCost, 32},
    {"trace_printk2", kSystemCallCost, 32},
    {"trace_printk3", kSystemCallCost, 32},
    {"trace_printk4", kSystemCallCost, 32},
    {"trace_printk5", kSystemCallCost, 32},
    {"snprintf", 73 * kSystemCallCost, 5},
    {"strnlen_s", 0, 1},
    {"strncpy_s", 0, 1},
    {"strncat_s", 0, 1},
    {"strncmp", 0, 1},
};

const HelperCost* helper_cost(std::string_view name) noexcept {
    for (const HelperCost& c : kHelperCosts) {
        if (c.name == name) {
            return &c;
        }
    }
    return nullptr;
}

} // namespace

std::uint32_t builtin_helper_cost(std::string_view name) noexcept {
    const HelperCost* c = helper_cost(name);
    return c == nullptr ? 0 : c->cost;
}

std::uint32_t builtin_helper_byte_cost(std::string_view name) noexcept {
    const HelperCost* c = helper_cost(name);
    return c == nullptr ? 0 : c->per_byte;
}

bool accepts_map(const HelperPrototype& helper, MapKind kind) noexcept {
    for (const MapRule& rule : kMapRules) {
        if (rule.helper == helper.name) {
            return std::find(rule.kinds.begin(), rule.kinds.end(), kind) != rule.kinds.end();
        }
    }
    return kind != MK::prog_array; // a program array is only a tail call's
}

} // namespace embpf::platform
