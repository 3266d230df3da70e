// CO-RE relocations, after libbpf's relo_core.c and the kernel's BTF documentation. Both BTFs are hostile input:
// every type id is looked up through Types::get, chains of modifiers are bounded by Types::resolve, access paths
// by libbpf's 64 steps, and the walks that can fan out (anonymous members, function prototypes) share a budget.
#include "embpf/elf/core.hpp"

#include <algorithm>
#include <charconv>
#include <concepts>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace embpf::elf {
namespace {

using btf::CoreKind;
using btf::Kind;

constexpr std::size_t max_access_length = 64; // libbpf's BPF_CORE_SPEC_MAX_LEN
constexpr int max_compat_depth = 32;
constexpr std::uint64_t max_steps = std::uint64_t{1} << 20; // members and types visited per relocation
constexpr std::uint64_t max_byte_offset = std::numeric_limits<std::uint32_t>::max();

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

constexpr std::size_t max_shown_name = 512; // bytes of a name messages and paths show, as btf::Types::name_of
constexpr std::size_t max_path = 4096;      // bytes of an access path (Spec::path), then "..."
constexpr std::size_t max_shown_candidates = 8;

/// A name or access string as messages show it: cut to max_shown_name bytes, then "...". Member names and access
/// strings are hostile input of any length.
std::string shown(std::string_view text) {
    return text.size() > max_shown_name ? cat(text.substr(0, max_shown_name), "...") : std::string(text);
}

/// Appends a step to an access path, cutting the path to max_path bytes, then "...": paths are copied into every
/// outcome's description, and a path of 64 steps each naming a member of a million bytes would be 64 MB.
void extend(std::string& path, std::string_view piece) {
    if (path.size() > max_path) {
        return; // already cut short
    }
    path += piece;
    if (path.size() > max_path) {
        path.resize(max_path);
        path += "...";
    }
}

std::string hex(unsigned value) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    do {
        out.insert(out.begin(), digits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    return cat("0x", out);
}

bool is_field_kind(CoreKind kind) { return kind <= CoreKind::field_rshift_u64; }
bool is_enumval_kind(CoreKind kind) { return kind == CoreKind::enumval_exists || kind == CoreKind::enumval_value; }
bool is_exists_kind(CoreKind kind) {
    return kind == CoreKind::field_exists || kind == CoreKind::type_exists || kind == CoreKind::enumval_exists;
}

bool is_modifier(Kind kind) {
    return kind == Kind::typedef_ || kind == Kind::volatile_ || kind == Kind::const_ || kind == Kind::restrict_ ||
           kind == Kind::type_tag;
}
bool is_composite(const btf::Type& type) { return type.kind == Kind::struct_ || type.kind == Kind::union_; }
bool is_enum(const btf::Type& type) { return type.kind == Kind::enum_ || type.kind == Kind::enum64; }
/// libbpf's btf_kind_core_compat: enum and enum64 stand for each other.
bool kinds_compatible(const btf::Type& a, const btf::Type& b) { return a.kind == b.kind || (is_enum(a) && is_enum(b)); }

/// The name without its flavor: "task___v2" -> "task". The flavor starts at the last "___" with a character other
/// than '_' on both sides, so "__u32" and "a____b" keep their names.
std::string_view essential_name(std::string_view name) {
    if (name.size() < 5) {
        return name;
    }
    for (std::size_t i = name.size() - 4; i-- > 0;) {
        if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' && name[i + 3] == '_' && name[i + 4] != '_') {
            return name.substr(0, i + 1);
        }
    }
    return name;
}

/// A type with its modifiers and typedefs skipped.
struct Resolved {
    std::uint32_t id = 0;
    const btf::Type* type = nullptr;
};

Result<Resolved> skip_modifiers(const btf::Types& types, std::uint32_t id) {
    const std::uint32_t resolved = types.resolve(id);
    const btf::Type* type = types.get(resolved);
    if (type == nullptr) {
        return Error::invalid(cat("type ", resolved, " does not exist (", types.count(), " type ids)"));
    }
    if (is_modifier(type->kind)) {
        return Error::invalid(cat("the chain of typedefs and qualifiers from type ", id, " is deeper than ",
                                  btf::Types::max_depth, " (a cycle?)"));
    }
    return Resolved{resolved, type};
}

/// One step of an access path. Member steps name the struct or union and the member; array steps (and the root)
/// name the element type, already resolved, and leave `name` empty; the enumerator of an enumval relocation names
/// the enum.
struct Accessor {
    std::uint32_t type_id = 0;
    std::uint32_t index = 0;
    std::string_view name; // points into the Types that own the type
};

/// A relocation's access resolved against one BTF: libbpf's bpf_core_spec.
struct Spec {
    const btf::Types* types = nullptr;
    std::uint32_t root = 0;          ///< the relocation's type (local) or the candidate (target), unresolved
    std::vector<Accessor> accessors; ///< named members and array elements; anonymous members only count in raw_length
    std::size_t raw_length = 0;      ///< steps of the access string, anonymous members included
    std::uint64_t bit_offset = 0;    ///< of the field from the root pointer
    std::string path; ///< the access as C writes it: "struct task.comm[2]"; names and the whole cut short (extend)
};

/// Adds index * size bytes to a bit offset, refusing offsets beyond 32-bit byte offsets (the BTF size limit).
Result<void> advance(std::uint64_t& bit_offset, std::uint64_t index, std::uint64_t size) {
    const std::uint64_t bytes = index * size; // both are at most 2^32 - 1, so the product fits
    if (bytes > max_byte_offset || bytes * 8 > max_byte_offset * 8 - bit_offset) {
        return Error::invalid(
            cat("the field's offset (element ", index, " of ", size, " bytes) lies beyond 32-bit offsets"));
    }
    bit_offset += bytes * 8;
    return {};
}

Result<void> advance_bits(std::uint64_t& bit_offset, std::uint64_t bits) {
    if (bits > max_byte_offset * 8 - bit_offset) {
        return Error::invalid("the field's offset lies beyond 32-bit offsets");
    }
    bit_offset += bits;
    return {};
}

/// "0:1:2" -> {0, 1, 2}.
Result<std::vector<std::uint32_t>> parse_access(std::string_view access) {
    std::vector<std::uint32_t> raw;
    std::size_t at = 0;
    while (true) {
        const std::size_t end = std::min(access.find(':', at), access.size());
        const std::string_view part = access.substr(at, end - at);
        std::uint32_t value = 0;
        const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc{} || ptr != part.data() + part.size()) {
            return Error::invalid(cat("malformed access string \"", shown(access), "\""));
        }
        if (raw.size() == max_access_length) {
            return Error::invalid(cat("access string has more than ", max_access_length, " steps"));
        }
        raw.push_back(value);
        if (end == access.size()) {
            return raw;
        }
        at = end + 1;
    }
}

