// Node-API bindings of the kernels (the JS-visible API is NativeAddon in src/backend/native.ts),
// all registered from kBindings at the end. Every argument is checked (napi_args.h) before any
// memory is touched: a wrong type throws a TypeError, a bad value or a too-short buffer a
// RangeError, both naming the function and the argument. Kernels run under KernelLock through
// activeKernels(), the table of the instruction set chosen at load time (cpu.cc).
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu.h"
#include "kernels.h"
#include "napi_args.h"
#include "threadpool.h"

namespace pixelcnn {
namespace {

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  return guarded(info, 9, [&](const Args& a) {
    const bool ta = a.boolean(0, "transA"), tb = a.boolean(1, "transB");
    const int m = a.integer(2, "m", 0), n = a.integer(3, "n", 0), k = a.integer(4, "k", 0);
    const double M = m, N = n, K = k;
    const float* A = a.array<float>(5, "a", M * K);
    const float* B = a.array<float>(6, "b", K * N);
    float* C = a.array<float>(7, "c", M * N);
    const int beta = a.beta(8);
    KernelLock lock;
    activeKernels().gemm(ta, tb, m, n, k, A, B, C, beta);
  });
}

struct ConvArgs {
  ConvDims d;
  const int32_t* taps;
  int ntaps;
};

// Dims at positions first..first+6 (B, I, O, H, W, KH, KW), then the taps at position taps.
ConvArgs convArgs(const Args& a, size_t first, size_t taps) {
  ConvArgs c;
  c.d.B = a.integer(first, "B", 0);
  c.d.I = a.integer(first + 1, "I", 0);
  c.d.O = a.integer(first + 2, "O", 0);
  c.d.H = a.integer(first + 3, "H", 0);
  c.d.W = a.integer(first + 4, "W", 0);
  c.d.KH = a.integer(first + 5, "KH", 1);
  c.d.KW = a.integer(first + 6, "KW", 1);
  if (c.d.KH % 2 == 0 || c.d.KW % 2 == 0) a.rangeError("kernel sizes KH and KW must be odd");
  if (static_cast<double>(c.d.KH) * c.d.KW > 1e6) a.rangeError("kernel too large");
  const Span<int32_t> t = a.span<int32_t>(taps, "taps");
  c.taps = t.data;
  c.ntaps = static_cast<int>(t.size);
  const int kk = c.d.KH * c.d.KW;
  for (int j = 0; j < c.ntaps; ++j)
    if (c.taps[j] < 0 || c.taps[j] >= kk)
      a.rangeError("taps[" + std::to_string(j) + "] = " + std::to_string(c.taps[j]) +
                   " is not a tap of a " + std::to_string(c.d.KH) + "x" + std::to_string(c.d.KW) +
                   " kernel");
  return c;
}

double act(const ConvDims& d, int ch) { return static_cast<double>(d.B) * ch * d.H * d.W; }
double wsize(const ConvDims& d) { return static_cast<double>(d.O) * d.I * d.KH * d.KW; }

Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  return guarded(info, 14, [&](const Args& a) {
    const ConvArgs c = convArgs(a, 4, 11);
    float* out = a.array<float>(0, "out", act(c.d, c.d.O));
    const float* x = a.array<float>(1, "x", act(c.d, c.d.I));
    const float* w = a.array<float>(2, "w", wsize(c.d));
    const float* bias = a.array<float>(3, "bias", c.d.O, true);
    const float* residual = a.array<float>(12, "residual", act(c.d, c.d.O), true);
    const bool relu = a.boolean(13, "reluInput");
    KernelLock lock;
    activeKernels().conv2dForward(out, x, w, bias, c.d, c.taps, c.ntaps, residual, relu);
  });
}

Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  return guarded(info, 13, [&](const Args& a) {
    const ConvArgs c = convArgs(a, 3, 10);
    const int beta = a.beta(11);
    float* dx = a.array<float>(0, "dx", act(c.d, c.d.I));
    const float* dout = a.array<float>(1, "dout", act(c.d, c.d.O));
    const float* w = a.array<float>(2, "w", wsize(c.d));
    const float* gate = a.array<float>(12, "gate", act(c.d, c.d.I), true);
    KernelLock lock;
    activeKernels().conv2dBackwardData(dx, dout, w, c.d, c.taps, c.ntaps, beta, gate);
  });
}

