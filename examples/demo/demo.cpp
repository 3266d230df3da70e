// The embpf demo: assemble a small packet filter, give it a host helper, run it on two packets.
#include <embpf/embpf.hpp>

#include <array>
#include <cstdint>
#include <cstdio>

namespace {

// The context the host hands the program: the packet's bounds, as XDP does.
struct PacketContext {
    std::uint64_t data;
    std::uint64_t data_end;
};

// Returns 2 (drop) for IPv4 UDP packets to port 53, 1 (pass) for everything else, and reports each
// verdict through helper 1000, which the host provides.
constexpr const char* kFilter = R"(
    r2 = *(u64 *)(r1 + 8)        # data_end
    r1 = *(u64 *)(r1 + 0)        # data
    r0 = 1                       # XDP_PASS
    r3 = r1
    r3 += 42                     # Ethernet (14) + IPv4 (20) + UDP (8)
    if r3 > r2 goto report       # too short: pass
    r4 = *(u16 *)(r1 + 12)       # EtherType
    if r4 != 8 goto report       # 0x0800 in network order
    r4 = *(u8 *)(r1 + 23)        # IPv4 protocol
    if r4 != 17 goto report      # not UDP
    r4 = *(u16 *)(r1 + 36)       # UDP destination port
    r4 = be16 r4
    if r4 != 53 goto report
    r0 = 2                       # XDP_DROP
report:
    r6 = r0
    r1 = r0
    call 1000
    r0 = r6
    exit
)";

std::uint64_t log_verdict(std::uint64_t verdict, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    std::printf("  helper 1000 called by the plugin: verdict %llu\n", static_cast<unsigned long long>(verdict));
    return 0;
}

std::array<std::uint8_t, 64> make_packet(std::uint16_t dest_port) {
    std::array<std::uint8_t, 64> packet{};
    packet[12] = 0x08; // EtherType IPv4
    packet[13] = 0x00;
    packet[14] = 0x45; // version 4, IHL 5
    packet[23] = 17;   // UDP
    packet[36] = static_cast<std::uint8_t>(dest_port >> 8);
    packet[37] = static_cast<std::uint8_t>(dest_port);
    return packet;
}

} // namespace

int main() {
    auto program = embpf::isa::assemble(kFilter);
    if (!program) {
        std::fprintf(stderr, "assemble: %s\n", program.error().message.c_str());
        return 1;
    }
    std::printf("embpf %s demo: a DNS-dropping packet filter of %zu instructions\n\n%s\n", embpf::kVersion,
                program->size(), embpf::isa::disassemble(*program, {.show_pc = true}).c_str());

    embpf::exec::HelperTable helpers;
    helpers.set(1000, &log_verdict);
    auto filter = embpf::exec::Interpreter::create(*program, helpers);
    if (!filter) {
        std::fprintf(stderr, "load: %s\n", filter.error().message.c_str());
        return 1;
    }

    for (std::uint16_t port : {53, 443}) {
        auto packet = make_packet(port);
        PacketContext ctx{reinterpret_cast<std::uintptr_t>(packet.data()),
                          reinterpret_cast<std::uintptr_t>(packet.data() + packet.size())};
        std::printf("UDP packet to port %u:\n", port);
        // Not verified yet, so run it with every memory access checked against what we hand it.
        embpf::exec::CheckedOptions options;
        options.regions.push_back({packet.data(), packet.size(), false});
        options.context_writable = false;
        auto outcome = filter->run_checked(&ctx, sizeof ctx, options);
        if (!outcome) {
            std::fprintf(stderr, "run: %s\n", outcome.error().message.c_str());
            return 1;
        }
        std::printf("  r0 = %llu (%s) after %llu instructions\n", static_cast<unsigned long long>(outcome->r0),
                    outcome->r0 == 2 ? "XDP_DROP" : "XDP_PASS", static_cast<unsigned long long>(outcome->instructions));
    }
    return 0;
}
