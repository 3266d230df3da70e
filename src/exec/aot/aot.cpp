// Ahead-of-time compiled programs at run time: their C files written whole, their code bound to a load (the
// environment of helpers and map addresses), shared objects opened, and the SHA-256 that fingerprints both.
#include "embpf/exec/aot.hpp"
#include "../probe.hpp"

#include <dlfcn.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace embpf::exec {
namespace {

// SHA-256 (FIPS 180-4).
class Sha256 {
  public:
    void update(std::span<const std::uint8_t> bytes) {
        for (const std::uint8_t byte : bytes) {
            m_block[m_used++] = byte;
            if (m_used == 64) {
                compress();
                m_used = 0;
            }
        }
        m_length += bytes.size();
    }
    std::array<std::uint8_t, 32> finish() {
        const std::uint64_t bits = m_length * 8;
        const std::uint8_t one = 0x80;
        update({&one, 1});
        const std::uint8_t zero = 0;
        while (m_used != 56) {
            update({&zero, 1});
        }
        std::array<std::uint8_t, 8> length{};
        for (int i = 0; i < 8; ++i) {
            length[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
        }
        update(length);
        std::array<std::uint8_t, 32> digest{};
        for (std::size_t i = 0; i < 8; ++i) {
            for (std::size_t j = 0; j < 4; ++j) {
                digest[4 * i + j] = static_cast<std::uint8_t>(m_state[i] >> (24 - 8 * j));
            }
        }
        return digest;
    }

  private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
    void compress() {
        static constexpr std::array<std::uint32_t, 64> kRounds = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
        std::array<std::uint32_t, 64> w{};
        for (std::size_t i = 0; i < 16; ++i) {
            w[i] = (std::uint32_t{m_block[4 * i]} << 24) | (std::uint32_t{m_block[4 * i + 1]} << 16) |
                   (std::uint32_t{m_block[4 * i + 2]} << 8) | std::uint32_t{m_block[4 * i + 3]};
        }
        for (std::size_t i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::array<std::uint32_t, 8> v = m_state;
        for (std::size_t i = 0; i < 64; ++i) {
            const std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
            const std::uint32_t choice = (v[4] & v[5]) ^ (~v[4] & v[6]);
            const std::uint32_t t1 = v[7] + s1 + choice + kRounds[i] + w[i];
            const std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
            const std::uint32_t majority = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            const std::uint32_t t2 = s0 + majority;
            v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
        }
        for (std::size_t i = 0; i < 8; ++i) {
            m_state[i] += v[i];
        }
    }

    std::array<std::uint32_t, 8> m_state = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, 64> m_block{};
    std::size_t m_used = 0;
    std::uint64_t m_length = 0;
};

// `text` fit for a C comment: letters, digits, spaces, newlines and punctuation that cannot end the comment or splice
// lines (no backslash, whose newline would join the next line to the comment and end it there, no '?', which starts the
// trigraph of a backslash, no '*' or '/'); anything else becomes '_'.
std::string comment_text(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        const bool kept = c == '\n' || (byte >= 0x20 && byte < 0x7f && c != '\\' && c != '?' && c != '*' && c != '/');
        out += kept ? c : '_';
    }
    return out;
}

// What the environment's functions read (embpf_aot_env::runtime).
struct Runtime {
    NextMapElement next = nullptr;
};

embpf_aot_element next_element(const embpf_aot_env* env, std::uint64_t map, std::uint64_t calls,
                               const void* previous_key, void* key_out) {
    const auto* runtime = static_cast<const Runtime*>(env->runtime);
    if (runtime->next == nullptr) {
        return {nullptr, 0};
    }
    const MapElement element = runtime->next(map, calls, previous_key, key_out);
    return {element.value, element.key_size};
}

} // namespace

std::string sha256_hex(std::span<const std::uint8_t> bytes) {
    Sha256 hash;
    hash.update(bytes);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (const std::uint8_t byte : hash.finish()) {
        text += kDigits[byte >> 4];
        text += kDigits[byte & 15];
    }
    return text;
}

std::string aot_module_source(std::span<const AotModuleEntry> programs, std::string_view object_hash,
                              std::string_view platform, std::string_view module_symbol, std::string_view comment) {
    std::string out;
    if (!comment.empty()) {
        out += "/* " + comment_text(comment) + " */\n";
    }
    out += aot_prelude();
    for (const AotModuleEntry& entry : programs) {
        out += "\n/* program " + comment_text(entry.name) + " */\n";
        out += entry.source.code;
        out += "EMBPF_AOT_LOCAL const struct embpf_aot_program " + entry.symbol + "_program = {\n";
        out += "    " + std::to_string(EMBPF_AOT_ABI_VERSION) + "u,\n";
        out += "    " + c_string_literal(entry.name) + ",\n";
        out += "    " + c_string_literal(entry.section) + ",\n";
        out += "    " + c_string_literal(entry.source.fingerprint) + ",\n";
        out += "    " + c_string_literal(entry.verification) + ",\n";
        out += "    " + std::to_string(entry.source.references) + "u,\n";
        out += "    " + entry.symbol + ",\n};\n";
    }
    out += "static const struct embpf_aot_program* const " + std::string(module_symbol) + "_programs[] = {";
    for (const AotModuleEntry& entry : programs) {
        out += "&" + entry.symbol + "_program, ";
    }
    out += "0};\n";
    out += "const struct embpf_aot_module " + std::string(module_symbol) + " = {\n";
    out += "    " + std::to_string(EMBPF_AOT_ABI_VERSION) + "u,\n";
    out += "    " + c_string_literal(object_hash) + ",\n";
    out += "    " + c_string_literal(platform) + ",\n";
    out += "    " + std::to_string(programs.size()) + "u,\n";
    out += "    " + std::string(module_symbol) + "_programs,\n};\n";
    return out;
}

struct AotProgram::State {
    const embpf_aot_program* compiled = nullptr;
    std::vector<HelperFunction> helpers;
    std::vector<std::uint8_t> arguments;
    std::vector<std::uint64_t> references;
    std::vector<embpf_aot_array> arrays; // by reference
    embpf_aot_env env{};
    Runtime runtime;
    std::shared_ptr<const void> owner;
};

Result<AotProgram> AotProgram::create(const embpf_aot_program& compiled, std::span<const isa::Instruction> program,
                                      HelperTable helpers, const AotOptions& options,
                                      std::shared_ptr<const void> owner) {
    const std::string what =
        compiled.name != nullptr ? "compiled program " + std::string(compiled.name) : "compiled program";
    if (compiled.abi_version != EMBPF_AOT_ABI_VERSION) {
        return Error::invalid(what + ": its code is of ABI version " + std::to_string(compiled.abi_version) +
                              ", this runtime runs version " + std::to_string(EMBPF_AOT_ABI_VERSION) +
                              ": generate it again with this embpf");
    }
    if (compiled.run == nullptr || compiled.fingerprint == nullptr) {
        return Error::invalid(what + ": its descriptor has no code or no fingerprint");
    }
    // The code must be the code this load would generate: the same program (map references aside), the same helpers'
    // shapes, the same facts where it used them.
    auto source = generate_c(program, helpers, options);
    if (!source) {
        return std::move(source).error();
    }
    if (source->fingerprint != compiled.fingerprint) {
        return Error::invalid(what + " was not generated from this program as it loads here (fingerprint " +
                              std::string(compiled.fingerprint).substr(0, 16) + "..., this load's " +
                              source->fingerprint.substr(0, 16) +
                              "...): the object, the platform, the program's type or its verification differ; "
                              "generate the code again from this object");
    }
    if (compiled.reference_count != options.references.size()) {
        return Error::invalid(what + ": it reads " + std::to_string(compiled.reference_count) +
                              " map references, the program has " + std::to_string(options.references.size()));
    }
    auto state = std::make_shared<State>();
    state->compiled = &compiled;
    state->owner = std::move(owner);
    state->helpers.assign(helpers.functions().begin(), helpers.functions().end());
    state->arguments.assign(helpers.arguments().begin(), helpers.arguments().end());
    state->arguments.resize(state->helpers.size(), 5);
    // Every helper the code calls by id has a function (generate_c checked it of `helpers`, whose copy this is).
    for (const std::uint32_t pc : options.references) {
        state->references.push_back(isa::lddw_imm(program[pc], program[pc + 1]));
    }
    state->env.helpers = reinterpret_cast<const embpf_aot_helper*>(state->helpers.data());
    state->env.helper_arguments = state->arguments.data();
    state->env.helper_count = state->helpers.size();
    state->env.unwind = helpers.unwind() ? std::uint64_t{*helpers.unwind()} + 1 : 0;
    state->env.references = state->references.data();
    // The references whose maps are arrays the code may compute lookups in (AotOptions::arrays; zeros elsewhere).
    state->arrays.assign(state->references.size(), embpf_aot_array{0, 0, 0});
    for (std::size_t k = 0; k < state->references.size(); ++k) {
        for (const InlineArray& array : options.arrays) {
            if (array.map == state->references[k] && array.values != 0) {
                state->arrays[k] = {array.values, array.stride, array.max_entries};
            }
        }
    }
    state->env.arrays = state->arrays.data();
    state->runtime.next = helpers.next_element();
    state->env.next_element = &next_element;
    state->env.runtime = &state->runtime;
    state->env.probe_load = &detail::probe_load;
    return AotProgram(std::move(state));
}

std::uint64_t AotProgram::run(void* ctx, std::size_t ctx_size) const noexcept {
    return m_state->compiled->run(ctx, ctx_size, &m_state->env);
}

Result<void> check_aot_module(const embpf_aot_module& module) {
    if (module.abi_version != EMBPF_AOT_ABI_VERSION) {
        return Error::invalid("the compiled module is of ABI version " + std::to_string(module.abi_version) +
                              ", this runtime runs version " + std::to_string(EMBPF_AOT_ABI_VERSION) +
                              ": generate it again with this embpf");
    }
    if (module.program_count > 0 && module.programs == nullptr) {
        return Error::invalid("the compiled module lists no programs");
    }
    for (std::uint32_t i = 0; i < module.program_count; ++i) {
        const embpf_aot_program* program = module.programs[i];
        if (program == nullptr || program->name == nullptr || program->run == nullptr ||
            program->fingerprint == nullptr) {
            return Error::invalid("the compiled module's program " + std::to_string(i) + " has no name or no code");
        }
    }
    return {};
}

Result<AotLibrary> AotLibrary::open(const std::filesystem::path& path) {
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = ::dlerror();
        return Error::invalid("cannot open the compiled plugin " + path.string() + ": " +
                              (why != nullptr ? why : "unknown error"));
    }
    std::shared_ptr<const void> owner(handle, [](const void* h) { ::dlclose(const_cast<void*>(h)); });
    const auto* module = static_cast<const embpf_aot_module*>(::dlsym(handle, "embpf_aot_module"));
    if (module == nullptr) {
        return Error::invalid(path.string() + " is no compiled plugin: it exports no embpf_aot_module");
    }
    if (auto checked = check_aot_module(*module); !checked) {
        Error error = std::move(checked).error();
        error.message = path.string() + ": " + error.message;
        return error;
    }
    return AotLibrary(std::move(owner), module);
}

const embpf_aot_program* AotLibrary::find(std::string_view name) const noexcept {
    for (std::uint32_t i = 0; i < m_module->program_count; ++i) {
        if (m_module->programs[i]->name == name) {
            return m_module->programs[i];
        }
    }
    return nullptr;
}

} // namespace embpf::exec
