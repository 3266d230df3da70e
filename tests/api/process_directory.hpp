// A directory of the test process's own under the system's temporary directory, for files a test writes (C files,
// shared objects): made when constructed, removed with what it holds when destroyed (a static one: when the tests end).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace testing_files {

class ProcessDirectory {
  public:
    /// `<temporary directory>/<prefix><pid>`.
    explicit ProcessDirectory(const std::string& prefix)
        : m_path(std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()))) {
        std::filesystem::create_directories(m_path);
    }
    ProcessDirectory(const ProcessDirectory&) = delete;
    ProcessDirectory& operator=(const ProcessDirectory&) = delete;
    ~ProcessDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }

  private:
    std::filesystem::path m_path;
};

} // namespace testing_files
