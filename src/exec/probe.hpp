// The probe load the engines share: a read of the host's memory that fails instead of faulting. Internal to the exec
// stage.
#pragma once

#include <cstdint>

namespace embpf::exec::detail {

/// `width & 0xFF` bytes at `addr`, sign-extended when `width & 0x100`, read with the kernel's copy of the process's
/// own memory: an address the process cannot read loads 0 (InterpreterOptions::probe_loads).
[[nodiscard]] std::uint64_t probe_load(std::uint64_t addr, std::int32_t width);

} // namespace embpf::exec::detail
