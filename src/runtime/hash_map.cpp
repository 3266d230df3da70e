// The hash family: hash, percpu_hash, lru_hash, lru_percpu_hash and hash_of_maps, over one table.
//
// Layout: a power-of-two array of buckets (>= max_entries, as Linux sizes it), each an atomic singly linked chain and
// a spin lock. Readers walk chains with seq_cst loads and take no lock. Writers lock the key's bucket (LRU maps: the
// map's LRU lock, which also guards the LRU list) and publish with seq_cst stores. An element is never changed while
// it is reachable: an update links a new element in place of the old one and retires the old one, so a reader that
// holds a value pointer sees a complete value until its guard ends (per-CPU values are the exception: Linux updates
// them in place and so does embpf). Elements come from a pool preallocated with max_entries + slots elements (Linux's
// extra elements for replacement); a retired element returns to the pool after the grace period. Should readers hold
// back so many retirements that the pool runs dry, the writer reclaims, and only then allocates a small chunk (maps
// with bpf_f_no_prealloc grow their pool this way from the start). "Full" is a count of live entries, so it is exact.
//
// LRU policy (second chance, Linux's reference bit without its per-CPU lists): the map keeps its elements in one list
// ordered by when they were inserted or last given a second chance. A program's lookup of an element sets its
// reference bit (a relaxed store, no lock); replacing an existing key's value counts as a use too (the new element
// starts with the bit set, as on Linux). When an insert finds the map full, it walks the list from the oldest end:
// an element with the bit set has it cleared and moves to the newest end, and the first element with the bit clear is
// evicted. So elements never used since insertion go in insertion order, and an element used since the last eviction
// scan outlives every unused one. Host lookups do not set the bit (as Linux's syscall lookups do not).
#include "common.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

namespace embpf::runtime::detail {
namespace {

using platform::MapKind;

struct ElementPool;

struct Element {
    Retired retired; // the limbo link while retired, the free-list link while free
    std::atomic<Element*> next{nullptr};
    ElementPool* pool = nullptr;
    std::uint32_t hash = 0;
    std::atomic<std::uint8_t> referenced{0};
    Element* lru_newer = nullptr; // LRU list, under the LRU lock
    Element* lru_older = nullptr;
};
static_assert(std::is_standard_layout_v<Element>);
constexpr std::size_t element_header = round_up8(sizeof(Element));

/// The storage elements come from. Shared by the map and every retired element, so that an element retired just
/// before the map is destroyed can still return to it: the last of them frees it.
struct ElementPool {
    struct Chunk {
        Chunk* next;
        std::size_t bytes;
    };
    static constexpr std::size_t chunk_header = 64;

    std::atomic<std::size_t> refs{1};
    SpinLock lock;
    Element* free = nullptr; // linked through retired.next; under lock
    Chunk* chunks = nullptr; // under lock
    std::atomic<std::size_t> bytes{0};
    std::size_t element_size = 0;
    std::size_t value_offset = 0;
    std::size_t grow_by = 16;
    std::size_t elements = 0;             // allocated so far; under lock
    std::size_t max_elements = 0;         // never more (max_entries + spares + kRetiredAllowance)
    std::shared_ptr<MemoryBudget> budget; // growth after creation is counted here
    std::size_t charged = 0;              // bytes counted against it; under lock
    void (*value_dtor)(void* value) = nullptr;

    ~ElementPool() {
        if (budget) {
            budget->release(charged);
        }
        while (chunks != nullptr) {
            Chunk* next = chunks->next;
            ::operator delete (static_cast<void*>(chunks), std::align_val_t{64});
            chunks = next;
        }
    }

    static std::size_t chunk_bytes(std::size_t element_size, std::size_t count) {
        return chunk_header + element_size * count;
    }

