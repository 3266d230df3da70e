// The ELF reader: libelf does the parsing, this file gives the sections their eBPF meaning.
#include "embpf/elf/object_file.hpp"

#include "embpf/isa/decode.hpp"

#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#ifndef EM_BPF
#define EM_BPF 247
#endif

namespace embpf::elf {

namespace {

// BPF relocation types (the ELF psABI of the BPF target).
constexpr std::uint32_t kRelNone = 0;
constexpr std::uint32_t kRel64_64 = 1;    // lddw immediate
constexpr std::uint32_t kRelAbs64 = 2;    // data
constexpr std::uint32_t kRelAbs32 = 3;    // data
constexpr std::uint32_t kRelNodyld32 = 4; // .BTF.ext
constexpr std::uint32_t kRel64_32 = 10;   // call immediate

constexpr std::size_t kInsnSize = sizeof(isa::Instruction);
// The largest .data/.bss/.rodata section accepted: each becomes one map value, and a .bss costs
// memory the file does not show. Linux caps array values near this size too (KMALLOC_MAX_SIZE).
constexpr std::uint64_t kMaxGlobalData = 16u << 20;
// The largest `.kconfig` map: its externs are numbers and short strings of a kernel configuration.
constexpr std::uint64_t kMaxKconfigValue = 64u << 10;
// The instructions all programs of an object may link to together (each program with the functions it reaches, library
// calls expanded): 32 MiB of code. No program of the verifier's size limit comes near it.
constexpr std::size_t kMaxLinkedSlots = std::size_t{4} << 20;
// The largest object read: 16 times the largest of the ebpf-samples corpus (Falco's probe.o, 4.2 MB). Reading one
// takes up to some 80 ns a byte (the file, its sections and relocations, and every program's linked copy).
constexpr std::size_t kMaxObjectBytes = std::size_t{64} << 20;
// The .BTF.ext records all programs of an object may copy (each program copies those of the functions it links).
constexpr std::size_t kMaxLineRecords = std::size_t{1} << 20;
constexpr std::size_t kMaxExtRecords = std::size_t{1} << 20;
// Records name their strings by offset, and many may name one string: what is copied is counted in bytes too.
// The text of the line records copied into programs (file names and source lines): line records are a debugging aid,
// so past this, as past kMaxLineRecords, programs get no more of them (messages then show no source line); the object
// still loads. 100 programs of 1,000 lines of 64 bytes each take a tenth of it.
constexpr std::size_t kMaxLineText = std::size_t{64} << 20;
// The names and strings the programs of an object copy together: program and section names, the names of the
// functions each links, and the names and access strings of its function and CO-RE records. Past it the object is
// refused: a program cannot do without them.
constexpr std::size_t kMaxProgramText = std::size_t{64} << 20;
// The section and symbol names read (each is copied) and the names map definitions keep may take this and twice the
// file's bytes together: symbols that all name one long string would otherwise expand a small file into gigabytes.
constexpr std::size_t kNameSlack = std::size_t{16} << 20;
// The members of a BTF map definition struct: libbpf knows eleven (type, key, value, key_size, value_size,
// max_entries, map_flags, numa_node, map_extra, pinning, values). More repeat some; each is read for every map.
constexpr std::size_t kMaxMapMembers = 64;
// Names in messages built for every program or record (where a program uses what is unsupported) are cut to this.
constexpr std::size_t kMaxShownName = 512;
// Linux's map types whose legacy records name an inner map.
constexpr std::uint32_t kLinuxArrayOfMaps = 12;
constexpr std::uint32_t kLinuxHashOfMaps = 13;

struct Section {
    std::size_t index = 0;
    std::string name;
    GElf_Shdr header{};
    std::span<const std::uint8_t> data; // empty for SHT_NOBITS
    bool executable() const { return header.sh_type == SHT_PROGBITS && (header.sh_flags & SHF_EXECINSTR) != 0; }
};

struct Symbol {
    std::size_t index = 0;
    std::string name;
    GElf_Sym sym{};
    unsigned type() const { return GELF_ST_TYPE(sym.st_info); }
    unsigned bind() const { return GELF_ST_BIND(sym.st_info); }
};

struct Relocation {
    std::uint64_t offset = 0; // byte offset inside the target section
    std::uint32_t type = 0;
    std::size_t symbol = 0;
};

// A function inside an executable section, in instruction units.
struct Function {
    std::string name;
    std::size_t section = 0;
    std::size_t start = 0;
    std::size_t length = 0;
};

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

// A name as messages show it: cut to kMaxShownName bytes, then "...".
std::string shown(std::string_view name) {
    return name.size() > kMaxShownName ? std::string(name.substr(0, kMaxShownName)) + "..." : std::string(name);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_global_data(std::string_view name) {
    return name == ".data" || name == ".bss" || name == ".rodata" || starts_with(name, ".data.") ||
           starts_with(name, ".bss.") || starts_with(name, ".rodata.");
}

struct ElfHandle {
    Elf* elf = nullptr;
    ~ElfHandle() {
        if (elf != nullptr) {
            elf_end(elf);
        }
    }
};

class Reader {
  public:
    explicit Reader(std::vector<char> bytes) : m_bytes(std::move(bytes)) {}

    Result<ObjectFile> read() {
        if (auto r = open(); !r) {
            return std::move(r).error();
        }
        if (auto r = read_btf(); !r) {
            return std::move(r).error();
        }
        if (auto r = read_maps(); !r) {
            return std::move(r).error();
        }
        if (auto r = read_global_data(); !r) {
            return std::move(r).error();
        }
        find_spin_locks();
        if (auto r = read_kconfig(); !r) {
            return std::move(r).error();
        }
        read_ksyms();
        if (auto r = read_functions(); !r) {
            return std::move(r).error();
        }
        if (auto r = read_programs(); !r) {
            return std::move(r).error();
        }
        return std::move(m_object);
    }

  private:
    Result<void> open() {
        static std::once_flag once;
        std::call_once(once, [] { elf_version(EV_CURRENT); });
        if (m_bytes.size() < SELFMAG || std::memcmp(m_bytes.data(), ELFMAG, SELFMAG) != 0) {
            return Error::invalid("not an ELF file (bad magic)");
        }
        if (auto r = check_header_extent(); !r) {
            return r;
        }
        m_handle.elf = elf_memory(m_bytes.data(), m_bytes.size());
        if (m_handle.elf == nullptr || elf_kind(m_handle.elf) != ELF_K_ELF) {
            return Error::invalid(std::string("not a readable ELF file: ") + elf_errmsg(-1));
        }
        GElf_Ehdr ehdr;
        if (gelf_getehdr(m_handle.elf, &ehdr) == nullptr) {
            return Error::invalid(std::string("ELF header: ") + elf_errmsg(-1));
        }
        if (ehdr.e_ident[EI_CLASS] != ELFCLASS64) {
            return Error::invalid("ELF class is not 64-bit; eBPF objects are ELF64");
        }
        if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB) {
            return Error::unsupported("big-endian eBPF objects are not supported");
        }
        // Older LLVM releases left e_machine 0 (EM_NONE) in BPF objects; what they hold is read the same way.
        m_machine_none = ehdr.e_machine == EM_NONE;
        if (ehdr.e_machine != EM_BPF && ehdr.e_machine != EM_NONE) {
            return Error::invalid("wrong machine " + std::to_string(ehdr.e_machine) +
                                  " (expected EM_BPF, 247): compile with clang -target bpf");
        }
        if (ehdr.e_type != ET_REL) {
            return Error::invalid("ELF type " + std::to_string(ehdr.e_type) + " is not a relocatable object (ET_REL)");
        }
        std::size_t shstrndx = 0;
        if (elf_getshdrstrndx(m_handle.elf, &shstrndx) != 0) {
            return Error::invalid(std::string("section name table: ") + elf_errmsg(-1));
        }
        std::size_t count = 0;
        if (elf_getshdrnum(m_handle.elf, &count) != 0) {
            return Error::invalid(std::string("section count: ") + elf_errmsg(-1));
        }
        if (auto r = check_section_extents(shstrndx); !r) {
            return r;
        }
        m_sections.resize(count);
        for (Elf_Scn* scn = elf_nextscn(m_handle.elf, nullptr); scn != nullptr; scn = elf_nextscn(m_handle.elf, scn)) {
            Section section;
            section.index = elf_ndxscn(scn);
            if (section.index >= count || gelf_getshdr(scn, &section.header) == nullptr) {
                return Error::invalid("section " + std::to_string(section.index) + ": bad header");
            }
            const char* name = elf_strptr(m_handle.elf, shstrndx, section.header.sh_name);
            if (name == nullptr) {
                return Error::invalid("section " + std::to_string(section.index) + ": name offset " +
                                      std::to_string(section.header.sh_name) + " is outside the name table");
            }
            if (auto taken = take_names(std::strlen(name), "section", section.index); !taken) {
                return taken;
            }
            section.name = name;
            if (section.header.sh_type != SHT_NOBITS && section.header.sh_type != SHT_NULL) {
                Elf_Data* data = elf_getdata(scn, nullptr);
                if (data == nullptr) {
                    return Error::invalid("section " + section.name + ": cannot read its data: " + elf_errmsg(-1));
                }
                if (data->d_buf != nullptr && data->d_size > 0) {
                    section.data = {static_cast<const std::uint8_t*>(data->d_buf), data->d_size};
                }
            }
            if (section.header.sh_type == SHT_SYMTAB) {
                if (m_symtab != 0) {
                    return Error::invalid("more than one symbol table");
                }
                m_symtab = section.index;
            }
            // Section headers may all point at the same bytes: what the sections hold together is held to the
            // file's size, or a small file would be read (and copied, and relocated) many times over.
            m_section_bytes += section.data.size();
            if (m_section_bytes > m_bytes.size()) {
                return Error::invalid("section " + section.name +
                                      ": the sections hold more bytes together than the file has (section headers "
                                      "that overlap)");
            }
            m_sections[section.index] = std::move(section);
        }
        if (m_symtab == 0) {
            return Error::invalid("no symbol table (.symtab): the object was stripped");
        }
        if (auto r = read_symbols(); !r) {
            return r;
        }
        return read_relocations();
    }

    // Whether `size` bytes from `offset` lie inside the file (an empty extent does wherever it starts).
    bool inside_file(std::uint64_t offset, std::uint64_t size) const {
        return size == 0 || (offset <= m_bytes.size() && size <= m_bytes.size() - offset);
    }

    // The little-endian number of `width` bytes at `offset` of the file (the caller checked they are there).
    std::uint64_t file_number(std::size_t offset, std::size_t width) const {
        std::uint64_t value = 0;
        for (std::size_t i = width; i-- > 0;) {
            value = value << 8 | static_cast<std::uint8_t>(m_bytes[offset + i]);
        }
        return value;
    }

    // An object cut short keeps its first bytes: the ELF header and the section header table must lie inside the
    // file, or libelf reads what is left as an object of fewer sections (or none). Objects of another class or byte
    // order are left to the checks of their header, which name what is wrong.
    Result<void> check_header_extent() const {
        const std::size_t size = m_bytes.size();
        if ((size > EI_CLASS && m_bytes[EI_CLASS] != ELFCLASS64) ||
            (size > EI_DATA && m_bytes[EI_DATA] != ELFDATA2LSB)) {
            return {};
        }
        if (size < sizeof(Elf64_Ehdr)) {
            return Error::invalid("truncated object: the ELF header (" + std::to_string(sizeof(Elf64_Ehdr)) +
                                  " bytes) extends past the end of the file (" + std::to_string(size) + " bytes)");
        }
        const std::uint64_t shoff = file_number(offsetof(Elf64_Ehdr, e_shoff), sizeof(Elf64_Off));
        std::uint64_t entries = file_number(offsetof(Elf64_Ehdr, e_shnum), sizeof(Elf64_Half));
        auto truncated = [&] {
            return Error::invalid("truncated object: the section header table (offset " + std::to_string(shoff) + ", " +
                                  std::to_string(entries) + (entries == 1 ? " entry" : " entries") +
                                  ") extends past the end of the file (" + std::to_string(size) + " bytes)");
        };
        // From 0xff00 sections on, e_shnum is 0 and the first section header's sh_size holds the count, as libelf
        // reads it: that header must be there to be read.
        if (entries == 0 && shoff != 0) {
            if (!inside_file(shoff, sizeof(Elf64_Shdr))) {
                entries = 1;
                return truncated();
            }
            entries = file_number(static_cast<std::size_t>(shoff) + offsetof(Elf64_Shdr, sh_size), sizeof(Elf64_Xword));
        }
        // libelf reads section headers of sizeof(Elf64_Shdr) bytes, whatever e_shentsize says.
        if (entries != 0 && (shoff > size || entries > (size - shoff) / sizeof(Elf64_Shdr))) {
            return truncated();
        }
        return {};
    }

    // Every section's bytes must lie inside the file before any is read: a section past the end is one cut off. An
    // SHT_NOBITS section has no bytes in the file, and the other fields of an SHT_NULL one mean nothing.
    Result<void> check_section_extents(std::size_t shstrndx) const {
        GElf_Shdr names{};
        Elf_Scn* names_scn = elf_getscn(m_handle.elf, shstrndx);
        const bool named = names_scn != nullptr && gelf_getshdr(names_scn, &names) != nullptr &&
                           names.sh_type != SHT_NOBITS && inside_file(names.sh_offset, names.sh_size);
        for (Elf_Scn* scn = elf_nextscn(m_handle.elf, nullptr); scn != nullptr; scn = elf_nextscn(m_handle.elf, scn)) {
            GElf_Shdr header;
            if (gelf_getshdr(scn, &header) == nullptr) {
                continue; // the reading loop names the bad header
            }
            if (header.sh_type == SHT_NOBITS || header.sh_type == SHT_NULL ||
                inside_file(header.sh_offset, header.sh_size)) {
                continue;
            }
            // The section's name, read here from the name table's bytes (when they are inside the file).
            std::string label = std::to_string(elf_ndxscn(scn));
            if (named && header.sh_name < names.sh_size) {
                const char* first = m_bytes.data() + names.sh_offset + header.sh_name;
                const auto* end = static_cast<const char*>(std::memchr(first, 0, names.sh_size - header.sh_name));
                if (end != nullptr) {
                    label = "'" + shown(std::string_view(first, static_cast<std::size_t>(end - first))) + "'";
                }
            }
            return Error::invalid("truncated object: section " + label + " (offset " +
                                  std::to_string(header.sh_offset) + ", size " + std::to_string(header.sh_size) +
                                  ") extends past the end of the file (" + std::to_string(m_bytes.size()) + " bytes)");
        }
        return {};
    }

    Result<void> read_symbols() {
        const Section& symtab = m_sections[m_symtab];
        Elf_Data* data = elf_getdata(elf_getscn(m_handle.elf, m_symtab), nullptr);
        const std::size_t entry = symtab.header.sh_entsize != 0 ? symtab.header.sh_entsize : sizeof(Elf64_Sym);
        const std::size_t count = data == nullptr ? 0 : data->d_size / entry;
        m_symbols.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            Symbol& symbol = m_symbols[i];
            symbol.index = i;
            if (gelf_getsym(data, static_cast<int>(i), &symbol.sym) == nullptr) {
                return Error::invalid("symbol " + std::to_string(i) + ": " + elf_errmsg(-1));
            }
            const char* name = elf_strptr(m_handle.elf, symtab.header.sh_link, symbol.sym.st_name);
            if (name == nullptr && symbol.sym.st_name != 0) {
                return Error::invalid("symbol " + std::to_string(i) + ": name offset " +
                                      std::to_string(symbol.sym.st_name) + " is outside the string table");
            }
            std::string_view text = name != nullptr ? std::string_view(name) : std::string_view();
            if (symbol.type() == STT_SECTION && text.empty() && symbol.sym.st_shndx < m_sections.size()) {
                text = m_sections[symbol.sym.st_shndx].name;
            }
            if (auto taken = take_names(text.size(), "symbol", i); !taken) {
                return taken;
            }
            symbol.name = text;
        }
        return {};
    }

