// The plugin host: a small multi-threaded service whose request hook runs a verified rate-limit plugin. Worker
// threads serve requests (a path, headers and a body, each handed to the plugin as a buffer of its own) while a
// reloader swaps the plugin between two versions, keeping its maps, and a consumer reads the plugin's events. At the
// end it checks that every request was counted exactly once and every refusal reported once.
//
//     embpf_plugin_host [requests per worker]
#include <embpf/embpf.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

const std::string kPlugins = EMBPF_PLUGIN_HOST_PLUGINS;

// The hook's context: examples/plugin-host/plugins/request.h's `struct request`, field for field.
struct Request {
    const std::uint8_t* path;
    std::uint32_t path_len;
    std::uint32_t client;
    const std::uint8_t* headers;
    std::uint64_t headers_len;
    std::uint8_t* body;
    std::uint32_t body_len;
    std::uint32_t status;
};

// What the plugin reports for each request it refuses.
struct Event {
    std::uint32_t client;
    std::uint32_t status;
    std::uint32_t version;
    std::uint32_t count;
};

constexpr std::uint32_t kClients = 64;
constexpr int kWorkers = 4;

// The host helper: a client's quota. Every fourth client is on the free tier.
std::uint64_t client_quota(std::uint32_t client) noexcept { return client % 4 == 0 ? 50 : 1'000'000; }

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "plugin-host: %s\n", what.c_str());
    std::exit(1);
}

template <typename T>
T need(embpf::Result<T> result, const char* what) {
    if (!result) {
        fail(std::string(what) + ": " + result.error().message);
    }
    if constexpr (!std::is_void_v<T>) {
        return std::move(*result);
    }
}

} // namespace

int main(int argc, char** argv) {
    const int per_worker = argc > 1 ? std::atoi(argv[1]) : 200'000;
    using namespace embpf::platform;

    // The host's platform: eBPF for Windows' helpers, its own helper, and the request hook declared from `Request`.
    Platform host = embpf::platform::windows();
    need(host.add_helper<&client_quota>(1000, "client_quota", proto(ret::integer, arg::anything)), "client_quota");
    auto hook = need(
        embpf::Hook<Request>::declare(
            host,
            {.name = "request",
             .context = ContextLayout<Request>()
                            .memory(&Request::path, &Request::path_len, "path", "path_len", 4096)
                            .field(&Request::client, "client")
                            .memory(&Request::headers, &Request::headers_len, "headers", "headers_len", 16384)
                            .memory(&Request::body, &Request::body_len, "body", "body_len", 65536, Access::read_write)
                            .field(&Request::status, "status", Access::read_write),
             .helpers = {"map_lookup_elem", "map_update_elem", "ringbuf_output"},
             .return_min = 0,
             .return_max = 1,
             .options = {.pass = 0, .fold = embpf::Fold::first_decisive}}),
        "declaring the request hook");

    const auto load = [&](int version, const embpf::Object* previous) {
        const std::string path = kPlugins + "/limit_v" + std::to_string(version) + ".o";
        auto spec = need(embpf::ObjectSpec::open(path, &host), path.c_str());
        embpf::LoadOptions options;
        if (previous != nullptr) {
            // The new version takes over the old one's maps: counts, totals and the event ring the host reads.
            for (const char* name : {"counts", "totals", "events"}) {
                options.reuse_maps.emplace(name, need(previous->map(name), name).runtime_map());
            }
        }
        return need(embpf::Object::load(spec, options), path.c_str());
    };
    embpf::Object current = load(1, nullptr);
    auto link = need(hook.attach(need(current.program("limit"), "limit")), "attach");
    auto events = need(current.ring_buffer<Event>("events"), "events");
    auto totals = need(current.map<std::uint32_t, std::uint64_t>("totals"), "totals");
    auto counts = need(current.map<std::uint32_t, std::uint64_t>("counts"), "counts");

    std::atomic<bool> serving{true};
    std::atomic<std::uint64_t> served{0};
    std::atomic<std::uint64_t> denied{0};
    std::atomic<std::uint64_t> uppercased{0};

    // The consumer: every event the plugin reports, whichever version reported it.
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> reported; // (version, status) -> events
    std::thread consumer([&] {
        const auto take = [&](const Event& e) { ++reported[{e.version, e.status}]; };
        while (serving.load()) {
            events.poll(std::chrono::milliseconds(20), take);
        }
        events.consume(take);
    });

    // The reloader: loads the other version and swaps it in, while requests flow.
    std::atomic<int> reloads{0};
    std::thread reloader([&] {
        int version = 1;
        while (serving.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            version = version == 1 ? 2 : 1;
            embpf::Object next = load(version, &current);
            need(link.replace(need(next.program("limit"), "limit")), "replace");
            current = std::move(next); // the old object goes; requests under way finish with the program they began
            ++reloads;
        }
    });

    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
        workers.emplace_back([&, w] {
            const std::string headers = "Host: example\r\nAccept: */*\r\n";
            for (int i = 0; i < per_worker; ++i) {
                const std::string path = i % 10 == 0 ? "/admin/users" : "/api/items/" + std::to_string(i);
                std::string body = "hello from worker " + std::to_string(w);
                Request request{reinterpret_cast<const std::uint8_t*>(path.data()),
                                static_cast<std::uint32_t>(path.size()),
                                static_cast<std::uint32_t>((w * 7919 + i) % kClients),
                                reinterpret_cast<const std::uint8_t*>(headers.data()),
                                headers.size(),
                                reinterpret_cast<std::uint8_t*>(body.data()),
                                static_cast<std::uint32_t>(body.size()),
                                0};
                const std::uint64_t verdict = need(hook.invoke(request), "invoke");
                ++served;
                if (verdict != 0) {
                    ++denied;
                }
                if (body.rfind("HELLO", 0) == 0) {
                    ++uppercased; // version 2 ran
                }
            }
        });
    }
    for (std::thread& worker : workers) {
        worker.join();
    }
    serving = false;
    reloader.join();
    consumer.join();

    std::uint64_t per_client = 0;
    for (const auto& [client, count] : counts) {
        per_client += count;
    }
    std::uint64_t events_total = 0;
    std::printf("plugin-host: %d workers served %llu requests while the plugin was reloaded %d times\n", kWorkers,
                static_cast<unsigned long long>(served.load()), reloads.load());
    for (const auto& [key, n] : reported) {
        std::printf("  version %u refused %llu requests with %u\n", key.first, static_cast<unsigned long long>(n),
                    key.second);
        events_total += n;
    }
    std::printf("  version 2 rewrote %llu bodies\n", static_cast<unsigned long long>(uppercased.load()));
    const std::uint64_t total = totals.lookup(0).value_or(0);
    std::printf("  the plugin's maps, kept across reloads: %llu requests counted, %llu per client over %zu clients\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(per_client), counts.size());
    if (total != served || per_client != served) {
        fail("a request was lost or counted twice");
    }
    // A refusal the ring buffer had no room for (its consumer fell behind) is counted by the plugin instead.
    const std::uint64_t dropped = totals.lookup(1).value_or(0);
    if (events_total + dropped != denied) {
        fail("refusals " + std::to_string(denied.load()) + ", events " + std::to_string(events_total) + " + " +
             std::to_string(dropped) + " dropped");
    }
    std::printf("  every request counted once, every refusal reported once (%llu events found the ring full)\n",
                static_cast<unsigned long long>(dropped));
    return 0;
}
