// gemm: c (m, n) = op(a) · op(b) + beta · c on the engine of gemm_impl.h.
#include "gemm_impl.h"
#include "kernels.h"

namespace pixelcnn {
namespace PIXELCNN_NS {

constexpr double kSerialMacs = 1 << 21;  // below ~2M multiply-adds one thread is faster


void gemm(bool transA, bool transB, int m, int n, int k, const float* a, const float* b, float* c,
          int beta) {
  if (m <= 0 || n <= 0) return;
  const long M = m, N = n, K = k;
  if (K <= 0) {
    if (beta == 0) memset(c, 0, sizeof(float) * M * N);
    return;
  }
  const int kcn = kBlock(K);
  const long Mpad = roundUp(M, MR);
  float* Ap = sharedScratch(kSharedA, Mpad * K);
  auto panelA = [&](float* d, long m0, int mrows, long k0, int kcb) {
    if (transA) packACols(d, m0, mrows, k0, kcb, [&](long kk) { return a + kk * M; });
    else packARows(d, m0, mrows, k0, kcb, [&](long mm) { return a + mm * K; });
  };
  prepackA(Ap, M, K, kcn, panelA);

  const Tiling tl = chooseTiling(M, N, 1);
  const long ldc = tl.ldc();
  ensureThreadScratch(kSlotB, kcn * ldc);
  ensureThreadScratch(kSlotC, tl.cFloats());
  auto bpack = [&](float* d, long k0, int kcb, long n0, int ncols) {
    if (transB) packBCols(d, k0, kcb, n0, ncols, [&](long nn) { return b + nn * K; });
    else packBRows(d, k0, kcb, n0, ncols, [&](long kk) { return b + kk * N; });
  };
  auto task = [&](long t, int tid) {
    const long m0 = (t % tl.nmt) * tl.mc, n0 = (t / tl.nmt) * tl.nc;
    const int mrows = static_cast<int>(minOf<long>(tl.mc, M - m0));
    const int ncols = static_cast<int>(minOf<long>(tl.nc, N - n0));
    float* Cb = threadScratch(kSlotC, tid);
    computeTile(Ap, Mpad, K, kcn, m0, mrows, n0, ncols, bpack, Cb, ldc,
                threadScratch(kSlotB, tid), false);
    for (int i = 0; i < mrows; ++i) {
      float* dst = c + (m0 + i) * N + n0;
      const float* src = Cb + i * ldc;
      if (beta == 0) memcpy(dst, src, sizeof(float) * ncols);
      else for (int j = 0; j < ncols; ++j) dst[j] += src[j];
    }
  };
  // Small products (the cached samplers' per-pixel GEMMs) run on the calling thread: waking the
  // pool costs more than it saves, and much more when other processes keep the cores busy.
  const long tiles = static_cast<long>(tl.nmt) * tl.nnt;
  if (static_cast<double>(M) * N * K < kSerialMacs) {
    for (long t = 0; t < tiles; ++t) task(t, 0);
  } else {
    pfor(tiles, task);
  }
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