/// libbpf's is_flex_arr: an array of no elements that is the last member of the struct `parent` names.
bool is_flexible_array(const btf::Types& types, const Accessor& parent, const btf::Type& array) {
    if (parent.name.empty() || array.nelems != 0) {
        return false;
    }
    const btf::Type* composite = types.get(parent.type_id);
    return composite != nullptr && parent.index + std::size_t{1} == composite->members.size();
}

/// Resolves the access of `relocation` against the program's own types.
Result<Spec> parse_spec(const btf::Types& types, const btf::CoreRelocation& relocation) {
    Spec spec;
    spec.types = &types;
    spec.root = relocation.type_id;
    if (types.get(relocation.type_id) == nullptr) {
        return Error::invalid(cat("type ", relocation.type_id, " does not exist (", types.count(), " type ids)"));
    }
    spec.path = types.name_of(relocation.type_id);
    auto raw = parse_access(relocation.access);
    if (!raw) {
        return std::move(raw).error();
    }
    const std::vector<std::uint32_t>& steps = raw.value();
    spec.raw_length = steps.size();

    if (!is_field_kind(relocation.kind) && !is_enumval_kind(relocation.kind)) {
        if (steps.size() != 1 || steps[0] != 0) {
            return Error::invalid(
                cat("a type relocation's access string must be \"0\", not \"", shown(relocation.access), "\""));
        }
        return spec;
    }

    auto root = skip_modifiers(types, relocation.type_id);
    if (!root) {
        return std::move(root).error();
    }
    const btf::Type& root_type = *root->type;

    if (is_enumval_kind(relocation.kind)) {
        if (!is_enum(root_type)) {
            return Error::invalid(cat("an enumval relocation needs an enum, not ", types.name_of(relocation.type_id)));
        }
        if (steps.size() != 1 || steps[0] >= root_type.enumerators.size()) {
            return Error::invalid(cat("access \"", shown(relocation.access), "\" names no enumerator of ", spec.path,
                                      " (", root_type.enumerators.size(), " enumerators)"));
        }
        const std::string_view name = root_type.enumerators[steps[0]].name;
        spec.accessors.push_back({root->id, steps[0], name});
        extend(spec.path, cat("::", shown(name)));
        return spec;
    }

    // Field relocations: the first step indexes the root pointer as an array.
    spec.accessors.push_back({root->id, steps[0], {}});
    if (steps[0] != 0) {
        auto size = types.size_of(root->id);
        if (!size) {
            return std::move(size).error();
        }
        if (auto moved = advance(spec.bit_offset, steps[0], size.value()); !moved) {
            return std::move(moved).error();
        }
        extend(spec.path, cat("[", steps[0], "]"));
    }
    std::uint32_t id = root->id;
    for (std::size_t i = 1; i < steps.size(); ++i) {
        auto current = skip_modifiers(types, id);
        if (!current) {
            return std::move(current).error();
        }
        const btf::Type& type = *current->type;
        const std::uint32_t index = steps[i];
        if (is_composite(type)) {
            if (index >= type.members.size()) {
                return Error::invalid(cat("step ", i, " of access \"", shown(relocation.access), "\" is member ", index,
                                          " of ", types.name_of(current->id), ", which has ", type.members.size(),
                                          " members"));
            }
            const btf::Member& member = type.members[index];
            if (auto moved = advance_bits(spec.bit_offset, member.bit_offset); !moved) {
                return std::move(moved).error();
            }
            if (!member.name.empty()) {
                spec.accessors.push_back({current->id, index, member.name});
                extend(spec.path, cat(".", shown(member.name)));
            }
            id = member.type;
        } else if (type.kind == Kind::array) {
            auto element = skip_modifiers(types, type.elem_type);
            if (!element) {
                return std::move(element).error();
            }
            if (!is_flexible_array(types, spec.accessors.back(), type) && index >= type.nelems) {
                return Error::invalid(cat("step ", i, " of access \"", shown(relocation.access), "\" is element ",
                                          index, " of ", types.name_of(current->id)));
            }
            auto size = types.size_of(element->id);
            if (!size) {
                return std::move(size).error();
            }
            if (auto moved = advance(spec.bit_offset, index, size.value()); !moved) {
                return std::move(moved).error();
            }
            spec.accessors.push_back({element->id, index, {}});
            extend(spec.path, cat("[", index, "]"));
            id = element->id;
        } else {
            return Error::invalid(cat("step ", i, " of access \"", shown(relocation.access), "\" goes into ",
                                      types.name_of(current->id), ", which is neither a struct, a union nor an array"));
        }
    }
    return spec;
}

