#include "embpf/testing/context.hpp"

#include <algorithm>
#include <cstring>

namespace embpf::testing {

Context::Context(const platform::ProgramType& type)
    : m_type_name(type.name), m_context(type.context),
      m_storage((std::max<std::uint32_t>(type.context.host_size(), 1) + 7) / 8, 0) {}

std::uint8_t* Context::at(std::uint32_t offset) noexcept {
    return reinterpret_cast<std::uint8_t*>(m_storage.data()) + offset;
}
const std::uint8_t* Context::at(std::uint32_t offset) const noexcept {
    return reinterpret_cast<const std::uint8_t*>(m_storage.data()) + offset;
}

void Context::fail(Error error) {
    if (!m_problem) {
        m_problem = std::move(error);
    }
}

Result<const platform::ContextField*> Context::scalar(std::string_view name) const {
    const platform::ContextField* field = m_context.field(name);
    if (field == nullptr) {
        return Error::invalid("the " + m_type_name + " context has no field " + std::string(name));
    }
    if (platform::is_packet_pointer(field->kind)) {
        return Error::invalid(field->name + " is a pointer of the " + m_type_name +
                              " context's packet: give the packet with packet()");
    }
    if (field->kind == platform::FieldKind::memory) {
        return Error::invalid(field->name + " is a memory region of the " + m_type_name +
                              " context: give its bytes with memory()");
    }
    for (const platform::ContextField& other : m_context.fields) {
        if (other.kind == platform::FieldKind::memory && other.size_field == field->name) {
            return Error::invalid(field->name + " is the size of the memory region " + other.name +
                                  ": memory() sets it");
        }
    }
    return field;
}

Context& Context::set(std::string_view name, std::uint64_t value) {
    auto field = scalar(name);
    if (!field) {
        fail(std::move(field).error());
        return *this;
    }
    const std::uint32_t size = (*field)->size;
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        fail(Error::invalid((*field)->name + " is " + std::to_string(size) + " bytes: set it with set_bytes()"));
        return *this;
    }
    if (size < 8 && value >> (8 * size) != 0) {
        fail(Error::invalid("value " + std::to_string(value) + " does not fit " + (*field)->name + " (" +
                            std::to_string(size) + " bytes)"));
        return *this;
    }
    std::memcpy(at((*field)->offset), &value, size); // little-endian hosts: the low bytes
    return *this;
}

Context& Context::set_bytes(std::string_view name, std::span<const std::uint8_t> bytes) {
    auto field = scalar(name);
    if (!field) {
        fail(std::move(field).error());
        return *this;
    }
    if (bytes.size() > (*field)->size) {
        fail(Error::invalid(std::to_string(bytes.size()) + " bytes do not fit " + (*field)->name + " (" +
                            std::to_string((*field)->size) + " bytes)"));
        return *this;
    }
    std::memset(at((*field)->offset), 0, (*field)->size);
    if (!bytes.empty()) {
        std::memcpy(at((*field)->offset), bytes.data(), bytes.size());
    }
    return *this;
}

Context& Context::packet(std::span<const std::uint8_t> bytes) {
    if (m_context.data < 0) {
        fail(Error::invalid("the " + m_type_name + " context has no packet (no data range)"));
        return *this;
    }
    m_packet.assign(bytes.begin(), bytes.end());
    return *this;
}

Context& Context::add_region(std::string_view name, std::uintptr_t address, std::size_t size, bool writable) {
    const platform::ContextField* field = m_context.field(name);
    if (field == nullptr || field->kind != platform::FieldKind::memory) {
        fail(Error::invalid("the " + m_type_name + " context has no memory region " + std::string(name)));
        return *this;
    }
    if (field->memory_writable && !writable) {
        fail(Error::invalid("the memory region " + field->name + " is writable: give it bytes the program may write"));
        return *this;
    }
    if (field->size_field.empty() ? size < field->memory_size : size > platform::kMaxRegionSize) {
        fail(Error::invalid("the memory region " + field->name + " needs " +
                            (field->size_field.empty() ? "at least " + std::to_string(field->memory_size)
                                                       : "at most " + std::to_string(platform::kMaxRegionSize)) +
                            " bytes, not " + std::to_string(size)));
        return *this;
    }
    const auto index = static_cast<std::size_t>(field - m_context.fields.data());
    // Regions sized by one field get one size: the field says it for each, so a longer buffer's size would let a
    // program run past a shorter one.
    for (const Region& other : m_regions) {
        const platform::ContextField& other_field = m_context.fields[other.field];
        if (other.field != index && !field->size_field.empty() && other_field.size_field == field->size_field &&
            other.size != size) {
            fail(Error::invalid("the memory regions " + other_field.name + " and " + field->name +
                                " share the size field " + field->size_field + ": give them as many bytes each, not " +
                                std::to_string(other.size) + " and " + std::to_string(size)));
            return *this;
        }
    }
    std::erase_if(m_regions, [index](const Region& region) { return region.field == index; });
    m_regions.push_back({index, address, size});
    return *this;
}

