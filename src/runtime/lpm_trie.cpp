// lpm_trie: longest-prefix match over a path-compressed binary trie, the structure Linux uses.
//
// Each node holds a whole prefix (prefixlen bits of data); a node's children extend its prefix and are chosen by the
// first bit after it. Intermediate nodes (no value) join two subtrees that share a shorter prefix than either, so
// the trie has at most 2n - 1 nodes and a lookup visits at most one node per distinct prefix length on its path, never
// one probe per length. Keys are struct { u32 prefixlen; u8 data[key_size - 4]; } with the data in network order
// (bit 0 is the top bit of data[0]).
//
// Concurrency as in Linux: lookups walk the child pointers lock-free (seq_cst loads); writers serialize on a spin
// lock and never change a node's prefix or value once it is reachable: replacing a value links a new node, and
// removed nodes are retired. Deleting a node with two children only marks it intermediate (its value stays readable
// until the node is removed). A full trie refuses new prefixes with -ENOSPC, as Linux does.
#include "common.hpp"

#include <bit>
#include <cerrno>
#include <mutex>
#include <vector>

namespace embpf::runtime::detail {
namespace {

constexpr std::uint32_t flag_intermediate = 1;

/// What the trie and its retired nodes share, so that a node reclaimed after the trie is gone can still be counted:
/// retired nodes are bounded (retired_allowance), and every node's bytes count against the object's budget.
struct Shared {
    std::atomic<std::size_t> refs{1};
    std::atomic<std::size_t> retired{0};
    std::atomic<std::size_t> retired_bytes{0};
    std::shared_ptr<MemoryBudget> budget;

    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete this;
        }
    }
};

struct Node {
    Retired retired; // first: the reclaimer gets back to the node from it
    std::atomic<Node*> child[2] = {};
    std::uint32_t prefixlen = 0;
    std::atomic<std::uint32_t> flags{0};
    bool with_value = false; // allocated with room for a value (a real node, or one that was)
    std::uint32_t size = 0;  // bytes allocated
    Shared* shared = nullptr;
    // data[data_size], then the value at value_offset (real nodes only)
};
static_assert(std::is_standard_layout_v<Node>);

void free_node(Node* node) noexcept {
    if (node->shared->budget) {
        node->shared->budget->release(node->size);
    }
    ::operator delete(static_cast<void*>(node));
}

void reclaim_node(Retired* retired) noexcept {
    auto* node = reinterpret_cast<Node*>(retired);
    Shared* shared = node->shared;
    shared->retired.fetch_sub(1, std::memory_order_relaxed);
    shared->retired_bytes.fetch_sub(node->size, std::memory_order_relaxed);
    free_node(node);
    shared->release();
}

class LpmTrie final : public Map {
  public:
    explicit LpmTrie(MapConfig config)
        : Map(std::move(config)), m_data_size(this->config().key_size - 4),
          m_max_prefixlen(static_cast<std::uint32_t>(m_data_size) * 8),
          m_value_offset(round_up8(sizeof(Node) + m_data_size)), m_shared(new Shared()) {
        m_shared->budget = this->config().budget;
    }

    ~LpmTrie() override {
        std::vector<Node*> pending;
        if (Node* root = m_root.load(std::memory_order_relaxed)) {
            pending.push_back(root); // the trie's depth is at most max_prefixlen + 1: this stays small
        }
        while (!pending.empty()) {
            Node* node = pending.back();
            pending.pop_back();
            for (auto& child : node->child) {
                if (Node* c = child.load(std::memory_order_relaxed)) {
                    pending.push_back(c);
                }
            }
            free_node(node);
        }
        m_shared->release();
    }

    void* lookup(const void* key) noexcept override {
        Node* found = longest_match(static_cast<const std::byte*>(key));
        return found != nullptr ? value_of(found) : nullptr;
    }

