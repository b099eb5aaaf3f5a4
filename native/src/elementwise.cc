// The elementwise kernels of the training hot path: ReLU forward and backward, residual add,
// gradient accumulation and the per-plane (class-conditioning) bias. Memory-bound loops, split
// across the pool in fixed chunks (the bias: in whole planes, so each sum has one owner).
#include "tasks.h"
#include "kernels.h"
#include "simd.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr long kChunk = 1 << 16;  // floats per task: 256 KiB, large enough to amortise dispatch

// Over [lo, hi): scalar(i) up to the first i where y + i is vector-aligned, then vector(i) for
// whole vectors, then scalar(i) for the rest. Aligned stores: with 64-byte vectors every
// unaligned store straddles two cache lines (reluForward was 8% slower than SSE2 that way).
template <class Vector, class Scalar>
PIXELCNN_INLINE void forAligned(const float* y, long lo, long hi, Vector&& vector, Scalar&& scalar) {
  const long skew = static_cast<long>((reinterpret_cast<uintptr_t>(y + lo) / sizeof(float)) % VL);
  const long head = minOf(hi, lo + (VL - skew) % VL);
  long i = lo;
  for (; i < head; ++i) scalar(i);
  for (; i + VL <= hi; i += VL) vector(i);
  for (; i < hi; ++i) scalar(i);
}

}  // namespace

void reluForward(float* y, const float* x, long n) {
  forChunks(1, n, kChunk, false, [&](long, long lo, long hi) {
    forAligned(y, lo, hi, [&](long i) { store(y + i, reluv(loadu(x + i))); },
               [&](long i) { y[i] = relus(x[i]); });
  });
}

// A select, not a branch: a branch mispredicts on random signs (5x slower).
void reluBackward(float* dx, const float* dy, const float* x, long n, int beta) {
  forChunks(1, n, kChunk, false, [&](long, long lo, long hi) {
    if (beta) {
      forAligned(dx, lo, hi,
                 [&](long i) { store(dx + i, load(dx + i) + (loadu(x + i) > vf{} ? loadu(dy + i) : vf{})); },
                 [&](long i) { dx[i] += x[i] > 0.f ? dy[i] : 0.f; });
    } else {
      forAligned(dx, lo, hi, [&](long i) { store(dx + i, loadu(x + i) > vf{} ? loadu(dy + i) : vf{}); },
                 [&](long i) { dx[i] = x[i] > 0.f ? dy[i] : 0.f; });
    }
  });
}

void add(float* y, const float* a, const float* b, long n) {
  forChunks(1, n, kChunk, false, [&](long, long lo, long hi) {
    forAligned(y, lo, hi, [&](long i) { store(y + i, loadu(a + i) + loadu(b + i)); },
               [&](long i) { y[i] = a[i] + b[i]; });
  });
}

void accumulate(float* y, const float* a, long n) {
  forChunks(1, n, kChunk, false, [&](long, long lo, long hi) {
    forAligned(y, lo, hi, [&](long i) { store(y + i, load(y + i) + loadu(a + i)); },
               [&](long i) { y[i] += a[i]; });
  });
}

// Planes per task: about kChunk floats, at least one plane.
inline long planesPerTask(long size) { return maxOf(1L, kChunk / maxOf(1L, size)); }

void channelBiasForward(float* y, const float* x, const float* bias, long planes, long size) {
  forChunks(1, planes, planesPerTask(size), planes * size < 32768, [&](long, long p0, long p1) {
    for (long p = p0; p < p1; ++p) {
      const vf v = splat(bias[p]);
      const float bs = bias[p];
      const long lo = p * size, hi = lo + size;
      forAligned(y, lo, hi, [&](long i) { store(y + i, loadu(x + i) + v); }, [&](long i) { y[i] = x[i] + bs; });
    }
  });
}

// Each plane's sum: vector lanes, then the lanes and the tail in double, in a fixed order (the
// same for any thread count).
void channelBiasBackward(float* dbias, const float* dy, long planes, long size) {
  forChunks(1, planes, planesPerTask(size), planes * size < 32768, [&](long, long p0, long p1) {
    for (long p = p0; p < p1; ++p) {
      const float* g = dy + p * size;
      vf acc{};
      long i = 0;
      for (; i + VL <= size; i += VL) acc += loadu(g + i);
      double s = 0;
      for (int l = 0; l < VL; ++l) s += acc[l];
      for (; i < size; ++i) s += g[i];
      dbias[p] += static_cast<float>(s);
    }
  });
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
