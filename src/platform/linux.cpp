// The Linux platform: helper ids of linux/bpf.h (__BPF_FUNC_MAPPER) with the argument kinds of the kernel's
// bpf_func_proto tables, program types with the uapi context structs and the accesses the kernel's
// *_is_valid_access functions allow, and enum bpf_map_type. Context pointers the kernel types as sockets or flow
// keys (__sk_buff::sk, ::flow_keys, bpf_sock_addr::sk, ...) are left out: no helper here takes them.
// tests/platform/test_platform.cpp checks ids, offsets and sizes against the installed linux/bpf.h.
#include "embpf/platform/platform.hpp"

#include "helper_rows.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::platform {
namespace {

using A = ArgKind;
using R = ReturnKind;
constexpr bool kMovesPacket = true; // bpf_helper_changes_pkt_data()
constexpr bool kKeepsPacket = false;
constexpr bool kReadsHost = true; // reads any address the program names
constexpr bool kNoHostReads = false;
constexpr bool kReadsWritable = true; // reads its writable memory argument before writing it (in/out structs)

using detail::HelperRow;
using detail::make;

// trace_printk takes up to three more arguments that the kernel does not check (ARG_DONTCARE); they stay `none`.
constexpr HelperRow kHelpers[] = {
    {1, "map_lookup_elem", R::ptr_to_map_value_or_null, {A::ptr_to_map, A::ptr_to_map_key}, kKeepsPacket},
    {2,
     "map_update_elem",
     R::integer,
     {A::ptr_to_map, A::ptr_to_map_key, A::ptr_to_map_value, A::anything},
     kKeepsPacket},
    {3, "map_delete_elem", R::integer, {A::ptr_to_map, A::ptr_to_map_key}, kKeepsPacket},
    {4,
     "probe_read",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {5, "ktime_get_ns", R::integer, {}, kKeepsPacket},
    // It prints r3-r5 whatever they hold (the kernel checks nothing there and keeps it to privileged programs):
    // only for trusted programs, like probe_read.
    {6, "trace_printk", R::integer, {A::ptr_to_readable_mem, A::const_size}, kKeepsPacket, Writes::some, kReadsHost},
    {7, "get_prandom_u32", R::integer, {}, kKeepsPacket},
    {8, "get_smp_processor_id", R::integer, {}, kKeepsPacket},
    {9,
     "skb_store_bytes",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_readable_mem, A::const_size, A::anything},
     kMovesPacket},
    {10,
     "l3_csum_replace",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::anything, A::anything, A::anything},
     kMovesPacket},
    {11,
     "l4_csum_replace",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::anything, A::anything, A::anything},
     kMovesPacket},
    {12, "tail_call", R::no_return_on_success, {A::ptr_to_ctx, A::ptr_to_map_of_programs, A::anything}, kKeepsPacket},
    {13, "clone_redirect", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kMovesPacket},
    {14, "get_current_pid_tgid", R::integer, {}, kKeepsPacket},
    {15, "get_current_uid_gid", R::integer, {}, kKeepsPacket},
    {16, "get_current_comm", R::integer, {A::ptr_to_writable_mem, A::const_size}, kKeepsPacket, Writes::all},
    {17, "get_cgroup_classid", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {18, "skb_vlan_push", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kMovesPacket},
    {19, "skb_vlan_pop", R::integer, {A::ptr_to_ctx}, kMovesPacket},
    // skb_get_tunnel_key, skb_get_tunnel_opt, skb_get_xfrm_state, perf_event_read_value, perf_prog_read_value and
    // get_ns_current_pid_tgid clear the whole buffer on every failure and fill all of it on success (a size other
    // than the struct's is a failure): Writes::all.
    {20,
     "skb_get_tunnel_key",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_writable_mem, A::const_size, A::anything},
     kKeepsPacket,
     Writes::all},
    {21,
     "skb_set_tunnel_key",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size, A::anything},
     kKeepsPacket},
    {22, "perf_event_read", R::integer, {A::ptr_to_map, A::anything}, kKeepsPacket},
    {23, "redirect", R::integer, {A::anything, A::anything}, kKeepsPacket},
    {24, "get_route_realm", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {25,
     "perf_event_output",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_map, A::anything, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket},
    {26,
     "skb_load_bytes",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket,
     Writes::all},
    {27, "get_stackid", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::anything}, kKeepsPacket},
    {28,
     "csum_diff",
     R::integer,
     {A::ptr_to_readable_mem_or_null, A::const_size_or_zero, A::ptr_to_readable_mem_or_null, A::const_size_or_zero,
      A::anything},
     kKeepsPacket},
    {29,
     "skb_get_tunnel_opt",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket,
     Writes::all},
    {30, "skb_set_tunnel_opt", R::integer, {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size}, kKeepsPacket},
    {31, "skb_change_proto", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kMovesPacket},
    {32, "skb_change_type", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {33, "skb_under_cgroup", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::anything}, kKeepsPacket},
    {34, "get_hash_recalc", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {35, "get_current_task", R::integer, {}, kKeepsPacket},
    {37, "current_task_under_cgroup", R::integer, {A::ptr_to_map, A::anything}, kKeepsPacket},
    {38, "skb_change_tail", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kMovesPacket},
    {39, "skb_pull_data", R::integer, {A::ptr_to_ctx, A::anything}, kMovesPacket},
    {40, "csum_update", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {41, "set_hash_invalid", R::void_, {A::ptr_to_ctx}, kKeepsPacket},
    {42, "get_numa_node_id", R::integer, {}, kKeepsPacket},
    {43, "skb_change_head", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kMovesPacket},
    {44, "xdp_adjust_head", R::integer, {A::ptr_to_ctx, A::anything}, kMovesPacket},
    {45,
     "probe_read_str",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {46, "get_socket_cookie", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {47, "get_socket_uid", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {48, "set_hash", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {49,
     "setsockopt",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::anything, A::ptr_to_readable_mem, A::const_size},
     kKeepsPacket},
    {50, "skb_adjust_room", R::integer, {A::ptr_to_ctx, A::anything, A::anything, A::anything}, kMovesPacket},
    {51, "redirect_map", R::integer, {A::ptr_to_map, A::anything, A::anything}, kKeepsPacket},
    {52, "sk_redirect_map", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::anything, A::anything}, kKeepsPacket},
    {53, "sock_map_update", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::ptr_to_map_key, A::anything}, kKeepsPacket},
    {54, "xdp_adjust_meta", R::integer, {A::ptr_to_ctx, A::anything}, kMovesPacket},
    {55,
     "perf_event_read_value",
     R::integer,
     {A::ptr_to_map, A::anything, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket,
     Writes::all},
    {56,
     "perf_prog_read_value",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket,
     Writes::all},
    {57,
     "getsockopt",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::anything, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket},
    {58, "override_return", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {59, "sock_ops_cb_flags_set", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {60, "msg_redirect_map", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::anything, A::anything}, kKeepsPacket},
    {61, "msg_apply_bytes", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {62, "msg_cork_bytes", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    {63, "msg_pull_data", R::integer, {A::ptr_to_ctx, A::anything, A::anything, A::anything}, kMovesPacket},
    {64, "bind", R::integer, {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size}, kKeepsPacket},
    {65, "xdp_adjust_tail", R::integer, {A::ptr_to_ctx, A::anything}, kMovesPacket},
    {66,
     "skb_get_xfrm_state",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_writable_mem, A::const_size, A::anything},
     kKeepsPacket,
     Writes::all},
    {67,
     "get_stack",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket},
    {68,
     "skb_load_bytes_relative",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_writable_mem, A::const_size, A::anything},
     kKeepsPacket,
     Writes::all},
    // The lookup parameters go in and the results come back in the same struct: it must be initialized, and the
    // helper writes only some of it, on some returns.
    {69,
     "fib_lookup",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_writable_mem, A::const_size, A::anything},
     kKeepsPacket,
     Writes::some,
     kNoHostReads,
     kReadsWritable},
    {70, "sock_hash_update", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::ptr_to_map_key, A::anything}, kKeepsPacket},
    {71, "msg_redirect_hash", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::ptr_to_map_key, A::anything}, kKeepsPacket},
    {72, "sk_redirect_hash", R::integer, {A::ptr_to_ctx, A::ptr_to_map, A::ptr_to_map_key, A::anything}, kKeepsPacket},
    {73,
     "lwt_push_encap",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_readable_mem, A::const_size},
     kMovesPacket},
    {74,
     "lwt_seg6_store_bytes",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_readable_mem, A::const_size},
     kMovesPacket},
    {75, "lwt_seg6_adjust_srh", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kMovesPacket},
    {76,
     "lwt_seg6_action",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_readable_mem, A::const_size},
     kMovesPacket},
    {79, "skb_cgroup_id", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {80, "get_current_cgroup_id", R::integer, {}, kKeepsPacket},
    // The storage of the cgroup the program runs for, in the map of kind cgroup_storage (or its per-CPU kind) given:
    // never null. The flags must be 0.
    {81, "get_local_storage", R::ptr_to_map_value, {A::ptr_to_map, A::anything}, kKeepsPacket},
    {83, "skb_ancestor_cgroup_id", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    // The socket lookups of tc programs: a host object (a socket the host holds a reference to) or 0. What the
    // program reads of the socket it reads through its address, as a tracing program reads its arguments; the
    // reference goes back with sk_release. (embpf implements none of them: a program using them verifies, and its
    // object does not run.)
    {84,
     "sk_lookup_tcp",
     R::host_object_or_null,
     {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size, A::anything, A::anything},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {85,
     "sk_lookup_udp",
     R::host_object_or_null,
     {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size, A::anything, A::anything},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {86, "sk_release", R::integer, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {87, "map_push_elem", R::integer, {A::ptr_to_map, A::ptr_to_map_value, A::anything}, kKeepsPacket},
    {88, "map_pop_elem", R::integer, {A::ptr_to_map, A::ptr_to_uninit_map_value}, kKeepsPacket, Writes::all},
    {89, "map_peek_elem", R::integer, {A::ptr_to_map, A::ptr_to_uninit_map_value}, kKeepsPacket, Writes::all},
    {90, "msg_push_data", R::integer, {A::ptr_to_ctx, A::anything, A::anything, A::anything}, kMovesPacket},
    {91, "msg_pop_data", R::integer, {A::ptr_to_ctx, A::anything, A::anything, A::anything}, kMovesPacket},
    // A map value's lock: held from spin_lock to spin_unlock, one at a time, with no other helper called between.
    {93, "spin_lock", R::void_, {A::ptr_to_spin_lock}, kKeepsPacket},
    {94, "spin_unlock", R::void_, {A::ptr_to_spin_lock}, kKeepsPacket},
    {97, "skb_ecn_set_ce", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {99,
     "skc_lookup_tcp",
     R::host_object_or_null,
     {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size, A::anything, A::anything},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {109, "send_signal", R::integer, {A::anything}, kKeepsPacket},
    // skb_output writes the data as perf_event_output does, with the first bytes of the socket buffer its first
    // argument names (a tracing program's argument) when the flags' upper half asks for them.
    {111,
     "skb_output",
     R::integer,
     {A::host_object, A::ptr_to_map, A::anything, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {112,
     "probe_read_user",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {113,
     "probe_read_kernel",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {114,
     "probe_read_user_str",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {115,
     "probe_read_kernel_str",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {117, "send_signal_thread", R::integer, {A::anything}, kKeepsPacket},
    {118, "jiffies64", R::integer, {}, kKeepsPacket},
    {120,
     "get_ns_current_pid_tgid",
     R::integer,
     {A::anything, A::anything, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket,
     Writes::all},
    // The kernel also takes null for the context here (ARG_PTR_TO_CTX_OR_NULL, then it answers for the initial
    // namespace); embpf has no such kind and asks for the context, which is narrower, never looser.
    {122, "get_netns_cookie", R::integer, {A::ptr_to_ctx_or_null}, kKeepsPacket},
    {123, "get_current_ancestor_cgroup_id", R::integer, {A::anything}, kKeepsPacket},
    // The storage a map of kind sk_storage keeps for a socket (a host object), created from the value given (or
    // zeroed) with BPF_SK_STORAGE_GET_F_CREATE; null when there is none.
    {107,
     "sk_storage_get",
     R::ptr_to_map_value_or_null,
     {A::ptr_to_map, A::host_object, A::ptr_to_map_value_or_null, A::anything},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {108, "sk_storage_delete", R::integer, {A::ptr_to_map, A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    // tc's sk_assign: the socket a lookup returned becomes the packet's.
    {124,
     "sk_assign",
     R::integer,
     {A::ptr_to_ctx, A::host_object, A::anything},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {125, "ktime_get_boot_ns", R::integer, {}, kKeepsPacket},
    // The seq_file an iterator program's context names (a host object) takes the bytes.
    {127,
     "seq_write",
     R::integer,
     {A::host_object, A::ptr_to_readable_mem, A::const_size_or_zero},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {130,
     "ringbuf_output",
     R::integer,
     {A::ptr_to_map, A::ptr_to_readable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket},
    {131,
     "ringbuf_reserve",
     R::ptr_to_alloc_mem_or_null,
     {A::ptr_to_map, A::const_alloc_size_or_zero, A::anything},
     kKeepsPacket},
    {132, "ringbuf_submit", R::void_, {A::ptr_to_alloc_mem, A::anything}, kKeepsPacket},
    {133, "ringbuf_discard", R::void_, {A::ptr_to_alloc_mem, A::anything}, kKeepsPacket},
    {134, "ringbuf_query", R::integer, {A::ptr_to_map, A::anything}, kKeepsPacket},
    {135, "csum_level", R::integer, {A::ptr_to_ctx, A::anything}, kKeepsPacket},
    // The socket casts of tracing programs: the socket they are given, a host object, if it is of their kind; 0
    // otherwise.
    {136, "skc_to_tcp6_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {137, "skc_to_tcp_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {138, "skc_to_tcp_timewait_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {139, "skc_to_tcp_request_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {140, "skc_to_udp6_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    // The kernel stack of the task its first argument names (a host object).
    {141,
     "get_task_stack",
     R::integer,
     {A::host_object, A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {142,
     "load_hdr_opt",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_writable_mem, A::const_size, A::anything},
     kKeepsPacket},
    {143,
     "store_hdr_opt",
     R::integer,
     {A::ptr_to_ctx, A::ptr_to_readable_mem, A::const_size, A::anything},
     kMovesPacket},
    {144, "reserve_hdr_opt", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kKeepsPacket},
    // Like probe_read_user: reads any user address the program names, and clears the buffer when it fails.
    {148,
     "copy_from_user",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket,
     Writes::all,
     kReadsHost},
    {151, "skb_cgroup_classid", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {152,
     "redirect_neigh",
     R::integer,
     {A::anything, A::ptr_to_readable_mem_or_null, A::const_size_or_zero, A::anything},
     kKeepsPacket},
    {155, "redirect_peer", R::integer, {A::anything, A::anything}, kKeepsPacket},
    // The kernel returns a BTF-typed pointer to the task, which its programs may load from; here, as from
    // get_current_task, a number: the task's address, which only probe_read_kernel follows.
    {158, "get_current_task_btf", R::host_object_or_null, {}, kKeepsPacket, Writes::some, kReadsHost},
    {160, "ktime_get_coarse_ns", R::integer, {}, kKeepsPacket},
    {164,
     "for_each_map_elem",
     R::integer,
     {A::ptr_to_map, A::ptr_to_func, A::ptr_to_stack_or_null, A::anything},
     kKeepsPacket},
    {165,
     "snprintf",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::ptr_to_const_str, A::ptr_to_readable_mem_or_null,
      A::const_size_or_zero},
     kKeepsPacket,
     Writes::all},
    {173, "get_func_ip", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {174, "get_attach_cookie", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    // It copies as many whole branch entries as it has, which may be none: nothing is proven written. The kernel
    // checks two arguments only; here the flags in r3 must be a number too, as every plain argument.
    {176,
     "get_branch_snapshot",
     R::integer,
     {A::ptr_to_writable_mem, A::const_size_or_zero, A::anything},
     kKeepsPacket},
    {177,
     "trace_vprintk",
     R::integer,
     {A::ptr_to_readable_mem, A::const_size, A::ptr_to_readable_mem_or_null, A::const_size_or_zero},
     kKeepsPacket,
     Writes::some,
     kReadsHost},
    {178, "skc_to_unix_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {181, "loop", R::integer, {A::anything, A::ptr_to_func, A::ptr_to_stack_or_null, A::anything}, kKeepsPacket},
    {182, "strncmp", R::integer, {A::ptr_to_readable_mem, A::const_size, A::ptr_to_const_str}, kKeepsPacket},
    {185, "get_func_arg_cnt", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {186, "get_retval", R::integer, {}, kKeepsPacket},
    {187, "set_retval", R::integer, {A::anything}, kKeepsPacket},
    {188, "xdp_get_buff_len", R::integer, {A::ptr_to_ctx}, kKeepsPacket},
    {189,
     "xdp_load_bytes",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_writable_mem, A::const_size},
     kKeepsPacket,
     Writes::all},
    {190,
     "xdp_store_bytes",
     R::integer,
     {A::ptr_to_ctx, A::anything, A::ptr_to_readable_mem, A::const_size},
     kKeepsPacket},
    {192, "skb_set_tstamp", R::integer, {A::ptr_to_ctx, A::anything, A::anything}, kKeepsPacket},
    {195,
     "map_lookup_percpu_elem",
     R::ptr_to_map_value_or_null,
     {A::ptr_to_map, A::ptr_to_map_key, A::anything},
     kKeepsPacket},
    {196, "skc_to_mptcp_sock", R::host_object_or_null, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost},
    {208, "ktime_get_tai_ns", R::integer, {}, kKeepsPacket},
};

// Helper sets, after the *_func_proto() functions of Linux 6.18 (net/core/filter.c, kernel/trace/bpf_trace.c,
// kernel/bpf/helpers.c, kernel/bpf/cgroup.c, kernel/bpf/bpf_lsm.c). A helper the kernel grants only to privileged
// loaders (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN), only under a GPL license or only for some attach types of a program
// type counts as available to the type. Helpers whose arguments or results need kinds embpf lacks (sockets and other
// BTF-typed pointers, dynptrs, timers, kptrs, fixed-size memory, callbacks with dynptr arguments) have no
// row and are in no set.

// bpf_base_func_proto(): without privileges, then with CAP_BPF (jiffies64 ... current_task_under_cgroup), then with
// CAP_PERFMON (trace_printk ...). Its get_cgroup_classid takes no argument, unlike tc's (which takes the context):
// one id has one prototype here, so only tc lists it.
constexpr std::uint32_t kBase[] = {1,   2,   3,   87,  88,  89,  195, 7,   8,   42,  12,  5,   125, 208, 130, 131,
                                   132, 133, 134, 182, 14,  120, 15,  118, 164, 181, 80,  123, 37,  6,   35,  16,
                                   112, 113, 114, 115, 148, 165, 177, 55,  22,  109, 117, 176, 93,  94};
// bpf_sk_base_func_proto(): the base, and ktime_get_coarse_ns (its skc_to_* casts return sockets).
constexpr std::uint32_t kSkBase[] = {160};
// bpf_tracing_func_proto(), shared by kprobe, tracepoint, perf_event, raw_tracepoint and (through them) tracing and
// lsm: the base, the compat probe_read and probe_read_str, get_func_ip, get_current_task_btf, get_task_stack.
// (probe_write_user, for CAP_SYS_ADMIN, writes any user address the program names: it has no row.)
constexpr std::uint32_t kTracing[] = {8, 4, 45, 173, 158, 141};
// kprobe_prog_func_proto() (override_return needs CONFIG_BPF_KPROBE_OVERRIDE).
constexpr std::uint32_t kKprobe[] = {25, 27, 67, 58, 173, 174};
// tp_prog_func_proto() and raw_tp_prog_func_proto().
constexpr std::uint32_t kTracepoint[] = {25, 27, 67, 174};
// pe_prog_func_proto() (read_branch_records takes writable memory or null, a kind embpf lacks).
constexpr std::uint32_t kPerfEvent[] = {25, 27, 67, 56, 174};
// tracing_prog_func_proto(): raw_tp_prog_func_proto(), get_func_arg_cnt, get_attach_cookie, skb_output, the socket
// casts and an iterator's seq_write (its other helpers take or return BTF-typed pointers embpf does not type, or
// fixed-size memory).
constexpr std::uint32_t kTracingProgram[] = {185, 174, 111, 136, 137, 138, 139, 140, 178, 196, 127, 107, 108};
// bpf_lsm_func_proto(): tracing_prog_func_proto(), get_attach_cookie, and for BPF_LSM_CGROUP the cgroup hooks'
// get_retval and set_retval (cgroup_common_func_proto()).
constexpr std::uint32_t kLsm[] = {174, 186, 187, 107, 108};
// sk_filter_func_proto().
constexpr std::uint32_t kSocketFilter[] = {26, 68, 46, 122, 47, 25};
// tc_cls_act_func_proto().
constexpr std::uint32_t kTc[] = {9,  26,  68, 39, 28, 40,  135, 10,  11,  13,  17, 18, 19, 31, 32, 50,
                                 38, 43,  20, 21, 29, 30,  23,  152, 155, 24,  34, 41, 48, 25, 8,  33,
                                 46, 122, 47, 69, 66, 151, 79,  83,  97,  192, 84, 85, 86, 99, 124};
// xdp_func_proto().
constexpr std::uint32_t kXdp[] = {25, 8, 28, 44, 54, 23, 51, 65, 188, 189, 190, 69};
// cg_skb_func_proto(), then sk_filter_func_proto() (kSocketFilter). cgroup_common_func_proto() refuses get_retval and
// set_retval to the ingress and egress hooks.
constexpr std::uint32_t kCgroupSkb[] = {25, 79, 83, 97, 107, 108, 81};
// sk_skb_func_proto().
constexpr std::uint32_t kSkSkb[] = {9, 26, 39, 38, 43, 50, 46, 47, 52, 72, 25};
// sk_msg_func_proto().
constexpr std::uint32_t kSkMsg[] = {60, 71, 61, 62, 63, 90, 91, 25, 122, 107, 108};
// sock_ops_func_proto() (cgroup_common_func_proto() refuses get_retval and set_retval to sock_ops).
constexpr std::uint32_t kSockOps[] = {49, 57, 59, 53, 70, 46, 25, 122, 142, 143, 144, 107, 108, 81};
// sock_filter_func_proto(), the cgroup/sock programs: cgroup_common_func_proto(), its own helpers, then the base (not
// the sk base, but it lists ktime_get_coarse_ns itself).
constexpr std::uint32_t kCgroupSock[] = {186, 187, 46, 122, 25, 160, 81};
// sk_lookup_func_proto(): perf_event_output, then bpf_sk_base_func_proto() (its sk_assign and sk_release take
// sockets).
constexpr std::uint32_t kSkLookup[] = {25};
// sock_addr_func_proto(): bind for the connect hooks; get_retval and set_retval for the bind, connect and sendmsg
// hooks (cgroup_common_func_proto()).
constexpr std::uint32_t kCgroupSockAddr[] = {186, 187, 64, 46, 122, 25, 49, 57, 107, 108, 81};

// lwt_out_func_proto(), then bpf_sk_base_func_proto(); lwt_in_func_proto() adds lwt_push_encap,
// lwt_seg6local_func_proto() the seg6 helpers, lwt_xmit_func_proto() its own and lwt_push_encap.
constexpr std::uint32_t kLwtOut[] = {26, 39, 28, 17, 24, 34, 25, 8, 33};
constexpr std::uint32_t kLwtIn[] = {73};
constexpr std::uint32_t kLwtSeg6Local[] = {74, 76, 75};
constexpr std::uint32_t kLwtXmit[] = {20, 21, 29, 30, 23, 13, 38, 43, 9, 40, 135, 10, 11, 41, 73};

std::vector<std::uint32_t> helper_set(std::initializer_list<std::span<const std::uint32_t>> groups) {
    std::vector<std::uint32_t> ids;
    for (const std::span<const std::uint32_t> group : groups) {
        ids.insert(ids.end(), group.begin(), group.end());
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

struct FieldRow {
    std::uint32_t offset;
    std::uint32_t size;
    std::string_view name;
    FieldKind kind;
};

constexpr FieldKind kScalar = FieldKind::scalar;

// struct __sk_buff (192 bytes). flow_keys (144) and sk (168) are left out, see the top of the file.
constexpr FieldRow kSkBuffFields[] = {
    {0, 4, "len", kScalar},
    {4, 4, "pkt_type", kScalar},
    {8, 4, "mark", kScalar},
    {12, 4, "queue_mapping", kScalar},
    {16, 4, "protocol", kScalar},
    {20, 4, "vlan_present", kScalar},
    {24, 4, "vlan_tci", kScalar},
    {28, 4, "vlan_proto", kScalar},
    {32, 4, "priority", kScalar},
    {36, 4, "ingress_ifindex", kScalar},
    {40, 4, "ifindex", kScalar},
    {44, 4, "tc_index", kScalar},
    {48, 20, "cb", kScalar},
    {68, 4, "hash", kScalar},
    {72, 4, "tc_classid", kScalar},
    {76, 4, "data", FieldKind::packet_start},
    {80, 4, "data_end", FieldKind::packet_end},
    {84, 4, "napi_id", kScalar},
    {88, 4, "family", kScalar},
    {92, 4, "remote_ip4", kScalar},
    {96, 4, "local_ip4", kScalar},
    {100, 16, "remote_ip6", kScalar},
    {116, 16, "local_ip6", kScalar},
    {132, 4, "remote_port", kScalar},
    {136, 4, "local_port", kScalar},
    {140, 4, "data_meta", FieldKind::packet_meta},
    {152, 8, "tstamp", kScalar},
    {160, 4, "wire_len", kScalar},
    {164, 4, "gso_segs", kScalar},
    {176, 4, "gso_size", kScalar},
    {180, 1, "tstamp_type", kScalar},
    {184, 8, "hwtstamp", kScalar},
};

using Names = std::initializer_list<std::string_view>;

bool contains(Names names, std::string_view name) { return std::find(names.begin(), names.end(), name) != names.end(); }

// A context from a field table: `hidden` fields are left out, `writable` ones may be stored to, the rest is read-only.
template <std::size_t N>
ContextDescriptor context_of(std::uint32_t size, std::uint8_t pointer_width, const FieldRow (&rows)[N], Names hidden,
                             Names writable) {
    ContextDescriptor ctx;
    ctx.size = size;
    ctx.pointer_width = pointer_width;
    for (const FieldRow& row : rows) {
        if (contains(hidden, row.name)) {
            continue;
        }
        const auto offset = static_cast<std::int32_t>(row.offset);
        switch (row.kind) {
        case FieldKind::packet_start: ctx.data = offset; break;
        case FieldKind::packet_end: ctx.data_end = offset; break;
        case FieldKind::packet_meta: ctx.meta = offset; break;
        case FieldKind::scalar:
        case FieldKind::host_addresses:
        case FieldKind::memory: break;
        }
        ctx.fields.push_back(
            ContextField{row.offset, row.size, row.kind, true, contains(writable, row.name), std::string(row.name)});
    }
    return ctx;
}

constexpr std::uint32_t kSkBuffSize = 192;

// sk_filter_is_valid_access(): no direct packet access, only cb[] is writable.
// The packet's data and data_end are there, for the legacy packet loads (LD_ABS/LD_IND) and the entry checks, but a
// socket filter may not read them: no direct packet access.
ContextDescriptor socket_filter_context() {
    ContextDescriptor ctx =
        context_of(kSkBuffSize, 4, kSkBuffFields,
                   {"tc_classid", "data_meta", "family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6",
                    "remote_port", "local_port", "tstamp", "wire_len", "hwtstamp", "tstamp_type"},
                   {"cb"});
    for (ContextField& field : ctx.fields) {
        if (field.kind == FieldKind::packet_start || field.kind == FieldKind::packet_end) {
            field.readable = false;
        }
    }
    return ctx;
}

// tc_cls_act_is_valid_access().
ContextDescriptor tc_context() {
    return context_of(kSkBuffSize, 4, kSkBuffFields,
                      {"family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port", "local_port"},
                      {"mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping"});
}

// lwt_is_valid_access(): mark, priority and cb[] writable; no socket fields, tc_classid, data_meta, tstamp, wire_len
// or hwtstamp.
// The packet is read-only (may_access_direct_pkt_data()) but to lwt_xmit.
ContextDescriptor lwt_context(bool read_only_data) {
    ContextDescriptor ctx =
        context_of(kSkBuffSize, 4, kSkBuffFields,
                   {"tc_classid", "family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port",
                    "local_port", "data_meta", "tstamp", "wire_len", "hwtstamp", "tstamp_type"},
                   {"mark", "priority", "cb"});
    ctx.read_only_data = read_only_data;
    return ctx;
}

// cg_skb_is_valid_access() for a privileged loader; the packet is read-only (may_access_direct_pkt_data()).
ContextDescriptor cgroup_skb_context() {
    ContextDescriptor ctx =
        context_of(kSkBuffSize, 4, kSkBuffFields, {"tc_classid", "data_meta", "wire_len", "tstamp_type"},
                   {"mark", "priority", "cb", "tstamp"});
    ctx.read_only_data = true;
    return ctx;
}

// sk_skb_is_valid_access().
ContextDescriptor sk_skb_context() {
    return context_of(kSkBuffSize, 4, kSkBuffFields,
                      {"tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "mark", "tstamp_type"},
                      {"tc_index", "priority"});
}

// struct xdp_md: 32-bit fields the kernel rewrites into pointer loads; nothing is writable.
constexpr FieldRow kXdpMdFields[] = {
    {0, 4, "data", FieldKind::packet_start},     {4, 4, "data_end", FieldKind::packet_end},
    {8, 4, "data_meta", FieldKind::packet_meta}, {12, 4, "ingress_ifindex", kScalar},
    {16, 4, "rx_queue_index", kScalar},          {20, 4, "egress_ifindex", kScalar},
};

// struct bpf_sock (80 bytes), the context of cgroup/sock programs.
constexpr FieldRow kBpfSockFields[] = {
    {0, 4, "bound_dev_if", kScalar}, {4, 4, "family", kScalar},
    {8, 4, "type", kScalar},         {12, 4, "protocol", kScalar},
    {16, 4, "mark", kScalar},        {20, 4, "priority", kScalar},
    {24, 4, "src_ip4", kScalar},     {28, 16, "src_ip6", kScalar},
    {44, 4, "src_port", kScalar},    {48, 2, "dst_port", kScalar},
    {52, 4, "dst_ip4", kScalar},     {56, 16, "dst_ip6", kScalar},
    {72, 4, "state", kScalar},       {76, 4, "rx_queue_mapping", kScalar},
};

// struct bpf_sk_lookup (72 bytes), read-only; sk (and the cookie sharing its slot) at 0 is left out.
constexpr FieldRow kSkLookupFields[] = {
    {8, 4, "family", kScalar},       {12, 4, "protocol", kScalar},    {16, 4, "remote_ip4", kScalar},
    {20, 16, "remote_ip6", kScalar}, {36, 4, "remote_port", kScalar}, {40, 4, "local_ip4", kScalar},
    {44, 16, "local_ip6", kScalar},  {60, 4, "local_port", kScalar},  {64, 4, "ingress_ifindex", kScalar},
};

// struct bpf_sock_addr (72 bytes); sk at 64, the socket, is a host object (what sk_storage_get takes).
constexpr FieldRow kSockAddrFields[] = {
    {0, 4, "user_family", kScalar},   {4, 4, "user_ip4", kScalar},
    {8, 16, "user_ip6", kScalar},     {24, 4, "user_port", kScalar},
    {28, 4, "family", kScalar},       {32, 4, "type", kScalar},
    {36, 4, "protocol", kScalar},     {40, 4, "msg_src_ip4", kScalar},
    {44, 16, "msg_src_ip6", kScalar}, {64, 8, "sk", FieldKind::host_addresses},
};

// struct bpf_sock_ops (216 bytes); skb_data and skb_data_end are 64-bit __bpf_md_ptr slots; sk at 184, the socket
// (or 0 when the hook has no full socket), is a host object.
constexpr FieldRow kSockOpsFields[] = {
    {0, 4, "op", kScalar},
    {4, 16, "args", kScalar}, // union { args[4]; reply; replylong[4]; }
    {20, 4, "family", kScalar},
    {24, 4, "remote_ip4", kScalar},
    {28, 4, "local_ip4", kScalar},
    {32, 16, "remote_ip6", kScalar},
    {48, 16, "local_ip6", kScalar},
    {64, 4, "remote_port", kScalar},
    {68, 4, "local_port", kScalar},
    {72, 4, "is_fullsock", kScalar},
    {76, 4, "snd_cwnd", kScalar},
    {80, 4, "srtt_us", kScalar},
    {84, 4, "bpf_sock_ops_cb_flags", kScalar},
    {88, 4, "state", kScalar},
    {92, 4, "rtt_min", kScalar},
    {96, 4, "snd_ssthresh", kScalar},
    {100, 4, "rcv_nxt", kScalar},
    {104, 4, "snd_nxt", kScalar},
    {108, 4, "snd_una", kScalar},
    {112, 4, "mss_cache", kScalar},
    {116, 4, "ecn_flags", kScalar},
    {120, 4, "rate_delivered", kScalar},
    {124, 4, "rate_interval_us", kScalar},
    {128, 4, "packets_out", kScalar},
    {132, 4, "retrans_out", kScalar},
    {136, 4, "total_retrans", kScalar},
    {140, 4, "segs_in", kScalar},
    {144, 4, "data_segs_in", kScalar},
    {148, 4, "segs_out", kScalar},
    {152, 4, "data_segs_out", kScalar},
    {156, 4, "lost_out", kScalar},
    {160, 4, "sacked_out", kScalar},
    {164, 4, "sk_txhash", kScalar},
    {168, 8, "bytes_received", kScalar},
    {176, 8, "bytes_acked", kScalar},
    {184, 8, "sk", FieldKind::host_addresses},
    {192, 8, "skb_data", FieldKind::packet_start},
    {200, 8, "skb_data_end", FieldKind::packet_end},
    {208, 4, "skb_len", kScalar},
    {212, 4, "skb_tcp_flags", kScalar},
};

// struct sk_msg_md (80 bytes): data and data_end are 64-bit __bpf_md_ptr slots; sk at 72 is left out.
constexpr FieldRow kSkMsgFields[] = {
    {0, 8, "data", FieldKind::packet_start},
    {8, 8, "data_end", FieldKind::packet_end},
    {16, 4, "family", kScalar},
    {20, 4, "remote_ip4", kScalar},
    {24, 4, "local_ip4", kScalar},
    {28, 16, "remote_ip6", kScalar},
    {44, 16, "local_ip6", kScalar},
    {60, 4, "remote_port", kScalar},
    {64, 4, "local_port", kScalar},
    {68, 4, "size", kScalar},
};

// struct pt_regs of x86-64 (168 bytes), with the register names of the uapi asm/ptrace.h.
constexpr FieldRow kPtRegsFields[] = {
    {0, 8, "r15", kScalar},   {8, 8, "r14", kScalar},   {16, 8, "r13", kScalar},     {24, 8, "r12", kScalar},
    {32, 8, "rbp", kScalar},  {40, 8, "rbx", kScalar},  {48, 8, "r11", kScalar},     {56, 8, "r10", kScalar},
    {64, 8, "r9", kScalar},   {72, 8, "r8", kScalar},   {80, 8, "rax", kScalar},     {88, 8, "rcx", kScalar},
    {96, 8, "rdx", kScalar},  {104, 8, "rsi", kScalar}, {112, 8, "rdi", kScalar},    {120, 8, "orig_rax", kScalar},
    {128, 8, "rip", kScalar}, {136, 8, "cs", kScalar},  {144, 8, "eflags", kScalar}, {152, 8, "rsp", kScalar},
    {160, 8, "ss", kScalar},
};
constexpr std::uint32_t kPtRegsSize = 168;

// struct bpf_perf_event_data: the registers, then sample_period and addr.
ContextDescriptor perf_event_context() {
    ContextDescriptor ctx = context_of(kPtRegsSize + 16, 8, kPtRegsFields, {}, {});
    ctx.fields.push_back(ContextField{kPtRegsSize, 8, kScalar, true, false, "sample_period"});
    ctx.fields.push_back(ContextField{kPtRegsSize + 8, 8, kScalar, true, false, "addr"});
    return ctx;
}

// A tracepoint's record: PERF_MAX_TRACE_SIZE bytes, the 8 bytes of common fields not readable.
ContextDescriptor tracepoint_context() {
    ContextDescriptor ctx;
    ctx.size = 2048;
    ctx.fields.push_back(ContextField{8, 2040, kScalar, true, false, "record"});
    return ctx;
}

// raw_tracepoint, fentry/fexit/..., lsm: an array of MAX_BPF_FUNC_ARGS (12) u64 arguments, read-only. A BTF-typed
// hook's (fentry, tp_btf, lsm, iter) pointer arguments are objects the program reads directly (host_addresses); a raw
// tracepoint's are numbers that only probe_read follows, as in the kernel.
ContextDescriptor u64_args_context(FieldKind kind = kScalar) {
    ContextDescriptor ctx;
    ctx.size = 12 * 8;
    ctx.fields.push_back(ContextField{0, 12 * 8, kind, true, false, "args"});
    return ctx;
}

constexpr std::int64_t kAny = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kAnyMax = std::numeric_limits<std::int64_t>::max();

ProgramType type(std::string_view name, std::uint32_t platform_id, std::vector<std::string> prefixes,
                 ContextDescriptor context, std::vector<std::uint32_t> helpers, std::int64_t return_min,
                 std::int64_t return_max, std::string_view meaning) {
    ProgramType t;
    t.name = std::string(name);
    t.section_prefixes = std::move(prefixes);
    t.context = std::move(context);
    t.helpers = std::move(helpers);
    t.return_min = return_min;
    t.return_max = return_max;
    t.return_meaning = std::string(meaning);
    t.platform_id = platform_id;
    return t;
}

ProgramType lenient(ProgramType t, std::int64_t read_as) {
    t.out_of_range_return = read_as;
    return t;
}

void require(Result<void> result) {
    if (!result) {
        // Only a wrong built-in table gets here; the platform tests catch it before anyone else can.
        std::fprintf(stderr, "embpf: invalid built-in linux platform: %s\n", result.error().message.c_str());
        std::abort();
    }
}

std::vector<MapType> map_types() {
    return {
        {1, "hash", MapKind::hash},
        {2, "array", MapKind::array},
        {3, "prog_array", MapKind::prog_array},
        {4, "perf_event_array", MapKind::perf_event_array},
        {5, "percpu_hash", MapKind::percpu_hash},
        {6, "percpu_array", MapKind::percpu_array},
        {7, "stack_trace", MapKind::stack_trace},
        {8, "cgroup_array", MapKind::cgroup_array},
        {9, "lru_hash", MapKind::lru_hash},
        {10, "lru_percpu_hash", MapKind::lru_percpu_hash},
        {11, "lpm_trie", MapKind::lpm_trie},
        {12, "array_of_maps", MapKind::array_of_maps},
        {13, "hash_of_maps", MapKind::hash_of_maps},
        {14, "devmap", MapKind::devmap},
        {15, "sockmap", MapKind::sockmap},
        {16, "cpumap", MapKind::cpumap},
        {17, "xskmap", MapKind::xskmap},
        {18, "sockhash", MapKind::sockhash},
        {19, "cgroup_storage", MapKind::cgroup_storage},
        {20, "reuseport_sockarray", MapKind::reuseport_sockarray},
        {21, "percpu_cgroup_storage", MapKind::percpu_cgroup_storage},
        {22, "queue", MapKind::queue},
        {23, "stack", MapKind::stack},
        {24, "sk_storage", MapKind::sk_storage},
        {25, "devmap_hash", MapKind::devmap_hash},
        {26, "struct_ops", std::nullopt},
        {27, "ringbuf", MapKind::ringbuf},
        {28, "inode_storage", MapKind::inode_storage},
        {29, "task_storage", MapKind::task_storage},
        {30, "bloom_filter", MapKind::bloom_filter},
        {31, "user_ringbuf", std::nullopt},
        {32, "cgrp_storage", std::nullopt},
        {33, "arena", std::nullopt},
    };
}

Platform build() {
    Platform p("linux", map_types());
    for (const HelperRow& row : kHelpers) {
        require(p.add_helper(make(row)));
    }
    // Program type numbers are enum bpf_prog_type; section prefixes follow libbpf's section table.
    const auto add = [&p](ProgramType t) { require(p.add_program_type(std::move(t))); };
    add(type("socket_filter", 1, {"socket"}, socket_filter_context(), helper_set({kBase, kSkBase, kSocketFilter}), kAny,
             kAnyMax, "the number of bytes of the packet to keep; 0 drops it"));
    add(type("kprobe", 2, {"kprobe", "kretprobe", "uprobe", "uretprobe", "ksyscall", "kretsyscall", "usdt"},
             context_of(kPtRegsSize, 8, kPtRegsFields, {}, {}), helper_set({kBase, kTracing, kKprobe}), kAny, kAnyMax,
             "ignored"));
    add(type("sched_cls", 3, {"tc", "classifier"}, tc_context(), helper_set({kBase, kSkBase, kTc}), kAny, kAnyMax,
             "TC_ACT_UNSPEC=-1, TC_ACT_OK=0, TC_ACT_SHOT=2, TC_ACT_REDIRECT=7, ..."));
    add(type("sched_act", 4, {"action"}, tc_context(), helper_set({kBase, kSkBase, kTc}), kAny, kAnyMax,
             "TC_ACT_UNSPEC=-1, TC_ACT_OK=0, TC_ACT_SHOT=2, TC_ACT_REDIRECT=7, ..."));
    add(type("tracepoint", 5, {"tracepoint/", "tp/"}, tracepoint_context(), helper_set({kBase, kTracing, kTracepoint}),
             kAny, kAnyMax, "ignored"));
    // XDP, sk_skb and sk_msg do not refuse a program for its return value: the kernel reads an unknown XDP action as
    // XDP_ABORTED and an unknown verdict as SK_DROP.
    add(lenient(type("xdp", 6, {"xdp"}, context_of(24, 4, kXdpMdFields, {}, {}), helper_set({kBase, kSkBase, kXdp}), 0,
                     4, "XDP_ABORTED=0, XDP_DROP=1, XDP_PASS=2, XDP_TX=3, XDP_REDIRECT=4"),
                0));
    add(type("perf_event", 7, {"perf_event"}, perf_event_context(), helper_set({kBase, kTracing, kPerfEvent}), kAny,
             kAnyMax, "ignored"));
    add(type("cgroup_skb", 8, {"cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb"}, cgroup_skb_context(),
             helper_set({kBase, kSkBase, kSocketFilter, kCgroupSkb}), 0, 3,
             "bit 0: 1 allows, 0 drops; egress programs may set bit 1 to signal congestion"));
    add(type("cgroup_sock", 9,
             {"cgroup/sock_create", "cgroup/sock_release", "cgroup/post_bind4", "cgroup/post_bind6", "cgroup/sock"},
             context_of(80, 8, kBpfSockFields, {}, {"bound_dev_if", "mark", "priority"}),
             helper_set({kBase, kCgroupSock}), 0, 1, "1 allows, 0 rejects"));
    add(type("lwt_in", 10, {"lwt_in"}, lwt_context(true), helper_set({kBase, kSkBase, kLwtOut, kLwtIn}), kAny, kAnyMax,
             "BPF_OK=0, BPF_DROP=2, BPF_LWT_REROUTE=128"));
    add(type("lwt_out", 11, {"lwt_out"}, lwt_context(true), helper_set({kBase, kSkBase, kLwtOut}), kAny, kAnyMax,
             "BPF_OK=0, BPF_DROP=2"));
    add(type("lwt_xmit", 12, {"lwt_xmit"}, lwt_context(false), helper_set({kBase, kSkBase, kLwtOut, kLwtXmit}), kAny,
             kAnyMax, "BPF_OK=0, BPF_DROP=2, BPF_REDIRECT=7, BPF_LWT_REROUTE=128"));
    add(type("sock_ops", 13, {"sockops"}, context_of(216, 8, kSockOpsFields, {}, {"args", "sk_txhash"}),
             helper_set({kBase, kSkBase, kSockOps}), 0, 1, "1 on success; the reply goes in args (reply)"));
    add(lenient(type("sk_skb", 14, {"sk_skb"}, sk_skb_context(), helper_set({kBase, kSkBase, kSkSkb}), 0, 1,
                     "SK_DROP=0, SK_PASS=1"),
                0));
    add(lenient(type("sk_msg", 16, {"sk_msg"}, context_of(80, 8, kSkMsgFields, {}, {}),
                     helper_set({kBase, kSkBase, kSkMsg}), 0, 1, "SK_DROP=0, SK_PASS=1"),
                0));
    add(type("raw_tracepoint", 17, {"raw_tracepoint/", "raw_tp/"}, u64_args_context(),
             helper_set({kBase, kTracing, kTracepoint}), kAny, kAnyMax, "ignored"));
    add(type(
        "cgroup_sock_addr", 18,
        {"cgroup/bind4", "cgroup/bind6", "cgroup/connect4", "cgroup/connect6", "cgroup/sendmsg4", "cgroup/sendmsg6",
         "cgroup/recvmsg4", "cgroup/recvmsg6", "cgroup/getpeername4", "cgroup/getpeername6", "cgroup/getsockname4",
         "cgroup/getsockname6"},
        context_of(72, 8, kSockAddrFields, {}, {"user_ip4", "user_ip6", "user_port", "msg_src_ip4", "msg_src_ip6"}),
        helper_set({kBase, kSkBase, kCgroupSockAddr}), 0, 1, "1 allows, 0 rejects"));
    add(type("lwt_seg6local", 19, {"lwt_seg6local"}, lwt_context(true),
             helper_set({kBase, kSkBase, kLwtOut, kLwtSeg6Local}), kAny, kAnyMax,
             "BPF_OK=0, BPF_DROP=2, BPF_REDIRECT=7"));
    add(type("sk_lookup", 30, {"sk_lookup"}, context_of(72, 8, kSkLookupFields, {}, {}),
             helper_set({kBase, kSkBase, kSkLookup}), 0, 1,
             "SK_DROP=0, SK_PASS=1 (with a socket chosen by sk_assign)"));
    ProgramType tracing =
        type("tracing", 26,
             {"fentry/", "fexit/", "fmod_ret/", "fentry.s/", "fexit.s/", "fmod_ret.s/", "tp_btf/", "iter/", "iter.s/"},
             u64_args_context(FieldKind::host_addresses), helper_set({kBase, kTracing, kTracepoint, kTracingProgram}),
             kAny, kAnyMax, "0 for fentry/fexit; fmod_ret's value replaces the traced function's");
    // tracing_prog_func_proto()'s get_socket_cookie takes the socket (a host object), not the context.
    tracing.own_helpers.push_back(
        make({46, "get_socket_cookie", R::integer, {A::host_object}, kKeepsPacket, Writes::some, kReadsHost}));
    add(std::move(tracing));
    // A struct_ops program implements one function of a kernel interface (tcp_congestion_ops, ...): it is called
    // with that function's arguments, as a tracing program is. Every struct_ops' get_func_proto() ends in
    // bpf_base_func_proto(); what each adds takes sockets or other BTF-typed pointers.
    add(type("struct_ops", 27, {"struct_ops/", "struct_ops.s/"}, u64_args_context(FieldKind::host_addresses),
             helper_set({kBase}), kAny, kAnyMax, "the implemented function's return value"));
    add(type("lsm", 29, {"lsm/", "lsm.s/"}, u64_args_context(FieldKind::host_addresses),
             helper_set({kBase, kTracing, kTracepoint, kTracingProgram, kLsm}), -4095, 0,
             "0 allows, a negative errno denies"));
    // `.kconfig` externs: the values libbpf gives of its own, for a 6.18.0 kernel on x86-64 (which has syscall
    // wrappers), and a few a Debian kernel's configuration has.
    p.set_kconfig("LINUX_KERNEL_VERSION", std::to_string((6U << 16) | (18U << 8)));
    p.set_kconfig("LINUX_HAS_BPF_COOKIE", "y");
    p.set_kconfig("LINUX_HAS_SYSCALL_WRAPPER", "y");
    p.set_kconfig("CONFIG_BPF", "y");
    p.set_kconfig("CONFIG_BPF_SYSCALL", "y");
    p.set_kconfig("CONFIG_BPF_JIT", "y");
    p.set_kconfig("CONFIG_HZ", "250");
    p.set_kconfig("CONFIG_DEFAULT_HOSTNAME", "\"(none)\"");
    return p;
}

} // namespace

#pragma push_macro("linux")
#undef linux
const Platform& linux() {
    static const Platform platform = build();
    return platform;
}
#pragma pop_macro("linux")

} // namespace embpf::platform
