// Vector types for the kernel sources, which binding.gyp compiles once per instruction set:
//   PIXELCNN_ISA_AVX512 (-mavx512f -mavx2 -mfma): 16 floats per vector, namespace avx512
//   PIXELCNN_ISA_AVX2   (-mavx2 -mfma):           8 floats per vector, namespace avx2
//   neither (x86-64 baseline SSE2 / any target):  4 floats per vector, namespace generic
//   wasm32 with -msimd128 (scripts/build-wasm.mjs): 4 floats per vector, namespace wasm
// GCC vector extensions keep one source for all three (reluv alone names each ISA's max
// instruction). Kernel sources include only C headers
// and this project's headers and keep everything in an anonymous namespace, so no inline
// function compiled for a wider ISA can be shared with (and picked by) the portable code.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#if defined(PIXELCNN_ISA_AVX512)
#define PIXELCNN_NS avx512
#define PIXELCNN_VL 16
#elif defined(PIXELCNN_ISA_AVX2)
#define PIXELCNN_NS avx2
#define PIXELCNN_VL 8
#elif defined(__wasm_simd128__)
#define PIXELCNN_NS wasm
#define PIXELCNN_VL 4
#else
#define PIXELCNN_NS generic
#define PIXELCNN_VL 4
#endif

#define PIXELCNN_INLINE inline __attribute__((always_inline))

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr int VL = PIXELCNN_VL;
typedef float vf __attribute__((vector_size(VL * 4)));                         // aligned
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4), may_alias));  // unaligned
typedef int32_t vi __attribute__((vector_size(VL * 4)));
typedef double vd __attribute__((vector_size(VL * 8)));

PIXELCNN_INLINE vf loadu(const float* p) { return *reinterpret_cast<const vfu*>(p); }
PIXELCNN_INLINE void storeu(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
PIXELCNN_INLINE vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }
PIXELCNN_INLINE void store(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }
PIXELCNN_INLINE vf splat(float x) { return x - vf{}; }  // x − (+0) = x exactly, folds to a broadcast
// Pins v to a register: GCC otherwise folds the load of an operand used by several FMAs into each
// of them, and a micro-kernel with a few loads per FMA becomes load-bound.
PIXELCNN_INLINE vf inRegister(vf v) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__("" : "+x"(v));
#endif
  return v;
}
// max(v, +0) is v > 0 ? v : +0 exactly (MAXPS returns its second operand unless the first is
// greater: for NaN, −0 and +0 alike), in one instruction; GCC compiles the select to a compare and
// a masked move, and the filter gradient's ReLU had cost 20% of its time that way.
PIXELCNN_INLINE vf reluv(vf v) {
#if defined(PIXELCNN_ISA_AVX512)
  return (vf)_mm512_max_ps((__m512)v, _mm512_setzero_ps());
#elif defined(PIXELCNN_ISA_AVX2)
  return (vf)_mm256_max_ps((__m256)v, _mm256_setzero_ps());
#elif defined(__SSE__)
  return (vf)_mm_max_ps((__m128)v, _mm_setzero_ps());
#elif defined(__wasm_simd128__)
  // f32x4.pmax(a, b) is a < b ? b : a: with a = +0 the same as MAXPS above, in one instruction.
  return (vf)wasm_f32x4_pmax(wasm_f32x4_splat(0.f), (v128_t)v);
#else
  return v > vf{} ? v : vf{};
#endif
}
PIXELCNN_INLINE float relus(float v) { return v > 0.f ? v : 0.f; }

template <class T> PIXELCNN_INLINE T minOf(T a, T b) { return a < b ? a : b; }
template <class T> PIXELCNN_INLINE T maxOf(T a, T b) { return a > b ? a : b; }
PIXELCNN_INLINE long ceilDiv(long a, long b) { return (a + b - 1) / b; }
PIXELCNN_INLINE long roundUp(long a, long b) { return ceilDiv(a, b) * b; }

}  // namespace
}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
