// The array family: array, percpu_array, array_of_maps and prog_array.
//
// Arrays are allocated whole and zeroed at creation. Lookups are an index check and an address computation; updates
// copy in place, which races with a reader of the same element by design, as on Linux (programs use atomics for
// counters). Per-CPU arrays keep each slot's values together (slot-major), so that threads on different slots do not
// share cache lines. Entries of array_of_maps and prog_array are holders swapped atomically and retired, so a pointer
// a program got stays valid until its invocation returns.
#include "common.hpp"

#include <cerrno>
#include <cstdlib>

namespace embpf::runtime {
namespace detail {
namespace {

using platform::MapKind;

std::string number(std::uint64_t n) { return std::to_string(n); }

/// Host-side key checks shared by the arrays: a 4-byte index.
Result<std::uint32_t> index_of(std::span<const std::uint8_t> key, const std::string& label) {
    if (key.size() != 4) {
        return Error::invalid(label + ": key of " + number(key.size()) + " bytes, expected 4");
    }
    return load_u32(key.data());
}

/// Linux's next key for arrays: 0 after a missing or out-of-range key, the end after the last index.
bool array_next(std::uint32_t max_entries, std::span<const std::uint8_t> key, std::span<std::uint8_t> next) {
    std::uint32_t index = 0;
    if (key.size() == 4) {
        const std::uint32_t current = load_u32(key.data());
        if (current < max_entries) {
            if (current + 1 >= max_entries) {
                return false;
            }
            index = current + 1;
        }
    }
    std::memcpy(next.data(), &index, 4);
    return true;
}

class ArrayMap final : public Map {
  public:
    ArrayMap(MapConfig config, std::byte* data) noexcept
        : Map(std::move(config)), m_data(data), m_stride(round_up8(this->config().value_size)),
          m_slots(per_cpu() ? this->config().slots : 1) {}
    ~ArrayMap() override { std::free(m_data); }

    /// An update of one value: every byte but the lock's, which only bpf_spin_lock and bpf_spin_unlock write.
    void store(std::byte* to, const void* from, std::size_t size) const noexcept {
        const std::optional<std::uint32_t> lock = config().spin_lock;
        if (!lock || *lock + std::size_t{4} > size) {
            std::memcpy(to, from, size);
            return;
        }
        const auto* bytes = static_cast<const std::byte*>(from);
        std::memcpy(to, bytes, *lock);
        std::memcpy(to + *lock + 4, bytes + *lock + 4, size - *lock - 4);
    }

    void* lookup(const void* key) noexcept override {
        const std::uint32_t index = load_u32(key);
        if (index >= config().max_entries) {
            return nullptr;
        }
        return element(index, per_cpu() ? program_slot() : 0);
    }
    long update(const void* key, const void* value, std::uint64_t flags) noexcept override {
        if (const long err = check_update_flags(flags)) {
            return err;
        }
        const std::uint32_t index = load_u32(key);
        if (index >= config().max_entries) {
            return -E2BIG;
        }
        if (flags == bpf_noexist) {
            return -EEXIST; // every element exists
        }
        if (frozen()) {
            return -EPERM;
        }
        store(element(index, per_cpu() ? program_slot() : 0), value, config().value_size);
        return 0;
    }
    Result<void> freeze() override {
        if (per_cpu()) {
            return unsupported("freeze");
        }
        m_frozen.store(true, std::memory_order_release);
        return {};
    }
    long erase(const void*) noexcept override { return -EINVAL; }
    long lookup_and_erase(const void*, void*) noexcept override { return -EINVAL; }

