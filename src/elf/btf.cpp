// Parsers for the `.BTF` and `.BTF.ext` sections. The input is hostile until checked: every read below is
// preceded by a bounds check done in 64-bit arithmetic, and every chain of type references is walked with a
// depth limit, because fuzzed or corrupted objects reach this code before the verifier does.
#include "embpf/elf/btf.hpp"

#include <array>
#include <concepts>
#include <limits>
#include <unordered_map>
#include <utility>

namespace embpf::btf {
namespace {

constexpr std::uint16_t btf_magic = 0xEB9F;
constexpr std::uint16_t btf_magic_swapped = 0x9FEB;
constexpr std::size_t magic_and_hdr_len_size = 8;
constexpr std::size_t btf_header_size = 24;      // magic .. str_len
constexpr std::size_t ext_header_min_size = 24;  // magic .. line_info_len
constexpr std::size_t ext_header_core_size = 32; // with core_relo_off and core_relo_len
constexpr std::size_t type_record_size = 12;     // struct btf_type
constexpr std::uint64_t max_btf_size = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t last_kind = static_cast<std::uint32_t>(Kind::enum64);
constexpr std::uint32_t last_core_kind = static_cast<std::uint32_t>(CoreKind::type_matches);

// name_of() limits: enough for any type a C programmer writes, small enough that a hostile func_proto whose
// parameters all point back at itself cannot make the output explode.
constexpr int name_max_steps = 512;
constexpr std::size_t name_max_output = 4096;
constexpr std::size_t name_max_identifier = 512;

void append(std::string& out, std::string_view text) { out += text; }
template <std::integral T>
void append(std::string& out, T value) {
    out += std::to_string(value);
}

template <typename... Args>
std::string cat(const Args&... args) {
    std::string out;
    (append(out, args), ...);
    return out;
}

std::uint16_t load_u16(std::span<const std::uint8_t> bytes, std::size_t at) {
    return static_cast<std::uint16_t>(bytes[at] | (bytes[at + 1] << 8));
}

std::uint32_t load_u32(std::span<const std::uint8_t> bytes, std::size_t at) {
    return static_cast<std::uint32_t>(bytes[at]) | (static_cast<std::uint32_t>(bytes[at + 1]) << 8) |
           (static_cast<std::uint32_t>(bytes[at + 2]) << 16) | (static_cast<std::uint32_t>(bytes[at + 3]) << 24);
}

std::string hex(std::uint32_t value) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    do {
        out.insert(out.begin(), digits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    return "0x" + out;
}

/// Caps the bytes of names copied out of a section. Names are offsets into a shared string table, so without a
/// cap a small section whose records all name one long string would expand into gigabytes.
class Budget {
  public:
    explicit Budget(std::size_t section_size)
        : m_limit(16 * 1024 * 1024 + 64 * static_cast<std::uint64_t>(section_size)), m_left(m_limit) {}
    [[nodiscard]] bool take(std::size_t bytes) noexcept {
        if (bytes > m_left) {
            return false;
        }
        m_left -= bytes;
        return true;
    }
    [[nodiscard]] std::uint64_t limit() const noexcept { return m_limit; }

  private:
    std::uint64_t m_limit;
    std::uint64_t m_left;
};

/// The string at `offset` of a string section, or nullopt when it is outside or not terminated inside it.
std::optional<std::string_view> find_string(std::string_view strings, std::uint32_t offset) {
    if (offset == 0 && strings.empty()) {
        return std::string_view{};
    }
    if (offset >= strings.size()) {
        return std::nullopt;
    }
    const auto end = strings.find('\0', offset);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    return strings.substr(offset, end - offset);
}

/// Why find_string() found nothing, for the caller to prefix with context. Built only on failure, so that the
/// common path formats nothing.
std::string bad_string(std::string_view strings, std::uint32_t offset, std::string_view what) {
    if (offset >= strings.size()) {
        return cat(what, " offset ", offset, " is outside the string section (", strings.size(), " bytes)");
    }
    return cat(what, " at offset ", offset, " is not NUL-terminated within the string section (", strings.size(),
               " bytes)");
}

/// Checks that [offset, offset + length) lies within `available` bytes, without overflow.
bool fits(std::uint64_t offset, std::uint64_t length, std::uint64_t available) {
    return offset <= available && length <= available - offset;
}

bool is_modifier(Kind kind) {
    return kind == Kind::typedef_ || kind == Kind::volatile_ || kind == Kind::const_ || kind == Kind::restrict_ ||
           kind == Kind::type_tag;
}

/// Reads the type records of a `.BTF` type section into Types ids 1, 2, ... Each record is decoded in place in
/// the result vector, because moving a Type (a string and four vectors) per record is most of the cost otherwise.
class TypeParser {
  public:
    TypeParser(std::span<const std::uint8_t> data, std::string_view strings, Budget& budget)
        : m_data(data), m_strings(strings), m_budget(budget) {}

    Result<std::vector<Type>> run() {
        std::vector<Type> types(1); // id 0: void
        while (m_pos < m_data.size()) {
            if (types.size() > std::numeric_limits<std::uint32_t>::max()) {
                return Error::invalid("BTF: more types than 32-bit type ids can name");
            }
            m_id = static_cast<std::uint32_t>(types.size());
            m_type = &types.emplace_back();
            if (auto done = parse_one(*m_type); !done) {
                return std::move(done).error();
            }
        }
        return types;
    }

  private:
    /// An error in the type being read, located by id, kind, name and byte position.
    Error fail(std::string_view what) const {
        std::string where = cat("BTF: type ", m_id);
        if (m_type->kind != Kind::void_) {
            where += cat(" (", to_string(m_type->kind), m_type->name.empty() ? "" : " ", m_type->name, ")");
        }
        return Error::invalid(cat(where, " at byte ", m_record_pos, " of the type section: ", what));
    }

    /// Reads the name at `offset` into `out`; `item` and `index` say whose it is ("member", 3) for the message.
    Result<void> name(std::string& out, std::uint32_t offset, std::string_view item = {}, std::uint32_t index = 0) {
        const auto text = find_string(m_strings, offset);
        if (!text) {
            return fail(
                bad_string(m_strings, offset, item.empty() ? std::string("name") : cat(item, " ", index, " name")));
        }
        if (!m_budget.take(text->size())) {
            return fail(cat("the names of the types take more than ", m_budget.limit(),
                            " bytes; the section repeats long strings"));
        }
        out.assign(*text);
        return {};
    }

    /// Bytes of data after the common 12-byte record.
    static std::uint64_t trailing_size(Kind kind, std::uint32_t vlen) {
        switch (kind) {
        case Kind::int_:
        case Kind::var:
        case Kind::decl_tag: return 4;
        case Kind::array: return 12;
        case Kind::struct_:
        case Kind::union_:
        case Kind::datasec:
        case Kind::enum64: return std::uint64_t{vlen} * 12;
        case Kind::enum_:
        case Kind::func_proto: return std::uint64_t{vlen} * 8;
        default: return 0;
        }
    }

    static std::string_view list_noun(Kind kind) {
        switch (kind) {
        case Kind::struct_:
        case Kind::union_: return "members";
        case Kind::enum_:
        case Kind::enum64: return "enumerators";
        case Kind::func_proto: return "parameters";
        case Kind::datasec: return "variables";
        default: return "";
        }
    }

    Result<void> parse_one(Type& type) {
        m_record_pos = m_pos;
        if (m_data.size() - m_pos < type_record_size) {
            return fail(
                cat("a type record needs ", type_record_size, " bytes but only ", m_data.size() - m_pos, " remain"));
        }
        const std::uint32_t name_off = load_u32(m_data, m_pos);
        const std::uint32_t info = load_u32(m_data, m_pos + 4);
        const std::uint32_t size_or_type = load_u32(m_data, m_pos + 8);
        m_pos += type_record_size;

        const std::uint32_t vlen = info & 0xffff;
        const std::uint32_t raw_kind = (info >> 24) & 0x1f;
        if (raw_kind == 0 || raw_kind > last_kind) {
            return fail(cat("unknown kind ", raw_kind));
        }
        type.kind = static_cast<Kind>(raw_kind);
        type.kind_flag = (info >> 31) != 0;
        if (auto done = name(type.name, name_off); !done) {
            return done;
        }

        const std::uint64_t trailing = trailing_size(type.kind, vlen);
        const std::uint64_t remaining = m_data.size() - m_pos;
        if (trailing > remaining) {
            const std::string_view noun = list_noun(type.kind);
            if (noun.empty()) {
                return fail(cat("its data needs ", trailing, " bytes but only ", remaining, " remain"));
            }
            return fail(
                cat("vlen ", vlen, ": its ", noun, " need ", trailing, " bytes but only ", remaining, " remain"));
        }
        const auto body = m_data.subspan(m_pos, static_cast<std::size_t>(trailing));
        m_pos += static_cast<std::size_t>(trailing);

        switch (type.kind) {
        case Kind::int_: return parse_int(type, size_or_type, load_u32(body, 0));
        case Kind::ptr:
        case Kind::typedef_:
        case Kind::volatile_:
        case Kind::const_:
        case Kind::restrict_:
        case Kind::type_tag: type.ref = size_or_type; break;
        case Kind::array:
            type.elem_type = load_u32(body, 0);
            type.index_type = load_u32(body, 4);
            type.nelems = load_u32(body, 8);
            break;
        case Kind::struct_:
        case Kind::union_: return parse_members(type, size_or_type, vlen, body);
        case Kind::enum_:
        case Kind::enum64: return parse_enumerators(type, size_or_type, vlen, body);
        case Kind::fwd: break;
        case Kind::func:
            type.ref = size_or_type;
            type.linkage = vlen;
            break;
        case Kind::func_proto: return parse_params(type, size_or_type, vlen, body);
        case Kind::var:
            type.ref = size_or_type;
            type.linkage = load_u32(body, 0);
            break;
        case Kind::datasec:
            type.size = size_or_type;
            type.vars.reserve(vlen);
            for (std::size_t at = 0; at < body.size(); at += 12) {
                type.vars.push_back({load_u32(body, at), load_u32(body, at + 4), load_u32(body, at + 8)});
            }
            break;
        case Kind::float_:
            type.size = size_or_type;
            if (type.size != 2 && type.size != 4 && type.size != 8 && type.size != 12 && type.size != 16) {
                return fail(cat("float size ", type.size, " is not 2, 4, 8, 12 or 16"));
            }
            break;
        case Kind::decl_tag:
            type.ref = size_or_type;
            type.component_idx = static_cast<std::int32_t>(load_u32(body, 0));
            break;
        case Kind::void_: break; // excluded above
        }
        return {};
    }

    Result<void> parse_int(Type& type, std::uint32_t size, std::uint32_t data) const {
        type.size = size;
        type.int_encoding = static_cast<std::uint8_t>((data >> 24) & 0x0f);
        type.int_offset = static_cast<std::uint8_t>((data >> 16) & 0xff);
        type.int_bits = static_cast<std::uint8_t>(data & 0xff);
        if (size != 1 && size != 2 && size != 4 && size != 8 && size != 16) {
            return fail(cat("int size ", size, " is not 1, 2, 4, 8 or 16"));
        }
        if (type.int_offset + type.int_bits > size * 8) {
            return fail(
                cat("a ", size, "-byte int cannot hold ", type.int_bits, " bits at bit offset ", type.int_offset));
        }
        return {};
    }

    Result<void> parse_members(Type& type, std::uint32_t size, std::uint32_t vlen, std::span<const std::uint8_t> body) {
        type.size = size;
        type.members.resize(vlen);
        for (std::uint32_t i = 0; i < vlen; ++i) {
            const std::size_t at = std::size_t{i} * 12;
            Member& member = type.members[i];
            if (auto done = name(member.name, load_u32(body, at), "member", i); !done) {
                return done;
            }
            member.type = load_u32(body, at + 4);
            const std::uint32_t offset = load_u32(body, at + 8);
            if (type.kind_flag) { // bitfield size in the top byte, bit offset below
                member.bit_offset = offset & 0xffffff;
                member.bitfield_size = offset >> 24;
            } else {
                member.bit_offset = offset;
            }
        }
        return {};
    }

    Result<void> parse_enumerators(Type& type, std::uint32_t size, std::uint32_t vlen,
                                   std::span<const std::uint8_t> body) {
        type.size = size;
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            return fail(cat("enum size ", size, " is not 1, 2, 4 or 8"));
        }
        const std::size_t record = type.kind == Kind::enum64 ? 12 : 8;
        type.enumerators.resize(vlen);
        for (std::uint32_t i = 0; i < vlen; ++i) {
            const std::size_t at = std::size_t{i} * record;
            Enumerator& enumerator = type.enumerators[i];
            if (auto done = name(enumerator.name, load_u32(body, at), "enumerator", i); !done) {
                return done;
            }
            const std::uint32_t low = load_u32(body, at + 4);
            if (type.kind == Kind::enum64) {
                const std::uint64_t high = load_u32(body, at + 8);
                enumerator.value = static_cast<std::int64_t>((high << 32) | low);
            } else if (type.kind_flag) { // kind_flag marks a signed enum
                enumerator.value = static_cast<std::int32_t>(low);
            } else {
                enumerator.value = low;
            }
        }
        return {};
    }

    Result<void> parse_params(Type& type, std::uint32_t return_type, std::uint32_t vlen,
                              std::span<const std::uint8_t> body) {
        type.ref = return_type;
        type.params.resize(vlen);
        for (std::uint32_t i = 0; i < vlen; ++i) {
            const std::size_t at = std::size_t{i} * 8;
            Param& param = type.params[i];
            if (auto done = name(param.name, load_u32(body, at), "parameter", i); !done) {
                return done;
            }
            param.type = load_u32(body, at + 4);
        }
        return {};
    }

    std::span<const std::uint8_t> m_data;
    std::string_view m_strings;
    Budget& m_budget;
    std::size_t m_pos = 0;
    std::size_t m_record_pos = 0;
    std::uint32_t m_id = 0;
    Type* m_type = nullptr; // the record being read, for messages
};

/// Writes a type as a C declarator: the base type on the left, pointers, arrays and parameter lists wrapped
/// around `decl` from the inside out, as C's "declaration follows use" grammar requires.
class NamePrinter {
  public:
    explicit NamePrinter(const Types& types) : m_types(types) {}

