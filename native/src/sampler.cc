// Cached (incremental) sampling of the residual PixelCNN (Ramachandran et al. 2017), the native
// counterpart of PixelCnnIncremental in src/sample/incremental/pixelcnn.ts, which packs the
// arguments:
//
//   weights  per layer w (K × O), K = taps·I (masked, dead taps dropped), then bias (O); layers in
//            the order input, blocks (conv1, conv2, conv3)…, out1, head[0..C−1] (head[c] = out2's
//            filters k·C + c)
//   meta     per layer I, O, T, dy[T], dx[T] (tap offsets, causal: dy < 0 or dy = 0 and dx ≤ 0)
//   dims     B, C, H, W, h, d, blocks, perColour, levels
//   x        (B, C, H, W) network input, level / (L − 1); updated with the draws
//   labels   (B, C, H, W) levels; updated with the draws
//   caches   (blocks, B, H·W, h/2): ReLU(conv1(ReLU(h))) per block, the 3×3 convs' inputs
//   start, end   positions pixel·C + colour to generate
//   temperature, rngState (Uint32Array(4), xoshiro128** as src/nn/rng.ts, advanced in place),
//   logitsOut    null or ((end − start), B, perColour): the logits of every draw
//
// Every draw at temperature > 0 consumes exactly one rng.uniform(), so the uniforms are drawn
// up front in sampleNaive's order (position-major, image-minor) and image groups (up to 4 images;
// within a group every weight row is loaded once for all its images) run through all positions
// in parallel without synchronisation, each draw using its pre-drawn uniform with sampleLevel's
// arithmetic in double precision: a seed gives the same images as the js backend (up to float
// ties and last-ulp differences of exp between V8 and libm).
// Matrix–vector products use AVX2+FMA when the CPU has them (and PIXELCNN_ISA is not 'generic'),
// else portable loops.
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu.h"
#include "threadpool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PIXELCNN_SAMPLER_X86 1
#endif

namespace pixelcnn {
namespace {

constexpr int kGroup = 4;  // images per task

struct Layer {
  int I = 0, O = 0, T = 0;
  const int32_t* dy = nullptr;
  const int32_t* dx = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
};

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
    return uniform < 1 / (1 + std::exp(-z / temperature)) ? 1 : 0;
  }
  double max = -INFINITY;
  int arg = 0;
  for (int k = 0; k < levels; ++k) {
    const double v = logits[k];
    if (v > max) { max = v; arg = k; }
  }
  if (temperature == 0) return arg;
  double sum = 0;
  for (int k = 0; k < levels; ++k) sum += std::exp((static_cast<double>(logits[k]) - max) / temperature);
  double u = uniform * sum;
  for (int k = 0; k < levels; ++k) {
    u -= std::exp((static_cast<double>(logits[k]) - max) / temperature);
    if (u < 0) return k;
  }
  return levels - 1;
}

// out[i] (O) = (accumulate ? out[i] : 0) + bias + g[i] (K) · w (K × O), optional ReLU, i < n.
void denseGeneric(const Layer& l, int n, const float* const* g, int K, float* const* out,
                  bool accumulate, bool relu) {
  const int O = l.O;
  for (int i = 0; i < n; ++i) {
    float* o = out[i];
    for (int j = 0; j < O; ++j) o[j] = (accumulate ? o[j] : 0.f) + l.bias[j];
    for (int k = 0; k < K; ++k) {
      const float v = g[i][k];
      const float* w = l.w + static_cast<size_t>(k) * O;
      for (int j = 0; j < O; ++j) o[j] += v * w[j];
    }
    if (relu)
      for (int j = 0; j < O; ++j) o[j] = o[j] > 0 ? o[j] : 0.f;
  }
}