    /// Adds up to `count` free elements, within max_elements and the budget (when `charge`); false when it added
    /// none.
    bool grow(std::size_t count, bool charge) noexcept {
        {
            std::lock_guard guard(lock);
            count = std::min(count, max_elements - std::min(max_elements, elements));
            if (count == 0) {
                return false;
            }
            elements += count; // reserved; given back below on failure
        }
        const std::size_t size = chunk_bytes(element_size, count);
        const bool counted = charge && budget;
        if (counted && !budget->charge(size)) {
            std::lock_guard guard(lock);
            elements -= count;
            return false;
        }
        void* memory = ::operator new (size, std::align_val_t{64}, std::nothrow);
        if (memory == nullptr) {
            if (counted) {
                budget->release(size);
            }
            std::lock_guard guard(lock);
            elements -= count;
            return false;
        }
        auto* chunk = new (memory) Chunk{nullptr, size};
        auto* base = static_cast<std::byte*>(memory) + chunk_header;
        Element* first = nullptr;
        for (std::size_t i = count; i-- > 0;) {
            auto* element = new (base + i * element_size) Element();
            element->pool = this;
            element->retired.next = reinterpret_cast<Retired*>(first);
            first = element;
        }
        Element* last = reinterpret_cast<Element*>(base + (count - 1) * element_size);
        {
            std::lock_guard guard(lock);
            chunk->next = chunks;
            chunks = chunk;
            last->retired.next = reinterpret_cast<Retired*>(free);
            free = first;
            if (counted) {
                charged += size;
            }
        }
        bytes.fetch_add(size, std::memory_order_relaxed);
        return true;
    }

    Element* pop() noexcept {
        std::lock_guard guard(lock);
        Element* element = free;
        if (element != nullptr) {
            free = reinterpret_cast<Element*>(element->retired.next);
        }
        return element;
    }

    void push(Element* element) noexcept {
        std::lock_guard guard(lock);
        element->retired.next = reinterpret_cast<Retired*>(free);
        free = element;
    }

    /// A free element: from the free list, else after reclaiming, else from a new chunk within max_elements and the
    /// budget; nullptr when none can be had.
    Element* acquire() noexcept {
        if (Element* element = pop()) {
            return element;
        }
        try_reclaim();
        if (Element* element = pop()) {
            return element;
        }
        if (grow(grow_by, true)) {
            return pop();
        }
        // At the bound. Outside an invocation, give readers that are about to leave their guards a moment (a bounded
        // one: waiting for every reader could wait for one that waits for this writer). Inside one, what this
        // invocation retired cannot come back before it returns: fail at once.
        for (int round = 0; round < 64 && !in_epoch_guard(); ++round) {
            std::this_thread::yield();
            try_reclaim();
            if (Element* element = pop()) {
                return element;
            }
        }
        return nullptr;
    }

    void retire(Element* element) noexcept {
        refs.fetch_add(1, std::memory_order_relaxed);
        retire_node(&element->retired, &reclaim);
    }

    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete this;
        }
    }

    static void reclaim(Retired* node) noexcept {
        auto* element = reinterpret_cast<Element*>(node);
        ElementPool* pool = element->pool;
        if (pool->value_dtor != nullptr) {
            pool->value_dtor(reinterpret_cast<std::byte*>(element) + pool->value_offset);
        }
        pool->push(element);
        pool->release();
    }
};

struct Bucket {
    std::atomic<Element*> head{nullptr};
    SpinLock lock;
};

/// What the table needs to know; hash_of_maps stores a pointer where its config says 4 bytes.
struct HashShape {
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    std::uint32_t max_entries = 0;
    std::uint32_t slots = 1; // 1 unless per-CPU
    bool percpu = false;
    bool lru = false;
    bool prealloc = true;
    bool zero_seed = false;
    void (*value_dtor)(void*) = nullptr;
    std::shared_ptr<MemoryBudget> budget;
    std::optional<std::uint32_t> spin_lock; // a new element's lock starts released
};

std::size_t bucket_count(std::uint32_t max_entries) noexcept { return std::bit_ceil(std::size_t{max_entries}); }

std::size_t element_size(const HashShape& shape) noexcept {
    return element_header + round_up8(shape.key_size) + std::size_t{shape.slots} * round_up8(shape.value_size);
}

/// Linux keeps num_possible_cpus() extra elements so that replacing an entry of a full map never fails.
std::size_t extra_elements(const HashShape& shape, std::uint32_t slots) noexcept {
    return std::max<std::size_t>(slots, 1) + (shape.lru ? 1 : 0);
}

