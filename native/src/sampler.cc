// Cached (incremental) sampling of the residual PixelCNN (Ramachandran et al. 2017), the native
// counterpart of PixelCnnIncremental in src/sample/incremental/pixelcnn.ts: the whole generation
// loop of src/sample/cached.ts in one call. The network and its layout: SamplerNet (kernels.h),
// checked by addon.cc's SampleCachedPixelCnn.
//
// Every draw at temperature > 0 consumes exactly one rng.uniform(), so the uniforms are drawn
// up front in sampleNaive's order (position-major, image-minor) and image groups (up to 4 images;
// within a group every weight row is loaded once for all its images) run through all positions
// in parallel without synchronisation, each draw using its pre-drawn uniform with sampleLevel's
// arithmetic in double precision: a seed gives the same images as the js backend (up to float
// ties and last-ulp differences of exp between V8 and libm).
// Each output of a layer is one chain of multiply-adds over its inputs in order (fused where the
// instruction set has FMA) in every vector width, but the single-column loop past the last whole
// 8 columns is not (GCC vectorises its products and adds them in order, unfused): so avx512 and
// avx2 both vectorise exactly the first multiple of 8 columns and give the same results.
#include <math.h>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr int kGroup = 4;  // images per task
enum { kSlotGroup = 0 };                          // thread scratch: a group's activations
enum { kSharedLogits = 0, kSharedUniforms = 1 };  // shared scratch

