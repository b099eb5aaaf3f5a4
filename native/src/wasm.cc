// The WebAssembly module's entry points: scripts/build-wasm.mjs compiles this file with
// binding.gyp's kernel_sources for wasm32 with 128-bit SIMD (namespace pixelcnn::wasm, simd.h),
// and src/backend/wasm.ts loads it as the 'wasm' backend.
//
// Every kernel of PIXELCNN_KERNELS is exported as k_<name>, taking the arguments of its addon
// binding (addon.cc, NativeAddon in src/backend/native.ts) in the same order, with each typed
// array passed as (pointer into this module's memory, element count), (0, 0) for null, booleans
// as 0 / 1. kOutputs says which of the JS arguments each kernel writes: the loader copies every
// array in and only those back out. Arguments are not checked here (ops check shapes, as for
// the js backend); a kernel cannot reach outside this module's memory.
//
// Threads: every thread runs an instance of this module over one shared memory (imported as
// env.memory; src/backend/wasm.ts makes the instances and the worker threads). The calling
// thread's instance runs the kernels; each extra thread's instance sits in pixelcnn_thread, on a
// stack of its own, and joins parallelFor's jobs. Instances of one module share its function
// table, so a job's TaskFn and ctx (a pointer into the shared memory) mean the same to all of
// them. Only the calling thread calls libc (malloc: dlmalloc here is not thread-safe): the
// kernels allocate their scratch before parallelFor (threadpool.h), never inside a task.
// Kernels give the same results for any thread count (threadpool.cc), so 1 to n threads give the
// addon's generic build's results up to instruction choice.
#include <stdlib.h>

#include "kernels.h"
#include "threadpool.h"

namespace pixelcnn {

namespace {

// Grown, never shrunk; 64-byte aligned like the addon's (threadpool.cc).
struct Buffer {
  float* ptr = nullptr;
  size_t size = 0;  // floats
  void ensure(size_t floats) {
    if (floats <= size) return;
    const size_t n = floats + floats / 4 + 64;
    void* p = nullptr;
    // Out of memory (4 GiB of wasm32): a trap, which the loader reports as a failed kernel.
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0) __builtin_trap();
    free(ptr);
    ptr = static_cast<float*>(p);
    size = n;
  }
};

constexpr int kMaxThreads = 1024;  // as the addon's setThreads
Buffer threadBuffers[kThreadSlots][kMaxThreads], sharedBuffers[kSharedSlots];

// The one job in flight, in shared memory; every field is read and written with sequentially
// consistent atomics, which the protocol below relies on.
struct Job {
  int gen;       // bumped to publish a job: the word idle threads wait on
  int closed;    // 1 once the caller has no task left to hand out
  int active;    // threads inside the job: the caller waits for 0
  int sleepers;  // threads waiting on gen (the caller notifies only if some are)
  int failed;    // a task trapped on another thread
  int threads;   // numThreads(): threads with tid >= threads stay out
  int started;   // threads in pixelcnn_thread (for the loader's diagnostics)
  TaskFn fn;
  void* ctx;
  long n;
  long next;  // the next task index to claim
};
alignas(64) Job job = {0, 1, 0, 0, 0, 1, 0, nullptr, nullptr, 0, 0};

template <class T> T load(T& v) { return __atomic_load_n(&v, __ATOMIC_SEQ_CST); }
template <class T> void store(T& v, T x) { __atomic_store_n(&v, x, __ATOMIC_SEQ_CST); }
template <class T> T fetchAdd(T& v, T x) { return __atomic_fetch_add(&v, x, __ATOMIC_SEQ_CST); }

// Spins before sleeping: kernels come in quick succession and a wake-up costs more than a job.
constexpr int kSpin = 20000;

void work(int tid) {
  const TaskFn fn = load(job.fn);
  void* const ctx = load(job.ctx);
  const long n = load(job.n);
  for (;;) {
    const long i = fetchAdd(job.next, 1L);
    if (i >= n) break;
    fn(ctx, i, tid);
  }
}

void leave() {
  if (fetchAdd(job.active, -1) == 1) __builtin_wasm_memory_atomic_notify(&job.active, 1);
}

// Until no thread is inside a job.
void waitIdle() {
  for (int spin = 0; spin < kSpin; ++spin)
    if (load(job.active) == 0) return;
  for (;;) {
    const int a = load(job.active);
    if (a == 0) return;
    __builtin_wasm_memory_atomic_wait32(&job.active, a, -1);
  }
}

// An extra thread's life: wait for a job (spinning, then sleeping on gen), join it, repeat.
void threadLoop(int tid) {
  fetchAdd(job.started, 1);
  int seen = load(job.gen);
  for (;;) {
    int g = seen;
    for (int spin = 0; spin < kSpin && g == seen; ++spin) g = load(job.gen);
    if (g == seen) {
      fetchAdd(job.sleepers, 1);
      __builtin_wasm_memory_atomic_wait32(&job.gen, seen, -1);
      fetchAdd(job.sleepers, -1);
      continue;
    }
    seen = g;
    fetchAdd(job.active, 1);
    if (!load(job.closed) && load(job.gen) == seen && tid < load(job.threads)) work(tid);
    leave();
  }
}

// After a trap in one of this thread's tasks (it was inside a job): the job fails, the thread
// leaves it, and the loader re-enters threadLoop.
void threadFailed() {
  store(job.failed, 1);
  fetchAdd(job.started, -1);
  leave();
}

}  // namespace