Context& Context::memory(std::string_view field, std::span<std::uint8_t> bytes) {
    return add_region(field, reinterpret_cast<std::uintptr_t>(bytes.data()), bytes.size(), true);
}
Context& Context::memory(std::string_view field, std::span<const std::uint8_t> bytes) {
    return add_region(field, reinterpret_cast<std::uintptr_t>(bytes.data()), bytes.size(), false);
}

Result<std::uint64_t> Context::get(std::string_view name) const {
    const platform::ContextField* field = m_context.field(name);
    if (field == nullptr) {
        return Error::invalid("the " + m_type_name + " context has no field " + std::string(name));
    }
    if (field->size != 1 && field->size != 2 && field->size != 4 && field->size != 8) {
        return Error::invalid(field->name + " is " + std::to_string(field->size) + " bytes: read it with get_bytes()");
    }
    std::uint64_t value = 0;
    std::memcpy(&value, at(field->offset), field->size);
    return value;
}

Result<std::vector<std::uint8_t>> Context::get_bytes(std::string_view name) const {
    const platform::ContextField* field = m_context.field(name);
    if (field == nullptr) {
        return Error::invalid("the " + m_type_name + " context has no field " + std::string(name));
    }
    return std::vector<std::uint8_t>(at(field->offset), at(field->offset) + field->size);
}

std::vector<std::uint8_t> Context::struct_bytes() const {
    std::vector<std::uint8_t> out(at(0), at(0) + m_context.size);
    for (const platform::ContextField& field : m_context.fields) {
        if (platform::is_packet_pointer(field.kind) || field.kind == platform::FieldKind::memory) {
            std::fill_n(out.begin() + field.offset, field.size, std::uint8_t{0});
        }
    }
    return out;
}

Result<void> Context::prepare(const Program& program) {
    if (m_problem) {
        return *m_problem;
    }
    if (program.type().context != m_context) {
        return Error::invalid("program " + program.name() + " takes the " + program.type().name +
                              " context, not this one (" + m_type_name + ")");
    }
    for (const platform::ContextField* field : m_context.regions()) {
        const auto index = static_cast<std::size_t>(field - m_context.fields.data());
        const auto given = std::find_if(m_regions.begin(), m_regions.end(),
                                        [index](const Region& region) { return region.field == index; });
        if (given == m_regions.end()) {
            return Error::invalid("the memory region " + field->name + " has no bytes: give them with memory()");
        }
    }
    const std::span<std::uint8_t> bytes(at(0), m_storage.size() * 8);
    if (m_context.data >= 0) {
        // A buffer of the packet's own for the run, never empty, so that data lies in memory the test owns.
        m_packet_buffer.assign(m_packet.begin(), m_packet.end());
        m_packet_buffer.reserve(1);
        const std::uint8_t* data = m_packet_buffer.data();
        if (auto set = platform::set_data_range(m_context, bytes, data, data + m_packet_buffer.size()); !set) {
            return set;
        }
    }
    for (const Region& region : m_regions) {
        const platform::ContextField& field = m_context.fields[region.field];
        std::memcpy(at(field.offset), &region.address, sizeof region.address);
        if (const platform::ContextField* size = m_context.field(field.size_field); size && !field.size_field.empty()) {
            const std::uint64_t value = region.size;
            std::memcpy(at(size->offset), &value, size->size);
        }
    }
    return {};
}

void Context::take_packet() {
    if (m_context.data < 0) {
        return;
    }
    // The packet where the run left it: the packet helpers may have moved its start and end within the buffer.
    const auto range = platform::data_range(m_context, {at(0), m_storage.size() * 8});
    const auto first = reinterpret_cast<std::uintptr_t>(m_packet_buffer.data());
    if (range && range->data >= first && range->data <= range->data_end &&
        range->data_end <= first + m_packet_buffer.size()) {
        m_packet.assign(reinterpret_cast<const std::uint8_t*>(range->data),
                        reinterpret_cast<const std::uint8_t*>(range->data_end));
    }
}