    // Counts names copied out of the file's string tables (and kept by map definitions) against their budget:
    // kNameSlack and twice the file's bytes.
    // `what` and `index` name the record for the message (a section, a symbol, a map), built only on failure.
    Result<void> take_names(std::size_t bytes, const char* what, std::size_t index) {
        const std::size_t limit = kNameSlack + 2 * m_bytes.size();
        m_name_bytes += bytes;
        if (m_name_bytes > limit) {
            return Error::invalid(std::string(what) + " " + std::to_string(index) +
                                  ": the names of the sections, symbols and maps take more than " +
                                  std::to_string(limit) +
                                  " bytes together (16 MiB and twice the file's size): records that name one long "
                                  "string many times");
        }
        return {};
    }

    Result<void> read_relocations() {
        for (const Section& section : m_sections) {
            // Older LLVM releases wrote RELA sections (with zero addends) in the objects whose e_machine is 0.
            const bool rela = section.header.sh_type == SHT_RELA;
            if (section.header.sh_type != SHT_REL && !rela) {
                continue;
            }
            if (section.header.sh_info >= m_sections.size() || section.header.sh_link != m_symtab) {
                return Error::invalid("relocation section " + section.name + " names a bad target or symbol table");
            }
            Elf_Data* data = elf_getdata(elf_getscn(m_handle.elf, section.index), nullptr);
            const std::size_t entry = section.header.sh_entsize != 0 ? section.header.sh_entsize
                                      : rela                         ? sizeof(Elf64_Rela)
                                                                     : sizeof(Elf64_Rel);
            const std::size_t count = data == nullptr ? 0 : data->d_size / entry;
            auto& list = m_relocations[section.header.sh_info];
            for (std::size_t i = 0; i < count; ++i) {
                GElf_Rel rel;
                if (rela) {
                    GElf_Rela with_addend;
                    if (gelf_getrela(data, static_cast<int>(i), &with_addend) == nullptr) {
                        return Error::invalid("relocation " + std::to_string(i) + " of " + section.name + ": " +
                                              elf_errmsg(-1));
                    }
                    if (with_addend.r_addend != 0) {
                        return Error::unsupported("relocation " + std::to_string(i) + " of " + section.name +
                                                  " has addend " + std::to_string(with_addend.r_addend) +
                                                  "; the BPF target's relocations carry none");
                    }
                    rel.r_offset = with_addend.r_offset;
                    rel.r_info = with_addend.r_info;
                } else if (gelf_getrel(data, static_cast<int>(i), &rel) == nullptr) {
                    return Error::invalid("relocation " + std::to_string(i) + " of " + section.name + ": " +
                                          elf_errmsg(-1));
                }
                Relocation r;
                r.offset = rel.r_offset;
                r.type = static_cast<std::uint32_t>(GELF_R_TYPE(rel.r_info));
                r.symbol = GELF_R_SYM(rel.r_info);
                if (r.symbol >= m_symbols.size()) {
                    return Error::invalid("relocation " + std::to_string(i) + " of " + section.name +
                                          " refers to missing symbol " + std::to_string(r.symbol));
                }
                list.push_back(r);
            }
        }
        return {};
    }

    const Section* find_section(std::string_view name) const {
        for (const Section& section : m_sections) {
            if (section.name == name && section.header.sh_type != SHT_NULL) {
                return &section;
            }
        }
        return nullptr;
    }

    Result<void> read_btf() {
        if (const Section* license = find_section("license"); license != nullptr && !license->data.empty()) {
            const auto* begin = reinterpret_cast<const char*>(license->data.data());
            m_object.license.assign(begin, strnlen(begin, license->data.size()));
        }
        m_object.has_windows_tag = find_section(".ebpf_for_windows") != nullptr;
        if (const Section* btf = find_section(".BTF")) {
            auto types = btf::Types::parse(btf->data);
            if (!types) {
                return Error::invalid(".BTF: " + types.error().message);
            }
            m_object.btf = std::make_shared<const btf::Types>(std::move(types).value());
            if (const Section* ext = find_section(".BTF.ext")) {
                auto parsed = btf::Ext::parse(ext->data, *m_object.btf);
                if (!parsed) {
                    return Error::invalid(".BTF.ext: " + parsed.error().message);
                }
                m_ext = std::move(parsed).value();
            }
        }
        return {};
    }

    // --- maps ---------------------------------------------------------------------------------

    Result<void> read_maps() {
        if (const Section* legacy = find_section("maps")) {
            if (auto r = read_legacy_maps(*legacy); !r) {
                return r;
            }
        }
        if (const Section* btf_maps = find_section(".maps")) {
            if (auto r = read_btf_maps(*btf_maps); !r) {
                return r;
            }
        }
        return {};
    }

