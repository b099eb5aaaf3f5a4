/**
 * The wasm backend (the C++ kernels compiled to WebAssembly, wasm/pixelcnn.wasm) against the
 * reference: native-backend.test.ts's every case, run here on wasm. Skipped when the module does
 * not load, unless PIXELCNN_REQUIRE_WASM=1 (.ci/run sets it).
 */
process.env.PIXELCNN_AGREEMENT_BACKEND = 'wasm';
await import('./native-backend.test.js');