    std::string print(std::uint32_t id, std::string decl, int depth) {
        if (--m_steps < 0 || depth > Types::max_depth || decl.size() > name_max_output) {
            return join("...", decl);
        }
        const Type* type = m_types.get(id);
        if (type == nullptr) {
            return join(cat("<bad type ", id, ">"), decl);
        }
        switch (type->kind) {
        case Kind::void_: return join("void", decl);
        case Kind::int_:
        case Kind::float_:
        case Kind::typedef_: return join(identifier(type->name), decl);
        case Kind::struct_: return join(tagged("struct", type->name), decl);
        case Kind::union_: return join(tagged("union", type->name), decl);
        case Kind::enum_:
        case Kind::enum64: return join(tagged("enum", type->name), decl);
        case Kind::fwd: return join(tagged(type->kind_flag ? "union" : "struct", type->name), decl);
        case Kind::ptr: return print(type->ref, "*" + decl, depth + 1);
        case Kind::const_: return qualify("const", *type, std::move(decl), depth);
        case Kind::volatile_: return qualify("volatile", *type, std::move(decl), depth);
        case Kind::restrict_: return qualify("restrict", *type, std::move(decl), depth);
        case Kind::type_tag:
            return qualify(cat("__attribute__((btf_type_tag(\"", identifier(type->name), "\")))"), *type,
                           std::move(decl), depth);
        case Kind::array: return print(type->elem_type, cat(parenthesize(decl), "[", type->nelems, "]"), depth + 1);
        case Kind::func_proto:
            return print(type->ref, parenthesize(decl) + "(" + params(*type, depth) + ")", depth + 1);
        case Kind::func:
        case Kind::var: return print(type->ref, join(identifier(type->name), decl), depth + 1);
        case Kind::datasec: return join(cat("datasec ", identifier(type->name)), decl);
        case Kind::decl_tag:
            return cat("__attribute__((btf_decl_tag(\"", identifier(type->name), "\"))) ",
                       print(type->ref, std::move(decl), depth + 1));
        }
        return join("...", decl);
    }

