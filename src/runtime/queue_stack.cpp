// queue (FIFO) and stack (LIFO): a preallocated circular buffer of max_entries values under a spin lock, as Linux's
// queue_stack_maps. Values are copied in and out under the lock, so no pointer into the buffer ever escapes.
#include "common.hpp"

#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace embpf::runtime::detail {
namespace {

class QueueStack final : public Map {
  public:
    QueueStack(MapConfig config, std::byte* data) noexcept
        : Map(std::move(config)), m_data(data), m_lifo(kind() == platform::MapKind::stack) {}
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
    Result<bool> host_erase(std::span<const std::uint8_t>) override {
        return Error::invalid(label() + ": " + std::string(platform::to_string(kind())) +
                              " elements cannot be deleted by key; pop them (host_lookup_and_erase)");
    }
    Result<bool> host_lookup_and_erase(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) override {
        if (auto checked = check_empty_key(key, value.size()); !checked) {
            return std::move(checked).error();
        }
        return take(value.data(), true) == 0;
    }
    Result<bool> next_key(std::span<const std::uint8_t>, std::span<std::uint8_t>) const override {
        return Error::invalid(label() + ": " + std::string(platform::to_string(kind())) + " maps have no keys");
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

    [[nodiscard]] Result<void> check_empty_key(std::span<const std::uint8_t> key, std::size_t value_size) const {
        if (!key.empty()) {
            return Error::invalid(label() + ": key of " + std::to_string(key.size()) + " bytes, expected none");
        }
        return check_value(value_size);
    }

    std::byte* m_data;
    bool m_lifo;
    mutable SpinLock m_lock;
    std::uint32_t m_head = 0; // the oldest element; under m_lock
    std::uint32_t m_count = 0;
};

} // namespace

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
