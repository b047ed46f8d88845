#pragma once
/// A fixed set of threads that run numbered tasks together with the calling thread. The
/// simulator uses it to process the inputs of different nodes at once; the caller decides what
/// a task is and must make tasks independent of each other.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace muster::sim {

class worker_pool {
public:
    /// Starts `threads - 1` threads; the thread that calls `run` is the last one. With
    /// `threads` ≤ 1, `run` does every task itself.
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

    /// Hands out the tasks `task(i)`, i in [0, count), to the other threads, which take them in
    /// index order. The caller takes its share with `help` and must call `finish` before it
    /// starts another set. `task` must outlive `finish`.
    template <class Task>
    void start(std::size_t count, Task& task) {
        call_ = [](void* context, std::size_t i) { (*static_cast<Task*>(context))(i); };
        context_ = &task;
        count_ = count;
        next_.store(0, std::memory_order_relaxed);
        started_ = !threads_.empty() && count > 1;
        if (!started_) return;
        busy_.store(static_cast<unsigned>(threads_.size()), std::memory_order_relaxed);
        // Sequentially consistent on both sides, with `serve`: either this load sees a thread
        // that is about to sleep, or that thread's wait sees the new generation.
        generation_.fetch_add(1, std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_seq_cst) > 0) wake();
    }

    /// Runs one task that no thread has taken yet. Returns false when none was left.
    bool help() { return take_one(); }

    /// Runs the tasks no thread has taken, waits until the others have finished theirs, and
    /// rethrows the first exception a task threw.
    void finish() {
        while (take_one()) {
        }
        if (started_) {
            while (busy_.load(std::memory_order_acquire) != 0) pause();
            started_ = false;
        }
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    /// One step of a wait for another thread: a processor hint in a spin loop, and a yield
    /// to the scheduler every 256 steps, for when that thread waits for a processor.
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

    bool take_one() {
        if (next_.load(std::memory_order_relaxed) >= count_) return false;
        const auto i = next_.fetch_add(1, std::memory_order_relaxed);
        if (i >= count_) return false;
        try {
            call_(context_, i);
        } catch (...) {
            const std::lock_guard lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
        return true;
    }

    void take_tasks() {
        while (take_one()) {
        }
    }

    // A thread spins for a while before it sleeps, because the simulator hands out work every
    // few microseconds and a sleeping thread takes a system call to wake.
    void serve() {
        // Zero, not the current value: `run` may already have started a generation before
        // this thread got here.
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
    std::atomic<std::size_t> next_{0};
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
