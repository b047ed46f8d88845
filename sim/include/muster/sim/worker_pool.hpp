#pragma once
/// A fixed set of threads that run numbered tasks together with the calling thread. The
/// simulator runs the inputs of different nodes on it at once. Tasks must not depend on each
/// other.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace muster::sim {

class worker_pool {
public:
    /// Starts `threads - 1` threads; the thread that calls `start` is the last one. With
    /// `threads` ≤ 1, that thread runs every task itself.
    explicit worker_pool(unsigned threads) {
        // With more threads than processors a spinning thread takes the processor from one
        // that has work, so then threads sleep almost at once.
        const unsigned processors = std::thread::hardware_concurrency();
        spin_limit_ = processors != 0 && threads > processors ? 64 : 20000;
        for (unsigned i = 1; i < threads; ++i) threads_.emplace_back([this] { serve(); });
    }

    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    ~worker_pool() {
        stop_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_seq_cst);
        wake();
        for (auto& t : threads_) t.join();
    }

    /// Threads that run tasks, the caller included.
    unsigned size() const noexcept { return static_cast<unsigned>(threads_.size()) + 1; }

    /// Hands out the tasks `task(i)`, i in [0, count), to the other threads, which take them
    /// from the last one down. The caller takes its share from the first one up, with `help`,
    /// so it runs the tasks it needs first itself, and must call `finish` before it starts
    /// another set. `task` must outlive `finish`.
    template <class Task>
    void start(std::size_t count, Task& task) {
        call_ = [](void* context, std::size_t i) { (*static_cast<Task*>(context))(i); };
        context_ = &task;
        count_ = count;
        if (claimed_size_ < count) {
            claimed_size_ = std::max<std::size_t>(count, 2 * claimed_size_);
            claimed_ = std::make_unique<std::atomic<bool>[]>(claimed_size_);
        }
        for (std::size_t i = 0; i < count; ++i) claimed_[i].store(false, std::memory_order_relaxed);
        front_ = 0;
        back_.store(static_cast<std::int64_t>(count), std::memory_order_relaxed);
        started_ = !threads_.empty() && count > 1;
        if (!started_) return;
        busy_.store(static_cast<unsigned>(threads_.size()), std::memory_order_relaxed);
        // Sequentially consistent on both sides, with `serve`: either this load finds a thread
        // that is about to sleep, or that thread reads the new generation before it sleeps.
        generation_.fetch_add(1, std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_seq_cst) > 0) wake();
    }

    /// Runs the first task that no thread has taken yet. Returns false when none was left.
    bool help() {
        // The other threads take tasks from the back, so once one is theirs, all later ones
        // are: each of those was handed to one of them, which runs it unless this thread
        // claimed it first.
        if (front_ >= count_) return false;
        const auto i = front_++;
        if (claimed_[i].exchange(true, std::memory_order_acq_rel)) {
            front_ = count_;
            return false;
        }
        call(i);
        return true;
    }

    /// Runs the tasks no thread has taken, waits until the others have finished theirs, and
    /// rethrows the first exception a task threw.
    void finish() {
        while (help()) {
        }
        if (started_) {
            while (busy_.load(std::memory_order_acquire) != 0) pause();
            started_ = false;
        }
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    /// Takes one step of a wait for another thread: a processor hint in a spin loop, and a
    /// yield to the scheduler every 256 steps, for when that thread waits for a processor.
    static void pause() noexcept {
        thread_local unsigned steps = 0;
        if ((++steps & 255) == 0) std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }

private:
    // Taking the mutex orders this wake after a sleeper's last look at the generation.
    void wake() {
        { const std::lock_guard lock(sleep_mutex_); }
        awake_.notify_all();
    }

    void call(std::size_t i) {
        try {
            call_(context_, i);
        } catch (...) {
            const std::lock_guard lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
    }

    // A thread other than the caller takes tasks from the back until it meets one the caller
    // has claimed, below which the caller has claimed them all.
    void take_tasks() {
        for (;;) {
            const auto i = back_.fetch_sub(1, std::memory_order_relaxed) - 1;
            if (i < 0) return;
            if (claimed_[static_cast<std::size_t>(i)].exchange(true, std::memory_order_acq_rel)) return;
            call(static_cast<std::size_t>(i));
        }
    }

    // A thread spins for a while before it sleeps, because the simulator hands out work every
    // few microseconds and a sleeping thread takes a system call to wake.
    void serve() {
        // Zero, not the current value: `start` may already have begun a generation before this
        // thread got here.
        std::uint64_t seen = 0;
        for (;;) {
            std::uint64_t now = seen;
            for (int spin = 0; spin < spin_limit_; ++spin) {
                now = generation_.load(std::memory_order_acquire);
                if (now != seen) break;
                pause();
            }
            if (now == seen) {
                sleeping_.fetch_add(1, std::memory_order_seq_cst);
                std::unique_lock lock(sleep_mutex_);
                while ((now = generation_.load(std::memory_order_seq_cst)) == seen) awake_.wait(lock);
                sleeping_.fetch_sub(1, std::memory_order_relaxed);
            }
            seen = now;
            if (stop_.load(std::memory_order_relaxed)) return;
            take_tasks();
            busy_.fetch_sub(1, std::memory_order_release);
        }
    }

    int spin_limit_ = 0;

    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<unsigned> sleeping_{0};
    std::unique_ptr<std::atomic<bool>[]> claimed_;  // per task: a thread has taken it
    std::size_t claimed_size_ = 0;
    std::size_t front_ = 0;                 // the caller's next task
    std::atomic<std::int64_t> back_{0};     // one above the other threads' next task
    std::atomic<unsigned> busy_{0};
    std::atomic<bool> stop_{false};
    void (*call_)(void*, std::size_t) = nullptr;
    void* context_ = nullptr;
    std::size_t count_ = 0;
    bool started_ = false;  // the other threads have a set of tasks
    std::mutex sleep_mutex_;
    std::condition_variable awake_;
    std::mutex error_mutex_;
    std::exception_ptr error_;
};

}  // namespace muster::sim