    Result<bool> host_lookup(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) const override {
        auto index = index_of(key, label());
        if (!index) {
            return std::move(index).error();
        }
        if (auto checked = check_value(value.size()); !checked) {
            return std::move(checked).error();
        }
        if (*index >= config().max_entries) {
            return false;
        }
        for (std::uint32_t slot = 0; slot < m_slots; ++slot) {
            std::memcpy(value.data() + slot * m_stride, element(*index, slot), per_cpu() ? m_stride : value.size());
        }
        return true;
    }
    Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                             std::uint64_t flags) override {
        auto index = index_of(key, label());
        if (!index) {
            return std::move(index).error();
        }
        if (auto checked = check_value(value.size()); !checked) {
            return checked;
        }
        if (const long err = check_update_flags(flags)) {
            return update_error(err, flags);
        }
        if (*index >= config().max_entries) {
            return Error::invalid(label() + ": index " + number(*index) + " out of range (max_entries " +
                                  number(config().max_entries) + ")")
                .with_errno(E2BIG);
        }
        if (flags == bpf_noexist) {
            return Error::invalid(label() + ": array elements always exist (BPF_NOEXIST)").with_errno(EEXIST);
        }
        if (frozen()) {
            return Error::invalid(label() + " is frozen: its values are read-only").with_errno(EPERM);
        }
        for (std::uint32_t slot = 0; slot < m_slots; ++slot) {
            store(element(*index, slot), value.data() + slot * m_stride, per_cpu() ? m_stride : value.size());
        }
        return {};
    }
    Result<bool> host_erase(std::span<const std::uint8_t> key) override {
        if (auto index = index_of(key, label()); !index) {
            return std::move(index).error();
        }
        return Error::invalid(label() + ": array elements cannot be deleted");
    }
    Result<bool> next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const override {
        if (!key.empty() && key.size() != 4) {
            return Error::invalid(label() + ": key of " + number(key.size()) + " bytes, expected 4");
        }
        if (next.size() != 4) {
            return Error::invalid(label() + ": next key buffer of " + number(next.size()) + " bytes, expected 4");
        }
        return array_next(config().max_entries, key, next);
    }
    std::optional<std::size_t> entry_count() const noexcept override { return config().max_entries; }
    std::size_t memory_size() const noexcept override { return std::size_t{config().max_entries} * m_stride * m_slots; }
    std::optional<exec::InlineArray> inline_array() const noexcept override {
        if (per_cpu()) {
            return std::nullopt; // a lookup gives the calling thread's slot
        }
        // What lookup() computes: element(index, 0).
        return exec::InlineArray{reinterpret_cast<std::uintptr_t>(static_cast<const Map*>(this)),
                                 reinterpret_cast<std::uintptr_t>(m_data), m_stride, config().max_entries};
    }

  private:
    [[nodiscard]] std::byte* element(std::uint32_t index, std::uint32_t slot) const noexcept {
        return m_data + (std::size_t{slot} * config().max_entries + index) * m_stride;
    }

    std::byte* m_data;
    std::size_t m_stride;
    std::uint32_t m_slots;
};

class ArrayOfMaps final : public MapOfMaps {
  public:
    struct Holder {
        Retired retired; // first: the reclaimer gets back to the holder from it
        std::shared_ptr<Map> map;
    };
    static void reclaim(Retired* node) noexcept { delete reinterpret_cast<Holder*>(node); }

    ArrayOfMaps(MapConfig config, std::unique_ptr<std::atomic<Holder*>[]> entries) noexcept
        : MapOfMaps(std::move(config)), m_entries(std::move(entries)) {}
    ~ArrayOfMaps() override {
        for (std::uint32_t i = 0; i < config().max_entries; ++i) {
            delete m_entries[i].load(std::memory_order_relaxed);
        }
    }

    void* lookup(const void* key) noexcept override {
        const std::uint32_t index = load_u32(key);
        if (index >= config().max_entries) {
            return nullptr;
        }
        const Holder* holder = m_entries[index].load(std::memory_order_seq_cst);
        return holder != nullptr ? holder->map.get() : nullptr;
    }
    long update(const void*, const void*, std::uint64_t) noexcept override { return -EINVAL; }
    long erase(const void* key) noexcept override {
        const std::uint32_t index = load_u32(key);
        if (index >= config().max_entries) {
            return -E2BIG;
        }
        return swap(index, nullptr) ? 0 : -ENOENT;
    }
    void* detach(const void* key) noexcept override {
        const std::uint32_t index = load_u32(key);
        if (index >= config().max_entries) {
            return nullptr;
        }
        Holder* old = m_entries[index].exchange(nullptr, std::memory_order_seq_cst);
        if (old == nullptr) {
            return nullptr;
        }
        Map* inner = old->map.get();
        retire_node(&old->retired, &reclaim); // the inner map lives until the caller's guard ends
        return inner;
    }

    Result<void> set_inner(std::span<const std::uint8_t> key, std::shared_ptr<Map> inner,
                           std::uint64_t flags) override {
        auto index = index_of(key, label());
        if (!index) {
            return std::move(index).error();
        }
        if (*index >= config().max_entries) {
            return Error::invalid(label() + ": index " + number(*index) + " out of range (max_entries " +
                                  number(config().max_entries) + ")")
                .with_errno(E2BIG);
        }
        if (flags != bpf_any) {
            return Error::invalid(label() + ": array of maps entries take BPF_ANY only, not " + hex(flags));
        }
        if (!inner) {
            return Error::invalid(label() + ": no inner map given (host_erase deletes an entry)");
        }
        if (auto checked = check_inner(*inner); !checked) {
            return checked;
        }
        auto* holder = new (std::nothrow) Holder{{}, std::move(inner)};
        if (holder == nullptr) {
            return out_of_memory(config(), sizeof(Holder));
        }
        swap(*index, holder);
        return {};
    }
    Result<std::shared_ptr<Map>> inner_map(std::span<const std::uint8_t> key) const override {
        auto index = index_of(key, label());
        if (!index) {
            return std::move(index).error();
        }
        if (*index >= config().max_entries) {
            return std::shared_ptr<Map>();
        }
        EpochGuard guard;
        const Holder* holder = m_entries[*index].load(std::memory_order_seq_cst);
        return holder != nullptr ? holder->map : std::shared_ptr<Map>();
    }

