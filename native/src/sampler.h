// The cached (incremental) PixelCNN sampler: the whole generation loop of src/sample/cached.ts in
// one addon call (JS-visible as NativeAddon.sampleCachedPixelCnn in src/backend/native.ts).
#pragma once
#include <napi.h>

namespace pixelcnn {

// Adds sampleCachedPixelCnn to the addon's exports.
void registerSampler(Napi::Env env, Napi::Object exports);

}  // namespace pixelcnn
