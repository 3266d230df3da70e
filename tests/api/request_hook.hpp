// A host's request hook whose context hands over three memory regions besides any packet: the path and the headers
// (read-only), the body (writable), each with its length in a field of its own; on a copy of platform::windows().
#pragma once

#include "embpf/platform/platform.hpp"

#include <cstdint>
#include <cstdlib>

namespace testing_hooks {

namespace platform = embpf::platform;

/// The hook's context as the host declares it.
struct Request {
    const std::uint8_t* path;    // 0
    std::uint32_t path_len;      // 8
    std::uint32_t method;        // 12
    const std::uint8_t* headers; // 16
    std::uint64_t headers_len;   // 24
    std::uint8_t* body;          // 32
    std::uint32_t body_len;      // 40
    std::uint32_t status;        // 44
};
static_assert(sizeof(Request) == 48);

inline const platform::Platform& request_platform() {
    static const platform::Platform host = [] {
        platform::Platform p = platform::windows();
        platform::ProgramType type;
        type.name = "request";
        type.section_prefixes = {"request"};
        type.context.size = sizeof(Request);
        using platform::ContextField;
        using platform::FieldKind;
        type.context.fields = {
            ContextField{0, 8, FieldKind::memory, true, false, "path", "path_len", 4096, false},
            ContextField{8, 4, FieldKind::scalar, true, false, "path_len"},
            ContextField{12, 4, FieldKind::scalar, true, false, "method"},
            ContextField{16, 8, FieldKind::memory, true, false, "headers", "headers_len", 0, false},
            ContextField{24, 8, FieldKind::scalar, true, false, "headers_len"},
            ContextField{32, 8, FieldKind::memory, true, false, "body", "body_len", 65536, true},
            ContextField{40, 4, FieldKind::scalar, true, false, "body_len"},
            ContextField{44, 4, FieldKind::scalar, true, true, "status"},
        };
        type.helpers = {1, 2, 3};
        type.return_min = 0;
        type.return_max = 0xFFFF;
        if (!p.add_program_type(type)) {
            std::abort();
        }
        return p;
    }();
    return host;
}

} // namespace testing_hooks
