// Left-aligned text tables for the command line.
#pragma once

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace embpf::tools {

class Table {
  public:
    explicit Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}

    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }

    void print(std::ostream& out) const {
        std::vector<std::size_t> widths(m_headers.size());
        for (std::size_t c = 0; c < m_headers.size(); ++c) {
            widths[c] = m_headers[c].size();
            for (const auto& row : m_rows) {
                widths[c] = std::max(widths[c], c < row.size() ? row[c].size() : 0);
            }
        }
        print_row(out, m_headers, widths);
        std::vector<std::string> rule;
        for (std::size_t width : widths) {
            rule.emplace_back(width, '-');
        }
        print_row(out, rule, widths);
        for (const auto& row : m_rows) {
            print_row(out, row, widths);
        }
    }

  private:
    static void print_row(std::ostream& out, const std::vector<std::string>& row,
                          const std::vector<std::size_t>& widths) {
        std::string line;
        for (std::size_t c = 0; c < widths.size(); ++c) {
            const std::string cell = c < row.size() ? row[c] : std::string();
            line += cell;
            if (c + 1 < widths.size()) {
                line += std::string(widths[c] - cell.size() + 2, ' ');
            }
        }
        line.erase(line.find_last_not_of(' ') + 1);
        out << line << '\n';
    }

    std::vector<std::string> m_headers;
    std::vector<std::vector<std::string>> m_rows;
};

} // namespace embpf::tools