  private:
    static std::string join(std::string_view base, std::string_view decl) {
        if (decl.empty()) {
            return std::string(base);
        }
        return cat(base, decl.front() == '[' ? "" : " ", decl);
    }

    static std::string parenthesize(const std::string& decl) {
        return !decl.empty() && decl.front() == '*' ? "(" + decl + ")" : decl;
    }

    static std::string identifier(std::string_view name) {
        return name.size() > name_max_identifier ? cat(name.substr(0, name_max_identifier), "...") : std::string(name);
    }

    static std::string tagged(std::string_view tag, std::string_view name) {
        return cat(tag, " ", name.empty() ? std::string("(anon)") : identifier(name));
    }

    /// A qualifier of a pointer goes after the `*` ("char *const"); any other qualifier before the base type.
    std::string qualify(std::string_view qualifier, const Type& type, std::string decl, int depth) {
        std::uint32_t target = type.ref;
        for (int hops = 0; hops < Types::max_depth; ++hops) {
            const Type* next = m_types.get(target);
            if (next == nullptr || !is_modifier(next->kind) || next->kind == Kind::typedef_) {
                break;
            }
            target = next->ref;
        }
        const Type* underlying = m_types.get(target);
        if (underlying != nullptr && underlying->kind == Kind::ptr) {
            return print(type.ref, decl.empty() ? std::string(qualifier) : cat(qualifier, " ", decl), depth + 1);
        }
        return cat(qualifier, " ", print(type.ref, std::move(decl), depth + 1));
    }