    long update(const void* key, const void* value, std::uint64_t flags) noexcept override {
        if (const long err = check_update_flags(flags)) {
            return err;
        }
        const auto* k = static_cast<const std::byte*>(key);
        const std::uint32_t prefixlen = load_u32(k);
        if (prefixlen > m_max_prefixlen) {
            return -EINVAL;
        }
        // What readers may still hold stays bounded: past the allowance, reclaim, and refuse when that is not enough
        // (inside an invocation nothing it retired can be reclaimed before it returns).
        if (m_shared->retired.load(std::memory_order_relaxed) >= retired_allowance(config().slots)) {
            try_reclaim();
            if (m_shared->retired.load(std::memory_order_relaxed) >= retired_allowance(config().slots)) {
                return -ENOMEM;
            }
        }
        Node* fresh = allocate(prefixlen, k + 4, true);
        if (fresh == nullptr) {
            return -ENOMEM;
        }
        std::memcpy(value_of(fresh), value, config().value_size);
        Node* retired = nullptr;
        long result = 0;
        {
            std::lock_guard guard(m_lock);
            result = insert_locked(fresh, flags, retired);
        }
        if (result != 0) {
            free_unpublished(fresh);
        }
        if (retired != nullptr) {
            retire(retired);
        }
        return result;
    }

    long erase(const void* key) noexcept override { return erase_exact(key, nullptr); }
    void* detach(const void* key) noexcept override {
        Node* node = nullptr;
        return erase_exact(key, &node) == 0 ? value_of(node) : nullptr;
    }

    long lookup_and_erase(const void*, void*) noexcept override { return -EOPNOTSUPP; }