Napi::Value ConvBackwardFilter(const Napi::CallbackInfo& info) {
  return guarded(info, 13, [&](const Args& a) {
    const ConvArgs c = convArgs(a, 4, 11);
    float* dw = a.array<float>(0, "dw", wsize(c.d));
    float* dbias = a.array<float>(1, "dbias", c.d.O, true);
    const float* dout = a.array<float>(2, "dout", act(c.d, c.d.O));
    const float* x = a.array<float>(3, "x", act(c.d, c.d.I));
    const bool relu = a.boolean(12, "reluInput");
    KernelLock lock;
    activeKernels().conv2dBackwardFilter(dw, dbias, dout, x, c.d, c.taps, c.ntaps, relu);
  });
}

// A stride-2 convolution's output (B, ch, ⌈H/2⌉, ⌈W/2⌉).
double actHalf(const ConvDims& d, int ch) { return static_cast<double>(d.B) * ch * ((d.H + 1) / 2) * ((d.W + 1) / 2); }

Napi::Value ConvStride2Forward(const Napi::CallbackInfo& info) {
  return guarded(info, 13, [&](const Args& a) {
    const ConvArgs c = convArgs(a, 4, 11);
    const int beta = a.beta(12);
    float* out = a.array<float>(0, "out", actHalf(c.d, c.d.O));
    const float* x = a.array<float>(1, "x", act(c.d, c.d.I));
    const float* w = a.array<float>(2, "w", wsize(c.d));
    const float* bias = a.array<float>(3, "bias", c.d.O, true);
    KernelLock lock;
    activeKernels().conv2dStride2Forward(out, x, w, bias, c.d, c.taps, c.ntaps, beta);
  });
}

Napi::Value ConvStride2BackwardData(const Napi::CallbackInfo& info) {
  return guarded(info, 12, [&](const Args& a) {
    const ConvArgs c = convArgs(a, 3, 10);
    const int beta = a.beta(11);
    float* dx = a.array<float>(0, "dx", act(c.d, c.d.I));
    const float* dout = a.array<float>(1, "dout", actHalf(c.d, c.d.O));
    const float* w = a.array<float>(2, "w", wsize(c.d));
    KernelLock lock;
    activeKernels().conv2dStride2BackwardData(dx, dout, w, c.d, c.taps, c.ntaps, beta);
  });
}

Napi::Value ConvStride2BackwardFilter(const Napi::CallbackInfo& info) {
  return guarded(info, 12, [&](const Args& a) {
    const ConvArgs c = convArgs(a, 4, 11);
    float* dw = a.array<float>(0, "dw", wsize(c.d));
    float* dbias = a.array<float>(1, "dbias", c.d.O, true);
    const float* dout = a.array<float>(2, "dout", actHalf(c.d, c.d.O));
    const float* x = a.array<float>(3, "x", act(c.d, c.d.I));
    KernelLock lock;
    activeKernels().conv2dStride2BackwardFilter(dw, dbias, dout, x, c.d, c.taps, c.ntaps);
  });
}

Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  return guarded(info, 9, [&](const Args& a) {
    const int B = a.integer(4, "batch", 0), L = a.integer(5, "levels", 1);
    const int C = a.integer(6, "channels", 0), S = a.integer(7, "spatial", 0);
    const double gradScale = a.number(8, "gradScale");
    const double logitsLen = static_cast<double>(B) * L * C * S, targetsLen = static_cast<double>(B) * C * S;
    double* nll = a.array<double>(0, "nllPerImage", B);
    float* dl = a.array<float>(1, "dlogits", logitsLen, true);
    const float* logits = a.array<float>(2, "logits", logitsLen);
    const uint8_t* targets = a.array<uint8_t>(3, "targets", targetsLen);
    const long nt = static_cast<long>(targetsLen);
    for (long i = 0; i < nt; ++i)
      if (targets[i] >= L)
        a.rangeError("targets[" + std::to_string(i) + "] = " + std::to_string(targets[i]) +
                     " is not a level in [0, " + std::to_string(L) + ")");
    KernelLock lock;
    activeKernels().softmaxCrossEntropy(nll, dl, logits, targets, B, L, C, S, gradScale);
  });
}

