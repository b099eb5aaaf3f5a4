// Stride-1 'same' convolutions over the live taps only, as GEMMs on the engine of gemm_impl.h.
//
// Forward and backward data read the unpadded planes. Output column p is the pixel y·W + x, and
// every im2col row (channel c, tap t) is the plane c read from a constant offset (the tap's shift
// sy·W + sx) onwards, contiguous: a ShiftedRow. Where the source pixel falls outside the image
// (rows above or below it, columns that wrap into the neighbouring row) the row holds zero. So the
// B panels are packed with vector copies straight from the activations, masked per column chunk,
// masked taps never appear in K, and neither an im2col matrix nor a padded copy is ever built.
//   forward:         out_b (O, p)  = W (O, I·T)   · cols_b (I·T, p),   row (i,t) = x_i shifted by (ky − KH/2, kx − KW/2)
//   backward data:   dx_b (I, p) (=|+=) [gate > 0] Wᵀ (I, O·T) · dcols_b (O·T, p), row (o,t) = dout_o shifted by (KH/2 − ky, KW/2 − kx)
// The backward filter reads both operands in place as blocks of dot products (dotBlock) rather
// than on the packed GEMM engine, whose transposing packs had cost as much as the arithmetic. Each
// of its tasks takes a chunk of the batch and copies x, image by image, into zero-padded planes
// of Hp rows of Wp in its scratch (Hp = H + KH − 1, Wp = W + KW/2, image at (KH/2, KW/2)), plus
// KW/2 + VL zeros at the end: a row has one margin of KW/2 zero columns, which serves as the right
// margin of the row above as well as the left margin of its own. On that padded grid,
// p' = y·Wp + x, every tap is a constant offset with zeros where it leaves the image, so no masks
// are needed inside the dot products (the task copies dout onto the grid too):
//   backward filter: dW (O, I·T)   += Σ_b doutg_b (O, p') · cols_b' (p', I·T)   (doutg: dout on the padded grid, 0 off-image)
// Each dW element is summed in a fixed order (pixels by lanes, the lanes of each image, the
// images of a chunk, the chunks, whose number does not depend on the threads), so it is
// deterministic whatever the thread count.
#include "gemm_impl.h"
#include "kernels.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

struct Geo {
  long B, I, O, H, W, KH, KW, HW, KK, Hp, Wp, plane, Np;
  int T;
  long P;  // planes per channel of x in the filter gradient: 1, or a stride-2 input's 4 phases
};

Geo geometry(const ConvDims& d, int ntaps) {
  Geo g;
  g.B = d.B; g.I = d.I; g.O = d.O; g.H = d.H; g.W = d.W; g.KH = d.KH; g.KW = d.KW;
  g.HW = g.H * g.W;
  g.KK = g.KH * g.KW;
  g.Hp = g.H + g.KH - 1;
  g.Wp = g.W + g.KW / 2;
  // The last row's reads run KW/2 past the grid, and the filter gradient's last vector up to VL − 1
  // floats further (zeros, multiplied by dout's zeros past the grid). A 1×1 kernel's planes are
  // the image's own, read in place.
  g.plane = g.KK > 1 ? g.Hp * g.Wp + g.KW / 2 + VL : g.HW;
  g.Np = g.H > 0 ? (g.H - 1) * g.Wp + g.W : 0;
  g.T = ntaps;
  g.P = 1;
  return g;
}

// Row copies of a few dozen floats, inline: as libc calls (two per row) they had cost more than
// the copying itself.
template <bool kRelu>
PIXELCNN_INLINE void copyRow(float* d, const float* s, long n) {
  long q = 0;
  for (; q + VL <= n; q += VL) storeu(d + q, kRelu ? reluv(loadu(s + q)) : loadu(s + q));
  for (; q < n; ++q) d[q] = kRelu ? relus(s[q]) : s[q];
}
PIXELCNN_INLINE void zeroRow(float* d, long n) {
  long q = 0;
  for (; q + VL <= n; q += VL) storeu(d + q, vf{});
  for (; q < n; ++q) d[q] = 0.f;
}

// Copies one plane (H, W) into a zero-padded plane (Hp, Wp), through a ReLU with kRelu.
template <bool kRelu>
PIXELCNN_INLINE void padPlane(float* d, const float* s, const Geo& g) {
  const long ph = g.KH / 2, pw = g.KW / 2, H = g.H, W = g.W, Wp = g.Wp;
  zeroRow(d, ph * Wp + pw);
  for (long y = 0; y < H; ++y) {
    float* row = d + (y + ph) * Wp + pw;
    copyRow<kRelu>(row, s + y * W, W);
    // the shared margin: right of this row, left of the next (Wp − W = pw)
    zeroRow(row + W, pw);
  }
  const long done = H > 0 ? (H + ph) * Wp + pw : ph * Wp + pw;
  zeroRow(d + done, g.plane - done);
}