// xoshiro128** and Rng.uniform() of src/nn/rng.ts.
struct Xoshiro {
  uint32_t s[4];
  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t next() {
    const uint32_t result = rotl(s[1] * 5u, 7) * 9u;
    const uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
  double uniform() { return static_cast<double>(next()) / 4294967296.0; }
};

// sampleLevel of src/sample/categorical.ts over contiguous logits (levels = 1: sigmoid), given
// the one rng.uniform() it draws when temperature > 0 (none at temperature 0).
int sampleLevel(const float* logits, int levels, double temperature, double uniform) {
  if (levels == 1) {
    const double z = logits[0];
    if (temperature == 0) return z > 0 ? 1 : 0;
    return uniform < 1 / (1 + exp(-z / temperature)) ? 1 : 0;
  }
  double max = -INFINITY;
  int arg = 0;
  for (int k = 0; k < levels; ++k) {
    const double v = logits[k];
    if (v > max) { max = v; arg = k; }
  }
  if (temperature == 0) return arg;
  double sum = 0;
  for (int k = 0; k < levels; ++k) sum += exp((static_cast<double>(logits[k]) - max) / temperature);
  double u = uniform * sum;
  for (int k = 0; k < levels; ++k) {
    u -= exp((static_cast<double>(logits[k]) - max) / temperature);
    if (u < 0) return k;
  }
  return levels - 1;
}

template <class V>
PIXELCNN_INLINE V loadAny(const float* p) {
  V v;
  memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
PIXELCNN_INLINE void storeAny(float* p, V v) {
  memcpy(p, &v, sizeof v);
}

// Columns [j, j + NV·width of V) of the N images' outputs (see dense).
template <int N, int NV, class V>
PIXELCNN_INLINE void denseBlock(const SamplerLayer& l, int j, const float* const* g, int K,
                                float* const* out, bool accumulate, bool relu) {
  constexpr int W = sizeof(V) / sizeof(float);
  const int O = l.O;
  V a[N][NV];
  for (int v = 0; v < NV; ++v) {
    const V b = loadAny<V>(l.bias + j + v * W);
    for (int i = 0; i < N; ++i) a[i][v] = accumulate ? loadAny<V>(out[i] + j + v * W) + b : b;
  }
  const float* w = l.w + j;
  for (int k = 0; k < K; ++k, w += O) {
    V wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = loadAny<V>(w + v * W);
    for (int i = 0; i < N; ++i) {
      const V x = g[i][k] - V{};  // broadcast (x − (+0) = x exactly)
      for (int v = 0; v < NV; ++v) a[i][v] += x * wv[v];
    }
  }
  for (int i = 0; i < N; ++i)
    for (int v = 0; v < NV; ++v)
      storeAny(out[i] + j + v * W, relu ? (a[i][v] > V{} ? a[i][v] : V{}) : a[i][v]);
}

// out[i] (O) = (accumulate ? out[i] : 0) + bias + g[i] (K) · w (K × O), optional ReLU (max(v, +0)),
// i < N: blocks of two vectors, one vector, half a vector (avx512 only: 8 columns, see the top),
// then single columns.
template <int N>
void denseN(const SamplerLayer& l, const float* const* g, int K, float* const* out, bool accumulate,
            bool relu) {
  const int O = l.O;
  int j = 0;
  for (; j + 2 * VL <= O; j += 2 * VL) denseBlock<N, 2, vf>(l, j, g, K, out, accumulate, relu);
  for (; j + VL <= O; j += VL) denseBlock<N, 1, vf>(l, j, g, K, out, accumulate, relu);
#if PIXELCNN_VL == 16
  typedef float vhalf __attribute__((vector_size(VL * 2)));
  for (; j + VL / 2 <= O; j += VL / 2) denseBlock<N, 1, vhalf>(l, j, g, K, out, accumulate, relu);
#endif
  for (; j < O; ++j) {
    for (int i = 0; i < N; ++i) {
      float s = accumulate ? out[i][j] + l.bias[j] : l.bias[j];
      for (int k = 0; k < K; ++k) s += g[i][k] * l.w[static_cast<long>(k) * O + j];
      out[i][j] = relu ? relus(s) : s;
    }
  }
}

void dense(const SamplerLayer& l, int n, const float* const* g, int K, float* const* out, bool acc,
           bool relu) {
  switch (n) {
    case 1: denseN<1>(l, g, K, out, acc, relu); break;
    case 2: denseN<2>(l, g, K, out, acc, relu); break;
    case 3: denseN<3>(l, g, K, out, acc, relu); break;
    default: denseN<4>(l, g, K, out, acc, relu); break;
  }
}

struct Net {
  const SamplerNet* s;
  const SamplerLayer* input;
  const SamplerLayer* blocks;  // 3 per block
  const SamplerLayer* out1;
  const SamplerLayer* head;    // per colour
  long maxK;                   // the widest gathered input, rounded up to 16
  long scratchPerThread;
};

// A whole generation run: positions [start, end), the uniforms pre-drawn in sampleNaive's order.
struct Run {
  const Net* net;
  long start, end;
  double temperature;
  const double* uniforms;  // ((end − start), B), or null at temperature 0
  float* logitsOut;        // ((end − start), B, perColour) or null
  float* logits;           // (B, perColour)
};

// One group of up to kGroup images at one pixel: every layer, caches of the pixel, logits.
void runGroup(const Net& net, long group, int tid, int pixel, int colour, float* logits) {
  const SamplerNet& s = *net.s;
  const int C = s.C, W = s.W, HW = s.H * s.W, h = s.h, h2 = s.h / 2, d = s.d;
  const int b0 = static_cast<int>(group) * kGroup, n = minOf(kGroup, s.B - b0);
  const int py = pixel / W, px = pixel % W;
  float* base = threadScratch(kSlotGroup, tid);
  float *gath[kGroup], *hb[kGroup], *rb[kGroup], *a2[kGroup], *o1[kGroup], *cp[kGroup], *lg[kGroup];
  for (int i = 0; i < n; ++i) {
    float* p = base + i * (net.maxK + 2 * h + h2 + d);
    gath[i] = p; p += net.maxK;
    hb[i] = p; p += h;
    rb[i] = p; p += h;
    a2[i] = p; p += h2;
    o1[i] = p;
    lg[i] = logits + static_cast<long>(b0 + i) * s.perColour;
  }
  // Input layer: x at the live taps, zero outside the image.
  const SamplerLayer& l0 = *net.input;
  for (int i = 0; i < n; ++i) {
    const float* xb = s.x + static_cast<long>(b0 + i) * C * HW;
    for (int t = 0; t < l0.T; ++t) {
      const int y = py + l0.dy[t], xx = px + l0.dx[t];
      const bool inside = y >= 0 && xx >= 0 && xx < W;
      for (int c = 0; c < C; ++c) gath[i][t * C + c] = inside ? xb[c * HW + y * W + xx] : 0.f;
    }
  }
  dense(l0, n, gath, l0.T * C, hb, false, false);
  for (int j = 0; j < s.blocks; ++j) {
    const SamplerLayer &c1 = net.blocks[3 * j], &c2 = net.blocks[3 * j + 1], &c3 = net.blocks[3 * j + 2];
    float* cache = s.caches + static_cast<long>(j) * s.B * HW * h2;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < h; ++k) rb[i][k] = relus(hb[i][k]);
      cp[i] = cache + (static_cast<long>(b0 + i) * HW + pixel) * h2;
    }
    dense(c1, n, rb, h, cp, false, true);
    for (int i = 0; i < n; ++i) {
      const float* cb = cache + static_cast<long>(b0 + i) * HW * h2;
      for (int t = 0; t < c2.T; ++t) {
        const int y = py + c2.dy[t], xx = px + c2.dx[t];
        float* dst = gath[i] + t * h2;
        if (y >= 0 && xx >= 0 && xx < W) memcpy(dst, cb + static_cast<long>(y * W + xx) * h2, sizeof(float) * h2);
        else memset(dst, 0, sizeof(float) * h2);
      }
    }
    dense(c2, n, gath, c2.T * h2, a2, false, true);
    dense(c3, n, a2, h2, hb, true, false);
  }
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < h; ++k) rb[i][k] = relus(hb[i][k]);
  dense(*net.out1, n, rb, h, o1, false, true);
  dense(net.head[colour], n, o1, d, lg, false, false);
}

