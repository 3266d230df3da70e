// The ELF reader against hostile objects written here byte by byte: records that name one long string many times,
// map definitions of many members, programs with long names. Each case checks what the reader keeps (or the error it
// gives) against a bound, never a time. Objects the build compiles, cut short, must be refused as truncated.
#include "embpf/elf/object_file.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace embpf;

// The bytes a thread allocates through operator new while a counter is installed (AllocationCount): how much a read
// copies, whatever it frees again. The replacement is the standard one plus the count.
// ThreadSanitizer's runtime defines operator new itself (a second definition fails to link): there the count is off.
#if defined(__SANITIZE_THREAD__)
#define EMBPF_TEST_NO_NEW_COUNT 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EMBPF_TEST_NO_NEW_COUNT 1
#endif
#endif

namespace {
thread_local std::uint64_t* t_allocated = nullptr;
#ifdef EMBPF_TEST_NO_NEW_COUNT
constexpr bool kCountsAllocations = false;
#else
constexpr bool kCountsAllocations = true;
#endif
} // namespace

#ifndef EMBPF_TEST_NO_NEW_COUNT
void* operator new(std::size_t size) {
    if (t_allocated != nullptr) {
        *t_allocated += size;
    }
    for (;;) {
        if (void* memory = std::malloc(size == 0 ? 1 : size)) {
            return memory;
        }
        const std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) {
            throw std::bad_alloc();
        }
        handler();
    }
}
// Every other unaligned form goes through the one above, so that what one form allocates any form may free (the
// library's own nothrow and array news among them, under AddressSanitizer too).
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return ::operator new(size, std::nothrow); }
// GCC, once it inlines these into a caller, sees free() given memory of operator new and warns: the replacement above
// allocates with malloc, so the two match.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete[](void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif
#endif

namespace {

class AllocationCount {
  public:
    AllocationCount() { t_allocated = &m_bytes; }
    ~AllocationCount() { t_allocated = nullptr; }
    AllocationCount(const AllocationCount&) = delete;
    AllocationCount& operator=(const AllocationCount&) = delete;
    [[nodiscard]] std::uint64_t bytes() const { return m_bytes; }

