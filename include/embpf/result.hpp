// Result<T>: the error-as-value type of the public API.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace embpf {

/// What went wrong, coarsely: callers branch on the kind and show the message.
enum class ErrorKind {
    invalid_input, ///< the caller's input is malformed (bad program, bad object, bad argument)
    unsupported,   ///< well-formed, but uses something this build does not support
    runtime,       ///< a checked run stopped (out-of-bounds access, budget exhausted, ...)
    internal,      ///< a bug in embpf itself
};

namespace verifier {
struct Report;
} // namespace verifier

/// An error: its kind, a human-readable message and, where it applies, the instruction index.
struct Error {
    ErrorKind kind = ErrorKind::invalid_input;
    std::string message;
    std::optional<std::size_t> pc{};
    /// A load that failed verification: the program's whole report (errors with pc, assertion and source line,
    /// warnings; verifier/verifier.hpp), pc being its first error's. Null for every other error.
    std::shared_ptr<const verifier::Report> report{};
    /// The errno the runtime produced, positive, as Linux's bpf(2) would fail with it (EEXIST for a BPF_NOEXIST update
    /// of a key that exists, E2BIG for a full map, ENOMEM past the memory limit); 0 when the error has none, and
    /// compat/libbpf.h then derives one from the kind.
    int errnum = 0;

    [[nodiscard]] static Error invalid(std::string msg, std::optional<std::size_t> pc = {}) {
        return {ErrorKind::invalid_input, std::move(msg), pc, {}, 0};
    }
    [[nodiscard]] static Error unsupported(std::string msg, std::optional<std::size_t> pc = {}) {
        return {ErrorKind::unsupported, std::move(msg), pc, {}, 0};
    }
    [[nodiscard]] static Error runtime(std::string msg, std::optional<std::size_t> pc = {}) {
        return {ErrorKind::runtime, std::move(msg), pc, {}, 0};
    }
    [[nodiscard]] static Error internal(std::string msg) { return {ErrorKind::internal, std::move(msg), {}, {}, 0}; }
    /// This error carrying `err` (positive) as its errnum.
    [[nodiscard]] Error with_errno(int err) && {
        errnum = err;
        return std::move(*this);
    }
};

namespace detail {
/// value() of a Result that holds an Error (or error() of one that holds none) is the caller's bug, not a failure
/// to report: no exception crosses the API, so it says what happened on stderr and aborts.
[[noreturn]] inline void result_misuse(const char* what, const Error* error) noexcept {
    std::fprintf(stderr, "embpf: %s%s%s\n", what, error != nullptr ? ": " : "",
                 error != nullptr ? error->message.c_str() : "");
    std::fflush(stderr);
    std::abort();
}
} // namespace detail

/// Either a value or an Error. Shaped like std::expected so it can become one, but nothing throws: value() (and *,
/// ->) of an Error, or error() of a value, aborts with the message (test has_value() first, or use value_or()).
template <typename T>
class [[nodiscard]] Result {
  public:
    using value_type = T;

    Result(T value) : m_storage(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_storage(std::in_place_index<1>, std::move(error)) {}

    [[nodiscard]] bool has_value() const noexcept { return m_storage.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & {
        check();
        return *std::get_if<0>(&m_storage);
    }
    [[nodiscard]] const T& value() const& {
        check();
        return *std::get_if<0>(&m_storage);
    }
    [[nodiscard]] T&& value() && {
        check();
        return std::move(*std::get_if<0>(&m_storage));
    }
    /// The error; aborts when the result holds a value.
    [[nodiscard]] const Error& error() const& {
        check_error();
        return *std::get_if<1>(&m_storage);
    }
    [[nodiscard]] Error&& error() && {
        check_error();
        return std::move(*std::get_if<1>(&m_storage));
    }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <typename U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    void check() const {
        if (const Error* error = std::get_if<1>(&m_storage)) {
            detail::result_misuse("value() of a Result that holds an error", error);
        }
    }
    void check_error() const {
        if (m_storage.index() != 1) {
            detail::result_misuse("error() of a Result that holds a value", nullptr);
        }
    }
    std::variant<T, Error> m_storage;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    using value_type = void;

    Result() = default;
    Result(Error error) : m_error(std::move(error)) {}

    [[nodiscard]] bool has_value() const noexcept { return !m_error.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    /// Aborts with the error's message when the result holds an Error.
    void value() const {
        if (m_error) {
            detail::result_misuse("value() of a Result that holds an error", &*m_error);
        }
    }
    /// The error; aborts when the result holds none.
    [[nodiscard]] const Error& error() const& {
        if (!m_error) {
            detail::result_misuse("error() of a Result that holds a value", nullptr);
        }
        return *m_error;
    }
    [[nodiscard]] Error&& error() && {
        if (!m_error) {
            detail::result_misuse("error() of a Result that holds a value", nullptr);
        }
        return std::move(*m_error);
    }

  private:
    std::optional<Error> m_error;
};

} // namespace embpf
