// Inverted dropout with a hashed mask (the js reference: src/backend/js/dropout.ts): element i is
// kept iff lowbias32(i · 0x9e3779b9 ⊕ seed) ≥ threshold, then scaled by `scale`. Nothing is
// stored; backward recomputes the mask. Integer vector arithmetic, so every ISA keeps the same
// elements as the js kernel.
#include "tasks.h"
#include "kernels.h"
#include "simd.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

typedef uint32_t vu __attribute__((vector_size(VL * 4)));
constexpr long kChunk = 1 << 15;  // elements per task

// The keep mask of elements i .. i + VL − 1 (all bits set where kept).
PIXELCNN_INLINE vi keepMask(long i, uint32_t seed, uint32_t threshold) {
  vu v;
  for (int j = 0; j < VL; ++j) v[j] = static_cast<uint32_t>(i + j);
  v = v * 0x9e3779b9u ^ seed;
  v ^= v >> 16; v *= 0x7feb352du;
  v ^= v >> 15; v *= 0x846ca68bu;
  v ^= v >> 16;
  return (vi)(v >= threshold);
}

}  // namespace

void dropoutForward(float* y, const float* x, long n, uint32_t seed, uint32_t threshold, float scale) {
  forChunks(1, n, kChunk, n <= kChunk, [&](long, long lo, long hi) {
    long i = lo;
    for (; i + VL <= hi; i += VL) {
      const vi m = keepMask(i, seed, threshold);
      storeu(y + i, (vf)((vi)(loadu(x + i) * scale) & m));
    }
    for (; i < hi; ++i) y[i] = keepMask(i, seed, threshold)[0] ? x[i] * scale : 0.f;
  });
}

void dropoutBackward(float* dx, const float* dy, long n, uint32_t seed, uint32_t threshold, float scale) {
  forChunks(1, n, kChunk, n <= kChunk, [&](long, long lo, long hi) {
    long i = lo;
    for (; i + VL <= hi; i += VL) {
      const vi m = keepMask(i, seed, threshold);
      storeu(dx + i, loadu(dx + i) + (vf)((vi)(loadu(dy + i) * scale) & m));
    }
    for (; i < hi; ++i) if (keepMask(i, seed, threshold)[0]) dx[i] += dy[i] * scale;
  });
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
