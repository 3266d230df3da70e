// embpf-corpus: verifies every program of the ebpf-samples corpus listed in expected.csv and prints how many
// valid and invalid programs embpf accepts, beside PREVAIL's and Linux's verdicts from the same file, the first
// message of each rejection (numbers and registers folded, so that like causes count together) and the time taken.
//
//   embpf-corpus CORPUS_DIR EXPECTED_CSV [--verdicts FILE] [--platform linux|windows]
//
// --verdicts writes one line per program: file,section,program,expected,prevail,linux,embpf,message,microseconds,work
// (work: Report::analysis_work, the measure of analysis cost that does not depend on the machine's load).
#include "embpf/api/object_spec.hpp"
#include "embpf/verifier/verifier.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Row {
    std::string file, section, program, expected, prevail, linux_verdict;
};

struct Verdict {
    bool accepted = false;
    std::string message; ///< the first error, or why the program could not be verified
    std::chrono::microseconds time{0};
    std::uint64_t bound = 0; ///< the verifier's instruction bound, for accepted programs
    std::uint64_t work = 0;  ///< Report::analysis_work
};

std::vector<Row> read_expected(const std::string& path) {
    std::ifstream in(path);
    std::vector<Row> rows;
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        std::vector<std::string> fields;
        std::stringstream stream(line);
        std::string field;
        while (std::getline(stream, field, ',')) {
            fields.push_back(field);
        }
        if (fields.size() < 6) {
            continue;
        }
        rows.push_back({fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]});
    }
    return rows;
}

// Sections such as Cilium's "2/1" or "from-netdev" name no program type: the project's own loader gives them one.
// These are the types those loaders give, by object path prefix (the first match counts); like `embpf verify
// --default-type`, they apply only to programs whose section names no type.
struct DefaultType {
    std::string_view prefix;
    std::string_view type;
    std::string_view loader;
};
constexpr DefaultType kDefaultTypes[] = {
    {"cilium/bpf_xdp", "xdp", "ip link set dev DEV xdp obj OBJ sec from-netdev"},
    {"cilium/", "sched_cls", "tc filter add dev DEV ingress bpf da obj OBJ sec SEC"},
    {"bpf_cilium_test/", "sched_cls", "tc filter add dev DEV ingress bpf da obj OBJ sec SEC"},
    {"linux/tc_l2_redirect_kern.o", "sched_cls", "tc filter add dev DEV ingress bpf da obj OBJ sec SEC"},
    {"linux/tcbpf1_kern.o", "sched_cls", "tc filter add dev DEV egress bpf da obj OBJ sec redirect_xmit"},
    {"linux/test_cgrp2_tc_kern.o", "sched_cls", "tc filter add dev DEV egress bpf da obj OBJ sec filter"},
    {"linux/lwt_len_hist_kern.o", "lwt_out", "ip route add ADDR encap bpf out obj OBJ section len_hist dev DEV"},
    {"prototype-kernel/tc_bench01_redirect_kern.o", "sched_cls", "tc filter add dev DEV ingress bpf da obj OBJ"},
    {"ovs/", "sched_cls", "OVS's eBPF datapath is attached with tc filter ... bpf da obj OBJ sec SEC"},
    {"suricata/", "socket_filter", "Suricata attaches section filter with SO_ATTACH_BPF"},
    {"cilium-ebpf/loader", "socket_filter", "cilium/ebpf's loader tests load them as socket filters"},
    {"build/", "socket_filter", "hand-written tests whose programs do not read their context"},
};

std::string default_type(const std::string& file) {
    for (const DefaultType& d : kDefaultTypes) {
        if (file.rfind(d.prefix, 0) == 0) {
            return std::string(d.type);
        }
    }
    return {};
}

// One object, opened once for all its programs.
struct Loaded {
    std::optional<embpf::ObjectSpec> spec;
    std::optional<std::vector<embpf::verifier::MapDescriptor>> maps;
    std::string error;
    std::uint64_t analysed = 0; ///< instructions analysed for all the object's programs
    std::uint64_t work = 0;     ///< the analysis work for all of them
};

