// The user-mode loader of seed 000 ("eBPF programming on Windows"), ported to embpf's libbpf-compatible C API: the
// loading code is the article's (bpf_object__open, bpf_object__load, bpf_object__find_program_by_name,
// bpf_program__attach, bpf_object__find_map_by_name, bpf_map__fd, ring_buffer__new, bpf_link__destroy,
// bpf_object__close). Where the article waits for Ctrl+C while the kernel runs the programs, this host stands in for
// the kernel: it feeds its hooks simulated bind events and packets (embpf_hook_invoke), then tears down.
//
//   embpf_libbpf_port OBJECT_DIR [ROUNDS]
// loads OBJECT_DIR/TraceConnections.o (the bind monitor of seed 001: binds counted per process in proc_map) and
// OBJECT_DIR/myxdp_stage4.o (the packet parser of seed 000: five-tuples of UDP packets to the ring buffer xdp_map).
#include <embpf/compat/libbpf.h>
#include <embpf/testing/packets.hpp> // the simulated kernel's packets

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using embpf::testing::PacketBuilder;

struct ProgramData {
    bpf_object* object;
    bpf_program* program;
    bpf_link* link;
};

ProgramData bind_data;
ProgramData xdp_data;

void unload_ebpf_program(ProgramData& data) {
    if (data.link != nullptr) {
        std::printf("Destroying eBPF Link\n");
        [[maybe_unused]] const int destroyed = bpf_link__destroy(data.link);
        assert(destroyed == 0);
    }
    std::printf("Unloading eBPF program\n");
    std::printf("Closing eBPF object\n");
    bpf_object__close(data.object);
    data = {};
}

[[noreturn]] void fatal(const char* message) {
    const int error = errno;
    std::printf("Fatal error: %s: %d (%s)\n", message, error, std::strerror(error));
    unload_ebpf_program(xdp_data);
    unload_ebpf_program(bind_data);
    std::exit(1);
}

ProgramData ebpf_load_program(const std::string& filepath, const char* prog_name) {
    bpf_object* object = bpf_object__open(filepath.c_str());
    if (object == nullptr) {
        fatal("Could not open the object file, check the filepath");
    }
    if (bpf_object__load(object) < 0) {
        bpf_object__close(object);
        fatal("Loading the object failed");
    }
    bpf_program* program = bpf_object__find_program_by_name(object, prog_name);
    if (program == nullptr) {
        bpf_object__close(object);
        fatal("Could not find program by name");
    }
    bpf_link* link = bpf_program__attach(program);
    if (link == nullptr) {
        bpf_object__close(object);
        fatal("Could not attach program");
    }
    return {object, program, link};
}

// The programs' shared types (the seeds' packets.h and TraceConnections.c).
struct FiveTuple {
    std::uint32_t src_address;
    std::uint32_t dst_address;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t proto;
};
struct ProcessInfo {
    std::uint32_t id;
    char name[32];
    std::uint32_t count;
};

// eBPF for Windows' contexts, which the simulated kernel builds.
struct BindContext {
    const std::uint8_t* app_id_start;
    const std::uint8_t* app_id_end;
    std::uint64_t process_id;
    std::uint8_t socket_address[16];
    std::uint8_t socket_address_length;
    std::int32_t operation; // BIND_OPERATION_BIND = 0
    std::uint8_t protocol;
};
struct XdpContext {
    std::uint8_t* data;
    std::uint8_t* data_end;
    std::uint64_t data_meta;
    std::uint32_t ingress_ifindex;
};

void print_ipv4_addr(std::uint32_t addr) {
    std::printf("%u.%u.%u.%u", (addr & 0x000000FF), (addr & 0x0000FF00) >> 8, (addr & 0x00FF0000) >> 16,
                (addr & 0xFF000000) >> 24);
}

std::uint16_t to_host(std::uint16_t us) { return static_cast<std::uint16_t>(us << 8 | us >> 8); }

int packets_seen = 0;

