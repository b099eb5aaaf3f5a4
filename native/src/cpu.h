// Run-time choice of the kernel table: the widest instruction set this CPU (and OS) supports
// among avx512 (AVX-512F + AVX2 + FMA), avx2 (AVX2 + FMA) and generic (x86-64 baseline or any
// other target). PIXELCNN_ISA=generic|avx2|avx512 may ask for a narrower one (for testing).
#pragma once
#include "kernels.h"

namespace pixelcnn {

const KernelTable& activeKernels();

}  // namespace pixelcnn
