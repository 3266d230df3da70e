// The maps without keys. queue (FIFO) and stack (LIFO): a preallocated circular buffer of max_entries values under a
// spin lock, as Linux's queue_stack_maps. Values are copied in and out under the lock, so no pointer into the buffer
// ever escapes. bloom_filter: a bit array that values are added to and tested against, as Linux's bloom filter map.
#include "common.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <utility>

namespace embpf::runtime::detail {
namespace {

// What the maps without keys share: the host passes an empty key, and no element is found or deleted by key.
class KeylessMap : public Map {
  public:
    using Map::Map;

    Result<bool> host_erase(std::span<const std::uint8_t>) override {
        return Error::invalid(label() + ": " + std::string(platform::to_string(kind())) +
                              " elements cannot be deleted by key" +
                              (kind() == platform::MapKind::bloom_filter ? "" : "; pop them (host_lookup_and_erase)"));
    }
    Result<bool> next_key(std::span<const std::uint8_t>, std::span<std::uint8_t>) const override {
        return Error::invalid(label() + ": " + std::string(platform::to_string(kind())) + " maps have no keys");
    }

  protected:
    [[nodiscard]] Result<void> check_empty_key(std::span<const std::uint8_t> key, std::size_t value_size) const {
        if (!key.empty()) {
            return Error::invalid(label() + ": key of " + std::to_string(key.size()) + " bytes, expected none");
        }
        return check_value(value_size);
    }
};

class QueueStack final : public KeylessMap {
  public:
    QueueStack(MapConfig config, std::byte* data) noexcept
        : KeylessMap(std::move(config)), m_data(data), m_lifo(kind() == platform::MapKind::stack) {}
    ~QueueStack() override { std::free(m_data); }

    long update(const void*, const void*, std::uint64_t) noexcept override { return -EINVAL; }
    long erase(const void*) noexcept override { return -EINVAL; }
    long lookup_and_erase(const void* key, void* value_out) noexcept override {
        (void)key;
        return pop(value_out);
    }

    long push(const void* value, std::uint64_t flags) noexcept override {
        if (flags != bpf_any && flags != bpf_exist) {
            return -EINVAL;
        }
        std::lock_guard guard(m_lock);
        const std::uint32_t capacity = config().max_entries;
        if (m_count == capacity) {
            if (flags != bpf_exist) {
                return -E2BIG;
            }
            // Overwrite the oldest: drop it from the front.
            m_head = (m_head + 1) % capacity;
            --m_count;
        }
        std::memcpy(at((m_head + m_count) % capacity), value, config().value_size);
        ++m_count;
        return 0;
    }
    long pop(void* value_out) noexcept override { return take(value_out, true); }
    long peek(void* value_out) noexcept override { return take(value_out, false); }

    Result<bool> host_lookup(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) const override {
        if (auto checked = check_empty_key(key, value.size()); !checked) {
            return std::move(checked).error();
        }
        return const_cast<QueueStack*>(this)->take(value.data(), false) == 0;
    }
    Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                             std::uint64_t flags) override {
        if (auto checked = check_empty_key(key, value.size()); !checked) {
            return checked;
        }
        const long err = push(value.data(), flags);
        if (err == -EINVAL) {
            return Error::invalid(label() + ": push takes BPF_ANY or BPF_EXIST, not " + hex(flags));
        }
        if (err != 0) {
            return update_error(err, flags);
        }
        return {};
    }
    Result<bool> host_lookup_and_erase(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) override {
        if (auto checked = check_empty_key(key, value.size()); !checked) {
            return std::move(checked).error();
        }
        return take(value.data(), true) == 0;
    }
    std::optional<std::size_t> entry_count() const noexcept override {
        std::lock_guard guard(m_lock);
        return m_count;
    }
    std::size_t memory_size() const noexcept override {
        return std::size_t{config().max_entries} * config().value_size;
    }

  private:
    [[nodiscard]] std::byte* at(std::uint32_t index) const noexcept {
        return m_data + std::size_t{index} * config().value_size;
    }

    long take(void* value_out, bool remove) noexcept {
        std::lock_guard guard(m_lock);
        if (m_count == 0) {
            return -ENOENT;
        }
        const std::uint32_t capacity = config().max_entries;
        const std::uint32_t index = m_lifo ? (m_head + m_count - 1) % capacity : m_head;
        std::memcpy(value_out, at(index), config().value_size);
        if (remove) {
            if (!m_lifo) {
                m_head = (m_head + 1) % capacity;
            }
            --m_count;
        }
        return 0;
    }

    std::byte* m_data;
    bool m_lifo;
    mutable SpinLock m_lock;
    std::uint32_t m_head = 0; // the oldest element; under m_lock
    std::uint32_t m_count = 0;
};

// A bloom filter: k bit positions per value, from two hashes (h1 + i * h2), in an array of a power of two bits sized
// as Linux sizes it. push sets a value's bits (atomically, so programs and the host add at once); peek tells whether
// all of them are set: 0 for "maybe added", -ENOENT for "never added". Nothing is ever removed.
class BloomFilter final : public KeylessMap {
  public:
    BloomFilter(MapConfig config, std::uint64_t* words, std::uint64_t bits) noexcept
        : KeylessMap(std::move(config)), m_words(words), m_mask(bits - 1), m_hashes(bloom_hashes(this->config())),
          m_seed(random_seed()) {}
    ~BloomFilter() override { std::free(m_words); }

