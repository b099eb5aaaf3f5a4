// Softmax cross-entropy over the levels axis of logits (B, L, C, S), per pixel:
//   nll[b] = Σ_{c,s} log Σ_k exp(l_k − max) + max − l_target   (double accumulations, as the reference)
//   dlogits = (softmax − onehot) · gradScale
// Vectorised across VL neighbouring pixels (contiguous in memory; the levels are CS apart) with a
// float exp (Cephes polynomial, ~1 ulp); the per-pixel sums of exp and the nll are in double.
// Work is split into fixed chunks of pixels whose partial sums are added in order: the result
// does not depend on the number of threads.
#include "gemm_impl.h"
#include "vmath.h"
#include "kernels.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr long kChunk = 1024;  // pixels per task (multiple of VL)

// One pixel, exactly as the reference (double).
PIXELCNN_INLINE double pixelScalar(float* dl, const float* lg, long CS, int L, int t, double gradScale) {
  double mx = -__builtin_inf();
  for (int k = 0; k < L; ++k) mx = maxOf<double>(mx, lg[k * CS]);
  double sum = 0;
  for (int k = 0; k < L; ++k) sum += __builtin_exp(lg[k * CS] - mx);
  if (dl) {
    const double inv = gradScale / sum;
    for (int k = 0; k < L; ++k) dl[k * CS] = static_cast<float>(__builtin_exp(lg[k * CS] - mx) * inv);
    dl[t * CS] = static_cast<float>(dl[t * CS] - gradScale);
  }
  return __builtin_log(sum) + mx - lg[t * CS];
}

}  // namespace

void softmaxCrossEntropy(double* nll, float* dlogits, const float* logits, const uint8_t* targets,
                         int B, int L, int C, int S, double gradScale) {
  if (B <= 0) return;
  const long CS = static_cast<long>(C) * S;
  if (CS == 0 || L <= 0) {
    for (int b = 0; b < B; ++b) nll[b] = 0;
    return;
  }
  const long nch = ceilDiv(CS, kChunk);
  double* partial = reinterpret_cast<double*>(sharedScratch(kSharedPartial, 2 * B * nch));
  const float gs = static_cast<float>(gradScale);
  auto task = [&](long t, int) {
    const long b = t / nch, c0 = (t - b * nch) * kChunk, c1 = minOf(CS, c0 + kChunk);
    const float* lg = logits + b * L * CS;
    float* dl = dlogits ? dlogits + b * L * CS : nullptr;
    const uint8_t* tg = targets + b * CS;
    double total = 0;
    long cs = c0;
    for (; cs + VL <= c1; cs += VL) {
      const float* p = lg + cs;
      vf mx = loadu(p);
      for (int k = 1; k < L; ++k) {
        const vf v = loadu(p + k * CS);
        mx = v > mx ? v : mx;
      }
      vd sum{};
      for (int k = 0; k < L; ++k) {
        const vf e = vexp(loadu(p + k * CS) - mx);
        sum += __builtin_convertvector(e, vd);
        if (dl) storeu(dl + cs + k * CS, e);
      }
      for (int j = 0; j < VL; ++j)
        total += __builtin_log(sum[j]) + static_cast<double>(mx[j]) - p[tg[cs + j] * CS + j];
      if (dl) {
        const vf inv = __builtin_convertvector(gradScale / sum, vf);
        float* q = dl + cs;
        for (int k = 0; k < L; ++k) storeu(q + k * CS, loadu(q + k * CS) * inv);
        for (int j = 0; j < VL; ++j) q[tg[cs + j] * CS + j] -= gs;
      }
    }
    for (; cs < c1; ++cs)
      total += pixelScalar(dl ? dl + cs : nullptr, lg + cs, CS, L, tg[cs], gradScale);
    partial[t] = total;
  };
  runTasks(B * nch, static_cast<long>(B) * L * CS < 32768, task);
  sumPartials(nll, partial, B, nch);
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
