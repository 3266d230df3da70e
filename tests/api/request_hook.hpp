// A host's request hook whose context hands over three memory regions besides any packet: the path and the headers
// (read-only), the body (writable), each with its length in a field of its own; on a copy of platform::windows().
#pragma once

#include "embpf/platform/context_layout.hpp"
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

/// A request with three empty regions: each pointer still points at real memory, as every entry requires.
inline Request empty_request() {
    static std::uint8_t nothing = 0;
    Request request{};
    request.path = &nothing;
    request.headers = &nothing;
    request.body = &nothing;
    return request;
}

inline const platform::Platform& request_platform() {
    static const platform::Platform host = [] {
        platform::Platform p = platform::windows();
        platform::ProgramType type;
        type.name = "request";
        type.section_prefixes = {"request"};
        // Offsets and sizes from the struct itself.
        type.context =
            platform::ContextLayout<Request>()
                .memory(&Request::path, &Request::path_len, "path", "path_len", 4096)
                .field(&Request::method, "method")
                .memory(&Request::headers, &Request::headers_len, "headers", "headers_len")
                .memory(&Request::body, &Request::body_len, "body", "body_len", 65536, platform::Access::read_write)
                .field(&Request::status, "status", platform::Access::read_write)
                .descriptor();
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