#ifdef PIXELCNN_SAMPLER_X86
template <int N>
__attribute__((target("avx2,fma"))) void denseAvx2N(const Layer& l, const float* const* g, int K,
                                                     float* const* out, bool accumulate, bool relu) {
  const int O = l.O;
  const __m256 zero = _mm256_setzero_ps();
  int j = 0;
  for (; j + 16 <= O; j += 16) {
    __m256 a0[N], a1[N];
    const __m256 b0 = _mm256_loadu_ps(l.bias + j), b1 = _mm256_loadu_ps(l.bias + j + 8);
    for (int i = 0; i < N; ++i) {
      a0[i] = accumulate ? _mm256_add_ps(_mm256_loadu_ps(out[i] + j), b0) : b0;
      a1[i] = accumulate ? _mm256_add_ps(_mm256_loadu_ps(out[i] + j + 8), b1) : b1;
    }
    const float* w = l.w + j;
    for (int k = 0; k < K; ++k, w += O) {
      const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
      for (int i = 0; i < N; ++i) {
        const __m256 v = _mm256_broadcast_ss(g[i] + k);
        a0[i] = _mm256_fmadd_ps(v, w0, a0[i]);
        a1[i] = _mm256_fmadd_ps(v, w1, a1[i]);
      }
    }
    for (int i = 0; i < N; ++i) {
      if (relu) { a0[i] = _mm256_max_ps(a0[i], zero); a1[i] = _mm256_max_ps(a1[i], zero); }
      _mm256_storeu_ps(out[i] + j, a0[i]);
      _mm256_storeu_ps(out[i] + j + 8, a1[i]);
    }
  }
  for (; j + 8 <= O; j += 8) {
    __m256 a0[N];
    const __m256 b0 = _mm256_loadu_ps(l.bias + j);
    for (int i = 0; i < N; ++i) a0[i] = accumulate ? _mm256_add_ps(_mm256_loadu_ps(out[i] + j), b0) : b0;
    const float* w = l.w + j;
    for (int k = 0; k < K; ++k, w += O) {
      const __m256 w0 = _mm256_loadu_ps(w);
      for (int i = 0; i < N; ++i) a0[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(g[i] + k), w0, a0[i]);
    }
    for (int i = 0; i < N; ++i) _mm256_storeu_ps(out[i] + j, relu ? _mm256_max_ps(a0[i], zero) : a0[i]);
  }
  for (; j < O; ++j) {
    for (int i = 0; i < N; ++i) {
      float s = (accumulate ? out[i][j] : 0.f) + l.bias[j];
      for (int k = 0; k < K; ++k) s += g[i][k] * l.w[static_cast<size_t>(k) * O + j];
      out[i][j] = relu && s < 0 ? 0.f : s;
    }
  }
}

void denseAvx2(const Layer& l, int n, const float* const* g, int K, float* const* out, bool acc, bool relu) {
  switch (n) {
    case 1: denseAvx2N<1>(l, g, K, out, acc, relu); break;
    case 2: denseAvx2N<2>(l, g, K, out, acc, relu); break;
    case 3: denseAvx2N<3>(l, g, K, out, acc, relu); break;
    default: denseAvx2N<4>(l, g, K, out, acc, relu); break;
  }
}
#endif

struct Net {
  int B, C, H, W, h, d, blocks, perColour, levels;
  Layer input, out1;
  std::vector<Layer> blockLayers;  // 3 per block
  std::vector<Layer> head;         // per colour
  float* x;
  float* caches;
  size_t maxK;
  size_t scratchPerThread;
  bool avx2;
};

struct Step {
  const Net* net;
  int pixel, colour;
  float* logits;           // (B, perColour)
  std::vector<float>* scratch;
};

// A whole generation run: positions [start, end), the uniforms pre-drawn in sampleNaive's order.
struct Run {
  const Net* net;
  long start, end;
  double temperature;
  const double* uniforms;  // ((end − start), B), or null at temperature 0
  uint8_t* labels;
  float* logitsOut;        // ((end − start), B, perColour) or null
  float* logits;           // (B, perColour)
  std::vector<float>* scratch;
};

inline void dense(const Net& net, const Layer& l, int n, const float* const* g, int K, float* const* out,
                  bool acc, bool relu) {
#ifdef PIXELCNN_SAMPLER_X86
  if (net.avx2) { denseAvx2(l, n, g, K, out, acc, relu); return; }
#endif
  denseGeneric(l, n, g, K, out, acc, relu);
}