/// A value of a relocation against one side, with what patching needs to know about it.
struct Value {
    std::uint64_t value = 0;
    bool validate = true;       ///< whether the compiled instruction must hold exactly this (local side)
    std::uint32_t mem_size = 0; ///< field_byte_offset of a whole field: its size, which a load or store uses
    std::uint32_t mem_type = 0; ///< and its type, resolved
};

/// libbpf's bpf_core_calc_field_relo, bpf_core_calc_type_relo and bpf_core_calc_enumval_relo for a spec that
/// exists on its side.
Result<Value> compute(const Spec& spec, CoreKind kind) {
    const btf::Types& types = *spec.types;
    Value out;
    switch (kind) {
    case CoreKind::field_exists:
    case CoreKind::type_exists:
    case CoreKind::enumval_exists: out.value = 1; return out;
    case CoreKind::type_id_local:
    case CoreKind::type_id_target: out.value = spec.root; return out;
    case CoreKind::type_size: {
        auto size = types.size_of(spec.root);
        if (!size) {
            return std::move(size).error();
        }
        out.value = size.value();
        return out;
    }
    case CoreKind::enumval_value: {
        const Accessor& enumerator = spec.accessors.front();
        out.value = static_cast<std::uint64_t>(types.get(enumerator.type_id)->enumerators[enumerator.index].value);
        return out;
    }
    case CoreKind::type_matches: return Error::unsupported("type_matches relocations are not supported");
    default: break;
    }

    const Accessor& last = spec.accessors.back();
    if (last.name.empty()) { // an array element or the root itself
        auto size = types.size_of(last.type_id);
        if (!size) {
            return std::move(size).error();
        }
        if (kind == CoreKind::field_byte_offset) {
            out.value = spec.bit_offset / 8;
            out.mem_size = static_cast<std::uint32_t>(size.value());
            out.mem_type = last.type_id;
        } else if (kind == CoreKind::field_byte_size) {
            out.value = size.value();
        } else {
            return Error::invalid(cat(btf::to_string(kind), " does not apply to an array element"));
        }
        return out;
    }

    const btf::Member& member = types.get(last.type_id)->members[last.index];
    auto field = skip_modifiers(types, member.type);
    if (!field) {
        return std::move(field).error();
    }
    const btf::Type& field_type = *field->type;
    const std::uint64_t bit_offset = spec.bit_offset;
    std::uint64_t bit_size = member.bitfield_size;
    std::uint64_t byte_size = 0;
    std::uint64_t byte_offset = 0;
    const bool bitfield = bit_size != 0;
    if (bitfield) {
        // The smallest naturally aligned load, starting from the declared type's size, that covers the bits.
        byte_size = field_type.size;
        if ((field_type.kind != Kind::int_ && !is_enum(field_type)) || byte_size == 0 || byte_size > 8) {
            return Error::invalid(cat("bitfield ", shown(member.name), " has type ", types.name_of(member.type),
                                      ", not an integer of 1 to 8 bytes"));
        }
        byte_offset = bit_offset / 8 / byte_size * byte_size;
        while (bit_offset + bit_size - byte_offset * 8 > byte_size * 8) {
            if (byte_size >= 8) {
                return Error::invalid(cat("bitfield ", shown(member.name), " cannot be read with one 64-bit load"));
            }
            byte_size *= 2;
            byte_offset = bit_offset / 8 / byte_size * byte_size;
        }
    } else {
        auto size = types.size_of(field->id);
        if (!size) {
            return std::move(size).error();
        }
        byte_size = size.value();
        byte_offset = bit_offset / 8;
        bit_size = byte_size * 8;
    }
    if ((kind == CoreKind::field_lshift_u64 || kind == CoreKind::field_rshift_u64) && byte_size > 8) {
        return Error::invalid(cat(btf::to_string(kind), " applies to fields of at most 8 bytes, and ",
                                  shown(member.name), " has ", byte_size));
    }
    // The compiler may place a bitfield's load differently, so only what is unambiguous is validated.
    out.validate = !bitfield;
    switch (kind) {
    case CoreKind::field_byte_offset:
        out.value = byte_offset;
        if (!bitfield) {
            out.mem_size = static_cast<std::uint32_t>(byte_size);
            out.mem_type = field->id;
        }
        break;
    case CoreKind::field_byte_size: out.value = byte_size; break;
    case CoreKind::field_signed:
        out.value = (is_enum(field_type) && field_type.kind_flag) ||
                    (field_type.kind == Kind::int_ && (field_type.int_encoding & btf::int_signed) != 0);
        out.validate = true;
        break;
    case CoreKind::field_lshift_u64: // little-endian: the field's top bit goes to bit 63
        out.value = 64 - (bit_offset + bit_size - byte_offset * 8);
        break;
    case CoreKind::field_rshift_u64:
        out.value = 64 - bit_size;
        out.validate = true;
        break;
    default: return Error::internal(cat("CO-RE: unexpected field relocation kind ", btf::to_string(kind)));
    }
    return out;
}