// A thread joins a job by entering (active + 1), then checking that the job is still open and
// is the one it woke for; the caller closes the job and then waits for active = 0. With
// sequentially consistent atomics either the caller sees the thread inside or the thread sees
// the job closed, so no thread runs a task after parallelFor returns, and the caller itself
// claims every task no other thread took: it never waits for a thread that has not started.
void parallelFor(long n, TaskFn fn, void* ctx) {
  if (n <= 0) return;
  if (load(job.threads) == 1 || n == 1) {
    for (long i = 0; i < n; ++i) fn(ctx, i, 0);
    return;
  }
  // After a trap on this thread a job may have stayed open: close it and let it drain first.
  store(job.closed, 1);
  waitIdle();
  store(job.fn, fn);
  store(job.ctx, ctx);
  store(job.n, n);
  store(job.next, 0L);
  store(job.failed, 0);
  store(job.closed, 0);
  fetchAdd(job.gen, 1);
  if (load(job.sleepers)) __builtin_wasm_memory_atomic_notify(&job.gen, ~0u);
  work(0);
  store(job.closed, 1);
  waitIdle();
  if (load(job.failed)) __builtin_trap();  // a task trapped on another thread: this kernel failed
}
int numThreads() { return load(job.threads); }
void setNumThreads(int n) { store(job.threads, n < 1 ? 1 : n > kMaxThreads ? kMaxThreads : n); }
void lockKernels() {}  // one calling thread per module instance set
void unlockKernels() {}
void ensureThreadScratch(int slot, size_t floats) {
  for (int t = 0, n = numThreads(); t < n; ++t) threadBuffers[slot][t].ensure(floats);
}
float* threadScratch(int slot, int tid) { return threadBuffers[slot][tid].ptr; }
float* sharedScratch(int slot, size_t floats) {
  sharedBuffers[slot].ensure(floats);
  return sharedBuffers[slot].ptr;
}

}  // namespace pixelcnn

using namespace pixelcnn;

#define EXPORT(name) extern "C" __attribute__((export_name(#name)))
#define KERNEL(name) EXPORT(k_##name) void k_##name

// "name:i,j;" per kernel: the JS argument positions it writes.
EXPORT(pixelcnn_outputs) const char* pixelcnnOutputs() {
  return "gemm:7;conv2dForward:0;conv2dBackwardData:0;conv2dBackwardFilter:0,1;"
         "conv2dStride2Forward:0;conv2dStride2BackwardData:0;conv2dStride2BackwardFilter:0,1;"
         "softmaxCrossEntropy:0,1;reluForward:0;reluBackward:0;add:0;accumulate:0;"
         "channelBiasForward:0;channelBiasBackward:0;"
         "gateForward:0;gateBackward:0;sampleCachedPixelCnn:3,4,5,9,10;logisticMixtureNll:0,1;"
         "eluForward:0;eluBackward:0;concatEluForward:0;concatEluBackward:0;gluForward:0;gluBackward:0;"
         "dropoutForward:0;dropoutBackward:0;";
}

EXPORT(pixelcnn_isa) const char* pixelcnnIsa() { return "wasm-simd128"; }

// The staging buffer of the loader (src/backend/wasm.ts).
EXPORT(pixelcnn_alloc) void* pixelcnnAlloc(size_t bytes) {
  void* p = nullptr;
  return posix_memalign(&p, 64, bytes) == 0 ? p : nullptr;
}
EXPORT(pixelcnn_free) void pixelcnnFree(void* p) { free(p); }