Result<std::uint64_t> Context::run(const Program& program) {
    if (auto ready = prepare(program); !ready) {
        return std::move(ready).error();
    }
    // The context is this object's own: the packet helpers may move its packet (within its buffer: no room).
    auto r0 = program.run(m_storage.data(), m_storage.size() * 8, PacketRoom{});
    take_packet();
    return r0;
}

Result<exec::CheckedOutcome> Context::run_checked(const Program& program, std::uint64_t budget) {
    if (auto ready = prepare(program); !ready) {
        return std::move(ready).error();
    }
    auto outcome = program.run_checked(m_storage.data(), m_storage.size() * 8, budget);
    take_packet();
    return outcome;
}

Context xdp(const platform::ProgramType& type, std::span<const std::uint8_t> packet) {
    Context context(type);
    context.packet(packet);
    return context;
}

Context skb(const platform::ProgramType& type, std::span<const std::uint8_t> packet) {
    Context context(type);
    context.packet(packet);
    context.set("len", packet.size());
    if (packet.size() >= 14) {
        // skb->protocol holds the EtherType as it lies in the frame (network order), in a 32-bit field.
        std::uint16_t ether_type = 0;
        std::memcpy(&ether_type, packet.data() + 12, sizeof ether_type);
        context.set("protocol", ether_type);
    }
    return context;
}

Context bind(const platform::ProgramType& type, std::uint64_t process_id, std::string_view app_id,
             std::uint32_t operation, std::uint8_t protocol) {
    Context context(type);
    context.packet({reinterpret_cast<const std::uint8_t*>(app_id.data()), app_id.size()});
    context.set("process_id", process_id);
    context.set("operation", operation);
    context.set("protocol", protocol);
    return context;
}

namespace {

std::uint16_t network16(std::uint16_t value) { return static_cast<std::uint16_t>(value << 8 | value >> 8); }

std::span<const std::uint8_t> address_bytes(const Endpoint& endpoint) {
    return {endpoint.address.data(), endpoint.ipv6 ? std::size_t{16} : std::size_t{4}};
}

} // namespace

Context sock_addr(const platform::ProgramType& type, const Endpoint& destination, std::uint8_t protocol) {
    Context context(type);
    const bool linux_layout = type.context.field("user_family") != nullptr;
    if (linux_layout) {
        context.set("user_family", destination.ipv6 ? 10 : 2);
        context.set_bytes(destination.ipv6 ? "user_ip6" : "user_ip4", address_bytes(destination));
        context.set("user_port", network16(destination.port));
        context.set("family", destination.ipv6 ? 10 : 2);
        context.set("type", protocol == 17 ? 2 : 1); // SOCK_DGRAM for UDP, else SOCK_STREAM
    } else {
        context.set("family", destination.ipv6 ? 23 : 2);
        context.set_bytes("user_ip6", address_bytes(destination)); // an IPv4 address in its first 4 bytes
        context.set("user_port", network16(destination.port));
    }
    context.set("protocol", protocol);
    return context;
}

Context sock_ops(const platform::ProgramType& type, std::uint32_t op, const Endpoint& local, const Endpoint& remote,
                 std::uint8_t protocol) {
    Context context(type);
    const platform::ContextField* remote_ip4 = type.context.field("remote_ip4");
    const bool linux_layout = remote_ip4 != nullptr && remote_ip4->offset == 24;
    context.set("op", op);
    if (linux_layout) {
        context.set("family", remote.ipv6 ? 10 : 2);
        context.set_bytes(local.ipv6 ? "local_ip6" : "local_ip4", address_bytes(local));
        context.set_bytes(remote.ipv6 ? "remote_ip6" : "remote_ip4", address_bytes(remote));
        context.set("local_port", local.port);
        context.set("remote_port", std::uint64_t{network16(remote.port)} << 16);
    } else {
        context.set("family", remote.ipv6 ? 23 : 2);
        context.set_bytes("local_ip6", address_bytes(local));
        context.set_bytes("remote_ip6", address_bytes(remote));
        context.set("local_port", network16(local.port));
        context.set("remote_port", network16(remote.port));
        context.set("protocol", protocol);
    }
    return context;
}

} // namespace embpf::testing
