#pragma once
// The registry replica's storage. Name entries sit in a compact open-addressing table that contains
// short names inside the entries and longer ones in one arena, and node identities are interned
// in a small table with the number of entries each owns. Per-bucket digests are kept up to date
// for anti-entropy.
//
// With a hundred replicas in one simulator process, almost every lookup misses the caches, so
// the layout keeps memory accesses few: a slot contains the name hash beside the entry index, so
// a probe reads an entry only when the hashes match, and a short name is compared where the
// entry is. An update touches no other entry, and an entry's digest needs neither the name nor
// a hash of it.

#include <muster/core/detail/flat_index.hpp>
#include <muster/core/detail/mapped_array.hpp>
#include <muster/core/hash.hpp>
#include <muster/core/types.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace muster::detail {

inline constexpr std::uint32_t npos32 = std::numeric_limits<std::uint32_t>::max();

/// Asks the processor to fetch `address` into the caches ahead of its use; changes nothing else.
inline void prefetch([[maybe_unused]] const void* address) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address);
#endif
}

/// Names up to this many bytes are stored inside their entry; longer ones go to the arena.
inline constexpr std::size_t inline_name_max = 16;

/// One replicated name: 40 bytes, holding the name itself when it has at most `inline_name_max`
/// bytes, or its place in the arena otherwise.
struct name_entry {
    std::uint64_t version = 0;
    std::uint32_t hash = 0;      ///< top half of `hash64(name)`: picks the slot and the digest bucket
    std::uint32_t hash_low = 0;  ///< bottom half of `hash64(name)`, for the entry digest
    std::uint32_t owner = npos32;  ///< index into the node table
    std::uint16_t spec = 0;        ///< index into the spec table
    std::uint8_t name_size = 0;
    bool removed : 1 = false;
    /// Set by the registry while this node runs or moves the name's worker, so a replicated
    /// update of any other name skips the search of the local workers.
    bool local : 1 = false;
    /// Mark that the entry came from a node other than its owner (an anti-entropy response,
    /// say), which may have missed a later update. Before the registry restarts such a name as
    /// an orphan, it pulls the name's bucket from another member.
    bool unconfirmed : 1 = false;
    /// The name's bytes when `name_size <= inline_name_max`; otherwise the first four bytes hold
    /// its offset in the arena.
    char name_bytes[inline_name_max] = {};

    bool name_inline() const { return name_size <= inline_name_max; }
    std::uint32_t name_offset() const {
        std::uint32_t offset;
        std::memcpy(&offset, name_bytes, sizeof offset);
        return offset;
    }
    void set_name_offset(std::uint32_t offset) { std::memcpy(name_bytes, &offset, sizeof offset); }
};
static_assert(sizeof(name_entry) == 40);
static_assert(std::is_trivially_copyable_v<name_entry>);

/// Returns the top half of a 64-bit hash: the 32-bit name hash the table's slots contain.
inline std::uint32_t top_half(std::uint64_t full_hash) noexcept { return static_cast<std::uint32_t>(full_hash >> 32); }

/// Returns the 32-bit name hash the table stores: the top half of `hash64`, the same on every node.
inline std::uint32_t name_hash(std::string_view name) noexcept { return top_half(hash64(name)); }

/// An interned node identity with the number of entries it owns.
struct node_slot {
    node_id id;
    std::uint64_t name_hash = 0;
    std::uint64_t serial = 0;  ///< different for every identity interned in this table, from 1
    std::uint32_t count = 0;   ///< entries owned by this node
};

class name_table {
public:
    explicit name_table(std::uint32_t buckets_count) : digests_(buckets_count, 0) {
        unsigned shift = 32;
        for (std::uint32_t b = buckets_count; b > 1; b >>= 1) --shift;
        bucket_shift_ = shift;
    }

