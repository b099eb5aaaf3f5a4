/**
 * A corpus of malformed data files (IDX, gzip, CIFAR-10 batches, PNG, FIFOs, symlink loops,
 * directories where files belong), made here in a temp dir and run through every CLI command that
 * reads them, as child processes. Each must exit non-zero with exactly one line on stderr that
 * names the file (or flag), within a time limit and a memory limit, and leave the files as they
 * were. Valid but unusual PNGs (16-bit, palette, interlaced) must still work.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { encodeIdx } from '../src/data/idx.js';
import { chunk, ihdr, makePng, SIGNATURE } from './png-files.js';

const repo = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'pixelcnn.js');
const model = join(repo, 'models', 'mnist-tiny'); // 1×28×28, 2 levels
const root = mkdtempSync(join(tmpdir(), 'pixelcnn-malformed-'));
after(() => rmSync(root, { recursive: true, force: true }));
const user = join(root, 'user'); // the user's files: must be unchanged afterwards
const runs = join(root, 'runs'); // where training may write
const tools = join(root, 'tools');
for (const d of [user, runs, tools]) mkdirSync(d);

/** Preloaded into every child: records its peak RSS (KiB) when it exits, however it exits. */
const hook = join(tools, 'rss.cjs');
writeFileSync(hook, "process.on('exit', () => require('fs').writeFileSync(process.env.PIXELCNN_TEST_RSS, String(process.resourceUsage().maxRSS)));\n");
const TIME_LIMIT_MS = 20_000;
const RSS_LIMIT_KIB = 600 * 1024;

let fifoOk = true;
function mkfifo(path: string): void {
  try { execFileSync('mkfifo', [path]); } catch { fifoOk = false; }
}

// ---- The corpus ----------------------------------------------------------------------------

function dir(...parts: string[]): string {
  const d = join(user, ...parts);
  mkdirSync(d, { recursive: true });
  return d;
}

/** An MNIST-style IDX folder of four 8×8 images per split, `bad` replacing the train images. */
function idxDir(name: string, bad: ((file: string) => void) | null): string {
  const d = dir(name);
  const img = encodeIdx([4, 8, 8], Uint8Array.from({ length: 256 }, (_, i) => (i * 29) & 255));
  const lbl = encodeIdx([4], Uint8Array.from([1, 2, 3, 4]));
  for (const p of ['train', 't10k']) {
    writeFileSync(join(d, `${p}-labels-idx1-ubyte`), lbl);
    if (p === 'train' && bad) bad(join(d, `${p}-images-idx3-ubyte`));
    else writeFileSync(join(d, `${p}-images-idx3-ubyte`), img);
  }
  return d;
}
const IMG = 'train-images-idx3-ubyte';
const goodIdx = encodeIdx([4, 8, 8], new Uint8Array(256));
const idxHeader = (magic: number, dims: number[]) => {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((v, i) => b.writeUInt32BE(v, 4 + 4 * i));
  return b;
};

/** CIFAR-10 batches of two records each, `bad` replacing data_batch_1.bin. */
function cifarDir(name: string, bad: (file: string) => void): string {
  const d = dir(name);
  const rec = Buffer.alloc(2 * 3073);
  for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
    if (f === 'data_batch_1.bin') bad(join(d, f));
    else writeFileSync(join(d, f), rec);
  }
  return d;
}

/** A PNG folder with train/ and test/, each holding one good 8×8 gray PNG; `bad` adds train/bad.png. */
function pngDir(name: string, bad: ((file: string) => void) | null): { dir: string; file: string } {
  const d = dir(name);
  for (const s of ['train', 'test']) writeFileSync(join(dir(name, s), 'a.png'), makePng({ width: 8, height: 8 }));
  const file = join(d, 'train', 'bad.png');
  if (bad) bad(file);
  return { dir: d, file };
}

