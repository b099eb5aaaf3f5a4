// Stride-1 'same' convolutions over the live taps only, as GEMMs on the engine of gemm_impl.h.
//
// Each image plane is copied once into a zero-padded plane of Hp rows of Wp (Hp = H + KH − 1,
// Wp = W + KW/2, image at (KH/2, KW/2)), plus KW/2 zeros at the end. A row has one margin of KW/2
// zero columns, which serves as the right margin of the row above as well as the left margin of
// its own: reading past a row's last column runs into the next row's margin. Output pixels are
// then numbered on the padded grid, p' = y·Wp + x (x < W are real, the KW/2 others per row are
// computed and dropped), which turns every tap into a constant offset: the im2col row of
// (channel c, tap t) is the padded plane c read from offset(t) onwards, contiguous. So the B
// panels are packed with plain vector copies straight from the padded planes, masked taps never
// appear in K, and no im2col matrix is ever built.
//   forward:         out_b (O, p')  = W (O, I·T)   · cols_b (I·T, p'),  cols row (i,t) = xpad_i + ky·Wp + kx
//   backward data:   dx_b (I, p') (=|+=) [gate > 0] Wᵀ (I, O·T)  · dcols_b (O·T, p'), row (o,t) = doutpad_o + (KH−1−ky)·Wp + (KW−1−kx)
//   backward filter: dW (O, I·T)   += Σ_b doutg_b (O, p') · cols_bᵀ (p', I·T)   (doutg: dout on the padded grid, 0 off-image)
// The backward filter's operands are both contiguous along p', so it runs as blocks of dot
// products read in place (dotBlock) rather than on the packed GEMM engine, whose transposing packs
// had cost as much as the arithmetic. Each dW element is owned by one task and summed in a fixed
// order (lanes, then images and pixels in order), so it is deterministic whatever the thread count.
#include "gemm_impl.h"
#include "kernels.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

struct Geo {
  long B, I, O, H, W, KH, KW, HW, KK, Hp, Wp, plane, Np;
  int T;
};

Geo geometry(const ConvDims& d, int ntaps) {
  Geo g;
  g.B = d.B; g.I = d.I; g.O = d.O; g.H = d.H; g.W = d.W; g.KH = d.KH; g.KW = d.KW;
  g.HW = g.H * g.W;
  g.KK = g.KH * g.KW;
  g.Hp = g.H + g.KH - 1;
  g.Wp = g.W + g.KW / 2;
  g.plane = g.Hp * g.Wp + g.KW / 2;  // the last row's reads run KW/2 past the grid
  g.Np = g.H > 0 ? (g.H - 1) * g.Wp + g.W : 0;
  g.T = ntaps;
  return g;
}

// Copies `count` planes (H, W) into zero-padded planes (Hp, Wp), through a ReLU with `relu`.
void padPlanes(float* dst, const float* src, long count, const Geo& g, bool relu) {
  const long ph = g.KH / 2, pw = g.KW / 2, H = g.H, W = g.W, Wp = g.Wp;
  auto task = [&](long p, int) {
    float* d = dst + p * g.plane;
    const float* s = src + p * g.HW;
    memset(d, 0, sizeof(float) * (ph * Wp + pw));
    for (long y = 0; y < H; ++y) {
      float* row = d + (y + ph) * Wp + pw;
      if (relu) for (long x = 0; x < W; ++x) row[x] = relus(s[y * W + x]);
      else memcpy(row, s + y * W, sizeof(float) * W);
      // the shared margin: right of this row, left of the next (Wp − W = pw)
      memset(row + W, 0, sizeof(float) * pw);
    }
    const long done = H > 0 ? (H + ph) * Wp + pw : ph * Wp + pw;
    memset(d + done, 0, sizeof(float) * (g.plane - done));
  };
  if (count * g.plane < 65536) {
    for (long p = 0; p < count; ++p) task(p, 0);
  } else {
    pfor(count, task);
  }
}