// Threads (src/backend/wasm.ts): the count the kernels split work for (the loader starts the
// worker threads), an extra thread's loop (never returns; its instance's __stack_pointer is set
// to a stack of its own first), its recovery after a trap, and how many threads are in the loop.
EXPORT(pixelcnn_set_threads) void pixelcnnSetThreads(int n) { setNumThreads(n); }
EXPORT(pixelcnn_thread) void pixelcnnThread(int tid) { threadLoop(tid); }
EXPORT(pixelcnn_thread_failed) void pixelcnnThreadFailed() { threadFailed(); }
EXPORT(pixelcnn_started_threads) int pixelcnnStartedThreads() { return load(job.started); }

KERNEL(gemm)(int ta, int tb, int m, int n, int k, const float* a, int, const float* b, int, float* c,
           int, int beta) {
  wasm::gemm(ta, tb, m, n, k, a, b, c, beta);
}

KERNEL(conv2dForward)(float* out, int, const float* x, int, const float* w, int, const float* bias, int,
                  int B, int I, int O, int H, int W, int KH, int KW, const int32_t* taps, int ntaps,
                  const float* residual, int, int relu) {
  wasm::conv2dForward(out, x, w, bias, ConvDims{B, I, O, H, W, KH, KW}, taps, ntaps, residual, relu);
}

KERNEL(conv2dBackwardData)(float* dx, int, const float* dout, int, const float* w, int, int B, int I,
                       int O, int H, int W, int KH, int KW, const int32_t* taps, int ntaps, int beta,
                       const float* gate, int) {
  wasm::conv2dBackwardData(dx, dout, w, ConvDims{B, I, O, H, W, KH, KW}, taps, ntaps, beta, gate);
}

KERNEL(conv2dBackwardFilter)(float* dw, int, float* dbias, int, const float* dout, int, const float* x,
                         int, int B, int I, int O, int H, int W, int KH, int KW,
                         const int32_t* taps, int ntaps, int relu) {
  wasm::conv2dBackwardFilter(dw, dbias, dout, x, ConvDims{B, I, O, H, W, KH, KW}, taps, ntaps, relu);
}

KERNEL(conv2dStride2Forward)(float* out, int, const float* x, int, const float* w, int, const float* bias,
                             int, int B, int I, int O, int H, int W, int KH, int KW, const int32_t* taps,
                             int ntaps, int beta) {
  wasm::conv2dStride2Forward(out, x, w, bias, ConvDims{B, I, O, H, W, KH, KW}, taps, ntaps, beta);
}

KERNEL(conv2dStride2BackwardData)(float* dx, int, const float* dout, int, const float* w, int, int B,
                                  int I, int O, int H, int W, int KH, int KW, const int32_t* taps,
                                  int ntaps, int beta) {
  wasm::conv2dStride2BackwardData(dx, dout, w, ConvDims{B, I, O, H, W, KH, KW}, taps, ntaps, beta);
}

KERNEL(conv2dStride2BackwardFilter)(float* dw, int, float* dbias, int, const float* dout, int,
                                    const float* x, int, int B, int I, int O, int H, int W, int KH,
                                    int KW, const int32_t* taps, int ntaps) {
  wasm::conv2dStride2BackwardFilter(dw, dbias, dout, x, ConvDims{B, I, O, H, W, KH, KW}, taps, ntaps);
}

KERNEL(softmaxCrossEntropy)(double* nll, int, float* dl, int, const float* logits, int,
                          const uint8_t* targets, int, int B, int L, int C, int S, double gradScale) {
  wasm::softmaxCrossEntropy(nll, dl, logits, targets, B, L, C, S, gradScale);
}

// The elementwise kernels' lengths are their output's (as in addon.cc).
KERNEL(reluForward)(float* y, int n, const float* x, int) {
  if (n) wasm::reluForward(y, x, n);
}
KERNEL(reluBackward)(float* dx, int n, const float* dy, int, const float* x, int, int beta) {
  if (n) wasm::reluBackward(dx, dy, x, n, beta);
}
KERNEL(add)(float* y, int n, const float* a, int, const float* b, int) {
  if (n) wasm::add(y, a, b, n);
}
KERNEL(accumulate)(float* y, int n, const float* a, int) {
  if (n) wasm::accumulate(y, a, n);
}

KERNEL(channelBiasForward)(float* y, int, const float* x, int, const float* bias, int, int planes, int size) {
  if (planes && size) wasm::channelBiasForward(y, x, bias, planes, size);
}
KERNEL(channelBiasBackward)(float* dbias, int, const float* dy, int, int planes, int size) {
  if (planes && size) wasm::channelBiasBackward(dbias, dy, planes, size);
}