const write = (data: Buffer) => (file: string) => writeFileSync(file, data);
const cut = (b: Buffer, n: number) => b.subarray(0, n);
const idatStart = SIGNATURE.length + 25; // the IDAT chunk follows the 25-byte IHDR chunk
const withIdat = (w: number, h: number, idat: Buffer, depth = 8, type = 0, interlace = 0) =>
  Buffer.concat([SIGNATURE, ihdr(w, h, depth, type, interlace), chunk('IDAT', idat), chunk('IEND')]);
const pngCases: [string, (w: number, h: number) => Buffer, RegExp][] = [
  ['not a PNG (text)', () => Buffer.from('just some text, not an image at all'), /not a PNG file \(bad signature\)/],
  ['file cut inside IDAT', (w, h) => { const b = makePng({ width: w, height: h }); return cut(b, idatStart + 20); }, /truncated: chunk IDAT at byte 33 declares \d+ bytes, past the end of the file/],
  ['IDAT with its zlib stream cut short (CRC fine)', (w, h) => { const z = deflateSync(Buffer.alloc(h * (w + 1), 3)); return withIdat(w, h, z.subarray(0, z.length - 6)); }, /image data is not valid zlib data \(unexpected end of file\)/],
  ['no IDAT', (w, h) => makePng({ width: w, height: h, idat: null }), /no IDAT chunk/],
  ['IDAT not zlib', (w, h) => withIdat(w, h, Buffer.from('this is no zlib stream, just bytes')), /image data is not valid zlib data \(incorrect header check\)/],
  ['bad CRC', (w, h) => { const b = Buffer.from(makePng({ width: w, height: h })); b[idatStart + 9] ^= 0xff; return b; }, /CRC mismatch in chunk IDAT at byte 33/],
  ['too little image data', (w, h) => withIdat(w, h, deflateSync(Buffer.alloc(h * (w + 1) - 5))), /image data inflates to \d+ bytes, its \d+×\d+ header implies \d+/],
  ['too much image data (a small bomb)', (w, h) => withIdat(w, h, deflateSync(Buffer.alloc(10 << 20))), /image data inflates to more than the \d+ bytes its \d+×\d+ header implies/],
  ['40000×40000 header (74 bytes)', () => withIdat(40000, 40000, deflateSync(Buffer.alloc(100))), /PNG is 40000×40000 = 1600000000 pixels, more than the limit of 16777216 \(raise it with --max-image-pixels\)/],
  ['interlaced IDAT bomb (30000×30000 RGBA16)', () => withIdat(30000, 30000, deflateSync(Buffer.alloc(64 << 20)), 16, 6, 1), /PNG is 30000×30000 = 900000000 pixels, more than the limit/],
  ['interlaced IDAT bomb within the pixel cap', (w, h) => withIdat(w, h, deflateSync(Buffer.alloc(32 << 20)), 8, 0, 1), /image data inflates to more than the \d+ bytes its \d+×\d+ header implies/],
  ['bad filter type', (w, h) => withIdat(w, h, deflateSync(Buffer.alloc(h * (w + 1), 9))), /invalid row filter type 9/],
  ['no IEND', (w, h) => { const b = makePng({ width: w, height: h }); return cut(b, b.length - 12); }, /truncated: no IEND chunk/],
];

/** Valid PNGs that must decode: [name, parts]. */
const validPngs: [string, (w: number, h: number) => Buffer][] = [
  ['16-bit gray', (w, h) => makePng({ width: w, height: h, bitDepth: 16 })],
  ['1-bit palette with tRNS', (w, h) => makePng({ width: w, height: h, bitDepth: 1, colorType: 3,
    before: [chunk('PLTE', Buffer.from([0, 0, 0, 250, 200, 100])), chunk('tRNS', Buffer.from([255, 128]))] })],
  ['interlaced 16-bit RGBA', (w, h) => makePng({ width: w, height: h, bitDepth: 16, colorType: 6, interlace: 1 })],
  ['interlaced 2-bit gray', (w, h) => makePng({ width: w, height: h, bitDepth: 2, interlace: 1 })],
];

