// How kernels share work with the thread pool (threadpool.h). Tasks are fixed pieces of the work,
// independent of the number of threads, so results do not depend on it either.
#pragma once
#include "simd.h"
#include "threadpool.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

template <class F>
void pfor(long n, F& f) {
  parallelFor(n, [](void* ctx, long i, int tid) { (*static_cast<F*>(ctx))(i, tid); }, &f);
}

// task(t, tid) for t in [0, n): on the calling thread when `serial` (too little work to be worth
// the hand-over), else on the pool.
template <class F>
void runTasks(long n, bool serial, F&& task) {
  if (serial) {
    for (long t = 0; t < n; ++t) task(t, 0);
  } else {
    pfor(n, task);
  }
}

// body(b, lo, hi) over [0, n) of each of B rows (images) in chunks of `chunk` elements, one task
// per chunk; on the calling thread when `serial`.
template <class F>
void forChunks(int B, long n, long chunk, bool serial, F&& body) {
  const long per = ceilDiv(n, chunk);
  runTasks(B * per, serial, [&](long t, int) {
    const long b = t / per, lo = (t - b * per) * chunk;
    body(b, lo, minOf(n, lo + chunk));
  });
}

// nll[b] = Σ_c partial[b·chunks + c], the chunks of each image added in order.
PIXELCNN_INLINE void sumPartials(double* nll, const double* partial, int B, long chunks) {
  for (int b = 0; b < B; ++b) {
    double s = 0;
    for (long c = 0; c < chunks; ++c) s += partial[b * chunks + c];
    nll[b] = s;
  }
}

}  // namespace
}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
