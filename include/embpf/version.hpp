// The library version.
#pragma once

#define EMBPF_VERSION_MAJOR 0
#define EMBPF_VERSION_MINOR 1
#define EMBPF_VERSION_PATCH 0

namespace embpf {
inline constexpr const char* kVersion = "0.1.0";
} // namespace embpf