/// Adds `steps` to the count of a CoreRelocator's relocations together.
Result<void> charge(std::uint64_t& spent, std::uint64_t steps) {
    spent += steps;
    if (spent > CoreRelocator::max_steps) {
        return Error::invalid(cat("the object's CO-RE relocations take more than ", CoreRelocator::max_steps,
                                  " steps together (relocations, candidates and members compared)"));
    }
    return {};
}

/// Matches a local spec against target candidates: libbpf's bpf_core_spec_match and the compatibility checks
/// under it. Every member or type visited costs a step of a budget shared by the whole relocation.
class Matcher {
  public:
    /// `shared` counts the steps of every relocation of a CoreRelocator, held to CoreRelocator::max_steps.
    Matcher(const btf::Types& local, const btf::Types& target, std::uint64_t& shared)
        : m_local(local), m_target(target), m_shared(shared) {}

    /// The spec of `candidate` when it has the local spec's field, type or enumerator; nullopt when it does not.
    Result<std::optional<Spec>> match(const Spec& local, CoreKind kind, std::uint32_t candidate) {
        Spec spec;
        spec.types = &m_target;
        spec.root = candidate;
        spec.path = m_target.name_of(candidate);
        if (auto charged = charge(m_shared, spec.path.size()); !charged) { // a byte built is a step
            return std::move(charged).error();
        }
        if (is_enumval_kind(kind)) {
            return match_enumerator(local, std::move(spec));
        }
        if (!is_field_kind(kind)) {
            auto compatible = types_compatible(local.root, candidate, 0);
            if (!compatible) {
                return std::move(compatible).error();
            }
            return compatible.value() ? std::optional<Spec>(std::move(spec)) : std::nullopt;
        }
        return match_field(local, std::move(spec));
    }

  private:
    Result<void> step() {
        if (++m_steps > max_steps) {
            return Error::invalid(cat("matching against the target takes more than ", max_steps,
                                      " steps (anonymous members or prototypes nested too deeply)"));
        }
        return charge(m_shared, 1);
    }

    Result<std::optional<Spec>> match_enumerator(const Spec& local, Spec spec) {
        auto target = skip_modifiers(m_target, spec.root);
        if (!target) {
            return std::move(target).error();
        }
        if (!is_enum(*target->type)) {
            return std::optional<Spec>{};
        }
        const std::string_view wanted = essential_name(local.accessors.front().name);
        const auto& enumerators = target->type->enumerators;
        for (std::size_t i = 0; i < enumerators.size(); ++i) {
            if (essential_name(enumerators[i].name) == wanted) {
                spec.accessors.push_back({target->id, static_cast<std::uint32_t>(i), enumerators[i].name});
                spec.raw_length = 1;
                extend(spec.path, cat("::", shown(enumerators[i].name)));
                return std::optional<Spec>(std::move(spec));
            }
        }
        return std::optional<Spec>{};
    }

    Result<std::optional<Spec>> match_field(const Spec& local, Spec spec) {
        std::uint32_t target_id = spec.root;
        for (std::size_t i = 0; i < local.accessors.size(); ++i) {
            const Accessor& wanted = local.accessors[i];
            if (!wanted.name.empty()) {
                auto found = match_member(wanted, target_id, spec, target_id);
                if (!found) {
                    return std::move(found).error();
                }
                if (!found.value()) {
                    return std::optional<Spec>{};
                }
                continue;
            }
            if (i == 0) {
                auto root = skip_modifiers(m_target, target_id);
                if (!root) {
                    return std::move(root).error();
                }
                target_id = root->id;
            } else {
                auto array = skip_modifiers(m_target, target_id);
                if (!array) {
                    return std::move(array).error();
                }
                if (array->type->kind != Kind::array) {
                    return std::optional<Spec>{};
                }
                if (!is_flexible_array(m_target, spec.accessors.back(), *array->type) &&
                    wanted.index >= array->type->nelems) {
                    return std::optional<Spec>{};
                }
                auto element = skip_modifiers(m_target, array->type->elem_type);
                if (!element) {
                    return std::move(element).error();
                }
                target_id = element->id;
            }
            if (spec.raw_length == max_access_length) {
                return Error::invalid(cat("the target's access path is longer than ", max_access_length, " steps"));
            }
            spec.accessors.push_back({target_id, wanted.index, {}});
            ++spec.raw_length;
            if (wanted.index != 0) {
                auto size = m_target.size_of(target_id);
                if (!size) {
                    return std::move(size).error();
                }
                if (auto moved = advance(spec.bit_offset, wanted.index, size.value()); !moved) {
                    return std::move(moved).error();
                }
            }
            if (i != 0 || wanted.index != 0) {
                extend(spec.path, cat("[", wanted.index, "]"));
            }
        }
        return std::optional<Spec>(std::move(spec));
    }

