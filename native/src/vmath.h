// Vector math for the kernel sources (compiled per instruction set, see simd.h): exp and the
// functions built on it. Float precision; inputs outside exp's range saturate (0 below, the
// largest float's neighbourhood above) instead of producing NaN.
#pragma once
#include "simd.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

// exp(x), Cephes polynomial, ~1 ulp.
PIXELCNN_INLINE vf vexp(vf x) {
  const vf lo = splat(-87.3365447505531f), hi = splat(88.3762626647949f);
  const vf xc = x < lo ? lo : (x > hi ? hi : x);
  vf fx = xc * 1.44269504088896341f;
  fx = (fx + 12582912.0f) - 12582912.0f;  // round to nearest integer
  vf r = xc - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const vi n = __builtin_convertvector(fx, vi);
  const vf scale = (vf)((n + 127) << 23);
  const vf res = p * scale;
  return x < lo ? vf{} : res;
}

// σ(x) = 1 / (1 + e^−x), from e^−|x| so that neither branch overflows.
PIXELCNN_INLINE vf vsigmoid(vf x) {
  const vf e = vexp(x < 0 ? x : -x);  // e^−|x| in (0, 1]
  const vf r = 1.0f / (1.0f + e);
  return x < 0 ? e * r : r;
}

// tanh(x): an odd polynomial below |x| = 0.625 (Cephes tanhf, ~1 ulp there, where the quotient
// form would lose relative accuracy), else sign(x) (1 − e^−2|x|) / (1 + e^−2|x|).
PIXELCNN_INLINE vf vtanh(vf x) {
  const vf a = x < 0 ? -x : x;
  const vf e = vexp(-2.0f * a);
  const vf q = (1.0f - e) / (1.0f + e);
  const vf big = x < 0 ? -q : q;
  const vf z = x * x;
  vf p = splat(-5.70498872745e-3f);
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const vf small = p * z * x + x;
  return a < 0.625f ? small : big;
}

}  // namespace
}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
