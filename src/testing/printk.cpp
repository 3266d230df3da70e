#include "embpf/testing/printk.hpp"

#include <algorithm>

namespace embpf::testing {

PrintkCapture::PrintkCapture() : m_lines(std::make_shared<Lines>()) {
    m_previous = runtime::set_trace_sink([lines = m_lines](std::string_view line) {
        std::lock_guard lock(lines->mutex);
        lines->lines.emplace_back(line);
    });
}

PrintkCapture::~PrintkCapture() { runtime::set_trace_sink(std::move(m_previous)); }

std::vector<std::string> PrintkCapture::lines() const {
    std::lock_guard lock(m_lines->mutex);
    return m_lines->lines;
}

bool PrintkCapture::contains(std::string_view text) const {
    std::lock_guard lock(m_lines->mutex);
    return std::any_of(m_lines->lines.begin(), m_lines->lines.end(),
                       [text](const std::string& line) { return line.find(text) != std::string::npos; });
}

std::size_t PrintkCapture::size() const {
    std::lock_guard lock(m_lines->mutex);
    return m_lines->lines.size();
}

void PrintkCapture::clear() {
    std::lock_guard lock(m_lines->mutex);
    m_lines->lines.clear();
}

} // namespace embpf::testing
