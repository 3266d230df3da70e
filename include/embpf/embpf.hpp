// embpf: verified eBPF plugins for user-mode hosts. The umbrella header of the public C++ API.
#pragma once

#include "embpf/fwd.hpp"
#include "embpf/result.hpp"
#include "embpf/version.hpp"

#include "embpf/isa/decode.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/isa/text.hpp"

#include "embpf/elf/btf.hpp"
#include "embpf/elf/core.hpp"
#include "embpf/elf/object_file.hpp"

#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/json.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include "embpf/exec/aot.hpp"
#include "embpf/exec/engine.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"

#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/invocation.hpp"
#include "embpf/runtime/map.hpp"
#include "embpf/runtime/perf_event_array.hpp"
#include "embpf/runtime/ring_buffer.hpp"
#include "embpf/runtime/slot.hpp"

#include "embpf/api/aot.hpp"
#include "embpf/api/hook.hpp"
#include "embpf/api/introspection.hpp"
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/api/registry.hpp"
#include "embpf/api/ring_buffer.hpp"
#include "embpf/api/skeleton.hpp"
