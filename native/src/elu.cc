// PixelCNN++'s elementwise kernels:
//   elu            y = x > 0 ? x : e^x − 1;      dx += dy · (x > 0 ? 1 : e^x)
//   concat_elu     per image b of x (B, n): y[b] = [elu(x[b]), elu(−x[b])] (B, 2n);
//                  dx += dy₁ · elu′(x) − dy₂ · elu′(−x)
//   gated unit     per image b of x (B, 2n): y[b] = a · σ(g) (+ residual[b]), a = x[b][0, n), g = x[b][n, 2n)
// Memory-bound passes with one exp per element; chunks of one image's plane go to the pool, every
// element is written by one task.
#include "tasks.h"
#include "kernels.h"
#include "vmath.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr long kChunk = 8192;  // floats per task

// f(i) over [lo, hi) by vectors, then a scalar tail through a one-lane vector.
template <class V>
PIXELCNN_INLINE void vectorLoop(long lo, long hi, V&& f) {
  long i = lo;
  for (; i + VL <= hi; i += VL) f(i, VL);
  for (; i < hi; ++i) f(i, 1);
}

// Lanes [0, count) of p, zero elsewhere (count = VL: a whole vector).
PIXELCNN_INLINE vf loadn(const float* p, int count) {
  if (count == VL) return loadu(p);
  vf v{};
  for (int j = 0; j < count; ++j) v[j] = p[j];
  return v;
}
PIXELCNN_INLINE void storen(float* p, vf v, int count) {
  if (count == VL) { storeu(p, v); return; }
  for (int j = 0; j < count; ++j) p[j] = v[j];
}

// e^x − 1: a Taylor polynomial below |x| = 0.5 (truncation < 1e-7 there, where vexp(x) − 1
// would cancel to a large relative error), vexp(x) − 1 above.
PIXELCNN_INLINE vf vexpm1(vf x) {
  vf p = splat(1.0f / 5040);
  p = p * x + 1.0f / 720;
  p = p * x + 1.0f / 120;
  p = p * x + 1.0f / 24;
  p = p * x + 1.0f / 6;
  p = p * x + 0.5f;
  p = p * x + 1.0f;
  const vf a = x < 0 ? -x : x;
  return a < 0.5f ? p * x : vexp(x) - 1.0f;
}

PIXELCNN_INLINE vf velu(vf x) { return x > 0 ? x : vexpm1(x); }
PIXELCNN_INLINE vf veluGrad(vf x) { return x > 0 ? splat(1.0f) : vexp(x); }

}  // namespace

void eluForward(float* y, const float* x, long n) {
  forChunks(1, n, kChunk, n < 32768, [&](long, long lo, long hi) {
    vectorLoop(lo, hi, [&](long i, int c) { storen(y + i, velu(loadn(x + i, c)), c); });
  });
}

void eluBackward(float* dx, const float* dy, const float* x, long n) {
  forChunks(1, n, kChunk, n < 32768, [&](long, long lo, long hi) {
    vectorLoop(lo, hi, [&](long i, int c) {
      storen(dx + i, loadn(dx + i, c) + loadn(dy + i, c) * veluGrad(loadn(x + i, c)), c);
    });
  });
}

void concatEluForward(float* y, const float* x, int B, long n) {
  forChunks(B, n, kChunk, static_cast<long>(B) * n < 32768, [&](long b, long lo, long hi) {
    const float* xb = x + b * n;
    float* p = y + b * 2 * n;
    float* q = p + n;
    vectorLoop(lo, hi, [&](long i, int c) {
      const vf v = loadn(xb + i, c);
      storen(p + i, velu(v), c);
      storen(q + i, velu(-v), c);
    });
  });
}

void concatEluBackward(float* dx, const float* dy, const float* x, int B, long n) {
  forChunks(B, n, kChunk, static_cast<long>(B) * n < 32768, [&](long b, long lo, long hi) {
    const float* xb = x + b * n;
    const float* p = dy + b * 2 * n;
    const float* q = p + n;
    float* d = dx + b * n;
    vectorLoop(lo, hi, [&](long i, int c) {
      const vf v = loadn(xb + i, c), e = vexp(v > 0 ? -v : v);  // e^−|x|
      const vf g1 = loadn(p + i, c), g2 = loadn(q + i, c);
      storen(d + i, loadn(d + i, c) + (v > 0 ? g1 - g2 * e : g1 * e - g2), c);
    });
  });
}

void gluForward(float* y, const float* x, const float* residual, int B, long n) {
  forChunks(B, n, kChunk, static_cast<long>(B) * n < 32768, [&](long b, long lo, long hi) {
    const float* a = x + b * 2 * n;
    const float* g = a + n;
    float* out = y + b * n;
    const float* r = residual ? residual + b * n : nullptr;
    vectorLoop(lo, hi, [&](long i, int c) {
      vf v = loadn(a + i, c) * vsigmoid(loadn(g + i, c));
      if (r) v += loadn(r + i, c);
      storen(out + i, v, c);
    });
  });
}

void gluBackward(float* dx, const float* dy, const float* x, int B, long n) {
  forChunks(B, n, kChunk, static_cast<long>(B) * n < 32768, [&](long b, long lo, long hi) {
    const float* a = x + b * 2 * n;
    const float* g = a + n;
    float* da = dx + b * 2 * n;
    float* dg = da + n;
    const float* d = dy + b * n;
    vectorLoop(lo, hi, [&](long i, int c) {
      const vf s = vsigmoid(loadn(g + i, c)), dv = loadn(d + i, c);
      storen(da + i, loadn(da + i, c) + dv * s, c);
      storen(dg + i, loadn(dg + i, c) + dv * loadn(a + i, c) * s * (1.0f - s), c);
    });
  });
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
