// The gated unit of Gated PixelCNN, per image b of x (B, 2n) with f = x[b][0, n), g = x[b][n, 2n):
//   forward  y[b] = tanh(f) · σ(g)
//   backward df += dy · σ(g) · (1 − tanh²(f)),  dg += dy · tanh(f) · σ(g) · (1 − σ(g))
// tanh and σ are recomputed from x in backward instead of being stored: two fewer activation-sized
// buffers, and the exps are cheap next to the memory traffic. Chunks of one image's plane go to
// the pool; every element is written by one task.
#include "tasks.h"
#include "kernels.h"
#include "vmath.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr long kChunk = 8192;  // floats of y per task

}  // namespace

void gateForward(float* y, const float* x, int B, long n) {
  forChunks(B, n, kChunk, static_cast<long>(B) * n < 32768, [&](long b, long lo, long hi) {
    const float* f = x + b * 2 * n;
    const float* g = f + n;
    float* out = y + b * n;
    long i = lo;
    for (; i + VL <= hi; i += VL) storeu(out + i, vtanh(loadu(f + i)) * vsigmoid(loadu(g + i)));
    for (; i < hi; ++i) out[i] = (vtanh(splat(f[i])) * vsigmoid(splat(g[i])))[0];
  });
}

void gateBackward(float* dx, const float* dy, const float* x, int B, long n) {
  forChunks(B, n, kChunk, static_cast<long>(B) * n < 32768, [&](long b, long lo, long hi) {
    const float* f = x + b * 2 * n;
    const float* g = f + n;
    float* df = dx + b * 2 * n;
    float* dg = df + n;
    const float* d = dy + b * n;
    auto step = [](vf fv, vf gv, vf dv, vf& dfv, vf& dgv) {
      const vf t = vtanh(fv), s = vsigmoid(gv);
      dfv += dv * s * (1.0f - t * t);
      dgv += dv * t * s * (1.0f - s);
    };
    long i = lo;
    for (; i + VL <= hi; i += VL) {
      vf a = loadu(df + i), c = loadu(dg + i);
      step(loadu(f + i), loadu(g + i), loadu(d + i), a, c);
      storeu(df + i, a);
      storeu(dg + i, c);
    }
    for (; i < hi; ++i) {
      vf a{}, c{};
      a[0] = df[i]; c[0] = dg[i];
      step(splat(f[i]), splat(g[i]), splat(d[i]), a, c);
      df[i] = a[0];
      dg[i] = c[0];
    }
  });
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