std::size_t table_memory(const HashShape& shape, std::uint32_t slots) noexcept {
    std::size_t bytes = bucket_count(shape.max_entries) * sizeof(Bucket);
    if (shape.prealloc) {
        bytes += ElementPool::chunk_bytes(element_size(shape),
                                          std::size_t{shape.max_entries} + extra_elements(shape, slots));
    }
    return bytes;
}

HashShape shape_of(const MapConfig& config) noexcept {
    HashShape shape;
    shape.key_size = config.key_size;
    shape.value_size = config.value_size;
    shape.max_entries = config.max_entries;
    shape.percpu = is_percpu(config.kind);
    shape.slots = shape.percpu ? config.slots : 1;
    shape.lru = config.kind == MapKind::lru_hash || config.kind == MapKind::lru_percpu_hash;
    shape.prealloc = (config.flags & bpf_f_no_prealloc) == 0;
    shape.zero_seed = (config.flags & bpf_f_zero_seed) != 0;
    shape.budget = config.budget;
    shape.spin_lock = config.spin_lock;
    if (config.kind == MapKind::hash_of_maps) {
        shape.value_size = sizeof(void*);
    }
    return shape;
}

/// The table. Slot arguments: the slot a program writes, or all_slots for the host's copies of every slot.
class HashTable {
  public:
    static constexpr int all_slots = -1;

    static std::unique_ptr<HashTable> create(const HashShape& shape, std::uint32_t slots) noexcept {
        std::unique_ptr<HashTable> table(new (std::nothrow) HashTable(shape));
        if (!table) {
            return nullptr;
        }
        const std::size_t buckets = bucket_count(shape.max_entries);
        table->m_buckets = static_cast<Bucket*>(std::calloc(buckets, sizeof(Bucket)));
        if (table->m_buckets == nullptr) {
            return nullptr;
        }
        for (std::size_t i = 0; i < buckets; ++i) {
            new (&table->m_buckets[i]) Bucket();
        }
        table->m_mask = buckets - 1;
        table->m_pool = new (std::nothrow) ElementPool();
        if (table->m_pool == nullptr) {
            return nullptr;
        }
        ElementPool& pool = *table->m_pool;
        pool.element_size = element_size(shape);
        pool.value_offset = table->m_value_offset;
        pool.value_dtor = shape.value_dtor;
        const std::size_t extra = extra_elements(shape, slots);
        pool.grow_by = shape.prealloc ? std::max<std::size_t>(extra, 16)
                                      : std::clamp<std::size_t>(shape.max_entries / 16, 16, 1024);
        pool.max_elements = std::size_t{shape.max_entries} + extra + retired_allowance(slots);
        pool.budget = shape.budget;
        if (shape.prealloc && !pool.grow(std::size_t{shape.max_entries} + extra, false)) {
            return nullptr;
        }
        return table;
    }

    ~HashTable() {
        if (m_buckets != nullptr) {
            if (m_shape.value_dtor != nullptr) {
                for (std::size_t i = 0; i <= m_mask; ++i) {
                    for (Element* e = m_buckets[i].head.load(std::memory_order_relaxed); e != nullptr;
                         e = e->next.load(std::memory_order_relaxed)) {
                        m_shape.value_dtor(value_of(e));
                    }
                }
            }
            std::free(m_buckets);
        }
        if (m_pool != nullptr) {
            m_pool->release();
        }
    }

    HashTable(const HashTable&) = delete;
    HashTable& operator=(const HashTable&) = delete;

    [[nodiscard]] const HashShape& shape() const noexcept { return m_shape; }

    /// Lock-free; the caller is inside a guard.
    [[nodiscard]] Element* find(const void* key) const noexcept { return find(key, hash_of(key)); }

    [[nodiscard]] std::byte* key_of(Element* e) const noexcept { return reinterpret_cast<std::byte*>(e) + key_offset; }
    [[nodiscard]] std::byte* value_of(Element* e) const noexcept {
        return reinterpret_cast<std::byte*>(e) + m_value_offset;
    }
    [[nodiscard]] std::byte* slot_value(Element* e, std::uint32_t slot) const noexcept {
        return value_of(e) + std::size_t{slot} * m_stride;
    }