Napi::Value LogisticMixtureNll(const Napi::CallbackInfo& info) {
  return guarded(info, 13, [&](const Args& a) {
    const int B = a.integer(5, "batch", 0), F = a.integer(6, "filters", 0);
    const int C = a.integer(7, "channels", 1), S = a.integer(8, "spatial", 0);
    const int K = a.integer(9, "mixtures", 1), L = a.integer(10, "levels", 3);
    const double minLogScale = a.number(11, "minLogScale"), gradScale = a.number(12, "gradScale");
    if (C != 1 && C != 3) a.rangeError("channels must be 1 or 3, got " + std::to_string(C));
    if (K > 64) a.rangeError("mixtures must be at most 64, got " + std::to_string(K));
    if (L > 256) a.rangeError("levels must be at most 256, got " + std::to_string(L));
    const Span<int32_t> table = a.span<int32_t>(4, "table");
    const size_t entries = C == 1 ? 3 : 10;
    if (table.size != entries)
      a.rangeError("table must hold " + std::to_string(entries) + " filters for " + std::to_string(C) +
                   " channels, got " + std::to_string(table.size));
    for (size_t j = 0; j < entries; ++j)
      if (table.data[j] < 0 || static_cast<double>(table.data[j]) + static_cast<double>(K - 1) * C >= F)
        a.rangeError("table[" + std::to_string(j) + "] = " + std::to_string(table.data[j]) +
                     ": its " + std::to_string(K) + " components are not all among the " +
                     std::to_string(F) + " filters");
    const double paramsLen = static_cast<double>(B) * F * S, targetsLen = static_cast<double>(B) * C * S;
    double* nll = a.array<double>(0, "nllPerImage", B);
    float* dp = a.array<float>(1, "dparams", paramsLen, true);
    const float* params = a.array<float>(2, "params", paramsLen);
    const uint8_t* targets = a.array<uint8_t>(3, "targets", targetsLen);
    const long nt = static_cast<long>(targetsLen);
    for (long i = 0; i < nt; ++i)
      if (targets[i] >= L)
        a.rangeError("targets[" + std::to_string(i) + "] = " + std::to_string(targets[i]) +
                     " is not a level in [0, " + std::to_string(L) + ")");
    KernelLock lock;
    activeKernels().logisticMixtureNll(nll, dp, params, targets, table.data, B, F, C, S, K, L, minLogScale,
                                       gradScale);
  });
}

// The elementwise kernels' arrays: out (argument 0), then inputs "a" (1) and "b" (2), all of one
// length (a longer input is a caller's mistake too).
long elementwiseLength(const Args& a) { return static_cast<long>(a.span<float>(0, "out").size); }
const float* sameLength(const Args& a, size_t i, long n) {
  const char* name = i == 1 ? "a" : "b";
  const float* p = a.array<float>(i, name, n);
  const size_t len = a.span<float>(i, name).size;
  if (len != static_cast<size_t>(n))
    a.rangeError("lengths differ (out has " + std::to_string(n) + " elements, " + name + " has " +
                 std::to_string(len) + ")");
  return p;
}

// reluForward(out, a): out = max(a, +0).
Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  return guarded(info, 2, [&](const Args& a) {
    const long n = elementwiseLength(a);
    float* y = a.array<float>(0, "out", n);
    const float* x = sameLength(a, 1, n);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().reluForward(y, x, n);
  });
}

// reluBackward(out (dx), a (dy), b (x), beta): dx = beta · dx + (x > 0 ? dy : 0).
Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  return guarded(info, 4, [&](const Args& a) {
    const int beta = a.beta(3);
    const long n = elementwiseLength(a);
    float* dx = a.array<float>(0, "out", n);
    const float* dy = sameLength(a, 1, n);
    const float* x = sameLength(a, 2, n);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().reluBackward(dx, dy, x, n, beta);
  });
}

// add(out, a, b): out = a + b.
Napi::Value Add(const Napi::CallbackInfo& info) {
  return guarded(info, 3, [&](const Args& a) {
    const long n = elementwiseLength(a);
    float* y = a.array<float>(0, "out", n);
    const float* x = sameLength(a, 1, n);
    const float* z = sameLength(a, 2, n);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().add(y, x, z, n);
  });
}

// accumulate(out, a): out += a.
Napi::Value Accumulate(const Napi::CallbackInfo& info) {
  return guarded(info, 2, [&](const Args& a) {
    const long n = elementwiseLength(a);
    float* y = a.array<float>(0, "out", n);
    const float* x = sameLength(a, 1, n);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().accumulate(y, x, n);
  });
}

// channelBiasForward(y (planes·size), x (planes·size), bias (planes), planes, size) and
// channelBiasBackward(dbias (planes), dy (planes·size), planes, size).
Napi::Value ChannelBiasForward(const Napi::CallbackInfo& info) {
  return guarded(info, 5, [&](const Args& a) {
    const long planes = a.integer(3, "planes", 0);
    const long size = a.integer(4, "size", 0);
    const double n = static_cast<double>(planes) * size;
    float* y = a.array<float>(0, "y", n);
    const float* x = a.array<float>(1, "x", n);
    const float* bias = a.array<float>(2, "bias", planes);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().channelBiasForward(y, x, bias, planes, size);
  });
}