    std::size_t size() const { return entries_.size(); }
    const name_entry& at(std::uint32_t index) const { return entries_[index]; }
    std::string_view name(std::uint32_t index) const {
        const auto& e = entries_[index];
        if (e.name_inline()) return {e.name_bytes, e.name_size};
        return {arena_.data() + e.name_offset(), e.name_size};
    }
    const node_id& owner(std::uint32_t index) const { return nodes_[entries_[index].owner].id; }
    /// Returns the serial of the identity in node table slot `slot` (an entry's `owner`). A slot
    /// is reused once its identity owns nothing, and the serial distinguishes the identities.
    std::uint64_t node_serial(std::uint32_t slot) const { return nodes_[slot].serial; }
    /// Returns `hash64(owner.name, owner.incarnation)` for the owner of entry `index`.
    std::uint64_t owner_hash(std::uint32_t index) const { return nodes_[entries_[index].owner].name_hash; }
    const worker_spec& spec(std::uint32_t index) const { return specs_[entries_[index].spec]; }

    /// Returns `hash64` of the name of entry `index`, from the two halves the entry stores.
    std::uint64_t full_hash(std::uint32_t index) const {
        return (std::uint64_t{entries_[index].hash} << 32) | entries_[index].hash_low;
    }
    /// Returns the number of entries that are not removed.
    std::size_t live() const { return live_; }
    /// Starts keeping `live_fingerprint` and `live_names_fingerprint`, computed once from the
    /// entries. Until then every change skips them, which saves work on every update where no
    /// placement reads the names.
    void keep_fingerprints() {
        if (fingerprints_) return;
        fingerprints_ = true;
        live_fingerprint_ = live_names_fingerprint_ = 0;
        for (std::uint32_t i = 0; i < entries_.size(); ++i)
            if (!entries_[i].removed) change_fingerprints(i, true);
    }

    /// Returns a fingerprint of the names that are not removed and their owners: the sum of
    /// `mix64(hash_combine(hash64(name), owner identity hash))` over them. After `keep_fingerprints`,
    /// every change keeps it up to date, so comparing it with an earlier value costs nothing per name.
    std::uint64_t live_fingerprint() const { return live_fingerprint_; }
    /// Returns a fingerprint of the names that are not removed, without their owners: the sum of
    /// `mix64(hash64(name))` over them.
    std::uint64_t live_names_fingerprint() const { return live_names_fingerprint_; }
    /// Returns the number of node table slots. An entry's `owner` is below it.
    std::size_t node_slots() const { return nodes_.size(); }

    std::uint32_t find(std::string_view name) const { return find(name, name_hash(name)); }

    // Prefetch hints for a run of `find` calls, each a step further along for a name with hash
    // `h`: the home slot, then the entry its slot points at, then the entry's name. A caller
    // issues them a few names ahead, so the cache misses of several lookups overlap. Each reads
    // only what the previous step fetched, and none changes the table.
    void prefetch_slot(std::uint32_t h) const {
        if (!slots_.empty()) prefetch(&slots_[home(h)]);
    }
    void prefetch_entry(std::uint32_t h) const {
        if (const auto index = first_match(h); index != npos32) prefetch(&entries_[index]);
    }
    void prefetch_name(std::uint32_t h) const {
        if (const auto index = first_match(h); index != npos32 && !entries_[index].name_inline())
            prefetch(arena_.data() + entries_[index].name_offset());
    }