  private:
    std::uint64_t m_bytes = 0;
};

using Bytes = std::vector<std::uint8_t>;

void put(Bytes& out, std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) {
        out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
}

void append(Bytes& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

// A string table: offset 0 is the empty string; add() appends a string (no sharing unless asked for).
struct Strings {
    Bytes bytes = Bytes(1, 0);
    std::uint32_t add(std::string_view text) {
        const auto offset = static_cast<std::uint32_t>(bytes.size());
        append(bytes, text);
        bytes.push_back(0);
        return offset;
    }
};

struct SectionSpec {
    SectionSpec(std::string name_, std::uint32_t type_, std::uint64_t flags_ = 0, Bytes data_ = {},
                std::uint32_t link_ = 0, std::uint32_t info_ = 0, std::uint64_t entsize_ = 0)
        : name(std::move(name_)), type(type_), flags(flags_), data(std::move(data_)), link(link_), info(info_),
          entsize(entsize_) {}
    std::string name;
    std::uint32_t type = 1; // SHT_PROGBITS
    std::uint64_t flags = 0;
    Bytes data;
    std::uint32_t link = 0;
    std::uint32_t info = 0;
    std::uint64_t entsize = 0;
    std::uint32_t name_offset = UINT32_MAX; // when set, the name's offset in .shstrtab (to share one name)
};

constexpr std::uint32_t kProgbits = 1;
constexpr std::uint32_t kSymtab = 2;
constexpr std::uint32_t kStrtab = 3;
constexpr std::uint32_t kRel = 9;
constexpr std::uint64_t kAlloc = 2;
constexpr std::uint64_t kExec = 4;
constexpr std::uint64_t kWrite = 1;

// An ELF64 relocatable eBPF object: a null section, `sections` (indexes from 1), then .shstrtab. `names` holds the
// section names already placed by name_offset; the others are appended.
Bytes build_elf(std::vector<SectionSpec> sections, Strings names = {}) {
    for (SectionSpec& section : sections) {
        if (section.name_offset == UINT32_MAX) {
            section.name_offset = names.add(section.name);
        }
    }
    SectionSpec shstrtab{".shstrtab", kStrtab};
    shstrtab.name_offset = names.add(".shstrtab");
    shstrtab.data = names.bytes;
    sections.push_back(std::move(shstrtab));
    Bytes out(64, 0);
    std::vector<std::uint64_t> offsets;
    for (const SectionSpec& section : sections) {
        while (out.size() % 8 != 0) {
            out.push_back(0);
        }
        offsets.push_back(out.size());
        out.insert(out.end(), section.data.begin(), section.data.end());
    }
    while (out.size() % 8 != 0) {
        out.push_back(0);
    }
    const std::uint64_t shoff = out.size();
    out.resize(out.size() + 64, 0); // the null section
    for (std::size_t i = 0; i < sections.size(); ++i) {
        const SectionSpec& s = sections[i];
        put(out, s.name_offset, 4);
        put(out, s.type, 4);
        put(out, s.flags, 8);
        put(out, 0, 8); // sh_addr
        put(out, offsets[i], 8);
        put(out, s.data.size(), 8);
        put(out, s.link, 4);
        put(out, s.info, 4);
        put(out, 8, 8); // sh_addralign
        put(out, s.entsize, 8);
    }
    const std::size_t count = sections.size() + 1;
    Bytes header;
    append(header, "\x7f"
                   "ELF");
    header.insert(header.end(), {2, 1, 1, 0});
    header.resize(16, 0);
    put(header, 1, 2);   // ET_REL
    put(header, 247, 2); // EM_BPF
    put(header, 1, 4);
    put(header, 0, 8);     // e_entry
    put(header, 0, 8);     // e_phoff
    put(header, shoff, 8); // e_shoff
    put(header, 0, 4);     // e_flags
    put(header, 64, 2);    // e_ehsize
    put(header, 0, 2);
    put(header, 0, 2);
    put(header, 64, 2); // e_shentsize
    put(header, count, 2);
    put(header, count - 1, 2); // e_shstrndx
    std::copy(header.begin(), header.end(), out.begin());
    return out;
}

constexpr std::uint8_t kGlobal = 1;
constexpr std::uint8_t kLocal = 0;
constexpr std::uint8_t kFunc = 2;
constexpr std::uint8_t kObject = 1;

void put_symbol(Bytes& symtab, std::uint32_t name, std::uint8_t bind, std::uint8_t type, std::uint16_t section,
                std::uint64_t value, std::uint64_t size) {
    put(symtab, name, 4);
    put(symtab, static_cast<std::uint8_t>(bind << 4 | type), 1);
    put(symtab, 0, 1);
    put(symtab, section, 2);
    put(symtab, value, 8);
    put(symtab, size, 8);
}

Bytes null_symbol() {
    Bytes symtab;
    put_symbol(symtab, 0, 0, 0, 0, 0, 0);
    return symtab;
}

void put_insn(Bytes& code, std::uint8_t opcode, std::uint8_t dst, std::uint8_t src, std::int16_t offset,
              std::int32_t imm) {
    put(code, opcode, 1);
    put(code, static_cast<std::uint8_t>(dst | src << 4), 1);
    put(code, static_cast<std::uint16_t>(offset), 2);
    put(code, static_cast<std::uint32_t>(imm), 4);
}

constexpr std::uint8_t kCall = 0x85;
constexpr std::uint8_t kExit = 0x95;
constexpr std::uint8_t kMov64Imm = 0xb7;
constexpr std::uint8_t kLddw = 0x18;

// A raw .BTF section: types as words, then strings.
struct Btf {
    Bytes types;
    Strings strings;
    std::uint32_t count = 0;
    std::uint32_t type(std::uint32_t name, std::uint32_t kind, std::uint32_t vlen, std::uint32_t size_or_type) {
        put(types, name, 4);
        put(types, kind << 24 | vlen, 4);
        put(types, size_or_type, 4);
        return ++count;
    }
    void word(std::uint32_t value) { put(types, value, 4); }
    [[nodiscard]] Bytes bytes() const {
        Bytes out;
        put(out, 0xeb9f, 2);
        put(out, 1, 1);
        put(out, 0, 1);
        put(out, 24, 4);
        put(out, 0, 4);
        put(out, types.size(), 4);
        put(out, types.size(), 4);
        put(out, strings.bytes.size(), 4);
        out.insert(out.end(), types.begin(), types.end());
        out.insert(out.end(), strings.bytes.begin(), strings.bytes.end());
        return out;
    }
};

constexpr std::uint32_t kBtfInt = 1;
constexpr std::uint32_t kBtfPtr = 2;
constexpr std::uint32_t kBtfArray = 3;
constexpr std::uint32_t kBtfStruct = 4;
constexpr std::uint32_t kBtfVar = 14;
constexpr std::uint32_t kBtfDatasec = 15;

// A .BTF.ext section with line records and CO-RE records for one program section (either may be empty).
Bytes btf_ext(std::uint32_t section_name, const Bytes& line_records, std::uint32_t lines, const Bytes& core_records,
              std::uint32_t cores) {
    Bytes func_info;
    put(func_info, 8, 4);
    Bytes line_info;
    put(line_info, 16, 4);
    if (lines != 0) {
        put(line_info, section_name, 4);
        put(line_info, lines, 4);
        line_info.insert(line_info.end(), line_records.begin(), line_records.end());
    }
    Bytes core_info;
    put(core_info, 16, 4);
    if (cores != 0) {
        put(core_info, section_name, 4);
        put(core_info, cores, 4);
        core_info.insert(core_info.end(), core_records.begin(), core_records.end());
    }
    Bytes out;
    put(out, 0xeb9f, 2);
    put(out, 1, 1);
    put(out, 0, 1);
    put(out, 32, 4); // header length
    put(out, 0, 4);
    put(out, func_info.size(), 4);
    put(out, func_info.size(), 4);
    put(out, line_info.size(), 4);
    put(out, func_info.size() + line_info.size(), 4);
    put(out, core_info.size(), 4);
    out.insert(out.end(), func_info.begin(), func_info.end());
    out.insert(out.end(), line_info.begin(), line_info.end());
    out.insert(out.end(), core_info.begin(), core_info.end());
    return out;
}

SectionSpec license() {
    SectionSpec section{"license", kProgbits, kAlloc | kWrite};
    append(section.data, std::string_view("GPL\0", 4));
    return section;
}

// `programs` programs `p<i>` in section xdp, each `call sub; exit`, then the static function `sub`
// (`r0 = 0; exit`, instruction 2 * programs), named `sub_name`. `ext` is the object's .BTF.ext (none when empty);
// the .BTF holds an int and `strings`.
Bytes programs_calling_sub(std::size_t programs, std::string_view sub_name, const Btf& btf, const Bytes& ext) {
    Bytes code;
    const auto sub = static_cast<std::int32_t>(2 * programs);
    for (std::size_t p = 0; p < programs; ++p) {
        put_insn(code, kCall, 0, 1, 0, sub - static_cast<std::int32_t>(2 * p + 1));
        put_insn(code, kExit, 0, 0, 0, 0);
    }
    put_insn(code, kMov64Imm, 0, 0, 0, 0);
    put_insn(code, kExit, 0, 0, 0, 0);
    Strings strtab;
    Bytes symtab = null_symbol();
    for (std::size_t p = 0; p < programs; ++p) {
        put_symbol(symtab, strtab.add("p" + std::to_string(p)), kGlobal, kFunc, 4, 16 * p, 16);
    }
    put_symbol(symtab, strtab.add(sub_name), kLocal, kFunc, 4, 16 * programs, 16);
    std::vector<SectionSpec> sections = {{".strtab", kStrtab, 0, strtab.bytes},
                                         {".symtab", kSymtab, 0, symtab, 1, 1, 24},
                                         license(),
                                         {"xdp", kProgbits, kAlloc | kExec, code},
                                         {".BTF", kProgbits, 0, btf.bytes()}};
    if (!ext.empty()) {
        sections.push_back({".BTF.ext", kProgbits, 0, ext});
    }
    return build_elf(std::move(sections));
}

Btf int_btf() {
    Btf btf;
    btf.type(btf.strings.add("int"), kBtfInt, 0, 4);
    btf.word(32);
    return btf;
}

Result<elf::ObjectFile> read(const Bytes& bytes) { return elf::read_object(std::span<const std::uint8_t>(bytes)); }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// `.maps` with `maps` variables m<i>, all of `struct def` { type, max_entries, key_size, value_size, then `extra`
// map_extra members }, as libbpf's __uint() writes them: pointers to arrays whose length is the value.
Bytes btf_maps(std::size_t maps, std::size_t extra) {
    Btf btf;
    const std::uint32_t integer = btf.type(btf.strings.add("int"), kBtfInt, 0, 4);
    btf.word(32);
    auto array_of = [&](std::uint32_t n) {
        const std::uint32_t id = btf.type(0, kBtfArray, 0, 0);
        btf.word(integer);
        btf.word(integer);
        btf.word(n);
        return btf.type(0, kBtfPtr, 0, id);
    };
    const std::uint32_t hash = array_of(1);
    const std::uint32_t entries = array_of(64);
    const std::uint32_t four = array_of(4);
    const std::uint32_t eight = array_of(8);
    const std::uint32_t def = btf.type(btf.strings.add("def"), kBtfStruct, static_cast<std::uint32_t>(4 + extra), 32);
    const std::uint32_t member_names[4] = {btf.strings.add("type"), btf.strings.add("max_entries"),
                                           btf.strings.add("key_size"), btf.strings.add("value_size")};
    const std::uint32_t member_types[4] = {hash, entries, four, eight};
    for (int m = 0; m < 4; ++m) {
        btf.word(member_names[m]);
        btf.word(member_types[m]);
        btf.word(static_cast<std::uint32_t>(64 * m));
    }
    const std::uint32_t map_extra = btf.strings.add("map_extra");
    for (std::size_t m = 0; m < extra; ++m) {
        btf.word(map_extra);
        btf.word(entries);
        btf.word(256);
    }
    Strings strtab;
    Bytes symtab = null_symbol();
    std::vector<std::uint32_t> variables;
    for (std::size_t i = 0; i < maps; ++i) {
        const std::string name = "m" + std::to_string(i);
        variables.push_back(btf.type(btf.strings.add(name), kBtfVar, 0, def));
        btf.word(1); // global
        put_symbol(symtab, strtab.add(name), kGlobal, kObject, 4, 32 * i, 32);
    }
    btf.type(btf.strings.add(".maps"), kBtfDatasec, static_cast<std::uint32_t>(maps),
             static_cast<std::uint32_t>(32 * maps));
    for (std::size_t i = 0; i < maps; ++i) {
        btf.word(variables[i]);
        btf.word(static_cast<std::uint32_t>(32 * i));
        btf.word(32);
    }
    return build_elf({{".strtab", kStrtab, 0, strtab.bytes},
                      {".symtab", kSymtab, 0, symtab, 1, 1, 24},
                      license(),
                      {".maps", kProgbits, kAlloc | kWrite, Bytes(32 * maps, 0)},
                      {".BTF", kProgbits, 0, btf.bytes()}});
}

const std::string kObjects = EMBPF_TEST_ELF_DIR;

Bytes file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The little-endian number of `width` bytes at `offset`, and its replacement.
std::uint64_t number_at(const Bytes& bytes, std::size_t offset, int width) {
    std::uint64_t value = 0;
    for (int i = width; i-- > 0;) {
        value = value << 8 | bytes.at(offset + static_cast<std::size_t>(i));
    }
    return value;
}

void set_number(Bytes& bytes, std::size_t offset, std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) {
        bytes.at(offset + static_cast<std::size_t>(i)) = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

// Where an ELF64 header and section header keep what these tests read and change.
constexpr std::size_t kShoff = 0x28;
constexpr std::size_t kShnum = 0x3c;
constexpr std::size_t kShstrndx = 0x3e;
constexpr std::size_t kShdrSize = 64;
constexpr std::size_t kShType = 4;
constexpr std::size_t kShOffset = 0x18;
constexpr std::size_t kShSize = 0x20;
constexpr std::size_t kShAlign = 0x30;

std::size_t section_header(const Bytes& object, std::size_t index) {
    return static_cast<std::size_t>(number_at(object, kShoff, 8)) + index * kShdrSize;
}

struct Placed {
    std::size_t header = 0; // where the section's header is
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

// The section of that name in a whole object.
std::optional<Placed> find_section(const Bytes& object, std::string_view name) {
    const std::size_t names = section_header(object, number_at(object, kShstrndx, 2));
    const std::uint64_t names_offset = number_at(object, names + kShOffset, 8);
    for (std::size_t i = 0; i < number_at(object, kShnum, 2); ++i) {
        const std::size_t header = section_header(object, i);
        const auto* text = reinterpret_cast<const char*>(object.data() + names_offset + number_at(object, header, 4));
        if (std::string_view(text) == name) {
            return Placed{header, number_at(object, header + kShOffset, 8), number_at(object, header + kShSize, 8)};
        }
    }
    return std::nullopt;
}

// `object` laid out again (ELF lets the section header table lie anywhere): the ELF header, the section header table,
// then the sections' bytes in the order of their indexes, each at its alignment. Cut inside a section's bytes, such an
// object keeps its table and every section before that one.
Bytes table_first(const Bytes& object) {
    const std::size_t count = number_at(object, kShnum, 2);
    Bytes out(object.begin(), object.begin() + 64);
    set_number(out, kShoff, 64, 8);
    out.resize(64 + count * kShdrSize, 0);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t from = section_header(object, i);
        const std::size_t to = 64 + i * kShdrSize;
        std::copy(object.begin() + static_cast<std::ptrdiff_t>(from),
                  object.begin() + static_cast<std::ptrdiff_t>(from + kShdrSize),
                  out.begin() + static_cast<std::ptrdiff_t>(to));
        const std::uint64_t type = number_at(object, from + kShType, 4);
        const std::uint64_t size = number_at(object, from + kShSize, 8);
        if (type == 0 || type == 8 || size == 0) { // SHT_NULL, SHT_NOBITS, empty
            continue;
        }
        const std::uint64_t align = std::max<std::uint64_t>(number_at(object, from + kShAlign, 8), 1);
        while (out.size() % align != 0) {
            out.push_back(0);
        }
        const std::uint64_t offset = number_at(object, from + kShOffset, 8);
        set_number(out, to + kShOffset, out.size(), 8);
        out.insert(out.end(), object.begin() + static_cast<std::ptrdiff_t>(offset),
                   object.begin() + static_cast<std::ptrdiff_t>(offset + size));
    }
    return out;
}

// The error of reading the first `length` bytes of `object`, or "read" when they read.
std::string cut_message(const Bytes& object, std::size_t length) {
    auto object_read = elf::read_object(std::span<const std::uint8_t>(object.data(), length));
    return object_read ? std::string("read") : object_read.error().message;
}

std::string past_the_end(std::uint64_t length) {
    return " extends past the end of the file (" + std::to_string(length) + " bytes)";
}

// Reads every length of `object` from `first` to one byte short: the messages not saying "truncated" (or saying
// "stripped"), with the length each was given for.
std::vector<std::string> not_truncated(const Bytes& object, std::size_t first) {
    std::vector<std::string> wrong;
    for (std::size_t length = first; length < object.size(); ++length) {
        const std::string message = cut_message(object, length);
        if (!contains(message, "truncated") || contains(message, "stripped") ||
            !contains(message, past_the_end(length))) {
            wrong.push_back(std::to_string(length) + ": " + message);
        }
    }
    return wrong;
}

} // namespace

// clang writes the section header table last: an object cut anywhere lost part of it, and libelf read what was left as
// an object of no sections, which the reader called stripped.
TEST_CASE("elf reader: a compiled object cut short at any length is refused as truncated, never as stripped") {
    const Bytes object = file_bytes(kObjects + "/multi_program.o");
    auto whole = read(object);
    REQUIRE_MESSAGE(whole.has_value(), (whole ? "" : whole.error().message));
    CHECK(whole->programs.size() == 3); // first and second in xdp, third in tc

    const std::uint64_t shoff = number_at(object, kShoff, 8);
    const std::uint64_t shnum = number_at(object, kShnum, 2);
    REQUIRE(shoff + shnum * kShdrSize == object.size());
    const auto symtab = find_section(object, ".symtab");
    const auto xdp = find_section(object, "xdp");
    REQUIRE(symtab.has_value());
    REQUIRE(xdp.has_value());

    const std::vector<std::string> wrong = not_truncated(object, 4);
    CHECK_MESSAGE(wrong.empty(), wrong.size() << " lengths, the first " << (wrong.empty() ? "" : wrong.front()));

    const std::string header = "truncated object: the ELF header (64 bytes)";
    CHECK(cut_message(object, 4) == header + past_the_end(4));
    CHECK(cut_message(object, 10) == header + past_the_end(10));
    CHECK(cut_message(object, 63) == header + past_the_end(63));
    const std::string table = "truncated object: the section header table (offset " + std::to_string(shoff) + ", " +
                              std::to_string(shnum) + " entries)";
    for (const std::uint64_t length :
         {std::uint64_t{64}, xdp->offset + 8, xdp->offset + xdp->size - 1, symtab->offset + 1,
          symtab->offset + symtab->size / 2, shoff, shoff + 1, shoff + 5 * kShdrSize + 17, object.size() - 1}) {
        CAPTURE(length);
        CHECK(cut_message(object, length) == table + past_the_end(length));
    }
    CHECK(cut_message(object, 3) == "not an ELF file (bad magic)");
    CHECK(cut_message(object, 0) == "not an ELF file (bad magic)");
}

// With the section header table first, a cut object keeps its table: the first section cut off is named.
TEST_CASE("elf reader: an object cut short inside a section's bytes names the section") {
    const Bytes original = file_bytes(kObjects + "/multi_program.o");
    const Bytes object = table_first(original);
    auto whole = read(object);
    REQUIRE_MESSAGE(whole.has_value(), (whole ? "" : whole.error().message));
    auto reference = read(original);
    REQUIRE(reference.has_value());
    REQUIRE(whole->programs.size() == reference->programs.size());
    for (std::size_t i = 0; i < whole->programs.size(); ++i) {
        CHECK(whole->programs[i].name == reference->programs[i].name);
        CHECK(whole->programs[i].instructions == reference->programs[i].instructions);
    }

    const std::uint64_t shnum = number_at(object, kShnum, 2);
    const std::uint64_t table_end = 64 + shnum * kShdrSize;
    const std::vector<std::string> wrong = not_truncated(object, 4);
    CHECK_MESSAGE(wrong.empty(), wrong.size() << " lengths, the first " << (wrong.empty() ? "" : wrong.front()));
    const std::string table =
        "truncated object: the section header table (offset 64, " + std::to_string(shnum) + " entries)";
    for (const std::uint64_t length : {std::uint64_t{64}, std::uint64_t{65}, table_end - 1}) {
        CAPTURE(length);
        CHECK(cut_message(object, length) == table + past_the_end(length));
    }

    for (const std::string_view name : {std::string_view(".symtab"), std::string_view("xdp"), std::string_view("tc")}) {
        CAPTURE(name);
        const auto section = find_section(object, name);
        REQUIRE(section.has_value());
        REQUIRE(section->size > 2);
        const std::string expected = "truncated object: section '" + std::string(name) + "' (offset " +
                                     std::to_string(section->offset) + ", size " + std::to_string(section->size) + ")";
        for (const std::uint64_t length : {section->offset, section->offset + 1, section->offset + section->size / 2,
                                           section->offset + section->size - 1}) {
            CAPTURE(length);
            CHECK(cut_message(object, length) == expected + past_the_end(length));
        }
    }
}

// A section's offset and size are added without wrapping: an offset near 2^64 is past the end, not near the start.
TEST_CASE("elf reader: section and table extents near 2^64 are past the end of the file") {
    Bytes code;
    put_insn(code, kMov64Imm, 0, 0, 0, 0);
    put_insn(code, kExit, 0, 0, 0, 0);
    Strings strtab;
    Bytes symtab = null_symbol();
    put_symbol(symtab, strtab.add("p"), kGlobal, kFunc, 4, 0, 16);
    const Bytes object = build_elf({{".strtab", kStrtab, 0, strtab.bytes},
                                    {".symtab", kSymtab, 0, symtab, 1, 1, 24},
                                    license(),
                                    {"xdp", kProgbits, kAlloc | kExec, code}});
    REQUIRE(read(object).has_value());
    const std::string end = past_the_end(object.size());

    SUBCASE("a section's offset") {
        Bytes bytes = object;
        const std::uint64_t offset = ~std::uint64_t{0} - 7; // offset + size wraps to 40
        set_number(bytes, section_header(bytes, 2) + kShOffset, offset, 8);
        auto refused = read(bytes);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().message ==
              "truncated object: section '.symtab' (offset " + std::to_string(offset) + ", size 48)" + end);
    }
    SUBCASE("a section's size") {
        Bytes bytes = object;
        set_number(bytes, section_header(bytes, 4) + kShSize, ~std::uint64_t{0}, 8);
        auto refused = read(bytes);
        REQUIRE_FALSE(refused.has_value());
        CHECK_MESSAGE(contains(refused.error().message, "truncated object: section 'xdp' (offset "),
                      refused.error().message);
        CHECK(contains(refused.error().message, ", size 18446744073709551615)" + end));
    }
    SUBCASE("the table's offset") {
        Bytes bytes = object;
        set_number(bytes, kShoff, ~std::uint64_t{0} - 63, 8);
        auto refused = read(bytes);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().message ==
              "truncated object: the section header table (offset 18446744073709551552, 6 entries)" + end);
    }
    SUBCASE("the table's count in its first entry") {
        // e_shnum 0: the first section header's sh_size holds the count; 2^58 entries of 64 bytes wrap to 0.
        Bytes bytes = object;
        set_number(bytes, kShnum, 0, 2);
        set_number(bytes, section_header(bytes, 0) + kShSize, std::uint64_t{1} << 58, 8);
        auto refused = read(bytes);
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().message == "truncated object: the section header table (offset " +
                                             std::to_string(number_at(bytes, kShoff, 8)) + ", 288230376151711744 " +
                                             "entries)" + end);
    }
}