    /// A program's lookup: marks LRU elements as used.
    [[nodiscard]] void* lookup(const void* key, std::uint32_t slot) const noexcept {
        Element* e = find(key);
        if (e == nullptr) {
            return nullptr;
        }
        if (m_shape.lru && e->referenced.load(std::memory_order_relaxed) == 0) {
            e->referenced.store(1, std::memory_order_relaxed);
        }
        return slot_value(e, slot);
    }

    long update(const void* key, const void* value, std::uint64_t flags, int slot) noexcept {
        if (const long err = check_update_flags(flags)) {
            return err;
        }
        const std::uint32_t hash = hash_of(key);
        Bucket& bucket = bucket_of(hash);
        if (m_shape.percpu) {
            // Per-CPU values are updated in place, so an existing key needs no new element. A new element clears
            // every slot's value (slots x value_size bytes): an update refused anyway must not pay for that.
            std::lock_guard guard(writer_lock(bucket));
            std::atomic<Element*>* link = nullptr;
            if (Element* old = find_locked(bucket, key, hash, link)) {
                if (flags == bpf_noexist) {
                    return -EEXIST;
                }
                store_values(old, value, slot, false);
                mark_used(old);
                return 0;
            }
            if (flags == bpf_exist) {
                return -ENOENT;
            }
            if (!m_shape.lru && m_count.load(std::memory_order_relaxed) >= m_shape.max_entries) {
                return -E2BIG;
            }
        }
        Element* fresh = m_pool->acquire();
        if (fresh == nullptr) {
            return -ENOMEM;
        }
        fresh->hash = hash;
        fresh->referenced.store(0, std::memory_order_relaxed);
        std::memcpy(key_of(fresh), key, m_shape.key_size);
        store_values(fresh, value, slot, true);

        Element* old = nullptr;
        Element* victim = nullptr;
        long result = 0;
        {
            std::lock_guard guard(writer_lock(bucket));
            std::atomic<Element*>* link = nullptr;
            old = find_locked(bucket, key, hash, link);
            if (old != nullptr && flags == bpf_noexist) {
                result = -EEXIST;
                old = nullptr;
            } else if (old == nullptr && flags == bpf_exist) {
                result = -ENOENT;
            } else if (old != nullptr && m_shape.percpu) {
                // Created by another writer since the first look: update in place after all.
                store_values(old, value, slot, false);
                mark_used(old);
                old = nullptr;
            } else if (old != nullptr) {
                fresh->next.store(old->next.load(std::memory_order_relaxed), std::memory_order_relaxed);
                if (m_shape.lru) {
                    fresh->referenced.store(1, std::memory_order_relaxed);
                    lru_unlink(old);
                    lru_push_newest(fresh);
                }
                link->store(fresh, std::memory_order_seq_cst);
                fresh = nullptr;
            } else {
                if (m_shape.lru) {
                    if (m_count.load(std::memory_order_relaxed) >= m_shape.max_entries) {
                        victim = evict_locked();
                    }
                    m_count.fetch_add(1, std::memory_order_relaxed);
                } else if (m_count.fetch_add(1, std::memory_order_relaxed) >= m_shape.max_entries) {
                    m_count.fetch_sub(1, std::memory_order_relaxed);
                    result = -E2BIG;
                }
                if (result == 0) {
                    fresh->next.store(bucket.head.load(std::memory_order_relaxed), std::memory_order_relaxed);
                    if (m_shape.lru) {
                        lru_push_newest(fresh);
                    }
                    bucket.head.store(fresh, std::memory_order_seq_cst);
                    fresh = nullptr;
                }
            }
        }
        if (fresh != nullptr) {
            m_pool->push(fresh); // never published: no grace period needed
        }
        if (old != nullptr) {
            m_pool->retire(old);
        }
        if (victim != nullptr) {
            m_pool->retire(victim);
        }
        return result;
    }