    std::string params(const Type& proto, int depth) {
        if (proto.params.empty()) {
            return "void";
        }
        std::string out;
        for (std::size_t i = 0; i < proto.params.size(); ++i) {
            if (i != 0) {
                out += ", ";
            }
            if (out.size() > name_max_output || m_steps <= 0) {
                out += "...";
                break;
            }
            const Param& param = proto.params[i];
            if (i + 1 == proto.params.size() && param.type == 0 && param.name.empty()) {
                out += "...";
            } else {
                out += print(param.type, {}, depth + 1);
            }
        }
        return out;
    }

    const Types& m_types;
    int m_steps = name_max_steps;
};

/// Reads the func_info, line_info and CO-RE relocation blocks of a `.BTF.ext` section.
class ExtParser {
  public:
    ExtParser(std::span<const std::uint8_t> data, const Types& types, Budget& budget,
              std::vector<SectionInfo>& sections)
        : m_data(data), m_types(types), m_budget(budget), m_sections(sections) {}

    Result<void> func_info(std::uint32_t offset, std::uint32_t length) {
        return walk("func_info", offset, length, 8,
                    [this](SectionInfo& info, std::span<const std::uint8_t> rec) { return func_record(info, rec); });
    }

    Result<void> line_info(std::uint32_t offset, std::uint32_t length) {
        return walk("line_info", offset, length, 16,
                    [this](SectionInfo& info, std::span<const std::uint8_t> rec) { return line_record(info, rec); });
    }

