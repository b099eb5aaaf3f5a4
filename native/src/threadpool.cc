#include "threadpool.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace pixelcnn {
namespace {

struct Buffer {
  float* ptr = nullptr;
  size_t size = 0;  // floats
  void ensure(size_t floats) {
    if (floats <= size) return;
    size_t n = floats + floats / 4 + 64;
    void* p = nullptr;
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0) throw std::bad_alloc();
    std::free(ptr);
    ptr = static_cast<float*>(p);
    size = n;
  }
};

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class Pool {
 public:
  explicit Pool(int n) { start(n); }
  ~Pool() { stop(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    if (n == nthreads_) return;
    stop();
    start(n);
  }

  void run(long n, TaskFn fn, void* ctx) {
    if (n <= 0) return;
    if (nthreads_ == 1 || n == 1) {
      for (long i = 0; i < n; ++i) fn(ctx, i, 0);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(nthreads_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(m_);
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work(0);
    // Wait for the workers: spin briefly, then sleep.
    for (int spin = 0; spin < 20000; ++spin) {
      if (pending_.load(std::memory_order_acquire) == 0) return;
      cpuRelax();
    }
    std::unique_lock<std::mutex> lk(m_);
    doneCv_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }

 private:
  void start(int n) {
    nthreads_ = n < 1 ? 1 : n;
    stopping_ = false;
    // The generation a worker starts from is read here, not in the new thread: a thread that
    // starts late must still see the next job (or stop) as a change.
    const uint64_t g0 = gen_.load(std::memory_order_acquire);
    for (int t = 1; t < nthreads_; ++t) workers_.emplace_back([this, t, g0] { loop(t, g0); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& th : workers_) th.join();
    workers_.clear();
  }

  void work(int tid) {
    for (;;) {
      long i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_) break;
      fn_(ctx_, i, tid);
    }
  }

  void loop(int tid, uint64_t seen) {
    for (;;) {
      bool woke = false;
      for (int spin = 0; spin < 20000; ++spin) {
        if (gen_.load(std::memory_order_acquire) != seen) { woke = true; break; }
        cpuRelax();
      }
      if (!woke) {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return gen_.load(std::memory_order_acquire) != seen; });
      }
      seen = gen_.load(std::memory_order_acquire);
      {
        std::lock_guard<std::mutex> lk(m_);
        if (stopping_) return;
      }
      work(tid);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        doneCv_.notify_one();
      }
    }
  }

  int nthreads_ = 1;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, doneCv_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<long> next_{0};
  std::atomic<int> pending_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  long n_ = 0;
};

int defaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Pool& pool() {
  static Pool* p = new Pool(defaultThreads());  // never destroyed: no join at process exit
  return *p;
}

std::vector<Buffer> threadBuffers[kThreadSlots];
Buffer sharedBuffers[kSharedSlots];

}  // namespace

void parallelFor(long n, TaskFn fn, void* ctx) { pool().run(n, fn, ctx); }

int numThreads() { return pool().size(); }

void setNumThreads(int n) {
  pool().resize(n);
}

namespace {
std::mutex& kernelMutex() {
  static std::mutex m;
  return m;
}
}  // namespace

void lockKernels() { kernelMutex().lock(); }
void unlockKernels() { kernelMutex().unlock(); }

void ensureThreadScratch(int slot, size_t floats) {
  auto& v = threadBuffers[slot];
  if (v.size() < static_cast<size_t>(numThreads())) v.resize(numThreads());
  for (auto& b : v) b.ensure(floats);
}

float* threadScratch(int slot, int tid) { return threadBuffers[slot][tid].ptr; }

float* sharedScratch(int slot, size_t floats) {
  sharedBuffers[slot].ensure(floats);
  return sharedBuffers[slot].ptr;
}

}  // namespace pixelcnn
