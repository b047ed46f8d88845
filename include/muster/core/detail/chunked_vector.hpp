#pragma once
// A sequence that grows in fixed-size chunks, for tables that reach millions of elements. An
// element never moves once stored, so growth copies nothing and each page of memory is written
// once. A vector that doubles, or grows by a quarter, copies everything it holds at each step,
// and the new block is fresh memory whose every page faults in again. At a hundred thousand
// names that copying was the largest single cost of a registration burst on every node.
//
// The first chunk grows like a vector, so a small table stays small. Every later chunk reserves
// room for `chunk_size` elements at once, and its pages are touched only as elements arrive.

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace muster::detail {

template <class T, unsigned ChunkBits = 12>
class chunked_vector {
public:
    static constexpr std::size_t chunk_size = std::size_t{1} << ChunkBits;

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    T& operator[](std::size_t i) { return chunks_[i >> ChunkBits][i & (chunk_size - 1)]; }
    const T& operator[](std::size_t i) const { return chunks_[i >> ChunkBits][i & (chunk_size - 1)]; }
    T& back() { return (*this)[size_ - 1]; }

    void push_back(const T& value) {
        if ((size_ >> ChunkBits) == chunks_.size()) {
            chunks_.emplace_back();
            if (chunks_.size() > 1) chunks_.back().reserve(chunk_size);
        }
        auto& chunk = chunks_.back();
        // The first chunk grows by a quarter at a time, as long as it is the only one.
        if (chunks_.size() == 1 && chunk.size() == chunk.capacity())
            chunk.reserve(std::min(chunk_size, chunk.capacity() + chunk.capacity() / 4 + 16));
        chunk.push_back(value);
        ++size_;
    }

    void pop_back() {
        chunks_.back().pop_back();
        --size_;
        // An emptied chunk other than the first goes back to the allocator.
        if (chunks_.size() > 1 && chunks_.back().empty()) chunks_.pop_back();
    }

    /// Calls `f(element)` for every element in index order.
    template <class F>
    void for_each(F&& f) {
        for (auto& chunk : chunks_)
            for (auto& element : chunk) f(element);
    }

    /// Bytes reserved for elements and for the chunk list.
    std::size_t capacity_bytes() const {
        std::size_t bytes = chunks_.capacity() * sizeof(std::vector<T>);
        for (const auto& chunk : chunks_) bytes += chunk.capacity() * sizeof(T);
        return bytes;
    }

private:
    std::vector<std::vector<T>> chunks_;
    std::size_t size_ = 0;
};

}  // namespace muster::detail