// One group of up to kGroup images at one pixel: every layer, caches of the pixel, logits.
void runGroup(void* ctx, long group, int tid) {
  const Step& s = *static_cast<const Step*>(ctx);
  const Net& net = *s.net;
  const int C = net.C, W = net.W, HW = net.H * net.W, h = net.h, h2 = net.h / 2, d = net.d;
  const int b0 = static_cast<int>(group) * kGroup, n = std::min(kGroup, net.B - b0);
  const int pixel = s.pixel, py = pixel / W, px = pixel % W;
  float* base = s.scratch->data() + static_cast<size_t>(tid) * net.scratchPerThread;
  float *gath[kGroup], *hb[kGroup], *rb[kGroup], *a2[kGroup], *o1[kGroup], *cp[kGroup], *lg[kGroup];
  for (int i = 0; i < n; ++i) {
    float* p = base + i * (net.maxK + 2 * h + h2 + d);
    gath[i] = p; p += net.maxK;
    hb[i] = p; p += h;
    rb[i] = p; p += h;
    a2[i] = p; p += h2;
    o1[i] = p;
    lg[i] = s.logits + static_cast<size_t>(b0 + i) * net.perColour;
  }
  // Input layer: x at the live taps, zero outside the image.
  const Layer& l0 = net.input;
  for (int i = 0; i < n; ++i) {
    const float* xb = net.x + static_cast<size_t>(b0 + i) * C * HW;
    for (int t = 0; t < l0.T; ++t) {
      const int y = py + l0.dy[t], xx = px + l0.dx[t];
      const bool inside = y >= 0 && xx >= 0 && xx < W;
      for (int c = 0; c < C; ++c) gath[i][t * C + c] = inside ? xb[c * HW + y * W + xx] : 0.f;
    }
  }
  dense(net, l0, n, gath, l0.T * C, hb, false, false);
  for (int j = 0; j < net.blocks; ++j) {
    const Layer &c1 = net.blockLayers[3 * j], &c2 = net.blockLayers[3 * j + 1], &c3 = net.blockLayers[3 * j + 2];
    float* cache = net.caches + static_cast<size_t>(j) * net.B * HW * h2;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < h; ++k) rb[i][k] = hb[i][k] > 0 ? hb[i][k] : 0.f;
      cp[i] = cache + (static_cast<size_t>(b0 + i) * HW + pixel) * h2;
    }
    dense(net, c1, n, rb, h, cp, false, true);
    for (int i = 0; i < n; ++i) {
      const float* cb = cache + static_cast<size_t>(b0 + i) * HW * h2;
      for (int t = 0; t < c2.T; ++t) {
        const int y = py + c2.dy[t], xx = px + c2.dx[t];
        float* dst = gath[i] + t * h2;
        if (y >= 0 && xx >= 0 && xx < W) std::memcpy(dst, cb + static_cast<size_t>(y * W + xx) * h2, sizeof(float) * h2);
        else std::memset(dst, 0, sizeof(float) * h2);
      }
    }
    dense(net, c2, n, gath, c2.T * h2, a2, false, true);
    dense(net, c3, n, a2, h2, hb, true, false);
  }
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < h; ++k) rb[i][k] = hb[i][k] > 0 ? hb[i][k] : 0.f;
  dense(net, net.out1, n, rb, h, o1, false, true);
  dense(net, net.head[s.colour], n, o1, d, lg, false, false);
}

// One group of images through every position: no synchronisation between groups, since the draws
// consume one pre-drawn uniform each, at index (pos − start)·B + b as in sampleNaive's order.
void runGroupAll(void* ctx, long group, int tid) {
  const Run& r = *static_cast<const Run*>(ctx);
  const Net& net = *r.net;
  const int HW = net.H * net.W, P = net.perColour, L = net.levels;
  const int b0 = static_cast<int>(group) * kGroup, n = std::min(kGroup, net.B - b0);
  for (long pos = r.start; pos < r.end; ++pos) {
    Step step{&net, static_cast<int>(pos / net.C), static_cast<int>(pos % net.C), r.logits, r.scratch};
    runGroup(&step, group, tid);
    const size_t row = static_cast<size_t>(pos - r.start) * net.B;
    for (int b = b0; b < b0 + n; ++b) {
      const float* lg = r.logits + static_cast<size_t>(b) * P;
      if (r.logitsOut) std::memcpy(r.logitsOut + (row + b) * P, lg, sizeof(float) * P);
      const int v = sampleLevel(lg, P, r.temperature, r.uniforms ? r.uniforms[row + b] : 0.0);
      const size_t idx = (static_cast<size_t>(b) * net.C + step.colour) * HW + step.pixel;
      r.labels[idx] = static_cast<uint8_t>(v);
      net.x[idx] = static_cast<float>(static_cast<double>(v) / (L - 1));
    }
  }
}

