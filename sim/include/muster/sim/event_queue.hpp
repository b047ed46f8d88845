#pragma once
/// The simulator's pending-event set: a priority queue ordered by time, with push order breaking
/// ties so that a run is reproducible.

#include <muster/core/types.hpp>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace muster::sim {

/// One event taken out of an `event_queue`.
template <class Payload>
struct scheduled_event {
    time_point at;       ///< when the event fires
    std::uint64_t seq;   ///< push number, from 0; unique within one queue
    Payload payload;
};

namespace detail {

/// Allocator that aligns storage to a cache line, so each group of four 16-byte heap entries
/// shares one 64-byte line.
template <class T>
struct cache_line_allocator {
    using value_type = T;
    static constexpr std::align_val_t alignment{64};

    cache_line_allocator() noexcept = default;
    template <class U>
    cache_line_allocator(const cache_line_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), alignment));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }

    template <class U>
    friend bool operator==(const cache_line_allocator&, const cache_line_allocator<U>&) noexcept {
        return true;
    }
};

}  // namespace detail

/// A min-priority queue of events ordered by (time, push order): events with equal times pop in
/// the order they were pushed.
///
/// Layout: a 4-ary implicit heap of 16-byte entries (time and a packed order key) whose sibling
/// groups each fill one cache line. Payloads live apart in a slab reused through a free list, so
/// sifting moves 16 bytes per level and never touches a payload.
///
/// NOTE: needs GCC or Clang, because it uses `unsigned __int128` and `__builtin_prefetch`.
///
/// `SlotBits` splits the 64-bit order key between the payload slot (low bits) and a tie-break
/// counter (high bits). The default, 24, allows 2^24 - 1 pending events, and the counter wraps
/// after 2^40 pushes; at that point the queue renumbers its pending events in O(n log n) without
/// changing their order or the `seq` values that `pop` returns.
template <class Payload, unsigned SlotBits = 24>
class event_queue {
    static_assert(SlotBits >= 4 && SlotBits <= 56, "SlotBits must leave room for the tie counter");

public:
    using event = scheduled_event<Payload>;

    /// Maximum number of pending events. `push` throws `std::length_error` beyond it.
    static constexpr std::size_t pending_max =
        std::min<std::uint64_t>((std::uint64_t{1} << SlotBits) - 1,
                                std::uint64_t{1} << (63 - SlotBits));

    event_queue() { heap_.resize(root_index); }

    /// Adds an event at time `at`. Events with equal times pop in push order.
    /// Cost: O(log n). Throws `std::length_error` when `pending_max` events are pending.
    void push(time_point at, Payload payload) {
        if (size() >= pending_max) {
            throw std::length_error("muster::sim::event_queue: push failed because " +
                                    std::to_string(pending_max) +
                                    " events (pending_max) are pending; pop events first or "
                                    "use a larger SlotBits");
        }
        if (tie_counter_ == tie_counter_limit) renumber();

        // The heap grows before the payload is stored, so a failed allocation or a throwing move
        // leaves the queue as it was.
        heap_.push_back(entry{});
        std::uint32_t slot = 0;
        try {
            slot = store(std::move(payload));
        } catch (...) {
            heap_.pop_back();
            throw;
        }

        const entry added{order_time(at), (tie_counter_ << SlotBits) | slot};
        ++tie_counter_;
        sift_up(heap_.size() - 1, added);
    }

    /// Removes and returns the earliest event (the first pushed among equal times).
    /// Precondition: `!empty()`. Cost: O(log n).
    event pop() {
        assert(!empty());
        const entry top = heap_[root_index];
        const auto slot = static_cast<std::uint32_t>(top.key & slot_mask);

        // The payload moves out first: if its move constructor throws, the queue is unchanged.
        event result{from_order_time(top.time), slots_[slot].seq, std::move(*slots_[slot].payload)};
        slots_[slot].payload.reset();
        free_slots_.push_back(slot);  // never allocates: see `store`

        const entry last = heap_.back();
        heap_.pop_back();
        if (heap_.size() > root_index) sift_down(last);
        return result;
    }

    /// Returns the time of the earliest event. Precondition: `!empty()`.
    time_point top_time() const noexcept {
        assert(!empty());
        return from_order_time(heap_[root_index].time);
    }

    /// Returns the payload of the earliest event. Precondition: `!empty()`.
    const Payload& top_payload() const noexcept {
        assert(!empty());
        return *slots_[static_cast<std::uint32_t>(heap_[root_index].key & slot_mask)].payload;
    }

    /// Takes the `seq` the next push would get, as if an event were pushed and popped at once.
    /// Later pushes order after it, exactly as they would after that push. The simulator calls
    /// it for an event it processes without queueing.
    std::uint64_t skip() noexcept {
        if (tie_counter_ == tie_counter_limit) renumber();
        ++tie_counter_;
        return next_seq_++;
    }

    /// Returns true when no event is pending.
    bool empty() const noexcept { return heap_.size() == root_index; }

    /// Returns the number of pending events.
    std::size_t size() const noexcept { return heap_.size() - root_index; }

    /// Returns the number of events pushed since construction, which is the `seq` of the next.
    std::uint64_t pushed_count() const noexcept { return next_seq_; }

    /// Reserves storage for `n` pending events, so pushes up to that size do not allocate.
    void reserve(std::size_t n) {
        heap_.reserve(root_index + n);
        slots_.reserve(n);
        free_slots_.reserve(slots_.capacity());
    }

