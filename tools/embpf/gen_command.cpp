// `embpf gen platform`, `embpf gen helpers` and `embpf gen skeleton`: a platform as JSON, the C header a plugin author
// includes to call a host's helpers and read its hooks' contexts, and the C++ header a host loads an object through
// (gen_skeleton.cpp).
#include "commands.hpp"

#include "embpf/platform/json.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace embpf::tools {

namespace {

struct GenOptions {
    std::string platform;
    std::vector<std::string> types; ///< program types to declare (default: all)
    bool host_only = false;         ///< only helpers neither built-in platform has
    std::string output;             ///< the file to write (default: standard output)
};

// Writes `text` where the options say: the output file, or standard output.
int emit(const GenOptions& options, const std::string& text) {
    if (options.output.empty()) {
        std::cout << text;
        return kExitOk;
    }
    std::ofstream out(options.output, std::ios::binary);
    out << text;
    out.close();
    if (!out) {
        std::cerr << "embpf: cannot write " << options.output << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

// The C spelling of a name: letters, digits and '_' kept, anything else '_'.
std::string identifier(std::string_view name) {
    std::string out;
    for (const char c : name) {
        const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += word ? c : '_';
    }
    if (out.empty() || (out[0] >= '0' && out[0] <= '9')) {
        out.insert(out.begin(), '_');
    }
    return out;
}

std::string scalar_type(std::uint32_t size) {
    switch (size) {
    case 1: return "__u8";
    case 2: return "__u16";
    case 4: return "__u32";
    case 8: return "__u64";
    default: return "";
    }
}

// One member of a context struct, as a plugin reads it.
std::string member(const platform::ContextDescriptor& context, const platform::ContextField& field) {
    const std::string name = identifier(field.name);
    const bool pointer_field =
        field.size == 8 && (platform::is_packet_pointer(field.kind) || field.kind == platform::FieldKind::memory);
    if (pointer_field && context.pointer_width == 8) {
        const bool writable =
            field.kind == platform::FieldKind::memory ? field.memory_writable : !context.read_only_data;
        return std::string(writable ? "__u8* " : "const __u8* ") + name;
    }
    const std::string type = scalar_type(field.size);
    if (type.empty()) {
        return "__u8 " + name + "[" + std::to_string(field.size) + "]";
    }
    return type + " " + name;
}

std::string comment(const platform::ContextField& field) {
    std::string text = "offset " + std::to_string(field.offset) + ", " + std::string(to_string(field.kind));
    if (field.kind == platform::FieldKind::memory) {
        text += field.size_field.empty() ? ", " + std::to_string(field.memory_size) + " bytes"
                                         : ", its size in " + field.size_field;
        text += field.memory_writable ? ", writable" : ", read-only";
    } else {
        text += !field.readable ? ", write-only" : field.writable ? ", writable" : ", read-only";
    }
    return text;
}

void print_context(std::ostream& out, const platform::ProgramType& type) {
    std::vector<const platform::ContextField*> fields;
    for (const platform::ContextField& field : type.context.fields) {
        fields.push_back(&field);
    }
    std::sort(fields.begin(), fields.end(), [](const auto* a, const auto* b) { return a->offset < b->offset; });
    out << "/* Program type " << type.name << ": sections";
    for (const std::string& prefix : type.section_prefixes) {
        out << " \"" << prefix << "*\"";
    }
    if (!type.return_meaning.empty()) {
        out << "; returns " << type.return_meaning;
    }
    out << ". */\nstruct " << identifier(type.name) << "_context {\n";
    std::uint32_t at = 0;
    std::size_t pad = 0;
    for (const platform::ContextField* field : fields) {
        if (field->offset < at) {
            continue; // overlapping fields (a union): the first one declared
        }
        if (field->offset > at) {
            out << "    __u8 _reserved" << pad++ << "[" << field->offset - at << "];\n";
        }
        out << "    " << member(type.context, *field) << "; /* " << comment(*field) << " */\n";
        at = field->offset + field->size;
    }
    if (type.context.size > at) {
        out << "    __u8 _reserved" << pad << "[" << type.context.size - at << "];\n";
    }
    out << "};\n_Static_assert(sizeof(struct " << identifier(type.name) << "_context) == " << type.context.size
        << ", \"the " << type.name << " context's size\");\n\n";
}

std::string argument_type(platform::ArgKind kind) {
    using platform::ArgKind;
    switch (kind) {
    case ArgKind::ptr_to_map_key:
    case ArgKind::ptr_to_map_value:
    case ArgKind::ptr_to_readable_mem:
    case ArgKind::ptr_to_readable_mem_or_null:
    case ArgKind::ptr_to_map_value_or_null:
    case ArgKind::ptr_to_const_str: return "const void*";
    case ArgKind::ptr_to_ctx:
    case ArgKind::ptr_to_ctx_or_null:
    case ArgKind::ptr_to_map:
    case ArgKind::ptr_to_map_of_programs:
    case ArgKind::ptr_to_uninit_map_value:
    case ArgKind::ptr_to_writable_mem:
    case ArgKind::ptr_to_alloc_mem:
    case ArgKind::ptr_to_func:
    case ArgKind::ptr_to_stack_or_null:
    case ArgKind::ptr_to_spin_lock: return "void*";
    case ArgKind::const_size:
    case ArgKind::const_size_or_zero:
    case ArgKind::const_alloc_size_or_zero: return "__u32";
    default: return "__u64";
    }
}

std::string return_type(platform::ReturnKind kind) {
    using platform::ReturnKind;
    switch (kind) {
    case ReturnKind::void_: return "void";
    case ReturnKind::ptr_to_map_value_or_null:
    case ReturnKind::ptr_to_alloc_mem_or_null:
    case ReturnKind::ptr_to_map_value: return "void*";
    case ReturnKind::host_object_or_null: return "__u64";
    default: return "long";
    }
}

void print_helper(std::ostream& out, const platform::HelperPrototype& helper) {
    out << "static " << return_type(helper.ret) << " (*bpf_" << identifier(helper.name) << ")(";
    for (std::size_t i = 0; i < helper.arg_count(); ++i) {
        out << (i == 0 ? "" : ", ") << argument_type(helper.args[i]) << " r" << i + 1;
    }
    out << (helper.arg_count() == 0 ? "void" : "") << ") = (void*)" << helper.id << ";";
    out << " /* helper " << helper.id << (helper.any_program_type ? ", every program type" : "") << " */\n";
}

int run_gen_platform(const GenOptions& options) {
    const auto chosen = platform_named(options.platform.empty() ? std::string("windows") : options.platform);
    if (!chosen) {
        return kExitBadInput;
    }
    return emit(options, platform::to_json(**chosen));
}

int run_gen_helpers(const GenOptions& options) {
    const auto chosen = platform_named(options.platform);
    if (!chosen) {
        return kExitBadInput;
    }
    const platform::Platform& p = **chosen;
    std::vector<const platform::ProgramType*> types;
    for (const std::string& name : options.types) {
        const platform::ProgramType* type = p.program_type(name);
        if (type == nullptr) {
            std::cerr << "embpf: platform " << p.name() << " has no program type " << name << '\n';
            return kExitBadInput;
        }
        types.push_back(type);
    }
    if (options.types.empty()) {
        for (const platform::ProgramType& type : p.program_types()) {
            types.push_back(&type);
        }
    }
    const auto built_in = [](const std::string& name) {
        return platform::windows().helper_by_name(name) != nullptr || platform::linux().helper_by_name(name) != nullptr;
    };
    std::ostringstream out;
    out << "/* The helpers and contexts of platform " << p.name()
        << " for plugins (embpf gen helpers). Compile with clang -target bpf. */\n"
        << "#pragma once\n\n#include <linux/types.h>\n\n";
    for (const platform::ProgramType* type : types) {
        print_context(out, *type);
    }
    // The helpers the chosen types may call: by id (each id once), their own ones included.
    std::set<std::uint32_t> declared;
    std::set<std::string> names;
    const auto declare = [&](const platform::HelperPrototype& helper) {
        if ((options.host_only && built_in(helper.name)) || !names.insert(helper.name).second) {
            return;
        }
        if (!declared.insert(helper.id).second) {
            out << "/* helper " << helper.id << " (" << helper.name
                << ") shares its id with another program type's: call it by its id there. */\n";
            return;
        }
        print_helper(out, helper);
    };
    for (const platform::ProgramType* type : types) {
        for (const std::uint32_t id : type->helpers) {
            if (const platform::HelperPrototype* helper = p.helper(*type, id)) {
                declare(*helper);
            }
        }
        for (const platform::HelperPrototype& helper : type->own_helpers) {
            declare(helper);
        }
    }
    for (const platform::HelperPrototype& helper : p.helpers()) {
        if (helper.any_program_type) {
            declare(helper);
        }
    }
    return emit(options, out.str());
}

} // namespace

void add_gen_command(CLI::App& app, int& status) {
    auto options = std::make_shared<GenOptions>();
    CLI::App* gen =
        app.add_subcommand("gen", "Generate a platform's JSON, its helpers' C header or an object's C++ skeleton");
    gen->require_subcommand(1);
    CLI::App* platform_command = gen->add_subcommand("platform", "Write a platform as JSON (platform::to_json)");
    platform_command->add_option("--platform", options->platform,
                                 "windows, linux or a platform's JSON file (default: windows)");
    platform_command->add_option("-o,--output", options->output, "write it here (default: standard output)");
    platform_command->callback([options, &status] { status = run_gen_platform(*options); });
    CLI::App* helpers = gen->add_subcommand(
        "helpers", "Write the C header that declares a platform's context structs and helpers for plugins");
    helpers->add_option("--platform", options->platform, "windows, linux or a platform's JSON file")->required();
    helpers->add_option("--type", options->types, "only these program types (default: every one)");
    helpers->add_flag("--host-only", options->host_only,
                      "only helpers that neither built-in platform has (a plugin takes the others from its SDK)");
    helpers->add_option("-o,--output", options->output, "write it here (default: standard output)");
    helpers->callback([options, &status] { status = run_gen_helpers(*options); });
    auto skeleton_options = std::make_shared<SkeletonOptions>();
    CLI::App* skeleton = gen->add_subcommand(
        "skeleton", "Write a C++ header with the object embedded and its maps, programs and globals typed");
    skeleton->add_option("file", skeleton_options->file, "the eBPF object file")->required();
    skeleton->add_option("--name", skeleton_options->name,
                         "the header's namespace (default: the file's name without .o, as an identifier)");
    skeleton->add_option("--platform", skeleton_options->platform,
                         "windows, linux or a platform's JSON file (default: the one the object names)");
    // One value each time, so that the option never takes the file behind it.
    skeleton
        ->add_option("--ring-record", skeleton_options->ring_records,
                     "MAP=TYPE: read ring buffer MAP's records as the object's BTF type TYPE")
        ->allow_extra_args(false);
    skeleton->add_option("-o,--output", skeleton_options->output, "write it here (default: standard output)");
    skeleton->callback([skeleton_options, &status] { status = run_gen_skeleton(*skeleton_options); });
}

} // namespace embpf::tools
