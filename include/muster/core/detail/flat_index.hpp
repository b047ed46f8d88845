#pragma once
// A small open-addressing index from a 64-bit key hash to a value, for lookups that run once per
// message or per replicated record (a peer by name, an interned node identity). The caller keeps
// the keys elsewhere and passes an equality test, so the index stores only the hash and the
// value, in one contiguous array: a lookup usually reads one cache line.
//
// The index is searched, never iterated, so its order never reaches any output.

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace muster::detail {

template <class V>
class flat_index {
public:
    std::size_t size() const { return count_; }

    /// Returns the value stored under `hash` for which `equal(value)` holds, or nullptr.
    template <class Equal>
    const V* find(std::uint64_t hash, Equal&& equal) const {
        if (slots_.empty()) return nullptr;
        hash = stored(hash);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
            const auto& s = slots_[i];
            if (s.first == 0) return nullptr;
            if (s.first == hash && equal(s.second)) return &s.second;
        }
    }

    /// Adds `value` under `hash`. The caller ensures no equal value is stored yet.
    void insert(std::uint64_t hash, V value) {
        if ((count_ + 1) * 2 > slots_.size()) grow();
        place(stored(hash), std::move(value));
        ++count_;
    }

    /// Removes the value under `hash` for which `equal(value)` holds, if any.
    template <class Equal>
    void erase(std::uint64_t hash, Equal&& equal) {
        if (slots_.empty()) return;
        hash = stored(hash);
        const std::size_t mask = slots_.size() - 1;
        std::size_t hole = hash & mask;
        for (;; hole = (hole + 1) & mask) {
            const auto& s = slots_[hole];
            if (s.first == 0) return;
            if (s.first == hash && equal(s.second)) break;
        }
        slots_[hole] = {};
        --count_;
        // Backward-shift deletion: each later entry of the run that may move into the hole does,
        // so every probe run stays unbroken without tombstones.
        for (std::size_t i = (hole + 1) & mask; slots_[i].first != 0; i = (i + 1) & mask) {
            const std::size_t home = slots_[i].first & mask;
            if (((i - home) & mask) >= ((i - hole) & mask)) {
                slots_[hole] = std::move(slots_[i]);
                slots_[i] = {};
                hole = i;
            }
        }
    }

    void clear() {
        slots_.clear();
        count_ = 0;
    }

private:
    // 0 marks an empty slot, so a hash of 0 is stored as 1.
    static std::uint64_t stored(std::uint64_t hash) { return hash == 0 ? 1 : hash; }

    void place(std::uint64_t hash, V value) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = hash & mask;
        while (slots_[i].first != 0) i = (i + 1) & mask;
        slots_[i] = {hash, std::move(value)};
    }

    void grow() {
        auto old = std::exchange(slots_, std::vector<std::pair<std::uint64_t, V>>(slots_.empty() ? 8 : slots_.size() * 2));
        for (auto& s : old)
            if (s.first != 0) place(s.first, std::move(s.second));
    }

    std::vector<std::pair<std::uint64_t, V>> slots_;
    std::size_t count_ = 0;
};

}  // namespace muster::detail