interface Case { name: string; args: string[]; expect: RegExp; names: string }
const cases: Case[] = [];
const okRuns: { name: string; args: string[] }[] = [];
const trainArgs = (out: string) => ['--steps', '1', '--batch', '1', '--hidden', '4', '--out-hidden', '4', '--blocks', '0', '--levels', '4', '--samples', '0', '--no-progress', '--out', join(runs, out)];
let runId = 0;
function trainAndEval(name: string, data: string[], file: string, expect: RegExp): void {
  cases.push({ name: `train: ${name}`, args: ['train', ...data, ...trainArgs(`r${runId++}`)], expect, names: file });
  cases.push({ name: `eval: ${name}`, args: ['eval', '--model', model, ...data, '--split', 'train', '--no-progress'], expect, names: file });
}

// IDX
const idxCases: [string, (f: string) => void, RegExp][] = [
  ['IDX bad magic', write(Buffer.concat([Buffer.from('GIF8'), goodIdx.subarray(4)])), /wrong magic 0x47494638: not an IDX file/],
  ['IDX truncated', write(goodIdx.subarray(0, goodIdx.length - 10)), /truncated: header declares 4×8×8 = 256 data bytes, file has 246/],
  ['IDX wrong number of dims', write(Buffer.concat([idxHeader(0x802, [32, 8]), Buffer.alloc(256)])), /wrong magic 0x00000802, expected 0x00000803 \(IDX images\)/],
  ['IDX dims that disagree with the size', write(Buffer.concat([idxHeader(0x803, [4, 8, 9]), Buffer.alloc(256)])), /truncated: header declares 4×8×9 = 288 data bytes, file has 256/],
  ['IDX zero images', write(idxHeader(0x803, [0, 8, 8])), /has no images \(header declares 0×8×8\)/],
  ['IDX huge declared count', write(Buffer.concat([idxHeader(0x803, [0xffffffff, 28, 28]), Buffer.alloc(100)])), /truncated: header declares 4294967295×28×28 = 3367254359280 data bytes, file has 100/],
  ['gzip truncated', (f) => { const z = gzipSync(goodIdx); writeFileSync(f + '.gz', z.subarray(0, z.length - 20)); }, /corrupt or truncated gzip data: unexpected end of file/],
  ['gzip garbage', (f) => writeFileSync(f + '.gz', Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip at all, only text')])), /corrupt or truncated gzip data/],
  ['IDX is a directory', (f) => mkdirSync(f), /is a directory, expected an IDX file/],
  ['IDX is a symlink loop', (f) => symlinkSync(f, f), /symlink loop, expected an IDX file/],
  ['IDX is a FIFO', (f) => mkfifo(f), /is a FIFO \(named pipe\), expected an IDX file/],
];
idxCases.forEach(([name, bad, expect], i) => {
  const d = idxDir(`idx${i}`, bad);
  const file = join(d, IMG) + (name.startsWith('gzip') ? '.gz' : '');
  trainAndEval(name, ['--dataset', 'mnist', '--data-dir', d], file, expect);
});

// CIFAR-10
const cifarCases: [string, (f: string) => void, RegExp][] = [
  ['CIFAR batch of the wrong size', write(Buffer.alloc(3 * 3073 - 1)), /size 9218 is not a positive multiple of the 3073-byte CIFAR-10 record/],
  ['CIFAR batch is a directory', (f) => mkdirSync(f), /is a directory, expected a CIFAR-10 batch file/],
  ['CIFAR batch is a FIFO', (f) => mkfifo(f), /is a FIFO \(named pipe\), expected a CIFAR-10 batch file/],
];
cifarCases.forEach(([name, bad, expect], i) => {
  const d = cifarDir(`cifar${i}`, bad);
  trainAndEval(name, ['--dataset', 'cifar10', '--data-dir', d], join(d, 'data_batch_1.bin'), expect);
});

// PNG: in a PNG folder (train, eval) and as complete --input (28×28, the model's size).
const pngFileCases: [string, (f: string, w: number, h: number) => void, RegExp][] = [
  ...pngCases.map(([name, make, expect]): [string, (f: string, w: number, h: number) => void, RegExp] =>
    [name, (f, w, h) => writeFileSync(f, make(w, h)), expect]),
  ['PNG is a directory', (f) => mkdirSync(f), /is a directory, expected a PNG file/],
  ['PNG is a symlink loop', (f) => symlinkSync(f, f), /symlink loop, expected a PNG file/],
  ['PNG is a FIFO', (f) => mkfifo(f), /is a FIFO \(named pipe\), expected a PNG file/],
];
pngFileCases.forEach(([name, bad, expect], i) => {
  // A directory named bad.png in a folder is not a PNG file but a subfolder, so for PNG folders
  // that case is the flat layout where a class folder holds it: skip it there.
  if (name !== 'PNG is a directory') {
    const { dir: d, file } = pngDir(`png${i}`, (f) => bad(f, 8, 8));
    trainAndEval(name, ['--dataset', 'png', '--data-dir', d], file, expect);
  }
  const f = join(dir(`input${i}`), 'in.png');
  bad(f, 28, 28);
  cases.push({
    name: `complete --input: ${name}`, names: f, expect,
    args: ['complete', '--model', model, '--input', f, '--rows', '27', '--samples', '1', '--no-progress', '--out', join(runs, `c${i}.png`)],
  });
});

// Output paths of sample and complete.
const outs = dir('outs');
mkdirSync(join(outs, 'existing-dir.png'));
mkfifo(join(outs, 'fifo.png'));
for (const [name, out, expect] of [
  ['missing folder', join(outs, 'no-such-folder', 'x.png'), /--out .*no-such-folder\/x\.png: folder .*no-such-folder does not exist/],
  ['a directory', join(outs, 'existing-dir.png'), /--out .*existing-dir\.png: exists and is a directory, expected a PNG file to write/],
  ['a FIFO', join(outs, 'fifo.png'), /--out .*fifo\.png: exists and is not a regular file, expected a PNG file to write/],
] as const) {
  cases.push({ name: `sample --out ${name}`, names: '--out', expect, args: ['sample', '--model', model, '--n', '1', '--no-progress', '--out', out] });
  cases.push({
    name: `complete --out ${name}`, names: '--out', expect,
    args: ['complete', '--model', model, '--input', join(user, 'input0', 'in.png'), '--rows', '27', '--samples', '1', '--no-progress', '--out', out],
  });
}

// Valid PNGs: train on a flat folder of them (the held-out split) and complete each.
validPngs.forEach(([name, make], i) => {
  const d = dir(`valid${i}`);
  for (let k = 0; k < 3; k++) writeFileSync(join(d, `${k}.png`), make(8, 8));
  okRuns.push({ name: `train: ${name}`, args: ['train', '--dataset', 'png', '--data-dir', d, ...trainArgs(`ok${i}`)] });
  const f = join(d, 'in28.png.src');
  writeFileSync(f, make(28, 28));
  okRuns.push({ name: `complete: ${name}`, args: ['complete', '--model', model, '--input', f, '--rows', '27', '--samples', '1', '--no-progress', '--out', join(runs, `ok${i}.png`)] });
});

// Colour stays colour: CIFAR-10 trains as RGB and MNIST-style IDX as gray without --colour.
const cifarOk = cifarDir('cifar-ok', (f) => writeFileSync(f, Buffer.alloc(2 * 3073, 7)));
okRuns.push({ name: 'train: CIFAR-10 keeps its three channels', args: ['train', '--dataset', 'cifar10', '--data-dir', cifarOk, ...trainArgs('cifar-ok')] });
okRuns.push({ name: 'train: IDX stays gray', args: ['train', '--dataset', 'mnist', '--data-dir', idxDir('idx-ok', null), ...trainArgs('idx-ok')] });

// ---- Running --------------------------------------------------------------------------------

interface Result { code: number | null; signal: string | null; stderr: string; stdout: string; rssKiB: number | null; ms: number }
let rssId = 0;
function run(args: string[]): Promise<Result> {
  const rssFile = join(tools, `rss${rssId++}`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--max-old-space-size=512', '--require', hook, bin, ...args], {
      encoding: 'utf8', timeout: TIME_LIMIT_MS, killSignal: 'SIGKILL',
      env: { ...process.env, PIXELCNN_TEST_RSS: rssFile, PIXELCNN_BACKEND: 'js', PIXELCNN_DEBUG: '' },
    }, (err, stdout, stderr) => {
      let rssKiB: number | null = null;
      try { rssKiB = Number(readFileSync(rssFile, 'utf8')); } catch { /* killed */ }
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr, stdout, rssKiB, ms: performance.now() - t0 });
    });
  });
}