    /// Finds the member `wanted` names in the struct or union `target_id`, looking inside anonymous members, and
    /// appends it to `spec`. On success `next` is the member's type.
    Result<bool> match_member(const Accessor& wanted, std::uint32_t target_id, Spec& spec, std::uint32_t& next) {
        const btf::Member& local_member = m_local.get(wanted.type_id)->members[wanted.index];
        auto target = skip_modifiers(m_target, target_id);
        if (!target) {
            return std::move(target).error();
        }
        if (!is_composite(*target->type)) {
            return false;
        }
        const auto& members = target->type->members;
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (auto stepped = step(); !stepped) {
                return std::move(stepped).error();
            }
            const btf::Member& member = members[i];
            if (spec.raw_length == max_access_length) {
                return Error::invalid(cat("the target's access path is longer than ", max_access_length, " steps"));
            }
            const std::uint64_t saved_offset = spec.bit_offset;
            const std::size_t saved_accessors = spec.accessors.size();
            const std::size_t saved_path = spec.path.size();
            if (auto moved = advance_bits(spec.bit_offset, member.bit_offset); !moved) {
                return std::move(moved).error();
            }
            ++spec.raw_length;
            bool found = false;
            if (member.name.empty()) {
                const btf::Type* inner = m_target.get(m_target.resolve(member.type));
                if (inner != nullptr && is_composite(*inner)) {
                    auto inside = match_member(wanted, member.type, spec, next);
                    if (!inside) {
                        return std::move(inside).error();
                    }
                    found = inside.value();
                }
            } else if (member.name == local_member.name) {
                auto compatible = fields_compatible(local_member.type, member.type);
                if (!compatible) {
                    return std::move(compatible).error();
                }
                if (compatible.value()) {
                    spec.accessors.push_back({target->id, static_cast<std::uint32_t>(i), member.name});
                    extend(spec.path, cat(".", shown(member.name)));
                    next = member.type;
                    return true;
                }
                // A member of that name but of another shape: the field does not exist in this candidate.
                return false;
            }
            if (found) {
                return true;
            }
            spec.bit_offset = saved_offset;
            spec.accessors.resize(saved_accessors);
            spec.path.resize(saved_path);
            --spec.raw_length;
        }
        return false;
    }

    /// libbpf's bpf_core_fields_are_compat: whether a local member's type and a target member's type can stand
    /// for each other.
    Result<bool> fields_compatible(std::uint32_t local_id, std::uint32_t target_id) {
        for (int depth = 0; depth < max_compat_depth; ++depth) {
            if (auto stepped = step(); !stepped) {
                return std::move(stepped).error();
            }
            auto local = skip_modifiers(m_local, local_id);
            if (!local) {
                return std::move(local).error();
            }
            auto target = skip_modifiers(m_target, target_id);
            if (!target) {
                return std::move(target).error();
            }
            const btf::Type& l = *local->type;
            const btf::Type& t = *target->type;
            if (is_composite(l) && is_composite(t)) {
                return true;
            }
            if (!kinds_compatible(l, t)) {
                return false;
            }
            switch (l.kind) {
            case Kind::ptr:
            case Kind::float_: return true;
            case Kind::fwd:
            case Kind::enum_:
            case Kind::enum64: return essential_name(l.name) == essential_name(t.name);
            case Kind::int_: return l.int_offset == 0 && t.int_offset == 0;
            case Kind::array:
                local_id = l.elem_type;
                target_id = t.elem_type;
                continue;
            default: return false;
            }
        }
        return Error::invalid(cat("member types nest deeper than ", max_compat_depth, " arrays"));
    }

    /// libbpf's bpf_core_types_are_compat, for type relocations.
    Result<bool> types_compatible(std::uint32_t local_id, std::uint32_t target_id, int depth) {
        const btf::Type* local_start = m_local.get(local_id);
        const btf::Type* target_start = m_target.get(target_id);
        if (local_start == nullptr || target_start == nullptr) {
            return Error::invalid(cat("type ", local_start == nullptr ? local_id : target_id, " does not exist"));
        }
        if (!kinds_compatible(*local_start, *target_start)) {
            return false;
        }
        for (; depth < max_compat_depth; ++depth) {
            if (auto stepped = step(); !stepped) {
                return std::move(stepped).error();
            }
            auto local = skip_modifiers(m_local, local_id);
            if (!local) {
                return std::move(local).error();
            }
            auto target = skip_modifiers(m_target, target_id);
            if (!target) {
                return std::move(target).error();
            }
            const btf::Type& l = *local->type;
            const btf::Type& t = *target->type;
            if (!kinds_compatible(l, t)) {
                return false;
            }
            switch (l.kind) {
            case Kind::void_:
            case Kind::struct_:
            case Kind::union_:
            case Kind::enum_:
            case Kind::enum64:
            case Kind::fwd: return true;
            case Kind::int_: return l.int_offset == 0 && t.int_offset == 0;
            case Kind::ptr:
                local_id = l.ref;
                target_id = t.ref;
                continue;
            case Kind::array:
                local_id = l.elem_type;
                target_id = t.elem_type;
                continue;
            case Kind::func_proto:
                if (l.params.size() != t.params.size()) {
                    return false;
                }
                for (std::size_t i = 0; i < l.params.size(); ++i) {
                    auto same = types_compatible(l.params[i].type, t.params[i].type, depth + 1);
                    if (!same || !same.value()) {
                        return same;
                    }
                }
                local_id = l.ref;
                target_id = t.ref;
                continue;
            default: return false;
            }
        }
        return Error::invalid(cat("types nest deeper than ", max_compat_depth));
    }

    const btf::Types& m_local;
    const btf::Types& m_target;
    std::uint64_t& m_shared;
    std::uint64_t m_steps = 0;
};