    Result<void> core_relo(std::uint32_t offset, std::uint32_t length) {
        return walk("core_relo", offset, length, 16,
                    [this](SectionInfo& info, std::span<const std::uint8_t> rec) { return core_record(info, rec); });
    }

  private:
    /// Walks one info block: the record size, then per program section its name, record count and records.
    template <typename OnRecord>
    Result<void> walk(std::string_view what, std::uint32_t offset, std::uint32_t length, std::uint32_t min_record,
                      OnRecord on_record) {
        if (length == 0) {
            return {};
        }
        if (!fits(offset, length, m_data.size())) {
            return Error::invalid(cat(".BTF.ext: ", what, " (offset ", offset, ", ", length,
                                      " bytes) ends past the end of the section (", m_data.size(),
                                      " bytes after the header)"));
        }
        const auto block = m_data.subspan(offset, length);
        if (block.size() < 4) {
            return Error::invalid(
                cat(".BTF.ext: ", what, " is ", block.size(), " bytes, too short to hold its record size"));
        }
        const std::uint32_t record_size = load_u32(block, 0);
        if (record_size < min_record) {
            return Error::invalid(
                cat(".BTF.ext: ", what, " record size ", record_size, " is smaller than ", min_record));
        }
        std::size_t pos = 4;
        while (pos < block.size()) {
            if (block.size() - pos < 8) {
                return Error::invalid(cat(".BTF.ext: ", what, " at byte ", pos,
                                          ": a section header needs 8 bytes but only ", block.size() - pos, " remain"));
            }
            const std::uint32_t name_offset = load_u32(block, pos);
            const auto name = find_string(m_types.strings(), name_offset);
            if (!name) {
                return Error::invalid(cat(".BTF.ext: ", what, " at byte ", pos, ": ",
                                          bad_string(m_types.strings(), name_offset, "section name")));
            }
            const std::uint32_t count = load_u32(block, pos + 4);
            pos += 8;
            const std::uint64_t needed = std::uint64_t{count} * record_size;
            if (needed > block.size() - pos) {
                return Error::invalid(cat(".BTF.ext: ", what, " of section \"", *name, "\": ", count, " records of ",
                                          record_size, " bytes need ", needed, " bytes but only ", block.size() - pos,
                                          " remain"));
            }
            auto index = section_index(*name);
            if (!index) {
                return std::move(index).error();
            }
            for (std::uint32_t i = 0; i < count; ++i) {
                auto done =
                    on_record(m_sections[*index], block.subspan(pos + std::size_t{i} * record_size, min_record));
                if (!done) {
                    return Error::invalid(
                        cat(".BTF.ext: ", what, " record ", i, " of section \"", *name, "\": ", done.error().message));
                }
            }
            pos += static_cast<std::size_t>(needed);
        }
        return {};
    }