    /// Deletes `key`, first copying its value to `value_out` when given; -ENOENT when absent. `removed` gets the
    /// unlinked element, which stays readable until the caller's guard ends.
    long erase(const void* key, void* value_out, int slot, Element** removed = nullptr) noexcept {
        const std::uint32_t hash = hash_of(key);
        Bucket& bucket = bucket_of(hash);
        Element* old = nullptr;
        {
            std::lock_guard guard(writer_lock(bucket));
            std::atomic<Element*>* link = nullptr;
            old = find_locked(bucket, key, hash, link);
            if (old == nullptr) {
                return -ENOENT;
            }
            if (value_out != nullptr) {
                copy_values(old, value_out, slot);
            }
            link->store(old->next.load(std::memory_order_relaxed), std::memory_order_seq_cst);
            if (m_shape.lru) {
                lru_unlink(old);
            }
            m_count.fetch_sub(1, std::memory_order_relaxed);
        }
        if (removed != nullptr) {
            *removed = old;
        }
        m_pool->retire(old);
        return 0;
    }

    /// Copies the value (one slot or all) for the host; false when absent.
    bool copy_out(const void* key, void* out, int slot) const noexcept {
        EpochGuard guard;
        Element* e = find(key);
        if (e == nullptr) {
            return false;
        }
        copy_values(e, out, slot);
        return true;
    }

    bool next_key(const void* key, void* out) const noexcept {
        EpochGuard guard;
        std::size_t start = 0;
        if (key != nullptr) {
            const std::uint32_t hash = hash_of(key);
            if (Element* e = find(key, hash)) {
                if (Element* next = e->next.load(std::memory_order_seq_cst)) {
                    std::memcpy(out, key_of(next), m_shape.key_size);
                    return true;
                }
                start = (hash & m_mask) + 1;
            }
        }
        for (std::size_t i = start; i <= m_mask; ++i) {
            if (Element* e = m_buckets[i].head.load(std::memory_order_seq_cst)) {
                std::memcpy(out, key_of(e), m_shape.key_size);
                return true;
            }
        }
        return false;
    }

    [[nodiscard]] std::size_t count() const noexcept { return m_count.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t memory() const noexcept {
        return (m_mask + 1) * sizeof(Bucket) + m_pool->bytes.load(std::memory_order_relaxed);
    }

  private:
    static constexpr std::size_t key_offset = element_header;

    explicit HashTable(const HashShape& shape) noexcept
        : m_shape(shape), m_stride(round_up8(shape.value_size)),
          m_value_offset(element_header + round_up8(shape.key_size)), m_seed(shape.zero_seed ? 0 : random_seed()) {}

    [[nodiscard]] std::uint32_t hash_of(const void* key) const noexcept {
        const auto* bytes = static_cast<const std::byte*>(key);
        std::size_t n = m_shape.key_size;
        const std::uint64_t h0 = m_seed ^ (n * 0x9e3779b97f4a7c15ULL);
        // The common key sizes take one fixed-size load (a variable-length memcpy is a library call).
        if (n == 4) {
            return static_cast<std::uint32_t>(mix64(h0 ^ load_u32(bytes)));
        }
        if (n == 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, bytes, 8);
            return static_cast<std::uint32_t>(mix64(h0 ^ word));
        }
        return static_cast<std::uint32_t>(hash_bytes(bytes, n, h0));
    }

    [[nodiscard]] Bucket& bucket_of(std::uint32_t hash) const noexcept { return m_buckets[hash & m_mask]; }

    [[nodiscard]] bool same_key(Element* e, const void* key) const noexcept {
        switch (m_shape.key_size) {
        case 4: return load_u32(key_of(e)) == load_u32(key);
        case 8: {
            std::uint64_t a = 0;
            std::uint64_t b = 0;
            std::memcpy(&a, key_of(e), 8);
            std::memcpy(&b, key, 8);
            return a == b;
        }
        default: return std::memcmp(key_of(e), key, m_shape.key_size) == 0;
        }
    }