// One group of images through every position: no synchronisation between groups, since the draws
// consume one pre-drawn uniform each, at index (pos − start)·B + b as in sampleNaive's order.
void runGroupAll(void* ctx, long group, int tid) {
  const Run& r = *static_cast<const Run*>(ctx);
  const SamplerNet& s = *r.net->s;
  const int HW = s.H * s.W, P = s.perColour, L = s.levels;
  const int b0 = static_cast<int>(group) * kGroup, n = minOf(kGroup, s.B - b0);
  for (long pos = r.start; pos < r.end; ++pos) {
    const int pixel = static_cast<int>(pos / s.C), colour = static_cast<int>(pos % s.C);
    runGroup(*r.net, group, tid, pixel, colour, r.logits);
    const long row = (pos - r.start) * s.B;
    for (int b = b0; b < b0 + n; ++b) {
      const float* lg = r.logits + static_cast<long>(b) * P;
      if (r.logitsOut) memcpy(r.logitsOut + (row + b) * P, lg, sizeof(float) * P);
      const int v = sampleLevel(lg, P, r.temperature, r.uniforms ? r.uniforms[row + b] : 0.0);
      const long idx = (static_cast<long>(b) * s.C + colour) * HW + pixel;
      s.labels[idx] = static_cast<uint8_t>(v);
      s.x[idx] = static_cast<float>(static_cast<double>(v) / (L - 1));
    }
  }
}

}  // namespace

void sampleCachedPixelCnn(const SamplerNet& s, long start, long end, double temperature,
                          uint32_t* rngState, float* logitsOut) {
  Net net;
  net.s = &s;
  net.input = s.layers;
  net.blocks = s.layers + 1;
  net.out1 = net.blocks + 3 * s.blocks;
  net.head = net.out1 + 1;
  const int h2 = s.h / 2;
  long maxK = maxOf<long>(static_cast<long>(net.input->T) * s.C, s.h);
  for (int j = 0; j < s.blocks; ++j) maxK = maxOf<long>(maxK, static_cast<long>(net.blocks[3 * j + 1].T) * h2);
  net.maxK = roundUp(maxK, 16);
  net.scratchPerThread = kGroup * (net.maxK + 2 * s.h + h2 + s.d);
  ensureThreadScratch(kSlotGroup, net.scratchPerThread);
  float* logits = sharedScratch(kSharedLogits, static_cast<size_t>(s.B) * s.perColour);
  // Every draw at temperature > 0 takes exactly one uniform: draw them all now, in order.
  double* uniforms = nullptr;
  if (temperature > 0) {
    const long count = (end - start) * s.B;
    uniforms = reinterpret_cast<double*>(sharedScratch(kSharedUniforms, 2 * count));
    Xoshiro rng;
    memcpy(rng.s, rngState, sizeof rng.s);
    for (long i = 0; i < count; ++i) uniforms[i] = rng.uniform();
    memcpy(rngState, rng.s, sizeof rng.s);
  }
  Run run{&net, start, end, temperature, uniforms, logitsOut, logits};
  parallelFor(ceilDiv(s.B, kGroup), runGroupAll, &run);
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
