#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace pixelcnn {
namespace {

#define PIXELCNN_TABLE(ns, label)                                                             \
  KernelTable {                                                                               \
    label, ns::gemm, ns::conv2dForward, ns::conv2dBackwardData, ns::conv2dBackwardFilter,     \
        ns::softmaxCrossEntropy, ns::gateForward, ns::gateBackward                            \
  }

const KernelTable kGeneric = PIXELCNN_TABLE(generic, "generic");
#if defined(__x86_64__) || defined(__i386__)
const KernelTable kAvx2 = PIXELCNN_TABLE(avx2, "avx2+fma");
const KernelTable kAvx512 = PIXELCNN_TABLE(avx512, "avx512f+avx2+fma");
#endif

const KernelTable& select() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  const char* want = std::getenv("PIXELCNN_ISA");
  int cap = 2;  // 0 generic, 1 avx2, 2 avx512
  if (want && std::strcmp(want, "generic") == 0) cap = 0;
  else if (want && std::strcmp(want, "avx2") == 0) cap = 1;
  if (avx512 && cap >= 2) return kAvx512;
  if (avx2 && cap >= 1) return kAvx2;
#endif
  return kGeneric;
}

}  // namespace

const KernelTable& activeKernels() {
  static const KernelTable& table = select();
  return table;
}

}  // namespace pixelcnn
