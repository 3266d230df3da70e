// The libbpf-compatible C API: libbpf's conventions (NULL with errno, negative errno), the descriptor table, maps by
// descriptor with the errno the runtime produced, test runs, pins, ring buffers, and hooks that stand in for the
// kernel's.
#include "embpf/compat/libbpf.h"

#include "api/seed_types.hpp"
#include "embpf/api/registry.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

using embpf::testing_seeds::BindContext;
using embpf::testing_seeds::ProcessInfo;

const std::string kCompat = std::string(EMBPF_TEST_COMPAT_DIR) + "/compat.o";
const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;

std::string g_log;

int capture(libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_WARN) {
        char buffer[8192];
        std::vsnprintf(buffer, sizeof buffer, format, args);
        g_log += buffer;
    }
    return 0;
}

// Captures what the API prints while it lives, and restores the callback before.
struct Log {
    Log() : m_before(libbpf_set_print(capture)) { g_log.clear(); }
    ~Log() { libbpf_set_print(m_before); }
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;
    [[nodiscard]] bool has(const std::string& part) const { return g_log.find(part) != std::string::npos; }

  private:
    libbpf_print_fn_t m_before;
};

// The compat object loaded without the program the verifier rejects.
struct Loaded {
    bpf_object* obj = nullptr;
    Loaded() {
        obj = bpf_object__open(kCompat.c_str());
        REQUIRE(obj != nullptr);
        REQUIRE(bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "unchecked"), false) == 0);
        REQUIRE(bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "probe"), false) == 0);
        REQUIRE(bpf_object__load(obj) == 0);
    }
    ~Loaded() { bpf_object__close(obj); }
    Loaded(const Loaded&) = delete;
    Loaded& operator=(const Loaded&) = delete;
    [[nodiscard]] int map_fd(const char* name) const { return bpf_object__find_map_fd_by_name(obj, name); }
    [[nodiscard]] int prog_fd(const char* name) const {
        return bpf_program__fd(bpf_object__find_program_by_name(obj, name));
    }
};

int test_run(int fd, std::vector<std::uint8_t>& packet, std::uint32_t* retval = nullptr) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(),
                .data_size_in = static_cast<std::uint32_t>(packet.size()));
    const int err = bpf_prog_test_run_opts(fd, &opts);
    if (retval != nullptr) {
        *retval = opts.retval;
    }
    return err;
}

} // namespace

TEST_SUITE_BEGIN("compat");

TEST_CASE("libbpf: opening fails with NULL and errno; a rejected program fails the load with -EACCES and its report") {
    errno = 0;
    CHECK(bpf_object__open("/nonexistent/object.o") == nullptr);
    CHECK(errno == ENOENT);
    errno = 0;
    CHECK(bpf_object__open(nullptr) == nullptr);
    CHECK(errno == EINVAL);
    const char junk[] = "not an ELF file";
    CHECK(bpf_object__open_mem(junk, sizeof junk, nullptr) == nullptr);
    CHECK(errno == EINVAL);

    const Log log;
    bpf_object* obj = bpf_object__open(kCompat.c_str());
    REQUIRE(obj != nullptr);
    CHECK(std::string(bpf_object__name(obj)) == "compat");
    // Before the load the programs and maps are known, without descriptors.
    bpf_program* prog = bpf_object__find_program_by_name(obj, "count_packets");
    REQUIRE(prog != nullptr);
    CHECK(std::string(bpf_program__section_name(prog)) == "xdp");
    CHECK(bpf_program__fd(prog) == -EINVAL);
    CHECK(bpf_program__insn_cnt(prog) > 10);
    bpf_map* lengths = bpf_object__find_map_by_name(obj, "lengths");
    REQUIRE(lengths != nullptr);
    CHECK(bpf_map__type(lengths) == BPF_MAP_TYPE_HASH);
    CHECK(bpf_map__key_size(lengths) == 4);
    CHECK(bpf_map__value_size(lengths) == 8);
    CHECK(bpf_map__max_entries(lengths) == 4);
    CHECK(bpf_map__fd(lengths) == -EINVAL);
    CHECK(bpf_object__find_map_by_name(obj, "nope") == nullptr);
    CHECK(errno == ENOENT);

    CHECK(bpf_object__load(obj) == -EACCES);
    CHECK(errno == EACCES);
    CHECK(log.has("failed to load object 'compat'"));
    CHECK(log.has("unchecked"));
    CHECK(log.has("Verification failed"));
    // Nothing loaded; a second attempt is refused, as libbpf refuses it.
    CHECK(bpf_program__fd(prog) == -EINVAL);
    CHECK(bpf_object__load(obj) == -EINVAL);
    CHECK(bpf_program__set_autoload(prog, false) == -EBUSY);
    bpf_object__close(obj);
    bpf_object__close(nullptr);
}