struct KernelLockGuard {
  KernelLockGuard() { lockKernels(); }
  ~KernelLockGuard() { unlockKernels(); }
};

[[noreturn]] void rangeError(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "sampleCachedPixelCnn: " + msg);
}
[[noreturn]] void typeError(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "sampleCachedPixelCnn: " + msg);
}

template <class T>
T* typed(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* name,
         const char* typeName, double needed, bool nullable = false) {
  const Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    typeError(info.Env(), std::string(name) + " must be a " + typeName + (nullable ? " or null" : ""));
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (static_cast<double>(a.ElementLength()) < needed)
    rangeError(info.Env(), std::string(name) + " has " + std::to_string(a.ElementLength()) +
                               " elements, needs at least " + std::to_string(static_cast<long long>(needed)));
  auto* p = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  return reinterpret_cast<T*>(p);
}

Napi::Value SampleCachedPixelCnn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 11) typeError(env, "expected 11 arguments, got " + std::to_string(info.Length()));
  // dims
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    typeError(env, "dims must be an Int32Array");
  const int32_t* dims = typed<int32_t>(info, 2, napi_int32_array, "dims", "Int32Array", 9);
  Net net;
  net.B = dims[0]; net.C = dims[1]; net.H = dims[2]; net.W = dims[3]; net.h = dims[4];
  net.d = dims[5]; net.blocks = dims[6]; net.perColour = dims[7]; net.levels = dims[8];
  if (net.B < 1 || (net.C != 1 && net.C != 3) || net.H < 1 || net.W < 1 || net.h < 2 || net.h % 2 ||
      net.d < 1 || net.blocks < 0 || net.perColour < 1 || net.levels < 2 || net.levels > 256 ||
      (net.perColour != 1 && net.perColour != net.levels) || static_cast<double>(net.H) * net.W > 1e8)
    rangeError(env, "bad dims");
  const int HW = net.H * net.W, h2 = net.h / 2;
  const double total = static_cast<double>(net.C) * HW;

  // meta + weights
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    typeError(env, "meta must be an Int32Array");
  Napi::Int32Array metaArr = info[1].As<Napi::Int32Array>();
  const int32_t* meta = metaArr.Data();
  const size_t metaLen = metaArr.ElementLength();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    typeError(env, "weights must be a Float32Array");
  Napi::Float32Array wArr = info[0].As<Napi::Float32Array>();
  const float* weights = wArr.Data();
  const size_t wLen = wArr.ElementLength();
  size_t mi = 0, wi = 0;
  auto layer = [&](const char* name, int I, int O, bool spatialOk) {
    Layer l;
    if (mi + 3 > metaLen) rangeError(env, std::string("meta too short at layer ") + name);
    l.I = meta[mi]; l.O = meta[mi + 1]; l.T = meta[mi + 2];
    mi += 3;
    if (l.I != I || l.O != O || l.T < 1 || l.T > 4096 || (!spatialOk && l.T != 1))
      rangeError(env, std::string("layer ") + name + ": I, O, T = " + std::to_string(l.I) + ", " +
                          std::to_string(l.O) + ", " + std::to_string(l.T) + " do not match the dims");
    if (mi + 2 * static_cast<size_t>(l.T) > metaLen) rangeError(env, std::string("meta too short at layer ") + name);
    l.dy = meta + mi; l.dx = meta + mi + l.T;
    mi += 2 * l.T;
    for (int t = 0; t < l.T; ++t) {
      const int dy = l.dy[t], dx = l.dx[t];
      if (dy > 0 || (dy == 0 && dx > 0) || dy < -1024 || dx < -1024 || dx > 1024 || (!spatialOk && (dy || dx)))
        rangeError(env, std::string("layer ") + name + ": tap (" + std::to_string(dy) + ", " + std::to_string(dx) +
                            ") is not causal");
    }
    const size_t need = static_cast<size_t>(l.T) * l.I * l.O + l.O;
    if (wi + need > wLen) rangeError(env, std::string("weights too short at layer ") + name);
    l.w = weights + wi; l.bias = weights + wi + static_cast<size_t>(l.T) * l.I * l.O;
    wi += need;
    return l;
  };
  net.input = layer("input", net.C, net.h, true);
  for (int j = 0; j < net.blocks; ++j) {
    net.blockLayers.push_back(layer("conv1", net.h, h2, false));
    net.blockLayers.push_back(layer("conv2", h2, h2, true));
    net.blockLayers.push_back(layer("conv3", h2, net.h, false));
  }
  net.out1 = layer("out1", net.h, net.d, false);
  for (int c = 0; c < net.C; ++c) net.head.push_back(layer("head", net.d, net.perColour, false));
  if (mi != metaLen) rangeError(env, "meta has trailing values");
  if (wi != wLen) rangeError(env, "weights has trailing values");

  const double act = static_cast<double>(net.B) * net.C * HW;
  net.x = typed<float>(info, 3, napi_float32_array, "x", "Float32Array", act);
  uint8_t* labels = typed<uint8_t>(info, 4, napi_uint8_array, "labels", "Uint8Array", act);
  net.caches = typed<float>(info, 5, napi_float32_array, "caches", "Float32Array",
                            static_cast<double>(net.blocks) * net.B * HW * h2);
  if (!info[6].IsNumber() || !info[7].IsNumber() || !info[8].IsNumber()) typeError(env, "start, end and temperature must be numbers");
  const double startD = info[6].As<Napi::Number>().DoubleValue(), endD = info[7].As<Napi::Number>().DoubleValue();
  if (!(startD == std::floor(startD) && endD == std::floor(endD) && startD >= 0 && startD <= endD && endD <= total))
    rangeError(env, "start and end must be integers with 0 <= start <= end <= C·H·W");
  const long start = static_cast<long>(startD), end = static_cast<long>(endD);
  const double temperature = info[8].As<Napi::Number>().DoubleValue();
  if (!(temperature >= 0) || !std::isfinite(temperature)) rangeError(env, "temperature must be a finite number >= 0");
  uint32_t* state = typed<uint32_t>(info, 9, napi_uint32_array, "rngState", "Uint32Array", 4);
  float* logitsOut = typed<float>(info, 10, napi_float32_array, "logitsOut", "Float32Array",
                                  static_cast<double>(end - start) * net.B * net.perColour, true);

  size_t maxK = std::max<size_t>(static_cast<size_t>(net.input.T) * net.C, net.h);
  for (int j = 0; j < net.blocks; ++j) maxK = std::max<size_t>(maxK, static_cast<size_t>(net.blockLayers[3 * j + 1].T) * h2);
  net.maxK = (maxK + 15) & ~static_cast<size_t>(15);
  net.scratchPerThread = kGroup * (net.maxK + 2 * net.h + h2 + net.d);