    Result<bool> host_lookup(std::span<const std::uint8_t>, std::span<std::uint8_t>) const override {
        return Error::unsupported(label() + ": inner maps have no ids here; use inner_map()");
    }
    Result<void> host_update(std::span<const std::uint8_t>, std::span<const std::uint8_t>, std::uint64_t) override {
        return Error::unsupported(label() + ": inner maps are set with set_inner()");
    }
    Result<bool> host_erase(std::span<const std::uint8_t> key) override {
        auto index = index_of(key, label());
        if (!index) {
            return std::move(index).error();
        }
        return *index < config().max_entries && swap(*index, nullptr);
    }
    Result<bool> next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const override {
        if ((!key.empty() && key.size() != 4) || next.size() != 4) {
            return Error::invalid(label() + ": keys are 4-byte indexes");
        }
        return array_next(config().max_entries, key, next);
    }
    std::optional<std::size_t> entry_count() const noexcept override { return config().max_entries; }
    std::size_t memory_size() const noexcept override { return std::size_t{config().max_entries} * sizeof(void*); }

  private:
    /// Installs `holder` (or clears) and retires the previous holder; whether there was one.
    bool swap(std::uint32_t index, Holder* holder) noexcept {
        Holder* old = m_entries[index].exchange(holder, std::memory_order_seq_cst);
        if (old != nullptr) {
            retire_node(&old->retired, &reclaim);
        }
        return old != nullptr;
    }

    std::unique_ptr<std::atomic<Holder*>[]> m_entries;
};

} // namespace

Result<std::shared_ptr<Map>> create_array_map(const MapConfig& config) {
    try {
        if (config.kind == MapKind::array_of_maps) {
            auto entries = std::make_unique<std::atomic<ArrayOfMaps::Holder*>[]>(config.max_entries);
            return std::shared_ptr<Map>(std::make_shared<ArrayOfMaps>(config, std::move(entries)));
        }
        const std::size_t slots = is_percpu(config.kind) ? config.slots : 1;
        const std::size_t bytes = std::size_t{config.max_entries} * round_up8(config.value_size) * slots;
        auto* data = static_cast<std::byte*>(std::calloc(1, bytes));
        if (data == nullptr) {
            return out_of_memory(config, bytes);
        }
        commit_memory(data, bytes);
        try {
            return std::shared_ptr<Map>(std::make_shared<ArrayMap>(config, data));
        } catch (...) {
            std::free(data);
            throw;
        }
    } catch (const std::bad_alloc&) {
        return out_of_memory(config, 0);
    }
}

} // namespace detail

// prog_array

ProgramArrayMap::ProgramArrayMap(MapConfig config) noexcept : Map(std::move(config)) {}

ProgramArrayMap::~ProgramArrayMap() {
    if (m_entries) {
        for (std::uint32_t i = 0; i < config().max_entries; ++i) {
            delete m_entries[i].load(std::memory_order_relaxed);
        }
    }
}

Result<std::shared_ptr<ProgramArrayMap>> ProgramArrayMap::create(const MapConfig& config) {
    if (auto valid = validate_map_config(config); !valid) {
        return std::move(valid).error();
    }
    if (config.kind != platform::MapKind::prog_array) {
        return Error::invalid(std::string("map ") + config.name + ": not a prog_array");
    }
    try {
        std::shared_ptr<ProgramArrayMap> map(new ProgramArrayMap(config));
        map->m_entries = std::make_unique<std::atomic<Entry*>[]>(config.max_entries);
        return map;
    } catch (const std::bad_alloc&) {
        return detail::out_of_memory(config, std::size_t{config.max_entries} * sizeof(void*));
    }
}

void ProgramArrayMap::reclaim(Retired* node) noexcept { delete reinterpret_cast<Entry*>(node); }

bool ProgramArrayMap::clear_entry(std::uint32_t index) noexcept {
    Entry* old = m_entries[index].exchange(nullptr, std::memory_order_seq_cst);
    if (old != nullptr) {
        retire_node(&old->retired, &reclaim);
    }
    return old != nullptr;
}