TEST_CASE("libbpf: programs and maps of a loaded object have descriptors from the table, far above the system's") {
    const Loaded loaded;
    std::vector<std::string> names;
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, loaded.obj) {
        names.emplace_back(bpf_program__name(prog));
        if (names.back() == "unchecked" || names.back() == "probe") {
            CHECK_FALSE(bpf_program__autoload(prog));
            CHECK(bpf_program__fd(prog) == -EINVAL);
        } else {
            CHECK(bpf_program__autoload(prog));
            CHECK(bpf_program__fd(prog) >= EMBPF_FD_BASE);
        }
    }
    CHECK(names == std::vector<std::string>{"count_packets", "tail_target", "jumper", "unchecked", "probe"});
    std::vector<std::string> maps;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, loaded.obj) {
        maps.emplace_back(bpf_map__name(map));
        CHECK(bpf_map__fd(map) >= EMBPF_FD_BASE);
    }
    CHECK(maps.size() >= 7); // the six maps and .rodata
    CHECK(bpf_map__set_max_entries(bpf_object__find_map_by_name(loaded.obj, "lengths"), 8) == -EBUSY);
    CHECK(bpf_map__type(bpf_object__find_map_by_name(loaded.obj, "events")) == BPF_MAP_TYPE_RINGBUF);
    CHECK(bpf_map__type(bpf_object__find_map_by_name(loaded.obj, "per_cpu")) == BPF_MAP_TYPE_PERCPU_ARRAY);
    // A descriptor that is not the table's, or not a map.
    std::uint32_t key = 0;
    std::uint64_t value = 0;
    CHECK(bpf_map_lookup_elem(3, &key, &value) == -EBADF);
    CHECK(errno == EBADF);
    CHECK(bpf_map_lookup_elem(loaded.prog_fd("count_packets"), &key, &value) == -EBADF);
    // The object's own descriptors are not the caller's to close.
    CHECK(embpf_fd_close(loaded.map_fd("lengths")) == -EBADF);
}

TEST_CASE("libbpf: max_entries set before the load sizes the map") {
    bpf_object* obj = bpf_object__open(kCompat.c_str());
    REQUIRE(obj != nullptr);
    REQUIRE(bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "unchecked"), false) == 0);
    REQUIRE(bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "probe"), false) == 0);
    bpf_map* lengths = bpf_object__find_map_by_name(obj, "lengths");
    REQUIRE(bpf_map__set_max_entries(lengths, 2) == 0);
    REQUIRE(bpf_object__load(obj) == 0);
    CHECK(bpf_map__max_entries(lengths) == 2);
    const int fd = bpf_map__fd(lengths);
    const std::uint64_t one = 1;
    for (std::uint32_t key = 0; key < 2; ++key) {
        CHECK(bpf_map_update_elem(fd, &key, &one, BPF_ANY) == 0);
    }
    const std::uint32_t third = 2;
    CHECK(bpf_map_update_elem(fd, &third, &one, BPF_ANY) == -E2BIG);
    CHECK(errno == E2BIG);
    bpf_object__close(obj);
}

