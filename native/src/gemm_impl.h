// The GEMM engine shared by gemm.cc and conv2d.cc (BLIS-style):
//   C (M, N) = A (M, K) · B (K, N)
// A is packed once per call into MR-row panels ("prepackA"), B is packed per task into NR-column
// panels by a caller-supplied packer, so a convolution can pack its im2col view directly from
// the (padded) image without materialising it. Each task computes one (mc, nc) tile of C into a
// thread-local buffer with the register-blocked micro-kernel and hands it to an epilogue that
// writes it wherever it belongs (overwrite, accumulate, scatter to taps, add bias...).
// Every output element is owned by one task and summed in a fixed order: results do not depend
// on the number of threads.
#pragma once
#include "simd.h"
#include "tasks.h"
#include "threadpool.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

// Micro-tile: AVX2's 16 registers hold 6 x 2 vector accumulators + 2 b + 1 a. AVX-512 has 32, and
// 8 rows there make MR divide the power-of-two channel counts (6 rows padded M = 64 to 66 and
// M = 32 to 36, 3–12% of wasted FMAs); 8 x 3 was no faster on Zen 4. wasm: 4 rows. V8 has 16
// vector registers on x64, and 6 x 2 accumulators + 2 b + 1 a left it none to spare; 4 rows also
// divide the cached samplers' batch of 16 images (6 padded it to 18) and the power-of-two channel
// counts. Its GEMMs at the gated sampler's shapes (16 x 256 x 256 .. 448 x 256 x 768) took
// 0.83–0.94 of 6 rows' time. Each output is summed in the same order whatever MR: same results.
#if defined(__wasm_simd128__)
constexpr int MR = 4;  // rows of the micro-tile
#else
constexpr int MR = VL == 16 ? 8 : 6;
#endif
constexpr int NV = 2;                 // vectors per micro-tile row
constexpr int NR = NV * VL;           // columns of the micro-tile (16 for AVX2, 32 for AVX-512)
constexpr int KC = 256;      // depth of a packed block (B micro-panel kc·NR·4 = 16 / 32 KiB in L1)
constexpr int MCMAX = 120;   // rows of a task's A block (mc·kc·4 = 120 KiB in L2)
constexpr int NCMAX = 256;   // columns of a task's B block

enum Slots { kSlotB = 0, kSlotC = 1, kSlotT = 2 };               // thread scratch
enum SharedSlots { kSharedA = 0, kSharedIdx = 1, kSharedPartial = 2, kSharedPhases = 3 };

// C[MR x NR] (=|+=) Σ_p A[p][0..MR) ⊗ B[p][0..NR); A, B packed; C aligned with row stride ldc.
template <bool kFirst>
PIXELCNN_INLINE void microKernel(int kc, const float* __restrict A, const float* __restrict B,
                                 float* __restrict C, long ldc) {
  vf c[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[r][v] = kFirst ? vf{} : load(C + r * ldc + v * VL);
#pragma GCC unroll 2
  for (int p = 0; p < kc; ++p) {
    vf b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = load(B + v * VL);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const vf a = splat(A[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] += a * b[v];
    }
    A += MR;
    B += NR;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store(C + r * ldc + v * VL, c[r][v]);
}

// Nominal depth of the K blocks: K split into equal blocks of at most KC.
inline int kBlock(long K) {
  long nb = ceilDiv(K, KC);
  return static_cast<int>(ceilDiv(K, nb < 1 ? 1 : nb));
}

// Packed A layout for (M, K): block k0 (depth kcb) starts at k0·Mpad; its panel mp (rows
// mp·MR..) at + mp·kcb·MR, holding A[mp·MR + r][k0 + kk] at kk·MR + r (zero for rows ≥ M).
// panel(dst, m0, mrows, k0, kcb) fills one panel. Runs in parallel when big.
template <class Panel>
void prepackA(float* dst, long M, long K, int kcn, Panel& panel) {
  const long Mpad = roundUp(M, MR), nmp = Mpad / MR, nkb = ceilDiv(K, kcn);
  auto task = [&](long t, int) {
    long kb = t / nmp, mp = t % nmp;
    long k0 = kb * kcn;
    int kcb = static_cast<int>(minOf<long>(kcn, K - k0));
    int mrows = static_cast<int>(minOf<long>(MR, M - mp * MR));
    panel(dst + k0 * Mpad + mp * kcb * MR, mp * MR, mrows, k0, kcb);
  };
  runTasks(nkb * nmp, M * K < 32768, task);
}

// Panel fillers for common A layouts.
// A[m][k] = rows(m)[k]: transposing copy.
template <class Rows>
PIXELCNN_INLINE void packARows(float* d, long m0, int mrows, long k0, int kcb, Rows rows) {
  for (int r = 0; r < MR; ++r) {
    if (r < mrows) {
      const float* s = rows(m0 + r) + k0;
      for (int kk = 0; kk < kcb; ++kk) d[kk * MR + r] = s[kk];
    } else {
      for (int kk = 0; kk < kcb; ++kk) d[kk * MR + r] = 0.f;
    }
  }
}
// A[m][k] = cols(k)[m]: contiguous copies of MR.
template <class Cols>
PIXELCNN_INLINE void packACols(float* d, long m0, int mrows, long k0, int kcb, Cols cols) {
  for (int kk = 0; kk < kcb; ++kk) {
    const float* s = cols(k0 + kk) + m0;
    int r = 0;
    for (; r < mrows; ++r) d[kk * MR + r] = s[r];
    for (; r < MR; ++r) d[kk * MR + r] = 0.f;
  }
}

constexpr int kPackAhead = 4;  // rows of prefetch distance in packBRows (8 was no better)

// B packers: fill ceil(ncols/NR) panels of kcb·NR at dst + jp·kcb·NR (columns ≥ ncols zero).
// B[k][n] = rows(k)[n] (relu(rows(k)[n]) with kRelu): contiguous vector copies.
template <bool kRelu = false, class Rows>
PIXELCNN_INLINE void packBRows(float* dst, long k0, int kcb, long n0, int ncols, Rows rows) {
  const int nfull = ncols / NR, rem = ncols % NR;
  const long panel = static_cast<long>(kcb) * NR;
  for (int kk = 0; kk < kcb; ++kk) {
    const float* s = rows(k0 + kk) + n0;
    float* d = dst + kk * NR;
    // The rows are activations that come from L3 or memory: ask for a later row's lines now
    // (a perf profile had put a fifth of a 1x1 forward on these loads).
    if (kk + kPackAhead < kcb) {
      const float* f = rows(k0 + kk + kPackAhead) + n0;
      for (int q = 0; q < ncols; q += 16) __builtin_prefetch(f + q, 0, 3);
    }
    for (int jp = 0; jp < nfull; ++jp) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const vf x = loadu(s + jp * NR + v * VL);
        store(d + jp * panel + v * VL, kRelu ? reluv(x) : x);
      }
    }
    if (rem) {
      float* dd = d + nfull * panel;
      const float* ss = s + nfull * NR;
      int j = 0;
      for (; j < rem; ++j) dd[j] = kRelu ? relus(ss[j]) : ss[j];
      for (; j < NR; ++j) dd[j] = 0.f;
    }
  }
}
// B[k][n] = cols(n)[k]: transposing copy.
template <class Cols>
PIXELCNN_INLINE void packBCols(float* dst, long k0, int kcb, long n0, int ncols, Cols cols) {
  const long panel = static_cast<long>(kcb) * NR;
  const int np = static_cast<int>(ceilDiv(ncols, NR));
  for (int jp = 0; jp < np; ++jp) {
    float* d = dst + jp * panel;
    for (int j = 0; j < NR; ++j) {
      long n = jp * NR + j;
      if (n < ncols) {
        const float* s = cols(n0 + n) + k0;
        for (int kk = 0; kk < kcb; ++kk) d[kk * NR + j] = s[kk];
      } else {
        for (int kk = 0; kk < kcb; ++kk) d[kk * NR + j] = 0.f;
      }
    }
  }
}

