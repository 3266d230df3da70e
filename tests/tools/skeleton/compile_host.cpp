// A host written against generated skeletons, compiled (not run) by the skeleton_compile_* tests: as it is it compiles
// under every compiler with the project's warnings as errors; with one of the WRONG_* macros defined it uses a type
// the object does not have, and must not compile.
#include "myxdp.skel.hpp"
#include "request_plugin.skel.hpp"
#include "skeleton_plugin.skel.hpp"
#include "trace_connections.skel.hpp"
#include "typed_maps.skel.hpp"

#include <cstdint>

namespace {

[[maybe_unused]] std::uint64_t use(skeleton_plugin::Spec& spec, skeleton_plugin::Object& object) {
    spec.rodata.drop_port = 53;
    spec.rodata.otherwise = skeleton_plugin::verdict::VERDICT_DROP;
#ifdef WRONG_GLOBAL
    spec.rodata.otherwise = 2; // an enum's number is not the enum
#endif
    skeleton_plugin::flow_key key{};
    key.port = 53;
    std::uint64_t packets = 0;
    if (auto value = object.maps.flows.lookup(key)) {
        packets = value->stats.packets;
#ifdef WRONG_VALUE
        packets = value->stats; // the struct, not a number
#endif
    }
#ifdef WRONG_KEY
    packets += object.maps.flows.lookup(std::uint32_t{53})->stats.packets; // a number, not the key struct
#endif
    skeleton_plugin::record record{};
    (void)object.maps.events.output(record);
#ifdef WRONG_RECORD
    (void)object.maps.events.output(std::uint64_t{1}); // not the ring's record type
#endif
    if (auto oldest = object.maps.recent.pop()) {
        packets += oldest->stamp;
    }
#ifdef WRONG_QUEUE
    (void)object.maps.recent.lookup(0); // a queue has no keys
#endif
    return packets + object.bss.read().seen_total;
}

} // namespace

int main() { return 0; }
