import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './native.js';

/**
 * The WebAssembly module's file in Node (the package ships wasm/pixelcnn.wasm, built by
 * scripts/build-wasm.mjs). The page's bundle replaces this module (scripts/build-web.mjs): there,
 * the page fetches the module and hands it to initWasm (src/backend/wasm.ts).
 */
export function wasmFile(): string {
  return join(packageRoot(), 'wasm', 'pixelcnn.wasm');
}

export function readWasmFile(): Uint8Array<ArrayBuffer> {
  const file = wasmFile();
  if (!existsSync(file)) throw new Error(`${file} does not exist (reinstall the package, or build it with node scripts/build-wasm.mjs)`);
  return new Uint8Array(readFileSync(file));
}