TEST_CASE("libbpf: map calls return the errno the runtime produced") {
    const Loaded loaded;
    const int lengths = loaded.map_fd("lengths");
    std::uint32_t key = 7;
    std::uint64_t value = 70;
    std::uint64_t read = 0;
    CHECK(bpf_map_lookup_elem(lengths, &key, &read) == -ENOENT);
    CHECK(errno == ENOENT);
    CHECK(bpf_map_update_elem(lengths, &key, &value, BPF_EXIST) == -ENOENT);
    CHECK(bpf_map_update_elem(lengths, &key, &value, BPF_NOEXIST) == 0);
    CHECK(bpf_map_update_elem(lengths, &key, &value, BPF_NOEXIST) == -EEXIST);
    CHECK(errno == EEXIST);
    CHECK(bpf_map_update_elem(lengths, &key, &value, 99) == -EINVAL);
    CHECK(bpf_map_lookup_elem(lengths, &key, &read) == 0);
    CHECK(read == 70);
    // Full: max_entries 4.
    for (std::uint32_t k = 100; k < 103; ++k) {
        CHECK(bpf_map_update_elem(lengths, &k, &value, BPF_ANY) == 0);
    }
    std::uint32_t fifth = 200;
    CHECK(bpf_map_update_elem(lengths, &fifth, &value, BPF_ANY) == -E2BIG);
    // Iteration: every key once, then -ENOENT.
    std::vector<std::uint32_t> keys;
    std::uint32_t next = 0;
    const std::uint32_t* previous = nullptr;
    std::uint32_t current = 0;
    while (bpf_map_get_next_key(lengths, previous, &next) == 0) {
        keys.push_back(next);
        current = next;
        previous = &current;
        REQUIRE(keys.size() <= 4);
    }
    CHECK(errno == ENOENT);
    CHECK(keys.size() == 4);
    CHECK(bpf_map_delete_elem(lengths, &key) == 0);
    CHECK(bpf_map_delete_elem(lengths, &key) == -ENOENT);

    // Arrays: an index past max_entries is E2BIG, BPF_NOEXIST is EEXIST, deleting is refused.
    const int slots = loaded.map_fd("slots");
    std::uint32_t index = 4;
    CHECK(bpf_map_update_elem(slots, &index, &value, BPF_ANY) == -E2BIG);
    index = 1;
    CHECK(bpf_map_update_elem(slots, &index, &value, BPF_NOEXIST) == -EEXIST);
    CHECK(bpf_map_update_elem(slots, &index, &value, BPF_ANY) == 0);
    CHECK(bpf_map_delete_elem(slots, &index) == -EINVAL);

    // .rodata is frozen after the load: EPERM, as Linux's BPF_MAP_FREEZE.
    bpf_map* rodata = nullptr;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, loaded.obj) {
        if (std::string(bpf_map__name(map)).find("rodata") != std::string::npos) {
            rodata = map;
        }
    }
    REQUIRE(rodata != nullptr);
    std::vector<std::uint8_t> bytes(bpf_map__value_size(rodata));
    const std::uint32_t zero = 0;
    CHECK(bpf_map_lookup_elem(bpf_map__fd(rodata), &zero, bytes.data()) == 0);
    std::uint32_t drop_above = 0;
    std::memcpy(&drop_above, bytes.data(), sizeof drop_above);
    CHECK(drop_above == 1000);
    CHECK(bpf_map_update_elem(bpf_map__fd(rodata), &zero, bytes.data(), BPF_ANY) == -EPERM);

    // The typed bpf_map__ calls check the sizes they are given.
    bpf_map* lengths_map = bpf_object__find_map_by_name(loaded.obj, "lengths");
    CHECK(bpf_map__lookup_elem(lengths_map, &key, 2, &read, sizeof read, 0) == -EINVAL);
    CHECK(bpf_map__lookup_elem(lengths_map, &key, sizeof key, &read, 4, 0) == -EINVAL);
    key = 100;
    CHECK(bpf_map__lookup_elem(lengths_map, &key, sizeof key, &read, sizeof read, 0) == 0);
    CHECK(read == 70);
    CHECK(bpf_map__update_elem(lengths_map, &key, sizeof key, &value, sizeof value, BPF_NOEXIST) == -EEXIST);
    CHECK(bpf_map__delete_elem(lengths_map, &key, sizeof key, 0) == 0);
    std::uint32_t first = 0;
    CHECK(bpf_map__get_next_key(lengths_map, nullptr, &first, sizeof first) == 0);
}

TEST_CASE("libbpf: queues take a NULL key; per-CPU maps exchange every slot's value") {
    const Loaded loaded;
    const int jobs = loaded.map_fd("jobs");
    for (std::uint32_t job = 1; job <= 2; ++job) {
        CHECK(bpf_map_update_elem(jobs, nullptr, &job, BPF_ANY) == 0);
    }
    const std::uint32_t third = 3;
    CHECK(bpf_map_update_elem(jobs, nullptr, &third, BPF_ANY) == -E2BIG);
    std::uint32_t job = 0;
    CHECK(bpf_map_lookup_elem(jobs, nullptr, &job) == 0); // peeks
    CHECK(job == 1);
    CHECK(bpf_map_lookup_and_delete_elem(jobs, nullptr, &job) == 0); // pops
    CHECK(job == 1);
    CHECK(bpf_map_lookup_and_delete_elem(jobs, nullptr, &job) == 0);
    CHECK(job == 2);
    CHECK(bpf_map_lookup_and_delete_elem(jobs, nullptr, &job) == -ENOENT);
    std::uint32_t next = 0;
    CHECK(bpf_map_get_next_key(jobs, nullptr, &next) == -EINVAL);
    // A key where the map has none, and none where it has one, as Linux's syscall refuses them.
    const std::uint32_t some_key = 0;
    CHECK(bpf_map_update_elem(jobs, &some_key, &job, BPF_ANY) == -EINVAL);
    CHECK(bpf_map_lookup_elem(loaded.map_fd("lengths"), nullptr, &job) == -EINVAL);

    std::vector<std::uint8_t> packet(60, 0);
    REQUIRE(test_run(loaded.prog_fd("count_packets"), packet) == 0);
    const int cpus = libbpf_num_possible_cpus();
    REQUIRE(cpus >= 1);
    std::vector<std::uint64_t> values(static_cast<std::size_t>(cpus)); // each slot's __u32 rounded up to 8 bytes
    const std::uint32_t zero = 0;
    REQUIRE(bpf_map_lookup_elem(loaded.map_fd("per_cpu"), &zero, values.data()) == 0);
    std::uint64_t total = 0;
    for (const std::uint64_t v : values) {
        total += v;
    }
    CHECK(total == 1);
}

