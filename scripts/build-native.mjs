#!/usr/bin/env node
/**
 * Builds the native addon (build/Release/pixelcnn_native.node) with node-gyp. Run by
 * `npm install` ("install" script) and `npm run build:native`.
 *
 * The addon is optional: if the build fails, this prints one warning and exits 0 so that the
 * installation succeeds and the pure TypeScript backend is used. PIXELCNN_SKIP_NATIVE=1 skips it.
 * Which node-gyp: the one on PATH (npm puts its own there for lifecycle scripts), else
 * `npx --no-install node-gyp`, else the one bundled with npm next to this node.
 * Headers: node-gyp downloads them unless told where they are; when the running node ships its
 * headers (<prefix>/include/node, as Linux distributions' packages do) they are used directly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function warn(reason) {
  console.warn(`pixelcnn: native addon build failed, the js backend will be used: ${reason}`);
  process.exit(0);
}

if (process.env.PIXELCNN_SKIP_NATIVE === '1') {
  console.log('pixelcnn: PIXELCNN_SKIP_NATIVE=1, not building the native addon (the js backend will be used)');
  process.exit(0);
}

function works(cmd, args) {
  const r = spawnSync(cmd, [...args, '--version'], { stdio: 'ignore', shell: process.platform === 'win32' });
  return r.status === 0;
}

function findNodeGyp() {
  if (works('node-gyp', [])) return { cmd: 'node-gyp', args: [] };
  if (works('npx', ['--no-install', 'node-gyp'])) return { cmd: 'npx', args: ['--no-install', 'node-gyp'] };
  const candidates = [];
  const npmCli = process.env.npm_execpath; // set by npm in lifecycle scripts
  if (npmCli) candidates.push(join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const which = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['npm'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    const npmBin = which.stdout.trim().split(/\r?\n/)[0];
    candidates.push(join(dirname(npmBin), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  for (const c of candidates) {
    if (existsSync(c)) return { cmd: process.execPath, args: [c] };
  }
  return null;
}

/** --nodedir when the running node has its headers installed next to it and none is configured. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir || process.env.NODEDIR) return [];
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
    return [`--nodedir=${prefix}`];
  }
  return [];
}

const gyp = findNodeGyp();
if (!gyp) warn('node-gyp not found (neither on PATH, via npx, nor bundled with npm)');

const args = [...gyp.args, 'rebuild', ...nodedirArgs()];
console.log(`pixelcnn: building the native addon: ${[gyp.cmd === process.execPath ? 'node' : gyp.cmd, ...args].join(' ')}`);
const r = spawnSync(gyp.cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', shell: process.platform === 'win32' });
if (r.error) warn(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0) {
  const lines = (r.stderr ?? '').split(/\r?\n/).filter((l) => l.trim() !== '');
  process.stderr.write(lines.slice(-40).join('\n') + '\n');
  const firstError = lines.find((l) => /error/i.test(l) && !/^gyp (info|ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok))/.test(l));
  warn(`node-gyp exited with status ${r.status}${firstError ? ` (${firstError.trim()})` : ''}`);
}
const out = join(root, 'build', 'Release', 'pixelcnn_native.node');
if (!existsSync(out)) warn(`${out} was not produced`);
console.log(`pixelcnn: native addon built: ${out}`);
