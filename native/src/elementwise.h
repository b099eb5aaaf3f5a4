// Elementwise kernels of the training hot path (ReLU, residual add, gradient accumulation).
// They are memory-bound: plain loops the compiler vectorises, split across the pool in chunks.
#pragma once
#include <napi.h>

namespace pixelcnn {
void registerElementwise(Napi::Env env, Napi::Object exports);
}