// Copies one plane (H, W) onto the padded grid's H rows of Wp, zero in the Wp − W pad columns and
// on to n floats (the grid rounded up to whole vectors).
PIXELCNN_INLINE void gridPlane(float* d, const float* s, const Geo& g, long n) {
  for (long y = 0; y < g.H; ++y) {
    copyRow<false>(d + y * g.Wp, s + y * g.W, g.W);
    zeroRow(d + y * g.Wp + g.W, g.Wp - g.W);
  }
  zeroRow(d + g.H * g.Wp, n - g.H * g.Wp);
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
// Pixels per pass over an image's rows, which stay in L2 between the blocks that read them: with
// AVX-512 (1–2 MiB of L2 per core) a 28×28 or 32×32 image takes one pass.
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

// Lane sums of VL vectors at once, by halving: at span S, two vectors whose segments of 2S lanes
// each hold one accumulator's partial sums become one whose segments of S lanes do, with a's and
// b's segments interleaved. After log2(VL) levels lane l holds the sum of v[laneOwner(l)].
template <int... L> struct Lanes {};
template <int N, int... L> struct LaneSeq : LaneSeq<N - 1, N - 1, L...> {};
template <int... L> struct LaneSeq<0, L...> { using type = Lanes<L...>; };
// Lane l of the low halves: in a segment of 2S lanes, the first S come from a's segment and the
// next S from b's (index VL + ·), each its low half; the high halves are S lanes further on.
constexpr int lowLane(int S, int l) { return l % (2 * S) < S ? l : VL + l - S; }
template <int S, int... L>
PIXELCNN_INLINE vf foldHalves(vf a, vf b, Lanes<L...>) {
#if defined(__clang__)  // the wasm build (clang has no __builtin_shuffle; the same permutation)
  return __builtin_shufflevector(a, b, lowLane(S, L)...) +
         __builtin_shufflevector(a, b, (lowLane(S, L) + S)...);
#else
  const vi lo = {lowLane(S, L)...}, hi = {(lowLane(S, L) + S)...};
  return __builtin_shuffle(a, b, lo) + __builtin_shuffle(a, b, hi);
#endif
}
template <int S>
PIXELCNN_INLINE void foldLevels(vf* v, int n) {
  for (int k = 0; k < n / 2; ++k) v[k] = foldHalves<S>(v[2 * k], v[2 * k + 1], typename LaneSeq<VL>::type{});
  if constexpr (S > 1) foldLevels<S / 2>(v, n / 2);
}
PIXELCNN_INLINE vf laneSums(vf* v) {
  foldLevels<VL / 2>(v, VL);
  return v[0];
}
// The vector whose sums lane l of laneSums holds: each level interleaves a's and b's segments.
struct LaneOwners {
  int of[VL];
  LaneOwners() {
    int lab[VL][VL], len = 1, n = VL;
    for (int k = 0; k < VL; ++k) lab[k][0] = k;
    while (n > 1) {
      for (int k = 0; k < n / 2; ++k) {
        int out[VL];
        for (int q = 0; q < len; ++q) {
          out[2 * q] = lab[2 * k][q];
          out[2 * q + 1] = lab[2 * k + 1][q];
        }
        for (int q = 0; q < 2 * len; ++q) lab[k][q] = out[q];
      }
      n /= 2;
      len *= 2;
    }
    for (int l = 0; l < VL; ++l) of[l] = lab[0][l];
  }
};

// Images per partial sum of the filter gradient: the batch is cut into at most kImageChunks
// chunks of consecutive images, a number that does not depend on the threads, so neither do the
// results.
constexpr long kImageChunks = 8;

// dW (M = O, N = I·T) += Σ_b doutg_b (M, p') · cols_bᵀ on R x C blocks, where column n of image b
// is relu(x) (reluX) or x on the padded grid from colOff[n] onwards. A 1×1 kernel's grid is the
// image's own: its tasks read x and dout in place, the ReLU on the fly (kRelu == reluX). Otherwise
// each task copies, image by image, the x planes of its tile's channels into padded planes and
// its tile's rows of dout onto the grid, both in its scratch, where the dot blocks find them in L2.
// A task owns one chunk of images and one tile of dW (the whole of it unless there are more
// threads than chunks): every plane of x and dout is read from memory, and copied, once. Each
// block's R x C dot products run over one image in registers, are summed across lanes
// (laneSums) and added to the chunk's partial dW; the partials are added to dW in chunk order.
// (Tiles that took every image had read dout once per column tile, and copied it as often.)
// With dbias, the tasks of the first column tile also sum dout of their rows, image by image just
// before the dot blocks read those rows: one pass over dout from memory instead of two.
template <bool kRelu, int R, int C>
void filterGradient(float* dw, float* dbias, const float* dout, const float* x,
                    const int32_t* colOff, const int32_t* taps, long M, long N, const Geo& g,
                    bool reluX) {
  const bool padX = g.KK > 1, gridDout = g.Wp != g.W;
  // Floats of a dout row on the grid, rounded up to whole vectors with zeros: the dot products
  // then run over whole vectors (a scalar tail had cost 11 of 811 pixels' worth of scalar FMAs per
  // block, about a sixth of the instructions). In place (1×1 and one-column kernels) they keep
  // the tail, having no zeros to run into.
  const long gs = gridDout ? roundUp(g.H * g.Wp, VL) : g.HW;
  const long Np = gridDout ? roundUp(g.Np, VL) : g.Np;
  const long nch = minOf(g.B, kImageChunks), perChunk = ceilDiv(g.B, nch);
  const long chunks = ceilDiv(g.B, perChunk);
  // Tiles only when the chunks cannot keep every thread busy twice over.
  long nmt = 1, nnt = 1;
  const long want = 2L * numThreads();
  while (chunks * nmt * nnt < want) {
    if (ceilDiv(N, nnt * 2) >= 4 * C) nnt *= 2;
    else if (ceilDiv(M, nmt * 2) >= 2 * R) nmt *= 2;
    else break;
  }
  const long mc = roundUp(ceilDiv(M, nmt), R), nc = roundUp(ceilDiv(N, nnt), C);
  nmt = ceilDiv(M, mc);
  nnt = ceilDiv(N, nc);
  constexpr int RC = R * C, RCpad = (RC + VL - 1) / VL * VL;
  const long MB = ceilDiv(M, R), NB = ceilDiv(N, C);  // blocks of dW (tiles hold whole blocks)
  const long chunkFloats = roundUp(MB * NB * RCpad + M, VL);  // a chunk's partial dW blocks, then dbias
  float* partial = sharedScratch(kSharedPartial, chunks * chunkFloats);
  const long xLocal = padX ? (nc / g.T + 2) * g.P * g.plane : 0;  // planes of a tile's columns' channels, at most
  if (padX || gridDout) ensureThreadScratch(kSlotT, xLocal + (gridDout ? mc * gs : 0));
  auto task = [&](long t, int tid) {
    const long ch = t / (nmt * nnt), tile = t - ch * nmt * nnt;
    const long m0 = (tile % nmt) * mc, n0 = (tile / nmt) * nc;
    const long mrows = minOf(mc, M - m0), ncols = minOf(nc, N - n0);
    const long mcb = ceilDiv(mrows, R), ncb = ceilDiv(ncols, C);
    float* pw = partial + ch * chunkFloats;
    float* pb = pw + MB * NB * RCpad;
    for (long mb = 0; mb < mcb; ++mb) {
      float* blk = pw + ((m0 / R + mb) * NB + n0 / C) * RCpad;
      for (long q = 0; q < ncb * RCpad; ++q) blk[q] = 0.f;
    }
    if (n0 == 0) for (long i = 0; i < mrows; ++i) pb[m0 + i] = 0.f;
    // the channels of this tile's columns
    const long i0 = n0 / g.T, i1 = (n0 + ncols - 1) / g.T + 1;
    float* local = padX || gridDout ? threadScratch(kSlotT, tid) : nullptr;
    const long b1 = minOf(g.B, (ch + 1) * perChunk);
    for (long b = ch * perChunk; b < b1; ++b) {
      const float* db = dout + (b * M + m0) * g.HW;  // this tile's first row
      if (gridDout) {
        for (long i = 0; i < mrows; ++i) gridPlane(local + xLocal + i * gs, db + i * g.HW, g, gs);
        db = local + xLocal;
      }
      const float* xb = x + b * g.I * g.P * g.HW;
      long shift = 0;  // xb + colOff[n] − shift is column n
      if (padX) {
        for (long i = 0; i < (i1 - i0) * g.P; ++i) {
          if (reluX) padPlane<true>(local + i * g.plane, xb + (i0 * g.P + i) * g.HW, g);
          else padPlane<false>(local + i * g.plane, xb + (i0 * g.P + i) * g.HW, g);
        }
        xb = local;
        shift = i0 * g.P * g.plane;
      }
      if (dbias && n0 == 0) {
        // one float += per image, over the grid without its vector round-up (its pad columns
        // are zero; in place, H·Wp is H·W)
        for (long i = 0; i < mrows; ++i)
          pb[m0 + i] = static_cast<float>(pb[m0 + i] + planeSum(db + i * gs, g.H * g.Wp));
      }
      for (long k0 = 0; k0 < Np; k0 += DK) {
        const long len = minOf(DK, Np - k0);
        for (long mb = 0; mb < mcb; ++mb) {
          const float* a[R];
          // rows (columns) past the tile's edge repeat its last one; their sums are dropped
          for (int r = 0; r < R; ++r) a[r] = db + minOf(mb * R + r, mrows - 1) * gs + k0;
          float* blk = pw + ((m0 / R + mb) * NB + n0 / C) * RCpad;
          for (long nb = 0; nb < ncb; ++nb) {
            const float* bc[C];
            for (int j = 0; j < C; ++j) bc[j] = xb + (colOff[n0 + minOf(nb * C + j, ncols - 1)] - shift) + k0;
            vf acc[RCpad] = {};
            dotBlock<kRelu, R, C>(a, bc, len, acc);
            for (int q = 0; q < RCpad; q += VL) {
              float* p = blk + nb * RCpad + q;
              store(p, load(p) + laneSums(acc + q));
            }
          }
        }
      }
    }
  };
  pfor(chunks * nmt * nnt, task);
  // dW += Σ over chunks, in chunk order; partial block (mb, nb) lane q·VL + l holds (r, j) =
  // owner(q·VL + l) of block row r = ·/C, column j = ·%C.
  static const LaneOwners owners;
  auto reduce = [&](long mb, int) {
    for (long nb = 0; nb < NB; ++nb) {
      for (int q = 0; q < RCpad; ++q) {
        const int rc = (q / VL) * VL + owners.of[q % VL];
        if (rc >= RC) continue;
        const long o = mb * R + rc / C, n = nb * C + rc % C;
        if (o >= M || n >= N) continue;
        float s = 0.f;
        for (long ch = 0; ch < chunks; ++ch) s += partial[ch * chunkFloats + (mb * NB + nb) * RCpad + q];
        const long ci = n / g.T, tap = taps[n - ci * g.T];
        dw[(o * g.I + ci) * g.KK + tap] += s;
      }
    }
  };
  pfor(MB, reduce);
  if (dbias) {
    for (long o = 0; o < M; ++o) {
      float s = 0.f;
      for (long ch = 0; ch < chunks; ++ch) s += partial[ch * chunkFloats + MB * NB * RCpad + o];
      dbias[o] += s;
    }
  }
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

// One im2col row (channel c, tap t) of a forward or backward-data GEMM, read from the unpadded
// planes: column p (pixel y·W + x) is src[off + p] where that pixel's source lies in the image,
// zero elsewhere. The source row is in the image iff p ∈ [lo, hi), its column iff 0 ≤ x + sx < W.
struct ShiftedRow {
  int32_t off, lo, hi, sx;
};

ShiftedRow* shiftedRows(long n) {
  static_assert(sizeof(ShiftedRow) == 4 * sizeof(float), "a row table entry is four floats");
  return reinterpret_cast<ShiftedRow*>(sharedScratch(kSharedIdx, 4 * n));
}

// The row of channel c read at a shift of (sy, sx) pixels from the output pixel.
ShiftedRow shiftedRow(long c, long sy, long sx, const Geo& g) {
  ShiftedRow r;
  r.off = static_cast<int32_t>(c * g.HW + sy * g.W + sx);
  r.lo = static_cast<int32_t>(maxOf<long>(0, -sy) * g.W);
  r.hi = static_cast<int32_t>(maxOf<long>(r.lo, minOf<long>(g.H, g.H - sy) * g.W));
  r.sx = static_cast<int32_t>(sx);
  return r;
}

// Lane masks of a tile's column chunks (VL columns from n0 + j·VL) for each column shift
// sx ∈ [−pw, pw]: all ones where the source column x + sx is in the image.
void columnMasks(vi* m, long n0, int nchunks, int pw, long W) {
  for (int sx = -pw; sx <= pw; ++sx) {
    vi* ms = m + (sx + pw) * nchunks;
    long x = n0 % W;
    for (int j = 0; j < nchunks; ++j) {
      vi v;
      for (int l = 0; l < VL; ++l) {
        v[l] = x + sx >= 0 && x + sx < W ? -1 : 0;
        if (++x == W) x = 0;
      }
      ms[j] = v;
    }
  }
}

// Packs rows k0.. of the shifted-row im2col view into NR-column panels (like packBRows). src is
// the image's planes, at index srcIndex of a tensor of `total` floats. The chunks that lie wholly
// inside the row's valid range (and whose reads stay inside the tensor) are vector copies masked
// by column; the few that straddle an edge go lane by lane.
template <bool kRelu>
PIXELCNN_INLINE void packBShifted(float* dst, long k0, int kcb, long n0, int ncols, int nchunks,
                                  const float* src, long srcIndex, long total,
                                  const ShiftedRow* rows, const vi* masks, int pw, long W) {
  const long panel = static_cast<long>(kcb) * NR;
  const long nvec = ceilDiv(ncols, NR) * NV;  // chunks of the panels computeTile reads
  for (int kk = 0; kk < kcb; ++kk) {
    const ShiftedRow r = rows[k0 + kk];
    const float* s = src + r.off;
    if (kk + kPackAhead < kcb) {
      const float* f = src + rows[k0 + kk + kPackAhead].off + n0;
      for (int q = 0; q < ncols; q += 16) __builtin_prefetch(f + q, 0, 3);
    }
    const vi* m = masks + (r.sx + pw) * nchunks;
    float* d = dst + kk * NR;
    // Chunks [j0, j1) are wholly valid: p ∈ [lo, hi) and reads within the tensor.
    const long a = r.lo - n0, b = minOf<long>(r.hi - n0, ncols);
    const long first = srcIndex + r.off + n0;  // tensor index of column n0's read
    long j0 = ceilDiv(maxOf<long>(a, maxOf<long>(0, -first)), VL);
    long j1 = maxOf<long>(0, minOf<long>(b, total - first)) / VL;
    if (j1 < j0) j1 = j0;
    auto edge = [&](long j) {
      float* dd = d + (j / NV) * panel + (j % NV) * VL;
      const long q = j * VL;  // tile column of lane 0
      if (q >= b || q + VL <= a) {  // wholly outside: the common case past the last column
        store(dd, vf{});
        return;
      }
      for (int l = 0; l < VL; ++l) {
        const long p = n0 + q + l;
        float v = 0.f;
        if (q + l < b && p >= r.lo) {
          const long x = p % W + r.sx;
          if (x >= 0 && x < W) v = s[p];
        }
        dd[l] = kRelu ? relus(v) : v;
      }
    };
    long j = 0;
    for (; j < j0 && j < nvec; ++j) edge(j);
    for (; j < j1; ++j) {
      vf x = loadu(s + n0 + j * VL);
      x = reinterpret_cast<vf>(reinterpret_cast<vi>(x) & m[j]);
      store(d + (j / NV) * panel + (j % NV) * VL, kRelu ? reluv(x) : x);
    }
    for (; j < nvec; ++j) edge(j);
  }
}

// Shared driver of forward and backward data: dst_b (M, HW) (=|+=) A (M, K) · rows_b (K, HW),
// plus bias (forward), or only where gate > 0 (backward data through a ReLU). src holds the
// unpadded (channelsIn, H, W) planes of every image; g is the unpadded geometry (Wp = W).
template <bool kAccumulate>
void convAsGemm(float* dst, const float* src, const float* Ap, const ShiftedRow* rows, long M,
                long K, int kcn, long channelsIn, const Geo& g, const float* bias,
                const float* gate = nullptr, const float* residual = nullptr, bool reluB = false) {
  const long Mpad = roundUp(M, MR);
  const Tiling tl = chooseTiling(M, g.HW, g.B);
  const long ldc = tl.ldc();
  const int nchunks = static_cast<int>(ldc / VL), pw = static_cast<int>(g.KW / 2);
  const long total = g.B * channelsIn * g.HW;
  ensureThreadScratch(kSlotB, kcn * ldc);
  ensureThreadScratch(kSlotC, tl.cFloats());
  ensureThreadScratch(kSlotT, (2 * pw + 1) * ldc);
  const long perImage = static_cast<long>(tl.nmt) * tl.nnt;
  auto task = [&](long t, int tid) {
    const long b = t / perImage, r = t - b * perImage;
    const long m0 = (r % tl.nmt) * tl.mc, n0 = (r / tl.nmt) * tl.nc;
    const int mrows = static_cast<int>(minOf<long>(tl.mc, M - m0));
    const int ncols = static_cast<int>(minOf<long>(tl.nc, g.HW - n0));
    const long srcIndex = b * channelsIn * g.HW;
    vi* masks = reinterpret_cast<vi*>(threadScratch(kSlotT, tid));
    columnMasks(masks, n0, nchunks, pw, g.W);
    auto bpack = [&](float* d, long k0, int kcb, long nn0, int nc) {
      if (reluB) packBShifted<true>(d, k0, kcb, nn0, nc, nchunks, src + srcIndex, srcIndex, total, rows, masks, pw, g.W);
      else packBShifted<false>(d, k0, kcb, nn0, nc, nchunks, src + srcIndex, srcIndex, total, rows, masks, pw, g.W);
    };
    float* Cb = threadScratch(kSlotC, tid);
    // Activations outgrow the caches: ask for the tile's output lines now, so that their misses
    // overlap with the GEMM instead of stalling the epilogue's stores (and gate loads).
    {
      for (int i = 0; i < mrows; ++i) {
        const float* o = dst + (b * M + m0 + i) * g.HW;
        for (long q = n0; q < n0 + ncols; q += 16) __builtin_prefetch(o + q, 1, 3);
        const float* in = gate ? gate : residual;
        if (in) {
          const float* gt = in + (b * M + m0 + i) * g.HW;
          for (long q = n0; q < n0 + ncols; q += 16) __builtin_prefetch(gt + q, 0, 3);
        }
      }
    }
    computeTile(Ap, Mpad, K, kcn, m0, mrows, n0, ncols, bpack, Cb, ldc, threadScratch(kSlotB, tid),
                false);
    for (int i = 0; i < mrows; ++i) {
      float* out = dst + (b * M + m0 + i) * g.HW + n0;
      const float* c = Cb + i * ldc;
      const float bv = bias ? bias[m0 + i] : 0.f;
      if (gate) {
        const float* gt = gate + (b * M + m0 + i) * g.HW + n0;
        for (long q = 0; q < ncols; ++q) {
          const float cv = c[q];  // read unconditionally: a conditional read becomes a masked load
          const float v = gt[q] > 0.f ? cv : 0.f;
          out[q] = kAccumulate ? out[q] + v : v;
        }
      } else if (residual) {
        const float* rs = residual + (b * M + m0 + i) * g.HW + n0;
        for (long q = 0; q < ncols; ++q) out[q] = c[q] + bv + rs[q];
      } else if (kAccumulate) {
        for (long q = 0; q < ncols; ++q) out[q] += c[q] + bv;
      } else {
        for (long q = 0; q < ncols; ++q) out[q] = c[q] + bv;
      }
    }
  };
  pfor(g.B * perImage, task);
}

// The geometry of the forward and backward-data GEMMs: output columns are the image's pixels.
Geo unpadded(Geo g) {
  g.Hp = g.H;
  g.Wp = g.W;
  g.plane = g.HW;
  g.Np = g.HW;
  return g;
}

// The filter gradient's driver (conv2dBackwardFilter's, and the stride-2 one's on the input's
// phases): colOffOf(i, tap) is the offset of channel i's column for a tap on the padded grid.
template <class ColOffOf>
void backwardFilter(float* dw, float* dbias, const float* dout, const float* x, const Geo& g,
                    const int32_t* taps, bool reluX, ColOffOf colOffOf) {
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
  int32_t* colOff = intTable(N);
  for (long n = 0; n < N; ++n) {
    const long i = n / g.T, tap = taps[n - i * g.T];
    colOff[n] = static_cast<int32_t>(colOffOf(i, tap));
  }
  // A 1×1 kernel reads x in place through the ReLU (kRelu); otherwise the tasks' padded copies
  // have the ReLU applied.
  const bool reluLeft = g.KK == 1 && reluX;
#if PIXELCNN_VL == 16
  // 32 registers: 4 x 4 blocks (8 loads per 16 FMAs; R and C divide the power-of-two channel
  // counts), and 8 x 2 through a ReLU, which clamps 2 b vectors per 16 FMAs instead of 4.
  if (reluLeft) filterGradient<true, 8, 2>(dw, dbias, dout, x, colOff, taps, M, N, g, reluX);
  else filterGradient<false, 4, 4>(dw, dbias, dout, x, colOff, taps, M, N, g, reluX);
#else
  if (reluLeft) filterGradient<true, 6, 2>(dw, dbias, dout, x, colOff, taps, M, N, g, reluX);
  else filterGradient<false, 4, 3>(dw, dbias, dout, x, colOff, taps, M, N, g, reluX);
#endif
}

// A stride-2 convolution's dims with the output's height and width, ⌈H/2⌉ × ⌈W/2⌉.
ConvDims half(ConvDims d) {
  d.H = (d.H + 1) / 2;
  d.W = (d.W + 1) / 2;
  return d;
}

// The phase (0..3, a·2 + e) of a tap's shift (sy, sx): its parities (a, e); and ⌊v/2⌋.
PIXELCNN_INLINE int phaseOf(long sy, long sx) { return static_cast<int>((sy & 1) * 2 + (sx & 1)); }
PIXELCNN_INLINE long floorHalf(long v) { return (v - (v & 1)) / 2; }

// x (planes, H, W) → xs (planes, 4, h, w) on g's grid (h × w): phase a·2 + e of a plane holds
// x (2i + a, 2j + e), zero past the image.
void splitPhases(float* xs, const float* x, long planes, long H, long W, const Geo& g) {
  const long h = g.H, w = g.W;
  auto task = [&](long p, int) {
    const float* s = x + p * H * W;
    for (long a = 0; a < 2; ++a)
      for (long e = 0; e < 2; ++e) {
        float* d = xs + (p * 4 + a * 2 + e) * h * w;
        for (long i = 0; i < h; ++i) {
          float* row = d + i * w;
          const long y = 2 * i + a;
          long j = 0;
          if (y < H)
            for (const float* sr = s + y * W + e; 2 * j + e < W; ++j) row[j] = sr[2 * j];
          for (; j < w; ++j) row[j] = 0.f;
        }
      }
  };
  pfor(planes, task);
}

// dx (planes, H, W) (=|+=) its phases (4, planes, h, w): dx (2i + a, 2j + e) is phase a·2 + e's (i, j).
void mergePhases(float* dx, const float* phases, long planes, long H, long W, const Geo& g,
                 bool accumulate) {
  const long h = g.H, w = g.W, n = planes * h * w;
  auto task = [&](long p, int) {
    float* d = dx + p * H * W;
    for (long y = 0; y < H; ++y) {
      const float* even = phases + (y & 1) * 2 * n + p * h * w + (y >> 1) * w;
      const float* odd = even + n;
      float* row = d + y * W;
      if (accumulate) {
        for (long x = 0; x < W; ++x) row[x] += (x & 1 ? odd : even)[x >> 1];
      } else {
        for (long x = 0; x < W; ++x) row[x] = (x & 1 ? odd : even)[x >> 1];
      }
    }
  };
  pfor(planes, task);
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
  const Geo gu = unpadded(g);
  ShiftedRow* rows = shiftedRows(K);
  for (long k = 0; k < K; ++k) {
    const long i = k / g.T, tap = taps[k - i * g.T];
    rows[k] = shiftedRow(i, tap / g.KW - g.KH / 2, tap % g.KW - g.KW / 2, gu);
  }
  convAsGemm<false>(out, x, Ap, rows, g.O, K, kcn, g.I, gu, bias, nullptr, residual, reluInput != 0);
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
  // dx at pixel (y, x) gathers dout at (y − ky + KH/2, x − kx + KW/2): the taps mirrored.
  const Geo gu = unpadded(g);
  ShiftedRow* rows = shiftedRows(K);
  for (long k = 0; k < K; ++k) {
    const long o = k / g.T, tap = taps[k - o * g.T];
    rows[k] = shiftedRow(o, g.KH / 2 - tap / g.KW, g.KW / 2 - tap % g.KW, gu);
  }
  if (beta) convAsGemm<true>(dx, dout, Ap, rows, g.I, K, kcn, g.O, gu, nullptr, gate);
  else convAsGemm<false>(dx, dout, Ap, rows, g.I, K, kcn, g.O, gu, nullptr, gate);
}

void conv2dBackwardFilter(float* dw, float* dbias, const float* dout, const float* x,
                          const ConvDims& d, const int32_t* taps, int ntaps, int reluInput) {
  const Geo g = geometry(d, ntaps);
  backwardFilter(dw, dbias, dout, x, g, taps, reluInput != 0, [&](long i, long tap) {
    return i * g.plane + (tap / g.KW) * g.Wp + tap % g.KW;
  });
}

// Stride 2. Output pixel (i, j) reads input (2i + sy, 2j + sx) at a tap shifted by (sy, sx): in the
// input's phase (sy mod 2, sx mod 2), the plane of its pixels (2i + a, 2j + e), that is the pixel
// (i + ⌊sy/2⌋, j + ⌊sx/2⌋). Split into its four phases of ⌈H/2⌉ × ⌈W/2⌉ (zero past the image),
// the input makes a stride-2 convolution a stride-1 one on the output's grid, each tap reading one
// phase at a shift: the forward and the filter gradient run on conv2dForward's and
// conv2dBackwardFilter's machinery (their shifted rows read from 4·I phase planes), computing only
// the outputs kept. The backward data computes each phase of dx as a stride-1 convolution of dout
// over the taps of that phase's parity, into scratch, then interleaves the phases into dx.
void conv2dStride2Forward(float* out, const float* x, const float* w, const float* bias,
                          const ConvDims& d, const int32_t* taps, int ntaps, int beta) {
  const Geo g = unpadded(geometry(half(d), ntaps));
  if (g.B == 0 || g.O == 0 || g.HW == 0) return;
  const long K = g.I * g.T;
  if (K == 0) {
    for (long p = 0; p < g.B * g.O; ++p) {
      float* o = out + p * g.HW;
      const float v = bias ? bias[p % g.O] : 0.f;
      for (long q = 0; q < g.HW; ++q) o[q] = (beta ? o[q] : 0.f) + v;
    }
    return;
  }
  float* xs = sharedScratch(kSharedPhases, g.B * g.I * 4 * g.HW);
  splitPhases(xs, x, g.B * g.I, d.H, d.W, g);
  const int kcn = kBlock(K);
  float* Ap = sharedScratch(kSharedA, roundUp(g.O, MR) * K);
  prepackWeights(Ap, g.O, K, kcn, w, taps, g.T, [&](long o, long i) { return (o * g.I + i) * g.KK; });
  ShiftedRow* rows = shiftedRows(K);
  for (long k = 0; k < K; ++k) {
    const long i = k / g.T, tap = taps[k - i * g.T];
    const long sy = tap / g.KW - g.KH / 2, sx = tap % g.KW - g.KW / 2;
    rows[k] = shiftedRow(4 * i + phaseOf(sy, sx), floorHalf(sy), floorHalf(sx), g);
  }
  if (beta) convAsGemm<true>(out, xs, Ap, rows, g.O, K, kcn, 4 * g.I, g, bias);
  else convAsGemm<false>(out, xs, Ap, rows, g.O, K, kcn, 4 * g.I, g, bias);
}

void conv2dStride2BackwardData(float* dx, const float* dout, const float* w, const ConvDims& d,
                               const int32_t* taps, int ntaps, int beta) {
  const Geo g = unpadded(geometry(half(d), ntaps));
  const long n = g.B * g.I * g.HW;  // floats of one phase of dx
  if (g.B == 0 || g.I == 0 || g.HW == 0) return;
  float* phases = sharedScratch(kSharedPhases, 4 * n);
  int32_t* sub = reinterpret_cast<int32_t*>(sharedScratch(kSharedPartial, g.T + 1));
  for (int ph = 0; ph < 4; ++ph) {
    // The taps of this phase's parity: dx (2i' + a, 2j' + e) gathers dout (i' + (a − sy)/2, j' + (e − sx)/2).
    int T = 0;
    for (int t = 0; t < g.T; ++t) {
      const long sy = taps[t] / g.KW - g.KH / 2, sx = taps[t] % g.KW - g.KW / 2;
      if (phaseOf(sy, sx) == ph) sub[T++] = taps[t];
    }
    float* dst = phases + ph * n;
    const long K = g.O * T;
    if (K == 0) {
      memset(dst, 0, sizeof(float) * n);
      continue;
    }
    const int kcn = kBlock(K);
    float* Ap = sharedScratch(kSharedA, roundUp(g.I, MR) * K);
    prepackWeights(Ap, g.I, K, kcn, w, sub, T, [&](long i, long o) { return (o * g.I + i) * g.KK; });
    ShiftedRow* rows = shiftedRows(K);
    const long a = ph >> 1, e = ph & 1;
    for (long k = 0; k < K; ++k) {
      const long o = k / T, tap = sub[k - o * T];
      const long sy = tap / g.KW - g.KH / 2, sx = tap % g.KW - g.KW / 2;
      rows[k] = shiftedRow(o, (a - sy) / 2, (e - sx) / 2, g);
    }
    convAsGemm<false>(dst, dout, Ap, rows, g.I, K, kcn, g.O, g, nullptr);
  }
  mergePhases(dx, phases, g.B * g.I, d.H, d.W, g, beta != 0);
}

void conv2dStride2BackwardFilter(float* dw, float* dbias, const float* dout, const float* x,
                                 const ConvDims& d, const int32_t* taps, int ntaps) {
  Geo g = geometry(half(d), ntaps);  // the padded planes are the phases'
  g.P = 4;
  float* xs = nullptr;
  if (g.B > 0 && g.I > 0 && g.HW > 0 && g.T > 0 && g.O > 0) {
    xs = sharedScratch(kSharedPhases, g.B * g.I * 4 * g.HW);
    splitPhases(xs, x, g.B * g.I, d.H, d.W, g);
  }
  backwardFilter(dw, dbias, dout, xs, g, taps, false, [&](long i, long tap) {
    const long sy = tap / g.KW - g.KH / 2, sx = tap % g.KW - g.KW / 2;
    return (4 * i + phaseOf(sy, sx)) * g.plane + (floorHalf(sy) + g.KH / 2) * g.Wp + floorHalf(sx) + g.KW / 2;
  });
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