    std::uint32_t find(std::string_view name, std::uint32_t h) const {
        if (slots_.empty()) return npos32;
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = home(h);; i = (i + 1) & mask) {
            const std::uint64_t s = slots_[i];
            if (s == 0) return npos32;
            if (slot_hash(s) == h && name_equals(slot_index(s), name)) return slot_index(s);
        }
    }

    /// Inserts or replaces the entry for `name`. Returns its index.
    std::uint32_t upsert(std::string_view name, const node_id& owner, std::uint64_t version,
                         const worker_spec& spec, bool removed) {
        const std::uint64_t full = hash64(name);
        const std::uint32_t index = find(name, top_half(full));
        if (index != npos32) return update(index, owner, version, spec, removed);
        return insert(name, full, owner, version, spec, removed);
    }

    /// Inserts an entry for `name`, which `find` just did not find. `full_hash` is `hash64(name)`,
    /// whose top half `name_hash` is. Returns the entry's index.
    std::uint32_t insert(std::string_view name, std::uint64_t full_hash, const node_id& owner, std::uint64_t version,
                         const worker_spec& spec, bool removed) {
        grow_if_needed();
        name_entry e;
        e.hash = top_half(full_hash);
        e.hash_low = static_cast<std::uint32_t>(full_hash);
        e.name_size = static_cast<std::uint8_t>(name.size());
        if (e.name_inline()) {
            std::memcpy(e.name_bytes, name.data(), name.size());
        } else {
            e.set_name_offset(static_cast<std::uint32_t>(arena_.size()));
            reserve_gently(arena_, arena_.size() + name.size());
            arena_.append(name);
        }
        const auto index = static_cast<std::uint32_t>(entries_.size());
        entries_.push_back(e);
        place_slot(index);
        set(index, owner, version, spec, removed);
        return index;
    }

    /// Replaces the entry at `index`, found with `find`, without looking the name up again.
    std::uint32_t update(std::uint32_t index, const node_id& owner, std::uint64_t version, const worker_spec& spec,
                         bool removed) {
        digest_toggle(index);
        forget_live(index);
        release_owner(index);
        set(index, owner, version, spec, removed);
        return index;
    }

    /// Marks whether this node runs or moves the worker of entry `index` (see `name_entry::local`).
    void set_local(std::uint32_t index, bool local) { entries_[index].local = local; }
    /// Marks whether entry `index` came second-hand (see `name_entry::unconfirmed`). Every
    /// `insert` and `update` clears the mark.
    void set_unconfirmed(std::uint32_t index, bool unconfirmed) { entries_[index].unconfirmed = unconfirmed; }
private:
    void set(std::uint32_t index, const node_id& owner, std::uint64_t version, const worker_spec& spec,
             bool removed) {
        auto& e = entries_[index];
        e.version = version;
        e.removed = removed;
        e.unconfirmed = false;
        e.spec = intern_spec(spec);
        e.owner = intern_node(owner);
        ++nodes_[e.owner].count;
        digest_toggle(index);
        if (!removed) {
            ++live_;
            if (fingerprints_) change_fingerprints(index, true);
        }
    }

    // Takes entry `index` out of the live count and fingerprints, before its owner or removal
    // changes.
    void forget_live(std::uint32_t index) {
        if (entries_[index].removed) return;
        --live_;
        if (fingerprints_) change_fingerprints(index, false);
    }

    // Adds entry `index` to both fingerprints, or takes it out. The terms use the full name
    // hash, so two names that share the 32-bit `hash` differ. They use the owner's identity
    // hash, not its node table slot, which another node may take once it is freed.
    void change_fingerprints(std::uint32_t index, bool add) {
        const std::uint64_t with_owner = mix64(hash_combine(full_hash(index), owner_hash(index)));
        const std::uint64_t name_only = mix64(full_hash(index));
        if (add) {
            live_fingerprint_ += with_owner;
            live_names_fingerprint_ += name_only;
        } else {
            live_fingerprint_ -= with_owner;
            live_names_fingerprint_ -= name_only;
        }
    }

    // Grows capacity by a quarter at a time, as `mapped_array` does for the entries: memory per
    // name matters more than the cost of the extra reallocations, which stay amortized O(1).
    template <class Container>
    static void reserve_gently(Container& c, std::size_t needed) {
        if (needed <= c.capacity()) return;
        c.reserve(std::max(needed, c.capacity() + c.capacity() / 4 + 16));
    }