    Result<std::size_t> section_index(std::string_view name) {
        // A map, not a scan of m_sections: hostile input can name a new section every 8 bytes.
        if (const auto found = m_index.find(name); found != m_index.end()) {
            return found->second;
        }
        if (!m_budget.take(name.size())) {
            return budget_error();
        }
        m_sections.push_back({std::string(name), {}, {}, {}});
        m_index.emplace(name, m_sections.size() - 1);
        return m_sections.size() - 1;
    }

    Error budget_error() const {
        return Error::invalid(cat(".BTF.ext: the strings of the records take more than ", m_budget.limit(),
                                  " bytes; the section repeats long strings"));
    }

    Result<std::string> copy(std::uint32_t offset, std::string_view what) {
        const auto text = find_string(m_types.strings(), offset);
        if (!text) {
            return Error::invalid(bad_string(m_types.strings(), offset, what));
        }
        if (!m_budget.take(text->size())) {
            return budget_error();
        }
        return std::string(*text);
    }

    static Result<std::uint32_t> instruction(std::uint32_t byte_offset) {
        if (byte_offset % 8 != 0) {
            return Error::invalid(cat("instruction offset ", byte_offset, " is not a multiple of 8"));
        }
        return byte_offset / 8;
    }

    Result<void> check_type(std::uint32_t id) const {
        if (m_types.get(id) == nullptr) {
            return Error::invalid(cat("type ", id, " does not exist (.BTF has ", m_types.count(), " type ids)"));
        }
        return {};
    }

    Result<void> func_record(SectionInfo& info, std::span<const std::uint8_t> record) {
        auto insn = instruction(load_u32(record, 0));
        if (!insn) {
            return std::move(insn).error();
        }
        const std::uint32_t type_id = load_u32(record, 4);
        if (auto exists = check_type(type_id); !exists) {
            return std::move(exists).error();
        }
        const Type& type = *m_types.get(type_id);
        if (type.kind != Kind::func) {
            return Error::invalid(cat("type ", type_id, " (", to_string(type.kind), ") is not a func"));
        }
        if (!m_budget.take(type.name.size())) {
            return budget_error();
        }
        info.funcs.push_back({*insn, type_id, type.name});
        return {};
    }

    Result<void> line_record(SectionInfo& info, std::span<const std::uint8_t> record) {
        auto insn = instruction(load_u32(record, 0));
        if (!insn) {
            return std::move(insn).error();
        }
        auto file = copy(load_u32(record, 4), "file name");
        if (!file) {
            return std::move(file).error();
        }
        auto source = copy(load_u32(record, 8), "source line");
        if (!source) {
            return std::move(source).error();
        }
        const std::uint32_t line_col = load_u32(record, 12);
        info.lines.push_back(
            {*insn, std::move(file).value(), std::move(source).value(), line_col >> 10, line_col & 0x3ff});
        return {};
    }

    Result<void> core_record(SectionInfo& info, std::span<const std::uint8_t> record) {
        auto insn = instruction(load_u32(record, 0));
        if (!insn) {
            return std::move(insn).error();
        }
        const std::uint32_t type_id = load_u32(record, 4);
        if (auto exists = check_type(type_id); !exists) {
            return std::move(exists).error();
        }
        auto access = copy(load_u32(record, 8), "access string");
        if (!access) {
            return std::move(access).error();
        }
        const std::uint32_t kind = load_u32(record, 12);
        if (kind > last_core_kind) {
            return Error::invalid(cat("unknown CO-RE relocation kind ", kind));
        }
        info.relocations.push_back({*insn, type_id, std::move(access).value(), static_cast<CoreKind>(kind)});
        return {};
    }