    [[nodiscard]] Element* find(const void* key, std::uint32_t hash) const noexcept {
        for (Element* e = bucket_of(hash).head.load(std::memory_order_seq_cst); e != nullptr;
             e = e->next.load(std::memory_order_seq_cst)) {
            if (e->hash == hash && same_key(e, key)) {
                return e;
            }
        }
        return nullptr;
    }

    /// Under the writer lock: the element and the link that points at it.
    Element* find_locked(Bucket& bucket, const void* key, std::uint32_t hash,
                         std::atomic<Element*>*& link) const noexcept {
        link = &bucket.head;
        for (Element* e = link->load(std::memory_order_relaxed); e != nullptr;
             e = link->load(std::memory_order_relaxed)) {
            if (e->hash == hash && same_key(e, key)) {
                return e;
            }
            link = &e->next;
        }
        return nullptr;
    }

    SpinLock& writer_lock(Bucket& bucket) noexcept { return m_shape.lru ? m_lru_lock : bucket.lock; }

    void mark_used(Element* e) noexcept {
        if (m_shape.lru) {
            e->referenced.store(1, std::memory_order_relaxed);
        }
    }

    /// A fresh element gets the value; per-CPU elements from a program get it in their slot and zeros elsewhere.
    void store_values(Element* e, const void* value, int slot, bool fresh) noexcept {
        if (!m_shape.percpu) {
            std::memcpy(value_of(e), value, m_shape.value_size);
            if (m_shape.spin_lock) {
                std::memset(value_of(e) + *m_shape.spin_lock, 0, 4); // a fresh element, its lock released
            }
        } else if (slot == all_slots) {
            std::memcpy(value_of(e), value, std::size_t{m_shape.slots} * m_stride);
        } else {
            if (fresh) {
                std::memset(value_of(e), 0, std::size_t{m_shape.slots} * m_stride);
            }
            std::memcpy(slot_value(e, static_cast<std::uint32_t>(slot)), value, m_shape.value_size);
        }
    }

    void copy_values(Element* e, void* out, int slot) const noexcept {
        if (!m_shape.percpu) {
            std::memcpy(out, value_of(e), m_shape.value_size);
        } else if (slot == all_slots) {
            std::memcpy(out, value_of(e), std::size_t{m_shape.slots} * m_stride);
        } else {
            std::memcpy(out, slot_value(e, static_cast<std::uint32_t>(slot)), m_shape.value_size);
        }
    }

    // The LRU list, under m_lru_lock: m_newest ... m_oldest.
    void lru_push_newest(Element* e) noexcept {
        e->lru_newer = nullptr;
        e->lru_older = m_newest;
        if (m_newest != nullptr) {
            m_newest->lru_newer = e;
        } else {
            m_oldest = e;
        }
        m_newest = e;
    }
    void lru_unlink(Element* e) noexcept {
        (e->lru_newer != nullptr ? e->lru_newer->lru_older : m_newest) = e->lru_older;
        (e->lru_older != nullptr ? e->lru_older->lru_newer : m_oldest) = e->lru_newer;
        e->lru_newer = e->lru_older = nullptr;
    }

    /// Under m_lru_lock, in a full map: unlinks the victim of the second-chance scan and returns it. Readers keep
    /// setting bits during the scan, so it gives up after two rounds and takes the oldest.
    Element* evict_locked() noexcept {
        std::size_t budget = 2 * m_count.load(std::memory_order_relaxed) + 2;
        Element* victim = m_oldest;
        while (budget-- > 0 && victim->referenced.load(std::memory_order_relaxed) != 0) {
            victim->referenced.store(0, std::memory_order_relaxed);
            lru_unlink(victim);
            lru_push_newest(victim);
            victim = m_oldest;
        }
        std::atomic<Element*>* link = &bucket_of(victim->hash).head;
        while (link->load(std::memory_order_relaxed) != victim) {
            link = &link->load(std::memory_order_relaxed)->next;
        }
        link->store(victim->next.load(std::memory_order_relaxed), std::memory_order_seq_cst);
        lru_unlink(victim);
        m_count.fetch_sub(1, std::memory_order_relaxed);
        return victim;
    }