#ifdef PIXELCNN_SAMPLER_X86
  __builtin_cpu_init();
  net.avx2 = std::strcmp(activeKernels().name, "generic") != 0 && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
#else
  net.avx2 = false;
#endif

  try {
    KernelLockGuard lock;
    std::vector<float> scratch(static_cast<size_t>(numThreads()) * net.scratchPerThread);
    std::vector<float> logits(static_cast<size_t>(net.B) * net.perColour);
    Xoshiro rng;
    std::memcpy(rng.s, state, sizeof rng.s);
    // Every draw at temperature > 0 takes exactly one uniform: draw them all now, in order.
    std::vector<double> uniforms;
    if (temperature > 0) {
      uniforms.resize(static_cast<size_t>(end - start) * net.B);
      for (double& u : uniforms) u = rng.uniform();
    }
    Run run{&net, start, end, temperature, uniforms.empty() ? nullptr : uniforms.data(), labels, logitsOut,
            logits.data(), &scratch};
    const long groups = (net.B + kGroup - 1) / kGroup;
    if (groups == 1) runGroupAll(&run, 0, 0);
    else parallelFor(groups, runGroupAll, &run);
    std::memcpy(state, rng.s, sizeof rng.s);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("pixelcnn native: sampleCachedPixelCnn: ") + e.what());
  }
  return env.Undefined();
}

}  // namespace

void registerSampler(Napi::Env env, Napi::Object exports) {
  exports.Set("sampleCachedPixelCnn", Napi::Function::New(env, SampleCachedPixelCnn, "sampleCachedPixelCnn"));
}

}  // namespace pixelcnn
