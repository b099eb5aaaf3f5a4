#!/usr/bin/env node
/**
 * Builds wasm/pixelcnn.wasm, the WebAssembly backend (src/backend/wasm.ts): the kernel sources of
 * binding.gyp's kernel_sources plus native/src/wasm.cc (the exports and a thread pool over shared
 * memory), compiled by clang for wasm32 with 128-bit SIMD and atomics against wasi-libc (for malloc
 * and libm). The module imports one thing, its memory (env.memory, shared): the loader gives the
 * calling thread's instance and each worker thread's instance the same one.
 *
 * The module is portable, so it is committed and shipped in the npm package: a user needs no
 * wasm-capable compiler. CI (.ci/run) rebuilds it with `--check`, which fails when the committed
 * file differs from what the sources give, so it cannot go stale. The bytes depend on the clang
 * version: the committed one is built by Debian 12's clang 14 (the CI's), and --check names the
 * version when they differ.
 *
 * Usage: node scripts/build-wasm.mjs [--check] [--out FILE]
 * Environment: CLANG (default clang), WASI_SYSROOT (default: /usr with Debian's wasi-libc, whose
 * headers are in /usr/include/wasm32-wasi and libraries in /usr/lib/wasm32-wasi).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, 'wasm', 'pixelcnn.wasm');

function fail(msg) {
  console.error(`build-wasm: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let check = false, out = committed;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--check') check = true;
  else if (args[i] === '--out' && i + 1 < args.length) out = resolve(args[++i]);
  else fail(`unknown argument '${args[i]}' (usage: node scripts/build-wasm.mjs [--check] [--out FILE])`);
}

/** binding.gyp's kernel_sources (gyp files are JSON plus # comments). */
function kernelSources() {
  const text = readFileSync(join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
  const sources = JSON.parse(text).variables?.kernel_sources;
  if (!Array.isArray(sources) || sources.length === 0) fail('binding.gyp: no variables.kernel_sources list');
  return sources;
}

const clang = process.env.CLANG || 'clang';
const sysroot = process.env.WASI_SYSROOT || '/usr';
const version = spawnSync(clang, ['--version'], { encoding: 'utf8' });
if (version.status !== 0) fail(`${clang} not found (install clang, lld and wasi-libc, e.g. apt-get install clang lld wasi-libc)`);
const clangVersion = version.stdout.split('\n')[0];

const sources = [...kernelSources(), 'native/src/wasm.cc'];
const flags = [
  '--target=wasm32-wasi', `--sysroot=${sysroot}`, '-isystem', join(sysroot, 'include', 'wasm32-wasi'),
  `-L${join(sysroot, 'lib', 'wasm32-wasi')}`,
  '-msimd128', '-matomics', '-mbulk-memory', '-O3', '-std=c++17', '-fno-exceptions', '-fno-rtti', '-ffp-contract=fast', '-fno-math-errno',
  '-Wall', '-Wno-unused-function', '-DNDEBUG', '-g0',
  // Function-local statics are initialised by the calling thread (outside tasks), and there is
  // no C++ library for the guards -matomics would ask for.
  '-fno-threadsafe-statics',
  // A library module: no main; only the EXPORTed functions (wasm.cc) and __stack_pointer (which
  // the loader sets in each worker thread's instance to that thread's stack) are exported. The
  // memory is imported and shared (every thread's instance runs on it); it grows on demand up to
  // wasm32's 4 GiB. Its data segments are passive: the start function wasm-ld writes for shared
  // memory copies them in once, in the first instance (guarded by an atomic flag).
  // --no-check-features: wasi-libc's objects were built without atomics, which is safe because
  // only the calling thread calls libc (wasm.cc).
  '-nostartfiles', '-Wl,--no-entry', '-Wl,--strip-all', '-Wl,--gc-sections', '-Wl,--export=__stack_pointer',
  '-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--no-check-features',
  '-Wl,--initial-memory=16777216', '-Wl,--max-memory=4294967296', '-Wl,-z,stack-size=1048576',
];

const tmp = mkdtempSync(join(tmpdir(), 'pixelcnn-wasm-'));
try {
  const built = join(tmp, 'pixelcnn.wasm');
  // Relative source paths from the package root, so nothing machine-specific enters the binary.
  const r = spawnSync(clang, [...flags, ...sources, '-o', built], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) fail(`${clang} failed (exit ${r.status ?? r.signal})`);
  const bytes = readFileSync(built);
  const mod = new WebAssembly.Module(bytes);
  const imports = WebAssembly.Module.imports(mod);
  const names = imports.map((i) => `${i.module}.${i.name}`);
  if (names.length !== 1 || names[0] !== 'env.memory' || imports[0].kind !== 'memory') {
    fail(`the module imports ${names.join(', ') || 'nothing'}: it must import env.memory only (src/backend/wasm.ts gives nothing else)`);
  }
  if (check) {
    if (!existsSync(out)) fail(`${out} does not exist: run node scripts/build-wasm.mjs and commit it`);
    if (!bytes.equals(readFileSync(out))) {
      fail(`${out} differs from a build of the sources with ${clangVersion} (${bytes.length} bytes vs ${readFileSync(out).length}): ` +
           'rebuild it with node scripts/build-wasm.mjs and commit it');
    }
    console.log(`build-wasm: ${out} matches the sources (${bytes.length} bytes, ${clangVersion})`);
  } else {
    const part = `${out}.part`;
    writeFileSync(part, bytes);
    renameSync(part, out);
    console.log(`build-wasm: wrote ${out} (${bytes.length} bytes, ${clangVersion})`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