    // The named, non-section symbols of a section, by address. Grouped once for the whole table: an object may have
    // tens of thousands of sections and hundreds of thousands of symbols, and a scan per section is their product.
    const std::vector<const Symbol*>& symbols_in(std::size_t section) {
        if (!m_symbols_grouped) {
            for (const Symbol& symbol : m_symbols) {
                if (symbol.type() != STT_SECTION && !symbol.name.empty()) {
                    m_symbols_by_section[symbol.sym.st_shndx].push_back(&symbol);
                }
            }
            for (auto& [index, symbols] : m_symbols_by_section) {
                std::stable_sort(symbols.begin(), symbols.end(),
                                 [](const Symbol* a, const Symbol* b) { return a->sym.st_value < b->sym.st_value; });
            }
            m_symbols_grouped = true;
        }
        static const std::vector<const Symbol*> none;
        const auto found = m_symbols_by_section.find(section);
        return found == m_symbols_by_section.end() ? none : found->second;
    }

    // The `maps` section holds one record per map symbol, in one of the layouts objects have used:
    //   20 bytes  Linux's struct bpf_map_def: type, key_size, value_size, max_entries, map_flags
    //   28 bytes  the Linux samples' and Falco's bpf_map_def, adding inner_map_idx and numa_node; or the first
    //             iproute2 struct bpf_elf_map (Cilium), adding id and pinning. Only maps of maps read the sixth field
    //             (as inner_map_idx); elsewhere both are ids, NUMA placement or pinning, which mean nothing here.
    //   32 bytes  eBPF for Windows' ebpf_map_definition_in_file_t: ..., inner_map_idx, pinning, id, inner_id
    //   36 bytes  iproute2's struct bpf_elf_map: ..., map_flags, id, pinning, inner_id, inner_idx
    // A record of another size is read as bpf_map_def when the bytes past it are zero, as libbpf does.
    Result<void> read_legacy_maps(const Section& section) {
        const auto& symbols = symbols_in(section.index);
        if (symbols.empty()) {
            return {};
        }
        const std::size_t first = m_object.maps.size();
        for (const Symbol* symbol : symbols) {
            std::uint64_t size = symbol->sym.st_size;
            if (size == 0) {
                size = section.data.size() / symbols.size();
            }
            const std::uint64_t offset = symbol->sym.st_value;
            if (size < 20 || size % 4 != 0 || size > 1024) {
                return Error::invalid("maps: definition of " + symbol->name + " is " + std::to_string(size) +
                                      " bytes; a map record has at least the 20 bytes of struct bpf_map_def (type, "
                                      "key_size, value_size, max_entries, map_flags) in whole 4-byte fields");
            }
            if (offset > section.data.size() || size > section.data.size() - offset) {
                return Error::invalid("maps: definition of " + symbol->name + " at offset " + std::to_string(offset) +
                                      " runs past the end of the section (" + std::to_string(section.data.size()) +
                                      " bytes)");
            }
            std::vector<std::uint32_t> fields(static_cast<std::size_t>(size / 4));
            std::memcpy(fields.data(), section.data.data() + offset, static_cast<std::size_t>(size));
            MapDefinition map;
            map.name = symbol->name;
            map.type = fields[0];
            map.key_size = fields[1];
            map.value_size = fields[2];
            map.max_entries = fields[3];
            map.origin = MapOrigin::legacy_linux;
            const bool map_of_maps = map.type == kLinuxArrayOfMaps || map.type == kLinuxHashOfMaps;
            if (size == 32) {
                map.origin = MapOrigin::legacy_windows;
                // inner_map_idx is a position in the maps section; resolved below.
                if (fields[4] != 0 || fields[7] != 0) {
                    map.inner_map = fields[4];
                }
                map.pinning = fields[5];
                map.id = fields[6];
                map.inner_id = fields[7];
            } else if (size == 28) {
                map.map_flags = fields[4];
                if (map_of_maps) {
                    map.inner_map = fields[5];
                }
            } else if (size == 36) {
                map.map_flags = fields[4];
                map.id = fields[5];
                map.pinning = fields[6];
                map.inner_id = fields[7];
                if (map.inner_id != 0) {
                    map.inner_map = 0; // named by id; resolved below
                }
                // fields[8], inner_idx, places this map into an outer map at load in iproute2; embpf leaves the
                // outer map's entries to the host.
            } else {
                map.map_flags = fields[4];
                for (std::size_t i = 5; i < fields.size(); ++i) {
                    if (fields[i] != 0) {
                        return Error::invalid("maps: definition of " + symbol->name + " is " + std::to_string(size) +
                                              " bytes, a layout embpf does not know, and byte " +
                                              std::to_string(i * 4) + " past struct bpf_map_def is not zero");
                    }
                }
            }
            m_map_by_location[{section.index, offset}] = m_object.maps.size();
            m_object.maps.push_back(std::move(map));
        }
        // eBPF for Windows and iproute2 name the inner map by id when ids are used, otherwise by index in the section.
        // When several maps have one id, the last is meant.
        std::unordered_map<std::uint32_t, std::size_t> by_id;
        for (std::size_t j = first; j < m_object.maps.size(); ++j) {
            by_id[m_object.maps[j].id] = j;
        }
        for (std::size_t i = first; i < m_object.maps.size(); ++i) {
            MapDefinition& map = m_object.maps[i];
            if (!map.inner_map) {
                continue;
            }
            if (map.inner_id != 0) {
                const auto found = by_id.find(map.inner_id);
                if (found == by_id.end()) {
                    return Error::invalid("maps: " + map.name + " names inner map id " + std::to_string(map.inner_id) +
                                          ", which no map has");
                }
                map.inner_map = found->second;
            } else if (first + *map.inner_map >= m_object.maps.size()) {
                return Error::invalid("maps: " + map.name + " names inner map index " + std::to_string(*map.inner_map) +
                                      ", past the last map");
            } else {
                map.inner_map = first + *map.inner_map;
            }
        }
        return {};
    }

    // `int (*name)[N]` encodes N: a pointer to an array of N elements (__uint). A 64-bit value comes as an anonymous
    // enum whose one enumerator is N (__ulong).
    Result<std::uint64_t> btf_uint_value(const std::string& map, const btf::Member& member) const {
        const btf::Types& types = *m_object.btf;
        const btf::Type* type = types.get(types.resolve(member.type));
        if (type != nullptr && (type->kind == btf::Kind::enum_ || type->kind == btf::Kind::enum64) &&
            type->enumerators.size() == 1) {
            return static_cast<std::uint64_t>(type->enumerators[0].value);
        }
        const btf::Type* array =
            type != nullptr && type->kind == btf::Kind::ptr ? types.get(types.resolve(type->ref)) : nullptr;
        if (array == nullptr || array->kind != btf::Kind::array) {
            return Error::invalid(".maps: " + map + ": member " + member.name +
                                  " is neither a __uint(...) (a pointer to an array) nor a __ulong(...) (an enum of "
                                  "one value)");
        }
        return array->nelems;
    }

    Result<std::uint32_t> btf_type_size(const std::string& map, const char* what, std::uint32_t type) const {
        auto size = m_object.btf->size_of(type);
        if (!size) {
            return Error::invalid(".maps: " + map + ": " + what + " type has no size: " + size.error().message);
        }
        if (*size > 0xffffffffu) {
            return Error::invalid(".maps: " + map + ": " + what + " type is too large");
        }
        return static_cast<std::uint32_t>(*size);
    }

    // What a BTF map definition struct says, whatever map it defines.
    struct BtfMapShape {
        MapDefinition map; // without its name
        std::optional<std::uint32_t> values_offset;
        std::optional<std::uint32_t> inner_struct; // an inner map's definition struct
    };

    // Reads a BTF map definition struct once, however many maps it defines (thousands of `.maps` variables may share
    // one); `name` is the first map it defines, for messages.
    Result<const BtfMapShape*> btf_map_shape(const std::string& name, std::uint32_t struct_id) {
        const btf::Types& types = *m_object.btf;
        const std::uint32_t id = types.resolve(struct_id);
        if (const auto known = m_btf_map_shapes.find(id); known != m_btf_map_shapes.end()) {
            return &known->second;
        }
        const btf::Type* def = types.get(id);
        if (def == nullptr || def->kind != btf::Kind::struct_) {
            return Error::invalid(".maps: " + name + " is not defined by a struct");
        }
        if (def->members.size() > kMaxMapMembers) {
            return Error::invalid(".maps: " + name + ": the definition struct " + types.name_of(id) + " has " +
                                  std::to_string(def->members.size()) + " members, more than the " +
                                  std::to_string(kMaxMapMembers) +
                                  " a map definition may have (libbpf knows eleven: type, key, value, ...)");
        }
        BtfMapShape shape;
        MapDefinition& map = shape.map;
        map.origin = MapOrigin::btf;
        std::optional<std::uint32_t> key_size;
        std::optional<std::uint32_t> value_size;
        std::optional<std::uint32_t>& inner_struct = shape.inner_struct;
        for (const btf::Member& member : def->members) {
            const std::string& field = member.name;
            if (field == "key" || field == "value") {
                const btf::Type* ptr = types.get(types.resolve(member.type));
                if (ptr == nullptr || ptr->kind != btf::Kind::ptr) {
                    return Error::invalid(".maps: " + name + ": member " + field + " is not a __type(...) pointer");
                }
                auto size = btf_type_size(name, field.c_str(), ptr->ref);
                if (!size) {
                    return std::move(size).error();
                }
                (field == "key" ? map.key_type_id : map.value_type_id) = ptr->ref;
                (field == "key" ? map.key_type_name : map.value_type_name) = types.name_of(ptr->ref);
                std::optional<std::uint32_t>& declared = field == "key" ? key_size : value_size;
                if (declared && *declared != *size) {
                    return Error::invalid(".maps: " + name + ": " + field + "_size " + std::to_string(*declared) +
                                          " contradicts the " + field + " type " + types.name_of(ptr->ref) + " (" +
                                          std::to_string(*size) + " bytes)");
                }
                declared = *size;
                continue;
            }
            if (field == "values") {
                // __array(values, struct inner): an array of pointers to the inner map's definition.
                const btf::Type* array = types.get(types.resolve(member.type));
                const btf::Type* ptr = array != nullptr && array->kind == btf::Kind::array
                                           ? types.get(types.resolve(array->elem_type))
                                           : nullptr;
                if (ptr == nullptr || ptr->kind != btf::Kind::ptr) {
                    return Error::invalid(".maps: " + name + ": member values is not an __array(...)");
                }
                inner_struct = ptr->ref;
                shape.values_offset = member.bit_offset / 8;
                continue;
            }
            auto wide = btf_uint_value(name, member);
            if (!wide) {
                return std::move(wide).error();
            }
            if (field == "map_extra") {
                map.map_extra = *wide;
                continue;
            }
            if (*wide > 0xffffffffu) {
                return Error::invalid(".maps: " + name + ": member " + field + " is " + std::to_string(*wide) +
                                      ", more than 32 bits hold");
            }
            const auto value = std::optional<std::uint32_t>(static_cast<std::uint32_t>(*wide));
            if (field == "type") {
                map.type = *value;
            } else if (field == "max_entries") {
                map.max_entries = *value;
            } else if (field == "map_flags") {
                map.map_flags = *value;
            } else if (field == "pinning") {
                map.pinning = *value;
            } else if (field == "key_size" || field == "value_size") {
                std::optional<std::uint32_t>& declared = field == "key_size" ? key_size : value_size;
                if (declared && *declared != *value) {
                    return Error::invalid(".maps: " + name + ": " + field + " " + std::to_string(*value) +
                                          " contradicts the " + (field == "key_size" ? "key" : "value") + " type (" +
                                          std::to_string(*declared) + " bytes)");
                }
                declared = *value;
            } else if (field == "numa_node") {
                // Accepted and ignored: it means nothing in user mode.
            } else {
                return Error::invalid(".maps: " + name + ": unknown member " + field);
            }
        }
        map.key_size = key_size.value_or(0);
        // Maps of maps and program arrays hold 4-byte ids in their values, as on Linux.
        map.value_size = value_size.value_or(inner_struct ? 4 : 0);
        if (inner_struct) {
            const btf::Type* pointee = types.get(types.resolve(*inner_struct));
            if (pointee == nullptr || pointee->kind != btf::Kind::struct_) {
                inner_struct.reset(); // __array(values, int (void*)): a program array's programs
            }
        }
        return &m_btf_map_shapes.emplace(id, std::move(shape)).first->second;
    }