public:

    /// Returns whether `spec` can be stored: its kind fits `name_size_max` and it is known already
    /// or the spec table (at most 65535 kinds, never shrunk) has room.
    bool accepts_spec(const worker_spec& spec) const {
        if (spec.kind.size() > name_size_max) return false;
        return specs_.size() < specs_max || spec_index_.contains(spec_key(spec));
    }

    static constexpr std::size_t specs_max = 65535;

    /// Removes an entry entirely (tombstone expiry). Indices of other entries may change.
    void erase(std::uint32_t index) {
        digest_toggle(index);
        forget_live(index);
        release_owner(index);
        remove_slot(index);
        if (!entries_[index].name_inline()) garbage_ += entries_[index].name_size;
        const auto last = static_cast<std::uint32_t>(entries_.size() - 1);
        if (index != last) move_entry(last, index);
        entries_.pop_back();
        if (garbage_ > 4096 && garbage_ * 2 > arena_.size()) compact_arena();
    }

    /// Calls `f(index)` for every entry owned by `owner`, in storage order. `f` must not change
    /// the table. Costs a pass over the table when `owner` owns entries, and nothing otherwise:
    /// it runs once per failed or departed node, which has usually handed its names on already.
    template <class F>
    void for_each_owned_by(const node_id& owner, F&& f) const {
        const std::uint32_t slot = find_node(owner);
        if (slot == npos32) return;
        std::uint32_t left = nodes_[slot].count;
        for (std::uint32_t i = 0; i < entries_.size() && left > 0; ++i)
            if (entries_[i].owner == slot) {
                --left;
                f(i);
            }
    }

    /// Node identities that own at least one entry, in identity order.
    std::vector<node_id> owners() const {
        std::vector<node_id> out;
        for (const auto& n : nodes_)
            if (n.count > 0) out.push_back(n.id);
        std::sort(out.begin(), out.end());
        return out;
    }

    std::uint32_t bucket_of(std::uint32_t h) const {
        return bucket_shift_ >= 32 ? 0 : static_cast<std::uint32_t>(h >> bucket_shift_);
    }

    /// Calls `f(index)` for every entry in anti-entropy bucket `bucket`, in slot order. Costs the
    /// bucket's share of the slots, not a pass over the table, because an entry's home slot
    /// comes from the top bits of its hash, as its bucket does, so each bucket's entries sit in
    /// one run of slots. `f` must not change the table.
    ///
    /// The same property makes insertion in hash order slow while the table grows: the names
    /// crowd the first slots into one long probe run. Insert the result of such walks (an
    /// anti-entropy response) in a scattered order.
    template <class F>
    void for_each_in_bucket(std::uint32_t bucket, F&& f) const {
        if (slots_.empty() || bucket >= digests_.size()) return;
        const std::uint64_t span = bucket_shift_ >= 32 ? std::uint64_t{1} << 32 : std::uint64_t{1} << bucket_shift_;
        const auto low = static_cast<std::uint32_t>(std::uint64_t{bucket} * span);
        const auto high = static_cast<std::uint32_t>(std::uint64_t{bucket} * span + span - 1);
        const std::size_t mask = slots_.size() - 1;
        const std::size_t last = home(high);
        // Every entry lies at or after its home slot with no empty slot in between. So the run
        // from the lowest home to the first empty slot at or after the highest home contains all
        // of the bucket's entries, and entries of neighbouring buckets in it are skipped. A
        // bucket whose run covers the whole table stops after one round.
        bool reached_last = false;
        for (std::size_t i = home(low), steps = 0; steps < slots_.size(); i = (i + 1) & mask, ++steps) {
            // `f` usually reads the entry, which lies anywhere in memory: fetch a few ahead.
            if (const std::uint64_t ahead = slots_[(i + 8) & mask]; ahead != 0) prefetch(&entries_[slot_index(ahead)]);
            const std::uint64_t s = slots_[i];
            if (i == last) reached_last = true;
            if (s == 0) {
                if (reached_last) return;
                continue;
            }
            if (bucket_of(slot_hash(s)) == bucket) f(slot_index(s));
        }
    }

    /// Returns the value entry `index` adds (by exclusive or) to its bucket's digest. Two replicas hold the
    /// same entry exactly when these values are equal, short of a 64-bit hash collision.
    std::uint64_t entry_digest(std::uint32_t index) const {
        const auto& e = entries_[index];
        // The full 64-bit name hash goes in, so two names sharing the 32-bit `hash` do not cancel.
        const std::uint64_t name_hash64 = (std::uint64_t{e.hash} << 32) | e.hash_low;
        std::uint64_t d = hash_combine(name_hash64, nodes_[e.owner].name_hash);
        d = hash_combine(d, e.version * 2 + (e.removed ? 1 : 0));
        return hash_combine(d, spec_hashes_[e.spec]);
    }
    const std::vector<std::uint64_t>& digests() const { return digests_; }

    /// Bytes held by the table, the arena and the interned node and spec tables.
    std::size_t memory_bytes() const {
        std::size_t bytes = entries_.capacity() * sizeof(name_entry) +
                            slots_.capacity() * sizeof(std::uint64_t) + arena_.capacity() +
                            digests_.capacity() * sizeof(std::uint64_t);
        for (const auto& n : nodes_) bytes += sizeof(node_slot) + n.id.name.capacity() + 64;
        for (const auto& s : specs_) bytes += sizeof(worker_spec) + s.kind.capacity();
        return bytes;
    }