TEST_CASE("elf reader: a whole object without a symbol table is still called stripped") {
    Bytes code;
    put_insn(code, kMov64Imm, 0, 0, 0, 0);
    put_insn(code, kExit, 0, 0, 0, 0);
    auto refused = read(build_elf({license(), {"xdp", kProgbits, kAlloc | kExec, code}}));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message == "no symbol table (.symtab): the object was stripped");
}

// 2,000 `.maps` variables sharing one definition struct of 60,004 members took 10 s to read: every map read every
// member. A definition has at most 64 members, and one struct is read once however many maps it defines.
TEST_CASE("elf reader: a BTF map definition struct of more than 64 members is refused, naming the map") {
    auto refused = read(btf_maps(3, 61));
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(contains(refused.error().message, ".maps: m0: the definition struct struct def has 65 members, "
                                                    "more than the 64 a map definition may have"),
                  refused.error().message);

    auto object = read(btf_maps(3, 60));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    REQUIRE(object->maps.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const elf::MapDefinition& map = object->maps[i];
        CHECK(map.name == "m" + std::to_string(i));
        CHECK(map.origin == elf::MapOrigin::btf);
        CHECK(map.type == 1);
        CHECK(map.max_entries == 64);
        CHECK(map.key_size == 4);
        CHECK(map.value_size == 8);
    }
}

