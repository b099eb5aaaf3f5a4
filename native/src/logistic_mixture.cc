// Discretised logistic mixture NLL (PixelCNN++), per pixel of params (B, F, S): the formula and the
// layout are logisticMixtureNll's in src/ops/logistic-mixture.ts, and this is the js reference
// (src/backend/js/logistic-mixture.ts) in the same float64 arithmetic, one pixel at a time. The
// head is small next to the convolutions (K·C logistics per pixel), so it is scalar; pixels are
// split into fixed chunks whose partial sums are added in order (no dependence on the thread count).
#include <math.h>  // not <cmath>: the wasm build has a C library only

#include "gemm_impl.h"  // sharedScratch, runTasks
#include "kernels.h"

namespace pixelcnn {
namespace PIXELCNN_NS {
namespace {

constexpr long kChunk = 256;   // pixels per task
constexpr int kMaxK = 64;      // mixtures (checked by the binding)

// log σ(z), and σ(−z) = ∂ log σ(z)/∂z into *g, from one exp.
inline double logSigmoid(double z, double* g) {
  const double e = exp(-fabs(z));
  *g = z >= 0 ? e / (1 + e) : 1 / (1 + e);
  return (z < 0 ? z : 0) - log1p(e);
}

// log P(level) and its derivatives along mu and s (g[0], g[1]); see the js reference.
inline double binLogProb(double x, double mu, double s, double delta, bool lo, bool hi, double* g) {
  const double u = exp(-s), c = x - mu, a = u * (c + delta), b = u * (c - delta);
  double lp = 0, gA = 0, gB = 0, gS = 0;
  if (!hi) lp += logSigmoid(a, &gA);
  if (!lo) { lp += logSigmoid(-b, &gB); gB = -gB; }
  if (!lo && !hi) {
    const double d = 2 * delta * u;
    if (d > 1e-8) {
      const double m = -expm1(-d);
      lp += log(m);
      gS = -d * (1 - m) / m;
    }
    else { lp += log(2 * delta) - s - d / 2; gS = -(1 - d / 2); }
  }
  g[0] = -u * (gA + gB);
  g[1] = -(a * gA + b * gB) + gS;
  return lp;
}

}  // namespace

void logisticMixtureNll(double* nll, float* dparams, const float* params, const uint8_t* targets,
                        const int32_t* table, int B, int F, int C, int S, int K, int L,
                        double minLogScale, double gradScale) {
  if (B <= 0) return;
  if (S == 0) {
    for (int b = 0; b < B; ++b) nll[b] = 0;
    return;
  }
  int meanAt[3], coeffAt[3];
  for (int c = 0, t = 1; c < C; ++c) { meanAt[c] = t; coeffAt[c] = t + 2; t += 2 + c; }
  const double delta = 1.0 / (L - 1);
  const long nch = ceilDiv(static_cast<long>(S), kChunk);
  double* partial = reinterpret_cast<double*>(sharedScratch(kSharedPartial, 2 * B * nch));
  auto task = [&](long t, int) {
    const long b = t / nch, s0 = (t - b * nch) * kChunk, s1 = minOf<long>(S, s0 + kChunk);
    double lp[kMaxK], gMu[kMaxK * 3], gS[kMaxK * 3], tanhs[kMaxK * 9], x[3], g[2];
    int v[3];
    if (dparams)
      for (int f = 0; f < F; ++f)
        for (long s = s0; s < s1; ++s) dparams[(b * F + f) * S + s] = 0;
    double total = 0;
    for (long s = s0; s < s1; ++s) {
      const long base = b * F * S + s;
      auto at = [&](int f, int k) { return base + static_cast<long>(f + k * C) * S; };
      for (int c = 0; c < C; ++c) {
        v[c] = targets[(b * C + c) * S + s];
        x[c] = 2.0 * v[c] / (L - 1) - 1;
      }
      double maxLogit = -INFINITY;
      for (int k = 0; k < K; ++k) maxLogit = maxOf<double>(maxLogit, params[at(table[0], k)]);
      double sumLogit = 0;
      for (int k = 0; k < K; ++k) sumLogit += exp(params[at(table[0], k)] - maxLogit);
      double maxLp = -INFINITY;
      for (int k = 0; k < K; ++k) {
        double l = params[at(table[0], k)];
        for (int c = 0; c < C; ++c) {
          double mu = params[at(table[meanAt[c]], k)];
          for (int cc = 0; cc < c; ++cc) {
            const double th = tanh(static_cast<double>(params[at(table[coeffAt[c] + cc], k)]));
            tanhs[(k * C + c) * C + cc] = th;
            mu += th * x[cc];
          }
          const double sRaw = params[at(table[meanAt[c] + 1], k)];
          l += binLogProb(x[c], mu, maxOf<double>(sRaw, minLogScale), delta, v[c] == 0, v[c] == L - 1, g);
          gMu[k * C + c] = g[0];
          gS[k * C + c] = sRaw < minLogScale ? 0 : g[1];
        }
        lp[k] = l;
        maxLp = maxOf<double>(maxLp, l);
      }
      double sumLp = 0;
      for (int k = 0; k < K; ++k) sumLp += exp(lp[k] - maxLp);
      total += log(sumLogit) + maxLogit - (log(sumLp) + maxLp);
      if (!dparams) continue;
      for (int k = 0; k < K; ++k) {
        const double w = exp(lp[k] - maxLp) / sumLp;
        dparams[at(table[0], k)] = static_cast<float>(
            (exp(params[at(table[0], k)] - maxLogit) / sumLogit - w) * gradScale);
        for (int c = 0; c < C; ++c) {
          const double dMu = -w * gMu[k * C + c] * gradScale;
          dparams[at(table[meanAt[c]], k)] = static_cast<float>(dMu);
          dparams[at(table[meanAt[c] + 1], k)] = static_cast<float>(-w * gS[k * C + c] * gradScale);
          for (int cc = 0; cc < c; ++cc) {
            const double th = tanhs[(k * C + c) * C + cc];
            dparams[at(table[coeffAt[c] + cc], k)] = static_cast<float>(dMu * (1 - th * th) * x[cc]);
          }
        }
      }
    }
    partial[t] = total;
  };
  runTasks(B * nch, static_cast<long>(B) * S * K < 8192, task);
  sumPartials(nll, partial, B, nch);
}

}  // namespace PIXELCNN_NS
}  // namespace pixelcnn
