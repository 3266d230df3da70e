// The eBPF for Windows platform: general helper ids from its ebpf_structs.h (ebpf_helper_id_t), prototypes as its
// execution context declares them, hook contexts from ebpf_nethooks.h. The plugin headers in include/embpf/plugin
// declare the same layouts and check them with static assertions.
#include "embpf/platform/platform.hpp"

#include "helper_rows.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <vector>

namespace embpf::platform {
namespace {

using A = ArgKind;
using R = ReturnKind;
constexpr bool kMovesPacket = true;
constexpr bool kKeepsPacket = false;
constexpr bool kReadsDestination = true; // appends to what its writable argument holds

using detail::HelperRow;
using detail::make;

// Deviation: eBPF for Windows declares map_pop_elem/map_peek_elem with a readable map value; the helper writes it,
// so embpf asks for writable (possibly uninitialized) memory, as Linux does.
constexpr HelperRow kGeneralHelpers[] = {
    {1, "map_lookup_elem", R::ptr_to_map_value_or_null, {A::ptr_to_map, A::ptr_to_map_key}, kKeepsPacket},
    {2,
     "map_update_elem",
     R::integer,
     {A::ptr_to_map, A::ptr_to_map_key, A::ptr_to_map_value, A::anything},
     kKeepsPacket},
    {3, "map_delete_elem", R::integer, {A::ptr_to_map, A::ptr_to_map_key}, kKeepsPacket},
    {4, "map_lookup_and_delete_elem", R::ptr_to_map_value_or_null, {A::ptr_to_map, A::ptr_to_map_key}, kKeepsPacket},
    {5, "tail_call", R::no_return_on_success, {A::ptr_to_ctx, A::ptr_to_map_of_programs, A::anything}, kKeepsPacket},
    {6, "get_prandom_u32", R::integer, {}, kKeepsPacket},
    {7, "ktime_get_boot_ns", R::integer, {}, kKeepsPacket},
    {8, "get_smp_processor_id", R::integer, {}, kKeepsPacket},
    {9, "ktime_get_ns", R::integer, {}, kKeepsPacket},
    {10,
     "csum_diff",
     R::integer,
     {A::ptr_to_readable_mem_or_null, A::const_size_or_zero, A::ptr_to_readable_mem_or_null, A::const_size_or_zero,
      A::anything},
     kKeepsPacket},
    {11,
     "ringbuf_output",
     R::integer,
     {A::ptr_to_map, A::ptr_to_readable_mem, A::const_size, A::anything},
     kKeepsPacket},
    {12, "trace_printk2", R::integer, {A::ptr_to_readable_mem, A::const_size}, kKeepsPacket},
    {13, "trace_printk3", R::integer, {A::ptr_to_readable_mem, A::const_size, A::anything}, kKeepsPacket},
    {14, "trace_printk4", R::integer, {A::ptr_to_readable_mem, A::const_size, A::anything, A::anything}, kKeepsPacket},
    {15,
     "trace_printk5",
     R::integer,
     {A::ptr_to_readable_mem, A::const_size, A::anything, A::anything, A::anything},
     kKeepsPacket},
    {16, "map_push_elem", R::integer, {A::ptr_to_map, A::ptr_to_map_value, A::anything}, kKeepsPacket},
    {17, "map_pop_elem", R::integer, {A::ptr_to_map, A::ptr_to_uninit_map_value}, kKeepsPacket, Writes::all},
    {18, "map_peek_elem", R::integer, {A::ptr_to_map, A::ptr_to_uninit_map_value}, kKeepsPacket, Writes::all},
    {19, "get_current_pid_tgid", R::integer, {}, kKeepsPacket},
    {20, "get_current_logon_id", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {21, "is_current_admin", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {22,
     "memcpy_s",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket,
     Writes::source_if_fits},
    {23,
     "memcmp_s",
     R::integer,
     {A::ptr_to_readable_mem, A::const_size_or_zero, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket},
    {24, "memset", R::integer, {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything}, kKeepsPacket, Writes::all},
    {25,
     "memmove_s",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket,
     Writes::source_if_fits},
    {26, "get_socket_cookie", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {27,
     "strncpy_s",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket,
     Writes::all},
    {28,
     "strncat_s",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket,
     Writes::all,
     false,
     kReadsDestination},
    {29, "strnlen_s", R::integer, {A::ptr_to_readable_mem, A::const_size_or_zero}, kKeepsPacket},
    {30, "ktime_get_boot_ms", R::integer, {}, kKeepsPacket},
    {31, "ktime_get_ms", R::integer, {}, kKeepsPacket},
    {32,
     "perf_event_output",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_map, A::anything, A::ptr_to_readable_mem, A::const_size},
     kKeepsPacket},
};

// Extension helpers are numbered per hook from 0xFFFF + 1, so these ids repeat across program types.
constexpr std::uint32_t kExtensionHelperBase = 0xFFFF;

constexpr HelperRow kXdpHelpers[] = {
    {kExtensionHelperBase + 1, "xdp_adjust_head", R::integer, {A::ptr_to_ctx, A::anything}, kMovesPacket},
};

constexpr HelperRow kSockAddrHelpers[] = {
    {kExtensionHelperBase + 1, "sock_addr_get_current_pid_tgid", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {kExtensionHelperBase + 2,
     "sock_addr_set_redirect_context",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size},
     kKeepsPacket},
};

ContextField read_only(std::uint32_t offset, std::uint32_t size, std::string_view name,
                       FieldKind kind = FieldKind::scalar) {
    return ContextField{offset, size, kind, true, false, std::string(name)};
}

ContextField read_write(std::uint32_t offset, std::uint32_t size, std::string_view name) {
    return ContextField{offset, size, FieldKind::scalar, true, true, std::string(name)};
}

// Every eBPF for Windows hook may call every general helper, plus its own.
ProgramType hook(std::string_view name, std::vector<std::string> prefixes, ContextDescriptor context,
                 std::vector<HelperPrototype> own, std::int64_t return_min, std::int64_t return_max,
                 std::string_view meaning, std::uint32_t platform_id) {
    ProgramType type;
    type.name = std::string(name);
    type.section_prefixes = std::move(prefixes);
    type.context = std::move(context);
    for (const HelperRow& row : kGeneralHelpers) {
        type.helpers.push_back(row.id);
    }
    for (const HelperPrototype& h : own) {
        type.helpers.push_back(h.id);
    }
    type.own_helpers = std::move(own);
    type.return_min = return_min;
    type.return_max = return_max;
    type.return_meaning = std::string(meaning);
    type.platform_id = platform_id;
    return type;
}

template <std::size_t N>
std::vector<HelperPrototype> prototypes(const HelperRow (&rows)[N]) {
    std::vector<HelperPrototype> out;
    for (const HelperRow& row : rows) {
        out.push_back(make(row));
    }
    return out;
}

// xdp_md_t: void* data; void* data_end; uint64_t data_meta; uint32_t ingress_ifindex; (32 bytes with padding).
// eBPF for Windows' descriptor names data_meta as the metadata pointer although the struct types it uint64_t.
ContextDescriptor xdp_context() {
    ContextDescriptor ctx;
    ctx.size = 32;
    ctx.data = 0;
    ctx.data_end = 8;
    ctx.meta = 16;
    ctx.pointer_width = 8;
    ctx.fields = {
        read_only(0, 8, "data", FieldKind::packet_start),
        read_only(8, 8, "data_end", FieldKind::packet_end),
        read_only(16, 8, "data_meta", FieldKind::packet_meta),
        read_only(24, 4, "ingress_ifindex"),
    };
    return ctx;
}

// bind_md_t: the app id (the process's image path) is the data range. socket_address is writable so that a program
// can return BIND_REDIRECT with a new endpoint.
ContextDescriptor bind_context() {
    ContextDescriptor ctx;
    ctx.size = 56;
    ctx.data = 0;
    ctx.data_end = 8;
    ctx.pointer_width = 8;
    ctx.fields = {
        read_only(0, 8, "app_id_start", FieldKind::packet_start),
        read_only(8, 8, "app_id_end", FieldKind::packet_end),
        read_only(16, 8, "process_id"),
        read_write(24, 16, "socket_address"),
        read_only(40, 1, "socket_address_length"),
        read_only(44, 4, "operation"),
        read_only(48, 1, "protocol"),
    };
    return ctx;
}

// bpf_sock_addr_t: the destination (user_ip*, user_port) may be rewritten by connect hooks.
ContextDescriptor sock_addr_context() {
    ContextDescriptor ctx;
    ctx.size = 64;
    ctx.fields = {
        read_only(0, 4, "family"),          read_only(4, 16, "msg_src_ip6"),    read_only(20, 2, "msg_src_port"),
        read_write(24, 16, "user_ip6"),     read_write(40, 2, "user_port"),     read_only(44, 4, "protocol"),
        read_only(48, 4, "compartment_id"), read_only(56, 8, "interface_luid"),
    };
    return ctx;
}

// bpf_sock_ops_t: notifications only, nothing to write.
ContextDescriptor sock_ops_context() {
    ContextDescriptor ctx;
    ctx.size = 64;
    ctx.fields = {
        read_only(0, 4, "op"),          read_only(4, 4, "family"),          read_only(8, 16, "local_ip6"),
        read_only(24, 4, "local_port"), read_only(28, 16, "remote_ip6"),    read_only(44, 4, "remote_port"),
        read_only(48, 1, "protocol"),   read_only(52, 4, "compartment_id"), read_only(56, 8, "interface_luid"),
    };
    return ctx;
}

void require(Result<void> result) {
    if (!result) {
        // Only a wrong built-in table gets here; the platform tests catch it before anyone else can.
        std::fprintf(stderr, "embpf: invalid built-in windows platform: %s\n", result.error().message.c_str());
        std::abort();
    }
}

Platform build() {
    Platform p("windows", {
                              {1, "hash", MapKind::hash},
                              {2, "array", MapKind::array},
                              {3, "prog_array", MapKind::prog_array},
                              {4, "percpu_hash", MapKind::percpu_hash},
                              {5, "percpu_array", MapKind::percpu_array},
                              {6, "hash_of_maps", MapKind::hash_of_maps},
                              {7, "array_of_maps", MapKind::array_of_maps},
                              {8, "lru_hash", MapKind::lru_hash},
                              {9, "lpm_trie", MapKind::lpm_trie},
                              {10, "queue", MapKind::queue},
                              {11, "lru_percpu_hash", MapKind::lru_percpu_hash},
                              {12, "stack", MapKind::stack},
                              {13, "ringbuf", MapKind::ringbuf},
                              {14, "perf_event_array", MapKind::perf_event_array},
                          });
    p.set_for_untrusted_plugins(true); // the plugin hosts' platform: nothing reads host memory by design
    for (const HelperRow& row : kGeneralHelpers) {
        require(p.add_helper(make(row)));
    }
    // Program type numbers are eBPF for Windows' enum bpf_prog_type.
    require(p.add_program_type(
        hook("xdp", {"xdp"}, xdp_context(), prototypes(kXdpHelpers), 1, 3, "XDP_PASS=1, XDP_DROP=2, XDP_TX=3", 1)));
    require(p.add_program_type(
        hook("bind", {"bind"}, bind_context(), {}, 0, 2, "BIND_PERMIT=0, BIND_DENY=1, BIND_REDIRECT=2", 2)));
    require(p.add_program_type(
        hook("sock_addr", {"cgroup/connect4", "cgroup/connect6", "cgroup/recv_accept4", "cgroup/recv_accept6"},
             sock_addr_context(), prototypes(kSockAddrHelpers), 0, 2,
             "BPF_SOCK_ADDR_VERDICT_REJECT=0, BPF_SOCK_ADDR_VERDICT_PROCEED_SOFT=1, "
             "BPF_SOCK_ADDR_VERDICT_PROCEED_HARD=2",
             3)));
    require(p.add_program_type(hook("sock_ops", {"sockops"}, sock_ops_context(), {},
                                    std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(),
                                    "0 on success, an error value otherwise", 4)));
    return p;
}

} // namespace

const Platform& windows() {
    static const Platform platform = build();
    return platform;
}

} // namespace embpf::platform