// A shared subprogram's line records were copied, with their strings, into every program that links it: 1 MB of file
// gave 1.6 GB. The text copied is held to 64 MiB; records past it are left out and the object still reads.
TEST_CASE("elf reader: line records naming one long string stop at 64 MiB of text, and the object still reads") {
    constexpr std::size_t kPrograms = 12;
    constexpr std::size_t kRecords = 8;
    const std::string text(std::size_t{512} << 10, 'x'); // file and source: 1 MiB a record
    Btf btf = int_btf();
    const std::uint32_t section = btf.strings.add("xdp");
    const std::uint32_t string = btf.strings.add(text);
    Bytes records;
    for (std::size_t r = 0; r < kRecords; ++r) {
        put(records, 8 * 2 * kPrograms, 4); // sub's first instruction
        put(records, string, 4);
        put(records, string, 4);
        put(records, 1u << 10 | 1, 4);
    }
    const Bytes bytes = programs_calling_sub(kPrograms, "sub", btf, btf_ext(section, records, kRecords, {}, 0));
    auto object = read(bytes);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    REQUIRE(object->programs.size() == kPrograms + 1); // sub is a program of its own too
    std::size_t total = 0;
    for (const elf::ProgramDefinition& program : object->programs) {
        CAPTURE(program.name);
        CHECK(program.instructions.size() == (program.name == "sub" ? 2 : 4));
        for (const btf::LineInfo& line : program.lines) {
            total += line.file.size() + line.source.size();
            CHECK(line.source == text);
        }
    }
    CHECK(total <= std::size_t{64} << 20);
    CHECK(object->programs.front().lines.size() == kRecords); // the first programs have all of theirs
    CHECK(object->programs.back().lines.empty());             // the budget was spent before the last
}

