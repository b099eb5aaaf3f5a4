// Bindings of the elementwise kernels of the training hot path: ReLU, residual add and gradient
// accumulation (memory-bound loops here), and the gated unit (gate.cc, per instruction set).
// All are split across the pool in chunks.
#pragma once
#include <napi.h>

namespace pixelcnn {
void registerElementwise(Napi::Env env, Napi::Object exports);
}