// Calls f(j, pixel, len) for each run of real pixels among padded-grid columns [n0, n0 + ncols):
// tile column j holds image pixel `pixel` (= y·W + x), for len consecutive pixels.
template <class F>
PIXELCNN_INLINE void forRealPixels(long n0, int ncols, const Geo& g, F f) {
  if (g.Wp == g.W) {  // no pad columns: one run
    f(0, n0, ncols);
    return;
  }
  long p = n0;
  const long end = n0 + ncols;
  while (p < end) {
    const long y = p / g.Wp, x = p - y * g.Wp;
    if (x >= g.W) { p = (y + 1) * g.Wp; continue; }
    const long len = minOf(g.W - x, end - p);
    f(p - n0, y * g.W + x, len);
    p += len;
  }
}

// The planes on the padded grid: a 1×1 kernel has no padding (Hp = H, Wp = W), so the source
// itself (a ReLU of the input is then left to the reader: *reluLeft = relu); otherwise a padded
// copy in shared scratch, with the ReLU applied on the way.
const float* padded(const float* src, long count, const Geo& g, bool relu, bool* reluLeft) {
  *reluLeft = false;
  if (g.KK == 1) {
    *reluLeft = relu;
    return src;
  }
  float* dst = sharedScratch(kSharedPad, count * g.plane);
  padPlanes(dst, src, count, g, relu);
  return dst;
}
const float* padded(const float* src, long count, const Geo& g) {
  bool none;
  return padded(src, count, g, false, &none);
}

int32_t* intTable(long n) { return reinterpret_cast<int32_t*>(sharedScratch(kSharedIdx, n)); }

// Σ p[0..n) with four vector accumulators (a serial double sum is latency-bound: 4 cycles a float).
PIXELCNN_INLINE double planeSum(const float* p, long n) {
  vf s0{}, s1{}, s2{}, s3{};
  long q = 0;
  for (; q + 4 * VL <= n; q += 4 * VL) {
    s0 += loadu(p + q);
    s1 += loadu(p + q + VL);
    s2 += loadu(p + q + 2 * VL);
    s3 += loadu(p + q + 3 * VL);
  }
  for (; q + VL <= n; q += VL) s0 += loadu(p + q);
  const vf v = (s0 + s1) + (s2 + s3);
  double s = 0;
  for (int l = 0; l < VL; ++l) s += v[l];
  for (; q < n; ++q) s += p[q];
  return s;
}

// Backward filter micro-kernel: the R x C dot products of rows a[r] and b[j] over len floats,
// added lane-wise into acc[r·C + j] (the scalar tail goes into lane 0). Both operands of the
// filter gradient are contiguous along pixels, so they are read in place, with no packing.
// Shapes fill the 16 AVX2 registers: 4 x 3 = 12 accumulators + 3 b + 1 a (7 loads per 12 FMAs);
// with a ReLU on b, 6 x 2 = 12 accumulators + 2 b + 1 a + a zero, since 4 x 3 would need 17
// registers and the compiler then reloads each operand up to three times (load-bound: 18 loads
// per 12 FMAs). Each accumulator sums its own (r, j) in pixel order, so the shape does not change
// any result.
// Pixels per pass over a tile: its rows stay in L2. AVX-512 parts have 1–2 MiB of L2 per core, where
// whole images fit (a 64 x 96 tile at 1024 pixels is 640 KiB); one pass per image saves the
// accumulators' reload and store between passes (the filter gradient went 20% faster on Zen 4).
#if PIXELCNN_VL == 16
constexpr long DK = 1024;
#else
constexpr long DK = 256;
#endif