// A program of a 1 MB name with 300,000 lddw took 14 s to read: each lddw built a message naming the program, in case
// it would fail. Messages are built only on failure, and show names cut to 512 bytes.
TEST_CASE("elf reader: lddw relocations copy nothing of the program's name, and messages cut it short") {
    const std::string name = "p" + std::string(std::size_t{1} << 20, 'x');
    auto object_with = [&](std::size_t lddw, bool bad_target) {
        Bytes code;
        for (std::size_t k = 0; k < lddw; ++k) {
            put_insn(code, kLddw, 1, 0, 0, 0);
            put_insn(code, 0, 0, 0, 0, 0);
        }
        put_insn(code, kMov64Imm, 0, 0, 0, 0);
        put_insn(code, kExit, 0, 0, 0, 0);
        Strings strtab;
        Bytes symtab = null_symbol();
        put_symbol(symtab, strtab.add("m0"), kGlobal, kObject, bad_target ? 3 : 5, 0, 20); // in license or maps
        put_symbol(symtab, strtab.add(name), kGlobal, kFunc, 4, 0, code.size());
        Bytes relocations;
        for (std::size_t k = 0; k < lddw; ++k) {
            put(relocations, 16 * k, 8);
            put(relocations, std::uint64_t{1} << 32 | 1, 8); // symbol 1, R_BPF_64_64
        }
        Bytes maps;
        for (const std::uint32_t field : {2u, 4u, 4u, 1u, 0u}) {
            put(maps, field, 4);
        }
        return build_elf({{".strtab", kStrtab, 0, strtab.bytes},
                          {".symtab", kSymtab, 0, symtab, 1, 1, 24},
                          license(),
                          {"xdp", kProgbits, kAlloc | kExec, code},
                          {"maps", kProgbits, kAlloc | kWrite, maps},
                          {".relxdp", kRel, 0, relocations, 2, 4, 16}});
    };

    const Bytes good = object_with(2000, false);
    std::uint64_t allocated = 0;
    {
        AllocationCount count;
        auto object = read(good);
        allocated = count.bytes();
        REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
        REQUIRE(object->programs.size() == 1);
        CHECK(object->programs[0].map_references.size() == 2000);
    }
    // The file, the name as the symbol, function and program have it, the linked code: a few MB, not 2,000 names.
    if (kCountsAllocations) {
        CHECK_MESSAGE(allocated < (std::uint64_t{64} << 20), "allocated " << allocated << " bytes");
    } else {
        MESSAGE("the bytes allocated are not counted under ThreadSanitizer");
    }

    auto refused = read(object_with(3, true));
    REQUIRE_FALSE(refused.has_value());
    const std::string& message = refused.error().message;
    CHECK_MESSAGE(contains(message, "program p" + std::string(511, 'x') +
                                        "...: xdp offset 0x0: lddw relocation "
                                        "against m0 in section license"),
                  message.substr(0, 2000));
    CHECK(message.size() < 2000);
}

