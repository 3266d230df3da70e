// Hook contexts and return values of eBPF for Windows' network hooks (xdp, bind, sock_addr, sock_ops), for
// plugins compiled with clang -target bpf. The layouts are a contract with the host: embpf::platform::windows()
// describes the same offsets, and the static assertions below keep both in step.
#pragma once

#include <stdint.h>

// ---- XDP -------------------------------------------------------------------------------------------------------

/// The context of an xdp program: real 64-bit pointers to the packet, not Linux's 32-bit fields.
typedef struct xdp_md_ {
    void* data;               ///< the first byte of the packet
    void* data_end;           ///< one past the last byte of the packet
    uint64_t data_meta;       ///< metadata in front of the packet
    uint32_t ingress_ifindex; ///< the interface the packet arrived on
} xdp_md_t;

/// What an xdp program returns. Windows numbers them from 1 (Linux has XDP_ABORTED=0, XDP_DROP=1, XDP_PASS=2).
typedef enum _xdp_action {
    XDP_PASS = 1, ///< hand the packet to the stack
    XDP_DROP = 2, ///< drop the packet
    XDP_TX = 3,   ///< send the packet back out of the interface it arrived on
} xdp_action_t;

typedef xdp_action_t xdp_hook_t(xdp_md_t* context);

// ---- BIND ------------------------------------------------------------------------------------------------------

typedef enum _bind_operation {
    BIND_OPERATION_BIND,      ///< a bind() call, before a port is chosen
    BIND_OPERATION_POST_BIND, ///< after the port is allocated
    BIND_OPERATION_UNBIND,    ///< the port is released
} bind_operation_t;

/// The context of a bind program. [app_id_start, app_id_end) is the process's application id (its image path).
typedef struct _bind_md {
    uint8_t* app_id_start;
    uint8_t* app_id_end;
    uint64_t process_id;
    uint8_t socket_address[16];    ///< the address to bind to; a program may rewrite it and return BIND_REDIRECT
    uint8_t socket_address_length; ///< bytes of socket_address in use
    bind_operation_t operation;
    uint8_t protocol; ///< IPPROTO_TCP, IPPROTO_UDP, ...
} bind_md_t;

typedef enum _bind_action {
    BIND_PERMIT,   ///< let the bind go ahead
    BIND_DENY,     ///< refuse it
    BIND_REDIRECT, ///< bind to the endpoint now in socket_address
} bind_action_t;

typedef bind_action_t bind_hook_t(bind_md_t* context);

// ---- CGROUP_SOCK_ADDR (connect and accept authorization) -------------------------------------------------------

#define BPF_SOCK_ADDR_VERDICT_REJECT 0
#define BPF_SOCK_ADDR_VERDICT_PROCEED_SOFT 1
#define BPF_SOCK_ADDR_VERDICT_PROCEED_HARD 2
#define BPF_SOCK_ADDR_VERDICT_PROCEED BPF_SOCK_ADDR_VERDICT_PROCEED_SOFT

/// The context of a cgroup/connect4, connect6, recv_accept4 and recv_accept6 program. Addresses and ports are in
/// network byte order; a connect program may rewrite the destination (user_ip*, user_port).
typedef struct bpf_sock_addr {
    uint32_t family;
    struct {
        union {
            uint32_t msg_src_ip4;
            uint32_t msg_src_ip6[4];
        };
        uint16_t msg_src_port;
    };
    struct {
        union {
            uint32_t user_ip4;
            uint32_t user_ip6[4];
        };
        uint16_t user_port;
    };
    uint32_t protocol;
    uint32_t compartment_id;
    uint64_t interface_luid;
} bpf_sock_addr_t;

typedef int sock_addr_hook_t(bpf_sock_addr_t* context);

// ---- SOCK_OPS (connection notifications) ---------------------------------------------------------------------

typedef enum _bpf_sock_op_type {
    BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB,  ///< an outbound connection is established
    BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, ///< an inbound connection is established
    BPF_SOCK_OPS_CONNECTION_DELETED_CB,  ///< a connection is gone
} bpf_sock_op_type_t;

