// A platform as data: program types (sections, context layouts, return values), helper prototypes and map-type
// numbers written to JSON and read back, so that tools (`embpf verify --platform host.json`) see a host's own hooks
// and plugin authors get its helpers' declarations (`embpf gen helpers`).
#pragma once

#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <string>
#include <string_view>

namespace embpf::platform {

/// The platform as one JSON object:
///   {"name": "...", "untrusted_plugins": true|false,
///    "map_types": [{"id": 1, "name": "hash", "kind": "hash"}, ...],   (kind absent: a type embpf does not implement)
///    "kconfig": {"CONFIG_HZ": "250", ...},
///    "helpers": [prototype, ...],
///    "program_types": [{"name", "section_prefixes": [...], "context": {"size", "data", "data_end", "meta",
///       "pointer_width", "read_only_data", "fields": [{"name", "offset", "size", "kind", "readable", "writable",
///       "size_field", "memory_size", "memory_writable"}]}, "helpers": [ids], "own_helpers": [prototype, ...],
///       "return_min", "return_max", "return_meaning", "out_of_range_return", "platform_id", "max_data_size"}, ...]}
/// A prototype is {"id", "name", "return": "integer", "args": ["ptr_to_map", "ptr_to_map_key"], and those of
/// "reallocates_packet", "writes" ("some", "all", "source_if_fits"), "reads_writable", "reads_host_memory",
/// "reads_string", "sinks_data", "reads_address", "u32_sizes", "any_program_type", "cost", "cost_per_byte" that
/// differ from HelperPrototype's defaults}. Kinds are spelled as to_string() spells them. Host helpers' functions are
/// code, not data: they are left out (a helper read back has none, and a load of a program that calls it fails).
[[nodiscard]] std::string to_json(const Platform& platform);

/// The platform a JSON object describes, as to_json writes it. It may start from a built-in platform,
/// `"base": "windows"` or `"base": "linux"` (every helper, type, map type and kconfig value of it), and add its own:
/// a host describes its hooks and helpers in a few lines. Absent members take the defaults of the structures
/// (ProgramType, ContextField, HelperPrototype); the platform's own checks apply (add_helper, add_program_type). Bad
/// input is an error naming where: `program_types[0].context.fields[2].kind: unknown field kind "ptr"`.
[[nodiscard]] Result<Platform> from_json(std::string_view text);

} // namespace embpf::platform