    std::span<const std::uint8_t> m_data;
    const Types& m_types;
    Budget& m_budget;
    std::vector<SectionInfo>& m_sections;
    std::unordered_map<std::string_view, std::size_t> m_index; // views into the .BTF string section
};

/// Checks magic, version and header length common to `.BTF` and `.BTF.ext`; returns the header length.
Result<std::uint32_t> check_header(std::span<const std::uint8_t> section, std::string_view what,
                                   std::size_t min_header) {
    if (section.size() < magic_and_hdr_len_size) {
        return Error::invalid(
            cat(what, ": the section has ", section.size(), " bytes, too few for the ", min_header, "-byte header"));
    }
    const std::uint16_t magic = load_u16(section, 0);
    if (magic == btf_magic_swapped) {
        return Error::unsupported(cat(what, ": big-endian BTF is not supported"));
    }
    if (magic != btf_magic) {
        return Error::invalid(cat(what, ": bad magic ", hex(magic), " (expected ", hex(btf_magic), ")"));
    }
    if (section[2] != 1) {
        return Error::unsupported(cat(what, ": version ", section[2], " is not supported (only version 1)"));
    }
    const std::uint32_t header_length = load_u32(section, 4);
    if (header_length < min_header) {
        return Error::invalid(cat(what, ": header length ", header_length, " is smaller than ", min_header));
    }
    if (header_length > section.size()) {
        return Error::invalid(
            cat(what, ": header length ", header_length, " exceeds the section (", section.size(), " bytes)"));
    }
    return header_length;
}

} // namespace

std::string_view to_string(Kind kind) noexcept {
    static constexpr std::array<std::string_view, 20> names = {
        "void",  "int",      "ptr",  "array",      "struct", "union",   "enum",  "fwd",      "typedef",  "volatile",
        "const", "restrict", "func", "func_proto", "var",    "datasec", "float", "decl_tag", "type_tag", "enum64",
    };
    const auto index = static_cast<std::size_t>(kind);
    return index < names.size() ? names[index] : "unknown";
}

std::string_view to_string(CoreKind kind) noexcept {
    static constexpr std::array<std::string_view, 13> names = {
        "field_byte_offset", "field_byte_size", "field_exists",   "field_signed", "field_lshift_u64",
        "field_rshift_u64",  "type_id_local",   "type_id_target", "type_exists",  "type_size",
        "enumval_exists",    "enumval_value",   "type_matches",
    };
    const auto index = static_cast<std::size_t>(kind);
    return index < names.size() ? names[index] : "unknown";
}

Types::Types() : m_types(1) {}

Result<Types> Types::parse(std::span<const std::uint8_t> section) {
    auto header_length = check_header(section, "BTF", btf_header_size);
    if (!header_length) {
        return std::move(header_length).error();
    }
    const std::uint32_t type_off = load_u32(section, 8);
    const std::uint32_t type_len = load_u32(section, 12);
    const std::uint32_t str_off = load_u32(section, 16);
    const std::uint32_t str_len = load_u32(section, 20);
    const auto data = section.subspan(*header_length);
    if (!fits(type_off, type_len, data.size())) {
        return Error::invalid(cat("BTF: the type section (offset ", type_off, ", ", type_len,
                                  " bytes) ends past the end of the data (", data.size(), " bytes after the header)"));
    }
    if (!fits(str_off, str_len, data.size())) {
        return Error::invalid(cat("BTF: the string section (offset ", str_off, ", ", str_len,
                                  " bytes) ends past the end of the data (", data.size(), " bytes after the header)"));
    }
    const std::uint64_t type_end = std::uint64_t{type_off} + type_len;
    const std::uint64_t str_end = std::uint64_t{str_off} + str_len;
    if (type_len != 0 && str_len != 0 && type_off < str_end && str_off < type_end) {
        return Error::invalid(cat("BTF: the type section (bytes ", type_off, "-", type_end,
                                  ") overlaps the string section (bytes ", str_off, "-", str_end, ")"));
    }
    const auto string_bytes = data.subspan(str_off, str_len);
    if (!string_bytes.empty() && string_bytes[0] != 0) {
        return Error::invalid("BTF: the string section does not start with a NUL byte (offset 0 must be \"\")");
    }

    Types types;
    types.m_strings.assign(reinterpret_cast<const char*>(string_bytes.data()), string_bytes.size());
    Budget budget(section.size());
    TypeParser parser(data.subspan(type_off, type_len), types.m_strings, budget);
    auto parsed = parser.run();
    if (!parsed) {
        return std::move(parsed).error();
    }
    types.m_types = std::move(parsed).value();
    return types;
}

const Type* Types::get(std::uint32_t id) const noexcept { return id < m_types.size() ? &m_types[id] : nullptr; }

std::size_t Types::count() const noexcept { return m_types.size(); }

std::uint32_t Types::resolve(std::uint32_t id) const noexcept {
    for (int depth = 0; depth < max_depth; ++depth) {
        const Type* type = get(id);
        if (type == nullptr || !is_modifier(type->kind)) {
            return id;
        }
        id = type->ref;
    }
    return id;
}

Result<std::uint64_t> Types::size_of(std::uint32_t id) const {
    const std::uint32_t start = id;
    const auto fail = [&](std::string_view why) {
        return Error::invalid(cat("BTF: type ", start, " has no size: ", why));
    };
    std::uint64_t elements = 1; // product of the array lengths crossed so far
    for (int depth = 0; depth <= max_depth; ++depth) {
        const Type* type = get(id);
        if (type == nullptr) {
            return fail(cat("type ", id, " does not exist (", count(), " type ids)"));
        }
        std::uint64_t size = 0;
        switch (type->kind) {
        case Kind::int_:
        case Kind::enum_:
        case Kind::enum64:
        case Kind::float_:
        case Kind::struct_:
        case Kind::union_:
        case Kind::datasec: size = type->size; break;
        case Kind::ptr: size = 8; break;
        case Kind::typedef_:
        case Kind::volatile_:
        case Kind::const_:
        case Kind::restrict_:
        case Kind::type_tag:
        case Kind::var:
        case Kind::decl_tag: id = type->ref; continue;
        case Kind::array:
            elements *= type->nelems; // both factors are at most 2^32 - 1, so the product fits
            if (elements > max_btf_size) {
                return fail(cat("array type ", id, " makes ", elements, " elements, more than 32-bit sizes allow"));
            }
            id = type->elem_type;
            continue;
        case Kind::void_: return fail(id == start ? "it is void" : cat("it refers to void through type ", id));
        case Kind::fwd: return fail(cat("type ", id, " is a forward declaration"));
        case Kind::func:
        case Kind::func_proto: return fail(cat("type ", id, " is a function"));
        }
        const std::uint64_t total = elements * size;
        if (total > max_btf_size) {
            return fail(cat(elements, " elements of ", size, " bytes overflow the 32-bit size limit"));
        }
        return total;
    }
    return fail(cat("the chain of references is deeper than ", max_depth, " (a cycle?)"));
}

std::optional<std::uint32_t> Types::find(std::string_view name, Kind kind) const {
    for (std::size_t id = 1; id < m_types.size(); ++id) {
        if (m_types[id].kind == kind && m_types[id].name == name) {
            return static_cast<std::uint32_t>(id);
        }
    }
    return std::nullopt;
}

std::string Types::name_of(std::uint32_t id) const { return NamePrinter(*this).print(id, {}, 0); }

std::optional<std::string_view> Types::string_at(std::uint32_t offset) const { return find_string(m_strings, offset); }

std::string_view Types::strings() const noexcept { return m_strings; }

Result<Ext> Ext::parse(std::span<const std::uint8_t> section, const Types& types) {
    auto header_length = check_header(section, ".BTF.ext", ext_header_min_size);
    if (!header_length) {
        return std::move(header_length).error();
    }
    const auto data = section.subspan(*header_length);
    Ext ext;
    Budget budget(section.size());
    ExtParser parser(data, types, budget, ext.m_sections);
    if (auto done = parser.func_info(load_u32(section, 8), load_u32(section, 12)); !done) {
        return std::move(done).error();
    }
    if (auto done = parser.line_info(load_u32(section, 16), load_u32(section, 20)); !done) {
        return std::move(done).error();
    }
    // core_relo_off/len came later; older objects have the shorter header.
    if (*header_length >= ext_header_core_size) {
        if (auto done = parser.core_relo(load_u32(section, 24), load_u32(section, 28)); !done) {
            return std::move(done).error();
        }
    }
    return ext;
}

const SectionInfo* Ext::section(std::string_view name) const noexcept {
    for (const SectionInfo& info : m_sections) {
        if (info.section == name) {
            return &info;
        }
    }
    return nullptr;
}

const std::vector<SectionInfo>& Ext::sections() const noexcept { return m_sections; }

} // namespace embpf::btf