/** Runs `jobs` with at most `n` at once (the CI machine is small). */
async function pool<T, R>(jobs: T[], n: number, f: (j: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) { const i = next++; out[i] = await f(jobs[i]); }
  }));
  return out;
}

/** A fingerprint of every entry under `d`: type, and content or link target. */
function fingerprint(d: string): string {
  const h = createHash('sha256');
  const walk = (p: string): void => {
    const st = lstatSync(p);
    h.update(`${p}\0${st.mode}\0`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
    else if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isFile()) h.update(readFileSync(p));
  };
  walk(d);
  return h.digest('hex');
}

test('every malformed data file, through every command that reads it: one line naming it, exit ≠ 0, bounded time and memory, files unchanged', async () => {
  const before = fingerprint(user);
  const results = await pool(cases, 3, (c) => run(c.args));
  const failures: string[] = [];
  const table: string[] = [];
  cases.forEach((c, i) => {
    const r = results[i];
    const lines = r.stderr.trim().split('\n');
    table.push(`${c.name} | ${lines.join(' ⏎ ')}`);
    const problems: string[] = [];
    if (r.signal) problems.push(`killed by ${r.signal} after ${Math.round(r.ms)} ms (time limit ${TIME_LIMIT_MS} ms)`);
    if (r.code === 0) problems.push('exit code 0');
    if (r.rssKiB === null && !r.signal) problems.push('died without exiting normally');
    if (r.rssKiB !== null && r.rssKiB > RSS_LIMIT_KIB) problems.push(`peak RSS ${Math.round(r.rssKiB / 1024)} MiB`);
    if (lines.length !== 1) problems.push(`${lines.length} lines on stderr`);
    if (!lines[0].startsWith('pixelcnn: error: ')) problems.push('not a pixelcnn error line');
    if (!lines[0].includes(c.names)) problems.push(`does not name ${c.names}`);
    if (!c.expect.test(lines[0])) problems.push(`does not match ${c.expect}`);
    if (problems.length > 0) failures.push(`${c.name}: ${problems.join('; ')}\n    stderr: ${r.stderr.trim().slice(0, 400)}`);
  });
  if (process.env.PIXELCNN_SHOW_MESSAGES) console.log(table.join('\n'));
  if (fingerprint(user) !== before) failures.push('the user\'s files changed');
  assert.deepEqual(failures, []);
  assert.ok(fifoOk, 'mkfifo failed, so the FIFO cases did not test FIFOs');
});

test('valid but unusual PNGs (16-bit, palette with tRNS, interlaced) still train and complete', async () => {
  const results = await pool(okRuns, 3, (c) => run(c.args));
  const failures = okRuns.flatMap((c, i) => (results[i].code === 0 ? [] : [`${c.name}: exit ${results[i].code} ${results[i].signal ?? ''}: ${results[i].stderr.trim()}`]));
  assert.deepEqual(failures, []);
  const channels = (out: string) => (JSON.parse(readFileSync(join(runs, out, 'config.json'), 'utf8')) as { model: { channels: number } }).model.channels;
  assert.equal(channels('cifar-ok'), 3);
  assert.equal(channels('idx-ok'), 1);
  // Training on a folder without train/ and test/ says how it was split.
  const train = results[0];
  assert.match(train.stderr, /training on 2 images of .*valid0, testing on the 1 held out \(it has no train\/ and test\/ subfolders: a fixed, seeded 10% is held out\)/);
});
