#include "embpf/api/object_spec.hpp"
#include "embpf/exec/aot.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace embpf {

namespace {

std::string guess_type(const platform::Platform& platform, const std::string& section) {
    const platform::ProgramType* type = platform.program_type_for_section(section);
    return type != nullptr ? type->name : std::string();
}

} // namespace

Result<ObjectSpec> ObjectSpec::open(const std::filesystem::path& path, const platform::Platform* platform) {
    auto spec = from_file(elf::read_object(path), platform);
    if (spec) {
        // The bytes read once more for their hash (the reader maps the file as it needs).
        std::ifstream in(path, std::ios::binary);
        const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (!in.bad()) {
            spec->m_hash = exec::sha256_hex(bytes);
        }
    }
    return spec;
}

Result<ObjectSpec> ObjectSpec::open(std::span<const std::uint8_t> bytes, const platform::Platform* platform) {
    auto spec = from_file(elf::read_object(bytes), platform);
    if (spec) {
        spec->m_hash = exec::sha256_hex(bytes);
    }
    return spec;
}

Result<ObjectSpec> ObjectSpec::from_file(Result<elf::ObjectFile> file, const platform::Platform* platform) {
    if (!file) {
        return std::move(file).error();
    }
    ObjectSpec spec;
    spec.m_file = std::move(file).value();
    if (platform != nullptr) {
        spec.set_platform(*platform, "chosen by the caller");
    } else if (spec.m_file.has_windows_tag) {
        spec.set_platform(platform::windows(), "the object has the .ebpf_for_windows section that eBPF for Windows' "
                                               "bpf_helpers.h emits");
    } else {
        spec.set_platform(platform::linux(), "the object has no .ebpf_for_windows section");
    }
    return spec;
}

void ObjectSpec::set_platform(const platform::Platform& platform, std::string reason) {
    m_platform = {&platform, std::move(reason)};
    if (m_programs.empty()) {
        for (elf::ProgramDefinition& definition : m_file.programs) {
            m_programs.push_back({guess_type(platform, definition.section), std::move(definition)});
        }
        m_file.programs.clear();
        return;
    }
    for (ProgramSpec& program : m_programs) {
        if (platform.program_type(program.type) == nullptr) {
            program.type = guess_type(platform, program.section());
        }
    }
}

ProgramSpec* ObjectSpec::program(std::string_view name) noexcept {
    auto it =
        std::find_if(m_programs.begin(), m_programs.end(), [&](const ProgramSpec& p) { return p.name() == name; });
    return it == m_programs.end() ? nullptr : &*it;
}

const ProgramSpec* ObjectSpec::program(std::string_view name) const noexcept {
    return const_cast<ObjectSpec*>(this)->program(name);
}

MapSpec* ObjectSpec::map(std::string_view name) noexcept {
    auto it = std::find_if(m_file.maps.begin(), m_file.maps.end(), [&](const MapSpec& m) { return m.name == name; });
    return it == m_file.maps.end() ? nullptr : &*it;
}

const MapSpec* ObjectSpec::map(std::string_view name) const noexcept {
    return const_cast<ObjectSpec*>(this)->map(name);
}

const elf::Variable* ObjectSpec::variable(std::string_view name) const noexcept {
    auto it = std::find_if(m_file.variables.begin(), m_file.variables.end(),
                           [&](const elf::Variable& v) { return v.name == name; });
    return it == m_file.variables.end() ? nullptr : &*it;
}

Result<void> ObjectSpec::set_global_bytes(std::string_view name, std::span<const std::uint8_t> bytes) {
    const elf::Variable* variable = this->variable(name);
    if (variable == nullptr) {
        return Error::invalid("no global variable named " + std::string(name));
    }
    const std::string what = "global " + std::string(name);
    if (bytes.size() != variable->size) {
        return Error::invalid(what + " is " + std::to_string(variable->size) + " bytes, not " +
                              std::to_string(bytes.size()));
    }
    if (m_file.btf && variable->type_id != 0) {
        auto size = m_file.btf->size_of(variable->type_id);
        if (size && *size != bytes.size()) {
            return Error::invalid(what + " has BTF type " + m_file.btf->name_of(variable->type_id) + " of " +
                                  std::to_string(*size) + " bytes, not " + std::to_string(bytes.size()));
        }
    }
    std::vector<std::uint8_t>& value = m_file.maps.at(variable->map).initial_value;
    if (variable->offset > value.size() || bytes.size() > value.size() - variable->offset) {
        return Error::internal(what + " lies outside its section");
    }
    std::copy(bytes.begin(), bytes.end(), value.begin() + variable->offset);
    return {};
}

} // namespace embpf