    // Reads a BTF map definition struct; returns the index of the new map.
    Result<std::size_t> read_btf_map_struct(const std::string& name, std::uint32_t struct_id, int depth) {
        auto found = btf_map_shape(name, struct_id);
        if (!found) {
            return std::move(found).error();
        }
        const BtfMapShape& shape = *found.value(); // stays valid: the table's elements do not move
        // The names a map keeps count against the budget of names: a small object could otherwise define millions of
        // maps with long type names.
        if (auto taken = take_names(name.size() + shape.map.key_type_name.size() + shape.map.value_type_name.size(),
                                    "map", m_object.maps.size());
            !taken) {
            return std::move(taken).error();
        }
        MapDefinition map = shape.map;
        map.name = name;
        const std::size_t index = m_object.maps.size();
        m_object.maps.push_back(std::move(map));
        if (shape.values_offset) {
            m_values_offset[index] = *shape.values_offset;
        }
        if (shape.inner_struct) {
            if (depth > 0) {
                return Error::invalid(".maps: " + name + ": inner maps may not have inner maps");
            }
            auto inner = read_btf_map_struct(name + ".inner", *shape.inner_struct, depth + 1);
            if (!inner) {
                return std::move(inner).error();
            }
            m_object.maps[*inner].is_inner_template = true;
            m_object.maps[index].inner_map = *inner;
        }
        return index;
    }

    Result<void> read_btf_maps(const Section& section) {
        if (!m_object.btf) {
            return Error::invalid(".maps: the object has no .BTF section to describe its maps (compile with -g)");
        }
        const btf::Types& types = *m_object.btf;
        const auto datasec = types.find(".maps", btf::Kind::datasec);
        if (!datasec) {
            return Error::invalid(".maps: no BTF DATASEC describes the section");
        }
        // clang leaves DATASEC offsets for the loader to fill in: the ELF symbols say where each map is.
        std::map<std::string, std::uint32_t> definitions; // variable name -> definition struct
        for (const btf::DataSecVar& var : types.get(*datasec)->vars) {
            const btf::Type* variable = types.get(var.type);
            if (variable == nullptr || variable->kind != btf::Kind::var) {
                return Error::invalid(".maps: DATASEC entry at offset " + std::to_string(var.offset) +
                                      " is not a variable");
            }
            definitions[variable->name] = variable->ref;
        }
        for (const Symbol* symbol : symbols_in(section.index)) {
            auto it = definitions.find(symbol->name);
            if (it == definitions.end()) {
                return Error::invalid(".maps: symbol " + symbol->name + " has no BTF definition");
            }
            auto index = read_btf_map_struct(symbol->name, it->second, 0);
            if (!index) {
                return std::move(index).error();
            }
            m_map_by_location[{section.index, symbol->sym.st_value}] = *index;
            m_map_extent[*index] = {symbol->sym.st_value, symbol->sym.st_size};
        }
        return read_initial_entries(section);
    }

    // `.values = {[i] = &inner}` of a map of maps or program array: relocations in .rel.maps against the slots of the
    // values array, each naming an inner map or a program.
    Result<void> read_initial_entries(const Section& section) {
        auto relocations = m_relocations.find(section.index);
        if (relocations == m_relocations.end()) {
            return {};
        }
        // The maps by offset, to find the one holding each relocation by a binary search (an object may have
        // thousands of maps and of relocations). Maps that overlap are refused: no compiler makes them.
        std::vector<std::pair<std::uint64_t, std::size_t>> starts; // (offset, map)
        for (const auto& [map, extent] : m_map_extent) {
            if (extent.second != 0) {
                starts.emplace_back(extent.first, map);
            }
        }
        std::sort(starts.begin(), starts.end());
        std::uint64_t covered = 0;
        for (std::size_t i = 0; i < starts.size(); ++i) {
            const auto& [offset, size] = m_map_extent[starts[i].second];
            if (i > 0 && offset < covered) {
                return Error::invalid(".maps: " + m_object.maps[starts[i].second].name + " overlaps " +
                                      m_object.maps[starts[i - 1].second].name);
            }
            covered = size > UINT64_MAX - offset ? UINT64_MAX : offset + size;
        }
        for (const Relocation& reloc : relocations->second) {
            const Symbol& target = m_symbols[reloc.symbol];
            std::optional<std::size_t> outer;
            auto after = std::upper_bound(starts.begin(), starts.end(), std::make_pair(reloc.offset, SIZE_MAX));
            if (after != starts.begin()) {
                const std::size_t map = std::prev(after)->second;
                const auto& [offset, size] = m_map_extent[map];
                if (reloc.offset - offset < size) {
                    outer = map;
                }
            }
            const auto where = [&] { return ".maps offset " + hex(reloc.offset); }; // built only on failure
            if (!outer || m_values_offset.count(*outer) == 0) {
                return Error::invalid(where() + ": a relocation outside the values of a map of maps or program array");
            }
            MapDefinition& map = m_object.maps[*outer];
            const std::uint64_t slot = reloc.offset - m_map_extent[*outer].first - m_values_offset[*outer];
            if (reloc.offset < m_map_extent[*outer].first + m_values_offset[*outer] || slot % 8 != 0) {
                return Error::invalid(where() + ": a relocation inside " + map.name + " but not on a values slot");
            }
            MapDefinition::InitialEntry entry;
            entry.index = static_cast<std::uint32_t>(slot / 8);
            if (target.sym.st_shndx == section.index) {
                auto inner = m_map_by_location.find({section.index, target.sym.st_value});
                if (inner == m_map_by_location.end()) {
                    return Error::invalid(where() + ": " + map.name + " is initialized with " + target.name +
                                          ", which is not a map");
                }
                entry.map = inner->second;
            } else if (target.type() == STT_FUNC && !target.name.empty()) {
                entry.program = target.name; // programs are found by name: a function without one is none
            } else {
                return Error::invalid(where() + ": " + map.name + " is initialized with " +
                                      (target.name.empty() ? "a symbol without a name" : shown(target.name)) +
                                      ", which is neither a map nor a program");
            }
            map.initial_entries.push_back(std::move(entry));
        }
        return {};
    }

    Result<void> read_global_data() {
        // The DATASEC of each global-data section, found in one pass over the types rather than one per section.
        std::unordered_map<std::string_view, std::uint32_t> datasecs;
        if (m_object.btf) {
            const btf::Types& types = *m_object.btf;
            for (std::size_t id = 1; id < types.count(); ++id) {
                if (const btf::Type* type = types.get(static_cast<std::uint32_t>(id));
                    type->kind == btf::Kind::datasec) {
                    datasecs.try_emplace(type->name, static_cast<std::uint32_t>(id)); // the first of a name
                }
            }
        }
        std::unordered_map<std::uint32_t, std::map<std::string, std::uint32_t>> datasec_vars;
        for (const Section& section : m_sections) {
            if (!is_global_data(section.name) ||
                (section.header.sh_type != SHT_PROGBITS && section.header.sh_type != SHT_NOBITS) ||
                (section.header.sh_flags & SHF_ALLOC) == 0) {
                continue;
            }
            if (section.header.sh_size > kMaxGlobalData) {
                return Error::invalid("section " + section.name + " holds " + std::to_string(section.header.sh_size) +
                                      " bytes of global data, more than the " + std::to_string(kMaxGlobalData) +
                                      " bytes a global-data map may have");
            }
            // Empty .bss sections cost a header each in the file and their size in memory: the object's sections
            // together are held to the same limit.
            m_global_bytes += static_cast<std::size_t>(section.header.sh_size);
            if (m_global_bytes > kMaxGlobalData) {
                return Error::invalid("the object's global-data sections hold more than " +
                                      std::to_string(kMaxGlobalData) + " bytes together");
            }
            MapDefinition map;
            map.name = section.name;
            map.origin = MapOrigin::global_data;
            map.key_size = 4;
            map.value_size = static_cast<std::uint32_t>(section.header.sh_size);
            map.max_entries = 1;
            map.read_only = starts_with(section.name, ".rodata");
            if (section.header.sh_type == SHT_NOBITS) {
                map.initial_value.assign(static_cast<std::size_t>(section.header.sh_size), 0);
            } else {
                map.initial_value.assign(section.data.begin(), section.data.end());
                map.initial_value.resize(static_cast<std::size_t>(section.header.sh_size), 0);
            }
            const std::size_t index = m_object.maps.size();
            m_global_map[section.index] = index;
            m_object.maps.push_back(std::move(map));

            // Variable name -> type id, read once per DATASEC (sections may share a name).
            static const std::map<std::string, std::uint32_t> no_types;
            const std::map<std::string, std::uint32_t>* btf_types = &no_types;
            if (const auto sec = datasecs.find(section.name); sec != datasecs.end()) {
                auto [vars, fresh] = datasec_vars.try_emplace(sec->second);
                if (fresh) {
                    for (const btf::DataSecVar& var : m_object.btf->get(sec->second)->vars) {
                        if (const btf::Type* v = m_object.btf->get(var.type);
                            v != nullptr && v->kind == btf::Kind::var) {
                            vars->second[v->name] = v->ref;
                        }
                    }
                }
                btf_types = &vars->second;
            }
            for (const Symbol* symbol : symbols_in(section.index)) {
                if (symbol->type() != STT_OBJECT) {
                    continue;
                }
                if (symbol->sym.st_value > section.header.sh_size ||
                    symbol->sym.st_size > section.header.sh_size - symbol->sym.st_value) {
                    return Error::invalid("symbol " + symbol->name + " lies outside its section " + section.name);
                }
                Variable variable;
                variable.name = symbol->name;
                variable.map = index;
                variable.offset = static_cast<std::uint32_t>(symbol->sym.st_value);
                variable.size = static_cast<std::uint32_t>(symbol->sym.st_size);
                if (auto it = btf_types->find(variable.name); it != btf_types->end()) {
                    variable.type_id = it->second;
                }
                m_object.variables.push_back(std::move(variable));
            }
        }
        return {};
    }