    Result<bool> host_lookup(std::span<const std::uint8_t> key, std::span<std::uint8_t> value) const override {
        if (auto checked = check_key(key); !checked) {
            return std::move(checked).error();
        }
        if (auto checked = check_value(value.size()); !checked) {
            return std::move(checked).error();
        }
        EpochGuard guard;
        Node* found = longest_match(reinterpret_cast<const std::byte*>(key.data()));
        if (found == nullptr) {
            return false;
        }
        std::memcpy(value.data(), value_of(found), value.size());
        return true;
    }
    Result<void> host_update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                             std::uint64_t flags) override {
        if (auto checked = check_key(key); !checked) {
            return checked;
        }
        if (auto checked = check_value(value.size()); !checked) {
            return checked;
        }
        const long err = update(key.data(), value.data(), flags);
        if (err == -EINVAL && check_update_flags(flags) == 0) {
            return Error::invalid(label() + ": prefix length " + std::to_string(load_u32(key.data())) + " exceeds " +
                                  std::to_string(m_max_prefixlen));
        }
        if (err != 0) {
            return update_error(err, flags);
        }
        return {};
    }
    Result<bool> host_erase(std::span<const std::uint8_t> key) override {
        if (auto checked = check_key(key); !checked) {
            return std::move(checked).error();
        }
        return erase_exact(key.data(), nullptr) == 0;
    }
    Result<bool> next_key(std::span<const std::uint8_t> key, std::span<std::uint8_t> next) const override {
        if (!key.empty()) {
            if (auto checked = check_key(key); !checked) {
                return std::move(checked).error();
            }
        }
        if (next.size() != config().key_size) {
            return Error::invalid(label() + ": next key buffer of " + std::to_string(next.size()) +
                                  " bytes, expected " + std::to_string(config().key_size));
        }
        try {
            std::lock_guard guard(m_lock);
            const Node* node = next_locked(key.empty() ? nullptr : reinterpret_cast<const std::byte*>(key.data()));
            if (node == nullptr) {
                return false;
            }
            std::memcpy(next.data(), &node->prefixlen, 4);
            std::memcpy(next.data() + 4, data_of(node), m_data_size);
            return true;
        } catch (const std::bad_alloc&) {
            return out_of_memory(config(), 0);
        }
    }
    std::optional<std::size_t> entry_count() const noexcept override {
        return m_entries.load(std::memory_order_relaxed);
    }
    std::size_t memory_size() const noexcept override {
        return m_bytes.load(std::memory_order_relaxed) + m_shared->retired_bytes.load(std::memory_order_relaxed);
    }

  private:
    /// Deletes the exact prefix; `deleted` gets its node, whose value stays readable until the caller's guard ends
    /// (the node is retired, or kept as an intermediate node).
    long erase_exact(const void* key, Node** deleted) noexcept {
        Node* removed[2] = {nullptr, nullptr};
        long result = 0;
        {
            std::lock_guard guard(m_lock);
            result = erase_locked(static_cast<const std::byte*>(key), removed, deleted);
        }
        for (Node* node : removed) {
            if (node != nullptr) {
                retire(node);
            }
        }
        return result;
    }

    [[nodiscard]] std::size_t node_size(bool with_value) const noexcept {
        return with_value ? m_value_offset + config().value_size : sizeof(Node) + m_data_size;
    }
    [[nodiscard]] static std::byte* data_of(Node* node) noexcept {
        return reinterpret_cast<std::byte*>(node) + sizeof(Node);
    }
    [[nodiscard]] static const std::byte* data_of(const Node* node) noexcept {
        return reinterpret_cast<const std::byte*>(node) + sizeof(Node);
    }
    [[nodiscard]] std::byte* value_of(Node* node) const noexcept {
        return reinterpret_cast<std::byte*>(node) + m_value_offset;
    }

    Node* allocate(std::uint32_t prefixlen, const std::byte* data, bool with_value) noexcept {
        const std::size_t size = node_size(with_value);
        if (m_shared->budget && !m_shared->budget->charge(size)) {
            return nullptr;
        }
        void* memory = ::operator new(size, std::nothrow);
        if (memory == nullptr) {
            if (m_shared->budget) {
                m_shared->budget->release(size);
            }
            return nullptr;
        }
        auto* node = new (memory) Node();
        node->prefixlen = prefixlen;
        node->with_value = with_value;
        node->size = static_cast<std::uint32_t>(size);
        node->shared = m_shared;
        std::memcpy(data_of(node), data, m_data_size);
        m_bytes.fetch_add(size, std::memory_order_relaxed);
        return node;
    }
    void free_unpublished(Node* node) noexcept {
        m_bytes.fetch_sub(node->size, std::memory_order_relaxed);
        free_node(node);
    }
    void retire(Node* node) noexcept {
        m_bytes.fetch_sub(node->size, std::memory_order_relaxed);
        m_shared->refs.fetch_add(1, std::memory_order_relaxed);
        m_shared->retired.fetch_add(1, std::memory_order_relaxed);
        m_shared->retired_bytes.fetch_add(node->size, std::memory_order_relaxed);
        retire_node(&node->retired, &reclaim_node);
    }

    [[nodiscard]] static bool bit_at(const std::byte* data, std::uint32_t index) noexcept {
        return ((std::to_integer<unsigned>(data[index / 8]) >> (7 - index % 8)) & 1U) != 0;
    }

    /// How many leading bits of `node`'s prefix and the key data agree, at most min(node, key prefix length). The
    /// first `known` bits are known to agree (the parent's prefix, matched on the way down): the comparison starts at
    /// the word that holds bit `known`, so that a walk down a trie as deep as its key compares the key once, not once
    /// per level.
    [[nodiscard]] std::uint32_t match_length(const Node* node, const std::byte* data, std::uint32_t prefixlen,
                                             std::uint32_t known) const noexcept {
        const std::uint32_t limit = std::min(node->prefixlen, prefixlen);
        const std::byte* a = data_of(node);
        std::size_t i = std::min<std::size_t>(known / 64 * 8, m_data_size);
        auto matched = static_cast<std::uint32_t>(i * 8);
        while (matched < limit) {
            if (m_data_size - i >= 8) {
                std::uint64_t x = 0;
                std::uint64_t y = 0;
                std::memcpy(&x, a + i, 8);
                std::memcpy(&y, data + i, 8);
                const std::uint64_t diff = byteswap_if_little(x ^ y);
                if (diff != 0) {
                    matched += static_cast<std::uint32_t>(std::countl_zero(diff));
                    break;
                }
                matched += 64;
                i += 8;
            } else if (i < m_data_size) {
                const auto diff = static_cast<std::uint8_t>(std::to_integer<unsigned>(a[i] ^ data[i]));
                if (diff != 0) {
                    matched += static_cast<std::uint32_t>(std::countl_zero(diff));
                    break;
                }
                matched += 8;
                ++i;
            } else {
                break;
            }
        }
        return std::min(matched, limit);
    }

    [[nodiscard]] static std::uint64_t byteswap_if_little(std::uint64_t v) noexcept {
        if constexpr (std::endian::native == std::endian::little) {
            return __builtin_bswap64(v);
        } else {
            return v;
        }
    }

    /// Lock-free; the caller is inside a guard.
    Node* longest_match(const std::byte* key) const noexcept {
        const std::uint32_t prefixlen = load_u32(key);
        const std::byte* data = key + 4;
        Node* found = nullptr;
        std::uint32_t known = 0;
        for (Node* node = m_root.load(std::memory_order_seq_cst); node != nullptr;) {
            const std::uint32_t matched = match_length(node, data, prefixlen, known);
            if (matched == m_max_prefixlen) {
                if ((node->flags.load(std::memory_order_seq_cst) & flag_intermediate) == 0) {
                    found = node;
                }
                break;
            }
            if (matched < node->prefixlen) {
                break;
            }
            if ((node->flags.load(std::memory_order_seq_cst) & flag_intermediate) == 0) {
                found = node;
            }
            if (node->prefixlen >= prefixlen) {
                break;
            }
            known = node->prefixlen;
            node = node->child[bit_at(data, node->prefixlen) ? 1 : 0].load(std::memory_order_seq_cst);
        }
        return found;
    }

    /// Under m_lock. Links `fresh` (a real node) in; `retired` gets a node it replaced.
    long insert_locked(Node* fresh, std::uint64_t flags, Node*& retired) noexcept {
        const std::uint32_t prefixlen = fresh->prefixlen;
        const std::byte* data = data_of(fresh);
        std::atomic<Node*>* slot = &m_root;
        Node* node = nullptr;
        std::uint32_t matched = 0;
        std::uint32_t known = 0;
        while ((node = slot->load(std::memory_order_relaxed)) != nullptr) {
            matched = match_length(node, data, prefixlen, known);
            if (node->prefixlen != matched || node->prefixlen == prefixlen || node->prefixlen == m_max_prefixlen) {
                break;
            }
            known = node->prefixlen;
            slot = &node->child[bit_at(data, node->prefixlen) ? 1 : 0];
        }
        const bool exact = node != nullptr && node->prefixlen == prefixlen && matched == prefixlen;
        const bool exists = exact && (node->flags.load(std::memory_order_relaxed) & flag_intermediate) == 0;
        if (exists && flags == bpf_noexist) {
            return -EEXIST;
        }
        if (!exists && flags == bpf_exist) {
            return -ENOENT;
        }
        if (!exists && m_entries.load(std::memory_order_relaxed) >= config().max_entries) {
            return -ENOSPC;
        }
        if (node == nullptr) {
            slot->store(fresh, std::memory_order_seq_cst);
        } else if (exact) {
            fresh->child[0].store(node->child[0].load(std::memory_order_relaxed), std::memory_order_relaxed);
            fresh->child[1].store(node->child[1].load(std::memory_order_relaxed), std::memory_order_relaxed);
            slot->store(fresh, std::memory_order_seq_cst);
            retired = node;
        } else if (matched == prefixlen) {
            // The new prefix is a prefix of node's: it goes above node.
            fresh->child[bit_at(data_of(node), matched) ? 1 : 0].store(node, std::memory_order_relaxed);
            slot->store(fresh, std::memory_order_seq_cst);
        } else {
            // They diverge at bit `matched`: an intermediate node joins them.
            Node* joint = allocate(matched, data_of(node), false);
            if (joint == nullptr) {
                return -ENOMEM;
            }
            joint->flags.store(flag_intermediate, std::memory_order_relaxed);
            const bool fresh_right = bit_at(data, matched);
            joint->child[fresh_right ? 1 : 0].store(fresh, std::memory_order_relaxed);
            joint->child[fresh_right ? 0 : 1].store(node, std::memory_order_relaxed);
            slot->store(joint, std::memory_order_seq_cst);
        }
        if (!exists) {
            m_entries.fetch_add(1, std::memory_order_relaxed);
        }
        return 0;
    }

    /// Under m_lock: removes the exact prefix; up to two nodes to retire go to `removed`.
    long erase_locked(const std::byte* key, Node* (&removed)[2], Node** deleted) noexcept {
        const std::uint32_t prefixlen = load_u32(key);
        const std::byte* data = key + 4;
        if (prefixlen > m_max_prefixlen) {
            return -EINVAL;
        }
        std::atomic<Node*>* trim = &m_root;
        std::atomic<Node*>* trim_parent = trim;
        Node* parent = nullptr;
        Node* node = nullptr;
        std::uint32_t matched = 0;
        std::uint32_t known = 0;
        while ((node = trim->load(std::memory_order_relaxed)) != nullptr) {
            matched = match_length(node, data, prefixlen, known);
            if (node->prefixlen != matched || node->prefixlen == prefixlen) {
                break;
            }
            known = node->prefixlen;
            parent = node;
            trim_parent = trim;
            trim = &node->child[bit_at(data, node->prefixlen) ? 1 : 0];
        }
        if (node == nullptr || node->prefixlen != prefixlen || matched != prefixlen ||
            (node->flags.load(std::memory_order_relaxed) & flag_intermediate) != 0) {
            return -ENOENT;
        }
        m_entries.fetch_sub(1, std::memory_order_relaxed);
        if (deleted != nullptr) {
            *deleted = node;
        }
        Node* left = node->child[0].load(std::memory_order_relaxed);
        Node* right = node->child[1].load(std::memory_order_relaxed);
        if (left != nullptr && right != nullptr) {
            node->flags.store(flag_intermediate, std::memory_order_seq_cst);
            return 0;
        }
        if (parent != nullptr && (parent->flags.load(std::memory_order_relaxed) & flag_intermediate) != 0 &&
            left == nullptr && right == nullptr) {
            // An intermediate parent with a leaf child: the sibling takes the parent's place.
            Node* sibling = parent->child[parent->child[0].load(std::memory_order_relaxed) == node ? 1 : 0].load(
                std::memory_order_relaxed);
            trim_parent->store(sibling, std::memory_order_seq_cst);
            removed[0] = node;
            removed[1] = parent;
            return 0;
        }
        trim->store(left != nullptr ? left : right, std::memory_order_seq_cst);
        removed[0] = node;
        return 0;
    }

    /// Under m_lock: the real node after `key` in postorder (children before parents, left before right), or the
    /// first one when `key` is null or not in the trie, as Linux iterates.
    const Node* next_locked(const std::byte* key) const {
        Node* root = m_root.load(std::memory_order_relaxed);
        if (root == nullptr) {
            return nullptr;
        }
        std::vector<Node*> path;
        Node* search_root = root;
        if (key != nullptr && load_u32(key) <= m_max_prefixlen) {
            const std::uint32_t prefixlen = load_u32(key);
            const std::byte* data = key + 4;
            Node* node = root;
            Node* exact = nullptr;
            std::uint32_t known = 0;
            while (node != nullptr) {
                path.push_back(node);
                const std::uint32_t matched = match_length(node, data, prefixlen, known);
                if (node->prefixlen != matched) {
                    break;
                }
                if (node->prefixlen == prefixlen) {
                    if ((node->flags.load(std::memory_order_relaxed) & flag_intermediate) == 0) {
                        exact = node;
                    }
                    break;
                }
                known = node->prefixlen;
                node = node->child[bit_at(data, node->prefixlen) ? 1 : 0].load(std::memory_order_relaxed);
            }
            if (exact != nullptr) {
                // Climb: a right sibling subtree comes next, else the first real ancestor.
                Node* current = exact;
                path.pop_back();
                while (!path.empty()) {
                    Node* up = path.back();
                    Node* right = up->child[1].load(std::memory_order_relaxed);
                    if (up->child[0].load(std::memory_order_relaxed) == current && right != nullptr) {
                        return leftmost(right);
                    }
                    if ((up->flags.load(std::memory_order_relaxed) & flag_intermediate) == 0) {
                        return up;
                    }
                    current = up;
                    path.pop_back();
                }
                return nullptr;
            }
        }
        return leftmost(search_root);
    }

    /// The first real node of a subtree in postorder. Intermediate nodes always have two children.
    static const Node* leftmost(Node* node) noexcept {
        const Node* found = nullptr;
        while (node != nullptr) {
            Node* left = node->child[0].load(std::memory_order_relaxed);
            Node* right = node->child[1].load(std::memory_order_relaxed);
            if ((node->flags.load(std::memory_order_relaxed) & flag_intermediate) == 0) {
                found = node;
            }
            node = left != nullptr ? left : right;
        }
        return found;
    }

    std::size_t m_data_size;
    std::uint32_t m_max_prefixlen;
    std::size_t m_value_offset;
    std::atomic<Node*> m_root{nullptr};
    mutable SpinLock m_lock;
    std::atomic<std::size_t> m_entries{0};
    std::atomic<std::size_t> m_bytes{0};
    Shared* m_shared;
};

} // namespace

std::size_t lpm_trie_memory(const MapConfig&) noexcept { return 0; }

Result<std::shared_ptr<Map>> create_lpm_trie(const MapConfig& config) {
    try {
        return std::shared_ptr<Map>(std::make_shared<LpmTrie>(config));
    } catch (const std::bad_alloc&) {
        return out_of_memory(config, 0);
    }
}

} // namespace embpf::runtime::detail