TEST_CASE("libbpf: bpf_prog_test_run_opts runs a program on a packet as Linux's BPF_PROG_TEST_RUN") {
    const Loaded loaded;
    const int fd = loaded.prog_fd("count_packets");
    std::vector<std::uint8_t> packet(60, 0x11);
    std::vector<std::uint8_t> out(60);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(), .data_out = out.data(), .data_size_in = 60,
                .data_size_out = 60, .repeat = 3);
    REQUIRE(bpf_prog_test_run_opts(fd, &opts) == 0);
    CHECK(opts.retval == 2); // XDP_PASS
    CHECK(opts.data_size_out == 60);
    CHECK(out[0] == 0xAA);
    CHECK(out[1] == 0x11);
    std::uint32_t length = 60;
    std::uint64_t seen = 0;
    CHECK(bpf_map_lookup_elem(loaded.map_fd("lengths"), &length, &seen) == 0);
    CHECK(seen == 3);

    // A packet longer than drop_above is dropped.
    std::vector<std::uint8_t> big(1200, 0);
    std::uint32_t retval = 0;
    CHECK(test_run(fd, big, &retval) == 0);
    CHECK(retval == 1); // XDP_DROP

    // data_out too small: what fits is copied, the size says how much there was, and the call fails with ENOSPC.
    std::vector<std::uint8_t> small(10);
    LIBBPF_OPTS(bpf_test_run_opts, truncated, .data_in = packet.data(), .data_out = small.data(), .data_size_in = 60,
                .data_size_out = 10);
    CHECK(bpf_prog_test_run_opts(fd, &truncated) == -ENOSPC);
    CHECK(truncated.data_size_out == 60);
    CHECK(small[0] == 0xAA);

    // What the kernel would refuse.
    LIBBPF_OPTS(bpf_test_run_opts, flagged, .data_in = packet.data(), .data_size_in = 60, .flags = 1);
    CHECK(bpf_prog_test_run_opts(fd, &flagged) == -EINVAL);
    LIBBPF_OPTS(bpf_test_run_opts, missing, .data_size_in = 60);
    CHECK(bpf_prog_test_run_opts(fd, &missing) == -EINVAL);
    CHECK(bpf_prog_test_run_opts(fd, nullptr) == -EINVAL);
    CHECK(bpf_prog_test_run_opts(loaded.map_fd("lengths"), &opts) == -EBADF);

    // An older caller's struct: the fields past its sz are 0 (repeat: 1), and nothing past it is written.
    LIBBPF_OPTS(bpf_test_run_opts, older, .data_in = packet.data(), .data_size_in = 60, .retval = 77, .repeat = 5,
                .duration = 12345);
    older.sz = offsetof(bpf_test_run_opts, retval);
    CHECK(bpf_prog_test_run_opts(fd, &older) == 0);
    CHECK(older.retval == 77);
    CHECK(older.duration == 12345);
    older.sz = offsetof(bpf_test_run_opts, repeat);
    CHECK(bpf_prog_test_run_opts(fd, &older) == 0);
    CHECK(older.retval == 2);
    CHECK(older.duration == 12345);
    older.sz = 4; // too small to hold sz itself
    CHECK(bpf_prog_test_run_opts(fd, &older) == -EINVAL);
    // A newer caller's struct: bytes past this header's fields must be 0.
    struct {
        bpf_test_run_opts opts;
        std::uint64_t newer_field;
    } newer{};
    newer.opts.sz = sizeof newer;
    newer.opts.data_in = packet.data();
    newer.opts.data_size_in = 60;
    CHECK(bpf_prog_test_run_opts(fd, &newer.opts) == 0);
    CHECK(newer.opts.retval == 2);
    newer.newer_field = 1;
    CHECK(bpf_prog_test_run_opts(fd, &newer.opts) == -EINVAL);
    bpf_object_open_opts open_opts{};
    open_opts.sz = 4;
    CHECK(bpf_object__open_file(kCompat.c_str(), &open_opts) == nullptr);
    CHECK(errno == EINVAL);
    LIBBPF_OPTS(bpf_object_open_opts, named, .object_name = "renamed");
    bpf_object* renamed = bpf_object__open_file(kCompat.c_str(), &named);
    REQUIRE(renamed != nullptr);
    CHECK(std::string(bpf_object__name(renamed)) == "renamed");
    bpf_object__close(renamed);
}

