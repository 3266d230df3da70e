// The built-in platforms: helper ids and prototypes, section prefixes, map-type numbers and context layouts, the
// Linux ones checked against the installed linux/bpf.h; host extensions; the seed objects built with the plugin
// headers.

// `linux` is a predefined macro in GNU modes: the header must survive it.
#define linux 1
#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/platform.hpp"
#undef linux

#include "embpf/runtime/helpers.hpp"

#include <asm/ptrace.h>
#include <elf.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace platform = embpf::platform;
using platform::ArgKind;
using platform::FieldKind;
using platform::MapKind;
using platform::ReturnKind;

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

std::vector<ArgKind> args_of(const platform::HelperPrototype& helper) {
    return {helper.args.begin(), helper.args.begin() + static_cast<std::ptrdiff_t>(helper.arg_count())};
}

// A field of a C struct as the host compiler lays it out.
struct CField {
    std::string_view name;
    std::size_t offset;
    std::size_t size;
};

#define EMBPF_CFIELD(type, field)                                                                                      \
    CField { #field, offsetof(type, field), sizeof(type::field) }

// Every field of `ctx` must be one of `expected`, at the same offset and with the same size; `hidden` lists the
// struct's fields the descriptor deliberately leaves out. Together they must cover the struct.
void check_layout(const platform::ContextDescriptor& ctx, std::size_t struct_size, const std::vector<CField>& expected,
                  const std::set<std::string_view>& hidden = {}) {
    CHECK(ctx.size == struct_size);
    for (const platform::ContextField& f : ctx.fields) {
        INFO("field ", f.name);
        const auto it =
            std::find_if(expected.begin(), expected.end(), [&](const CField& c) { return c.name == f.name; });
        REQUIRE(it != expected.end());
        CHECK(f.offset == it->offset);
        CHECK(f.size == it->size);
    }
    for (const CField& c : expected) {
        INFO("struct field ", c.name);
        CHECK((ctx.field(c.name) != nullptr) != (hidden.count(c.name) != 0));
    }
}

} // namespace