template <bool kRelu, int R, int C>
PIXELCNN_INLINE void dotBlock(const float* const* a, const float* const* bc, long len, vf* acc) {
  vf c[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < C; ++j) c[r][j] = acc[r * C + j];
  long k = 0;
  for (; k + VL <= len; k += VL) {
    vf bv[C];
#pragma GCC unroll 4
    for (int j = 0; j < C; ++j) bv[j] = kRelu ? reluv(inRegister(loadu(bc[j] + k))) : loadu(bc[j] + k);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const vf av = inRegister(loadu(a[r] + k));
#pragma GCC unroll 4
      for (int j = 0; j < C; ++j) c[r][j] += av * bv[j];
    }
  }
  if (k < len) {
    float t[R][C] = {};
    for (; k < len; ++k)
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < C; ++j) t[r][j] += a[r][k] * (kRelu ? relus(bc[j][k]) : bc[j][k]);
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < C; ++j) c[r][j][0] += t[r][j];
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < C; ++j) acc[r * C + j] = c[r][j];
}

// dW (M = O, N = I·T) += Σ_b dg_b (M, p') · cols_bᵀ, where column n of image b starts at
// xpad + b·I·plane + colOff[n] (and is read through a ReLU with kRelu), on R x C blocks.
// With dbias, the tasks of the first column tile also add Σ dout of their rows to it, image by
// image just before the dot blocks read those rows: one pass over dout from memory instead of two.
template <bool kRelu, int R, int C>
void filterGradient(float* dw, float* dbias, const float* dg, long gs, const float* xpad,
                    const int32_t* colOff, const int32_t* taps, long M, long N, const Geo& g) {
  // Tasks own (mc x nc) tiles of dW; big tiles, since every task streams its rows of all images.
  long nmt = ceilDiv(M, 64), nnt = ceilDiv(N, 96);
  const long want = 2L * numThreads();
  while (nmt * nnt < want) {
    if (ceilDiv(N, nnt * 2) >= 4 * C) nnt *= 2;
    else if (ceilDiv(M, nmt * 2) >= 2 * R) nmt *= 2;
    else break;
  }
  const long mc = roundUp(ceilDiv(M, nmt), R), nc = roundUp(ceilDiv(N, nnt), C);
  nmt = ceilDiv(M, mc);
  nnt = ceilDiv(N, nc);
  ensureThreadScratch(kSlotC, mc * nc * VL);
  auto task = [&](long t, int tid) {
    const long m0 = (t % nmt) * mc, n0 = (t / nmt) * nc;
    const long mrows = minOf(mc, M - m0), ncols = minOf(nc, N - n0);
    const long mcb = ceilDiv(mrows, R), ncb = ceilDiv(ncols, C);
    vf* acc = reinterpret_cast<vf*>(threadScratch(kSlotC, tid));
    for (long q = 0; q < mcb * ncb * R * C; ++q) acc[q] = vf{};
    for (long b = 0; b < g.B; ++b) {
      const float* db = dg + b * M * gs;
      const float* xb = xpad + b * g.I * g.plane;
      if (dbias && n0 == 0) {
        // one float += per image, as the reference (pad columns of dg are zero)
        for (long i = 0; i < mrows; ++i)
          dbias[m0 + i] = static_cast<float>(dbias[m0 + i] + planeSum(db + (m0 + i) * gs, gs));
      }
      for (long k0 = 0; k0 < g.Np; k0 += DK) {
        const long len = minOf(DK, g.Np - k0);
        for (long mb = 0; mb < mcb; ++mb) {
          const float* a[R];
          // rows (columns) past the tile's edge repeat the last one; their sums are dropped
          for (int r = 0; r < R; ++r) a[r] = db + minOf(m0 + mb * R + r, M - 1) * gs + k0;
          for (long nb = 0; nb < ncb; ++nb) {
            const float* bc[C];
            for (int j = 0; j < C; ++j) bc[j] = xb + colOff[minOf(n0 + nb * C + j, N - 1)] + k0;
            dotBlock<kRelu, R, C>(a, bc, len, acc + (mb * ncb + nb) * R * C);
          }
        }
      }
    }
    for (long i = 0; i < mrows; ++i) {
      const long o = m0 + i;
      for (long j = 0; j < ncols; ++j) {
        const vf v = acc[((i / R) * ncb + j / C) * R * C + (i % R) * C + j % C];
        float s = 0.f;
        for (int l = 0; l < VL; ++l) s += v[l];
        const long n = n0 + j, ci = n / g.T, tap = taps[n - ci * g.T];
        dw[(o * g.I + ci) * g.KK + tap] += s;
      }
    }
  };
  pfor(nmt * nnt, task);
}