// Symbol and section names are offsets into a string table: 1,000 symbols naming one 1 MB string took 1 GB to read.
TEST_CASE("elf reader: section and symbol names are held to 16 MiB and twice the file's size together") {
    const std::string name(std::size_t{1} << 20, 'n');
    Bytes code;
    put_insn(code, kMov64Imm, 0, 0, 0, 0);
    put_insn(code, kExit, 0, 0, 0, 0);

    SUBCASE("symbols") {
        Strings strtab;
        Bytes symtab = null_symbol();
        put_symbol(symtab, strtab.add("p"), kGlobal, kFunc, 4, 0, 16);
        const std::uint32_t shared = strtab.add(name);
        for (int i = 0; i < 40; ++i) {
            put_symbol(symtab, shared, kGlobal, 0, 0, 0, 0);
        }
        auto object = read(build_elf({{".strtab", kStrtab, 0, strtab.bytes},
                                      {".symtab", kSymtab, 0, symtab, 1, 2, 24},
                                      license(),
                                      {"xdp", kProgbits, kAlloc | kExec, code}}));
        REQUIRE_FALSE(object.has_value());
        CHECK_MESSAGE(contains(object.error().message, ": the names of the sections, symbols and maps take more than"),
                      object.error().message);
        CHECK(object.error().message.rfind("symbol ", 0) == 0);
    }
    SUBCASE("sections") {
        Strings strtab;
        Bytes symtab = null_symbol();
        put_symbol(symtab, strtab.add("p"), kGlobal, kFunc, 4, 0, 16);
        Strings names;
        const std::uint32_t shared = names.add(name);
        std::vector<SectionSpec> sections = {{".strtab", kStrtab, 0, strtab.bytes},
                                             {".symtab", kSymtab, 0, symtab, 1, 2, 24},
                                             license(),
                                             {"xdp", kProgbits, kAlloc | kExec, code}};
        for (int i = 0; i < 40; ++i) {
            SectionSpec empty{"", kProgbits};
            empty.name_offset = shared;
            sections.push_back(std::move(empty));
        }
        auto object = read(build_elf(std::move(sections), names));
        REQUIRE_FALSE(object.has_value());
        CHECK_MESSAGE(contains(object.error().message, ": the names of the sections, symbols and maps take more than"),
                      object.error().message);
        CHECK(object.error().message.rfind("section ", 0) == 0);
    }
    SUBCASE("a few long names are read") {
        Strings strtab;
        Bytes symtab = null_symbol();
        put_symbol(symtab, strtab.add(name), kGlobal, kFunc, 4, 0, 16);
        auto object = read(build_elf({{".strtab", kStrtab, 0, strtab.bytes},
                                      {".symtab", kSymtab, 0, symtab, 1, 1, 24},
                                      license(),
                                      {"xdp", kProgbits, kAlloc | kExec, code}}));
        REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message.substr(0, 1000)));
        REQUIRE(object->programs.size() == 1);
        CHECK(object->programs[0].name == name);
    }
}