TEST_CASE("libbpf: plugins are untrusted unless the host says otherwise: no helper reads its memory") {
    const auto load_probe = [] {
        bpf_object* obj = bpf_object__open(kCompat.c_str());
        REQUIRE(obj != nullptr);
        REQUIRE(bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "unchecked"), false) == 0);
        const int err = bpf_object__load(obj);
        bpf_object__close(obj);
        return err;
    };
    {
        const Log log;
        CHECK(load_probe() < 0);
        CHECK(log.has("probe"));
    }
    embpf_trust_plugins(true);
    CHECK(load_probe() == 0);
    embpf_trust_plugins(false);
    CHECK(load_probe() < 0);
}

TEST_CASE("libbpf: a program array takes a program's descriptor, as Linux's tail-call tables") {
    const Loaded loaded;
    std::vector<std::uint8_t> packet(20, 0);
    std::uint32_t retval = 99;
    REQUIRE(test_run(loaded.prog_fd("jumper"), packet, &retval) == 0);
    CHECK(retval == 0); // XDP_ABORTED: the slot is empty
    const std::uint32_t slot = 0;
    const int target = loaded.prog_fd("tail_target");
    REQUIRE(bpf_map_update_elem(loaded.map_fd("jumps"), &slot, &target, BPF_ANY) == 0);
    REQUIRE(test_run(loaded.prog_fd("jumper"), packet, &retval) == 0);
    CHECK(retval == 3); // XDP_TX, from tail_target
    const int not_a_program = loaded.map_fd("lengths");
    CHECK(bpf_map_update_elem(loaded.map_fd("jumps"), &slot, &not_a_program, BPF_ANY) == -EBADF);
    const std::uint32_t past = 2;
    CHECK(bpf_map_update_elem(loaded.map_fd("jumps"), &past, &target, BPF_ANY) == -E2BIG);
}

TEST_CASE("libbpf: pins keep a map past its object; bpf_obj_get gives the caller a descriptor of its own") {
    const char* path = "/sys/fs/bpf/compat_test_lengths";
    int fd = -1;
    {
        const Loaded loaded;
        bpf_map* lengths = bpf_object__find_map_by_name(loaded.obj, "lengths");
        REQUIRE(bpf_map__pin(lengths, path) == 0);
        CHECK(bpf_map__pin(lengths, path) == -EEXIST);
        const std::uint32_t key = 5;
        const std::uint64_t value = 55;
        REQUIRE(bpf_map__update_elem(lengths, &key, sizeof key, &value, sizeof value, BPF_ANY) == 0);
        CHECK(bpf_obj_pin(loaded.prog_fd("count_packets"), "/sys/fs/bpf/compat_test_prog") == 0);
    }
    // The object is closed; the pinned map lives on.
    fd = bpf_obj_get(path);
    REQUIRE(fd >= EMBPF_FD_BASE);
    const std::uint32_t key = 5;
    std::uint64_t value = 0;
    CHECK(bpf_map_lookup_elem(fd, &key, &value) == 0);
    CHECK(value == 55);
    const int prog = bpf_obj_get("/sys/fs/bpf/compat_test_prog");
    REQUIRE(prog >= EMBPF_FD_BASE);
    std::vector<std::uint8_t> packet(30, 0);
    std::uint32_t retval = 0;
    CHECK(test_run(prog, packet, &retval) == 0);
    CHECK(retval == 2);
    CHECK(embpf_fd_close(prog) == 0);
    CHECK(embpf_fd_close(prog) == -EBADF);
    CHECK(embpf_obj_unpin("/sys/fs/bpf/compat_test_prog") == 0);
    CHECK(embpf_obj_unpin(path) == 0);
    CHECK(embpf_obj_unpin(path) == -ENOENT);
    CHECK(bpf_obj_get(path) == -ENOENT);
    // The caller's descriptor still holds the map.
    CHECK(bpf_map_lookup_elem(fd, &key, &value) == 0);
    CHECK(embpf_fd_close(fd) == 0);
    CHECK(bpf_map_lookup_elem(fd, &key, &value) == -EBADF);
}