    // The bpf_spin_lock fields of each map's value: members of its BTF value struct (or the value itself), or variables
    // of a global-data section, whose type is `struct bpf_spin_lock`. Linux looks no deeper.
    void find_spin_locks() {
        if (!m_object.btf) {
            return;
        }
        const btf::Types& types = *m_object.btf;
        auto is_lock = [&](std::uint32_t id) {
            const btf::Type* type = types.get(types.resolve(id));
            return type != nullptr && type->kind == btf::Kind::struct_ && type->name == "bpf_spin_lock";
        };
        for (MapDefinition& map : m_object.maps) {
            if (map.origin != MapOrigin::btf || map.value_type_id == 0) {
                continue;
            }
            if (is_lock(map.value_type_id)) {
                map.spin_locks.push_back(0);
                continue;
            }
            const btf::Type* value = types.get(types.resolve(map.value_type_id));
            if (value == nullptr || value->kind != btf::Kind::struct_) {
                continue;
            }
            for (const btf::Member& member : value->members) {
                if (is_lock(member.type) && member.bitfield_size == 0 && member.bit_offset % 8 == 0) {
                    map.spin_locks.push_back(member.bit_offset / 8);
                }
            }
        }
        for (const Variable& variable : m_object.variables) {
            if (variable.type_id != 0 && variable.map < m_object.maps.size() && is_lock(variable.type_id)) {
                m_object.maps[variable.map].spin_locks.push_back(variable.offset);
            }
        }
    }

    // How libbpf reads a kernel configuration value into an extern of this BTF type; nullopt for a type it does not.
    std::optional<KconfigKind> kconfig_kind(std::uint32_t type_id) const {
        const btf::Types& types = *m_object.btf;
        const btf::Type* type = types.get(types.resolve(type_id));
        if (type == nullptr) {
            return std::nullopt;
        }
        if (type->kind == btf::Kind::int_) {
            if ((type->int_encoding & btf::int_bool) != 0) {
                return type->size == 1 ? std::optional(KconfigKind::boolean) : std::nullopt;
            }
            if (type->size == 1) {
                return KconfigKind::character; // char, signed char, unsigned char, u8
            }
            if (type->size != 2 && type->size != 4 && type->size != 8) {
                return std::nullopt;
            }
            return (type->int_encoding & btf::int_signed) != 0 ? KconfigKind::signed_integer : KconfigKind::integer;
        }
        if (type->kind == btf::Kind::enum_ && type->size == 4 && type->name == "libbpf_tristate") {
            return KconfigKind::tristate;
        }
        if (type->kind == btf::Kind::array && type->nelems > 0) {
            const btf::Type* element = types.get(types.resolve(type->elem_type));
            if (element != nullptr && element->kind == btf::Kind::int_ && element->size == 1 &&
                (element->int_encoding & btf::int_bool) == 0) {
                return KconfigKind::character_array;
            }
        }
        return std::nullopt;
    }

    // `.kconfig` externs: the variables of the BTF DATASEC `.kconfig`. Each gets a place in one read-only map of
    // that name, aligned to its size (up to 8 bytes; strings to 1), in the DATASEC's order; the platform fills
    // their values at load. An extern's symbol is undefined, and `__weak` when a missing value may read as zero.
    Result<void> read_kconfig() {
        if (!m_object.btf) {
            return {};
        }
        const btf::Types& types = *m_object.btf;
        const btf::Type* datasec = nullptr;
        for (std::size_t id = 1; id < types.count() && datasec == nullptr; ++id) {
            const btf::Type* type = types.get(static_cast<std::uint32_t>(id));
            if (type->kind == btf::Kind::datasec && type->name == ".kconfig") {
                datasec = type;
            }
        }
        if (datasec == nullptr || datasec->vars.empty()) {
            return {};
        }
        std::uint64_t size = 0;
        for (const btf::DataSecVar& entry : datasec->vars) {
            const btf::Type* var = types.get(entry.type);
            if (var == nullptr || var->kind != btf::Kind::var) {
                return Error::invalid(".kconfig: entry " + std::to_string(entry.type) +
                                      " of its BTF is not a variable");
            }
            const auto kind = kconfig_kind(var->ref);
            const auto var_size = types.size_of(var->ref);
            if (!kind || !var_size || *var_size == 0 || *var_size > kMaxKconfigValue) {
                return Error::unsupported("extern " + shown(var->name) + " of .kconfig: its type is none that a " +
                                          "kernel configuration value is read into (bool, enum libbpf_tristate, "
                                          "char, an integer of 1, 2, 4 or 8 bytes, a char array up to " +
                                          std::to_string(kMaxKconfigValue) + " bytes)");
            }
            if (m_kconfig_index.contains(var->name)) {
                return Error::invalid("extern " + shown(var->name) + " is listed twice in .kconfig");
            }
            const std::uint64_t align =
                *kind == KconfigKind::character_array ? 1 : std::min<std::uint64_t>(*var_size, 8);
            const std::uint64_t offset = (size + align - 1) / align * align;
            size = offset + *var_size;
            if (size > kMaxKconfigValue) {
                return Error::unsupported(".kconfig: its externs take more than " + std::to_string(kMaxKconfigValue) +
                                          " bytes");
            }
            m_kconfig_index.emplace(var->name, m_object.kconfig.size());
            m_object.kconfig.push_back({var->name, *kind, static_cast<std::uint32_t>(offset),
                                        static_cast<std::uint32_t>(*var_size), var->ref, false});
        }
        for (const Symbol& symbol : m_symbols) {
            if (symbol.sym.st_shndx != SHN_UNDEF) {
                continue;
            }
            if (auto it = m_kconfig_index.find(symbol.name); it != m_kconfig_index.end()) {
                m_object.kconfig[it->second].weak = symbol.bind() == STB_WEAK;
            }
        }
        MapDefinition map;
        map.name = ".kconfig";
        map.origin = MapOrigin::global_data;
        map.key_size = 4;
        map.value_size = static_cast<std::uint32_t>(size);
        map.max_entries = 1;
        map.read_only = true;
        map.initial_value.assign(static_cast<std::size_t>(size), 0); // the platform's values replace these at load
        m_object.kconfig_map = m_object.maps.size();
        m_object.maps.push_back(std::move(map));
        return {};
    }

    // `__ksym` externs: the variables of the BTF DATASEC `.ksyms` (kernel functions are there too, as FUNCs).
    void read_ksyms() {
        if (!m_object.btf) {
            return;
        }
        const btf::Types& types = *m_object.btf;
        for (std::size_t id = 1; id < types.count(); ++id) {
            const btf::Type* type = types.get(static_cast<std::uint32_t>(id));
            if (type->kind != btf::Kind::datasec || type->name != ".ksyms") {
                continue;
            }
            for (const btf::DataSecVar& entry : type->vars) {
                const btf::Type* var = types.get(entry.type);
                if (var != nullptr && var->kind == btf::Kind::var) {
                    m_ksyms.insert(var->name);
                }
            }
        }
    }

    // --- programs -----------------------------------------------------------------------------

    Result<void> read_functions() {
        for (const Section& section : m_sections) {
            if (!section.executable() || section.data.empty()) {
                continue;
            }
            if (section.data.size() % kInsnSize != 0) {
                return Error::invalid("section " + section.name + ": size " + std::to_string(section.data.size()) +
                                      " is not a multiple of 8");
            }
            const std::size_t slots = section.data.size() / kInsnSize;
            std::vector<Function> functions;
            for (const Symbol* symbol : symbols_in(section.index)) {
                if (symbol->type() != STT_FUNC) {
                    continue;
                }
                if (symbol->sym.st_value % kInsnSize != 0 || symbol->sym.st_value / kInsnSize >= slots) {
                    return Error::invalid("function " + symbol->name + " in " + section.name + " starts at " +
                                          hex(symbol->sym.st_value) + ", not at an instruction of the section");
                }
                Function function;
                function.name = symbol->name;
                function.section = section.index;
                function.start = static_cast<std::size_t>(symbol->sym.st_value / kInsnSize);
                function.length = static_cast<std::size_t>(symbol->sym.st_size / kInsnSize);
                functions.push_back(std::move(function));
            }
            if (functions.empty()) {
                // Hand-written objects may lack function symbols: the section is one function.
                functions.push_back({section.name, section.index, 0, slots});
            }
            for (std::size_t i = 0; i < functions.size(); ++i) {
                const std::size_t end = i + 1 < functions.size() ? functions[i + 1].start : slots;
                if (functions[i].length == 0 || functions[i].start + functions[i].length > end) {
                    functions[i].length = end - functions[i].start;
                }
            }
            m_functions[section.index] = std::move(functions);
            // Section data need not be aligned for Instruction: copy it.
            std::vector<isa::Instruction> code(slots);
            std::memcpy(code.data(), section.data.data(), slots * kInsnSize);
            m_code[section.index] = std::move(code);
        }
        return {};
    }

