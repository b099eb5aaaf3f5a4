#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace pixelcnn {

// One table per instruction set, its fields in PIXELCNN_KERNELS's order (names resolved in ns).
#define PIXELCNN_KERNEL_ENTRY(fn, params) fn,
#define PIXELCNN_TABLE(ns, label) \
  namespace ns {                  \
  const KernelTable kTable{label, PIXELCNN_KERNELS(PIXELCNN_KERNEL_ENTRY)}; \
  }

PIXELCNN_TABLE(generic, "generic")
#if defined(__x86_64__) || defined(__i386__)
PIXELCNN_TABLE(avx2, "avx2+fma")
PIXELCNN_TABLE(avx512, "avx512f+avx2+fma")
#endif

namespace {

const KernelTable& select() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  const char* want = std::getenv("PIXELCNN_ISA");
  int cap = 2;  // 0 generic, 1 avx2, 2 avx512
  if (want && std::strcmp(want, "generic") == 0) cap = 0;
  else if (want && std::strcmp(want, "avx2") == 0) cap = 1;
  if (avx512 && cap >= 2) return avx512::kTable;
  if (avx2 && cap >= 1) return avx2::kTable;
#endif
  return generic::kTable;
}

}  // namespace

const KernelTable& activeKernels() {
  static const KernelTable& table = select();
  return table;
}

}  // namespace pixelcnn