TEST_CASE("libbpf: descriptors by registry id") {
    const Loaded loaded;
    // The newest map named slots is the object's (the registry lists maps in id order).
    std::uint32_t id = 0;
    for (const embpf::MapInfo& map : embpf::Registry::maps()) {
        if (map.name == "slots") {
            id = map.id;
        }
    }
    REQUIRE(id != 0);
    const int fd = bpf_map_get_fd_by_id(id);
    REQUIRE(fd >= EMBPF_FD_BASE);
    const std::uint32_t key = 1;
    const std::uint64_t value = 11;
    REQUIRE(bpf_map_update_elem(fd, &key, &value, BPF_ANY) == 0);
    std::uint64_t read = 0;
    CHECK(bpf_map_lookup_elem(loaded.map_fd("slots"), &key, &read) == 0);
    CHECK(read == 11);
    CHECK(embpf_fd_close(fd) == 0);
    CHECK(bpf_map_get_fd_by_id(0) == -ENOENT);
    CHECK(bpf_prog_get_fd_by_id(0) == -ENOENT);
}

TEST_CASE("libbpf: ring_buffer__poll hands each record to the callback; a negative return stops it") {
    const Loaded loaded;
    struct Seen {
        std::vector<std::uint32_t> lengths;
        int fail_after = -1;
    } seen;
    const auto on_record = [](void* ctx, void* data, size_t size) -> int {
        auto& s = *static_cast<Seen*>(ctx);
        if (size != sizeof(std::uint32_t)) {
            return -EINVAL;
        }
        std::uint32_t length = 0;
        std::memcpy(&length, data, sizeof length);
        s.lengths.push_back(length);
        return s.fail_after >= 0 && static_cast<int>(s.lengths.size()) > s.fail_after ? -EINTR : 0;
    };
    ring_buffer* rb = ring_buffer__new(loaded.map_fd("events"), on_record, &seen, nullptr);
    REQUIRE(rb != nullptr);
    CHECK(ring_buffer__poll(rb, 0) == 0);
    for (const std::size_t size : {20U, 30U, 40U}) {
        std::vector<std::uint8_t> packet(size, 0);
        REQUIRE(test_run(loaded.prog_fd("count_packets"), packet) == 0);
    }
    CHECK(ring_buffer__poll(rb, 100) == 3);
    CHECK(seen.lengths == std::vector<std::uint32_t>{20, 30, 40});
    seen.lengths.clear();
    seen.fail_after = 0;
    for (const std::size_t size : {50U, 60U}) {
        std::vector<std::uint8_t> packet(size, 0);
        REQUIRE(test_run(loaded.prog_fd("count_packets"), packet) == 0);
    }
    CHECK(ring_buffer__poll(rb, 100) == -EINTR);
    CHECK(seen.lengths == std::vector<std::uint32_t>{50});
    seen.fail_after = -1;
    CHECK(ring_buffer__consume(rb) == 1); // the record after the one that stopped the poll
    CHECK(seen.lengths == std::vector<std::uint32_t>{50, 60});
    ring_buffer__free(rb);

    // A consumer of two rings: the second map is no ring buffer, so it is refused; two rings of one map are fine.
    rb = ring_buffer__new(loaded.map_fd("events"), on_record, &seen, nullptr);
    REQUIRE(rb != nullptr);
    CHECK(ring_buffer__add(rb, loaded.map_fd("lengths"), on_record, &seen) == -EINVAL);
    CHECK(ring_buffer__add(rb, 12345, on_record, &seen) == -EBADF);
    REQUIRE(ring_buffer__add(rb, loaded.map_fd("events"), on_record, &seen) == 0);
    std::vector<std::uint8_t> packet(70, 0);
    REQUIRE(test_run(loaded.prog_fd("count_packets"), packet) == 0);
    CHECK(ring_buffer__poll(rb, 100) == 1);
    CHECK(ring_buffer__poll(rb, 10) == 0); // nothing more: waits its 10 ms
    ring_buffer__free(rb);

    // A callback may add rings to its consumer while it consumes; consuming a map it is consuming is -EBUSY (it
    // would wait for itself).
    struct Nested {
        ring_buffer* rb = nullptr;
        ring_buffer* other = nullptr;
        int map_fd = -1;
        int records = 0;
        std::vector<int> results;
    } nested;
    const auto nesting = [](void* ctx, void*, size_t) -> int {
        auto& n = *static_cast<Nested*>(ctx);
        ++n.records;
        if (n.records == 1) {
            for (int i = 0; i < 8; ++i) { // enough to move a vector's elements
                n.results.push_back(ring_buffer__add(
                    n.rb, n.map_fd, [](void*, void*, size_t) { return 0; }, nullptr));
            }
            n.results.push_back(ring_buffer__poll(n.rb, 0));
            n.results.push_back(ring_buffer__consume(n.other));
        }
        return 0;
    };
    nested.map_fd = loaded.map_fd("events");
    nested.rb = ring_buffer__new(nested.map_fd, nesting, &nested, nullptr);
    nested.other = ring_buffer__new(nested.map_fd, on_record, &seen, nullptr);
    REQUIRE(nested.rb != nullptr);
    REQUIRE(nested.other != nullptr);
    for (const std::size_t size : {80U, 90U}) {
        std::vector<std::uint8_t> p(size, 0);
        REQUIRE(test_run(loaded.prog_fd("count_packets"), p) == 0);
    }
    CHECK(ring_buffer__poll(nested.rb, 100) == 2);
    CHECK(nested.records == 2);
    CHECK(nested.results == std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, -EBUSY, -EBUSY});
    ring_buffer__free(nested.other);
    ring_buffer__free(nested.rb);

    errno = 0;
    CHECK(ring_buffer__new(loaded.map_fd("lengths"), on_record, nullptr, nullptr) == nullptr);
    CHECK(errno == EINVAL);
    CHECK(ring_buffer__new(loaded.map_fd("events"), nullptr, nullptr, nullptr) == nullptr);
    CHECK(errno == EINVAL);
}