    // Both are looked up for every call and instruction of every program linked: indexed once, not searched.
    const Function* function_at(std::size_t section, std::size_t start) const {
        auto it = m_function_index.find({section, start});
        return it == m_function_index.end() ? nullptr : it->second;
    }

    const Relocation* relocation_at(std::size_t section, std::size_t insn) const {
        auto it = m_relocation_index.find(section);
        return it == m_relocation_index.end() || insn >= it->second.size() ? nullptr : it->second[insn];
    }

    void index_functions_and_relocations() {
        for (const auto& [section, functions] : m_functions) {
            for (const Function& f : functions) {
                m_function_index.emplace(std::make_pair(section, f.start), &f);
            }
        }
        for (const auto& [section, relocations] : m_relocations) {
            const auto code = m_code.find(section);
            if (code == m_code.end()) {
                continue; // relocations of data: not looked up by instruction
            }
            std::vector<const Relocation*>& slots = m_relocation_index[section];
            slots.assign(code->second.size(), nullptr);
            for (const Relocation& r : relocations) {
                if (r.offset % kInsnSize != 0 || r.offset / kInsnSize >= slots.size()) {
                    continue; // on no instruction
                }
                const Relocation*& slot = slots[static_cast<std::size_t>(r.offset / kInsnSize)];
                if (slot == nullptr) {
                    slot = &r; // the first one counts
                }
            }
        }
    }

    std::span<const isa::Instruction> section_code(std::size_t section) const { return m_code.at(section); }

    // Links one program: the entry function, then every function it reaches, each once.
    Result<ProgramDefinition> link(const Function& entry) {
        if (auto taken = take_program_text(entry.name.size() + m_sections[entry.section].name.size(), entry.name);
            !taken) {
            return std::move(taken).error();
        }
        ProgramDefinition program;
        program.name = entry.name;
        program.section = m_sections[entry.section].name;
        struct Placed {
            const Function* function;
            std::size_t out_start;
        };
        std::vector<Placed> placed;
        std::map<std::pair<std::size_t, std::size_t>, std::size_t> out_start_of; // (section, start) -> out
        std::size_t text = 0; // bytes of subprogram names copied, counted after each function
        auto place = [&](const Function* f) -> std::size_t {
            auto key = std::make_pair(f->section, f->start);
            if (auto it = out_start_of.find(key); it != out_start_of.end()) {
                return it->second;
            }
            const std::size_t out = program.instructions.size();
            const auto code = section_code(f->section).subspan(f->start, f->length);
            program.instructions.insert(program.instructions.end(), code.begin(), code.end());
            placed.push_back({f, out});
            out_start_of[key] = out;
            if (f != &entry) {
                program.subprograms.push_back({f->name, out, f->length});
                text += f->name.size();
            }
            return out;
        };
        // Built only for a message: names cut short, as such messages may be built for every program.
        auto where = [&](const Function& f, std::size_t i) {
            return "program " + shown(entry.name) + ": " + shown(m_sections[f.section].name) + " offset " +
                   hex((f.start + i) * kInsnSize);
        };
        place(&entry);
        std::map<std::pair<std::string, std::int64_t>, std::size_t> generated; // (library call, size) -> start
        for (std::size_t p = 0; p < placed.size(); ++p) {
            if (program.instructions.size() > kMaxLinkedSlots) {
                return Error::unsupported("program " + entry.name + " links to more than " +
                                          std::to_string(kMaxLinkedSlots) + " instructions");
            }
            const Function& f = *placed[p].function;
            const std::size_t base = placed[p].out_start;
            for (std::size_t i = 0; i < f.length; ++i) {
                isa::Instruction& ins = program.instructions[base + i];
                const Relocation* reloc = relocation_at(f.section, f.start + i);
                const bool is_local_call =
                    ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local);
                // Objects with e_machine 0 come from LLVM releases that marked a map's lddw with relocation type 0.
                std::uint32_t type = reloc != nullptr ? reloc->type : kRelNone;
                if (type == kRelNone && reloc != nullptr && m_machine_none && isa::is_lddw(ins)) {
                    type = kRel64_64;
                }
                if (type != kRelNone) {
                    const Symbol& symbol = m_symbols[reloc->symbol];
                    if (symbol.sym.st_shndx == SHN_UNDEF && type == kRel64_32 && ins.opcode == isa::op::CALL_OP &&
                        (symbol.name == "memset" || symbol.name == "memcpy")) {
                        auto out = library_call(program, f, i, symbol.name, generated);
                        if (out) {
                            isa::Instruction& call = program.instructions[base + i];
                            call.src = static_cast<std::uint8_t>(isa::CallSource::local);
                            call.imm = static_cast<std::int32_t>(static_cast<std::int64_t>(*out) -
                                                                 static_cast<std::int64_t>(base + i + 1));
                            continue;
                        }
                        if (!program.unsupported) {
                            program.unsupported = where(f, i) + ": " + out.error().message;
                        }
                        continue;
                    }
                    if (symbol.sym.st_shndx == SHN_UNDEF && type == kRel64_64 && isa::is_lddw(ins) &&
                        m_kconfig_index.contains(symbol.name)) {
                        if (i + 1 >= f.length) {
                            return Error::invalid(where(f, i) + ": lddw is cut off at the end of the function");
                        }
                        // A pointer to the extern's place in the `.kconfig` map, as to a global variable.
                        const KconfigExtern& ext = m_object.kconfig[m_kconfig_index.at(symbol.name)];
                        const std::int64_t offset = std::int64_t{ext.offset} + ins.imm;
                        const std::size_t map = *m_object.kconfig_map;
                        if (offset < 0 || offset > std::int64_t{m_object.maps[map].value_size}) {
                            return Error::invalid(where(f, i) + ": reference to " + shown(symbol.name) + " + " +
                                                  std::to_string(ins.imm) + " lies outside .kconfig");
                        }
                        ins.src = static_cast<std::uint8_t>(isa::LddwSource::map_value_index);
                        ins.imm = static_cast<std::int32_t>(map);
                        program.instructions[base + i + 1].imm = static_cast<std::int32_t>(offset);
                        program.map_references.push_back({base + i, map, true, static_cast<std::uint32_t>(offset)});
                        ++i;
                        continue;
                    }
                    if (symbol.sym.st_shndx == SHN_UNDEF && symbol.bind() == STB_WEAK) {
                        // A weak extern nothing provides (a kernel symbol or function the platform lacks) is absent,
                        // as libbpf resolves those the running kernel lacks: its address is 0, and a call to it is
                        // `call kfunc 0`, which the verifier refuses wherever a run reaches it (a program tests the
                        // address first, as bpf_ksym_exists does).
                        if (type == kRel64_64 && isa::is_lddw(ins)) {
                            if (i + 1 >= f.length) {
                                return Error::invalid(where(f, i) + ": lddw is cut off at the end of the function");
                            }
                            ins.src = static_cast<std::uint8_t>(isa::LddwSource::imm64);
                            ins.imm = 0;
                            program.instructions[base + i + 1].imm = 0;
                            ++i;
                            continue;
                        }
                        if (type == kRel64_32 && ins.opcode == isa::op::CALL_OP) {
                            ins.src = static_cast<std::uint8_t>(isa::CallSource::kfunc);
                            ins.imm = 0;
                            continue;
                        }
                    }
                    if (symbol.sym.st_shndx == SHN_UNDEF && symbol.bind() != STB_WEAK && type == kRel64_64 &&
                        isa::is_lddw(ins)) {
                        if (i + 1 >= f.length) {
                            return Error::invalid(where(f, i) + ": lddw is cut off at the end of the function");
                        }
                        // A value the host gives at load (LoadOptions::externs); until then any number.
                        program.externs.push_back(
                            {base + i, symbol.name,
                             static_cast<std::int64_t>(isa::lddw_imm(ins, program.instructions[base + i + 1])),
                             m_ksyms.contains(symbol.name)});
                        ins.src = static_cast<std::uint8_t>(isa::LddwSource::variable);
                        ins.imm = 0;
                        program.instructions[base + i + 1].imm = 0;
                        ++i;
                        continue;
                    }
                    if (symbol.sym.st_shndx == SHN_UNDEF) {
                        if (!program.unsupported) {
                            program.unsupported = "extern symbol " + shown(symbol.name) + " (" + where(f, i) +
                                                  "): kernel functions (kfuncs) and externs are not supported";
                        }
                        continue;
                    }
                    if (type == kRel64_64 && isa::is_lddw(ins)) {
                        if (i + 1 >= f.length) {
                            return Error::invalid(where(f, i) + ": lddw is cut off at the end of the function");
                        }
                        if (auto r = relocate_lddw(program, f, i, base, symbol, place); !r) {
                            return std::move(r).error();
                        }
                        ++i;
                        continue;
                    }
                    if (type == kRel64_32 && ins.opcode == isa::op::CALL_OP) {
                        // The callee's slot in its section: symbol offset + imm + 1 (libbpf's rule).
                        const std::uint16_t target_section = symbol.sym.st_shndx;
                        const std::int64_t target = static_cast<std::int64_t>(symbol.sym.st_value / kInsnSize) +
                                                    static_cast<std::int64_t>(ins.imm) + 1;
                        const Function* callee =
                            target < 0 ? nullptr : function_at(target_section, static_cast<std::size_t>(target));
                        if (callee == nullptr) {
                            return Error::invalid(where(f, i) + ": call relocation against " + symbol.name +
                                                  " does not land on the start of a function");
                        }
                        const std::size_t out = place(callee); // may move the instructions
                        isa::Instruction& call = program.instructions[base + i];
                        call.src = static_cast<std::uint8_t>(isa::CallSource::local);
                        call.imm = static_cast<std::int32_t>(static_cast<std::int64_t>(out) -
                                                             static_cast<std::int64_t>(base + i + 1));
                        continue;
                    }
                    if (type == kRelAbs64 || type == kRelAbs32 || type == kRelNodyld32) {
                        return Error::invalid(where(f, i) + ": data relocation type " + std::to_string(type) +
                                              " inside code");
                    }
                    return Error::invalid(where(f, i) + ": unknown relocation type " + std::to_string(type) +
                                          " against " + symbol.name);
                }
                if (is_local_call) {
                    const std::int64_t target =
                        static_cast<std::int64_t>(f.start + i) + 1 + static_cast<std::int64_t>(ins.imm);
                    const Function* callee =
                        target < 0 ? nullptr : function_at(f.section, static_cast<std::size_t>(target));
                    if (callee == nullptr) {
                        return Error::invalid(where(f, i) + ": call to offset " + std::to_string(ins.imm) +
                                              " does not land on the start of a function");
                    }
                    if (callee == &f) {
                        continue; // recursion into itself: offsets are already right
                    }
                    const std::size_t out = place(callee); // may move the instructions
                    program.instructions[base + i].imm = static_cast<std::int32_t>(
                        static_cast<std::int64_t>(out) - static_cast<std::int64_t>(base + i + 1));
                } else if (ins.opcode == isa::op::CALL_OP &&
                           ins.src == static_cast<std::uint8_t>(isa::CallSource::kfunc) && !program.unsupported) {
                    program.unsupported = "kernel function call (kfunc) at " + where(f, i) + " is not supported";
                } else if (isa::is_lddw(ins)) {
                    if (ins.src != 0 && !program.unsupported) {
                        program.unsupported = "lddw with pseudo source " + std::to_string(ins.src) + " at " +
                                              where(f, i) + " has no relocation";
                    }
                    ++i;
                }
            }
            if (auto attached = attach_btf_ext(program, f, base); !attached) {
                return std::move(attached).error();
            }
            if (auto taken = take_program_text(std::exchange(text, 0), entry.name); !taken) {
                return std::move(taken).error();
            }
        }
        std::sort(program.lines.begin(), program.lines.end(),
                  [](const btf::LineInfo& a, const btf::LineInfo& b) { return a.insn < b.insn; });
        if (!program.functions.empty() && program.functions.front().insn == 0) {
            program.func_type_id = program.functions.front().type_id;
        }
        if (auto valid = isa::validate(program.instructions); !valid) {
            return Error::invalid("program " + entry.name + " (section " + program.section +
                                      "): " + valid.error().message,
                                  valid.error().pc);
        }
        return program;
    }