std::string_view quantity(CoreKind kind) {
    switch (kind) {
    case CoreKind::field_byte_offset: return "offset";
    case CoreKind::field_byte_size:
    case CoreKind::type_size: return "size";
    case CoreKind::field_exists:
    case CoreKind::type_exists:
    case CoreKind::enumval_exists: return "exists";
    case CoreKind::field_signed: return "signed";
    case CoreKind::field_lshift_u64: return "lshift";
    case CoreKind::field_rshift_u64: return "rshift";
    case CoreKind::type_id_local: return "local type id";
    case CoreKind::type_id_target: return "type id";
    case CoreKind::enumval_value: return "value";
    case CoreKind::type_matches: return "matches";
    }
    return "value";
}

std::string show(CoreKind kind, std::uint64_t value) {
    return kind == CoreKind::enumval_value ? std::to_string(static_cast<std::int64_t>(value)) : std::to_string(value);
}

/// Whether a load or store of `local_type` may become one of `target_type`'s size: pointers and unsigned
/// integers keep their value when zero-extended (libbpf's rule).
bool resizable(const btf::Type* local_type, const btf::Type* target_type) {
    if (local_type == nullptr || target_type == nullptr) {
        return false;
    }
    if (local_type->kind == Kind::ptr && target_type->kind == Kind::ptr) {
        return true;
    }
    return local_type->kind == Kind::int_ && target_type->kind == Kind::int_ &&
           (local_type->int_encoding & btf::int_signed) == 0 && (target_type->int_encoding & btf::int_signed) == 0;
}

std::optional<std::uint8_t> size_field(std::uint32_t bytes) {
    switch (bytes) {
    case 1: return isa::op::B;
    case 2: return isa::op::H;
    case 4: return isa::op::W;
    case 8: return isa::op::DW;
    default: return std::nullopt;
    }
}

Error not_compiled_for(std::int64_t held, const Value& local) {
    return Error::invalid(cat("the instruction holds ", held, " where the local types give ",
                              static_cast<std::int64_t>(local.value), ": it was not compiled for this relocation"));
}

/// Writes `target.value` into the instruction at `at` (libbpf's bpf_core_patch_insn). Returns whether it changed.
Result<bool> patch(std::vector<isa::Instruction>& code, std::uint32_t at, const Value& local, const Value& target,
                   bool may_resize) {
    if (at >= code.size()) {
        return Error::invalid(cat("the instruction is past the end of the program (", code.size(), " slots)"));
    }
    isa::Instruction& ins = code[at];
    const isa::Instruction before = ins;
    const std::uint64_t value = target.value;
    const auto signed_value = static_cast<std::int64_t>(value);
    switch (isa::op_class(ins.opcode)) {
    case isa::op::ALU:
    case isa::op::ALU64: {
        if (isa::op_source(ins.opcode) != isa::op::K) {
            return Error::invalid(cat("opcode ", hex(ins.opcode), " takes a register, not a constant"));
        }
        const bool wide = isa::op_class(ins.opcode) == isa::op::ALU64;
        // ALU64 sign-extends its immediate; 32-bit ALU only sees the low 32 bits.
        const bool held_ok = wide ? static_cast<std::int64_t>(ins.imm) == static_cast<std::int64_t>(local.value)
                                  : static_cast<std::uint32_t>(ins.imm) == static_cast<std::uint32_t>(local.value);
        if (local.validate && !held_ok) {
            return not_compiled_for(ins.imm, local);
        }
        const bool fits = wide ? signed_value >= std::numeric_limits<std::int32_t>::min() &&
                                     signed_value <= std::numeric_limits<std::int32_t>::max()
                               : signed_value >= std::numeric_limits<std::int32_t>::min() &&
                                     signed_value <= std::numeric_limits<std::uint32_t>::max();
        if (!fits) {
            return Error::invalid(cat("the target's value ", show(CoreKind::enumval_value, value), " does not fit the ",
                                      wide ? "sign-extended " : "", "32-bit immediate of opcode ", hex(ins.opcode)));
        }
        ins.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
        break;
    }
    case isa::op::LDX:
    case isa::op::ST:
    case isa::op::STX: {
        if (local.validate && static_cast<std::int64_t>(ins.offset) != static_cast<std::int64_t>(local.value)) {
            return not_compiled_for(ins.offset, local);
        }
        if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int16_t>::max())) {
            return Error::invalid(
                cat("the target's offset ", value, " does not fit the 16-bit offset of opcode ", hex(ins.opcode)));
        }
        if (local.mem_size != target.mem_size) {
            if (!may_resize) {
                return Error::invalid(cat("the field is ", local.mem_size, " bytes locally and ", target.mem_size,
                                          " in the target, and only unsigned integers and pointers may be accessed "
                                          "with a resized load or store"));
            }
            const int width = isa::size_bytes(isa::op_size(ins.opcode));
            if (static_cast<std::uint32_t>(width) != local.mem_size) {
                return Error::invalid(cat("the instruction accesses ", width, " bytes of a field of ", local.mem_size,
                                          ", so it cannot be resized to the target's ", target.mem_size));
            }
            const auto size = size_field(target.mem_size);
            if (!size) {
                return Error::invalid(
                    cat("the target's field is ", target.mem_size, " bytes, which no load or store accesses at once"));
            }
            ins.opcode = static_cast<std::uint8_t>(isa::op_mode(ins.opcode) | *size | isa::op_class(ins.opcode));
        }
        ins.offset = static_cast<std::int16_t>(value);
        break;
    }
    case isa::op::LD: {
        if (!isa::is_lddw(ins) || at + std::size_t{1} >= code.size() || ins.src != 0 || ins.offset != 0 ||
            code[at + 1].opcode != 0 || code[at + 1].dst != 0 || code[at + 1].src != 0 || code[at + 1].offset != 0) {
            return Error::invalid(cat("opcode ", hex(ins.opcode), " is not a plain 64-bit constant load"));
        }
        isa::Instruction& next = code[at + 1];
        const std::uint64_t held = isa::lddw_imm(ins, next);
        if (local.validate && held != local.value) {
            return not_compiled_for(static_cast<std::int64_t>(held), local);
        }
        ins.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
        next.imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value >> 32));
        return isa::lddw_imm(ins, next) != held;
    }
    default:
        return Error::invalid(cat("opcode ", hex(ins.opcode), " holds no constant a CO-RE relocation could patch"));
    }
    return !(ins == before);
}

} // namespace