    [[nodiscard]] void* lookup(const void*) noexcept override { return nullptr; }
    long update(const void*, const void*, std::uint64_t) noexcept override { return -EOPNOTSUPP; }
    long erase(const void*) noexcept override { return -EOPNOTSUPP; }
    long lookup_and_erase(const void*, void*) noexcept override { return -EOPNOTSUPP; }
    long pop(void*) noexcept override { return -EOPNOTSUPP; }

    long push(const void* value, std::uint64_t flags) noexcept override {
        if (flags != bpf_any) {
            return -EINVAL;
        }
        const auto [h1, h2] = hashes(value);
        for (std::uint32_t i = 0; i < m_hashes; ++i) {
            const std::uint64_t bit = (h1 + i * h2) & m_mask;
            std::atomic_ref<std::uint64_t>(m_words[bit / 64])
                .fetch_or(std::uint64_t{1} << (bit % 64), std::memory_order_relaxed);
        }
        return 0;
    }
    // The value is read: peek asks whether it was added.
    long peek(void* value) noexcept override {
        const auto [h1, h2] = hashes(value);
        for (std::uint32_t i = 0; i < m_hashes; ++i) {
            const std::uint64_t bit = (h1 + i * h2) & m_mask;
            const std::uint64_t word =
                std::atomic_ref<std::uint64_t>(m_words[bit / 64]).load(std::memory_order_relaxed);
            if ((word & (std::uint64_t{1} << (bit % 64))) == 0) {
                return -ENOENT;
            }
        }
        return 0;
    }

    // The host's lookup tests `value` (it is read, not written), as Linux's BPF_MAP_LOOKUP_ELEM does.
    Result<bool> host_lookup(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) const override {
        if (auto checked = check_empty_key(key, value.size()); !checked) {
            return std::move(checked).error();
        }
        return const_cast<BloomFilter*>(this)->peek(value.data()) == 0;
    }
    Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                             std::uint64_t flags) override {
        if (auto checked = check_empty_key(key, value.size()); !checked) {
            return checked;
        }
        if (push(value.data(), flags) != 0) {
            return Error::invalid(label() + ": a bloom filter takes values with BPF_ANY only, not " + hex(flags));
        }
        return {};
    }
    Result<bool> host_lookup_and_erase(std::span<const std::uint8_t>, std::span<std::uint8_t>) override {
        return Error::invalid(label() + ": values added to a bloom filter cannot be taken out");
    }
    std::optional<std::size_t> entry_count() const noexcept override { return std::nullopt; }
    std::size_t memory_size() const noexcept override { return (m_mask + 1) / 8; }

  private:
    [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> hashes(const void* value) const noexcept {
        const auto* bytes = static_cast<const std::byte*>(value);
        const std::size_t n = config().value_size;
        const std::uint64_t h1 = hash_bytes(bytes, n, m_seed ^ (n * 0x9e3779b97f4a7c15ULL));
        const std::uint64_t h2 = mix64(h1 ^ 0x243f6a8885a308d3ULL) | 1; // odd: k distinct positions
        return {h1, h2};
    }

    std::uint64_t* m_words;
    std::uint64_t m_mask;
    std::uint32_t m_hashes;
    std::uint64_t m_seed;
};

} // namespace

std::uint32_t bloom_hashes(const MapConfig& config) noexcept {
    const auto k = static_cast<std::uint32_t>(config.map_extra & 0xf);
    return k == 0 ? 5 : k;
}

std::uint64_t bloom_bits(const MapConfig& config) noexcept {
    // Linux: max_entries * hashes / ln 2 bits (7/5 for 1/ln 2), a power of two, at most 2^32; at least 64 here (one
    // word).
    const std::uint64_t wanted = std::uint64_t{config.max_entries} * bloom_hashes(config) * 7 / 5;
    return std::clamp<std::uint64_t>(std::bit_ceil(std::max<std::uint64_t>(wanted, 1)), 64, std::uint64_t{1} << 32);
}

Result<std::shared_ptr<Map>> create_bloom_filter(const MapConfig& config) {
    const std::uint64_t bits = bloom_bits(config);
    const std::size_t bytes = static_cast<std::size_t>(bits / 8);
    auto* words = static_cast<std::uint64_t*>(std::calloc(1, bytes));
    if (words == nullptr) {
        return out_of_memory(config, bytes);
    }
    commit_memory(words, bytes);
    try {
        return std::shared_ptr<Map>(std::make_shared<BloomFilter>(config, words, bits));
    } catch (const std::bad_alloc&) {
        std::free(words);
        return out_of_memory(config, 0);
    }
}

Result<std::shared_ptr<Map>> create_queue_stack(const MapConfig& config) {
    const std::size_t bytes = std::size_t{config.max_entries} * config.value_size;
    auto* data = static_cast<std::byte*>(std::calloc(1, bytes));
    if (data == nullptr) {
        return out_of_memory(config, bytes);
    }
    commit_memory(data, bytes);
    try {
        return std::shared_ptr<Map>(std::make_shared<QueueStack>(config, data));
    } catch (const std::bad_alloc&) {
        std::free(data);
        return out_of_memory(config, 0);
    }
}

} // namespace embpf::runtime::detail