TEST_CASE("libbpf: bpf_program__attach attaches to the hook of the program's type; destroying the link detaches") {
    // The seeds are eBPF for Windows programs: the bind monitor on bind events.
    bpf_object* obj = bpf_object__open((kSeeds + "/TraceConnections.o").c_str());
    REQUIRE(obj != nullptr);
    bpf_program* prog = bpf_object__find_program_by_name(obj, "TraceConnections");
    REQUIRE(prog != nullptr);
    CHECK(bpf_program__attach(prog) == nullptr); // not loaded yet
    CHECK(errno == EINVAL);
    REQUIRE(bpf_object__load(obj) == 0);
    const std::size_t before = embpf_hook_attached("bind");
    bpf_link* link = bpf_program__attach(prog);
    REQUIRE(link != nullptr);
    CHECK(embpf_hook_attached("bind") == before + 1);

    const char app[] = "C:\\app.exe";
    BindContext ctx{};
    ctx.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    ctx.app_id_end = ctx.app_id_start + sizeof app - 1;
    ctx.process_id = 77;
    std::uint64_t verdict = 99;
    REQUIRE(embpf_hook_invoke("bind", &ctx, sizeof ctx, &verdict) == 0);
    CHECK(verdict == 0); // BIND_PERMIT
    REQUIRE(embpf_hook_invoke("bind", &ctx, sizeof ctx, &verdict) == 0);
    const int proc_map = bpf_object__find_map_fd_by_name(obj, "proc_map");
    ProcessInfo info{};
    const std::uint32_t pid = 77;
    REQUIRE(bpf_map_lookup_elem(proc_map, &pid, &info) == 0);
    CHECK(info.count == 2);
    CHECK(std::string(info.name) == app);

    // A context the type refuses (too small) is an error, not a run.
    {
        const Log log;
        CHECK(embpf_hook_invoke("bind", &ctx, 8, &verdict) == -EINVAL);
        CHECK(log.has("hook 'bind'"));
    }

    // Closing the object does not detach: the link holds the program, as a libbpf link holds its program.
    bpf_object__close(obj);
    REQUIRE(embpf_hook_invoke("bind", &ctx, sizeof ctx, &verdict) == 0);
    CHECK(bpf_link__detach(link) == 0);
    CHECK(embpf_hook_attached("bind") == before);
    CHECK(bpf_link__destroy(link) == 0);
    CHECK(bpf_link__destroy(nullptr) == 0);
    // A hook nothing attached to runs nothing.
    CHECK(embpf_hook_invoke("no_such_type", &ctx, sizeof ctx, &verdict) == 0);
    CHECK(verdict == 0);
}

TEST_CASE(
    "libbpf: bpf_link__update_program swaps the program; embpf_set_platform chooses the platform of later opens") {
    bpf_object* obj = bpf_object__open((kSeeds + "/TraceConnections.o").c_str());
    REQUIRE(obj != nullptr);
    REQUIRE(bpf_object__load(obj) == 0);
    bpf_object* other = bpf_object__open((kSeeds + "/TraceConnections.o").c_str());
    REQUIRE(other != nullptr);
    REQUIRE(bpf_object__load(other) == 0);
    bpf_link* link = bpf_program__attach(bpf_object__find_program_by_name(obj, "TraceConnections"));
    REQUIRE(link != nullptr);
    CHECK(bpf_link__update_program(link, bpf_object__find_program_by_name(other, "TraceConnections")) == 0);
    CHECK(bpf_link__destroy(link) == 0);
    bpf_object__close(other);
    bpf_object__close(obj);

    // The seed is a Windows object: loaded for Linux, whose bind type it does not find, it fails to load.
    const Log log;
    REQUIRE(embpf_set_platform("linux") == 0);
    obj = bpf_object__open((kSeeds + "/TraceConnections.o").c_str());
    REQUIRE(obj != nullptr);
    CHECK(bpf_object__load(obj) < 0);
    bpf_object__close(obj);
    CHECK(embpf_set_platform("/nonexistent.json") == -ENOENT);
    CHECK(embpf_set_platform("/dev/zero") == -EFBIG); // never ends: read up to its limit
    CHECK(embpf_set_platform("/") == -EISDIR);
    REQUIRE(embpf_set_platform(nullptr) == 0);
    obj = bpf_object__open((kSeeds + "/TraceConnections.o").c_str());
    REQUIRE(obj != nullptr);
    CHECK(bpf_object__load(obj) == 0);
    bpf_object__close(obj);
}

