#include "elementwise.h"

#include <string>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cpu.h"
#include "napi_args.h"
#include "threadpool.h"

namespace pixelcnn {
namespace {

enum class Op { ReluForward, ReluBackward, Add, Accumulate };

struct Job {
  Op op;
  int beta;  // ReluBackward: 1 accumulates into out, 0 overwrites it
  float* out;
  const float* a;
  const float* b;
  long n;
};

constexpr long kChunk = 1 << 16;  // floats per task: 256 KiB, large enough to amortise dispatch

void runChunk(void* ctx, long task, int) {
  const Job& j = *static_cast<const Job*>(ctx);
  const long lo = task * kChunk, hi = lo + kChunk < j.n ? lo + kChunk : j.n;
  float* __restrict y = j.out;
  const float* __restrict a = j.a;
  const float* __restrict b = j.b;
  switch (j.op) {
    case Op::ReluForward:  // y = max(a, 0)
      for (long i = lo; i < hi; ++i) y[i] = a[i] > 0.0f ? a[i] : 0.0f;
      break;
    case Op::ReluBackward: {  // y (dx) = beta · y + (a (dy) where b (x) > 0)
      long i = lo;
#ifdef __SSE2__
      // GCC compiles the scalar form to a branch, which mispredicts on random signs (5× slower).
      const __m128 zero = _mm_setzero_ps();
      if (j.beta) {
        for (; i + 4 <= hi; i += 4) {
          const __m128 m = _mm_cmpgt_ps(_mm_loadu_ps(b + i), zero);
          _mm_storeu_ps(y + i, _mm_add_ps(_mm_loadu_ps(y + i), _mm_and_ps(m, _mm_loadu_ps(a + i))));
        }
      } else {
        for (; i + 4 <= hi; i += 4) {
          const __m128 m = _mm_cmpgt_ps(_mm_loadu_ps(b + i), zero);
          _mm_storeu_ps(y + i, _mm_and_ps(m, _mm_loadu_ps(a + i)));
        }
      }
#endif
      for (; i < hi; ++i) y[i] = (j.beta ? y[i] : 0.0f) + (b[i] > 0.0f ? a[i] : 0.0f);
      break;
    }
    case Op::Add:  // y = a + b
      for (long i = lo; i < hi; ++i) y[i] = a[i] + b[i];
      break;
    case Op::Accumulate:  // y += a
      for (long i = lo; i < hi; ++i) y[i] += a[i];
      break;
  }
}

// Length of the Float32Array argument i (after a type check).
size_t length(const Napi::CallbackInfo& info, const Args& args, size_t i, const char* name) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    args.typeError(std::string(name) + " must be a Float32Array");
  return v.As<Napi::TypedArray>().ElementLength();
}

template <Op op>
Napi::Value Binding(const Napi::CallbackInfo& info) {
  static const char* const names[] = {"reluForward", "reluBackward", "add", "accumulate"};
  return guarded(info, [&] {
    const char* fn = names[static_cast<int>(op)];
    const size_t argc = (op == Op::ReluForward || op == Op::Accumulate) ? 2 : 3;
    Args args(info, fn, op == Op::ReluBackward ? 4 : argc);
    const int beta = op == Op::ReluBackward ? args.beta(3) : 1;
    const size_t n = length(info, args, 0, "out");
    Job j{op, beta, args.f32(0, "out", 0), args.f32(1, "a", n), argc == 3 ? args.f32(2, "b", n) : nullptr,
          static_cast<long>(n)};
    // Same length exactly (f32 checked "at least"): a longer input is a caller's mistake too.
    for (size_t i = 1; i < argc; ++i)
      if (length(info, args, i, i == 1 ? "a" : "b") != n)
        args.rangeError("lengths differ (out has " + std::to_string(n) + " elements, " +
                        (i == 1 ? "a" : "b") + " has " + std::to_string(length(info, args, i, "")) + ")");
    if (j.n == 0) return;
    KernelLock lock;
    parallelFor((j.n + kChunk - 1) / kChunk, runChunk, &j);
  });
}

// gateForward(y (B·n), x (B·2n), B, n) and gateBackward(dx (B·2n), dy (B·n), x (B·2n), B, n).
Napi::Value GateForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "gateForward", 4);
    const int B = a.integer(2, "batch", 0);
    const long n = a.integer(3, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* y = a.f32(0, "y", half);
    const float* x = a.f32(1, "x", 2 * half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().gateForward(y, x, B, n);
  });
}

Napi::Value GateBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    Args a(info, "gateBackward", 5);
    const int B = a.integer(3, "batch", 0);
    const long n = a.integer(4, "n", 0);
    const double half = static_cast<double>(B) * n;
    float* dx = a.f32(0, "dx", 2 * half);
    const float* dy = a.f32(1, "dy", half);
    const float* x = a.f32(2, "x", 2 * half);
    if (half == 0) return;
    KernelLock lock;
    activeKernels().gateBackward(dx, dy, x, B, n);
  });
}

}  // namespace

void registerElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("reluForward", Napi::Function::New(env, Binding<Op::ReluForward>, "reluForward"));
  exports.Set("reluBackward", Napi::Function::New(env, Binding<Op::ReluBackward>, "reluBackward"));
  exports.Set("add", Napi::Function::New(env, Binding<Op::Add>, "add"));
  exports.Set("accumulate", Napi::Function::New(env, Binding<Op::Accumulate>, "accumulate"));
  exports.Set("gateForward", Napi::Function::New(env, GateForward, "gateForward"));
  exports.Set("gateBackward", Napi::Function::New(env, GateBackward, "gateBackward"));
}

}  // namespace pixelcnn