extern "C" int process_packet(void* ctx, void* data, size_t len) {
    (void)ctx;
    if (len == sizeof(FiveTuple)) {
        FiveTuple tuple;
        std::memcpy(&tuple, data, sizeof tuple);
        std::printf("{\n    \"ip_proto\": \"IPV4\",\n    \"src_address\": \"");
        print_ipv4_addr(tuple.src_address);
        std::printf("\",\n    \"dst_address\": \"");
        print_ipv4_addr(tuple.dst_address);
        std::printf("\",\n    \"Transport Proto\": \"UDP\",\n");
        std::printf("    \"src_port\": \"%u\",\n    \"dst_port\": \"%u\"\n}\n", to_host(tuple.src_port),
                    to_host(tuple.dst_port));
        ++packets_seen;
    }
    return 0;
}

// The simulated kernel: a process binds a socket.
void bind_event(std::uint32_t pid, const char* app) {
    BindContext ctx{};
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + std::strlen(app);
    ctx.process_id = pid;
    std::uint64_t verdict = 0;
    if (embpf_hook_invoke("bind", &ctx, sizeof ctx, &verdict) < 0) {
        fatal("The bind hook failed");
    }
}

// The simulated kernel: a packet arrives.
void packet_event(std::vector<std::uint8_t> packet) {
    XdpContext ctx{packet.data(), packet.data() + packet.size(), 0, 1};
    std::uint64_t verdict = 0;
    if (embpf_hook_invoke("xdp", &ctx, sizeof ctx, &verdict) < 0) {
        fatal("The xdp hook failed");
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OBJECT_DIR [ROUNDS]\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 1;

    bind_data = ebpf_load_program(dir + "/TraceConnections.o", "TraceConnections");
    xdp_data = ebpf_load_program(dir + "/myxdp_stage4.o", "packet_parse");
    std::printf("eBPF program loaded\n");

    bpf_map* map = bpf_object__find_map_by_name(xdp_data.object, "xdp_map");
    if (map == nullptr) {
        fatal("Map could not be found");
    }
    const int map_fd = bpf_map__fd(map);
    ring_buffer* ring_buf = ring_buffer__new(map_fd, process_packet, nullptr, nullptr);
    if (ring_buf == nullptr) {
        fatal("Ring buffer could not be attached");
    }

    // What the kernel would see while the article's host waits for Ctrl+C.
    for (int round = 0; round < rounds; ++round) {
        bind_event(4012, "C:\\Program Files\\nginx\\nginx.exe");
        bind_event(880, "C:\\Windows\\System32\\svchost.exe");
        bind_event(4012, "C:\\Program Files\\nginx\\nginx.exe");
        packet_event(PacketBuilder().ethernet().ipv4({192, 168, 1, 20}, {10, 0, 0, 53}).udp(52952, 53).build());
        packet_event(PacketBuilder().ethernet().ipv4({10, 0, 0, 7}, {10, 0, 0, 8}).udp(443, 52952).build());
        packet_event(std::vector<std::uint8_t>(20, 0)); // too short to parse: the program passes it on silently
        if (ring_buffer__poll(ring_buf, 100) < 0) {
            fatal("Polling the ring buffer failed");
        }
    }
    ring_buffer__free(ring_buf);
    std::printf("%d five-tuples received\n", packets_seen);

    // The bind monitor's counts, read as a libbpf host reads a hash map.
    const int proc_fd = bpf_map__fd(bpf_object__find_map_by_name(bind_data.object, "proc_map"));
    if (proc_fd < 0) {
        fatal("proc_map could not be found");
    }
    std::printf("%-6s %-34s %s\n", "PID", "Name", "Binds");
    std::uint32_t key = 0;
    std::uint32_t next = 0;
    const std::uint32_t* previous = nullptr;
    while (bpf_map_get_next_key(proc_fd, previous, &next) == 0) {
        ProcessInfo info{};
        if (bpf_map_lookup_elem(proc_fd, &next, &info) == 0) {
            std::printf("%-6u %-34.*s %u\n", next, static_cast<int>(sizeof info.name), info.name, info.count);
        }
        key = next;
        previous = &key;
    }
    if (errno != ENOENT) {
        fatal("Iterating proc_map failed");
    }

    unload_ebpf_program(xdp_data);
    unload_ebpf_program(bind_data);
    std::printf("Exiting process\n");
    return 0;
}
