// Entry points of the compute kernels. Every kernel source (gemm.cc, conv2d.cc, softmax_xent.cc, gate.cc)
// is compiled once per instruction set into its own namespace (pixelcnn::generic, pixelcnn::avx2,
// pixelcnn::avx512) by binding.gyp; cpu.cc picks one table at load time.
#pragma once
#include <cstdint>

namespace pixelcnn {

struct ConvDims {
  int B, I, O, H, W, KH, KW;
};

struct KernelTable {
  const char* name;
  // c (m, n) = op(a) · op(b) + beta · c, row-major (see src/backend/kernels.ts).
  void (*gemm)(bool transA, bool transB, int m, int n, int k, const float* a, const float* b,
               float* c, int beta);
  // out = conv(x, or relu(x) if reluInput) + bias (+ residual if not null)
  void (*conv2dForward)(float* out, const float* x, const float* w, const float* bias,
                        const ConvDims& d, const int32_t* taps, int ntaps, const float* residual,
                        int reluInput);
  // dx = beta · dx + ... (beta 0 or 1), where gate > 0 if gate is not null (gate = relu(x))
  void (*conv2dBackwardData)(float* dx, const float* dout, const float* w, const ConvDims& d,
                             const int32_t* taps, int ntaps, int beta, const float* gate);
  void (*conv2dBackwardFilter)(float* dw, float* dbias, const float* dout, const float* x,
                               const ConvDims& d, const int32_t* taps, int ntaps, int reluInput);
  void (*softmaxCrossEntropy)(double* nll, float* dlogits, const float* logits,
                              const uint8_t* targets, int B, int L, int C, int S, double gradScale);
  // Gated unit (gate.cc): y (B, n) = tanh(x[b][0, n)) · σ(x[b][n, 2n)); dx (B, 2n) += its gradient.
  void (*gateForward)(float* y, const float* x, int B, long n);
  void (*gateBackward)(float* dx, const float* dy, const float* x, int B, long n);
};

#define PIXELCNN_DECLARE_ISA(ns)                                                              \
  namespace ns {                                                                              \
  void gemm(bool, bool, int, int, int, const float*, const float*, float*, int);              \
  void conv2dForward(float*, const float*, const float*, const float*, const ConvDims&,       \
                     const int32_t*, int, const float*, int);                                 \
  void conv2dBackwardData(float*, const float*, const float*, const ConvDims&, const int32_t*, \
                          int, int, const float*);                                            \
  void conv2dBackwardFilter(float*, float*, const float*, const float*, const ConvDims&,      \
                            const int32_t*, int, int);                                        \
  void softmaxCrossEntropy(double*, float*, const float*, const uint8_t*, int, int, int, int,  \
                           double);                                                           \
  void gateForward(float*, const float*, int, long);                                          \
  void gateBackward(float*, const float*, const float*, int, long);                           \
  }

PIXELCNN_DECLARE_ISA(generic)
PIXELCNN_DECLARE_ISA(avx2)
PIXELCNN_DECLARE_ISA(avx512)

}  // namespace pixelcnn
