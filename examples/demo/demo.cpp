// The embpf demo: the two programs of the seed articles, compiled by clang for eBPF for Windows, loaded and run
// through the runtime on simulated bind events and hand-built packets.
#include <embpf/embpf.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

const std::string kObjects = EMBPF_DEMO_OBJECTS;

// eBPF for Windows' bind_md_t, the context of a "bind" program.
struct BindContext {
    const std::uint8_t* app_id_start;
    const std::uint8_t* app_id_end;
    std::uint64_t process_id;
    std::uint8_t socket_address[16];
    std::uint8_t socket_address_length;
    std::int32_t operation; // BIND_OPERATION_BIND = 0
    std::uint8_t protocol;
};

// eBPF for Windows' xdp_md_t.
struct XdpContext {
    std::uint8_t* data;
    std::uint8_t* data_end;
    std::uint64_t data_meta;
    std::uint32_t ingress_ifindex;
};

// The values the programs share with us.
struct ProcessInfo {
    std::uint32_t id;
    char name[32];
    std::uint32_t count;
};
struct FiveTuple {
    std::uint32_t src_address;
    std::uint32_t dst_address;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t proto;
};

embpf::Result<embpf::Object> load(const std::string& file) {
    auto spec = embpf::ObjectSpec::open(std::filesystem::path(kObjects) / file);
    if (!spec) {
        return std::move(spec).error();
    }
    std::printf("%s: platform %s (%s)\n", file.c_str(), spec->platform().name().c_str(),
                spec->platform_choice().reason.c_str());
    // Every program is verified first; a rejected one makes the load fail with the verifier's report.
    return embpf::Object::load(*spec);
}

int fail(const embpf::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.message.c_str());
    return 1;
}

std::vector<std::uint8_t> udp_packet(const std::uint8_t (&src)[4], const std::uint8_t (&dst)[4], std::uint16_t sport,
                                     std::uint16_t dport) {
    std::vector<std::uint8_t> packet(42, 0);
    packet[12] = 0x08; // EtherType IPv4
    packet[14] = 0x45; // version 4, 20-byte header
    packet[23] = 17;   // UDP
    std::memcpy(&packet[26], src, 4);
    std::memcpy(&packet[30], dst, 4);
    packet[34] = static_cast<std::uint8_t>(sport >> 8);
    packet[35] = static_cast<std::uint8_t>(sport);
    packet[36] = static_cast<std::uint8_t>(dport >> 8);
    packet[37] = static_cast<std::uint8_t>(dport);
    return packet;
}

void print_ipv4_addr(std::uint32_t addr) {
    std::printf("%u.%u.%u.%u", addr & 0xff, (addr >> 8) & 0xff, (addr >> 16) & 0xff, addr >> 24);
}

std::uint16_t ntohs(std::uint16_t value) { return static_cast<std::uint16_t>(value << 8 | value >> 8); }

} // namespace

int main() {
    std::printf("embpf %s demo\n\n", embpf::kVersion);

    // Seed 001: TraceConnections counts binds per process.
    auto bind_object = load("TraceConnections.o");
    if (!bind_object) {
        return fail(bind_object.error());
    }
    auto trace = bind_object->program("TraceConnections");
    if (!trace) {
        return fail(trace.error());
    }
    struct BindEvent {
        std::uint32_t pid;
        const char* app;
    };
    const BindEvent events[] = {{4012, "C:\\Program Files\\nginx\\nginx.exe"},
                                {880, "C:\\Windows\\System32\\svchost.exe"},
                                {4012, "C:\\Program Files\\nginx\\nginx.exe"},
                                {5120, "C:\\Tools\\curl.exe"},
                                {4012, "C:\\Program Files\\nginx\\nginx.exe"}};
    for (const BindEvent& event : events) {
        BindContext ctx{};
        ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(event.app);
        ctx.app_id_end = ctx.app_id_start + std::strlen(event.app);
        ctx.process_id = event.pid;
        auto verdict = trace->run(&ctx, sizeof ctx);
        if (!verdict) {
            return fail(verdict.error());
        }
    }
    auto proc_map = bind_object->map<std::uint32_t, ProcessInfo>("proc_map"); // sizes checked here, once
    if (!proc_map) {
        return fail(proc_map.error());
    }
    std::printf("  %d bind events; proc_map now holds %zu processes:\n  %-6s %-34s %s\n",
                static_cast<int>(std::size(events)), proc_map->size(), "PID", "Name", "Binds");
    for (const auto& [pid, info] : *proc_map) {
        std::printf("  %-6u %-34.*s %u\n", pid, static_cast<int>(sizeof info.name), info.name, info.count);
    }

    // Seed 000: the XDP parser writes the five-tuples of UDP packets to a ring buffer.
    std::printf("\n");
    auto xdp_object = load("myxdp_stage4.o");
    if (!xdp_object) {
        return fail(xdp_object.error());
    }
    auto parse = xdp_object->program("packet_parse");
    auto tuples = xdp_object->ring_buffer<FiveTuple>("xdp_map");
    if (!parse || !tuples) {
        return fail(parse ? tuples.error() : parse.error());
    }
    std::vector<std::vector<std::uint8_t>> packets = {udp_packet({192, 168, 1, 20}, {10, 0, 0, 53}, 52952, 53),
                                                      udp_packet({10, 0, 0, 7}, {10, 0, 0, 8}, 443, 52952)};
    packets.push_back(std::vector<std::uint8_t>(20, 0)); // too short: not parsed
    for (auto& packet : packets) {
        XdpContext ctx{packet.data(), packet.data() + packet.size(), 0, 1};
        auto verdict = parse->run(&ctx, sizeof ctx);
        if (!verdict) {
            return fail(verdict.error());
        }
    }
    std::printf("  %zu packets; five-tuples from the ring buffer:\n", packets.size());
    tuples->consume([](const FiveTuple& tuple) {
        std::printf("  {\n      \"ip_proto\": \"IPV4\",\n      \"src_address\": \"");
        print_ipv4_addr(tuple.src_address);
        std::printf("\",\n      \"dst_address\": \"");
        print_ipv4_addr(tuple.dst_address);
        std::printf(
            "\",\n      \"Transport Proto\": \"UDP\",\n      \"src_port\": \"%u\",\n      \"dst_port\": \"%u\"\n  }\n",
            ntohs(tuple.src_port), ntohs(tuple.dst_port));
    });
    return 0;
}