// A[m][k = c·T + t] = w[...] for the forward (m = o, c = i) and backward-data (m = i, c = o)
// weight views: w is (O, I, KK); wIndex(m, c) gives (o·I + i)·KK.
template <class WIndex>
void prepackWeights(float* Ap, long M, long K, int kcn, const float* w, const int32_t* taps, int T,
                    WIndex wIndex) {
  auto panel = [&](float* d, long m0, int mrows, long k0, int kcb) {
    for (int kk = 0; kk < kcb; ++kk) {
      const long k = k0 + kk, c = k / T;
      const int32_t tap = taps[k - c * T];
      int r = 0;
      for (; r < mrows; ++r) d[kk * MR + r] = w[wIndex(m0 + r, c) + tap];
      for (; r < MR; ++r) d[kk * MR + r] = 0.f;
    }
  };
  prepackA(Ap, M, K, kcn, panel);
}

// Shared driver of forward and backward data: dst_b (M, p') (=|+=) A (M, K) · rows_b (K, p'),
// plus bias (forward), or only where gate > 0 (backward data through a ReLU).
template <bool kAccumulate>
void convAsGemm(float* dst, const float* padded, const float* Ap, const int32_t* rowOff, long M,
                long K, int kcn, long channelsIn, const Geo& g, const float* bias,
                const float* gate = nullptr, const float* residual = nullptr, bool reluB = false) {
  const long Mpad = roundUp(M, MR);
  const Tiling tl = chooseTiling(M, g.Np, g.B);
  const long ldc = tl.ldc();
  ensureThreadScratch(kSlotB, kcn * ldc);
  ensureThreadScratch(kSlotC, tl.cFloats());
  const long perImage = static_cast<long>(tl.nmt) * tl.nnt;
  auto task = [&](long t, int tid) {
    const long b = t / perImage, r = t - b * perImage;
    const long m0 = (r % tl.nmt) * tl.mc, n0 = (r / tl.nmt) * tl.nc;
    const int mrows = static_cast<int>(minOf<long>(tl.mc, M - m0));
    const int ncols = static_cast<int>(minOf<long>(tl.nc, g.Np - n0));
    const float* src = padded + b * channelsIn * g.plane;
    auto bpack = [&](float* d, long k0, int kcb, long nn0, int nc) {
      auto row = [&](long k) { return src + rowOff[k]; };
      if (reluB) packBRows<true>(d, k0, kcb, nn0, nc, row);
      else packBRows<false>(d, k0, kcb, nn0, nc, row);
    };
    float* Cb = threadScratch(kSlotC, tid);
    // Activations outgrow the caches: ask for the tile's output lines now, so that their misses
    // overlap with the GEMM instead of stalling the epilogue's stores (and gate loads).
    {
      const long y0 = n0 / g.Wp, y1 = (n0 + ncols - 1) / g.Wp;
      const long p0 = y0 * g.W, p1 = minOf(g.HW, (y1 + 1) * g.W);
      for (int i = 0; i < mrows; ++i) {
        const float* o = dst + (b * M + m0 + i) * g.HW;
        for (long q = p0; q < p1; q += 16) __builtin_prefetch(o + q, 1, 3);
        const float* in = gate ? gate : residual;
        if (in) {
          const float* gt = in + (b * M + m0 + i) * g.HW;
          for (long q = p0; q < p1; q += 16) __builtin_prefetch(gt + q, 0, 3);
        }
      }
    }
    computeTile(Ap, Mpad, K, kcn, m0, mrows, n0, ncols, bpack, Cb, ldc, threadScratch(kSlotB, tid),
                false);
    for (int i = 0; i < mrows; ++i) {
      float* out = dst + (b * M + m0 + i) * g.HW;
      const float* c = Cb + i * ldc;
      const float bv = bias ? bias[m0 + i] : 0.f;
      if (gate) {
        const float* gt = gate + (b * M + m0 + i) * g.HW;
        forRealPixels(n0, ncols, g, [&](long j, long pix, long len) {
          for (long q = 0; q < len; ++q) {
            const float cv = c[j + q];  // read unconditionally: a conditional read becomes a masked load
            const float v = gt[pix + q] > 0.f ? cv : 0.f;
            out[pix + q] = kAccumulate ? out[pix + q] + v : v;
          }
        });
        continue;
      }
      if (residual) {
        const float* rs = residual + (b * M + m0 + i) * g.HW;
        forRealPixels(n0, ncols, g, [&](long j, long pix, long len) {
          for (long q = 0; q < len; ++q) out[pix + q] = c[j + q] + bv + rs[pix + q];
        });
        continue;
      }
      forRealPixels(n0, ncols, g, [&](long j, long pix, long len) {
        if (kAccumulate) for (long q = 0; q < len; ++q) out[pix + q] += c[j + q];
        else for (long q = 0; q < len; ++q) out[pix + q] = c[j + q] + bv;
      });
    }
  };
  pfor(g.B * perImage, task);
}

}  // namespace

