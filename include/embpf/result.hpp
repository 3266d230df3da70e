// Result<T>: the error-as-value type of the public API.
#pragma once

#include <cstddef>
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

/// An error: its kind, a human-readable message and, where it applies, the instruction index.
struct Error {
    ErrorKind kind = ErrorKind::invalid_input;
    std::string message;
    std::optional<std::size_t> pc{};

    [[nodiscard]] static Error invalid(std::string msg, std::optional<std::size_t> pc = {}) {
        return {ErrorKind::invalid_input, std::move(msg), pc};
    }
    [[nodiscard]] static Error unsupported(std::string msg, std::optional<std::size_t> pc = {}) {
        return {ErrorKind::unsupported, std::move(msg), pc};
    }
    [[nodiscard]] static Error runtime(std::string msg, std::optional<std::size_t> pc = {}) {
        return {ErrorKind::runtime, std::move(msg), pc};
    }
    [[nodiscard]] static Error internal(std::string msg) { return {ErrorKind::internal, std::move(msg), {}}; }
};

/// Either a value or an Error. Shaped like std::expected so it can become one.
template <typename T>
class [[nodiscard]] Result {
  public:
    using value_type = T;

    Result(T value) : m_storage(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_storage(std::in_place_index<1>, std::move(error)) {}

    [[nodiscard]] bool has_value() const noexcept { return m_storage.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & { return std::get<0>(m_storage); }
    [[nodiscard]] const T& value() const& { return std::get<0>(m_storage); }
    [[nodiscard]] T&& value() && { return std::get<0>(std::move(m_storage)); }
    [[nodiscard]] const Error& error() const& { return std::get<1>(m_storage); }
    [[nodiscard]] Error&& error() && { return std::get<1>(std::move(m_storage)); }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <typename U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

  private:
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
    void value() const {}
    [[nodiscard]] const Error& error() const& { return *m_error; }
    [[nodiscard]] Error&& error() && { return std::move(*m_error); }

  private:
    std::optional<Error> m_error;
};

} // namespace embpf