typedef struct _bpf_sock_ops {
    bpf_sock_op_type_t op;
    uint32_t family;
    struct {
        union {
            uint32_t local_ip4;
            uint32_t local_ip6[4];
        };
        uint32_t local_port;
    };
    struct {
        union {
            uint32_t remote_ip4;
            uint32_t remote_ip6[4];
        };
        uint32_t remote_port;
    };
    uint8_t protocol;
    uint32_t compartment_id;
    uint64_t interface_luid;
} bpf_sock_ops_t;

typedef int sock_ops_hook_t(bpf_sock_ops_t* context);

// ---- Hook-specific helpers -------------------------------------------------------------------------------------
// Each hook numbers its own helpers from 0xFFFF + 1, so the same id means different helpers in different hooks.

/// xdp: moves the start of the packet by `delta` bytes; every packet pointer must be reloaded after the call.
static int (*const bpf_xdp_adjust_head)(xdp_md_t* ctx, int delta) = (void*)0x10000;

/// sock_addr: the process and thread ids of the application making the request.
static uint64_t (*const bpf_sock_addr_get_current_pid_tgid)(bpf_sock_addr_t* ctx) = (void*)0x10000;

/// sock_addr (connect hooks): hands `data` to the user-mode proxy the connection is redirected to.
static int (*const bpf_sock_addr_set_redirect_context)(bpf_sock_addr_t* ctx, void* data,
                                                       uint32_t data_size) = (void*)0x10001;

// ---- The layout contract with embpf::platform::windows() -------------------------------------------------------

_Static_assert(sizeof(xdp_md_t) == 32 && __builtin_offsetof(xdp_md_t, data_end) == 8 &&
                   __builtin_offsetof(xdp_md_t, data_meta) == 16 && __builtin_offsetof(xdp_md_t, ingress_ifindex) == 24,
               "xdp_md_t layout");
_Static_assert(sizeof(bind_md_t) == 56 && __builtin_offsetof(bind_md_t, app_id_end) == 8 &&
                   __builtin_offsetof(bind_md_t, process_id) == 16 &&
                   __builtin_offsetof(bind_md_t, socket_address) == 24 &&
                   __builtin_offsetof(bind_md_t, socket_address_length) == 40 &&
                   __builtin_offsetof(bind_md_t, operation) == 44 && __builtin_offsetof(bind_md_t, protocol) == 48,
               "bind_md_t layout");
_Static_assert(sizeof(bpf_sock_addr_t) == 64 && __builtin_offsetof(bpf_sock_addr_t, msg_src_ip6) == 4 &&
                   __builtin_offsetof(bpf_sock_addr_t, msg_src_port) == 20 &&
                   __builtin_offsetof(bpf_sock_addr_t, user_ip6) == 24 &&
                   __builtin_offsetof(bpf_sock_addr_t, user_port) == 40 &&
                   __builtin_offsetof(bpf_sock_addr_t, protocol) == 44 &&
                   __builtin_offsetof(bpf_sock_addr_t, compartment_id) == 48 &&
                   __builtin_offsetof(bpf_sock_addr_t, interface_luid) == 56,
               "bpf_sock_addr_t layout");
_Static_assert(sizeof(bpf_sock_ops_t) == 64 && __builtin_offsetof(bpf_sock_ops_t, local_ip6) == 8 &&
                   __builtin_offsetof(bpf_sock_ops_t, local_port) == 24 &&
                   __builtin_offsetof(bpf_sock_ops_t, remote_ip6) == 28 &&
                   __builtin_offsetof(bpf_sock_ops_t, remote_port) == 44 &&
                   __builtin_offsetof(bpf_sock_ops_t, protocol) == 48 &&
                   __builtin_offsetof(bpf_sock_ops_t, compartment_id) == 52 &&
                   __builtin_offsetof(bpf_sock_ops_t, interface_luid) == 56,
               "bpf_sock_ops_t layout");