/// Applies relocations one by one, with the target's types indexed by name once for all of them.
class CoreRelocator::Impl {
  public:
    Impl(const btf::Types& local, const btf::Types& target) : m_local(local), m_target(target) {}

    Result<CoreOutcome> apply(const btf::CoreRelocation& relocation, std::vector<isa::Instruction>& code) {
        auto outcome = resolve_and_patch(relocation, code);
        if (!outcome) {
            Error error = std::move(outcome).error();
            error.message = cat("CO-RE relocation at instruction ", relocation.insn, " (",
                                btf::to_string(relocation.kind), " of ", m_local.name_of(relocation.type_id),
                                ", access \"", shown(relocation.access), "\"): ", error.message);
            error.pc = relocation.insn;
            return error;
        }
        return outcome;
    }

  private:
    Result<CoreOutcome> resolve_and_patch(const btf::CoreRelocation& relocation, std::vector<isa::Instruction>& code) {
        if (relocation.kind == CoreKind::type_matches) {
            return Error::unsupported("type_matches relocations are not supported");
        }
        // Bytes cost steps as members do: the access string read, the paths built, the outcome kept. So the outcomes
        // of all relocations together stay under max_steps bytes, however long the names the paths show.
        if (auto charged = charge(m_spent, relocation.access.size()); !charged) {
            return std::move(charged).error();
        }
        auto local_spec = parse_spec(m_local, relocation);
        if (!local_spec) {
            return std::move(local_spec).error();
        }
        if (auto charged = charge(m_spent, local_spec->path.size()); !charged) {
            return std::move(charged).error();
        }
        auto local_value = compute(local_spec.value(), relocation.kind);
        if (!local_value) {
            return std::move(local_value).error();
        }

        std::optional<Spec> target_spec;
        Value target_value;
        if (relocation.kind == CoreKind::type_id_local) {
            target_value = local_value.value();
        } else {
            auto found = find_target(local_spec.value(), relocation, target_value);
            if (!found) {
                return std::move(found).error();
            }
            target_spec = std::move(found).value();
            if (!target_spec) {
                target_value = Value{}; // exists = 0
            }
        }

        bool may_resize = true;
        if (local_value->mem_size != target_value.mem_size) {
            may_resize = target_spec.has_value() &&
                         resizable(m_local.get(local_value->mem_type), m_target.get(target_value.mem_type));
        }
        auto changed = patch(code, relocation.insn, local_value.value(), target_value, may_resize);
        if (!changed) {
            return std::move(changed).error();
        }

        CoreOutcome outcome;
        outcome.insn = relocation.insn;
        outcome.kind = relocation.kind;
        outcome.access = relocation.access;
        outcome.local_value = local_value->value;
        outcome.target_value = target_value.value;
        outcome.applied = changed.value();
        outcome.description =
            cat(local_spec->path, ": ", quantity(relocation.kind), " ", show(relocation.kind, local_value->value),
                " -> ", show(relocation.kind, target_value.value));
        if (target_spec && target_spec->path != local_spec->path) {
            outcome.description += cat(" (target ", target_spec->path, ")");
        } else if (!target_spec && relocation.kind != CoreKind::type_id_local) {
            outcome.description += " (not in the target)";
        }
        if (auto charged = charge(m_spent, outcome.access.size() + outcome.description.size()); !charged) {
            return std::move(charged).error();
        }
        return outcome;
    }

