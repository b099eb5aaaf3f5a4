// Node-API bindings of the kernels (the JS-visible API is NativeAddon in src/backend/native.ts).
// Every argument is checked before any memory is touched: a wrong type throws a TypeError, a
// bad value or a too-short buffer a RangeError, both naming the function and the argument.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

#include "cpu.h"
#include "kernels.h"
#include "threadpool.h"
#include "sampler.h"
#include "elementwise.h"
#include "napi_args.h"

namespace pixelcnn {
namespace {

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "gemm", 9);
    const bool ta = a.boolean(0, "transA"), tb = a.boolean(1, "transB");
    const int m = a.integer(2, "m", 0), n = a.integer(3, "n", 0), k = a.integer(4, "k", 0);
    const double M = m, N = n, K = k;
    const float* A = a.f32(5, "a", M * K);
    const float* B = a.f32(6, "b", K * N);
    float* C = a.f32(7, "c", M * N);
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

// Dims at positions first..first+6 (B, I, O, H, W, KH, KW), then taps.
ConvArgs convArgs(const Args& a, size_t first) {
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
  return c;
}

void readTaps(const Napi::CallbackInfo& info, const Args& a, size_t i, ConvArgs& c) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    a.typeError("taps must be an Int32Array");
  Napi::Int32Array t = v.As<Napi::Int32Array>();
  c.ntaps = static_cast<int>(t.ElementLength());
  c.taps = c.ntaps ? t.Data() : nullptr;
  const int kk = c.d.KH * c.d.KW;
  for (int j = 0; j < c.ntaps; ++j)
    if (c.taps[j] < 0 || c.taps[j] >= kk)
      a.rangeError("taps[" + std::to_string(j) + "] = " + std::to_string(c.taps[j]) +
                   " is not a tap of a " + std::to_string(c.d.KH) + "x" + std::to_string(c.d.KW) +
                   " kernel");
}

double act(const ConvDims& d, int ch) { return static_cast<double>(d.B) * ch * d.H * d.W; }
double wsize(const ConvDims& d) { return static_cast<double>(d.O) * d.I * d.KH * d.KW; }

Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "conv2dForward", 14);
    ConvArgs c = convArgs(a, 4);
    readTaps(info, a, 11, c);
    float* out = a.f32(0, "out", act(c.d, c.d.O));
    const float* x = a.f32(1, "x", act(c.d, c.d.I));
    const float* w = a.f32(2, "w", wsize(c.d));
    const float* bias = a.f32(3, "bias", c.d.O, true);
    const float* residual = a.f32(12, "residual", act(c.d, c.d.O), true);
    const bool relu = a.boolean(13, "reluInput");
    KernelLock lock;
    activeKernels().conv2dForward(out, x, w, bias, c.d, c.taps, c.ntaps, residual, relu);
  });
}

Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "conv2dBackwardData", 13);
    ConvArgs c = convArgs(a, 3);
    readTaps(info, a, 10, c);
    const int beta = a.beta(11);
    float* dx = a.f32(0, "dx", act(c.d, c.d.I));
    const float* dout = a.f32(1, "dout", act(c.d, c.d.O));
    const float* w = a.f32(2, "w", wsize(c.d));
    const float* gate = a.f32(12, "gate", act(c.d, c.d.I), true);
    KernelLock lock;
    activeKernels().conv2dBackwardData(dx, dout, w, c.d, c.taps, c.ntaps, beta, gate);
  });
}

Napi::Value ConvBackwardFilter(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "conv2dBackwardFilter", 13);
    ConvArgs c = convArgs(a, 4);
    readTaps(info, a, 11, c);
    float* dw = a.f32(0, "dw", wsize(c.d));
    float* dbias = a.f32(1, "dbias", c.d.O, true);
    const float* dout = a.f32(2, "dout", act(c.d, c.d.O));
    const float* x = a.f32(3, "x", act(c.d, c.d.I));
    const bool relu = a.boolean(12, "reluInput");
    KernelLock lock;
    activeKernels().conv2dBackwardFilter(dw, dbias, dout, x, c.d, c.taps, c.ntaps, relu);
  });
}

Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "softmaxCrossEntropy", 9);
    const int B = a.integer(4, "batch", 0), L = a.integer(5, "levels", 1);
    const int C = a.integer(6, "channels", 0), S = a.integer(7, "spatial", 0);
    const double gradScale = a.number(8, "gradScale");
    const double logitsLen = static_cast<double>(B) * L * C * S, targetsLen = static_cast<double>(B) * C * S;
    double* nll = a.array<double>(0, "nllPerImage", napi_float64_array, "Float64Array", B);
    float* dl = a.f32(1, "dlogits", logitsLen, true);
    const float* logits = a.f32(2, "logits", logitsLen);
    const uint8_t* targets =
        a.array<uint8_t>(3, "targets", napi_uint8_array, "Uint8Array", targetsLen);
    const long nt = static_cast<long>(targetsLen);
    for (long i = 0; i < nt; ++i)
      if (targets[i] >= L)
        a.rangeError("targets[" + std::to_string(i) + "] = " + std::to_string(targets[i]) +
                     " is not a level in [0, " + std::to_string(L) + ")");
    KernelLock lock;
    activeKernels().softmaxCrossEntropy(nll, dl, logits, targets, B, L, C, S, gradScale);
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "setThreads", 1);
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("conv2dForward", Napi::Function::New(env, ConvForward, "conv2dForward"));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, ConvBackwardData, "conv2dBackwardData"));
  exports.Set("conv2dBackwardFilter",
              Napi::Function::New(env, ConvBackwardFilter, "conv2dBackwardFilter"));
  exports.Set("softmaxCrossEntropy",
              Napi::Function::New(env, SoftmaxCrossEntropy, "softmaxCrossEntropy"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("isa", Napi::Function::New(env, Isa, "isa"));
  registerSampler(env, exports);
  registerElementwise(env, exports);
  return exports;
}

}  // namespace
}  // namespace pixelcnn

static Napi::Object InitPixelcnn(Napi::Env env, Napi::Object exports) {
  return pixelcnn::Init(env, exports);
}

NODE_API_MODULE(pixelcnn_native, InitPixelcnn)