    // LLVM turns large copies and clears into calls to memset and memcpy, which BPF objects leave unresolved. When the
    // size is a constant set just before the call (`r3 = N` with no jump landing in between), the call goes to a
    // function written here for that size: byte stores (memset's value is r2's low byte) or byte copies, then
    // r0 = r1. The verifier checks it like any other subprogram.
    Result<std::size_t> library_call(ProgramDefinition& program, const Function& f, std::size_t i,
                                     const std::string& name,
                                     std::map<std::pair<std::string, std::int64_t>, std::size_t>& generated) {
        // Jumps may cross function boundaries: every jump of the section counts (found once per section).
        const std::span<const isa::Instruction> code = section_code(f.section);
        auto [found, fresh] = m_jump_targets.try_emplace(f.section);
        std::vector<bool>& target = found->second;
        if (fresh) {
            target.assign(code.size() + 1, false);
            for (std::size_t j = 0; j < code.size(); ++j) {
                const isa::Instruction& jump = code[j];
                const std::uint8_t cls = isa::op_class(jump.opcode);
                if ((cls == isa::op::JMP || cls == isa::op::JMP32) && jump.opcode != isa::op::CALL_OP &&
                    jump.opcode != isa::op::CALLX_OP && jump.opcode != isa::op::EXIT_OP) {
                    const std::int64_t to =
                        static_cast<std::int64_t>(j) + 1 + (jump.opcode == isa::op::JA32_OP ? jump.imm : jump.offset);
                    if (to >= 0 && static_cast<std::size_t>(to) <= code.size()) {
                        target[static_cast<std::size_t>(to)] = true;
                    }
                }
            }
        }
        std::optional<std::int64_t> size;
        for (std::size_t j = f.start + i; j-- > f.start;) {
            if (target[j + 1]) {
                break; // another path reaches the call with its own r3
            }
            const isa::Instruction& ins = code[j];
            const std::uint8_t cls = isa::op_class(ins.opcode);
            // An exit or an unconditional jump: nothing falls through to the call. A call or a legacy packet load:
            // r1-r5 are clobbered.
            if (ins.opcode == isa::op::EXIT_OP || ins.opcode == isa::op::JA_OP || ins.opcode == isa::op::JA32_OP ||
                ins.opcode == isa::op::CALL_OP || ins.opcode == isa::op::CALLX_OP || isa::is_legacy_packet_load(ins)) {
                break;
            }
            if (j > f.start && isa::is_lddw(code[j - 1])) {
                continue; // the second slot of a lddw
            }
            const bool writes_r3 = ins.dst == 3 && (cls == isa::op::ALU || cls == isa::op::ALU64 ||
                                                    cls == isa::op::LDX || isa::is_lddw(ins));
            const bool atomic_fetch = cls == isa::op::STX && isa::op_mode(ins.opcode) == isa::op::ATOMIC &&
                                      ((ins.imm & isa::op::FETCH) != 0) && (ins.src == 3 || ins.src == 0);
            if (atomic_fetch) {
                break;
            }
            if (writes_r3) {
                if (ins.opcode == (isa::op::ALU64 | isa::op::MOV | isa::op::K)) {
                    size = ins.imm;
                } else if (ins.opcode == (isa::op::ALU | isa::op::MOV | isa::op::K)) {
                    size = static_cast<std::uint32_t>(ins.imm);
                }
                break;
            }
        }
        constexpr std::int64_t kMaxSize = 512;
        if (!size || *size < 0 || *size > kMaxSize) {
            return Error::unsupported("a call to " + name + " whose size is not a constant from 0 to " +
                                      std::to_string(kMaxSize) + " set just before it (r3 = N) is not supported");
        }
        const auto key = std::make_pair(name, *size);
        if (auto it = generated.find(key); it != generated.end()) {
            return it->second;
        }
        const std::size_t out = program.instructions.size();
        for (std::int64_t k = 0; k < *size; ++k) {
            const auto offset = static_cast<std::int16_t>(k);
            if (name == "memcpy") {
                program.instructions.push_back(isa::make(isa::op::LDX | isa::op::MEM | isa::op::B, 0, 2, offset));
                program.instructions.push_back(isa::make(isa::op::STX | isa::op::MEM | isa::op::B, 1, 0, offset));
            } else {
                program.instructions.push_back(isa::make(isa::op::STX | isa::op::MEM | isa::op::B, 1, 2, offset));
            }
        }
        program.instructions.push_back(isa::make(isa::op::ALU64 | isa::op::MOV | isa::op::X, 0, 1));
        program.instructions.push_back(isa::make(isa::op::EXIT_OP));
        program.subprograms.push_back({name + "_" + std::to_string(*size), out, program.instructions.size() - out});
        generated.emplace(key, out);
        return out;
    }

    template <typename Place>
    Result<void> relocate_lddw(ProgramDefinition& program, const Function& f, std::size_t i, std::size_t base,
                               const Symbol& symbol, Place& place) {
        isa::Instruction& ins = program.instructions[base + i];
        isa::Instruction& next = program.instructions[base + i + 1];
        const std::size_t out = base + i;
        const std::uint16_t shndx = symbol.sym.st_shndx;
        // Built only on failure: a program may have a million lddw, and its name a million bytes.
        const auto where = [&] {
            return "program " + shown(program.name) + ": " + shown(m_sections[f.section].name) + " offset " +
                   hex((f.start + i) * kInsnSize);
        };
        if (shndx >= m_sections.size()) {
            return Error::invalid(where() + ": lddw relocation against " + symbol.name + " in a reserved section");
        }
        // A map: the symbol (or section offset) names one definition.
        if (m_sections[shndx].name == "maps" || m_sections[shndx].name == ".maps") {
            const std::uint64_t offset =
                symbol.sym.st_value + (symbol.type() == STT_SECTION ? static_cast<std::uint32_t>(ins.imm) : 0);
            auto it = m_map_by_location.find({shndx, offset});
            if (it == m_map_by_location.end()) {
                return Error::invalid(where() + ": lddw refers to " + symbol.name + ", which is not a map definition");
            }
            ins.src = static_cast<std::uint8_t>(isa::LddwSource::map_index);
            ins.imm = static_cast<std::int32_t>(it->second);
            next.imm = 0;
            program.map_references.push_back({out, it->second, false, 0});
            return {};
        }
        // Global data: a pointer into the section's single value.
        if (auto it = m_global_map.find(shndx); it != m_global_map.end()) {
            const std::uint64_t offset = symbol.sym.st_value + static_cast<std::uint32_t>(ins.imm);
            if (offset > m_sections[shndx].header.sh_size) {
                return Error::invalid(where() + ": reference to " + symbol.name + " + " + std::to_string(ins.imm) +
                                      " lies outside " + m_sections[shndx].name);
            }
            ins.src = static_cast<std::uint8_t>(isa::LddwSource::map_value_index);
            ins.imm = static_cast<std::int32_t>(it->second);
            next.imm = static_cast<std::int32_t>(offset);
            program.map_references.push_back({out, it->second, true, static_cast<std::uint32_t>(offset)});
            return {};
        }
        // Code: the address of a function (callbacks such as bpf_loop's).
        if (m_sections[shndx].executable()) {
            const std::int64_t target = static_cast<std::int64_t>(symbol.sym.st_value / kInsnSize) +
                                        (symbol.type() == STT_SECTION ? ins.imm / 8 : 0);
            const Function* callee = target < 0 ? nullptr : function_at(shndx, static_cast<std::size_t>(target));
            if (callee == nullptr) {
                return Error::invalid(where() + ": code address of " + symbol.name + " is not a function");
            }
            const std::size_t callee_out = place(callee); // may move the instructions
            program.instructions[out].src = static_cast<std::uint8_t>(isa::LddwSource::code_address);
            program.instructions[out].imm =
                static_cast<std::int32_t>(static_cast<std::int64_t>(callee_out) - static_cast<std::int64_t>(out + 1));
            program.instructions[out + 1].imm = 0;
            return {};
        }
        return Error::invalid(where() + ": lddw relocation against " + symbol.name + " in section " +
                              m_sections[shndx].name + ", which holds neither maps, data nor code");
    }