// Computes the tile C[m0.., n0..] (mrows x ncols, stored at Cb with stride ldc, rows/cols padded
// to MR/NR) = A[m0.., :] · B[:, n0..] (+ the tile already in Cb if accumulate).
// Ap is the packed A (row stride Mpad), m0 a multiple of MR. Bb: thread scratch ≥ kcn·ldc.
template <class BPack>
void computeTile(const float* Ap, long Mpad, long K, int kcn, long m0, int mrows, long n0,
                 int ncols, BPack& bpack, float* Cb, long ldc, float* Bb, bool accumulate) {
  const int nmp = static_cast<int>(ceilDiv(mrows, MR)), nnp = static_cast<int>(ceilDiv(ncols, NR));
  for (long k0 = 0; k0 < K; k0 += kcn) {
    const int kcb = static_cast<int>(minOf<long>(kcn, K - k0));
    bpack(Bb, k0, kcb, n0, ncols);
    const float* Ak = Ap + k0 * Mpad + (m0 / MR) * kcb * MR;
    const bool first = !accumulate && k0 == 0;
    for (int jp = 0; jp < nnp; ++jp) {
      const float* Bp = Bb + static_cast<long>(jp) * kcb * NR;
      float* Cp = Cb + jp * NR;
      if (first) {
        for (int ip = 0; ip < nmp; ++ip)
          microKernel<true>(kcb, Ak + static_cast<long>(ip) * kcb * MR, Bp, Cp + ip * MR * ldc, ldc);
      } else {
        for (int ip = 0; ip < nmp; ++ip)
          microKernel<false>(kcb, Ak + static_cast<long>(ip) * kcb * MR, Bp, Cp + ip * MR * ldc, ldc);
      }
    }
  }
}

// Task tiling of an (M, N) output, repeated `outer` times (e.g. per image): tiles of at most
// MCMAX x NCMAX, split further until there are at least 2 tasks per thread when possible.
struct Tiling {
  int mc, nmt, nc, nnt;
  long ldc() const { return roundUp(nc, NR); }
  long cFloats() const { return roundUp(mc, MR) * ldc(); }
};

inline Tiling chooseTiling(long M, long N, long outer) {
  long nmt = ceilDiv(M, MCMAX), nnt = ceilDiv(N, NCMAX);
  const long want = 2L * numThreads();
  while (outer * nmt * nnt < want) {
    if (ceilDiv(N, nnt * 2) >= 2 * NR) nnt *= 2;
    else if (ceilDiv(M, nmt * 2) >= MR) nmt *= 2;
    else break;
  }
  Tiling t;
  t.mc = static_cast<int>(roundUp(ceilDiv(M, nmt), MR));
  t.nmt = static_cast<int>(ceilDiv(M, t.mc));
  t.nc = static_cast<int>(roundUp(ceilDiv(N, nnt), NR));
  t.nnt = static_cast<int>(ceilDiv(N, t.nc));
  return t;
}

}  // namespace
}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