    HashShape m_shape;
    std::size_t m_stride;
    std::size_t m_value_offset;
    std::uint64_t m_seed;
    Bucket* m_buckets = nullptr;
    std::size_t m_mask = 0;
    ElementPool* m_pool = nullptr;
    std::atomic<std::size_t> m_count{0};
    SpinLock m_lru_lock;
    Element* m_newest = nullptr;
    Element* m_oldest = nullptr;
};

/// hash, percpu_hash, lru_hash, lru_percpu_hash.
class HashMap final : public Map {
  public:
    HashMap(MapConfig config, std::unique_ptr<HashTable> table) noexcept
        : Map(std::move(config)), m_table(std::move(table)) {}

    void* lookup(const void* key) noexcept override { return m_table->lookup(key, slot()); }
    long update(const void* key, const void* value, std::uint64_t flags) noexcept override {
        return m_table->update(key, value, flags, static_cast<int>(slot()));
    }
    long erase(const void* key) noexcept override { return m_table->erase(key, nullptr, 0); }
    long lookup_and_erase(const void* key, void* value_out) noexcept override {
        return m_table->erase(key, value_out, static_cast<int>(slot()));
    }
    void* detach(const void* key) noexcept override {
        Element* removed = nullptr;
        if (m_table->erase(key, nullptr, 0, &removed) != 0) {
            return nullptr;
        }
        return m_table->slot_value(removed, slot());
    }

    Result<bool> host_lookup(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) const override {
        if (auto checked = check_key_value(key, value.size()); !checked) {
            return std::move(checked).error();
        }
        return m_table->copy_out(key.data(), value.data(), HashTable::all_slots);
    }
    Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                             std::uint64_t flags) override {
        if (auto checked = check_key_value(key, value.size()); !checked) {
            return checked;
        }
        if (const long err = m_table->update(key.data(), value.data(), flags, HashTable::all_slots)) {
            return update_error(err, flags);
        }
        return {};
    }
    Result<bool> host_erase(std::span<const std::uint8_t> key) override {
        if (auto checked = check_key(key); !checked) {
            return std::move(checked).error();
        }
        return m_table->erase(key.data(), nullptr, 0) == 0;
    }
    Result<bool> host_lookup_and_erase(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) override {
        if (auto checked = check_key_value(key, value.size()); !checked) {
            return std::move(checked).error();
        }
        return m_table->erase(key.data(), value.data(), HashTable::all_slots) == 0;
    }
    Result<bool> next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const override {
        if (!key.empty()) {
            if (auto checked = check_key(key); !checked) {
                return std::move(checked).error();
            }
        }
        if (next.size() != config().key_size) {
            return Error::invalid(label() + ": next key buffer of " + std::to_string(next.size()) +
                                  " bytes, expected " + std::to_string(config().key_size));
        }
        return m_table->next_key(key.empty() ? nullptr : key.data(), next.data());
    }
    std::optional<std::size_t> entry_count() const noexcept override { return m_table->count(); }
    std::size_t memory_size() const noexcept override { return m_table->memory(); }

  private:
    [[nodiscard]] std::uint32_t slot() const noexcept { return m_table->shape().percpu ? program_slot() : 0; }
    [[nodiscard]] Result<void> check_key_value(std::span<const std::uint8_t> key, std::size_t value_size) const {
        if (auto checked = check_key(key); !checked) {
            return checked;
        }
        return check_value(value_size);
    }

    std::unique_ptr<HashTable> m_table;
};

/// hash_of_maps: the table stores a pointer to a holder of the inner map, deleted after the grace period.
class HashOfMaps final : public MapOfMaps {
  public:
    struct Holder {
        std::shared_ptr<Map> map;
    };
    static void delete_holder(void* value) noexcept {
        Holder* holder = nullptr;
        std::memcpy(&holder, value, sizeof holder);
        delete holder;
    }

    HashOfMaps(MapConfig config, std::unique_ptr<HashTable> table) noexcept
        : MapOfMaps(std::move(config)), m_table(std::move(table)) {}