private:
    std::uint16_t intern_spec(const worker_spec& spec) {
        // Nearly every update carries the spec of the one before, so that is compared first.
        if (last_spec_ < specs_.size() && specs_[last_spec_] == spec) return last_spec_;
        last_spec_ = find_or_add_spec(spec);
        return last_spec_;
    }

    std::uint16_t find_or_add_spec(const worker_spec& spec) {
        const auto it = spec_index_.find(spec_key(spec));
        if (it != spec_index_.end()) return it->second;
        // The caller checked `accepts_spec`, so the table has room.
        const auto index = static_cast<std::uint16_t>(specs_.size());
        specs_.push_back(spec);
        spec_hashes_.push_back(hash64(spec.kind, static_cast<std::uint64_t>(spec.restart)));
        spec_index_.emplace(spec_key(spec), index);
        return index;
    }

    static std::pair<std::string, restart_policy> spec_key(const worker_spec& spec) { return {spec.kind, spec.restart}; }

    std::uint32_t intern_node(const node_id& id) {
        // Updates arrive in batches that mostly share one owner, so the last node is tried first.
        if (last_node_ != npos32 && nodes_[last_node_].id == id) return last_node_;
        const std::uint64_t h = hash64(id.name, id.incarnation);
        if (const auto* found = node_index_.find(h, [&](std::uint32_t s) { return nodes_[s].id == id; }))
            return last_node_ = *found;
        std::uint32_t slot;
        if (!free_nodes_.empty()) {
            slot = free_nodes_.back();
            free_nodes_.pop_back();
        } else {
            slot = static_cast<std::uint32_t>(nodes_.size());
            nodes_.emplace_back();
        }
        nodes_[slot] = node_slot{id, h, ++node_serials_, 0};
        node_index_.insert(h, slot);
        return last_node_ = slot;
    }

    std::uint32_t find_node(const node_id& id) const {
        const auto* found = node_index_.find(hash64(id.name, id.incarnation), [&](std::uint32_t s) { return nodes_[s].id == id; });
        return found ? *found : npos32;
    }

    void release_owner(std::uint32_t index) {
        auto& e = entries_[index];
        auto& n = nodes_[e.owner];
        --n.count;
        if (n.count == 0) {
            node_index_.erase(n.name_hash, [&](std::uint32_t s) { return s == e.owner; });
            free_nodes_.push_back(e.owner);
            if (last_node_ == e.owner) last_node_ = npos32;
        }
        e.owner = npos32;
    }

    void digest_toggle(std::uint32_t index) { digests_[bucket_of(entries_[index].hash)] ^= entry_digest(index); }

    bool name_equals(std::uint32_t index, std::string_view name) const {
        const auto& e = entries_[index];
        if (e.name_size != name.size()) return false;
        const char* stored = e.name_inline() ? e.name_bytes : arena_.data() + e.name_offset();
        return std::memcmp(stored, name.data(), name.size()) == 0;
    }

    // The home slot of a hash: its top bits, so slot order follows hash order (see
    // `for_each_in_bucket`).
    std::size_t home(std::uint32_t h) const { return static_cast<std::size_t>(std::uint64_t{h} >> slot_shift_); }

    // The entry of the first slot from the home of `h` that carries hash `h`, looking a few
    // slots far, or npos32.
    std::uint32_t first_match(std::uint32_t h) const {
        if (slots_.empty()) return npos32;
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = home(h);
        for (int k = 0; k < 4; ++k, i = (i + 1) & mask) {
            const std::uint64_t s = slots_[i];
            if (s == 0) return npos32;
            if (slot_hash(s) == h) return slot_index(s);
        }
        return npos32;
    }

    // A slot contains the name hash in its upper half and the entry index plus one in its lower
    // half; 0 is an empty slot.
    static std::uint64_t make_slot(std::uint32_t hash, std::uint32_t index) {
        return (std::uint64_t{hash} << 32) | (std::uint64_t{index} + 1);
    }
    static std::uint32_t slot_hash(std::uint64_t s) { return static_cast<std::uint32_t>(s >> 32); }
    static std::uint32_t slot_index(std::uint64_t s) { return static_cast<std::uint32_t>(s) - 1; }

    // Keeps the load at most 0.7, so linear probes stay short with 11 to 23 bytes of slots per name.
    void grow_if_needed() {
        if ((entries_.size() + 1) * 10 <= slots_.size() * 7) return;
        std::vector<std::uint64_t> old;
        old.swap(slots_);
        slots_.assign(old.empty() ? 16 : old.size() * 2, 0);
        slot_shift_ = 32;
        for (std::size_t n = slots_.size(); n > 1; n >>= 1) --slot_shift_;
        for (std::uint32_t i = 0; i < entries_.size(); ++i) place_slot(i);
    }

    void place_slot(std::uint32_t index) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = home(entries_[index].hash);
        while (slots_[i] != 0) i = (i + 1) & mask;
        slots_[i] = make_slot(entries_[index].hash, index);
    }

    std::size_t slot_of(std::uint32_t index) const {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = home(entries_[index].hash);
        while (slots_[i] != make_slot(entries_[index].hash, index)) i = (i + 1) & mask;
        return i;
    }

    // Backward-shift deletion keeps every probe chain unbroken without tombstone slots.
    void remove_slot(std::uint32_t index) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t hole = slot_of(index);
        slots_[hole] = 0;
        for (std::size_t i = (hole + 1) & mask; slots_[i] != 0; i = (i + 1) & mask) {
            const std::size_t start = home(slot_hash(slots_[i]));
            const bool movable = ((i - start) & mask) >= ((i - hole) & mask);
            if (movable) {
                slots_[hole] = slots_[i];
                slots_[i] = 0;
                hole = i;
            }
        }
    }

    // Moves entry `from` into position `to`, repairing its slot.
    void move_entry(std::uint32_t from, std::uint32_t to) {
        slots_[slot_of(from)] = make_slot(entries_[from].hash, to);
        entries_[to] = entries_[from];
    }

    void compact_arena() {
        std::string fresh;
        fresh.reserve(arena_.size() - garbage_);
        for (auto& e : entries_) {
            if (e.name_inline()) continue;
            const auto offset = static_cast<std::uint32_t>(fresh.size());
            fresh.append(arena_, e.name_offset(), e.name_size);
            e.set_name_offset(offset);
        }
        arena_.swap(fresh);
        garbage_ = 0;
    }

    mapped_array<name_entry> entries_;  // grows without copying once large (see mapped_array.hpp)
    std::vector<std::uint64_t> slots_;  // see `make_slot`
    std::string arena_;
    std::size_t garbage_ = 0;
    std::vector<node_slot> nodes_;
    std::vector<std::uint32_t> free_nodes_;
// Node table slots by `node_slot::name_hash`, searched for every stored update whose owner
    // differs from the previous one.
    flat_index<std::uint32_t> node_index_;
    std::vector<worker_spec> specs_;
    std::vector<std::uint64_t> spec_hashes_;  // hash of each spec, for digests
    std::map<std::pair<std::string, restart_policy>, std::uint16_t> spec_index_;
    std::uint64_t node_serials_ = 0;          // serials handed out so far
    std::size_t live_ = 0;                    // see `live`
    std::uint64_t live_fingerprint_ = 0;      // see `live_fingerprint`
    std::uint64_t live_names_fingerprint_ = 0;  // see `live_names_fingerprint`
    bool fingerprints_ = false;                 // see `keep_fingerprints`
    std::uint16_t last_spec_ = 0;             // the spec interned last, if `specs_` is not empty
    std::uint32_t last_node_ = npos32;        // the node table slot interned last
    std::vector<std::uint64_t> digests_;
    unsigned bucket_shift_ = 32;
    unsigned slot_shift_ = 32;  // 32 minus log2 of the slot count
};

}  // namespace muster::detail