Verdict verify_row(const Row& row, Loaded& loaded) {
    Verdict verdict;
    if (!loaded.spec) {
        verdict.message = "load: " + loaded.error;
        return verdict;
    }
    const embpf::ProgramSpec* program = nullptr;
    for (const embpf::ProgramSpec& candidate : loaded.spec->programs()) {
        if (candidate.name() == row.program && candidate.section() == row.section) {
            program = &candidate;
        }
    }
    if (program == nullptr) {
        verdict.message = "not listed: the loader has no program " + row.program + " in section " + row.section;
        return verdict;
    }
    if (program->definition.unsupported) {
        verdict.message = "load: " + *program->definition.unsupported;
        return verdict;
    }
    const embpf::platform::Platform& platform = loaded.spec->platform();
    const embpf::platform::ProgramType* type = platform.program_type(program->type);
    if (type == nullptr) {
        verdict.message = "no program type matches section " + row.section;
        return verdict;
    }
    if (!loaded.maps) {
        verdict.message = "maps: " + loaded.error;
        return verdict;
    }
    const auto start = std::chrono::steady_clock::now();
    const embpf::verifier::Report report = embpf::verifier::verify(program->definition, *loaded.maps, platform, *type);
    verdict.time = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    verdict.accepted = report.verified;
    verdict.bound = report.instruction_bound.value_or(0);
    verdict.work = report.analysis_work;
    loaded.analysed += report.analysed_instructions;
    loaded.work += report.analysis_work;
    if (!report.verified) {
        verdict.message = report.errors.empty() ? "rejected without a message" : report.errors.front().message;
    }
    return verdict;
}

// "r3 must be in [0, 4]" and "r1 must be in [0, 8]" are one cause, and so are the same load error in two objects.
std::string folded(const std::string& message) {
    static const std::regex object("^load: [^ :]+: ");
    static const std::regex names("(map|program(?! type)|definition of|symbol|section) [A-Za-z0-9_.$/]+");
    static const std::regex numbers("-?[0-9]+");
    static const std::regex registers("\\br[0-9]+\\b");
    static const std::regex where("\\(program [^)]*\\)");
    std::string out = std::regex_replace(message, object, "load: ");
    out = std::regex_replace(out, where, "(program X)");
    out = std::regex_replace(out, names, "$1 X");
    out = std::regex_replace(out, registers, "rN");
    out = std::regex_replace(out, numbers, "N");
    return out.size() > 150 ? out.substr(0, 150) + "..." : out;
}