    void* lookup(const void* key) noexcept override {
        Element* e = m_table->find(key);
        return e != nullptr ? holder_of(e)->map.get() : nullptr;
    }
    long update(const void*, const void*, std::uint64_t) noexcept override { return -EINVAL; }
    long erase(const void* key) noexcept override { return m_table->erase(key, nullptr, 0); }
    void* detach(const void* key) noexcept override {
        Element* removed = nullptr;
        if (m_table->erase(key, nullptr, 0, &removed) != 0) {
            return nullptr;
        }
        return holder_of(removed)->map.get(); // the holder is deleted with the element, after the grace period
    }

    Result<void> set_inner(std::span<const std::uint8_t> key, std::shared_ptr<Map> inner,
                           std::uint64_t flags) override {
        if (auto checked = check_key(key); !checked) {
            return checked;
        }
        if (!inner) {
            return Error::invalid(label() + ": no inner map given (host_erase deletes an entry)");
        }
        if (auto checked = check_inner(*inner); !checked) {
            return checked;
        }
        Holder* holder = new (std::nothrow) Holder{std::move(inner)};
        if (holder == nullptr) {
            return out_of_memory(config(), sizeof(Holder));
        }
        if (const long err = m_table->update(key.data(), &holder, flags, 0)) {
            delete holder;
            return update_error(err, flags);
        }
        return {};
    }
    Result<std::shared_ptr<Map>> inner_map(std::span<const std::uint8_t> key) const override {
        if (auto checked = check_key(key); !checked) {
            return std::move(checked).error();
        }
        EpochGuard guard;
        Element* e = m_table->find(key.data());
        return e != nullptr ? holder_of(e)->map : std::shared_ptr<Map>();
    }

    Result<bool> host_lookup(std::span<const std::uint8_t>, std::span<std::uint8_t>) const override {
        return Error::unsupported(label() + ": inner maps have no ids here; use inner_map()");
    }
    Result<void> host_update(std::span<const std::uint8_t>, std::span<const std::uint8_t>, std::uint64_t) override {
        return Error::unsupported(label() + ": inner maps are set with set_inner()");
    }
    Result<bool> host_erase(std::span<const std::uint8_t> key) override {
        if (auto checked = check_key(key); !checked) {
            return std::move(checked).error();
        }
        return m_table->erase(key.data(), nullptr, 0) == 0;
    }
    Result<bool> next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const override {
        if (!key.empty()) {
            if (auto checked = check_key(key); !checked) {
                return std::move(checked).error();
            }
        }
        if (next.size() != config().key_size) {
            return Error::invalid(label() + ": next key buffer of " + std::to_string(next.size()) +
                                  " bytes, expected " + std::to_string(config().key_size));
        }
        return m_table->next_key(key.empty() ? nullptr : key.data(), next.data());
    }
    std::optional<std::size_t> entry_count() const noexcept override { return m_table->count(); }
    std::size_t memory_size() const noexcept override { return m_table->memory(); }

  private:
    [[nodiscard]] Holder* holder_of(Element* e) const noexcept {
        Holder* holder = nullptr;
        std::memcpy(&holder, m_table->value_of(e), sizeof holder);
        return holder;
    }

    std::unique_ptr<HashTable> m_table;
};

} // namespace

std::size_t hash_map_memory(const MapConfig& config) noexcept { return table_memory(shape_of(config), config.slots); }

Result<std::shared_ptr<Map>> create_hash_map(const MapConfig& config) {
    HashShape shape = shape_of(config);
    if (config.kind == MapKind::hash_of_maps) {
        shape.value_dtor = &HashOfMaps::delete_holder;
    }
    std::unique_ptr<HashTable> table = HashTable::create(shape, config.slots);
    if (!table) {
        return out_of_memory(config, table_memory(shape, config.slots));
    }
    try {
        if (config.kind == MapKind::hash_of_maps) {
            return std::shared_ptr<Map>(std::make_shared<HashOfMaps>(config, std::move(table)));
        }
        return std::shared_ptr<Map>(std::make_shared<HashMap>(config, std::move(table)));
    } catch (const std::bad_alloc&) {
        return out_of_memory(config, 0);
    }
}

} // namespace embpf::runtime::detail