TEST_SUITE("platform") {

    // ---- Helpers
    // -----------------------------------------------------------------------------------------------------

    TEST_CASE("platform: windows helper ids and names") {
        const platform::Platform& w = platform::windows();
        CHECK(w.name() == "windows");
        // ebpf_helper_id_t of eBPF for Windows' ebpf_structs.h.
        const std::vector<std::pair<std::uint32_t, std::string_view>> expected = {
            {1, "map_lookup_elem"},
            {2, "map_update_elem"},
            {3, "map_delete_elem"},
            {4, "map_lookup_and_delete_elem"},
            {5, "tail_call"},
            {6, "get_prandom_u32"},
            {7, "ktime_get_boot_ns"},
            {8, "get_smp_processor_id"},
            {9, "ktime_get_ns"},
            {10, "csum_diff"},
            {11, "ringbuf_output"},
            {12, "trace_printk2"},
            {13, "trace_printk3"},
            {14, "trace_printk4"},
            {15, "trace_printk5"},
            {16, "map_push_elem"},
            {17, "map_pop_elem"},
            {18, "map_peek_elem"},
            {19, "get_current_pid_tgid"},
            {20, "get_current_logon_id"},
            {21, "is_current_admin"},
            {22, "memcpy_s"},
            {23, "memcmp_s"},
            {24, "memset"},
            {25, "memmove_s"},
            {26, "get_socket_cookie"},
            {27, "strncpy_s"},
            {28, "strncat_s"},
            {29, "strnlen_s"},
            {30, "ktime_get_boot_ms"},
            {31, "ktime_get_ms"},
            {32, "perf_event_output"},
        };
        CHECK(w.helpers().size() == expected.size());
        for (const auto& entry : expected) {
            const auto id = entry.first; // named copies: INFO cannot capture structured bindings
            const auto name = entry.second;
            INFO("helper ", id);
            const platform::HelperPrototype* h = w.helper(id);
            REQUIRE(h != nullptr);
            CHECK(h->id == id);
            CHECK(h->name == name);
            CHECK(w.helper_by_name(name) == h);
        }
        CHECK(w.helper(0) == nullptr);
        CHECK(w.helper(33) == nullptr);
        CHECK(w.helper(0x10000) == nullptr); // hook helpers are not general helpers
    }

    TEST_CASE("platform: what the built-in helpers' implementations cost beyond their arguments") {
        const auto cost = [](const platform::Platform& platform, std::string_view name) {
            const platform::HelperPrototype* helper = platform.helper_by_name(name);
            REQUIRE_MESSAGE(helper != nullptr, name);
            CHECK(helper->cost == platform::builtin_helper_cost(name));
            return helper->cost;
        };
        // Read once per thread: no system call per call.
        CHECK(cost(platform::windows(), "get_current_pid_tgid") == 0);
        CHECK(cost(platform::windows(), "get_current_logon_id") == platform::kSystemCallCost);
        CHECK(cost(platform::windows(), "is_current_admin") == platform::kSystemCallCost);
        CHECK(cost(platform::windows(), "map_update_elem") == 32);
        CHECK(cost(platform::windows(), "ktime_get_ns") == 32);
        CHECK(cost(platform::windows(), "ringbuf_output") == platform::kSystemCallCost);
        CHECK(cost(platform::linux(), "get_current_uid_gid") == 2 * platform::kSystemCallCost);
        // A read from host memory (process_vm_readv) takes some three system calls' time; a string two pages.
        CHECK(cost(platform::linux(), "probe_read_kernel") == 3 * platform::kSystemCallCost);
        CHECK(cost(platform::linux(), "probe_read_kernel_str") == 6 * platform::kSystemCallCost);
        // Up to 12 arguments, each of which may be a string read a page at a time.
        CHECK(cost(platform::linux(), "snprintf") == 73 * platform::kSystemCallCost);
        CHECK(cost(platform::linux(), "get_prandom_u32") == 0);
        CHECK(platform::HelperPrototype{}.cost == 0); // a host helper declares its own
        // An LPM trie's levels and a per-CPU insert's other slots; nothing for other maps.
        CHECK(platform::map_call_bytes(platform::MapKind::lpm_trie, 8, 8, 1, false) ==
              8 * platform::kLpmLevelCost * 33);
        CHECK(platform::map_call_bytes(platform::MapKind::percpu_hash, 4, 64, 16, true) == 64 * 15);
        CHECK(platform::map_call_bytes(platform::MapKind::percpu_hash, 4, 64, 16, false) == 0);
        CHECK(platform::map_call_bytes(platform::MapKind::percpu_array, 4, 64, 16, true) == 0); // updated in place
        CHECK(platform::map_call_bytes(platform::MapKind::hash, 4, 64, 16, true) == 0);
        CHECK(platform::helper_call_cost(0) == 1);
        CHECK(platform::helper_call_cost(1) == 2);
        CHECK(platform::helper_call_cost(8) == 2);
        CHECK(platform::helper_call_cost(9) == 3);
    }

    TEST_CASE("platform: windows prototypes") {
        const platform::Platform& w = platform::windows();
        const auto lookup = w.helper(1);
        REQUIRE(lookup != nullptr);
        CHECK(lookup->ret == ReturnKind::ptr_to_map_value_or_null);
        CHECK(args_of(*lookup) == std::vector{ArgKind::ptr_to_map, ArgKind::ptr_to_map_key});

        const auto ringbuf = w.helper(11);
        REQUIRE(ringbuf != nullptr);
        CHECK(ringbuf->ret == ReturnKind::integer);
        CHECK(args_of(*ringbuf) ==
              std::vector{ArgKind::ptr_to_map, ArgKind::ptr_to_readable_mem, ArgKind::const_size, ArgKind::anything});

        const auto csum = w.helper(10);
        REQUIRE(csum != nullptr);
        CHECK(args_of(*csum) == std::vector{ArgKind::ptr_to_readable_mem_or_null, ArgKind::const_size_or_zero,
                                            ArgKind::ptr_to_readable_mem_or_null, ArgKind::const_size_or_zero,
                                            ArgKind::anything});

        const auto memcpy_s = w.helper(22);
        REQUIRE(memcpy_s != nullptr);
        CHECK(args_of(*memcpy_s) == std::vector{ArgKind::ptr_to_writable_mem, ArgKind::const_size_or_zero,
                                                ArgKind::ptr_to_readable_mem, ArgKind::const_size_or_zero});

        CHECK(w.helper(5)->ret == ReturnKind::no_return_on_success);
        CHECK(args_of(*w.helper(5)) ==
              std::vector{ArgKind::ptr_to_ctx, ArgKind::ptr_to_map_of_programs, ArgKind::anything});
        CHECK(args_of(*w.helper(12)) == std::vector{ArgKind::ptr_to_readable_mem, ArgKind::const_size});
        CHECK(w.helper(15)->arg_count() == 5);
        CHECK(args_of(*w.helper(17)) == std::vector{ArgKind::ptr_to_map, ArgKind::ptr_to_uninit_map_value});
        CHECK(w.helper(6)->arg_count() == 0);
        for (const platform::HelperPrototype& h : w.helpers()) {
            INFO(h.name);
            CHECK(platform::validate(h).has_value());
            CHECK_FALSE(h.reallocates_packet);
        }
    }

    TEST_CASE("platform: windows hook helpers share ids across program types") {
        const platform::Platform& w = platform::windows();
        const platform::ProgramType* xdp = w.program_type("xdp");
        const platform::ProgramType* sock_addr = w.program_type("sock_addr");
        const platform::ProgramType* bind = w.program_type("bind");
        REQUIRE(xdp != nullptr);
        REQUIRE(sock_addr != nullptr);
        REQUIRE(bind != nullptr);

        const platform::HelperPrototype* adjust = w.helper(*xdp, 0x10000);
        REQUIRE(adjust != nullptr);
        CHECK(adjust->name == "xdp_adjust_head");
        CHECK(adjust->reallocates_packet);
        CHECK(args_of(*adjust) == std::vector{ArgKind::ptr_to_ctx, ArgKind::anything});

        const platform::HelperPrototype* pid = w.helper(*sock_addr, 0x10000);
        REQUIRE(pid != nullptr);
        CHECK(pid->name == "sock_addr_get_current_pid_tgid");
        const platform::HelperPrototype* redirect = w.helper(*sock_addr, 0x10001);
        REQUIRE(redirect != nullptr);
        CHECK(args_of(*redirect) ==
              std::vector{ArgKind::ptr_to_ctx, ArgKind::ptr_to_readable_mem, ArgKind::const_size});

        CHECK(w.helper(*bind, 0x10000) == nullptr);
        CHECK(w.helper(*bind, 11) == w.helper(11)); // every hook has the general helpers
        CHECK(w.helper(*xdp, 22) == w.helper(22));
        CHECK(xdp->allows_helper(0x10000));
        CHECK_FALSE(bind->allows_helper(0x10000));
    }

    TEST_CASE("platform: linux helper ids match the installed linux/bpf.h") {
        // The enum bpf_func_id names, from the header's own list. Since Linux 6.2 the list carries the ids itself and
        // no separators.
#ifdef __BPF_FUNC_MAPPER_APPLY
#define EMBPF_HEADER_FN(name, ...) {#name, BPF_FUNC_##name},
#else
#define EMBPF_HEADER_FN(name)                                                                                          \
    { #name, BPF_FUNC_##name }
#endif
        const std::map<std::string_view, std::uint32_t> header_ids = {__BPF_FUNC_MAPPER(EMBPF_HEADER_FN)};
#undef EMBPF_HEADER_FN

        const platform::Platform& l = platform::linux();
        CHECK(l.name() == "linux");
        CHECK(l.helpers().size() >= 40);
        for (const platform::HelperPrototype& h : l.helpers()) {
            INFO("helper ", h.name);
            const auto it = header_ids.find(h.name);
            REQUIRE(it != header_ids.end());
            CHECK(h.id == it->second);
            CHECK(platform::validate(h).has_value());
            CHECK(l.helper(h.id) == &h);
        }

        // The ids the brief of this stage listed, checked one by one against the header.
        const std::vector<std::pair<std::string_view, std::uint32_t>> spot = {
            {"map_lookup_elem", BPF_FUNC_map_lookup_elem},
            {"probe_read", BPF_FUNC_probe_read},
            {"trace_printk", BPF_FUNC_trace_printk},
            {"tail_call", BPF_FUNC_tail_call},
            {"get_current_comm", BPF_FUNC_get_current_comm},
            {"redirect", BPF_FUNC_redirect},
            {"perf_event_output", BPF_FUNC_perf_event_output},
            {"skb_load_bytes", BPF_FUNC_skb_load_bytes},
            {"csum_diff", BPF_FUNC_csum_diff},
            {"xdp_adjust_head", BPF_FUNC_xdp_adjust_head},
            {"probe_read_str", BPF_FUNC_probe_read_str},
            {"get_socket_cookie", BPF_FUNC_get_socket_cookie},
            {"redirect_map", BPF_FUNC_redirect_map},
            {"xdp_adjust_meta", BPF_FUNC_xdp_adjust_meta},
            {"xdp_adjust_tail", BPF_FUNC_xdp_adjust_tail},
            {"map_push_elem", BPF_FUNC_map_push_elem},
            {"probe_read_user", BPF_FUNC_probe_read_user},
            {"probe_read_kernel_str", BPF_FUNC_probe_read_kernel_str},
            {"jiffies64", BPF_FUNC_jiffies64},
            {"ktime_get_boot_ns", BPF_FUNC_ktime_get_boot_ns},
            {"ringbuf_output", BPF_FUNC_ringbuf_output},
            {"ringbuf_reserve", BPF_FUNC_ringbuf_reserve},
            {"ringbuf_submit", BPF_FUNC_ringbuf_submit},
            {"ringbuf_discard", BPF_FUNC_ringbuf_discard},
            {"ringbuf_query", BPF_FUNC_ringbuf_query},
            {"ktime_get_coarse_ns", BPF_FUNC_ktime_get_coarse_ns},
            {"snprintf", BPF_FUNC_snprintf},
            {"loop", BPF_FUNC_loop},
        };
        for (const auto& entry : spot) {
            const auto name = entry.first; // named copies: INFO cannot capture structured bindings
            const auto id = entry.second;
            INFO(name);
            const platform::HelperPrototype* h = l.helper(id);
            REQUIRE(h != nullptr);
            CHECK(h->name == name);
        }
        CHECK(l.helper(130)->name == "ringbuf_output");
        CHECK(l.helper(181)->name == "loop");
    }

    TEST_CASE("platform: linux prototypes") {
        const platform::Platform& l = platform::linux();
        CHECK(args_of(*l.helper(BPF_FUNC_map_lookup_elem)) ==
              std::vector{ArgKind::ptr_to_map, ArgKind::ptr_to_map_key});
        CHECK(args_of(*l.helper(BPF_FUNC_ringbuf_output)) ==
              std::vector{ArgKind::ptr_to_map, ArgKind::ptr_to_readable_mem, ArgKind::const_size_or_zero,
                          ArgKind::anything});
        CHECK(args_of(*l.helper(BPF_FUNC_csum_diff)) ==
              std::vector{ArgKind::ptr_to_readable_mem_or_null, ArgKind::const_size_or_zero,
                          ArgKind::ptr_to_readable_mem_or_null, ArgKind::const_size_or_zero, ArgKind::anything});

        const platform::HelperPrototype* reserve = l.helper(BPF_FUNC_ringbuf_reserve);
        CHECK(reserve->ret == ReturnKind::ptr_to_alloc_mem_or_null);
        CHECK(args_of(*reserve) ==
              std::vector{ArgKind::ptr_to_map, ArgKind::const_alloc_size_or_zero, ArgKind::anything});
        CHECK(l.helper(BPF_FUNC_ringbuf_submit)->ret == ReturnKind::void_);
        CHECK(args_of(*l.helper(BPF_FUNC_ringbuf_submit)) == std::vector{ArgKind::ptr_to_alloc_mem, ArgKind::anything});
        CHECK(args_of(*l.helper(BPF_FUNC_loop)) ==
              std::vector{ArgKind::anything, ArgKind::ptr_to_func, ArgKind::ptr_to_stack_or_null, ArgKind::anything});
        CHECK(l.helper(BPF_FUNC_tail_call)->ret == ReturnKind::no_return_on_success);
        CHECK(args_of(*l.helper(BPF_FUNC_probe_read_kernel)) ==
              std::vector{ArgKind::ptr_to_writable_mem, ArgKind::const_size_or_zero, ArgKind::anything});
        CHECK(args_of(*l.helper(BPF_FUNC_trace_printk)) ==
              std::vector{ArgKind::ptr_to_readable_mem, ArgKind::const_size});
        for (const auto id : {BPF_FUNC_xdp_adjust_head, BPF_FUNC_xdp_adjust_meta, BPF_FUNC_xdp_adjust_tail,
                              BPF_FUNC_skb_store_bytes, BPF_FUNC_l3_csum_replace, BPF_FUNC_skb_pull_data}) {
            INFO(id);
            CHECK(l.helper(static_cast<std::uint32_t>(id))->reallocates_packet);
        }
        CHECK_FALSE(l.helper(BPF_FUNC_skb_load_bytes)->reallocates_packet);
    }

    TEST_CASE("platform: linux helpers per program type") {
        const platform::Platform& l = platform::linux();
        const platform::ProgramType* xdp = l.program_type("xdp");
        const platform::ProgramType* tc = l.program_type("sched_cls");
        const platform::ProgramType* kprobe = l.program_type("kprobe");
        const platform::ProgramType* socket = l.program_type("socket_filter");
        REQUIRE(xdp != nullptr);
        REQUIRE(tc != nullptr);
        REQUIRE(kprobe != nullptr);
        REQUIRE(socket != nullptr);
        CHECK(l.helper(*xdp, BPF_FUNC_xdp_adjust_head) != nullptr);
        CHECK(l.helper(*xdp, BPF_FUNC_skb_store_bytes) == nullptr);
        CHECK(l.helper(*tc, BPF_FUNC_skb_store_bytes) != nullptr);
        CHECK(l.helper(*tc, BPF_FUNC_xdp_adjust_head) == nullptr);
        CHECK(l.helper(*kprobe, BPF_FUNC_probe_read) != nullptr);
        CHECK(l.helper(*xdp, BPF_FUNC_probe_read) == nullptr); // bpf_tracing_func_proto() only
        CHECK(l.helper(*socket, BPF_FUNC_skb_load_bytes) != nullptr);
        CHECK(l.helper(*socket, BPF_FUNC_skb_store_bytes) == nullptr);
        for (const platform::ProgramType* t : {xdp, tc, kprobe, socket}) {
            INFO(t->name);
            CHECK(l.helper(*t, BPF_FUNC_map_lookup_elem) != nullptr);
            CHECK(l.helper(*t, BPF_FUNC_ringbuf_output) != nullptr);
            CHECK(l.helper(*t, 100000) == nullptr);
        }
    }

    TEST_CASE("platform: every allowed helper resolves") {
        for (const platform::Platform* p : {&platform::windows(), &platform::linux()}) {
            for (const platform::ProgramType& t : p->program_types()) {
                INFO(p->name(), " ", t.name);
                CHECK_FALSE(t.helpers.empty());
                for (const std::uint32_t id : t.helpers) {
                    INFO("helper ", id);
                    CHECK(p->helper(t, id) != nullptr);
                }
            }
        }
    }

    // The rows added from the kernel's bpf_func_proto tables: ARG_PTR_TO_UNINIT_MEM is writable memory the helper
    // fills, ARG_PTR_TO_MEM | MEM_RDONLY readable memory, ARG_PTR_TO_MEM | MEM_WRITE memory it reads and writes.
    TEST_CASE("platform: linux prototypes of the tunnel, routing, cgroup and tracing helpers") {
        const platform::Platform& l = platform::linux();
        struct Row {
            std::uint32_t id;
            std::string_view name;
            std::vector<ArgKind> args;
            platform::Writes writes = platform::Writes::some;
            bool reads_writable = false;
            bool reads_host_memory = false;
        };
        const auto ctx = ArgKind::ptr_to_ctx;
        const auto any = ArgKind::anything;
        const auto map = ArgKind::ptr_to_map;
        const auto in = ArgKind::ptr_to_readable_mem;
        const auto out = ArgKind::ptr_to_writable_mem;
        const auto size = ArgKind::const_size;
        const auto size0 = ArgKind::const_size_or_zero;
        const auto all = platform::Writes::all;
        const auto some = platform::Writes::some;
        const std::vector<Row> rows = {
            {BPF_FUNC_skb_get_tunnel_key, "skb_get_tunnel_key", {ctx, out, size, any}, all},
            {BPF_FUNC_skb_set_tunnel_key, "skb_set_tunnel_key", {ctx, in, size, any}},
            {BPF_FUNC_skb_get_tunnel_opt, "skb_get_tunnel_opt", {ctx, out, size}, all},
            {BPF_FUNC_skb_set_tunnel_opt, "skb_set_tunnel_opt", {ctx, in, size}},
            {BPF_FUNC_skb_under_cgroup, "skb_under_cgroup", {ctx, map, any}},
            {BPF_FUNC_current_task_under_cgroup, "current_task_under_cgroup", {map, any}},
            {BPF_FUNC_perf_event_read_value, "perf_event_read_value", {map, any, out, size}, all},
            {BPF_FUNC_perf_prog_read_value, "perf_prog_read_value", {ctx, out, size}, all},
            {BPF_FUNC_override_return, "override_return", {ctx, any}},
            {BPF_FUNC_skb_get_xfrm_state, "skb_get_xfrm_state", {ctx, any, out, size, any}, all},
            {BPF_FUNC_fib_lookup, "fib_lookup", {ctx, out, size, any}, some, true},
            {BPF_FUNC_skb_ancestor_cgroup_id, "skb_ancestor_cgroup_id", {ctx, any}},
            {BPF_FUNC_send_signal_thread, "send_signal_thread", {any}},
            {BPF_FUNC_get_ns_current_pid_tgid, "get_ns_current_pid_tgid", {any, any, out, size}, all},
            {BPF_FUNC_get_netns_cookie, "get_netns_cookie", {ArgKind::ptr_to_ctx_or_null}},
            {BPF_FUNC_get_current_ancestor_cgroup_id, "get_current_ancestor_cgroup_id", {any}},
            {BPF_FUNC_csum_level, "csum_level", {ctx, any}},
            {BPF_FUNC_copy_from_user, "copy_from_user", {out, size0, any}, all, false, true},
            {BPF_FUNC_skb_cgroup_classid, "skb_cgroup_classid", {ctx}},
            {BPF_FUNC_redirect_neigh, "redirect_neigh", {any, ArgKind::ptr_to_readable_mem_or_null, size0, any}},
            {BPF_FUNC_redirect_peer, "redirect_peer", {any, any}},
            {BPF_FUNC_get_func_ip, "get_func_ip", {ctx}},
            {BPF_FUNC_get_attach_cookie, "get_attach_cookie", {ctx}},
            {BPF_FUNC_get_branch_snapshot, "get_branch_snapshot", {out, size0, any}},
            {BPF_FUNC_get_func_arg_cnt, "get_func_arg_cnt", {ctx}},
            {BPF_FUNC_get_retval, "get_retval", {}},
            {BPF_FUNC_set_retval, "set_retval", {any}},
            {BPF_FUNC_skb_set_tstamp, "skb_set_tstamp", {ctx, any, any}},
        };
        for (const Row& row : rows) {
            INFO(row.name);
            const platform::HelperPrototype* h = l.helper(row.id);
            REQUIRE(h != nullptr);
            CHECK(h->name == row.name);
            CHECK(h->ret == ReturnKind::integer);
            CHECK(args_of(*h) == row.args);
            CHECK(h->writes == row.writes);
            CHECK(h->reads_writable == row.reads_writable);
            CHECK(h->reads_host_memory == row.reads_host_memory);
            // None of them is in the kernel's bpf_helper_changes_pkt_data().
            CHECK_FALSE(h->reallocates_packet);
            CHECK(platform::validate(*h).has_value());
        }
    }

    // Helpers whose arguments or results need kinds embpf lacks have no row at all: a looser kind would let a verified
    // program pass the host anything where the kernel expects a socket, a BTF object or a fixed-size buffer.
    TEST_CASE("platform: linux leaves out the helpers it cannot type") {
        const platform::Platform& l = platform::linux();
        for (const auto id : {
                 BPF_FUNC_probe_write_user,    // writes any user address (a pointer passed as a number)
                 BPF_FUNC_sk_fullsock,         // takes a socket
                 BPF_FUNC_tcp_check_syncookie, // takes a socket
                 BPF_FUNC_timer_init,          // timer
                 BPF_FUNC_kptr_xchg,           // kptr
                 BPF_FUNC_dynptr_read,         // dynptr
                 BPF_FUNC_user_ringbuf_drain,  // callback receiving a dynptr
                 BPF_FUNC_strtol,              // fixed-size result buffer
                 BPF_FUNC_check_mtu,           // fixed-size in/out buffer
                 BPF_FUNC_get_func_arg,        // fixed-size result buffer
                 BPF_FUNC_read_branch_records, // writable memory or null
                 BPF_FUNC_d_path,              // takes a BTF-typed path
                 BPF_FUNC_snprintf_btf,        // reads through a pointer inside its argument
             }) {
            INFO("helper ", id);
            CHECK(l.helper(static_cast<std::uint32_t>(id)) == nullptr);
        }
        // get_current_task_btf returns a BTF-typed task in the kernel; here a host object, whose fields a program reads
        // with probe loads and which get_task_stack takes. The socket casts take and return host objects too.
        const platform::HelperPrototype* task = l.helper(BPF_FUNC_get_current_task_btf);
        REQUIRE(task != nullptr);
        CHECK(task->ret == platform::ReturnKind::host_object_or_null);
        const platform::HelperPrototype* stack = l.helper(BPF_FUNC_get_task_stack);
        REQUIRE(stack != nullptr);
        CHECK(stack->args[0] == platform::ArgKind::host_object);
        for (const int id : {BPF_FUNC_skc_to_tcp6_sock, BPF_FUNC_skc_to_tcp_sock, BPF_FUNC_skc_to_tcp_timewait_sock,
                             BPF_FUNC_skc_to_tcp_request_sock, BPF_FUNC_skc_to_udp6_sock, BPF_FUNC_skc_to_unix_sock,
                             BPF_FUNC_skc_to_mptcp_sock}) {
            INFO("helper ", id);
            const platform::HelperPrototype* cast = l.helper(static_cast<std::uint32_t>(id));
            REQUIRE(cast != nullptr);
            CHECK(cast->ret == platform::ReturnKind::host_object_or_null);
            CHECK(cast->args[0] == platform::ArgKind::host_object);
            CHECK(cast->arg_count() == 1);
            CHECK(cast->reads_host_memory);
        }
        // tc's socket lookups return host objects too; sk_release and sk_assign take them.
        for (const int id : {BPF_FUNC_sk_lookup_tcp, BPF_FUNC_sk_lookup_udp, BPF_FUNC_skc_lookup_tcp}) {
            INFO("helper ", id);
            const platform::HelperPrototype* lookup = l.helper(static_cast<std::uint32_t>(id));
            REQUIRE(lookup != nullptr);
            CHECK(lookup->ret == platform::ReturnKind::host_object_or_null);
            CHECK(lookup->args[0] == platform::ArgKind::ptr_to_ctx);
            CHECK(lookup->args[1] == platform::ArgKind::ptr_to_readable_mem);
            CHECK(lookup->reads_host_memory);
            CHECK(l.helper(*l.program_type("sched_cls"), static_cast<std::uint32_t>(id)) != nullptr);
            CHECK(l.helper(*l.program_type("xdp"), static_cast<std::uint32_t>(id)) == nullptr);
        }
        // sk_storage_get: a socket's storage in an sk_storage map, created from a value or null; tracing programs get
        // a socket's cookie from the socket itself.
        const platform::HelperPrototype* storage = l.helper(BPF_FUNC_sk_storage_get);
        REQUIRE(storage != nullptr);
        CHECK(storage->ret == platform::ReturnKind::ptr_to_map_value_or_null);
        CHECK(storage->args[1] == platform::ArgKind::host_object);
        CHECK(storage->args[2] == platform::ArgKind::ptr_to_map_value_or_null);
        CHECK(platform::accepts_map(*storage, platform::MapKind::sk_storage));
        CHECK_FALSE(platform::accepts_map(*storage, platform::MapKind::hash));
        const platform::HelperPrototype* cookie = l.helper(*l.program_type("tracing"), BPF_FUNC_get_socket_cookie);
        REQUIRE(cookie != nullptr);
        CHECK(cookie->args[0] == platform::ArgKind::host_object);
        CHECK(l.helper(*l.program_type("sock_ops"), BPF_FUNC_get_socket_cookie)->args[0] ==
              platform::ArgKind::ptr_to_ctx);
        // get_local_storage: the cgroup's storage, a value of the map it is given that is never null.
        const platform::HelperPrototype* local = l.helper(BPF_FUNC_get_local_storage);
        REQUIRE(local != nullptr);
        CHECK(local->ret == platform::ReturnKind::ptr_to_map_value);
        CHECK(platform::accepts_map(*local, platform::MapKind::cgroup_storage));
        CHECK_FALSE(platform::accepts_map(*local, platform::MapKind::array));
        CHECK(l.helper(*l.program_type("cgroup_skb"), BPF_FUNC_get_local_storage) != nullptr);
        CHECK(l.helper(*l.program_type("xdp"), BPF_FUNC_get_local_storage) == nullptr);
        // Only the helpers that read an address take a pointer the program holds as a plain argument.
        for (const platform::HelperPrototype& h : l.helpers()) {
            INFO(h.name);
            CHECK(h.reads_address == (h.name.starts_with("probe_read") || h.name == "copy_from_user"));
        }
        const platform::HelperPrototype* release = l.helper(BPF_FUNC_sk_release);
        REQUIRE(release != nullptr);
        CHECK(release->args[0] == platform::ArgKind::host_object);
        const platform::HelperPrototype* assign = l.helper(BPF_FUNC_sk_assign);
        REQUIRE(assign != nullptr);
        CHECK(assign->args[1] == platform::ArgKind::host_object);
    }

    // Facts taken from the kernel's *_func_proto() functions (Linux 6.18): what each type may call, including what it
    // inherits from bpf_base_func_proto(), bpf_sk_base_func_proto() and bpf_tracing_func_proto().
    TEST_CASE("platform: linux helpers per program type follow the kernel's func_proto") {
        const platform::Platform& l = platform::linux();
        const auto allows = [&l](std::string_view type, int id) {
            const platform::ProgramType* t = l.program_type(type);
            REQUIRE(t != nullptr);
            return l.helper(*t, static_cast<std::uint32_t>(id)) != nullptr;
        };
        struct Fact {
            std::string_view type;
            int id;
            bool allowed;
        };
        const std::vector<Fact> facts = {
            // tc_cls_act_func_proto()
            {"sched_cls", BPF_FUNC_skb_set_tunnel_key, true},
            {"sched_cls", BPF_FUNC_skb_get_tunnel_key, true},
            {"sched_cls", BPF_FUNC_skb_set_tunnel_opt, true},
            {"sched_cls", BPF_FUNC_fib_lookup, true},
            {"sched_cls", BPF_FUNC_redirect_neigh, true},
            {"sched_cls", BPF_FUNC_redirect_peer, true},
            {"sched_cls", BPF_FUNC_csum_level, true},
            {"sched_cls", BPF_FUNC_skb_under_cgroup, true},
            {"sched_cls", BPF_FUNC_skb_get_xfrm_state, true},
            {"sched_cls", BPF_FUNC_skb_cgroup_classid, true},
            {"sched_cls", BPF_FUNC_skb_ancestor_cgroup_id, true},
            {"sched_cls", BPF_FUNC_skb_set_tstamp, true},
            {"sched_cls", BPF_FUNC_get_netns_cookie, true},
            {"sched_cls", BPF_FUNC_get_cgroup_classid, true},
            {"sched_cls", BPF_FUNC_ktime_get_coarse_ns, true}, // bpf_sk_base_func_proto()
            {"sched_cls", BPF_FUNC_xdp_adjust_head, false},
            {"sched_cls", BPF_FUNC_msg_push_data, false},
            {"sched_cls", BPF_FUNC_probe_read, false},
            {"sched_cls", BPF_FUNC_get_func_ip, false},
            {"sched_cls", BPF_FUNC_get_retval, false},
            // bpf_tracing_func_proto(): get_current_task_btf and get_task_stack, on host objects
            {"kprobe", BPF_FUNC_get_task_stack, true},
            {"tracing", BPF_FUNC_get_task_stack, true},
            {"sched_cls", BPF_FUNC_get_task_stack, false},
            // tracing_prog_func_proto(): skb_output and the socket casts
            {"tracing", BPF_FUNC_skb_output, true},
            {"tracing", BPF_FUNC_skc_to_tcp_sock, true},
            {"lsm", BPF_FUNC_skc_to_unix_sock, true},
            {"kprobe", BPF_FUNC_skc_to_tcp_sock, false},
            {"kprobe", BPF_FUNC_skb_output, false},
            {"tracing", BPF_FUNC_seq_write, true}, // for iterators
            {"kprobe", BPF_FUNC_seq_write, false},
            {"kprobe", BPF_FUNC_get_current_task_btf, true},
            // bpf_base_func_proto(): spin locks, for the maps whose values hold one
            {"sched_cls", BPF_FUNC_spin_lock, true},
            {"cgroup_skb", BPF_FUNC_spin_unlock, true},
            {"tracepoint", BPF_FUNC_get_current_task_btf, true},
            {"tracing", BPF_FUNC_get_current_task_btf, true},
            {"sched_cls", BPF_FUNC_get_current_task_btf, false},
            // xdp_func_proto()
            {"xdp", BPF_FUNC_fib_lookup, true},
            {"xdp", BPF_FUNC_xdp_load_bytes, true},
            {"xdp", BPF_FUNC_ktime_get_coarse_ns, true},
            {"xdp", BPF_FUNC_skb_set_tunnel_key, false},
            {"xdp", BPF_FUNC_skb_load_bytes, false},
            {"xdp", BPF_FUNC_redirect_neigh, false},
            {"xdp", BPF_FUNC_get_netns_cookie, false},
            // sk_filter_func_proto() and cg_skb_func_proto(), which falls back to it
            {"socket_filter", BPF_FUNC_get_netns_cookie, true},
            {"socket_filter", BPF_FUNC_skb_load_bytes_relative, true},
            {"socket_filter", BPF_FUNC_skb_cgroup_id, false},
            {"socket_filter", BPF_FUNC_skb_store_bytes, false},
            {"cgroup_skb", BPF_FUNC_skb_ancestor_cgroup_id, true},
            {"cgroup_skb", BPF_FUNC_skb_ecn_set_ce, true},
            {"cgroup_skb", BPF_FUNC_get_netns_cookie, true},
            {"cgroup_skb", BPF_FUNC_get_socket_uid, true},
            {"cgroup_skb", BPF_FUNC_get_retval, false}, // refused to the ingress and egress hooks
            {"cgroup_skb", BPF_FUNC_skb_store_bytes, false},
            // sock_addr_func_proto()
            {"cgroup_sock_addr", BPF_FUNC_get_netns_cookie, true},
            {"cgroup_sock_addr", BPF_FUNC_bind, true},
            {"cgroup_sock_addr", BPF_FUNC_setsockopt, true},
            {"cgroup_sock_addr", BPF_FUNC_get_retval, true},
            {"cgroup_sock_addr", BPF_FUNC_set_retval, true},
            {"cgroup_sock_addr", BPF_FUNC_ktime_get_coarse_ns, true},
            {"cgroup_sock_addr", BPF_FUNC_skb_load_bytes, false},
            // sock_filter_func_proto(), the cgroup/sock programs
            {"cgroup_sock", BPF_FUNC_get_netns_cookie, true},
            {"cgroup_sock", BPF_FUNC_get_socket_cookie, true},
            {"cgroup_sock", BPF_FUNC_ktime_get_coarse_ns, true},
            {"cgroup_sock", BPF_FUNC_get_retval, true},
            {"cgroup_sock", BPF_FUNC_bind, false},
            {"cgroup_sock", BPF_FUNC_setsockopt, false},
            // sock_ops_func_proto(), sk_msg_func_proto(), sk_skb_func_proto()
            {"sock_ops", BPF_FUNC_get_netns_cookie, true},
            {"sock_ops", BPF_FUNC_load_hdr_opt, true},
            {"sock_ops", BPF_FUNC_get_retval, false},
            {"sk_msg", BPF_FUNC_get_netns_cookie, true},
            {"sk_msg", BPF_FUNC_msg_pop_data, true},
            {"sk_msg", BPF_FUNC_skb_load_bytes, false},
            {"sk_skb", BPF_FUNC_sk_redirect_map, true},
            {"sk_skb", BPF_FUNC_skb_adjust_room, true},
            {"sk_skb", BPF_FUNC_get_netns_cookie, false},
            // kprobe_prog_func_proto() and bpf_tracing_func_proto()
            {"kprobe", BPF_FUNC_get_func_ip, true},
            {"kprobe", BPF_FUNC_get_attach_cookie, true},
            {"kprobe", BPF_FUNC_override_return, true},
            {"kprobe", BPF_FUNC_probe_read, true},
            {"kprobe", BPF_FUNC_probe_read_str, true},
            {"kprobe", BPF_FUNC_get_stack, true},
            {"kprobe", BPF_FUNC_ktime_get_coarse_ns, false}, // only the networking protos give it
            {"kprobe", BPF_FUNC_perf_prog_read_value, false},
            {"kprobe", BPF_FUNC_skb_load_bytes, false},
            // tp_prog_func_proto(), pe_prog_func_proto(), raw_tp_prog_func_proto()
            {"tracepoint", BPF_FUNC_get_attach_cookie, true},
            {"tracepoint", BPF_FUNC_get_func_ip, true},
            {"tracepoint", BPF_FUNC_override_return, false},
            {"perf_event", BPF_FUNC_perf_prog_read_value, true},
            {"perf_event", BPF_FUNC_override_return, false},
            {"raw_tracepoint", BPF_FUNC_get_attach_cookie, true},
            {"raw_tracepoint", BPF_FUNC_get_func_arg_cnt, false},
            {"raw_tracepoint", BPF_FUNC_perf_prog_read_value, false},
            // tracing_prog_func_proto() and bpf_lsm_func_proto()
            {"tracing", BPF_FUNC_get_func_arg_cnt, true},
            {"tracing", BPF_FUNC_override_return, false},
            {"lsm", BPF_FUNC_get_func_arg_cnt, true},
            {"lsm", BPF_FUNC_get_retval, true}, // BPF_LSM_CGROUP
            {"lsm", BPF_FUNC_override_return, false},
        };
        for (const Fact& fact : facts) {
            INFO(fact.type, " helper ", fact.id);
            CHECK(allows(fact.type, fact.id) == fact.allowed);
        }

        // bpf_base_func_proto() is under every type, with its CAP_BPF and CAP_PERFMON parts.
        for (const platform::ProgramType& t : l.program_types()) {
            INFO(t.name);
            for (const auto id : {BPF_FUNC_map_lookup_elem, BPF_FUNC_tail_call, BPF_FUNC_get_ns_current_pid_tgid,
                                  BPF_FUNC_loop, BPF_FUNC_get_current_ancestor_cgroup_id, BPF_FUNC_get_current_comm,
                                  BPF_FUNC_probe_read_kernel, BPF_FUNC_copy_from_user, BPF_FUNC_send_signal_thread}) {
                INFO("helper ", id);
                CHECK(l.helper(t, static_cast<std::uint32_t>(id)) != nullptr);
            }
        }

        // The types that share a proto function share its helpers.
        const auto ids_of = [&l](std::string_view type) {
            const platform::ProgramType* t = l.program_type(type);
            REQUIRE(t != nullptr);
            return std::set<std::uint32_t>(t->helpers.begin(), t->helpers.end());
        };
        const auto includes = [](const std::set<std::uint32_t>& big, const std::set<std::uint32_t>& small) {
            return std::includes(big.begin(), big.end(), small.begin(), small.end());
        };
        CHECK(ids_of("sched_cls") == ids_of("sched_act"));
        CHECK(includes(ids_of("cgroup_skb"), ids_of("socket_filter")));     // cg_skb falls back to sk_filter
        CHECK(includes(ids_of("tracing"), ids_of("raw_tracepoint")));       // tracing falls back to raw_tp
        CHECK(includes(ids_of("lsm"), ids_of("tracing")));                  // lsm falls back to tracing
        CHECK(ids_of("tracepoint") == ids_of("raw_tracepoint"));            // same protos, other contexts
        CHECK_FALSE(includes(ids_of("raw_tracepoint"), ids_of("tracing"))); // get_func_arg_cnt is tracing's own
        // Every helper bpf_tracing_func_proto() gives the kprobe programs, the other tracing types get too.
        std::set<std::uint32_t> common = ids_of("kprobe");
        for (const auto own : {BPF_FUNC_override_return}) {
            common.erase(static_cast<std::uint32_t>(own));
        }
        for (const std::string_view type : {"tracepoint", "perf_event", "raw_tracepoint", "tracing", "lsm"}) {
            INFO(type);
            CHECK(includes(ids_of(type), common));
        }
    }

    // The platform declares more helpers than this build implements. A program that calls one must fail when it is
    // loaded, with a message naming the helper, and its helper table must hold no function for it: the interpreter
    // never gets a null function to call.
    TEST_CASE("platform: a linux helper without an implementation fails at load") {
        const platform::Platform& l = platform::linux();
        const auto call_then_exit = [](std::uint32_t id) {
            std::vector<embpf::isa::Instruction> code(2);
            code[0].opcode = embpf::isa::op::CALL_OP;
            code[0].src = static_cast<std::uint8_t>(embpf::isa::CallSource::helper);
            code[0].imm = static_cast<std::int32_t>(id);
            code[1].opcode = embpf::isa::op::EXIT_OP;
            return code;
        };
        std::size_t unimplemented = 0;
        std::size_t implemented = 0;
        for (const platform::ProgramType& t : l.program_types()) {
            const embpf::exec::HelperTable table = embpf::runtime::helper_table(l, t);
            for (const std::uint32_t id : t.helpers) {
                const platform::HelperPrototype* h = l.helper(t, id);
                REQUIRE(h != nullptr);
                INFO(t.name, " ", h->name);
                const auto checked = embpf::runtime::check_helpers(call_then_exit(id), l, t);
                if (embpf::runtime::find_helper(h->name) == nullptr) {
                    ++unimplemented;
                    CHECK((table.get(id) == nullptr));
                    REQUIRE_FALSE(checked.has_value());
                    CHECK(contains(checked.error().message, h->name));
                    CHECK(contains(checked.error().message, "no implementation"));
                } else {
                    ++implemented;
                    CHECK((table.get(id) != nullptr));
                    CHECK(checked.has_value());
                }
            }
        }
        CHECK(unimplemented > 0);
        CHECK(implemented > 0);
        // fib_lookup and get_netns_cookie are declared and not implemented yet.
        const platform::ProgramType* tc = l.program_type("sched_cls");
        REQUIRE(tc != nullptr);
        for (const auto id : {BPF_FUNC_fib_lookup, BPF_FUNC_get_netns_cookie}) {
            INFO("helper ", id);
            CHECK(l.helper(*tc, static_cast<std::uint32_t>(id)) != nullptr);
            CHECK_FALSE(embpf::runtime::check_helpers(call_then_exit(static_cast<std::uint32_t>(id)), l, *tc));
        }
    }

    // ---- Program types and sections
    // ----------------------------------------------------------------------------------

    TEST_CASE("platform: program type for section") {
        struct Row {
            const platform::Platform* platform;
            std::string_view section;
            std::optional<std::string_view> type;
        };
        const platform::Platform* w = &platform::windows();
        const platform::Platform* l = &platform::linux();
        const Row rows[] = {
            {w, "xdp", "xdp"},
            {w, "xdp/foo", "xdp"},
            {w, "bind", "bind"},
            {w, "bind/bar", "bind"},
            {w, "cgroup/connect4", "sock_addr"},
            {w, "cgroup/recv_accept6", "sock_addr"},
            {w, "sockops", "sock_ops"},
            {w, "socket", std::nullopt},
            {w, "kprobe/sys_open", std::nullopt},
            {w, "", std::nullopt},
            {w, ".text", std::nullopt},
            {l, "socket", "socket_filter"},
            {l, "socket1", "socket_filter"},
            {l, "tc", "sched_cls"},
            {l, "tc/ingress", "sched_cls"},
            {l, "classifier", "sched_cls"},
            {l, "action", "sched_act"},
            {l, "xdp", "xdp"},
            {l, "xdp.frags", "xdp"},
            {l, "xdp/devmap", "xdp"},
            {l, "kprobe/sys_open", "kprobe"},
            {l, "kretprobe/sys_open", "kprobe"},
            {l, "uprobe/lib.so:fn", "kprobe"},
            {l, "tracepoint/syscalls/sys_enter_open", "tracepoint"},
            {l, "tp/syscalls/sys_enter_open", "tracepoint"},
            {l, "tp_btf/sched_switch", "tracing"}, // longer than "tp/"... and not one of its matches
            {l, "raw_tracepoint/sched_switch", "raw_tracepoint"},
            {l, "raw_tp/sched_switch", "raw_tracepoint"},
            {l, "perf_event", "perf_event"},
            {l, "cgroup_skb/ingress", "cgroup_skb"},
            {l, "cgroup_skb/egress", "cgroup_skb"},
            {l, "cgroup/skb", "cgroup_skb"},
            {l, "cgroup/sock", "cgroup_sock"},
            {l, "cgroup/sock_create", "cgroup_sock"}, // the longest prefix wins, both name the same type
            {l, "cgroup/post_bind4", "cgroup_sock"},
            {l, "cgroup/bind4", "cgroup_sock_addr"},
            {l, "cgroup/connect4", "cgroup_sock_addr"},
            {l, "cgroup/sendmsg6", "cgroup_sock_addr"},
            {l, "sockops", "sock_ops"},
            {l, "sk_skb", "sk_skb"},
            {l, "sk_skb/stream_verdict", "sk_skb"},
            {l, "sk_msg", "sk_msg"},
            {l, "lsm/file_open", "lsm"},
            {l, "fentry/do_unlinkat", "tracing"},
            {l, "fexit/do_unlinkat", "tracing"},
            {l, "bind", std::nullopt},
            {l, "license", std::nullopt},
            {l, "maps", std::nullopt},
            {l, ".maps", std::nullopt},
            {l, "tracepoint", std::nullopt}, // needs the category/name after the slash
        };
        for (const Row& row : rows) {
            INFO(row.platform->name(), " section \"", row.section, "\"");
            const platform::ProgramType* t = row.platform->program_type_for_section(row.section);
            if (row.type.has_value()) {
                REQUIRE(t != nullptr);
                CHECK(t->name == *row.type);
            } else {
                CHECK(t == nullptr);
            }
        }
    }

    TEST_CASE("platform: program type numbers and return ranges") {
        const platform::Platform& w = platform::windows();
        const platform::Platform& l = platform::linux();
        CHECK(w.program_type("xdp")->platform_id == 1);
        CHECK(w.program_type("bind")->platform_id == 2);
        CHECK(w.program_type("xdp")->return_min == 1);
        CHECK(w.program_type("xdp")->return_max == 3);
        CHECK(contains(w.program_type("xdp")->return_meaning, "XDP_DROP=2"));
        CHECK(w.program_type("bind")->return_min == 0);
        CHECK(w.program_type("bind")->return_max == 2);
        CHECK(w.program_type_by_id(2) == w.program_type("bind"));

        const std::vector<std::pair<std::string_view, std::uint32_t>> linux_ids = {
            {"socket_filter", BPF_PROG_TYPE_SOCKET_FILTER},
            {"kprobe", BPF_PROG_TYPE_KPROBE},
            {"sched_cls", BPF_PROG_TYPE_SCHED_CLS},
            {"sched_act", BPF_PROG_TYPE_SCHED_ACT},
            {"tracepoint", BPF_PROG_TYPE_TRACEPOINT},
            {"xdp", BPF_PROG_TYPE_XDP},
            {"perf_event", BPF_PROG_TYPE_PERF_EVENT},
            {"cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB},
            {"cgroup_sock", BPF_PROG_TYPE_CGROUP_SOCK},
            {"sock_ops", BPF_PROG_TYPE_SOCK_OPS},
            {"sk_skb", BPF_PROG_TYPE_SK_SKB},
            {"sk_msg", BPF_PROG_TYPE_SK_MSG},
            {"raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT},
            {"cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR},
            {"sk_lookup", BPF_PROG_TYPE_SK_LOOKUP},
            {"tracing", BPF_PROG_TYPE_TRACING},
            {"lsm", BPF_PROG_TYPE_LSM},
            {"lwt_in", BPF_PROG_TYPE_LWT_IN},
            {"lwt_out", BPF_PROG_TYPE_LWT_OUT},
            {"lwt_xmit", BPF_PROG_TYPE_LWT_XMIT},
            {"lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL},
            {"struct_ops", BPF_PROG_TYPE_STRUCT_OPS},
        };
        CHECK(l.program_types().size() == linux_ids.size());
        for (const auto& entry : linux_ids) {
            const auto name = entry.first; // named copies: INFO cannot capture structured bindings
            const auto id = entry.second;
            INFO(name);
            const platform::ProgramType* t = l.program_type(name);
            REQUIRE(t != nullptr);
            CHECK(t->platform_id == id);
            CHECK(l.program_type_by_id(id) == t);
        }
        CHECK(l.program_type("xdp")->return_min == XDP_ABORTED);
        CHECK(l.program_type("xdp")->return_max == XDP_REDIRECT);
        // sk_lookup: SK_DROP or SK_PASS, checked at load as Linux checks it; its context is read-only, without sk.
        const platform::ProgramType* lookup = l.program_type_for_section("sk_lookup/");
        REQUIRE(lookup != nullptr);
        CHECK(lookup->name == "sk_lookup");
        CHECK(lookup->return_min == SK_DROP);
        CHECK(lookup->return_max == SK_PASS);
        CHECK(lookup->context.size == sizeof(struct bpf_sk_lookup));
        CHECK(lookup->context.field_at(offsetof(struct bpf_sk_lookup, local_port), 4) != nullptr);
        CHECK(lookup->context.field_at(offsetof(struct bpf_sk_lookup, local_port), 4)->writable == false);
        CHECK(lookup->context.field_at(0, 8) == nullptr); // the socket
        CHECK(l.helper(*lookup, BPF_FUNC_perf_event_output) != nullptr);
        CHECK(l.helper(*lookup, BPF_FUNC_skb_load_bytes) == nullptr);
        // Light-weight tunnels: the __sk_buff without socket fields; mark, priority and cb writable; lwt_in, xmit
        // and seg6local add their own helpers to lwt_out's.
        for (const std::string_view section : {"lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local"}) {
            INFO(section);
            const platform::ProgramType* lwt = l.program_type_for_section(section);
            REQUIRE(lwt != nullptr);
            CHECK(lwt->name == section);
            CHECK(lwt->context.size == sizeof(struct __sk_buff));
            CHECK(lwt->context.data == offsetof(struct __sk_buff, data));
            CHECK(lwt->context.field_at(offsetof(struct __sk_buff, mark), 4)->writable);
            CHECK_FALSE(lwt->context.field_at(offsetof(struct __sk_buff, len), 4)->writable);
            CHECK(lwt->context.field_at(offsetof(struct __sk_buff, remote_ip4), 4) == nullptr);
            CHECK(lwt->context.field_at(offsetof(struct __sk_buff, tc_classid), 4) == nullptr);
            CHECK(l.helper(*lwt, BPF_FUNC_skb_load_bytes) != nullptr);
            CHECK((l.helper(*lwt, BPF_FUNC_lwt_push_encap) != nullptr) ==
                  (section == "lwt_in" || section == "lwt_xmit"));
            CHECK((l.helper(*lwt, BPF_FUNC_lwt_seg6_action) != nullptr) == (section == "lwt_seg6local"));
            CHECK((l.helper(*lwt, BPF_FUNC_skb_store_bytes) != nullptr) == (section == "lwt_xmit"));
        }
        // struct_ops programs get the implemented function's arguments, as tracing programs do.
        const platform::ProgramType* ops = l.program_type_for_section("struct_ops/test_1");
        REQUIRE(ops != nullptr);
        CHECK(ops->name == "struct_ops");
        CHECK(ops->context == l.program_type("tracing")->context);
        CHECK(l.program_type("nope") == nullptr);
        CHECK(l.program_type_by_id(9999) == nullptr);
    }

    // ---- Map types
    // ---------------------------------------------------------------------------------------------------

    TEST_CASE("platform: windows map type numbers") {
        const platform::Platform& w = platform::windows();
        const std::vector<std::pair<std::uint32_t, MapKind>> expected = {
            {1, MapKind::hash},
            {2, MapKind::array},
            {3, MapKind::prog_array},
            {4, MapKind::percpu_hash},
            {5, MapKind::percpu_array},
            {6, MapKind::hash_of_maps},
            {7, MapKind::array_of_maps},
            {8, MapKind::lru_hash},
            {9, MapKind::lpm_trie},
            {10, MapKind::queue},
            {11, MapKind::lru_percpu_hash},
            {12, MapKind::stack},
            {13, MapKind::ringbuf},
            {14, MapKind::perf_event_array},
        };
        for (const auto& entry : expected) {
            const auto id = entry.first; // named copies: INFO cannot capture structured bindings
            const auto kind = entry.second;
            INFO("map type ", id);
            const auto k = w.map_kind(id);
            REQUIRE(k.has_value());
            CHECK(*k == kind);
            CHECK(w.map_type_id(kind) == id);
            CHECK(w.map_type_name(id) == platform::to_string(kind));
        }
        CHECK(w.map_type_id(MapKind::ringbuf) == 13u);
        const auto unknown = w.map_kind(27);
        REQUIRE_FALSE(unknown.has_value());
        CHECK(unknown.error().kind == embpf::ErrorKind::invalid_input);
        CHECK(contains(unknown.error().message, "27"));
        CHECK(w.map_kind(0).has_value() == false);
        CHECK(w.map_type_name(99) == "unknown(99)");
    }

    TEST_CASE("platform: linux map type numbers match the installed linux/bpf.h") {
        const platform::Platform& l = platform::linux();
        const std::vector<std::pair<std::string_view, std::uint32_t>> header = {
            {"hash", BPF_MAP_TYPE_HASH},
            {"array", BPF_MAP_TYPE_ARRAY},
            {"prog_array", BPF_MAP_TYPE_PROG_ARRAY},
            {"perf_event_array", BPF_MAP_TYPE_PERF_EVENT_ARRAY},
            {"percpu_hash", BPF_MAP_TYPE_PERCPU_HASH},
            {"percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY},
            {"stack_trace", BPF_MAP_TYPE_STACK_TRACE},
            {"cgroup_array", BPF_MAP_TYPE_CGROUP_ARRAY},
            {"lru_hash", BPF_MAP_TYPE_LRU_HASH},
            {"lru_percpu_hash", BPF_MAP_TYPE_LRU_PERCPU_HASH},
            {"lpm_trie", BPF_MAP_TYPE_LPM_TRIE},
            {"array_of_maps", BPF_MAP_TYPE_ARRAY_OF_MAPS},
            {"hash_of_maps", BPF_MAP_TYPE_HASH_OF_MAPS},
            {"devmap", BPF_MAP_TYPE_DEVMAP},
            {"sockmap", BPF_MAP_TYPE_SOCKMAP},
            {"cpumap", BPF_MAP_TYPE_CPUMAP},
            {"xskmap", BPF_MAP_TYPE_XSKMAP},
            {"sockhash", BPF_MAP_TYPE_SOCKHASH},
            {"cgroup_storage", BPF_MAP_TYPE_CGROUP_STORAGE},
            {"reuseport_sockarray", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY},
            {"percpu_cgroup_storage", BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE},
            {"queue", BPF_MAP_TYPE_QUEUE},
            {"stack", BPF_MAP_TYPE_STACK},
            {"sk_storage", BPF_MAP_TYPE_SK_STORAGE},
            {"devmap_hash", BPF_MAP_TYPE_DEVMAP_HASH},
            {"struct_ops", BPF_MAP_TYPE_STRUCT_OPS},
            {"ringbuf", BPF_MAP_TYPE_RINGBUF},
            {"inode_storage", BPF_MAP_TYPE_INODE_STORAGE},
            {"task_storage", BPF_MAP_TYPE_TASK_STORAGE},
            {"bloom_filter", BPF_MAP_TYPE_BLOOM_FILTER},
            {"user_ringbuf", BPF_MAP_TYPE_USER_RINGBUF},
        };
        // Two later types Debian 12's header predates (Linux 6.2 and 6.9), which objects built for newer kernels name.
        CHECK(BPF_MAP_TYPE_USER_RINGBUF == 31);
        CHECK(l.map_type_name(32) == "cgrp_storage");
        CHECK(l.map_type_name(33) == "arena");
        CHECK(l.map_types().size() == header.size() + 2);
        for (const auto& entry : header) {
            const auto name = entry.first; // named copies: INFO cannot capture structured bindings
            const auto id = entry.second;
            INFO(name);
            CHECK(l.map_type_name(id) == name);
            const auto kind = l.map_kind(id);
            const auto type = std::find_if(l.map_types().begin(), l.map_types().end(),
                                           [id](const platform::MapType& m) { return m.id == id; });
            REQUIRE(type != l.map_types().end());
            if (type->kind.has_value()) {
                REQUIRE(kind.has_value());
                CHECK(platform::to_string(*kind) == name);
            } else {
                CHECK_FALSE(kind.has_value());
            }
        }
        // Every kind embpf implements has a Linux number.
        for (const MapKind kind :
             {MapKind::hash, MapKind::array, MapKind::prog_array, MapKind::percpu_hash, MapKind::percpu_array,
              MapKind::hash_of_maps, MapKind::array_of_maps, MapKind::lru_hash, MapKind::lpm_trie, MapKind::queue,
              MapKind::lru_percpu_hash, MapKind::stack, MapKind::ringbuf, MapKind::perf_event_array}) {
            INFO(platform::to_string(kind));
            CHECK(l.map_type_id(kind).has_value());
        }
        CHECK(l.map_type_id(MapKind::ringbuf) == 27u);
        CHECK(*l.map_kind(27) == MapKind::ringbuf);
        CHECK(*l.map_kind(22) == MapKind::queue);
        CHECK(*l.map_kind(4) == MapKind::perf_event_array);

        // Kinds the verifier knows and the runtime does not implement yet.
        for (const auto& [id, kind] :
             {std::pair{BPF_MAP_TYPE_DEVMAP, MapKind::devmap}, std::pair{BPF_MAP_TYPE_SOCKMAP, MapKind::sockmap},
              std::pair{BPF_MAP_TYPE_STACK_TRACE, MapKind::stack_trace},
              std::pair{BPF_MAP_TYPE_CPUMAP, MapKind::cpumap}, std::pair{BPF_MAP_TYPE_XSKMAP, MapKind::xskmap},
              std::pair{BPF_MAP_TYPE_CGROUP_STORAGE, MapKind::cgroup_storage}}) {
            const MapKind expected = kind; // a copy: clang does not let INFO's lambda capture a structured binding
            INFO(platform::to_string(expected));
            REQUIRE(l.map_kind(id).has_value());
            CHECK(*l.map_kind(id) == expected);
            CHECK_FALSE(platform::runtime_implements(expected));
        }
        CHECK(platform::runtime_implements(MapKind::perf_event_array));
        CHECK(*l.map_kind(BPF_MAP_TYPE_BLOOM_FILTER) == MapKind::bloom_filter);
        CHECK(platform::runtime_implements(MapKind::bloom_filter));
        const auto struct_ops = l.map_kind(BPF_MAP_TYPE_STRUCT_OPS);
        REQUIRE_FALSE(struct_ops.has_value());
        CHECK(struct_ops.error().kind == embpf::ErrorKind::unsupported);
        CHECK(contains(struct_ops.error().message, "struct_ops"));
        CHECK(contains(struct_ops.error().message, "linux"));
        const auto unknown = l.map_kind(1000);
        REQUIRE_FALSE(unknown.has_value());
        CHECK(unknown.error().kind == embpf::ErrorKind::invalid_input);
    }

    // ---- Contexts
    // ----------------------------------------------------------------------------------------------------

    TEST_CASE("platform: windows contexts") {
        const platform::Platform& w = platform::windows();
        const platform::ContextDescriptor& xdp = w.program_type("xdp")->context;
        CHECK(xdp.size == 32);
        CHECK(xdp.data == 0);
        CHECK(xdp.data_end == 8);
        CHECK(xdp.meta == 16);
        CHECK(xdp.pointer_width == 8);
        REQUIRE(xdp.field_at(0, 8) != nullptr);
        CHECK(xdp.field_at(0, 8)->kind == FieldKind::packet_start);
        CHECK(xdp.field_at(8, 8)->kind == FieldKind::packet_end);
        CHECK(xdp.field_at(24, 4)->name == "ingress_ifindex");
        CHECK(xdp.field_at(26, 2)->name == "ingress_ifindex"); // a narrower read inside the field
        CHECK(xdp.field_at(28, 4) == nullptr);                 // padding
        CHECK(xdp.field_at(22, 4) == nullptr);                 // straddles two fields
        CHECK(xdp.field_at(24, 0) == nullptr);
        CHECK(xdp.field_at(0xFFFFFFFF, 2) == nullptr);
        CHECK_FALSE(xdp.field("data")->writable);

        const platform::ContextDescriptor& bind = w.program_type("bind")->context;
        CHECK(bind.size == 56);
        CHECK(bind.data == 0);
        CHECK(bind.data_end == 8);
        CHECK(bind.meta == -1);
        CHECK(bind.pointer_width == 8);
        CHECK(bind.field("process_id")->offset == 16);
        CHECK(bind.field("socket_address")->offset == 24);
        CHECK(bind.field("socket_address")->size == 16);
        CHECK(bind.field("socket_address")->writable);
        CHECK(bind.field("socket_address_length")->offset == 40);
        CHECK(bind.field("operation")->offset == 44);
        CHECK(bind.field("protocol")->offset == 48);
        CHECK_FALSE(bind.field("operation")->writable);

        const platform::ContextDescriptor& sock_addr = w.program_type("sock_addr")->context;
        CHECK(sock_addr.data == -1);
        CHECK(sock_addr.field("user_port")->writable);
        CHECK_FALSE(sock_addr.field("protocol")->writable);
    }

    TEST_CASE("platform: linux xdp_md and __sk_buff match the installed linux/bpf.h") {
        const platform::Platform& l = platform::linux();
        const platform::ContextDescriptor& xdp = l.program_type("xdp")->context;
        CHECK(xdp.data == static_cast<std::int32_t>(offsetof(struct xdp_md, data)));
        CHECK(xdp.data_end == static_cast<std::int32_t>(offsetof(struct xdp_md, data_end)));
        CHECK(xdp.meta == static_cast<std::int32_t>(offsetof(struct xdp_md, data_meta)));
        CHECK(xdp.data == 0);
        CHECK(xdp.data_end == 4);
        CHECK(xdp.meta == 8);
        CHECK(xdp.pointer_width == 4);
        CHECK(xdp.pointer_width == sizeof(xdp_md::data));
        check_layout(xdp, sizeof(struct xdp_md),
                     {EMBPF_CFIELD(xdp_md, data), EMBPF_CFIELD(xdp_md, data_end), EMBPF_CFIELD(xdp_md, data_meta),
                      EMBPF_CFIELD(xdp_md, ingress_ifindex), EMBPF_CFIELD(xdp_md, rx_queue_index),
                      EMBPF_CFIELD(xdp_md, egress_ifindex)});
        for (const platform::ContextField& f : xdp.fields) {
            CHECK_FALSE(f.writable);
        }

        const std::vector<CField> sk_buff = {
            EMBPF_CFIELD(__sk_buff, len),         EMBPF_CFIELD(__sk_buff, pkt_type),
            EMBPF_CFIELD(__sk_buff, mark),        EMBPF_CFIELD(__sk_buff, queue_mapping),
            EMBPF_CFIELD(__sk_buff, protocol),    EMBPF_CFIELD(__sk_buff, vlan_present),
            EMBPF_CFIELD(__sk_buff, vlan_tci),    EMBPF_CFIELD(__sk_buff, vlan_proto),
            EMBPF_CFIELD(__sk_buff, priority),    EMBPF_CFIELD(__sk_buff, ingress_ifindex),
            EMBPF_CFIELD(__sk_buff, ifindex),     EMBPF_CFIELD(__sk_buff, tc_index),
            EMBPF_CFIELD(__sk_buff, cb),          EMBPF_CFIELD(__sk_buff, hash),
            EMBPF_CFIELD(__sk_buff, tc_classid),  EMBPF_CFIELD(__sk_buff, data),
            EMBPF_CFIELD(__sk_buff, data_end),    EMBPF_CFIELD(__sk_buff, napi_id),
            EMBPF_CFIELD(__sk_buff, family),      EMBPF_CFIELD(__sk_buff, remote_ip4),
            EMBPF_CFIELD(__sk_buff, local_ip4),   EMBPF_CFIELD(__sk_buff, remote_ip6),
            EMBPF_CFIELD(__sk_buff, local_ip6),   EMBPF_CFIELD(__sk_buff, remote_port),
            EMBPF_CFIELD(__sk_buff, local_port),  EMBPF_CFIELD(__sk_buff, data_meta),
            EMBPF_CFIELD(__sk_buff, flow_keys),   EMBPF_CFIELD(__sk_buff, tstamp),
            EMBPF_CFIELD(__sk_buff, wire_len),    EMBPF_CFIELD(__sk_buff, gso_segs),
            EMBPF_CFIELD(__sk_buff, sk),          EMBPF_CFIELD(__sk_buff, gso_size),
            EMBPF_CFIELD(__sk_buff, tstamp_type), EMBPF_CFIELD(__sk_buff, hwtstamp),
        };
        const std::set<std::string_view> sk_fields = {"family",    "remote_ip4",  "local_ip4", "remote_ip6",
                                                      "local_ip6", "remote_port", "local_port"};

        const platform::ContextDescriptor& tc = l.program_type("sched_cls")->context;
        CHECK(tc.data == 76);
        CHECK(tc.data_end == 80);
        CHECK(tc.meta == 140);
        CHECK(tc.data == static_cast<std::int32_t>(offsetof(struct __sk_buff, data)));
        CHECK(tc.data_end == static_cast<std::int32_t>(offsetof(struct __sk_buff, data_end)));
        CHECK(tc.meta == static_cast<std::int32_t>(offsetof(struct __sk_buff, data_meta)));
        CHECK(tc.pointer_width == 4);
        {
            std::set<std::string_view> hidden = sk_fields;
            hidden.insert({"flow_keys", "sk"});
            check_layout(tc, sizeof(struct __sk_buff), sk_buff, hidden);
        }
        CHECK(tc.field("mark")->writable);
        CHECK(tc.field("cb")->writable);
        CHECK(tc.field_at(static_cast<std::uint32_t>(offsetof(struct __sk_buff, cb[3])), 4)->name == "cb");
        CHECK_FALSE(tc.field("len")->writable);
        CHECK_FALSE(tc.field("data")->writable);
        CHECK(l.program_type("sched_act")->context == tc);

        const platform::ContextDescriptor& socket = l.program_type("socket_filter")->context;
        // The data range is there for LD_ABS/LD_IND and the entry checks; the program may not read its fields.
        CHECK(socket.data == static_cast<std::int32_t>(offsetof(struct __sk_buff, data)));
        CHECK(socket.data_end == static_cast<std::int32_t>(offsetof(struct __sk_buff, data_end)));
        CHECK(socket.meta == -1);
        REQUIRE(socket.field("data") != nullptr);
        CHECK_FALSE(socket.field("data")->readable);
        CHECK_FALSE(socket.field("data_end")->readable);
        CHECK(socket.field("data_meta") == nullptr);
        CHECK(socket.field("cb")->writable);
        CHECK_FALSE(socket.field("mark")->writable);

        const platform::ContextDescriptor& cgroup_skb = l.program_type("cgroup_skb")->context;
        CHECK(cgroup_skb.data == 76);
        CHECK(cgroup_skb.data_end == 80);
        CHECK(cgroup_skb.meta == -1);
        CHECK(cgroup_skb.field("family") != nullptr);

        const platform::ContextDescriptor& sk_skb = l.program_type("sk_skb")->context;
        CHECK(sk_skb.data == 76);
        CHECK(sk_skb.meta == -1);
        CHECK(sk_skb.field("mark") == nullptr);
        CHECK(sk_skb.field("tc_index")->writable);
    }

    TEST_CASE("platform: linux socket and tracing contexts match the installed headers") {
        const platform::Platform& l = platform::linux();

        const platform::ContextDescriptor& sock_ops = l.program_type("sock_ops")->context;
        CHECK(sock_ops.pointer_width == 8);
        CHECK(sock_ops.data == static_cast<std::int32_t>(offsetof(struct bpf_sock_ops, skb_data)));
        CHECK(sock_ops.data_end == static_cast<std::int32_t>(offsetof(struct bpf_sock_ops, skb_data_end)));
        check_layout(sock_ops, sizeof(struct bpf_sock_ops),
                     {
                         EMBPF_CFIELD(bpf_sock_ops, op),
                         EMBPF_CFIELD(bpf_sock_ops, args),
                         EMBPF_CFIELD(bpf_sock_ops, family),
                         EMBPF_CFIELD(bpf_sock_ops, remote_ip4),
                         EMBPF_CFIELD(bpf_sock_ops, local_ip4),
                         EMBPF_CFIELD(bpf_sock_ops, remote_ip6),
                         EMBPF_CFIELD(bpf_sock_ops, local_ip6),
                         EMBPF_CFIELD(bpf_sock_ops, remote_port),
                         EMBPF_CFIELD(bpf_sock_ops, local_port),
                         EMBPF_CFIELD(bpf_sock_ops, is_fullsock),
                         EMBPF_CFIELD(bpf_sock_ops, snd_cwnd),
                         EMBPF_CFIELD(bpf_sock_ops, srtt_us),
                         EMBPF_CFIELD(bpf_sock_ops, bpf_sock_ops_cb_flags),
                         EMBPF_CFIELD(bpf_sock_ops, state),
                         EMBPF_CFIELD(bpf_sock_ops, rtt_min),
                         EMBPF_CFIELD(bpf_sock_ops, snd_ssthresh),
                         EMBPF_CFIELD(bpf_sock_ops, rcv_nxt),
                         EMBPF_CFIELD(bpf_sock_ops, snd_nxt),
                         EMBPF_CFIELD(bpf_sock_ops, snd_una),
                         EMBPF_CFIELD(bpf_sock_ops, mss_cache),
                         EMBPF_CFIELD(bpf_sock_ops, ecn_flags),
                         EMBPF_CFIELD(bpf_sock_ops, rate_delivered),
                         EMBPF_CFIELD(bpf_sock_ops, rate_interval_us),
                         EMBPF_CFIELD(bpf_sock_ops, packets_out),
                         EMBPF_CFIELD(bpf_sock_ops, retrans_out),
                         EMBPF_CFIELD(bpf_sock_ops, total_retrans),
                         EMBPF_CFIELD(bpf_sock_ops, segs_in),
                         EMBPF_CFIELD(bpf_sock_ops, data_segs_in),
                         EMBPF_CFIELD(bpf_sock_ops, segs_out),
                         EMBPF_CFIELD(bpf_sock_ops, data_segs_out),
                         EMBPF_CFIELD(bpf_sock_ops, lost_out),
                         EMBPF_CFIELD(bpf_sock_ops, sacked_out),
                         EMBPF_CFIELD(bpf_sock_ops, sk_txhash),
                         EMBPF_CFIELD(bpf_sock_ops, bytes_received),
                         EMBPF_CFIELD(bpf_sock_ops, bytes_acked),
                         EMBPF_CFIELD(bpf_sock_ops, sk),
                         EMBPF_CFIELD(bpf_sock_ops, skb_data),
                         EMBPF_CFIELD(bpf_sock_ops, skb_data_end),
                         EMBPF_CFIELD(bpf_sock_ops, skb_len),
                         EMBPF_CFIELD(bpf_sock_ops, skb_tcp_flags),
                     });
        // The socket is a host object: a number loads read through, sk_storage_get's key.
        CHECK(sock_ops.field("sk")->kind == platform::FieldKind::host_addresses);
        CHECK_FALSE(sock_ops.field("sk")->writable);
        CHECK(sock_ops.field("args")->writable);
        CHECK(sock_ops.field("reply") == nullptr); // the union's other names are covered by "args"
        CHECK(sock_ops.field_at(static_cast<std::uint32_t>(offsetof(struct bpf_sock_ops, reply)), 4)->name == "args");

        const platform::ContextDescriptor& sk_msg = l.program_type("sk_msg")->context;
        CHECK(sk_msg.pointer_width == 8);
        CHECK(sk_msg.data == 0);
        CHECK(sk_msg.data_end == 8);
        check_layout(sk_msg, sizeof(struct sk_msg_md),
                     {EMBPF_CFIELD(sk_msg_md, data), EMBPF_CFIELD(sk_msg_md, data_end), EMBPF_CFIELD(sk_msg_md, family),
                      EMBPF_CFIELD(sk_msg_md, remote_ip4), EMBPF_CFIELD(sk_msg_md, local_ip4),
                      EMBPF_CFIELD(sk_msg_md, remote_ip6), EMBPF_CFIELD(sk_msg_md, local_ip6),
                      EMBPF_CFIELD(sk_msg_md, remote_port), EMBPF_CFIELD(sk_msg_md, local_port),
                      EMBPF_CFIELD(sk_msg_md, size), EMBPF_CFIELD(sk_msg_md, sk)},
                     {"sk"});

        const platform::ContextDescriptor& sock_addr = l.program_type("cgroup_sock_addr")->context;
        check_layout(sock_addr, sizeof(struct bpf_sock_addr),
                     {EMBPF_CFIELD(bpf_sock_addr, user_family), EMBPF_CFIELD(bpf_sock_addr, user_ip4),
                      EMBPF_CFIELD(bpf_sock_addr, user_ip6), EMBPF_CFIELD(bpf_sock_addr, user_port),
                      EMBPF_CFIELD(bpf_sock_addr, family), EMBPF_CFIELD(bpf_sock_addr, type),
                      EMBPF_CFIELD(bpf_sock_addr, protocol), EMBPF_CFIELD(bpf_sock_addr, msg_src_ip4),
                      EMBPF_CFIELD(bpf_sock_addr, msg_src_ip6), EMBPF_CFIELD(bpf_sock_addr, sk)});
        CHECK(sock_addr.field("sk")->kind == platform::FieldKind::host_addresses);
        CHECK(sock_addr.field("user_ip4")->writable);
        CHECK_FALSE(sock_addr.field("family")->writable);

        const platform::ContextDescriptor& sock = l.program_type("cgroup_sock")->context;
        check_layout(
            sock, sizeof(struct bpf_sock),
            {EMBPF_CFIELD(bpf_sock, bound_dev_if), EMBPF_CFIELD(bpf_sock, family), EMBPF_CFIELD(bpf_sock, type),
             EMBPF_CFIELD(bpf_sock, protocol), EMBPF_CFIELD(bpf_sock, mark), EMBPF_CFIELD(bpf_sock, priority),
             EMBPF_CFIELD(bpf_sock, src_ip4), EMBPF_CFIELD(bpf_sock, src_ip6), EMBPF_CFIELD(bpf_sock, src_port),
             EMBPF_CFIELD(bpf_sock, dst_port), EMBPF_CFIELD(bpf_sock, dst_ip4), EMBPF_CFIELD(bpf_sock, dst_ip6),
             EMBPF_CFIELD(bpf_sock, state), EMBPF_CFIELD(bpf_sock, rx_queue_mapping)});
        CHECK(sock.field("mark")->writable);
        CHECK_FALSE(sock.field("family")->writable);

        const std::vector<CField> regs = {
            EMBPF_CFIELD(pt_regs, r15),      EMBPF_CFIELD(pt_regs, r14), EMBPF_CFIELD(pt_regs, r13),
            EMBPF_CFIELD(pt_regs, r12),      EMBPF_CFIELD(pt_regs, rbp), EMBPF_CFIELD(pt_regs, rbx),
            EMBPF_CFIELD(pt_regs, r11),      EMBPF_CFIELD(pt_regs, r10), EMBPF_CFIELD(pt_regs, r9),
            EMBPF_CFIELD(pt_regs, r8),       EMBPF_CFIELD(pt_regs, rax), EMBPF_CFIELD(pt_regs, rcx),
            EMBPF_CFIELD(pt_regs, rdx),      EMBPF_CFIELD(pt_regs, rsi), EMBPF_CFIELD(pt_regs, rdi),
            EMBPF_CFIELD(pt_regs, orig_rax), EMBPF_CFIELD(pt_regs, rip), EMBPF_CFIELD(pt_regs, cs),
            EMBPF_CFIELD(pt_regs, eflags),   EMBPF_CFIELD(pt_regs, rsp), EMBPF_CFIELD(pt_regs, ss),
        };
        const platform::ContextDescriptor& kprobe = l.program_type("kprobe")->context;
        CHECK(kprobe.size == 168);
        check_layout(kprobe, sizeof(struct pt_regs), regs);
        for (const platform::ContextField& f : kprobe.fields) {
            CHECK_FALSE(f.writable);
        }
        std::vector<CField> perf = regs;
        perf.push_back(EMBPF_CFIELD(bpf_perf_event_data, sample_period));
        perf.push_back(EMBPF_CFIELD(bpf_perf_event_data, addr));
        check_layout(l.program_type("perf_event")->context, sizeof(struct bpf_perf_event_data), perf);

        const platform::ContextDescriptor& raw_tp = l.program_type("raw_tracepoint")->context;
        CHECK(raw_tp.field_at(0, 8) != nullptr);
        CHECK(raw_tp.field_at(88, 8) != nullptr);
        CHECK(raw_tp.field_at(96, 8) == nullptr);
        CHECK_FALSE(raw_tp.field_at(0, 8)->writable);
        const platform::ContextDescriptor& tp = l.program_type("tracepoint")->context;
        CHECK(tp.field_at(0, 8) == nullptr); // the common fields
        CHECK(tp.field_at(8, 8) != nullptr);
    }

    // ---- Host extensions
    // ---------------------------------------------------------------------------------------------

    TEST_CASE("platform: hosts copy a platform and extend it") {
        platform::Platform host = platform::windows();
        const platform::HelperPrototype get_config{
            1000, "host_get_config", ReturnKind::integer, {ArgKind::ptr_to_writable_mem, ArgKind::const_size}, false};
        REQUIRE(host.add_helper(get_config).has_value());
        REQUIRE(host.helper(1000) != nullptr);
        CHECK(*host.helper(1000) == get_config);
        CHECK(host.helper_by_name("host_get_config") == host.helper(1000));
        CHECK(platform::windows().helper(1000) == nullptr);
        CHECK(platform::windows().helpers().size() == 32);
        CHECK(host.helpers().size() == 33);

        // Pointers handed out before an addition stay valid.
        const platform::HelperPrototype* lookup = host.helper(1);
        const platform::ProgramType* xdp = host.program_type("xdp");

        platform::ProgramType request;
        request.name = "http_request";
        request.section_prefixes = {"http/request"};
        request.context.size = 24;
        request.context.data = 0;
        request.context.data_end = 8;
        request.context.pointer_width = 8;
        request.context.fields = {{0, 8, FieldKind::packet_start, true, false, "body"},
                                  {8, 8, FieldKind::packet_end, true, false, "body_end"},
                                  {16, 4, FieldKind::scalar, true, true, "status"}};
        request.helpers = {1, 2, 1000};
        request.return_min = 0;
        request.return_max = 1;
        request.platform_id = 100;
        REQUIRE(host.add_program_type(request).has_value());

        CHECK(host.helper(1) == lookup);
        CHECK(host.program_type("xdp") == xdp);
        const platform::ProgramType* added = host.program_type_for_section("http/request/v2");
        REQUIRE(added != nullptr);
        CHECK(added->name == "http_request");
        CHECK(host.helper(*added, 1000) == host.helper(1000));
        CHECK(host.helper(*added, 11) == nullptr);
        CHECK(platform::windows().program_type("http_request") == nullptr);

        // Duplicates are refused and leave the platform as it was.
        const auto dup_id = host.add_helper({1000, "other_name", ReturnKind::integer, {}, false});
        REQUIRE_FALSE(dup_id.has_value());
        CHECK(contains(dup_id.error().message, "1000"));
        const auto dup_builtin = host.add_helper({1, "my_lookup", ReturnKind::integer, {}, false});
        REQUIRE_FALSE(dup_builtin.has_value());
        CHECK(contains(dup_builtin.error().message, "map_lookup_elem"));
        CHECK_FALSE(host.add_helper({1001, "host_get_config", ReturnKind::integer, {}, false}).has_value());
        CHECK_FALSE(host.add_program_type(request).has_value());
        CHECK(host.helpers().size() == 33);
        CHECK(host.program_types().size() == platform::windows().program_types().size() + 1);

        platform::Platform copy = host; // copies keep their lookups
        CHECK(copy.helper(1000) != nullptr);
        CHECK(copy.helper(1000) != host.helper(1000));
        CHECK(copy.program_type("http_request") != nullptr);
    }

    TEST_CASE("platform: malformed helpers are refused") {
        struct Row {
            const char* what;
            platform::HelperPrototype helper;
            std::string_view message;
        };
        using A = ArgKind;
        const Row rows[] = {
            {"memory without its size", {2000, "a", ReturnKind::integer, {A::ptr_to_readable_mem}, false}, "size"},
            {"memory followed by something else",
             {2000, "b", ReturnKind::integer, {A::ptr_to_writable_mem, A::anything}, false},
             "size"},
            {"a size without memory", {2000, "c", ReturnKind::integer, {A::anything, A::const_size}, false}, "memory"},
            {"an argument after an unused one",
             {2000, "d", ReturnKind::integer, {A::anything, A::none, A::anything}, false},
             "unused"},
            {"a key without a map", {2000, "e", ReturnKind::integer, {A::ptr_to_map_key}, false}, "map"},
            {"a map value result without a map",
             {2000, "f", ReturnKind::ptr_to_map_value_or_null, {A::anything}, false},
             "map"},
            {"allocated memory without its size",
             {2000, "g", ReturnKind::ptr_to_alloc_mem_or_null, {A::ptr_to_map, A::anything}, false},
             "allocat"},
            {"an allocation size for a helper that allocates nothing",
             {2000, "h", ReturnKind::integer, {A::ptr_to_map, A::const_alloc_size_or_zero}, false},
             "allocat"},
            {"no name", {2000, "", ReturnKind::integer, {}, false}, "name"},
            // A lock is the built-in helpers' alone: a host's function could keep it, or wait on it for ever.
            {"a host helper taking a lock",
             {2000, "take", ReturnKind::void_, {A::ptr_to_spin_lock}, false},
             "bpf_spin_lock"},
            {"a lock as a second argument",
             {2000, "spin_lock", ReturnKind::void_, {A::anything, A::ptr_to_spin_lock}, false},
             "bpf_spin_lock"},
            {"a lock helper returning a number",
             {2000, "spin_unlock", ReturnKind::integer, {A::ptr_to_spin_lock}, false},
             "bpf_spin_lock"},
        };
        platform::Platform host = platform::linux();
        for (const Row& row : rows) {
            INFO(row.what);
            const auto result = host.add_helper(row.helper);
            REQUIRE_FALSE(result.has_value());
            CHECK(result.error().kind == embpf::ErrorKind::invalid_input);
            INFO(result.error().message);
            CHECK(contains(result.error().message, row.message));
        }
        CHECK(host.helper(2000) == nullptr);
        // The flags that let a program's pointers reach a helper (attack round 43: a host's sinks_data helper took
        // a plugin's stack address on a platform for untrusted plugins) belong to helpers that read host memory.
        for (const int flag : {0, 1, 2}) {
            INFO("flag ", flag);
            platform::HelperPrototype sink{
                2000, "sink", ReturnKind::integer, {A::ptr_to_readable_mem, A::const_size}, false};
            (flag == 0 ? sink.sinks_data : flag == 1 ? sink.reads_string : sink.reads_address) = true;
            const auto result = host.add_helper(sink);
            REQUIRE_FALSE(result.has_value());
            CHECK(contains(result.error().message, "reads_host_memory"));
            sink.reads_host_memory = true;
            CHECK(platform::validate(sink).has_value());
        }
    }

    TEST_CASE("platform: malformed program types are refused") {
        const auto base = [] {
            platform::ProgramType t;
            t.name = "hook";
            t.section_prefixes = {"hook"};
            t.context.size = 16;
            t.context.data = 0;
            t.context.data_end = 8;
            t.context.fields = {{0, 8, FieldKind::packet_start, true, false, "start"},
                                {8, 8, FieldKind::packet_end, true, false, "end"}};
            t.helpers = {1};
            return t;
        };
        platform::Platform host = platform::windows();
        REQUIRE(host.add_program_type(base()).has_value());

        struct Row {
            const char* what;
            platform::ProgramType type;
            std::string_view message;
        };
        std::vector<Row> rows;
        {
            auto t = base();
            rows.push_back({"a name already present", t, "already"});
        }
        {
            auto t = base();
            t.name = "other";
            rows.push_back({"a prefix claimed by another type", t, "hook"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.helpers = {1, 4242};
            rows.push_back({"an unknown helper", t, "4242"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.context.fields.push_back({12, 8, FieldKind::scalar, true, false, "late"});
            rows.push_back({"a field past the end", t, "late"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.context.size = 32;
            t.context.fields.push_back({4, 8, FieldKind::scalar, true, false, "overlapping"});
            rows.push_back({"overlapping fields", t, "overlap"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.context.data_end = 4;
            rows.push_back({"data_end not at the packet_end field", t, "packet_end"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.context.fields[0].writable = true;
            rows.push_back({"a writable packet pointer", t, "writable"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.context.pointer_width = 4;
            rows.push_back({"pointer fields wider than the pointer width", t, "4 bytes"});
        }
        {
            auto t = base();
            t.name = "other";
            t.section_prefixes = {"other"};
            t.return_min = 2;
            t.return_max = 1;
            rows.push_back({"an empty return range", t, "return"});
        }
        {
            auto t = base();
            t.name = "";
            rows.push_back({"no name", t, "name"});
        }
        for (const Row& row : rows) {
            INFO(row.what);
            const auto result = host.add_program_type(row.type);
            REQUIRE_FALSE(result.has_value());
            INFO(result.error().message);
            CHECK(contains(result.error().message, row.message));
        }
        CHECK(host.program_types().size() == platform::windows().program_types().size() + 1);
    }

    TEST_CASE("platform: names of kinds") {
        CHECK(platform::to_string(ArgKind::ptr_to_map_key) == "ptr_to_map_key");
        CHECK(platform::to_string(ReturnKind::void_) == "void");
        CHECK(platform::to_string(FieldKind::packet_end) == "packet_end");
        CHECK(platform::to_string(MapKind::lru_percpu_hash) == "lru_percpu_hash");
        CHECK(platform::is_memory_arg(ArgKind::ptr_to_readable_mem_or_null));
        CHECK_FALSE(platform::is_memory_arg(ArgKind::ptr_to_map_value));
        CHECK(platform::is_size_arg(ArgKind::const_size_or_zero));
        CHECK_FALSE(platform::is_size_arg(ArgKind::const_alloc_size_or_zero));
    }

    // ---- Seed objects
    // ------------------------------------------------------------------------------------------------

#ifdef EMBPF_TEST_SEEDS_DIR
    namespace {

    struct Section {
        std::string name;
        std::vector<std::uint8_t> bytes; // empty for SHT_NOBITS
        std::uint64_t size = 0;
    };

    // The sections of a little-endian ELF64 object, read with the host's <elf.h> structs.
    std::vector<Section> read_sections(const std::filesystem::path& path) {
        std::ifstream in(path, std::ios::binary);
        const std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        REQUIRE(file.size() >= sizeof(Elf64_Ehdr));
        Elf64_Ehdr header;
        std::memcpy(&header, file.data(), sizeof header);
        REQUIRE(std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0);
        REQUIRE(header.e_ident[EI_CLASS] == ELFCLASS64);
        REQUIRE(header.e_machine == EM_BPF);
        REQUIRE(header.e_shoff + std::uint64_t{header.e_shnum} * sizeof(Elf64_Shdr) <= file.size());
        std::vector<Elf64_Shdr> headers(header.e_shnum);
        std::memcpy(headers.data(), file.data() + header.e_shoff, headers.size() * sizeof(Elf64_Shdr));
        REQUIRE(header.e_shstrndx < headers.size());
        const Elf64_Shdr& names = headers[header.e_shstrndx];
        std::vector<Section> sections;
        for (const Elf64_Shdr& sh : headers) {
            Section s;
            REQUIRE(names.sh_offset + sh.sh_name < file.size());
            s.name = reinterpret_cast<const char*>(file.data() + names.sh_offset + sh.sh_name);
            s.size = sh.sh_size;
            if (sh.sh_type != SHT_NOBITS) {
                REQUIRE(sh.sh_offset + sh.sh_size <= file.size());
                s.bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(sh.sh_offset),
                               file.begin() + static_cast<std::ptrdiff_t>(sh.sh_offset + sh.sh_size));
            }
            sections.push_back(std::move(s));
        }
        return sections;
    }

    const Section* find(const std::vector<Section>& sections, std::string_view name) {
        for (const Section& s : sections) {
            if (s.name == name) {
                return &s;
            }
        }
        return nullptr;
    }

    // The helper ids a code section calls (opcode 0x85 with src_reg 0), in order.
    std::vector<std::int32_t> helper_calls(const Section& code) {
        std::vector<std::int32_t> ids;
        for (std::size_t at = 0; at + 8 <= code.bytes.size(); at += 8) {
            if (code.bytes[at] == 0x85 && (code.bytes[at + 1] >> 4) == 0) {
                std::int32_t imm;
                std::memcpy(&imm, &code.bytes[at + 4], sizeof imm);
                ids.push_back(imm);
            }
        }
        return ids;
    }

    std::uint32_t u32_at(const Section& s, std::size_t offset) {
        std::uint32_t v;
        REQUIRE(offset + sizeof v <= s.bytes.size());
        std::memcpy(&v, &s.bytes[offset], sizeof v);
        return v;
    }

    } // namespace

    TEST_CASE("platform: seed objects carry the eBPF for Windows tag and the windows helper ids") {
        struct Row {
            const char* object;
            const char* program_section;
            std::vector<std::int32_t> calls;
        };
        const Row rows[] = {
            {"myxdp_stage1.o", "xdp", {}},
            {"myxdp_stage2.o", "xdp", {13}}, // bpf_printk with one value: trace_printk3
            {"myxdp_stage3.o", "xdp", {13}},
            {"myxdp_stage4.o", "xdp", {11}},            // ringbuf_output
            {"TraceConnections.o", "bind", {1, 22, 2}}, // lookup, memcpy_s (memcpy of a run-time size), update
        };
        const platform::Platform& w = platform::windows();
        for (const Row& row : rows) {
            INFO(row.object);
            const std::filesystem::path path = std::filesystem::path(EMBPF_TEST_SEEDS_DIR) / row.object;
            REQUIRE(std::filesystem::exists(path));
            const std::vector<Section> sections = read_sections(path);
            const Section* tag = find(sections, ".ebpf_for_windows");
            REQUIRE(tag != nullptr);
            CHECK(tag->size == 1);
            const Section* code = find(sections, row.program_section);
            REQUIRE(code != nullptr);
            CHECK(code->size % 8 == 0);
            CHECK(helper_calls(*code) == row.calls);
            const platform::ProgramType* type = w.program_type_for_section(row.program_section);
            REQUIRE(type != nullptr);
            for (const std::int32_t id : row.calls) {
                CHECK(w.helper(*type, static_cast<std::uint32_t>(id)) != nullptr);
            }
        }

        // The ring buffer of the final stage: a legacy `maps` definition of eight 32-bit fields.
        const std::vector<Section> stage4 =
            read_sections(std::filesystem::path(EMBPF_TEST_SEEDS_DIR) / "myxdp_stage4.o");
        const Section* maps = find(stage4, "maps");
        REQUIRE(maps != nullptr);
        CHECK(maps->size == 32);
        CHECK(u32_at(*maps, 0) == *w.map_type_id(MapKind::ringbuf));
        CHECK(u32_at(*maps, 12) == 16 * 1024); // max_entries = sizeof(FiveTuple) * 1024

        // TraceConnections: a BTF-defined hash map and a license.
        const std::vector<Section> trace =
            read_sections(std::filesystem::path(EMBPF_TEST_SEEDS_DIR) / "TraceConnections.o");
        CHECK(find(trace, ".maps") != nullptr);
        CHECK(find(trace, ".BTF") != nullptr);
        const Section* license = find(trace, "license");
        REQUIRE(license != nullptr);
        CHECK(std::string(license->bytes.begin(), license->bytes.end()) == std::string("Dual BSD/GPL\0", 13));
    }
#endif

} // TEST_SUITE

// ContextLayout<Ctx>: a descriptor from the host's struct, offsets and sizes never written by hand.
namespace {

struct Session {
    std::uint8_t kind;           // 0, then padding
    const char* name;            // 8
    std::uint16_t name_len;      // 16 (too narrow for a size: a plain field here)
    std::uint64_t id;            // 24
    std::uint8_t* scratch;       // 32, 64 bytes
    const std::uint8_t* payload; // 40
    std::uint32_t payload_len;   // 48
    std::int32_t verdict;        // 52
    std::uint8_t* data;          // 56
    std::uint8_t* data_end;      // 64
};

} // namespace

TEST_CASE("context layout: offsets and sizes come from the struct, and the descriptor validates") {
    using embpf::platform::Access;
    const embpf::platform::ContextDescriptor context =
        embpf::platform::ContextLayout<Session>()
            .field(&Session::kind, "kind")
            .field(&Session::id, "id")
            .memory(&Session::scratch, "scratch", 64, Access::read_write)
            .memory(&Session::payload, &Session::payload_len, "payload", "payload_len", 1500, Access::read_write)
            .field(&Session::verdict, "verdict", Access::read_write)
            .data_range(&Session::data, &Session::data_end)
            .descriptor();
    CHECK(context.size == sizeof(Session));
    const auto* kind = context.field("kind");
    REQUIRE(kind != nullptr);
    CHECK(kind->offset == offsetof(Session, kind));
    CHECK(kind->size == 1);
    CHECK(context.field("id")->offset == offsetof(Session, id));
    CHECK(context.field("id")->size == 8);
    const auto* scratch = context.field("scratch");
    REQUIRE(scratch != nullptr);
    CHECK(scratch->offset == offsetof(Session, scratch));
    CHECK(scratch->kind == embpf::platform::FieldKind::memory);
    CHECK(scratch->size_field.empty());
    CHECK(scratch->memory_size == 64);
    CHECK(scratch->memory_writable);
    const auto* payload = context.field("payload");
    REQUIRE(payload != nullptr);
    CHECK(payload->offset == offsetof(Session, payload));
    CHECK(payload->size_field == "payload_len");
    CHECK(payload->memory_size == 1500);
    CHECK_FALSE(payload->memory_writable); // a const region stays read-only, whatever the call asked
    CHECK(context.field("payload_len")->offset == offsetof(Session, payload_len));
    CHECK(context.field("payload_len")->size == 4);
    CHECK_FALSE(context.field("payload_len")->writable);
    CHECK(context.field("verdict")->writable);
    CHECK(context.data == static_cast<std::int32_t>(offsetof(Session, data)));
    CHECK(context.data_end == static_cast<std::int32_t>(offsetof(Session, data_end)));
    CHECK(context.field("name") == nullptr); // never declared: inaccessible
    CHECK(context.regions().size() == 2);

    embpf::platform::Platform host = embpf::platform::windows();
    embpf::platform::ProgramType type;
    type.name = "session";
    type.section_prefixes = {"session"};
    type.context = context;
    auto added = host.add_program_type(type);
    CHECK_MESSAGE(added.has_value(), (added ? "" : added.error().message));

    // A field declared twice overlaps itself: refused when the type is added, naming both.
    type.name = "twice";
    type.section_prefixes = {"twice"};
    type.context = embpf::platform::ContextLayout<Session>()
                       .field(&Session::id, "id")
                       .field(&Session::id, "id_again")
                       .descriptor();
    auto refused = host.add_program_type(type);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message == "program type twice: context fields id and id_again overlap");
}