    /// The target spec all matching candidates agree on, with its value; nullopt when no candidate has the field,
    /// type or enumerator and the relocation only asks whether it exists.
    Result<std::optional<Spec>> find_target(const Spec& local_spec, const btf::CoreRelocation& relocation,
                                            Value& value) {
        const btf::Type& local_type = *m_local.get(relocation.type_id);
        if (local_type.name.empty()) {
            return Error::unsupported("anonymous types cannot be relocated: the target has no name to match");
        }
        const std::string_view name = essential_name(local_type.name);
        if (auto charged = charge(m_spent, 1); !charged) { // every relocation costs a step, even a trivial one
            return std::move(charged).error();
        }
        Matcher matcher(m_local, m_target, m_spent);
        std::optional<Spec> chosen;
        std::vector<std::uint32_t> tried;
        for (const std::uint32_t candidate : candidates(name)) {
            if (auto charged = charge(m_spent, 1); !charged) {
                return std::move(charged).error();
            }
            const btf::Type& type = *m_target.get(candidate);
            if (!kinds_compatible(type, local_type)) {
                continue;
            }
            tried.push_back(candidate);
            auto matched = matcher.match(local_spec, relocation.kind, candidate);
            if (!matched) {
                return std::move(matched).error();
            }
            if (!matched.value()) {
                continue;
            }
            Spec& spec = *matched.value();
            if (auto charged = charge(m_spent, spec.path.size()); !charged) {
                return std::move(charged).error();
            }
            auto computed = compute(spec, relocation.kind);
            if (!computed) {
                Error error = std::move(computed).error();
                error.message = cat("in the target's ", spec.path, ": ", error.message);
                return error;
            }
            if (!chosen) {
                chosen = std::move(spec);
                value = computed.value();
                continue;
            }
            if (is_field_kind(relocation.kind) && spec.bit_offset != chosen->bit_offset) {
                return Error::invalid(cat("ambiguous target: ", chosen->path, " lies at bit ", chosen->bit_offset,
                                          " but ", spec.path, " at bit ", spec.bit_offset));
            }
            if (computed->value != value.value) {
                return Error::invalid(cat("ambiguous target: ", chosen->path, " gives ", quantity(relocation.kind), " ",
                                          show(relocation.kind, value.value), " but ", spec.path, " gives ",
                                          quantity(relocation.kind), " ", show(relocation.kind, computed->value)));
            }
        }
        if (chosen || is_exists_kind(relocation.kind)) {
            return chosen;
        }
        if (tried.empty()) {
            return Error::invalid(cat("the target has no ", btf::to_string(local_type.kind), " named ", shown(name),
                                      " (or ", shown(name), "___flavor)"));
        }
        std::string names;
        for (std::size_t k = 0; k < tried.size() && k < max_shown_candidates; ++k) {
            names += cat(names.empty() ? "" : ", ", m_target.name_of(tried[k]), " [", tried[k], "]");
        }
        if (tried.size() > max_shown_candidates) {
            names += cat(" and ", tried.size() - max_shown_candidates, " more");
        }
        return Error::invalid(cat(local_spec.path, " does not exist in the target (candidates: ", names, ")"));
    }

    const std::vector<std::uint32_t>& candidates(std::string_view essential) {
        if (!m_index) {
            m_index.emplace();
            for (std::size_t id = 1; id < m_target.count(); ++id) {
                const btf::Type& type = *m_target.get(static_cast<std::uint32_t>(id));
                if (!type.name.empty()) {
                    (*m_index)[essential_name(type.name)].push_back(static_cast<std::uint32_t>(id));
                }
            }
        }
        static const std::vector<std::uint32_t> none;
        const auto it = m_index->find(essential);
        return it == m_index->end() ? none : it->second;
    }

    const btf::Types& m_local;
    const btf::Types& m_target;
    std::optional<std::unordered_map<std::string_view, std::vector<std::uint32_t>>> m_index;
    std::uint64_t m_spent = 0; // steps of every relocation so far

    friend class CoreRelocator;
};

CoreRelocator::CoreRelocator(const btf::Types& local, const btf::Types& target)
    : m_impl(std::make_unique<Impl>(local, target)) {}
CoreRelocator::~CoreRelocator() = default;
CoreRelocator::CoreRelocator(CoreRelocator&&) noexcept = default;
CoreRelocator& CoreRelocator::operator=(CoreRelocator&&) noexcept = default;

std::uint64_t CoreRelocator::steps() const noexcept { return m_impl->m_spent; }

Result<std::vector<CoreOutcome>> CoreRelocator::apply(ProgramDefinition& program) {
    std::vector<isa::Instruction> code = program.instructions;
    std::vector<CoreOutcome> outcomes;
    outcomes.reserve(program.core_relocations.size());
    for (const btf::CoreRelocation& relocation : program.core_relocations) {
        auto outcome = m_impl->apply(relocation, code);
        if (!outcome) {
            return std::move(outcome).error();
        }
        outcomes.push_back(std::move(outcome).value());
    }
    program.instructions = std::move(code);
    return outcomes;
}

Result<std::vector<CoreOutcome>> apply_core_relocations(ProgramDefinition& program, const btf::Types& local,
                                                        const btf::Types& target) {
    return CoreRelocator(local, target).apply(program);
}

} // namespace embpf::elf
