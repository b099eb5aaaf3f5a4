// Entry points of the compute kernels. Every kernel source (binding.gyp's kernel_sources) is
// compiled once per instruction set into its own namespace (pixelcnn::generic, pixelcnn::avx2,
// pixelcnn::avx512; pixelcnn::wasm in the WebAssembly build, native/src/wasm.cc); cpu.cc fills
// one KernelTable per namespace and picks one at load time.
// PIXELCNN_KERNELS is the one list of kernels: the table's fields, the per-ISA declarations and
// the tables are all generated from it.
#pragma once
#include <stdint.h>

namespace pixelcnn {

struct ConvDims {
  int B, I, O, H, W, KH, KW;
};

// One layer of the cached sampler (sampler.cc): w (T·I × O, rows tap-major) and bias (O); tap t
// reads the pixel (dy[t], dx[t]) away (causal: dy < 0, or dy = 0 and dx <= 0).
struct SamplerLayer {
  int I, O, T;
  const int32_t* dy;
  const int32_t* dx;
  const float* w;
  const float* bias;
};

// The residual PixelCNN the cached sampler runs (layout: addon.cc's SampleCachedPixelCnn).
struct SamplerNet {
  int B, C, H, W, h, d, blocks, perColour, levels;
  const SamplerLayer* layers;  // input, (conv1, conv2, conv3) per block, out1, head[0..C)
  float* x;                    // (B, C, H, W) network input, level / (levels − 1)
  uint8_t* labels;             // (B, C, H, W)
  float* caches;               // (blocks, B, H·W, h/2)
};

// X(name, (parameters)) for every kernel; all return void.
#define PIXELCNN_KERNELS(X)                                                                       \
  /* c (m, n) = op(a) · op(b) + beta · c, row-major (see src/backend/kernels.ts). */              \
  X(gemm, (bool transA, bool transB, int m, int n, int k, const float* a, const float* b,         \
           float* c, int beta))                                                                   \
  /* out = conv(x, or relu(x) if reluInput) + bias (+ residual if not null) */                    \
  X(conv2dForward, (float* out, const float* x, const float* w, const float* bias,               \
                    const ConvDims& d, const int32_t* taps, int ntaps, const float* residual,     \
                    int reluInput))                                                               \
  /* dx = beta · dx + ... (beta 0 or 1), where gate > 0 if gate is not null (gate = relu(x)) */   \
  X(conv2dBackwardData, (float* dx, const float* dout, const float* w, const ConvDims& d,        \
                         const int32_t* taps, int ntaps, int beta, const float* gate))            \
  X(conv2dBackwardFilter, (float* dw, float* dbias, const float* dout, const float* x,           \
                           const ConvDims& d, const int32_t* taps, int ntaps, int reluInput))     \
  /* Stride 2 (conv2d.cc), H and W the input's: out (B, O, ⌈H/2⌉, ⌈W/2⌉) = beta · out + bias +  \
     conv at the even pixels; dx (B, I, H, W) = beta · dx + its adjoint; dw += its filter grad. */ \
  X(conv2dStride2Forward, (float* out, const float* x, const float* w, const float* bias,        \
                           const ConvDims& d, const int32_t* taps, int ntaps, int beta))          \
  X(conv2dStride2BackwardData, (float* dx, const float* dout, const float* w, const ConvDims& d, \
                                const int32_t* taps, int ntaps, int beta))                        \
  X(conv2dStride2BackwardFilter, (float* dw, float* dbias, const float* dout, const float* x,    \
                                  const ConvDims& d, const int32_t* taps, int ntaps))             \
  X(softmaxCrossEntropy, (double* nll, float* dlogits, const float* logits,                      \
                          const uint8_t* targets, int B, int L, int C, int S, double gradScale))  \
  /* Discretised logistic mixture NLL (logistic_mixture.cc): params (B, F, S), table: filters of   \
     component 0 (logits, per colour mean, log-scale, coefficients), component k k·C further. */  \
  X(logisticMixtureNll, (double* nll, float* dparams, const float* params,                        \
                         const uint8_t* targets, const int32_t* table, int B, int F, int C, int S, \
                         int K, int L, double minLogScale, double gradScale))                      \
  /* Gated unit (gate.cc): y (B, n) = tanh(x[b][0, n)) · σ(x[b][n, 2n)); dx (B, 2n) += grad. */   \
  X(gateForward, (float* y, const float* x, int B, long n))                                       \
  X(gateBackward, (float* dx, const float* dy, const float* x, int B, long n))                    \
  /* Elementwise (elementwise.cc): y = max(x, +0); dx = beta · dx + (x > 0 ? dy : 0);             \
     y = a + b; y += a. */                                                                        \
  X(reluForward, (float* y, const float* x, long n))                                              \
  X(reluBackward, (float* dx, const float* dy, const float* x, long n, int beta))                 \
  X(add, (float* y, const float* a, const float* b, long n))                                      \
  X(accumulate, (float* y, const float* a, long n))                                               \
  /* Per-plane bias (elementwise.cc), class conditioning: y[p·size + i] = x[p·size + i] + bias[p] \
     for p < planes; dbias[p] += Σ_i dy[p·size + i]. */                                          \
  X(channelBiasForward, (float* y, const float* x, const float* bias, long planes, long size))    \
  X(channelBiasBackward, (float* dbias, const float* dy, long planes, long size))                 \
  /* PixelCNN++ (elu.cc): elu and its gradient (dx += ...); concat_elu per image, y (B, 2n) =     \
     [elu(x[b]), elu(−x[b])], dx (B, n) += grad; gated unit y (B, n) = a · σ(g) (+ residual if   \
     not null), dx (B, 2n) += grad. */                                                            \
  X(eluForward, (float* y, const float* x, long n))                                               \
  X(eluBackward, (float* dx, const float* dy, const float* x, long n))                            \
  X(concatEluForward, (float* y, const float* x, int B, long n))                                  \
  X(concatEluBackward, (float* dx, const float* dy, const float* x, int B, long n))               \
  X(gluForward, (float* y, const float* x, const float* residual, int B, long n))                 \
  X(gluBackward, (float* dx, const float* dy, const float* x, int B, long n))                     \
  /* Inverted dropout (dropout.cc): kept iff lowbias32(i · 0x9e3779b9 ^ seed) >= threshold;        \
     y = kept ? x · scale : 0; dx += kept ? dy · scale : 0. */                                   \
  X(dropoutForward, (float* y, const float* x, long n, uint32_t seed, uint32_t threshold,         \
                     float scale))                                                                \
  X(dropoutBackward, (float* dx, const float* dy, long n, uint32_t seed, uint32_t threshold,      \
                      float scale))                                                               \
  /* The cached sampler's generation loop for positions pixel·C + colour in [start, end): x,     \
     labels, caches and rngState (xoshiro128**) advance; logitsOut (or null) gets every draw's    \
     logits ((end − start), B, perColour). */                                                     \
  X(sampleCachedPixelCnn, (const SamplerNet& net, long start, long end, double temperature,       \
                           uint32_t* rngState, float* logitsOut))

struct KernelTable {
  const char* name;
#define PIXELCNN_KERNEL_FIELD(fn, params) void(*fn) params;
  PIXELCNN_KERNELS(PIXELCNN_KERNEL_FIELD)
#undef PIXELCNN_KERNEL_FIELD
};

#define PIXELCNN_KERNEL_DECLARE(fn, params) void fn params;
namespace generic { PIXELCNN_KERNELS(PIXELCNN_KERNEL_DECLARE) }
namespace avx2 { PIXELCNN_KERNELS(PIXELCNN_KERNEL_DECLARE) }
namespace avx512 { PIXELCNN_KERNELS(PIXELCNN_KERNEL_DECLARE) }
namespace wasm { PIXELCNN_KERNELS(PIXELCNN_KERNEL_DECLARE) }
#undef PIXELCNN_KERNEL_DECLARE

}  // namespace pixelcnn