KERNEL(gateForward)(float* y, int, const float* x, int, int B, int n) {
  if (B && n) wasm::gateForward(y, x, B, n);
}
KERNEL(gateBackward)(float* dx, int, const float* dy, int, const float* x, int, int B, int n) {
  if (B && n) wasm::gateBackward(dx, dy, x, B, n);
}

KERNEL(logisticMixtureNll)(double* nll, int, float* dparams, int, const float* params, int,
                           const uint8_t* targets, int, const int32_t* table, int, int B, int F, int C,
                           int S, int K, int L, double minLogScale, double gradScale) {
  wasm::logisticMixtureNll(nll, dparams, params, targets, table, B, F, C, S, K, L, minLogScale, gradScale);
}

KERNEL(eluForward)(float* y, int n, const float* x, int) {
  if (n) wasm::eluForward(y, x, n);
}
KERNEL(eluBackward)(float* dx, int n, const float* dy, int, const float* x, int) {
  if (n) wasm::eluBackward(dx, dy, x, n);
}
KERNEL(concatEluForward)(float* y, int, const float* x, int, int B, int n) {
  if (B && n) wasm::concatEluForward(y, x, B, n);
}
KERNEL(concatEluBackward)(float* dx, int, const float* dy, int, const float* x, int, int B, int n) {
  if (B && n) wasm::concatEluBackward(dx, dy, x, B, n);
}
KERNEL(gluForward)(float* y, int, const float* x, int, const float* residual, int, int B, int n) {
  if (B && n) wasm::gluForward(y, x, residual, B, n);
}
KERNEL(gluBackward)(float* dx, int, const float* dy, int, const float* x, int, int B, int n) {
  if (B && n) wasm::gluBackward(dx, dy, x, B, n);
}

// seed and threshold arrive as JS numbers in [0, 2^32): i32 parameters keep their bits.
KERNEL(dropoutForward)(float* y, int n, const float* x, int, uint32_t seed, uint32_t threshold, double scale) {
  if (n) wasm::dropoutForward(y, x, n, seed, threshold, static_cast<float>(scale));
}
KERNEL(dropoutBackward)(float* dx, int n, const float* dy, int, uint32_t seed, uint32_t threshold, double scale) {
  if (n) wasm::dropoutBackward(dx, dy, n, seed, threshold, static_cast<float>(scale));
}

// The layout of addon.cc's SampleCachedPixelCnn (weights, meta, dims as packed by
// PixelCnnIncremental.nativeGenerator); a layout that does not add up traps.
KERNEL(sampleCachedPixelCnn)(const float* weights, int nweights, const int32_t* meta, int nmeta,
                           const int32_t* dims, int ndims, float* x, int, uint8_t* labels, int,
                           float* caches, int, double start, double end, double temperature,
                           uint32_t* rngState, int, float* logitsOut, int) {
  if (ndims < 9) __builtin_trap();
  SamplerNet net;
  net.B = dims[0]; net.C = dims[1]; net.H = dims[2]; net.W = dims[3]; net.h = dims[4];
  net.d = dims[5]; net.blocks = dims[6]; net.perColour = dims[7]; net.levels = dims[8];
  const int nlayers = 1 + 3 * net.blocks + 1 + net.C;
  SamplerLayer* layers = static_cast<SamplerLayer*>(malloc(sizeof(SamplerLayer) * nlayers));
  if (!layers) __builtin_trap();
  long mi = 0, wi = 0;
  for (int j = 0; j < nlayers; ++j) {
    SamplerLayer& l = layers[j];
    if (mi + 3 > nmeta) __builtin_trap();
    l.I = meta[mi]; l.O = meta[mi + 1]; l.T = meta[mi + 2];
    mi += 3;
    if (l.T < 1 || mi + 2L * l.T > nmeta) __builtin_trap();
    l.dy = meta + mi; l.dx = meta + mi + l.T;
    mi += 2L * l.T;
    const long need = static_cast<long>(l.T) * l.I * l.O + l.O;
    if (wi + need > nweights) __builtin_trap();
    l.w = weights + wi; l.bias = weights + wi + static_cast<long>(l.T) * l.I * l.O;
    wi += need;
  }
  net.layers = layers;
  net.x = x;
  net.labels = labels;
  net.caches = caches;
  wasm::sampleCachedPixelCnn(net, static_cast<long>(start), static_cast<long>(end), temperature,
                             rngState, logitsOut);
  free(layers);
}

// A kernel of PIXELCNN_KERNELS without its export above is a compile error here.
#define PIXELCNN_WASM_EXPORTED(fn, params) (void)&k_##fn;
[[maybe_unused]] static void everyKernelExported() { PIXELCNN_KERNELS(PIXELCNN_WASM_EXPORTED) }