Napi::Value ChannelBiasBackward(const Napi::CallbackInfo& info) {
  return guarded(info, 4, [&](const Args& a) {
    const long planes = a.integer(2, "planes", 0);
    const long size = a.integer(3, "size", 0);
    float* dbias = a.array<float>(0, "dbias", planes);
    const float* dy = a.array<float>(1, "dy", static_cast<double>(planes) * size);
    if (planes == 0 || size == 0) return;
    KernelLock lock;
    activeKernels().channelBiasBackward(dbias, dy, planes, size);
  });
}

// gateForward(y (B·n), x (B·2n), B, n) and gateBackward(dx (B·2n), dy (B·n), x (B·2n), B, n).
Napi::Value GateForward(const Napi::CallbackInfo& info) {
  return guarded(info, 4, [&](const Args& a) {
    const int B = a.integer(2, "batch", 0);
    const long n = a.integer(3, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* y = a.array<float>(0, "y", half);
    const float* x = a.array<float>(1, "x", 2 * half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().gateForward(y, x, B, n);
  });
}

Napi::Value GateBackward(const Napi::CallbackInfo& info) {
  return guarded(info, 5, [&](const Args& a) {
    const int B = a.integer(3, "batch", 0);
    const long n = a.integer(4, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* dx = a.array<float>(0, "dx", 2 * half);
    const float* dy = a.array<float>(1, "dy", half);
    const float* x = a.array<float>(2, "x", 2 * half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().gateBackward(dx, dy, x, B, n);
  });
}

// eluForward(y, x) and eluBackward(dx, dy, x): arrays of one length (the elementwise reader's
// names: out, a, b).
Napi::Value EluForward(const Napi::CallbackInfo& info) {
  return guarded(info, 2, [&](const Args& a) {
    const long n = elementwiseLength(a);
    float* y = a.array<float>(0, "out", n);
    const float* x = sameLength(a, 1, n);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().eluForward(y, x, n);
  });
}

Napi::Value EluBackward(const Napi::CallbackInfo& info) {
  return guarded(info, 3, [&](const Args& a) {
    const long n = elementwiseLength(a);
    float* dx = a.array<float>(0, "out", n);
    const float* dy = sameLength(a, 1, n);
    const float* x = sameLength(a, 2, n);
    if (n == 0) return;
    KernelLock lock;
    activeKernels().eluBackward(dx, dy, x, n);
  });
}

// concatEluForward(y (B·2n), x (B·n), B, n) and concatEluBackward(dx (B·n), dy (B·2n), x (B·n), B, n).
Napi::Value ConcatEluForward(const Napi::CallbackInfo& info) {
  return guarded(info, 4, [&](const Args& a) {
    const int B = a.integer(2, "batch", 0);
    const long n = a.integer(3, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* y = a.array<float>(0, "y", 2 * half);
    const float* x = a.array<float>(1, "x", half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().concatEluForward(y, x, B, n);
  });
}

Napi::Value ConcatEluBackward(const Napi::CallbackInfo& info) {
  return guarded(info, 5, [&](const Args& a) {
    const int B = a.integer(3, "batch", 0);
    const long n = a.integer(4, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* dx = a.array<float>(0, "dx", half);
    const float* dy = a.array<float>(1, "dy", 2 * half);
    const float* x = a.array<float>(2, "x", half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().concatEluBackward(dx, dy, x, B, n);
  });
}

// gluForward(y (B·n), x (B·2n), residual (B·n) or null, B, n) and gluBackward(dx (B·2n), dy (B·n), x (B·2n), B, n).
Napi::Value GluForward(const Napi::CallbackInfo& info) {
  return guarded(info, 5, [&](const Args& a) {
    const int B = a.integer(3, "batch", 0);
    const long n = a.integer(4, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* y = a.array<float>(0, "y", half);
    const float* x = a.array<float>(1, "x", 2 * half);
    const float* residual = a.array<float>(2, "residual", half, true);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().gluForward(y, x, residual, B, n);
  });
}

Napi::Value GluBackward(const Napi::CallbackInfo& info) {
  return guarded(info, 5, [&](const Args& a) {
    const int B = a.integer(3, "batch", 0);
    const long n = a.integer(4, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* dx = a.array<float>(0, "dx", 2 * half);
    const float* dy = a.array<float>(1, "dy", half);
    const float* x = a.array<float>(2, "x", 2 * half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().gluBackward(dx, dy, x, B, n);
  });
}

// dropoutForward(y, x, seed, threshold, scale) and dropoutBackward(dx, dy, seed, threshold, scale):
// arrays of one length (out, a), seed and threshold uint32.
uint32_t uint32Arg(const Args& a, size_t i, const char* name) {
  const double v = a.number(i, name);
  if (!(v >= 0 && v <= 4294967295.0 && v == std::floor(v)))
    a.rangeError(std::string(name) + " must be an integer in [0, 2^32)");
  return static_cast<uint32_t>(v);
}

Napi::Value DropoutKernel(const Napi::CallbackInfo& info, bool forward) {
  return guarded(info, 5, [&](const Args& a) {
    const long n = elementwiseLength(a);
    float* out = a.array<float>(0, "out", n);
    const float* in = sameLength(a, 1, n);
    const uint32_t seed = uint32Arg(a, 2, "seed"), threshold = uint32Arg(a, 3, "threshold");
    const double scale = a.number(4, "scale");
    if (n == 0) return;
    KernelLock lock;
    if (forward) activeKernels().dropoutForward(out, in, n, seed, threshold, static_cast<float>(scale));
    else activeKernels().dropoutBackward(out, in, n, seed, threshold, static_cast<float>(scale));
  });
}
Napi::Value DropoutForward(const Napi::CallbackInfo& info) { return DropoutKernel(info, true); }
Napi::Value DropoutBackward(const Napi::CallbackInfo& info) { return DropoutKernel(info, false); }

// sampleCachedPixelCnn(weights, meta, dims, x, labels, caches, start, end, temperature, rngState,
// logitsOut), packed by PixelCnnIncremental.nativeGenerator (src/sample/incremental/pixelcnn.ts):
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
Napi::Value SampleCachedPixelCnn(const Napi::CallbackInfo& info) {
  return guarded(info, 11, [&](const Args& a) {
    const int32_t* dims = a.array<int32_t>(2, "dims", 9);
    SamplerNet net;
    net.B = dims[0]; net.C = dims[1]; net.H = dims[2]; net.W = dims[3]; net.h = dims[4];
    net.d = dims[5]; net.blocks = dims[6]; net.perColour = dims[7]; net.levels = dims[8];
    if (net.B < 1 || (net.C != 1 && net.C != 3) || net.H < 1 || net.W < 1 || net.h < 2 || net.h % 2 ||
        net.d < 1 || net.blocks < 0 || net.perColour < 1 || net.levels < 2 || net.levels > 256 ||
        (net.perColour != 1 && net.perColour != net.levels) || static_cast<double>(net.H) * net.W > 1e8)
      a.rangeError("bad dims");
    const int HW = net.H * net.W, h2 = net.h / 2;

    const Span<int32_t> meta = a.span<int32_t>(1, "meta");
    const Span<float> weights = a.span<float>(0, "weights");
    size_t mi = 0, wi = 0;
    std::vector<SamplerLayer> layers;
    auto layer = [&](const char* name, int I, int O, bool spatialOk) {
      SamplerLayer l;
      if (mi + 3 > meta.size) a.rangeError(std::string("meta too short at layer ") + name);
      l.I = meta.data[mi]; l.O = meta.data[mi + 1]; l.T = meta.data[mi + 2];
      mi += 3;
      if (l.I != I || l.O != O || l.T < 1 || l.T > 4096 || (!spatialOk && l.T != 1))
        a.rangeError(std::string("layer ") + name + ": I, O, T = " + std::to_string(l.I) + ", " +
                     std::to_string(l.O) + ", " + std::to_string(l.T) + " do not match the dims");
      if (mi + 2 * static_cast<size_t>(l.T) > meta.size)
        a.rangeError(std::string("meta too short at layer ") + name);
      l.dy = meta.data + mi; l.dx = meta.data + mi + l.T;
      mi += 2 * l.T;
      for (int t = 0; t < l.T; ++t) {
        const int dy = l.dy[t], dx = l.dx[t];
        if (dy > 0 || (dy == 0 && dx > 0) || dy < -1024 || dx < -1024 || dx > 1024 || (!spatialOk && (dy || dx)))
          a.rangeError(std::string("layer ") + name + ": tap (" + std::to_string(dy) + ", " +
                       std::to_string(dx) + ") is not causal");
      }
      const size_t need = static_cast<size_t>(l.T) * l.I * l.O + l.O;
      if (wi + need > weights.size) a.rangeError(std::string("weights too short at layer ") + name);
      l.w = weights.data + wi; l.bias = weights.data + wi + static_cast<size_t>(l.T) * l.I * l.O;
      wi += need;
      layers.push_back(l);
    };
    layer("input", net.C, net.h, true);
    for (int j = 0; j < net.blocks; ++j) {
      layer("conv1", net.h, h2, false);
      layer("conv2", h2, h2, true);
      layer("conv3", h2, net.h, false);
    }
    layer("out1", net.h, net.d, false);
    for (int c = 0; c < net.C; ++c) layer("head", net.d, net.perColour, false);
    if (mi != meta.size) a.rangeError("meta has trailing values");
    if (wi != weights.size) a.rangeError("weights has trailing values");
    net.layers = layers.data();

    const double act = static_cast<double>(net.B) * net.C * HW;
    net.x = a.array<float>(3, "x", act);
    net.labels = a.array<uint8_t>(4, "labels", act);
    net.caches = a.array<float>(5, "caches", static_cast<double>(net.blocks) * net.B * HW * h2);
    const double startD = a.number(6, "start"), endD = a.number(7, "end");
    if (!(startD == std::floor(startD) && endD == std::floor(endD) && startD >= 0 && startD <= endD &&
          endD <= static_cast<double>(net.C) * HW))
      a.rangeError("start and end must be integers with 0 <= start <= end <= C·H·W");
    const long start = static_cast<long>(startD), end = static_cast<long>(endD);
    const double temperature = a.number(8, "temperature");
    if (!(temperature >= 0) || !std::isfinite(temperature))
      a.rangeError("temperature must be a finite number >= 0");
    uint32_t* state = a.array<uint32_t>(9, "rngState", 4);
    float* logitsOut = a.array<float>(10, "logitsOut", static_cast<double>(end - start) * net.B * net.perColour, true);
    KernelLock lock;
    activeKernels().sampleCachedPixelCnn(net, start, end, temperature, state, logitsOut);
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guarded(info, 1, [&](const Args& a) {
    const int n = a.integer(0, "n", 1);
    if (n > 1024) a.rangeError("n must be at most 1024");
    KernelLock lock;
    setNumThreads(n);
  });
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), numThreads());
}

Napi::Value Isa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), activeKernels().name);
}

// Every exported function under its JS name, which guarded() also reads (as the function's
// data) to name the function in errors.
struct Binding {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
constexpr Binding kBindings[] = {
    {"gemm", Gemm},
    {"conv2dForward", ConvForward},
    {"conv2dBackwardData", ConvBackwardData},
    {"conv2dBackwardFilter", ConvBackwardFilter},
    {"conv2dStride2Forward", ConvStride2Forward},
    {"conv2dStride2BackwardData", ConvStride2BackwardData},
    {"conv2dStride2BackwardFilter", ConvStride2BackwardFilter},
    {"softmaxCrossEntropy", SoftmaxCrossEntropy},
    {"logisticMixtureNll", LogisticMixtureNll},
    {"reluForward", ReluForward},
    {"reluBackward", ReluBackward},
    {"add", Add},
    {"accumulate", Accumulate},
    {"channelBiasForward", ChannelBiasForward},
    {"channelBiasBackward", ChannelBiasBackward},
    {"gateForward", GateForward},
    {"gateBackward", GateBackward},
    {"eluForward", EluForward},
    {"eluBackward", EluBackward},
    {"concatEluForward", ConcatEluForward},
    {"concatEluBackward", ConcatEluBackward},
    {"gluForward", GluForward},
    {"gluBackward", GluBackward},
    {"dropoutForward", DropoutForward},
    {"dropoutBackward", DropoutBackward},
    {"sampleCachedPixelCnn", SampleCachedPixelCnn},
    {"setThreads", SetThreads},
    {"getThreads", GetThreads},
    {"isa", Isa},
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (const Binding& b : kBindings)
    exports.Set(b.name, Napi::Function::New(env, b.fn, b.name, const_cast<char*>(b.name)));
  return exports;
}

}  // namespace
}  // namespace pixelcnn

static Napi::Object InitPixelcnn(Napi::Env env, Napi::Object exports) {
  return pixelcnn::Init(env, exports);
}

NODE_API_MODULE(pixelcnn_native, InitPixelcnn)
