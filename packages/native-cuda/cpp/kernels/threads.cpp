// The CPU kernels' thread pool: parallel(n, fn) runs fn(0..n-1) on n threads (the caller is thread 0)
// and returns when all are done. Persistent workers spin briefly, then sleep on a condition variable:
// on a quiet machine a region starts in microseconds, and on a shared, oversubscribed one idle workers
// give their CPU back instead of spinning through their time slice (OpenMP's default active wait made a
// 2-thread SAE+projector step 3x slower under load). One region at a time (a mutex serialises callers,
// e.g. concurrent async calls from Node workers).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "internal.h"

namespace dep_k {

namespace {

class Pool {
  public:
    ~Pool() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
            ++gen_;
        }
        cv_.notify_all();
        for (auto & t : workers_) t.join();
    }

    void run(int n, const std::function<void(int)> & fn) {
        std::lock_guard<std::mutex> region(region_mu_);
        while (static_cast<int>(workers_.size()) < n - 1) {
            const int id = static_cast<int>(workers_.size()) + 1;
            workers_.emplace_back([this, id] { loop(id); });
        }
        {
            std::lock_guard<std::mutex> lk(mu_);
            fn_ = &fn;
            active_ = n;
            pending_.store(n - 1, std::memory_order_relaxed);
            gen_atomic_.store(gen_ + 1, std::memory_order_release);
            ++gen_;
        }
        cv_.notify_all();
        fn(0);
        // wait for the workers: spin a little, then sleep
        for (int i = 0; i < 20000 && pending_.load(std::memory_order_acquire) > 0; ++i) spin_pause();
        if (pending_.load(std::memory_order_acquire) > 0) {
            std::unique_lock<std::mutex> lk(mu_);
            done_cv_.wait(lk, [this] { return pending_.load(std::memory_order_acquire) == 0; });
        }
    }

  private:
    static void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }

    void loop(int id) {
        uint64_t seen = 0;
        for (;;) {
            // spin briefly for the next region, then sleep
            for (int i = 0; i < 20000 && gen_atomic_.load(std::memory_order_acquire) == seen; ++i) spin_pause();
            const std::function<void(int)> * fn;
            int active;
            {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [&] { return stop_ || gen_ != seen; });
                if (stop_) return;
                seen = gen_;
                fn = fn_;
                active = active_;
            }
            if (id < active) {
                (*fn)(id);
                if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                    std::lock_guard<std::mutex> lk(mu_);
                    done_cv_.notify_one();
                }
            }
        }
    }

    std::mutex region_mu_, mu_;
    std::condition_variable cv_, done_cv_;
    std::vector<std::thread> workers_;
    const std::function<void(int)> * fn_ = nullptr;
    int active_ = 0;
    uint64_t gen_ = 0;
    std::atomic<uint64_t> gen_atomic_{0};
    std::atomic<int> pending_{0};
    bool stop_ = false;
};

Pool & pool() {
    static Pool p;
    return p;
}

}  // namespace

void parallel(int n, const std::function<void(int)> & fn) {
    if (n <= 1) {
        fn(0);
        return;
    }
    pool().run(n, fn);
}

void parallel_for(int n_threads, int64_t n, const std::function<void(int64_t, int64_t)> & body) {
    if (n <= 0) return;
    const int nt = static_cast<int>(std::min<int64_t>(std::max(1, n_threads), n));
    parallel(nt, [&](int t) {
        const int64_t a = n * t / nt, b = n * (t + 1) / nt;
        if (a < b) body(a, b);
    });
}

}  // namespace dep_k
