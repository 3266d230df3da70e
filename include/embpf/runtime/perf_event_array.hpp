// The perf event array map (BPF_MAP_TYPE_PERF_EVENT_ARRAY) in user mode.
//
// On Linux each entry holds a perf event, in practice one per CPU, whose ring user space maps to read samples that
// bpf_perf_event_output writes. Here each entry (index 0 .. max_entries-1; max_entries 0 means one per slot) gets a
// byte ring that the host opens with open(), as libbpf's perf_buffer__new installs one event per CPU. Output to an
// index with no open buffer is -ENOENT, an index out of range -E2BIG, a sample that does not fit the free space is
// lost (-ENOSPC) and counted, and the host's consumer hears about losses through its lost callback, as libbpf's
// lost_cb. Unlike Linux the consumer sees the sample's exact size (Linux pads raw samples to 8 bytes minus 4).
// Samples are copied: a consumer gets a span into a scratch buffer that stays valid during its callback.
#pragma once

#include "embpf/runtime/map.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace embpf::runtime {

inline constexpr std::uint64_t bpf_f_index_mask = 0xffffffffULL;
inline constexpr std::uint64_t bpf_f_current_cpu = bpf_f_index_mask;
inline constexpr std::uint64_t bpf_f_ctxlen_mask = 0xfffffULL << 32;

class PerfEventArrayMap final : public Map {
  public:
    [[nodiscard]] static Result<std::shared_ptr<PerfEventArrayMap>> create(const MapConfig& config);
    ~PerfEventArrayMap() override;

    /// bpf_perf_event_output: the low 32 bits of `flags` pick the index (bpf_f_current_cpu: the calling thread's
    /// slot); other bits are -EINVAL (the helper layer strips bpf_f_ctxlen_mask and passes those context bytes as
    /// `extra`, which is appended to the sample). Returns 0 or a negative errno. Any thread.
    [[nodiscard]] long output(std::uint64_t flags, const void* data, std::uint64_t size, const void* extra = nullptr,
                              std::uint64_t extra_size = 0) noexcept;

    /// Opens a buffer of `bytes` (rounded up to a power of two, at least 4096) for each index that has none.
    [[nodiscard]] Result<void> open(std::size_t bytes);
    /// Opens a buffer for one index.
    [[nodiscard]] Result<void> open(std::uint32_t index, std::size_t bytes);
    /// Closes the buffer of `index`; samples still in it are dropped.
    void close(std::uint32_t index) noexcept;

    /// Delivers the waiting samples of every open buffer: `on_sample(index, span)`, after `on_lost(index, count)` when
    /// samples of that buffer were lost since the last call. Returns the number of samples delivered. One consumer at a
    /// time; do not call it from a callback.
    template <typename Sample, typename Lost>
    std::size_t consume(Sample&& on_sample, Lost&& on_lost) {
        auto sample = [&](std::uint32_t index, std::span<const std::uint8_t> data) { on_sample(index, data); };
        auto lost = [&](std::uint32_t index, std::uint64_t count) { on_lost(index, count); };
        return consume_impl(&call_sample<decltype(sample)>, &sample, &call_lost<decltype(lost)>, &lost);
    }
    template <typename Sample>
    std::size_t consume(Sample&& on_sample) {
        return consume(std::forward<Sample>(on_sample), [](std::uint32_t, std::uint64_t) {});
    }
    /// consume(), waiting up to `timeout` for a sample when there is none (negative: forever).
    template <typename Sample, typename Lost>
    std::size_t poll(std::chrono::milliseconds timeout, Sample&& on_sample, Lost&& on_lost) {
        auto sample = [&](std::uint32_t index, std::span<const std::uint8_t> data) { on_sample(index, data); };
        auto lost = [&](std::uint32_t index, std::uint64_t count) { on_lost(index, count); };
        return poll_impl(timeout, &call_sample<decltype(sample)>, &sample, &call_lost<decltype(lost)>, &lost);
    }
    template <typename Sample>
    std::size_t poll(std::chrono::milliseconds timeout, Sample&& on_sample) {
        return poll(timeout, std::forward<Sample>(on_sample), [](std::uint32_t, std::uint64_t) {});
    }
    /// An eventfd readable when samples (or losses) may be waiting.
    [[nodiscard]] int wait_fd() const noexcept { return m_event_fd; }

    [[nodiscard]] Result<bool> host_lookup(std::span<const std::uint8_t> key,
                                           std::span<std::uint8_t> value) const override;
    [[nodiscard]] Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                                           std::uint64_t flags) override;
    /// Closes the buffer of the index; false when none was open.
    [[nodiscard]] Result<bool> host_erase(std::span<const std::uint8_t> key) override;
    [[nodiscard]] Result<bool> next_key(std::span<const std::uint8_t> key_or_empty,
                                        std::span<std::uint8_t> next_out) const override;
    [[nodiscard]] std::size_t memory_size() const noexcept override;

  private:
    struct Buffer;
    using SampleFn = void (*)(void*, std::uint32_t, std::span<const std::uint8_t>);
    using LostFn = void (*)(void*, std::uint32_t, std::uint64_t);

    template <typename F>
    static void call_sample(void* context, std::uint32_t index, std::span<const std::uint8_t> data) {
        (*static_cast<F*>(context))(index, data);
    }
    template <typename F>
    static void call_lost(void* context, std::uint32_t index, std::uint64_t count) {
        (*static_cast<F*>(context))(index, count);
    }

    explicit PerfEventArrayMap(MapConfig config) noexcept;
    void notify() noexcept;
    std::size_t consume_impl(SampleFn on_sample, void* sample_context, LostFn on_lost, void* lost_context);
    std::size_t poll_impl(std::chrono::milliseconds timeout, SampleFn on_sample, void* sample_context, LostFn on_lost,
                          void* lost_context);

    std::unique_ptr<std::atomic<Buffer*>[]> m_buffers;
    std::atomic<std::size_t> m_bytes{0};
    int m_event_fd = -1;
    std::atomic<bool> m_signaled{false};
    std::mutex m_consumer; // serializes consumers, open and close
    std::vector<std::uint8_t> m_scratch;
};

} // namespace embpf::runtime