std::string csv_field(std::string text) {
    std::replace(text.begin(), text.end(), ',', ';');
    std::replace(text.begin(), text.end(), '\n', ' ');
    return text;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: embpf-corpus CORPUS_DIR EXPECTED_CSV [--verdicts FILE] [--platform linux|windows]\n";
        return 2;
    }
    const std::filesystem::path corpus = argv[1];
    const std::vector<Row> rows = read_expected(argv[2]);
    std::string verdicts_path;
    const embpf::platform::Platform* platform = &embpf::platform::linux();
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string option = argv[i];
        if (option == "--verdicts") {
            verdicts_path = argv[i + 1];
        } else if (option == "--platform") {
            platform = std::string(argv[i + 1]) == "windows" ? &embpf::platform::windows() : platform;
        } else {
            std::cerr << "embpf-corpus: unknown option " << option << '\n';
            return 2;
        }
    }
    if (rows.empty()) {
        std::cerr << "embpf-corpus: " << argv[2] << " lists no program\n";
        return 2;
    }

    std::map<std::string, Loaded> objects;
    std::ofstream verdicts;
    if (!verdicts_path.empty()) {
        verdicts.open(verdicts_path);
        verdicts << "file,section,program,expected,prevail,linux_6_18,embpf,message,microseconds,work\n";
    }
    struct Count {
        int valid = 0, invalid = 0;
    };
    Count total, embpf_ok, prevail_ok, linux_ok, either_ok, embpf_beyond_both;
    std::map<std::string, int> messages;
    std::chrono::microseconds time_total{0}, time_max{0};
    std::string slowest;
    std::uint64_t bound_max = 0;
    std::uint64_t work_max = 0;
    std::string busiest;
    std::string longest;
    int objects_failed = 0, objects_total = 0, skipped = 0;
    for (const Row& row : rows) {
        if (row.section == ".text") {
            continue;
        }
        const std::filesystem::path path = corpus / row.file;
        if (!std::filesystem::exists(path)) {
            ++skipped;
            continue;
        }
        auto [it, inserted] = objects.try_emplace(row.file);
        Loaded& loaded = it->second;
        if (inserted) {
            ++objects_total;
            auto spec = embpf::ObjectSpec::open(path, platform);
            if (spec) {
                loaded.spec.emplace(std::move(spec).value());
                const std::string fallback = default_type(row.file);
                for (embpf::ProgramSpec& program : loaded.spec->programs()) {
                    if (program.type.empty()) {
                        program.type = fallback;
                    }
                }
                auto maps = loaded.spec->map_descriptors(*platform);
                if (maps) {
                    loaded.maps = std::move(maps).value();
                } else {
                    loaded.error = maps.error().message;
                }
            } else {
                loaded.error = spec.error().message;
            }
            if (!loaded.spec || !loaded.maps) {
                ++objects_failed;
                if (row.file.rfind("invalid/", 0) != 0) {
                    std::cout << "object does not load: " << row.file << ": " << loaded.error << '\n';
                }
            }
        }
        const Verdict verdict = verify_row(row, loaded);
        const bool valid = row.expected == "valid";
        auto count = [valid](Count& c) { ++(valid ? c.valid : c.invalid); };
        count(total);
        const bool prevail = row.prevail == "accepted";
        const bool linux_accepted = row.linux_verdict == "accepted";
        if (verdict.accepted) {
            count(embpf_ok);
            if (!prevail && !linux_accepted) {
                count(embpf_beyond_both);
            }
        } else if (valid) {
            ++messages[folded(verdict.message)];
        }
        if (prevail) {
            count(prevail_ok);
        }
        if (linux_accepted) {
            count(linux_ok);
        }
        if (prevail || linux_accepted) {
            count(either_ok);
        }
        if (verdict.accepted && !valid) {
            std::cout << "INVALID PROGRAM ACCEPTED: " << row.file << " " << row.section << " " << row.program << '\n';
        }
        if (verdict.work > work_max) {
            work_max = verdict.work;
            busiest = row.file + " " + row.program;
        }
        if (verdict.bound > bound_max) {
            bound_max = verdict.bound;
            longest = row.file + " " + row.program;
        }
        time_total += verdict.time;
        if (verdict.time > time_max) {
            time_max = verdict.time;
            slowest = row.file + " " + row.program;
        }
        if (verdicts.is_open()) {
            verdicts << row.file << ',' << row.section << ',' << row.program << ',' << row.expected << ','
                     << row.prevail << ',' << row.linux_verdict << ',' << (verdict.accepted ? "accepted" : "rejected")
                     << ',' << csv_field(verdict.message) << ',' << verdict.time.count() << ',' << verdict.work << '\n';
        }
    }
    if (total.valid + total.invalid == 0) {
        std::cout << "embpf-corpus: no object of " << argv[2] << " is under " << corpus << "; nothing verified\n";
        return 0;
    }

    std::printf("\n%d programs (%d valid, %d invalid) in %d objects; %d objects do not load; %d rows skipped "
                "(object absent)\n\n",
                total.valid + total.invalid, total.valid, total.invalid, objects_total, objects_failed, skipped);
    std::printf("| verifier | valid accepted | invalid accepted |\n|---|---|---|\n");
    std::printf("| embpf | %d of %d | %d of %d |\n", embpf_ok.valid, total.valid, embpf_ok.invalid, total.invalid);
    std::printf("| PREVAIL | %d | %d |\n", prevail_ok.valid, prevail_ok.invalid);
    std::printf("| Linux 6.18 | %d | %d |\n", linux_ok.valid, linux_ok.invalid);
    std::printf("| PREVAIL or Linux | %d | %d |\n", either_ok.valid, either_ok.invalid);
    std::printf("| embpf, neither PREVAIL nor Linux | %d | %d |\n\n", embpf_beyond_both.valid,
                embpf_beyond_both.invalid);
    std::vector<std::pair<int, std::string>> sorted;
    for (const auto& [message, n] : messages) {
        sorted.emplace_back(n, message);
    }
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::printf("valid programs rejected, by first message:\n");
    for (const auto& [n, message] : sorted) {
        std::printf("%5d  %s\n", n, message.c_str());
    }
    std::printf("\nverification time: %.3f s in total, at most %.3f s (%s)\n", time_total.count() / 1e6,
                time_max.count() / 1e6, slowest.c_str());
    std::uint64_t object_max = 0;
    std::uint64_t object_work = 0;
    std::string costliest;
    std::string busiest_object;
    for (const auto& [file, loaded] : objects) {
        if (loaded.analysed > object_max) {
            object_max = loaded.analysed;
            costliest = file;
        }
        if (loaded.work > object_work) {
            object_work = loaded.work;
            busiest_object = file;
        }
    }
    std::printf("most instructions analysed for one object: %llu (%s)\n", static_cast<unsigned long long>(object_max),
                costliest.c_str());
    std::printf("most analysis work for one object: %llu (%s)\n", static_cast<unsigned long long>(object_work),
                busiest_object.c_str());
    std::printf("largest instruction bound of an accepted program: %llu (%s)\n",
                static_cast<unsigned long long>(bound_max), longest.c_str());
    std::printf("most analysis work for one program: %llu (%s)\n", static_cast<unsigned long long>(work_max),
                busiest.c_str());
    return embpf_ok.invalid == 0 ? 0 : 1;
}