#if defined(EMBPF_TEST_REQUEST_HOST) && defined(EMBPF_TEST_REQUEST_PLUGIN)
namespace {
std::string g_logged;
std::uint64_t log_request(std::uint64_t path, std::uint64_t size, std::uint64_t, std::uint64_t, std::uint64_t) {
    g_logged.assign(reinterpret_cast<const char*>(path), size);
    return 0;
}
} // namespace

TEST_CASE("libbpf: a host's custom hook described in JSON, its helper given by the host, runs attached plugins") {
    // Before a platform is chosen there is nothing to give a helper to.
    REQUIRE(embpf_set_platform(nullptr) == 0);
    CHECK(embpf_set_helper("log_request", log_request) == -EINVAL);
    REQUIRE(embpf_set_platform(EMBPF_TEST_REQUEST_HOST) == 0);
    CHECK(embpf_set_helper("no_such_helper", log_request) == -ENOENT);
    REQUIRE(embpf_set_helper("log_request", log_request) == 0);
    bpf_object* obj = bpf_object__open(EMBPF_TEST_REQUEST_PLUGIN);
    REQUIRE(embpf_set_platform(nullptr) == 0);
    REQUIRE(obj != nullptr);
    REQUIRE(bpf_object__load(obj) == 0);
    bpf_link* link = bpf_program__attach(bpf_object__find_program_by_name(obj, "count_slashes"));
    REQUIRE(link != nullptr);
    CHECK(embpf_hook_attached("request") == 1);

    // request_host.json's context: path and its length, method, a writable body, status.
    struct RequestContext {
        const char* path;
        std::uint32_t path_len;
        std::uint32_t method;
        std::uint8_t reserved[16];
        std::uint8_t* body;
        std::uint32_t body_len;
        std::uint32_t status;
    };
    static_assert(sizeof(RequestContext) == 48);
    const std::string shallow = "/a/b";
    const std::string deep = "/a/b/c/d/e";
    std::uint8_t body[16] = {};
    RequestContext ctx{};
    ctx.body = body; // even an empty region lies in the host's memory: the entry checks refuse a null pointer
    ctx.path = shallow.c_str();
    ctx.path_len = static_cast<std::uint32_t>(shallow.size());
    std::uint64_t verdict = 99;
    REQUIRE(embpf_hook_invoke("request", &ctx, sizeof ctx, &verdict) == 0);
    CHECK(verdict == 0); // ALLOW
    CHECK(ctx.status == 2);
    CHECK(g_logged == shallow);
    ctx.path = deep.c_str();
    ctx.path_len = static_cast<std::uint32_t>(deep.size());
    REQUIRE(embpf_hook_invoke("request", &ctx, sizeof ctx, &verdict) == 0);
    CHECK(verdict == 1); // DENY
    CHECK(ctx.status == 5);
    CHECK(g_logged == deep);
    CHECK(bpf_link__destroy(link) == 0);
    CHECK(embpf_hook_attached("request") == 0);
    bpf_object__close(obj);
}
#endif

TEST_CASE("libbpf: libbpf_strerror and the defaults") {
    char buffer[64];
    CHECK(libbpf_strerror(-ENOENT, buffer, sizeof buffer) == 0);
    CHECK(std::string(buffer) == "No such file or directory");
    CHECK(libbpf_strerror(-E2BIG, buffer, 4) == 0);
    CHECK(std::string(buffer) == "Arg");
    CHECK(libbpf_strerror(1, nullptr, 0) == -EINVAL);
    CHECK(bpf_program__name(nullptr) == nullptr);
    CHECK(bpf_program__set_autoload(nullptr, true) == -EINVAL);
    CHECK(bpf_object__find_program_by_name(nullptr, "x") == nullptr);
    CHECK(bpf_object__load(nullptr) == -EINVAL);
    CHECK(bpf_map__fd(nullptr) == -EINVAL);
    CHECK(ring_buffer__poll(nullptr, 0) == -EINVAL);
}

TEST_SUITE_END();