Result<void> ProgramArrayMap::bind_program_type(const platform::ProgramType& type) {
    std::lock_guard lock(m_owner_mutex);
    if (!m_owner) {
        // What the verifier assumed of each program and the entry point checks for the first of a chain.
        platform::ProgramType owner;
        owner.name = type.name;
        owner.context = type.context;
        owner.max_data_size = type.max_data_size;
        owner.return_min = type.return_min;
        owner.return_max = type.return_max;
        owner.out_of_range_return = type.out_of_range_return;
        m_owner = std::move(owner);
        return {};
    }
    if (m_owner->name != type.name) {
        return Error::invalid(label() + " serves " + m_owner->name + " programs; a " + type.name +
                              " program cannot share it (a tail call keeps the caller's context)");
    }
    if (m_owner->context != type.context) {
        return Error::invalid(label() + " serves " + m_owner->name + " programs with a context of " +
                              std::to_string(m_owner->context.size) + " bytes; this " + type.name +
                              " program's context has another layout (" + std::to_string(type.context.size) +
                              " bytes)");
    }
    // The first program's entry checks the data range against its type's limit and its hook reads the last
    // program's r0: a program verified for a longer packet or another return range would break both.
    if (m_owner->max_data_size != type.max_data_size) {
        return Error::invalid(label() + " serves " + m_owner->name + " programs verified for data ranges up to " +
                              std::to_string(m_owner->max_data_size) + " bytes; this program's type has " +
                              std::to_string(type.max_data_size));
    }
    if (m_owner->return_min != type.return_min || m_owner->return_max != type.return_max ||
        m_owner->out_of_range_return != type.out_of_range_return) {
        return Error::invalid(label() + " serves " + m_owner->name + " programs that return a value in [" +
                              std::to_string(m_owner->return_min) + ", " + std::to_string(m_owner->return_max) +
                              "]; this program's type has another return range");
    }
    return {};
}

Result<void> ProgramArrayMap::set_program(std::uint32_t index, std::shared_ptr<const Invocable> program,
                                          const platform::ProgramType* type) {
    if (index >= config().max_entries) {
        return Error::invalid(label() + ": index " + std::to_string(index) + " out of range (max_entries " +
                              std::to_string(config().max_entries) + ")")
            .with_errno(E2BIG);
    }
    if (!program) {
        clear_entry(index);
        return {};
    }
    if (type != nullptr) {
        if (auto bound = bind_program_type(*type); !bound) {
            return bound;
        }
    }
    static_assert(std::is_standard_layout_v<Entry>);
    auto* entry = new (std::nothrow) Entry{{}, std::move(program)};
    if (entry == nullptr) {
        return detail::out_of_memory(config(), sizeof(Entry));
    }
    Entry* old = m_entries[index].exchange(entry, std::memory_order_seq_cst);
    if (old != nullptr) {
        retire_node(&old->retired, &reclaim);
    }
    return {};
}

std::shared_ptr<const Invocable> ProgramArrayMap::program(std::uint32_t index) const {
    if (index >= config().max_entries) {
        return nullptr;
    }
    EpochGuard guard;
    const Entry* entry = m_entries[index].load(std::memory_order_seq_cst);
    return entry != nullptr ? entry->program : nullptr;
}

void ProgramArrayMap::clear() noexcept {
    for (std::uint32_t i = 0; i < config().max_entries; ++i) {
        clear_entry(i);
    }
}

long ProgramArrayMap::update(const void*, const void*, std::uint64_t) noexcept { return -EINVAL; }

long ProgramArrayMap::erase(const void* key) noexcept {
    const std::uint32_t index = detail::load_u32(key);
    if (index >= config().max_entries) {
        return -E2BIG;
    }
    return clear_entry(index) ? 0 : -ENOENT;
}

Result<bool> ProgramArrayMap::host_lookup(std::span<const std::uint8_t>, std::span<std::uint8_t>) const {
    return Error::unsupported(label() + ": programs have no ids here; use program()");
}

Result<void> ProgramArrayMap::host_update(std::span<const std::uint8_t>, std::span<const std::uint8_t>, std::uint64_t) {
    return Error::unsupported(label() + ": programs are set with set_program()");
}

Result<bool> ProgramArrayMap::host_erase(std::span<const std::uint8_t> key) {
    if (key.size() != 4) {
        return Error::invalid(label() + ": key of " + std::to_string(key.size()) + " bytes, expected 4");
    }
    const std::uint32_t index = detail::load_u32(key.data());
    return index < config().max_entries && clear_entry(index);
}

Result<bool> ProgramArrayMap::next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const {
    if ((!key.empty() && key.size() != 4) || next.size() != 4) {
        return Error::invalid(label() + ": keys are 4-byte indexes");
    }
    return detail::array_next(config().max_entries, key, next);
}

std::optional<std::size_t> ProgramArrayMap::entry_count() const noexcept { return config().max_entries; }

std::size_t ProgramArrayMap::memory_size() const noexcept { return std::size_t{config().max_entries} * sizeof(void*); }

} // namespace embpf::runtime
