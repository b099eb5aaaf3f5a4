/**
 * The native addon holds its kernels compiled once per instruction set (generic, AVX2, AVX-512)
 * and loads the widest the CPU has, so native-backend.test.ts checks only that one against the
 * reference. This runs the same suite again in child processes with PIXELCNN_ISA forcing each
 * narrower set, so that every compiled variant (their tile shapes differ) is checked on a machine
 * that can run it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadNativeAddon, nativeLoadError } from '../src/backend/native.js';

const addon = loadNativeAddon();
const suite = join(dirname(fileURLToPath(import.meta.url)), 'native-backend.test.js');
const order = ['generic', 'avx2+fma', 'avx512f+avx2+fma'];
const envName: Record<string, string> = { generic: 'generic', 'avx2+fma': 'avx2' };

const active = addon ? addon.isa() : null;
const narrower = active ? order.slice(0, order.indexOf(active)) : [];

for (const isa of ['generic', 'avx2+fma']) {
  test(`native kernels forced to ${isa} agree with the reference`, (t) => {
    if (!addon) {
      if (process.env.PIXELCNN_REQUIRE_NATIVE === '1') assert.fail(`native addon unavailable: ${nativeLoadError()}`);
      t.skip(`native addon unavailable: ${nativeLoadError()}`);
      return;
    }
    if (!narrower.includes(isa)) {
      t.skip(`the active instruction set is ${active}; ${isa} is not narrower`);
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env, PIXELCNN_ISA: envName[isa], PIXELCNN_EXPECT_ISA: isa };
    delete env.NODE_TEST_CONTEXT;  // else the child reports to this runner's protocol, not as TAP
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', suite], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    const summary = (r.stdout.match(/^# (pass|fail) \d+$/gm) ?? []).join(', ');
    assert.equal(r.status, 0, `suite under PIXELCNN_ISA=${envName[isa]} failed (${summary}):\n${r.stdout.slice(-4000)}${r.stderr.slice(-2000)}`);
    assert.match(summary, /# fail 0/);
  });
}
