// ContextLayout<Ctx>: a hook's context descriptor derived from the host's own C++ struct, by member pointers.
#pragma once

#include "embpf/platform/platform.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

namespace embpf::platform {

/// What a program may do with a field.
enum class Access : std::uint8_t {
    read,       ///< read it
    read_write, ///< read and write it (a verdict, a mark the host reads back)
};

/// The descriptor of a context of type `Ctx`, every offset and size taken from the struct itself:
///
///     struct Request { const char* path; std::uint32_t path_len; char* body; std::uint32_t body_len; int status; };
///     ContextDescriptor context = ContextLayout<Request>()
///         .memory(&Request::path, &Request::path_len, "path", "path_len", 4096)
///         .memory(&Request::body, &Request::body_len, "body", "body_len", 65536, Access::read_write)
///         .field(&Request::status, "status", Access::read_write)
///         .descriptor();
///
/// Bytes no field covers stay inaccessible. Platform::add_program_type validates the result (overlaps, sizes).
template <typename Ctx>
class ContextLayout {
    static_assert(std::is_standard_layout_v<Ctx>, "a context is a standard-layout struct the host shares with C");
    static_assert(std::is_trivially_copyable_v<Ctx>, "a context holds plain data");

  public:
    ContextLayout() { m_descriptor.size = static_cast<std::uint32_t>(sizeof(Ctx)); }

    /// A number (an integer of 1, 2, 4 or 8 bytes, or an array of them) the program reads, or reads and writes.
    template <typename T>
    ContextLayout& field(T Ctx::*member, std::string name, Access access = Access::read) {
        static_assert(!std::is_pointer_v<T>, "a pointer field is memory(): its region, not its address");
        add({offset_of(member), static_cast<std::uint32_t>(sizeof(T)), FieldKind::scalar, true,
             access == Access::read_write, std::move(name)});
        return *this;
    }

    /// A memory region: `pointer` to its first byte, its size in bytes in the field `size` (at most `most` bytes,
    /// which every entry checks; 0 for kMaxRegionSize). The size field becomes a read-only field named `size_name`.
    template <typename P, typename S>
    ContextLayout& memory(P* Ctx::*pointer, S Ctx::*size, std::string name, std::string size_name,
                          std::uint32_t most = 0, Access access = Access::read) {
        static_assert(std::is_integral_v<S> && std::is_unsigned_v<S> && (sizeof(S) == 4 || sizeof(S) == 8),
                      "a region's size is an unsigned integer of 4 or 8 bytes");
        static_assert(sizeof(P*) == 8, "a region's pointer is 8 bytes, as programs read it");
        if constexpr (std::is_const_v<P>) {
            // A const region cannot be written, whatever `access` says: the host promised not to change it.
            access = Access::read;
        }
        ContextField region{offset_of(pointer), 8,    FieldKind::memory,           true, false, std::move(name),
                            size_name,          most, access == Access::read_write};
        add(std::move(region));
        add({offset_of(size), static_cast<std::uint32_t>(sizeof(S)), FieldKind::scalar, true, false,
             std::move(size_name)});
        return *this;
    }

    /// A memory region of a constant `bytes` bytes at `pointer` (a fixed-size record the host hands over).
    template <typename P>
    ContextLayout& memory(P* Ctx::*pointer, std::string name, std::uint32_t bytes, Access access = Access::read) {
        static_assert(sizeof(P*) == 8, "a region's pointer is 8 bytes, as programs read it");
        if constexpr (std::is_const_v<P>) {
            access = Access::read;
        }
        add({offset_of(pointer),
             8,
             FieldKind::memory,
             true,
             false,
             std::move(name),
             {},
             bytes,
             access == Access::read_write});
        return *this;
    }

    /// The packet (data range): pointers to its first byte and one past its last, as eBPF for Windows' xdp_md_t.
    template <typename P, typename E>
    ContextLayout& data_range(P* Ctx::*data, E* Ctx::*data_end, std::string data_name = "data",
                              std::string end_name = "data_end") {
        m_descriptor.data = static_cast<std::int32_t>(offset_of(data));
        m_descriptor.data_end = static_cast<std::int32_t>(offset_of(data_end));
        m_descriptor.pointer_width = 8;
        add({offset_of(data), 8, FieldKind::packet_start, true, false, std::move(data_name)});
        add({offset_of(data_end), 8, FieldKind::packet_end, true, false, std::move(end_name)});
        return *this;
    }

    /// The descriptor (ProgramType::context).
    [[nodiscard]] const ContextDescriptor& descriptor() const& noexcept { return m_descriptor; }
    [[nodiscard]] ContextDescriptor descriptor() && noexcept { return std::move(m_descriptor); }

    /// Where `member` lies in Ctx.
    template <typename T>
    [[nodiscard]] static std::uint32_t offset_of(T Ctx::*member) noexcept {
        // A member pointer's offset, read off an object's storage (no Ctx is constructed or read).
        alignas(Ctx) static unsigned char storage[sizeof(Ctx)];
        const auto* object = reinterpret_cast<const Ctx*>(storage);
        return static_cast<std::uint32_t>(reinterpret_cast<const unsigned char*>(&(object->*member)) - storage);
    }

  private:
    void add(ContextField field) { m_descriptor.fields.push_back(std::move(field)); }

    ContextDescriptor m_descriptor;
};

} // namespace embpf::platform
