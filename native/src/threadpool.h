// A persistent pool of std::threads running parallelFor loops, plus the per-thread scratch
// memory the kernels reuse between calls (grown as needed, never freed).
#pragma once
#include <stddef.h>  // a C header: the wasm build (scripts/build-wasm.mjs) has no C++ library

namespace pixelcnn {

// fn(ctx, task, tid) for task in [0, n); tid in [0, numThreads()) names the thread (for scratch).
using TaskFn = void (*)(void* ctx, long task, int tid);

// Runs all n tasks, the calling thread included; returns when all are done. Tasks are claimed
// dynamically, so kernels that need thread-count-independent results must not depend on which
// thread ran which task (they own disjoint outputs or write per-task partials).
void parallelFor(long n, TaskFn fn, void* ctx);

int numThreads();
void setNumThreads(int n);  // n >= 1; restarts the pool

// Held by the bindings for the duration of every kernel call: the pool and the scratch
// buffers serve one call at a time (e.g. when several worker_threads use the addon).
void lockKernels();
void unlockKernels();

// Scratch: call ensure* from the calling thread before parallelFor (it may throw bad_alloc),
// then get the 64-byte aligned buffers from inside tasks.
void ensureThreadScratch(int slot, size_t floats);  // for every thread
float* threadScratch(int slot, int tid);
float* sharedScratch(int slot, size_t floats);      // one buffer; grows, contents not kept

constexpr int kThreadSlots = 3;
constexpr int kSharedSlots = 4;

}  // namespace pixelcnn