    /// Removes every pending event. The push count, and so the next `seq`, carries on.
    void clear() noexcept {
        heap_.resize(root_index);
        slots_.clear();
        free_slots_.clear();
    }

private:
    // An entry orders by `time` (the time point shifted to unsigned order) and then by `key`,
    // whose high bits hold a tie counter that grows with each push and whose low bits name the
    // payload slot. Comparing both words as one 128-bit integer avoids a branch.
    struct entry {
        std::uint64_t time;
        std::uint64_t key;
    };
    static_assert(sizeof(entry) == 16);

    struct slot_entry {
        std::uint64_t seq = 0;
        std::optional<Payload> payload;
    };

    static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << SlotBits) - 1;
    static constexpr std::uint64_t tie_counter_limit = std::uint64_t{1} << (64 - SlotBits);

    // The root sits at index 3 so that the children of node i, at 4i - 8 .. 4i - 5, always start
    // at a multiple of four, and therefore at a cache-line boundary. Indices 0 to 2 are unused.
    static constexpr std::size_t root_index = 3;
    static constexpr std::size_t first_child(std::size_t i) noexcept { return 4 * i - 8; }
    static constexpr std::size_t parent(std::size_t i) noexcept { return i / 4 + 2; }

    static bool before(const entry& a, const entry& b) noexcept {
        const auto wide_a = (static_cast<unsigned __int128>(a.time) << 64) | a.key;
        const auto wide_b = (static_cast<unsigned __int128>(b.time) << 64) | b.key;
        return wide_a < wide_b;
    }

    // Flipping the sign bit maps signed nanoseconds onto unsigned integers in the same order.
    static constexpr std::uint64_t sign_bit = std::uint64_t{1} << 63;
    static std::uint64_t order_time(time_point at) noexcept {
        return static_cast<std::uint64_t>(at.time_since_epoch().count()) ^ sign_bit;
    }
    static time_point from_order_time(std::uint64_t time) noexcept {
        return time_point{duration{static_cast<duration::rep>(time ^ sign_bit)}};
    }

    // Moves `payload` into a free slot and returns the slot. The free list's capacity is kept at
    // least the slab's size, so `pop` can return a slot without allocating. On an exception the
    // payload is not stored and every slot stays accounted for.
    std::uint32_t store(Payload&& payload) {
        if (free_slots_.empty()) {
            slots_.emplace_back();
            try {
                free_slots_.reserve(slots_.capacity());
            } catch (...) {
                slots_.pop_back();
                throw;
            }
            free_slots_.push_back(static_cast<std::uint32_t>(slots_.size() - 1));
        }

        const std::uint32_t slot = free_slots_.back();
        slots_[slot].payload.emplace(std::move(payload));
        free_slots_.pop_back();
        slots_[slot].seq = next_seq_++;
        return slot;
    }

    void sift_up(std::size_t hole, entry moving) noexcept {
        while (hole > root_index) {
            const std::size_t up = parent(hole);
            if (!before(moving, heap_[up])) break;
            heap_[hole] = heap_[up];
            hole = up;
        }
        heap_[hole] = moving;
    }

    // Returns the index of the earliest of the four entries starting at `first`. The two-round
    // comparison compiles to conditional moves instead of unpredictable branches.
    std::size_t earliest_of_four(std::size_t first) const noexcept {
        const std::size_t left = first + (before(heap_[first + 1], heap_[first]) ? 1 : 0);
        const std::size_t right = first + 2 + (before(heap_[first + 3], heap_[first + 2]) ? 1 : 0);
        return before(heap_[right], heap_[left]) ? right : left;
    }

    // Places `moving` starting from an empty root. The hole first descends along the earliest
    // children to a leaf without comparing against `moving`, then `moving` sifts up from there.
    // `moving` came from the last leaf, so it usually belongs near the bottom and the climb is
    // short, which saves about one comparison per level over a classic sift-down.
    void sift_down(entry moving) noexcept {
        const std::size_t count = heap_.size();
        std::size_t hole = root_index;
        for (;;) {
            const std::size_t first = first_child(hole);
            if (first + 4 > count) break;

            // The four children's own sibling groups fill four cache lines. Loading them while
            // the comparison runs hides most memory latency in large queues.
            const std::size_t grandchildren = first_child(first);
            if (grandchildren + 16 <= count) {
                for (std::size_t line = 0; line < 4; ++line) {
                    __builtin_prefetch(heap_.data() + grandchildren + 4 * line);
                }
            }
            const std::size_t best = earliest_of_four(first);
            heap_[hole] = heap_[best];
            hole = best;
        }

        // The last sibling group may be partly filled.
        const std::size_t first = first_child(hole);
        if (first < count) {
            std::size_t best = first;
            for (std::size_t child = first + 1; child < count; ++child) {
                if (before(heap_[child], heap_[best])) best = child;
            }
            heap_[hole] = heap_[best];
            hole = best;
        }
        sift_up(hole, moving);
    }

    // Reassigns tie counters 0 .. n-1 in the current (time, key) order. A sorted array is a valid
    // heap, and the relative order of all pending events is unchanged.
    void renumber() noexcept {
        std::sort(heap_.begin() + root_index, heap_.end(), before);
        std::uint64_t counter = 0;
        for (std::size_t i = root_index; i < heap_.size(); ++i) {
            heap_[i].key = (counter << SlotBits) | (heap_[i].key & slot_mask);
            ++counter;
        }
        tie_counter_ = counter;
    }

    std::vector<entry, detail::cache_line_allocator<entry>> heap_;
    std::vector<slot_entry> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::uint64_t tie_counter_ = 0;
    std::uint64_t next_seq_ = 0;
};

}  // namespace muster::sim
