// Forward declarations of the public types, for headers that only pass them around.
#pragma once

namespace embpf {
struct Error;
template <typename T>
class Result;

class ObjectSpec;
class Object;
class Program;
class MapHandle;
template <typename K, typename V>
class Map;
template <typename T>
class RingBuffer;
template <typename T>
class GlobalData;

namespace isa {
struct Instruction;
} // namespace isa

namespace platform {
struct HelperPrototype;
struct ContextDescriptor;
struct ProgramType;
class Platform;
} // namespace platform

namespace exec {
class Executable;
class HelperTable;
class Interpreter;
struct CheckedOptions;
struct CheckedOutcome;
struct MemoryRegion;
} // namespace exec
} // namespace embpf