    // The records of .BTF.ext that fall inside `f`, rebased to where `f` lies in the program. Each section's records
    // are sorted by instruction once, so that placing a function costs the records inside it, not all of them.
    // Line records are a debugging aid: past kMaxLineRecords copies or kMaxLineText bytes of text in an object,
    // programs get no more of them. Function and CO-RE records are needed: past kMaxExtRecords or kMaxProgramText,
    // the object is refused.
    Result<void> attach_btf_ext(ProgramDefinition& program, const Function& f, std::size_t base) {
        const btf::SectionInfo* info = m_ext ? m_ext->section(m_sections[f.section].name) : nullptr;
        if (info == nullptr) {
            return {};
        }
        auto [found, fresh] = m_ext_order.try_emplace(f.section);
        ExtOrder& order = found->second;
        if (fresh) {
            auto sorted = [](const auto& records) {
                std::vector<std::size_t> index(records.size());
                for (std::size_t i = 0; i < index.size(); ++i) {
                    index[i] = i;
                }
                std::stable_sort(index.begin(), index.end(),
                                 [&](std::size_t a, std::size_t b) { return records[a].insn < records[b].insn; });
                return index;
            };
            order.lines = sorted(info->lines);
            order.funcs = sorted(info->funcs);
            order.relocations = sorted(info->relocations);
        }
        auto rebase = [&](std::uint32_t insn) { return static_cast<std::uint32_t>(base + (insn - f.start)); };
        auto each_inside = [&](const auto& records, const std::vector<std::size_t>& index, auto&& take) {
            auto first = std::lower_bound(index.begin(), index.end(), f.start,
                                          [&](std::size_t i, std::size_t start) { return records[i].insn < start; });
            for (auto it = first; it != index.end() && records[*it].insn < f.start + f.length; ++it) {
                take(records[*it]);
            }
        };
        // A line record is copied only once it is known to fit both budgets; past either, none is even looked at.
        if (m_line_records < kMaxLineRecords && m_line_text < kMaxLineText) {
            auto first =
                std::lower_bound(order.lines.begin(), order.lines.end(), f.start,
                                 [&](std::size_t i, std::size_t start) { return info->lines[i].insn < start; });
            for (auto it = first; it != order.lines.end() && info->lines[*it].insn < f.start + f.length; ++it) {
                const btf::LineInfo& line = info->lines[*it];
                const std::size_t text = line.file.size() + line.source.size();
                if (m_line_records == kMaxLineRecords || text > kMaxLineText - m_line_text) {
                    m_line_text = kMaxLineText; // the budget is spent: no later record is copied either
                    break;
                }
                ++m_line_records;
                m_line_text += text;
                program.lines.push_back(line);
                program.lines.back().insn = rebase(line.insn);
            }
        }
        std::size_t records = 0;
        std::size_t text = 0;
        each_inside(info->funcs, order.funcs, [&](const btf::FuncInfo& func) {
            program.functions.push_back(func);
            program.functions.back().insn = rebase(func.insn);
            ++records;
            text += func.name.size();
        });
        each_inside(info->relocations, order.relocations, [&](const btf::CoreRelocation& relocation) {
            program.core_relocations.push_back(relocation);
            program.core_relocations.back().insn = rebase(relocation.insn);
            ++records;
            text += relocation.access.size();
        });
        m_records += records;
        if (m_records > kMaxExtRecords) {
            return Error::unsupported("the object's programs carry more than " + std::to_string(kMaxExtRecords) +
                                      " function and CO-RE records together (each program counts the functions it "
                                      "calls)");
        }
        return take_program_text(text, program.name);
    }

    // Counts names and strings copied into programs against kMaxProgramText.
    Result<void> take_program_text(std::size_t bytes, std::string_view program) {
        m_program_text += bytes;
        if (m_program_text > kMaxProgramText) {
            return Error::unsupported("program " + shown(program) + ": the object's programs copy more than " +
                                      std::to_string(kMaxProgramText) +
                                      " bytes of names and strings together (program, section and function names, "
                                      "CO-RE access strings; each program counts the functions it calls)");
        }
        return {};
    }

    Result<void> read_programs() {
        index_functions_and_relocations();
        std::size_t total = 0;
        for (const Section& section : m_sections) {
            if (!section.executable() || section.name == ".text" || section.data.empty()) {
                continue;
            }
            auto it = m_functions.find(section.index);
            if (it == m_functions.end()) {
                continue;
            }
            // Every function of a program section is a program, static ones too (Cilium's tail calls are static),
            // as libbpf reads them; one may still call another as a subprogram.
            for (const Function& function : it->second) {
                auto program = link(function);
                if (!program) {
                    return std::move(program).error();
                }
                // Each program is linked with every function it reaches, library calls expanded: an object of a few
                // hundred kilobytes could otherwise ask for gigabytes of copies.
                total += program->instructions.size();
                if (total > kMaxLinkedSlots) {
                    return Error::unsupported("the object's programs link to more than " +
                                              std::to_string(kMaxLinkedSlots) +
                                              " instructions together (each program counts the functions it calls)");
                }
                m_object.programs.push_back(std::move(program).value());
            }
        }
        return {};
    }

    std::vector<char> m_bytes; // libelf reads from here; it must outlive the handle
    ElfHandle m_handle;
    std::vector<Section> m_sections;
    std::vector<Symbol> m_symbols;
    std::unordered_map<std::size_t, std::vector<const Symbol*>> m_symbols_by_section; // see symbols_in()
    bool m_symbols_grouped = false;
    std::size_t m_symtab = 0;
    bool m_machine_none = false;                                  // e_machine 0: an object from an older LLVM release
    std::map<std::size_t, std::vector<Relocation>> m_relocations; // target section -> relocations
    std::map<std::size_t, std::vector<Function>> m_functions;     // section -> functions by start
    std::map<std::pair<std::size_t, std::size_t>, const Function*> m_function_index; // (section, start)
    std::map<std::size_t, std::vector<const Relocation*>> m_relocation_index;        // code section -> by instruction
    std::map<std::size_t, std::vector<bool>> m_jump_targets; // section -> slots some jump lands on
    struct ExtOrder {
        std::vector<std::size_t> lines, funcs, relocations; // indexes into a SectionInfo's records, by instruction
    };
    std::map<std::size_t, ExtOrder> m_ext_order; // section -> its .BTF.ext records in instruction order
    std::size_t m_line_records = 0;              // line records copied into programs so far
    std::size_t m_line_text = 0;                 // bytes of their file names and source lines
    std::size_t m_program_text = 0;              // names and strings copied into programs so far (kMaxProgramText)
    std::size_t m_name_bytes = 0;                // names read and kept by maps so far (take_names)
    std::size_t m_records = 0;                   // function and CO-RE records copied into programs so far
    std::size_t m_global_bytes = 0;              // bytes of global data so far
    std::size_t m_section_bytes = 0;             // bytes the sections hold, so far
    std::map<std::size_t, std::vector<isa::Instruction>> m_code; // section -> its instructions
    std::map<std::pair<std::size_t, std::uint64_t>, std::size_t> m_map_by_location;
    std::map<std::size_t, std::size_t> m_global_map;              // section -> map index
    std::unordered_map<std::string, std::size_t> m_kconfig_index; // extern name -> index in ObjectFile::kconfig
    std::unordered_set<std::string> m_ksyms;                      // the names of `.ksyms` variables
    std::map<std::size_t, std::pair<std::uint64_t, std::uint64_t>> m_map_extent; // BTF map -> (offset, size) in .maps
    std::map<std::size_t, std::uint32_t> m_values_offset;            // BTF map -> byte offset of its `values` member
    std::unordered_map<std::uint32_t, BtfMapShape> m_btf_map_shapes; // definition struct -> what it says
    std::optional<btf::Ext> m_ext;
    ObjectFile m_object;
};

} // namespace

namespace {
Result<ObjectFile> read_bytes(std::vector<char> bytes) {
    // The limits keep what an object asks for in proportion; a host with less memory still gets an error.
    try {
        return Reader(std::move(bytes)).read();
    } catch (const std::bad_alloc&) {
        return Error::runtime("out of memory while reading the object");
    }
}

Error too_large(std::uint64_t size) {
    return Error::invalid("the object file has " + std::to_string(size) + " bytes, more than the " +
                          std::to_string(kMaxObjectBytes) +
                          " an object may have (reading one takes time in proportion to its size)");
}
} // namespace

Result<ObjectFile> read_object(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > kMaxObjectBytes) {
        return too_large(bytes.size());
    }
    try {
        return read_bytes(std::vector<char>(bytes.begin(), bytes.end()));
    } catch (const std::bad_alloc&) {
        return Error::runtime("out of memory while reading the object");
    }
}

Result<ObjectFile> read_object(const std::filesystem::path& path) {
    std::error_code status;
    if (std::filesystem::is_directory(path, status)) {
        return Error::invalid(path.string() + " is a directory, not an object file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return Error::invalid("cannot open " + path.string());
    }
    // Some reads fail by throwing (a directory the check above missed, a device): the caller gets an error. A file
    // past the limit is refused after reading one byte more than the limit, whatever its size.
    std::vector<char> bytes;
    if (const auto size = std::filesystem::file_size(path, status); !status) {
        if (size > kMaxObjectBytes) {
            Error error = too_large(size);
            error.message = path.filename().string() + ": " + error.message;
            return error;
        }
        bytes.reserve(static_cast<std::size_t>(size));
    }
    try {
        std::vector<char> buffer(std::size_t{1} << 16);
        while (bytes.size() <= kMaxObjectBytes) {
            in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
            const auto got = static_cast<std::size_t>(in.gcount());
            bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(got));
            if (got < buffer.size()) {
                break;
            }
        }
    } catch (const std::exception& e) {
        return Error::invalid("cannot read " + path.string() + ": " + e.what());
    }
    if (in.bad()) {
        return Error::invalid("cannot read " + path.string());
    }
    auto object =
        bytes.size() > kMaxObjectBytes ? Result<ObjectFile>(too_large(bytes.size())) : read_bytes(std::move(bytes));
    if (!object) {
        Error error = std::move(object).error();
        error.message = path.filename().string() + ": " + error.message;
        return error;
    }
    return object;
}

} // namespace embpf::elf