// Each program copies the names of the functions it links and their records' strings: 1,000 programs calling one
// function of a 1 MB name took 1 GB. What programs copy together is held to 64 MiB.
TEST_CASE("elf reader: names and access strings copied into every program are held to 64 MiB together") {
    constexpr std::size_t kPrograms = 70;
    const std::string long_text(std::size_t{1} << 20, 's');
    const std::string message_part = "the object's programs copy more than 67108864 bytes of names and strings";

    SUBCASE("a subprogram's name") {
        auto object = read(programs_calling_sub(kPrograms, long_text, int_btf(), {}));
        REQUIRE_FALSE(object.has_value());
        CHECK(object.error().kind == ErrorKind::unsupported);
        CHECK_MESSAGE(contains(object.error().message, message_part), object.error().message);
    }
    SUBCASE("a subprogram's CO-RE access string") {
        Btf btf = int_btf();
        const std::uint32_t section = btf.strings.add("xdp");
        Bytes core;
        put(core, 8 * 2 * kPrograms, 4);
        put(core, 1, 4); // int
        put(core, btf.strings.add(long_text), 4);
        put(core, 8, 4); // type_exists
        auto object = read(programs_calling_sub(kPrograms, "sub", btf, btf_ext(section, {}, 0, core, 1)));
        REQUIRE_FALSE(object.has_value());
        CHECK_MESSAGE(contains(object.error().message, message_part), object.error().message);
    }
    SUBCASE("fewer programs fit") {
        auto object = read(programs_calling_sub(8, long_text, int_btf(), {}));
        REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
        CHECK(object->programs.size() == 9);
        CHECK(object->programs[0].subprograms.at(0).name == long_text);
    }
}
