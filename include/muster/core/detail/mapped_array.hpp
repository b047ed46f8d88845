#pragma once
// A growable array of trivially copyable elements whose growth copies nothing on Linux once it
// is large. A `std::vector` copies every element into a new block at each growth. That block is
// fresh memory, so every page of it faults in again. A replica table that grows by a quarter at
// a time writes and faults in about five times its final size that way. Here a large
// array lives in its own memory mapping, and growth extends or moves that mapping with
// `mremap`, which moves page table entries instead of bytes. The elements stay in one
// contiguous block, so lookups cost what they cost in a vector. Blocks in separate fixed-size
// chunks avoid the copies too, but made scattered updates of 100 replicas about 30 % slower.
//
// Small arrays, and every array on other systems, use `std::malloc` and `std::realloc`.

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace muster::detail {

template <class T>
class mapped_array {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
    // No page is smaller than 4 KiB, so rounding a mapping up to whole pages leaves less than
    // one page unused, which `mapping_bytes` relies on.
    static_assert(sizeof(T) <= 4096);

public:
    mapped_array() = default;
    mapped_array(const mapped_array& other) { assign_copy(other); }
    mapped_array& operator=(const mapped_array& other) {
        if (this != &other) {
            release();
            assign_copy(other);
        }
        return *this;
    }
    mapped_array(mapped_array&& other) noexcept { take(other); }
    mapped_array& operator=(mapped_array&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }
    ~mapped_array() { release(); }

    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }
    T& operator[](std::size_t i) { return data_[i]; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    T& back() { return data_[size_ - 1]; }
    T* begin() { return data_; }
    T* end() { return data_ + size_; }

    /// Appends `value`. A full array grows by a quarter: memory per element matters more here
    /// than the growth steps, which stay amortized O(1).
    void push_back(const T& value) {
        if (size_ == capacity_) reserve(capacity_ + capacity_ / 4 + 16);
        ::new (static_cast<void*>(data_ + size_)) T(value);
        ++size_;
    }
    void pop_back() { --size_; }

    /// Makes room for at least `count` elements. Elements keep their values, not their addresses.
    void reserve(std::size_t count) {
        if (count <= capacity_) return;
        const std::size_t bytes = count * sizeof(T);
#if defined(__linux__)
        if (bytes >= mapping_bytes_min) {
            const std::size_t page = page_bytes();
            const std::size_t rounded = (bytes + page - 1) / page * page;
            void* block;
            if (mapped_) {
                block = ::mremap(data_, mapping_bytes(), rounded, MREMAP_MAYMOVE);
            } else {
                block = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (block != MAP_FAILED && size_ > 0) std::memcpy(block, data_, size_ * sizeof(T));
                if (block != MAP_FAILED) std::free(data_);
            }
            if (block == MAP_FAILED) throw std::bad_alloc();
            data_ = static_cast<T*>(block);
            mapped_ = true;
            capacity_ = rounded / sizeof(T);
            return;
        }
#endif
        void* block = std::realloc(data_, bytes);
        if (block == nullptr) throw std::bad_alloc();
        data_ = static_cast<T*>(block);
        capacity_ = count;
    }

private:
    // An estimate, not measured: below this size the copies are cheap, and a mapping's page
    // rounding would waste a larger share of the block.
    static constexpr std::size_t mapping_bytes_min = std::size_t{256} * 1024;

#if defined(__linux__)
    static std::size_t page_bytes() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

    // The length of the mapping: the capacity's bytes rounded up to whole pages, as `reserve`
    // mapped them (the rounding left less than one element, so less than a page, unused).
    std::size_t mapping_bytes() const {
        const std::size_t page = page_bytes();
        return (capacity_ * sizeof(T) + page - 1) / page * page;
    }
#endif

    void release() {
#if defined(__linux__)
        if (mapped_) {
            ::munmap(data_, mapping_bytes());
            reset();
            return;
        }
#endif
        std::free(data_);
        reset();
    }

    void reset() {
        data_ = nullptr;
        size_ = capacity_ = 0;
        mapped_ = false;
    }

    void take(mapped_array& other) {
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        capacity_ = std::exchange(other.capacity_, 0);
        mapped_ = std::exchange(other.mapped_, false);
    }

    void assign_copy(const mapped_array& other) {
        reserve(other.size_);
        if (other.size_ > 0) std::memcpy(static_cast<void*>(data_), other.data_, other.size_ * sizeof(T));
        size_ = other.size_;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    bool mapped_ = false;
};

}  // namespace muster::detail