void conv2dForward(float* out, const float* x, const float* w, const float* bias,
                   const ConvDims& d, const int32_t* taps, int ntaps, const float* residual,
                   int reluInput) {
  const Geo g = geometry(d, ntaps);
  if (g.B == 0 || g.O == 0 || g.HW == 0) return;
  const long K = g.I * g.T;
  if (K == 0) {
    for (long b = 0; b < g.B; ++b)
      for (long o = 0; o < g.O; ++o) {
        float* p = out + (b * g.O + o) * g.HW;
        const float v = bias ? bias[o] : 0.f;
        const float* r = residual ? residual + (b * g.O + o) * g.HW : nullptr;
        for (long q = 0; q < g.HW; ++q) p[q] = v + (r ? r[q] : 0.f);
      }
    return;
  }
  const int kcn = kBlock(K);
  float* Ap = sharedScratch(kSharedA, roundUp(g.O, MR) * K);
  prepackWeights(Ap, g.O, K, kcn, w, taps, g.T, [&](long o, long i) { return (o * g.I + i) * g.KK; });
  int32_t* rowOff = intTable(K);
  for (long k = 0; k < K; ++k) {
    const long i = k / g.T, tap = taps[k - i * g.T];
    rowOff[k] = static_cast<int32_t>(i * g.plane + (tap / g.KW) * g.Wp + tap % g.KW);
  }
  bool reluLeft;
  const float* xpad = padded(x, g.B * g.I, g, reluInput != 0, &reluLeft);
  convAsGemm<false>(out, xpad, Ap, rowOff, g.O, K, kcn, g.I, g, bias, nullptr, residual, reluLeft);
}

