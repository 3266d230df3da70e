// bpf_printk capture for tests: the lines programs print while a capture lives.
#pragma once

#include "embpf/runtime/helpers.hpp"

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::testing {

/// Collects every line programs print (bpf_printk, bpf_trace_printk), from any thread, while it lives: it installs
/// itself as runtime::set_trace_sink's sink and puts the previous sink back when it goes. Captures do not nest
/// across threads: the newest one gets the lines.
class PrintkCapture {
  public:
    PrintkCapture();
    ~PrintkCapture();
    PrintkCapture(const PrintkCapture&) = delete;
    PrintkCapture& operator=(const PrintkCapture&) = delete;

    /// The lines so far, without their newlines, in the order they were printed.
    [[nodiscard]] std::vector<std::string> lines() const;
    /// Whether a line contains `text`.
    [[nodiscard]] bool contains(std::string_view text) const;
    [[nodiscard]] std::size_t size() const;
    void clear();

  private:
    struct Lines {
        mutable std::mutex mutex;
        std::vector<std::string> lines;
    };
    std::shared_ptr<Lines> m_lines; // shared with the sink, which may get a line after the capture went
    runtime::TraceSink m_previous;
};

} // namespace embpf::testing