void conv2dBackwardData(float* dx, const float* dout, const float* w, const ConvDims& d,
                        const int32_t* taps, int ntaps, int beta, const float* gate) {
  const Geo g = geometry(d, ntaps);
  const long K = g.O * g.T;
  if (g.B == 0 || g.I == 0 || g.HW == 0) return;
  if (K == 0) {
    if (!beta) memset(dx, 0, sizeof(float) * g.B * g.I * g.HW);
    return;
  }
  const int kcn = kBlock(K);
  float* Ap = sharedScratch(kSharedA, roundUp(g.I, MR) * K);
  prepackWeights(Ap, g.I, K, kcn, w, taps, g.T, [&](long i, long o) { return (o * g.I + i) * g.KK; });
  int32_t* rowOff = intTable(K);
  for (long k = 0; k < K; ++k) {
    const long o = k / g.T, tap = taps[k - o * g.T];
    rowOff[k] = static_cast<int32_t>(o * g.plane + (g.KH - 1 - tap / g.KW) * g.Wp +
                                     (g.KW - 1 - tap % g.KW));
  }
  const float* dpad = padded(dout, g.B * g.O, g);
  if (beta) convAsGemm<true>(dx, dpad, Ap, rowOff, g.I, K, kcn, g.O, g, nullptr, gate);
  else convAsGemm<false>(dx, dpad, Ap, rowOff, g.I, K, kcn, g.O, g, nullptr, gate);
}

void conv2dBackwardFilter(float* dw, float* dbias, const float* dout, const float* x,
                          const ConvDims& d, const int32_t* taps, int ntaps, int reluInput) {
  const Geo g = geometry(d, ntaps);
  if (g.O == 0) return;
  const long N = g.I * g.T, M = g.O;
  // The filter tasks also sum the bias gradient; only when none run (no taps, images or pixels)
  // does it get a pass of its own.
  const bool tasksRun = N > 0 && g.B > 0 && g.HW > 0;
  if (dbias && g.B > 0 && !tasksRun) {
    auto task = [&](long o, int) {
      double acc = dbias[o];
      for (long b = 0; b < g.B; ++b) {
        acc = static_cast<float>(acc + planeSum(dout + (b * g.O + o) * g.HW, g.HW));  // one float += per image, as the reference
      }
      dbias[o] = static_cast<float>(acc);
    };
    if (g.O * g.B * g.HW < 65536) for (long o = 0; o < g.O; ++o) task(o, 0);
    else pfor(g.O, task);
  }
  if (!tasksRun) return;
  // dout on the padded grid, zero in the KW/2 pad columns of each row (a one-column kernel's
  // grid is the image's own).
  const float* dg = dout;
  long gs = g.HW;
  if (g.Wp != g.W) {
    gs = g.H * g.Wp;
    float* t = sharedScratch(kSharedA, g.B * g.O * gs);
    auto pad = [&](long p, int) {
      const float* s = dout + p * g.HW;
      float* d = t + p * gs;
      for (long y = 0; y < g.H; ++y) {
        memcpy(d + y * g.Wp, s + y * g.W, sizeof(float) * g.W);
        memset(d + y * g.Wp + g.W, 0, sizeof(float) * (g.Wp - g.W));
      }
    };
    pfor(g.B * g.O, pad);
    dg = t;
  }
  int32_t* colOff = intTable(N);
  for (long n = 0; n < N; ++n) {
    const long i = n / g.T, tap = taps[n - i * g.T];
    colOff[n] = static_cast<int32_t>(i * g.plane + (tap / g.KW) * g.Wp + tap % g.KW);
  }
  bool reluLeft;
  const float* xpad = padded(x, g.B * g.I, g, reluInput != 0, &reluLeft);
#if PIXELCNN_VL == 16
  // 32 registers: 4 x 4 blocks (8 loads per 16 FMAs; R and C divide the power-of-two channel
  // counts), and 8 x 2 through a ReLU, which clamps 2 b vectors per 16 FMAs instead of 4.
  if (reluLeft) filterGradient<true, 8, 2>(dw, dbias, dg, gs, xpad, colOff, taps, M, N, g);
  else filterGradient<false, 4, 4>(dw, dbias, dg, gs, xpad, colOff, taps, M, N, g);
#else
  if (reluLeft) filterGradient<true, 6, 2>(dw, dbias, dg, gs, xpad, colOff, taps, M, N, g);
  else filterGradient<false, 4, 3>(dw, dbias, dg, gs, xpad, colOff, taps, M, N, g);
#endif
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
