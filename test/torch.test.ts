/**
 * The PyTorch twin (python/pixelcnn_torch) and the DDP training script (python/train_ddp.py):
 * checkpoints of every architecture and likelihood (the logistic mixture included) load on either
 * side with the same outputs and test NLL, 2 gloo processes take the
 * same step as 1, a DDP-trained checkpoint is ours, and training resumes across the boundary
 * with the optimiser state intact. Python runs as a child process; these tests are skipped (with
 * the reason) when no interpreter can import torch, unless PIXELCNN_REQUIRE_TORCH=1 (CI). The
 * golden-file test needs no Python: it checks our models against logits PyTorch computed once
 * (test/golden, written by python/make_golden.py).
 */
import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../src/tensor/tensor.js';
import { Adam } from '../src/nn/adam.js';
import { Rng } from '../src/random/rng.js';
import { createModel } from '../src/models/index.js';
import { ConfigError, parseModelConfig, type ModelConfig } from '../src/models/config.js';
import { PixelCnn, defaultPixelCnnConfig, type PixelCnnConfig } from '../src/models/pixelcnn.js';
import type { AutoregressiveModel } from '../src/models/model.js';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from '../src/train/safetensors.js';
import { loadCheckpoint, loadParamsInto, saveCheckpoint } from '../src/train/checkpoint.js';
import { loadModel } from '../src/train/model-io.js';
import { loadDataset } from '../src/data/datasets.js';
import { fixedLevels } from '../src/data/levels.js';
import { evaluate, imageNll } from '../src/eval/likelihood.js';
import { logisticMixtureNll, mixtureLayout } from '../src/ops/logistic-mixture.js';
import { backward, noGrad } from '../src/tensor/autograd.js';
import { TEST_BINARISATION_SEED } from '../src/train/trainer.js';
import { relativeError } from './helpers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON_DIR = join(REPO, 'python');
const TRAIN_DDP = join(PYTHON_DIR, 'train_ddp.py');
const GOLDEN = join(REPO, 'test', 'golden');
const CLI = join(REPO, 'bin', 'pixelcnn.js');
const root = mkdtempSync(join(tmpdir(), 'pixelcnn-torch-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(root, `${name}-${counter++}`);

// ---------------------------------------------------------------------------------------------
// Finding an interpreter with torch: $PIXELCNN_PYTHON when set (and only it), else Debian's
// /usr/bin/python3 (where `apt-get install python3-torch` puts it), then python3 on PATH.

function findTorchPython(): { python: string | null; tried: string } {
  const candidates = process.env.PIXELCNN_PYTHON ? [process.env.PIXELCNN_PYTHON] : ['/usr/bin/python3', 'python3'];
  for (const python of candidates) {
    // find_spec does not import torch (which takes seconds); a broken install then fails loudly below.
    const r = spawnSync(python, ['-c', "import importlib.util as u, sys; sys.exit(0 if u.find_spec('torch') and u.find_spec('numpy') else 1)"],
      { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return { python, tried: '' };
  }
  return { python: null, tried: candidates.join(', ') };
}

const { python: PYTHON, tried } = findTorchPython();
const requireTorch = process.env.PIXELCNN_REQUIRE_TORCH === '1';

/** Skips the test (or fails it under PIXELCNN_REQUIRE_TORCH=1) when no interpreter has torch. */
function needTorch(t: TestContext): string | null {
  if (PYTHON) return PYTHON;
  const why = `PyTorch not available (none of ${tried} can find torch and numpy; install python3-torch)`;
  if (requireTorch) assert.fail(`PIXELCNN_REQUIRE_TORCH=1 but ${why}`);
  t.skip(why);
  return null;
}

// One thread per process: the suite runs beside other work, and DDP ranks share the cores.
const pyEnv = (extra: Record<string, string> = {}) =>
  ({ ...process.env, PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1', ...extra });

function run(cmd: string, args: string[], env = pyEnv()): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** python3 -m pixelcnn_torch … */
const torchTool = (python: string, ...args: string[]) => ok(run(python, ['-m', 'pixelcnn_torch', ...args]), `pixelcnn_torch ${args.join(' ')}`);

/** The last line of stdout as JSON. */
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;

function inputBatch(config: ModelConfig, batch: number, seed: number): Tensor {
  return levelBatch(config, batch, seed).x;
}

/**
 * Random level labels (B, C, H, W) and the network's input for them; every tenth value is the
 * lowest or the highest level (the logistic mixture's tails).
 */
function levelBatch(config: ModelConfig, batch: number, seed: number): { labels: Uint8Array; x: Tensor } {
  const { channels: C, height: H, width: W, levels: L } = config;
  const rng = new Rng(seed);
  const labels = new Uint8Array(batch * C * H * W);
  for (let i = 0; i < labels.length; i++) labels[i] = i % 10 === 3 ? 0 : i % 10 === 7 ? L - 1 : rng.int(L);
  const x = Tensor.zeros([batch, C, H, W]);
  for (let i = 0; i < x.size; i++) x.data[i] = labels[i] / (L - 1);
  return { labels, x };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const readTensors = (file: string) => decodeSafetensors(readFileSync(file), file).tensors;

/**
 * What PyTorch computes for x (and classes) with the checkpoint in `dir`: "logits" (the model's
 * output), and with level labels (B, C, H, W) also "nll" (B), −ln p of each image in nats.
 */
function torchOutputs(python: string, dir: string, x: Tensor, classes: Int32Array | null, labels: Uint8Array | null = null): Map<string, RawTensor> {
  const xFile = fresh('x') + '.safetensors', yFile = fresh('y') + '.safetensors';
  const tensors = new Map<string, RawTensor>([['x', { shape: [...x.shape], data: x.data }]]);
  if (classes) tensors.set('classes', { shape: [classes.length], data: Float32Array.from(classes) });
  if (labels) tensors.set('labels', { shape: [...x.shape], data: Float32Array.from(labels) });
  writeFileSync(xFile, encodeSafetensors(tensors));
  torchTool(python, 'logits', '--model', dir, '--input', xFile, '--output', yFile);
  return readTensors(yFile);
}

const torchLogits = (python: string, dir: string, x: Tensor, classes: Int32Array | null): RawTensor =>
  torchOutputs(python, dir, x, classes).get('logits')!;

/** Our −ln p of each image (nats) for level labels (B, C, H, W). */
function ourNll(model: AutoregressiveModel, labels: Uint8Array, batch: number, classes: Int32Array | null): Float64Array {
  const { height: H, width: W } = model.config;
  return noGrad(() => imageNll(model, labels, batch, H, W, classes).nllPerImage);
}

// Small models of every architecture and likelihood, MNIST-shaped so that test NLLs compare too.
const mnistShape = { channels: 1 as const, height: 28, width: 28 };
const ARCH_CASES: { name: string; config: ModelConfig }[] = [
  { name: 'pixelcnn softmax', config: { arch: 'pixelcnn', ...mnistShape, levels: 4, likelihood: 'softmax', mixtures: 10, numClasses: 0, hidden: 8, outHidden: 6, blocks: 2 } },
  { name: 'gated conditional sigmoid', config: { arch: 'gated', ...mnistShape, levels: 2, likelihood: 'sigmoid', mixtures: 10, numClasses: 10, hidden: 6, outHidden: 4, layers: 3, kernel: 3, firstKernel: 5 } },
  { name: 'pixelcnn++ conditional logistic-mixture', config: { arch: 'pixelcnn++', ...mnistShape, levels: 256, likelihood: 'logistic-mixture', mixtures: 3, numClasses: 10, filters: 4, resnets: 1, dropout: 0.3, weightNorm: false } },
  { name: 'pixelcnn++ softmax', config: { arch: 'pixelcnn++', ...mnistShape, levels: 4, likelihood: 'softmax', mixtures: 10, numClasses: 0, filters: 3, resnets: 0, dropout: 0, weightNorm: false } },
  { name: 'pixelcnn++ weight-normalised logistic-mixture', config: { arch: 'pixelcnn++', ...mnistShape, levels: 256, likelihood: 'logistic-mixture', mixtures: 2, numClasses: 0, filters: 4, resnets: 1, dropout: 0, weightNorm: true } },
  { name: 'pixelcnn logistic-mixture (8 levels)', config: { arch: 'pixelcnn', ...mnistShape, levels: 8, likelihood: 'logistic-mixture', mixtures: 2, numClasses: 0, hidden: 6, outHidden: 4, blocks: 1 } },
];
const EVAL_IMAGES = 40;

/** Our test NLL of a checkpoint on the first EVAL_IMAGES MNIST test images (the fixed draw). */
function ourTestNll(dir: string): number {
  const { model } = loadModel(dir);
  const set = loadDataset({ name: 'mnist', limit: EVAL_IMAGES }, 'test');
  const c = model.config;
  const labels = fixedLevels(set, { levels: c.levels }, TEST_BINARISATION_SEED);
  return evaluate(model, labels, set.count, c.height, c.width, { classes: c.numClasses > 0 ? set.labels : null }).bitsPerDim;
}

// ---------------------------------------------------------------------------------------------

test('torch: PyTorch reads our checkpoints and writes ones we read, with the same logits', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const config: PixelCnnConfig = { ...defaultPixelCnnConfig, hidden: 8, outHidden: 4, blocks: 1, levels: 4, height: 8, width: 8, channels: 3 };
  const x = inputBatch(config, 2, 11);

  // Ours → torch (with optimiser state in the checkpoint, which the PyTorch side ignores here).
  const model = new PixelCnn(config, 8);
  const ours = fresh('ck-to-torch');
  saveCheckpoint(ours, { modelConfig: { ...config }, params: model.parameters(), optimizer: new Adam(model.parameters()).state });
  const expected = model.forward(x);
  const got = torchLogits(python, ours, x, null);
  assert.deepEqual(got.shape, [...expected.shape]);
  assert.ok(maxAbsDiff(got.data, expected.data) < 1e-4, `max abs diff ${maxAbsDiff(got.data, expected.data)}`);

  // Torch → ours.
  const theirs = fresh('ck-from-torch');
  torchTool(python, 'init', '--out', theirs, '--seed', '3', '--config', JSON.stringify(config));
  const ck = loadCheckpoint(theirs);
  assert.equal(ck.optimizer, null);
  const loaded = new PixelCnn({ ...config });
  loadParamsInto(loaded, ck.params, theirs);
  const torchOut = torchLogits(python, theirs, x, null);
  const mine = loaded.forward(x);
  assert.ok(maxAbsDiff(torchOut.data, mine.data) < 1e-4, `max abs diff ${maxAbsDiff(torchOut.data, mine.data)}`);
});

for (const { name, config } of ARCH_CASES) {
  test(`torch: ${name}: a checkpoint written on either side gives the same logits (1e-5) and test NLL on the other`, (t) => {
    const python = needTorch(t);
    if (!python) return;
    const x = inputBatch(config, 3, 5);
    const classes = config.numClasses > 0 ? Int32Array.of(0, 7, 9) : null;

    const ours = fresh('ours');
    saveCheckpoint(ours, { modelConfig: { ...config }, params: createModel(config, 4).parameters() });
    const theirs = fresh('theirs');
    torchTool(python, 'init', '--out', theirs, '--seed', '4', '--config', JSON.stringify(config));

    for (const dir of [ours, theirs]) {
      const { model } = loadModel(dir);
      const mine = model.forward(x, classes);
      const got = torchLogits(python, dir, x, classes);
      assert.deepEqual(got.shape, [...mine.shape]);
      const rel = relativeError(got.data, mine.data);
      assert.ok(rel < 1e-5, `${dir === ours ? 'ours → torch' : 'torch → ours'}: relative error ${rel}`);

      const torchEval = lastJson(torchTool(python, 'eval', '--model', dir, '--dataset', 'mnist', '--limit', String(EVAL_IMAGES), '--json'));
      const bpd = ourTestNll(dir);
      assert.equal(torchEval.images, EVAL_IMAGES);
      assert.ok(Math.abs(torchEval.bits_per_dim - bpd) / bpd < 1e-5, `test bits/dim: torch ${torchEval.bits_per_dim}, ours ${bpd}`);
    }
  });
}

// RGB models (no RGB data set on the Python side: random labels, with the tails, instead of a test set).
const rgbShape = { channels: 3 as const, height: 8, width: 7 };
const RGB_CASES: { name: string; config: ModelConfig }[] = [
  { name: 'pixelcnn++ RGB conditional logistic-mixture', config: { arch: 'pixelcnn++', ...rgbShape, levels: 256, likelihood: 'logistic-mixture', mixtures: 4, numClasses: 10, filters: 5, resnets: 1, dropout: 0.5, weightNorm: false } },
  { name: 'pixelcnn++ RGB conditional weight-normalised logistic-mixture', config: { arch: 'pixelcnn++', ...rgbShape, levels: 256, likelihood: 'logistic-mixture', mixtures: 3, numClasses: 10, filters: 5, resnets: 1, dropout: 0.5, weightNorm: true } },
  { name: 'gated RGB logistic-mixture (5 levels)', config: { arch: 'gated', ...rgbShape, levels: 5, likelihood: 'logistic-mixture', mixtures: 2, numClasses: 0, hidden: 6, outHidden: 6, layers: 2, kernel: 3, firstKernel: 3 } },
];

for (const { name, config } of RGB_CASES) {
  test(`torch: ${name}: a checkpoint written on either side gives the same outputs and per-image NLL (1e-5) on the other`, (t) => {
    const python = needTorch(t);
    if (!python) return;
    const { labels, x } = levelBatch(config, 3, 6);
    const classes = config.numClasses > 0 ? Int32Array.of(2, 0, 9) : null;
    const ours = fresh('ours-rgb');
    saveCheckpoint(ours, { modelConfig: { ...config }, params: createModel(config, 5).parameters() });
    const theirs = fresh('theirs-rgb');
    torchTool(python, 'init', '--out', theirs, '--seed', '5', '--config', JSON.stringify(config));
    for (const dir of [ours, theirs]) {
      const way = dir === ours ? 'ours → torch' : 'torch → ours';
      const { model } = loadModel(dir);
      const mine = model.forward(x, classes);
      const got = torchOutputs(python, dir, x, classes, labels);
      assert.deepEqual(got.get('logits')!.shape, [...mine.shape]);
      const rel = relativeError(got.get('logits')!.data, mine.data);
      assert.ok(rel < 1e-5, `${way}: outputs differ by ${rel}`);
      const nll = ourNll(model, labels, 3, classes);
      const relNll = relativeError(got.get('nll')!.data, nll);
      assert.ok(relNll < 1e-5, `${way}: per-image NLL torch ${[...got.get('nll')!.data]}, ours ${[...nll]}`);
    }
  });
}

/** Every weight_g times 0.5 … 1.5 (per slice), so that w = g · v/‖v‖ is not v (as it is at init, g = ‖v‖). */
function spreadGains(params: Map<string, Tensor>): void {
  for (const [name, p] of params) if (name.endsWith('.weight_g')) for (let i = 0; i < p.size; i++) p.data[i] *= 0.5 + ((i * 7) % 11) / 10;
}

test('torch: a weight-normalised PixelCNN++ with gains g ≠ ‖v‖, written by either side, gives the same outputs and per-image NLL (1e-5) on the other', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const config: ModelConfig = { arch: 'pixelcnn++', ...rgbShape, levels: 16, likelihood: 'softmax', mixtures: 10, numClasses: 0, filters: 4, resnets: 1, dropout: 0, weightNorm: true };
  const { labels, x } = levelBatch(config, 2, 8);
  const ours = fresh('wn-ours');
  const model = createModel(config, 6);
  spreadGains(model.parameters());
  saveCheckpoint(ours, { modelConfig: { ...config }, params: model.parameters() });
  // PyTorch's own init, its gains spread the same way, written by its save_checkpoint.
  const init = fresh('wn-init'), theirs = fresh('wn-theirs');
  torchTool(python, 'init', '--out', init, '--seed', '6', '--config', JSON.stringify(config));
  const script = 'import sys, torch\nfrom pixelcnn_torch.checkpoint import load_model, save_checkpoint\n' +
    'model, ck = load_model(sys.argv[1])\nwith torch.no_grad():\n  for n, p in model.named_parameters():\n' +
    '    if n.endswith(".weight_g"):\n      f = p.view(-1)\n      for i in range(f.numel()): f[i] *= 0.5 + ((i * 7) % 11) / 10\n' +
    'save_checkpoint(sys.argv[2], ck["model"], dict(model.named_parameters()))\n';
  ok(run(python, ['-c', script, init, theirs]), 'spreading the gains on the PyTorch side');
  for (const dir of [ours, theirs]) {
    const way = dir === ours ? 'ours → torch' : 'torch → ours';
    const params = loadCheckpoint(dir).params;
    // torch.nn.utils.weight_norm's names and layouts: g per slice of axis 0 (a transposed conv's input filter).
    assert.deepEqual(params.get('upsize_ul_stream.1.deconv.weight_g')?.shape, [4, 1, 1, 1], way);
    assert.deepEqual(params.get('down_layers.1.ul_stream.0.nin_skip.weight_v')?.shape, [4, 16, 1, 1], way);
    assert.deepEqual([...params.keys()].filter((n) => n.endsWith('.weight')), [], `${way}: every layer is weight-normalised`);
    const { model: loaded } = loadModel(dir);
    const mine = loaded.forward(x);
    const got = torchOutputs(python, dir, x, null, labels);
    const rel = relativeError(got.get('logits')!.data, mine.data);
    assert.ok(rel < 1e-5, `${way}: outputs differ by ${rel}`);
    const relNll = relativeError(got.get('nll')!.data, ourNll(loaded, labels, 2, null));
    assert.ok(relNll < 1e-5, `${way}: per-image NLL differs by ${relNll}`);
  }
  // The gains matter: the same v with g = ‖v‖ is another function.
  const plain = createModel(config, 6);
  assert.ok(relativeError(plain.forward(x).data, model.forward(x).data) > 1e-2);
});

test('torch: the logistic mixture NLL and its gradient agree with ours where bins underflow, scales hit the clamp and values sit in the tails', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const rng = new Rng(17);
  const script = 'import sys, torch\nfrom pixelcnn_torch.safetensors import read, encode\nfrom pixelcnn_torch.likelihood import logistic_mixture_nll\n' +
    'ts, _ = read(sys.argv[1])\nL, K = int(sys.argv[3]), int(sys.argv[4])\n' +
    'p = ts["params"].double().requires_grad_()\nlabels = ts["labels"].round().to(torch.uint8)\n' +
    'nll = logistic_mixture_nll(p, labels, L, K)\n(nll.sum() / labels.numel()).backward()\n' +
    'open(sys.argv[2], "wb").write(encode({"nll": nll.reshape(nll.shape[0], -1).sum(1), "grad": p.grad}))\n';
  for (const [C, L, K] of [[1, 3, 2], [3, 256, 3], [3, 17, 1]] as const) {
    const B = 4, H = 5, W = 6, S = H * W, layout = mixtureLayout(C, K), filters = layout.perColour * C;
    const params = new Float32Array(B * filters * S), labels = new Uint8Array(B * C * S);
    for (let b = 0; b < B; b++) for (let f = 0; f < filters; f++) for (let s = 0; s < S; s++) {
      const slot = Math.floor(f / C), u = rng.uniform() * 2 - 1;
      // Means far outside [−1, 1] (the bins' masses underflow), log-scales from below the clamp
      // (−7) past the small-width branch (2e^−s/(L − 1) < 1e-8) to where e^−s is 0 even in float64.
      const logScale = u > 0.6 ? 900 * u : 28 + 80 * u;
      const value = slot < K ? 30 * u : slot < 2 * K ? logScale : slot < 3 * K && f % C === 0 ? 6 * u : 4 * u;
      params[(b * filters + f) * S + s] = value;
    }
    for (let i = 0; i < labels.length; i++) labels[i] = i % 3 === 0 ? 0 : i % 3 === 1 ? L - 1 : rng.int(L);
    const p = new Tensor(params, [B, filters, H, W], { requiresGrad: true });
    const { loss, nllPerImage: mine } = logisticMixtureNll(p, labels, L, C, K);
    backward(loss);
    assert.ok(mine.every(Number.isFinite));
    const inFile = fresh('mix') + '.safetensors', outFile = fresh('nll') + '.safetensors';
    writeFileSync(inFile, encodeSafetensors(new Map([['params', { shape: [B, filters, H, W], data: params }],
      ['labels', { shape: [B, C, H, W], data: Float32Array.from(labels) }]])));
    ok(run(python, ['-c', script, inFile, outFile, String(L), String(K)]), 'logistic_mixture_nll');
    const out = readTensors(outFile), theirs = out.get('nll')!.data;
    const rel = relativeError(theirs, mine);
    assert.ok(rel < 1e-6, `C ${C}, L ${L}, K ${K}: torch ${[...theirs]}, ours ${[...mine]}`);
    // The training loss's gradient (mean per dimension): autograd there, derived by hand here.
    const relGrad = relativeError(out.get('grad')!.data, p.grad!);
    assert.ok(relGrad < 1e-5, `C ${C}, L ${L}, K ${K}: gradients differ by ${relGrad}`);
  }
});

test('torch: golden logits (written by PyTorch) match our models, with or without PyTorch here', (t) => {
  const manifest = JSON.parse(readFileSync(join(GOLDEN, 'manifest.json'), 'utf8')) as
    { format: string; version: number; cases: { name: string; checkpoint: string; io: string }[] };
  assert.equal(manifest.format, 'pixelcnn-golden-logits');
  assert.equal(manifest.version, 2, 'test/golden was written in a layout this test does not know; see python/make_golden.py');
  const archs = new Set<string>();
  // The stored x is level / (L − 1) in float32: rounding x·(L − 1) gives the levels back.
  const levelsOf = (x: RawTensor, L: number) => Uint8Array.from(x.data, (v) => Math.round(v * (L - 1)));
  for (const c of manifest.cases) {
    const io = readTensors(join(GOLDEN, c.io));
    const { model } = loadModel(join(GOLDEN, c.checkpoint));
    archs.add(`${model.config.arch}/${model.config.likelihood}`);
    const x = io.get('x')!, golden = io.get('logits')!, cls = io.get('classes');
    const classes = cls ? Int32Array.from(cls.data) : null;
    const mine = model.forward(new Tensor(x.data, x.shape), classes);
    assert.deepEqual([...mine.shape], golden.shape, c.name);
    const rel = relativeError(mine.data, golden.data);
    assert.ok(rel < 1e-5, `${c.name}: relative error ${rel} against the golden logits`);
    const nll = ourNll(model, levelsOf(x, model.config.levels), x.shape[0], classes);
    const relNll = relativeError(nll, io.get('nll')!.data);
    assert.ok(relNll < 1e-5, `${c.name}: per-image NLL ${[...nll]}, golden ${[...io.get('nll')!.data]}`);
  }
  assert.deepEqual([...archs].sort(), ['gated/logistic-mixture', 'gated/sigmoid', 'gated/softmax', 'pixelcnn++/logistic-mixture',
    'pixelcnn++/softmax', 'pixelcnn/sigmoid', 'pixelcnn/softmax']);
  // Where PyTorch is present, it still computes the golden outputs (neither side drifted).
  if (!PYTHON) { t.diagnostic('PyTorch absent: compared our models with the stored outputs only'); return; }
  for (const c of manifest.cases.filter((k) => k.name.startsWith('gated-rgb') || k.name.startsWith('pixelcnn++-rgb'))) {
    const io = readTensors(join(GOLDEN, c.io));
    const x = io.get('x')!, cls = io.get('classes'), dir = join(GOLDEN, c.checkpoint);
    const L = loadCheckpoint(dir).modelConfig.levels;
    const again = torchOutputs(PYTHON, dir, new Tensor(x.data, x.shape), cls ? Int32Array.from(cls.data) : null, levelsOf(x, L));
    assert.ok(relativeError(again.get('logits')!.data, io.get('logits')!.data) < 1e-6, c.name);
    assert.ok(relativeError(again.get('nll')!.data, io.get('nll')!.data) < 1e-6, c.name);
  }
});

// ---------------------------------------------------------------------------------------------
// Importing the PyTorch port pclucas14/pixel-cnn-pp (python/pixelcnn_torch/pclucas14.py) against
// what the port's own code computes (test/pclucas14, written by python/make_pclucas14_fixture.py)

const PCLUCAS14 = join(REPO, 'test', 'pclucas14');

interface PortCase {
  name: string; pth: string; dataParallel: boolean; channels: 1 | 3; height: number; width: number;
  nr_filters: number; nr_resnet: number; nr_logistic_mix: number; shape: number[]; labels: number[];
  nll: number[]; bits_per_dim: number;
}

function portFixture(): PortCase[] {
  const f = JSON.parse(readFileSync(join(PCLUCAS14, 'expected.json'), 'utf8')) as { format: string; version: number; cases: PortCase[] };
  assert.equal(f.format, 'pixelcnn-pclucas14-fixture');
  assert.equal(f.version, 1, 'test/pclucas14 was written in a layout this test does not know; see python/make_pclucas14_fixture.py');
  return f.cases;
}

const importPort = (python: string, pth: string, out: string, ...flags: string[]) =>
  run(python, ['-m', 'pixelcnn_torch', 'import-pclucas14', '--pth', pth, '--out', out, ...flags]);

test('torch: a pclucas14/pixel-cnn-pp state dict imports with the port\'s own per-image NLL, in PyTorch and in ours (1e-5)', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const cases = portFixture();
  // RGB and gray (10K and 3K output filters), a plain state dict and nn.DataParallel's.
  assert.deepEqual(cases.map((c) => [c.channels, c.dataParallel]), [[3, false], [1, true]]);
  for (const c of cases) {
    const dir = fresh(`pclucas14-${c.name}`);
    ok(importPort(python, join(PCLUCAS14, c.pth), dir, '--height', String(c.height), '--width', String(c.width)), `import ${c.pth}`);
    const { model } = loadModel(dir);
    assert.deepEqual(model.config, {
      arch: 'pixelcnn++', channels: c.channels, levels: 256, likelihood: 'logistic-mixture', mixtures: c.nr_logistic_mix,
      height: c.height, width: c.width, numClasses: 0, filters: c.nr_filters, resnets: c.nr_resnet, dropout: 0.5, weightNorm: true,
    });
    const labels = Uint8Array.from(c.labels), B = c.shape[0];
    // The PyTorch twin.
    const x = new Tensor(Float32Array.from(labels, (v) => v / 255), c.shape);
    const theirs = torchOutputs(python, dir, x, null, labels).get('nll')!.data;
    const relTorch = relativeError(theirs, c.nll);
    assert.ok(relTorch < 1e-5, `${c.name}: PyTorch twin ${[...theirs]}, the port ${c.nll}`);
    // Ours: the per-image NLL and what `pixelcnn eval` reports for these images.
    const ours = ourNll(model, labels, B, null);
    const relOurs = relativeError(ours, c.nll);
    assert.ok(relOurs < 1e-5, `${c.name}: ours ${[...ours]}, the port ${c.nll}`);
    const { bitsPerDim } = evaluate(model, labels, B, c.height, c.width);
    assert.ok(Math.abs(bitsPerDim - c.bits_per_dim) < 1e-5 * c.bits_per_dim, `${c.name}: ${bitsPerDim} bits/dim, the port ${c.bits_per_dim}`);
    t.diagnostic(`${c.name}: relative NLL difference to the port: PyTorch twin ${relTorch.toExponential(2)}, ours ${relOurs.toExponential(2)}`);
  }
});

test('torch: import-pclucas14 refuses what does not map, in one line naming the file and the tensor, and keeps an existing checkpoint', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const dir = fresh('pclucas14-bad'), rgb = join(PCLUCAS14, 'rgb.pth');
  mkdirSync(dir);
  // Variants of the RGB fixture's state dict.
  ok(run(python, ['-c', `
import sys, torch
sd, out = torch.load(sys.argv[1], map_location='cpu'), sys.argv[2]
def save(name, d): torch.save(d, f'{out}/{name}.pth')
save('conditional', {**sd, 'up_layers.0.u_stream.0.cond.weight': torch.zeros(10, 12)})
save('head', {**sd, 'nin_out.lin_a.weight_v': torch.ones(31, 6)})
save('missing', {k: v for k, v in sd.items() if k != 'down_layers.1.ul_stream.0.conv_out.conv.weight_g'})
save('deconv', {**sd, 'upsize_u_stream.0.deconv.weight_v': torch.ones(6, 6, 3, 3)})
save('nested', {'state_dict': sd})
save('mixed', {**{'module.' + k: v for k, v in sd.items() if k != 'u_init.conv.bias'}, 'u_init.conv.bias': sd['u_init.conv.bias']})
`, rgb, dir]), 'making the variants');
  writeFileSync(join(dir, 'text.pth'), 'not a pickle\n');
  const out = join(dir, 'ck');
  const cases: [string, string][] = [
    ['conditional', "tensor 'up_layers.0.u_stream.0.cond.weight' [10, 12] has no place in pclucas14/pixel-cnn-pp's unconditional PixelCNN: " +
      'a class-conditional or otherwise changed model cannot be imported'],
    ['head', "tensor 'nin_out.lin_a.weight_v' is [31, 6], expected [10·nr_logistic_mix, 6] (a mixture of discretised logistics over 3 colours, nr_filters 6)"],
    ['missing', "no tensor 'down_layers.1.ul_stream.0.conv_out.conv.weight_g' [12, 1, 1, 1] (nr_filters 6, nr_resnet 1, 3 colours): " +
      "not pclucas14/pixel-cnn-pp's PixelCNN, or a different architecture"],
    ['deconv', "tensor 'upsize_u_stream.0.deconv.weight_v' is [6, 6, 3, 3], expected [6, 6, 2, 3] for nr_filters 6, nr_resnet 1, " +
      'nr_logistic_mix 3: a different architecture'],
    ['nested', "entry 'state_dict' is not a tensor (OrderedDict): not a state dict (the port saves model.state_dict())"],
    ['mixed', "tensor 'u_init.conv.bias' lacks the 'module.' prefix of the others (nn.DataParallel's)"],
  ];
  for (const [name, message] of cases) {
    const pth = join(dir, `${name}.pth`);
    const r = importPort(python, pth, out);
    assert.equal(r.status, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, `pixelcnn_torch: error: ${pth}: ${message}\n`, name);
  }
  const text = importPort(python, join(dir, 'text.pth'), out);
  assert.equal(text.status, 1);
  assert.ok(text.stderr.startsWith(`pixelcnn_torch: error: ${join(dir, 'text.pth')}: not a `) && text.stderr.split('\n').length === 2, text.stderr);
  const gone = importPort(python, join(dir, 'absent.pth'), out);
  assert.equal(gone.stderr, `pixelcnn_torch: error: ${join(dir, 'absent.pth')}: no such file\n`);
  // A size the config does not take names the flag.
  const big = importPort(python, rgb, out, '--height', '0');
  assert.equal(big.stderr, `pixelcnn_torch: error: ${rgb}: the model does not fit our PixelCNN++ config: --height must be an integer in [1, 4096], got 0\n`);
  assert.ok(!existsSync(out), 'nothing is written on an error');

  // An existing checkpoint is replaced only with --force.
  ok(importPort(python, rgb, out), 'import');
  assert.deepEqual([loadCheckpoint(out).modelConfig.height, loadCheckpoint(out).modelConfig.width], [32, 32]);  // the port's CIFAR size
  const before = readFileSync(join(out, 'config.json'), 'utf8');
  const again = importPort(python, join(PCLUCAS14, 'gray.pth'), out);
  assert.equal(again.stderr, `pixelcnn_torch: error: ${out} already holds a checkpoint; replace it with --force\n`);
  assert.equal(readFileSync(join(out, 'config.json'), 'utf8'), before);
  ok(importPort(python, join(PCLUCAS14, 'gray.pth'), out, '--force'), 'import --force');
  assert.deepEqual([loadCheckpoint(out).modelConfig.channels, loadCheckpoint(out).modelConfig.height], [1, 28]);
});

// ---------------------------------------------------------------------------------------------
// Training with DDP

/** A free TCP port on 127.0.0.1 for the gloo rendezvous. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * train_ddp.py on `world` processes, started with the variables torchrun sets (env:// rendezvous);
 * resolves to rank 0's stdout.
 */
async function trainDdp(python: string, world: number, args: string[]): Promise<string> {
  const port = await freePort();
  const runs = Array.from({ length: world }, (_, rank) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(python, [TRAIN_DDP, ...args], {
      env: pyEnv({ MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(world), RANK: String(rank), LOCAL_RANK: String(rank) }),
    });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  }));
  const results = await Promise.all(runs);
  results.forEach((r, rank) => assert.equal(r.code, 0, `train_ddp.py rank ${rank}/${world} failed:\n${r.out}\n${r.err}`));
  return results[0].out;
}

const tinyTrain = ['--dataset', 'mnist', '--limit', '96', '--eval-limit', '16', '--seed', '5'];

test('torch: DDP on 2 gloo processes × batch 16 takes the same step as 1 process × batch 32', async (t) => {
  const python = needTorch(t);
  if (!python) return;
  for (const model of [['--arch', 'pixelcnn', '--levels', '2', '--hidden', '8', '--out-hidden', '8', '--blocks', '2'],
    ['--arch', 'gated', '--conditional', '--levels', '4', '--hidden', '6', '--out-hidden', '6', '--layers', '2', '--first-kernel', '5'],
    ['--arch', 'pixelcnn++', '--conditional', '--likelihood', 'logistic-mixture', '--mixtures', '2', '--filters', '4', '--resnets', '0', '--dropout', '0']]) {
    const one = fresh('ddp1'), two = fresh('ddp2');
    const args = [...tinyTrain, ...model, '--steps', '1', '--batch', '32', '--lr', '0.01'];
    await trainDdp(python, 1, [...args, '--out', one]);
    await trainDdp(python, 2, [...args, '--out', two]);
    const a = loadCheckpoint(one), b = loadCheckpoint(two);
    assert.equal(b.training!.step, 1);
    assert.equal(b.optimizer!.step, 1);
    // PixelCNN++'s conv_out weights start at a tenth of the scale of the others (its init_scale), so
    // the same float-order difference in an Adam step is ten times larger relative to them.
    const tolerance = model[1] === 'pixelcnn++' ? 1e-4 : 1e-5;
    for (const [name, p] of a.params) {
      const rel = relativeError(b.params.get(name)!.data, p.data);
      assert.ok(rel < tolerance, `${model[1]} ${name}: relative difference ${rel} between 2 × 16 and 1 × 32`);
    }
    // The first moments are the gradient itself, which float32 sums over 25088 pixel terms in
    // another order on 2 processes: an output bias's gradient is ~2e-4 from its float64 value on 1
    // process already. The step Adam takes from it is insensitive to that, as the weights show.
    const all = (m: Map<string, Float32Array>) => Float32Array.from([...a.params.keys()].flatMap((n) => [...m.get(n)!]));
    const m = relativeError(all(b.optimizer!.m), all(a.optimizer!.m));
    assert.ok(m < 1e-3, `${model[1]}: first moments differ by ${m}`);
    const moved = [...a.optimizer!.m.values()].filter((v) => v.some((x) => x !== 0)).length;
    assert.ok(moved > a.params.size / 2, 'the step changed the optimiser state');
  }
});

test('torch: a 20-step DDP run writes a checkpoint that pixelcnn eval and sample read, with the script\'s own test NLL', async (t) => {
  const python = needTorch(t);
  if (!python) return;
  const dir = fresh('ddp20');
  const out = await trainDdp(python, 2, ['--dataset', 'mnist', '--limit', '200', '--eval-limit', String(EVAL_IMAGES), '--levels', '2',
    '--hidden', '8', '--out-hidden', '8', '--blocks', '2', '--steps', '20', '--batch', '16', '--lr', '0.005', '--ema', '0.9', '--json', '--out', dir]);
  const summary = lastJson(out);
  assert.equal(summary.steps, 20);
  assert.equal(summary.test_images, EVAL_IMAGES);
  const ev = lastJson(ok(run(process.execPath, [CLI, 'eval', '--model', dir, '--limit', String(EVAL_IMAGES), '--json', '--no-progress']), 'pixelcnn eval'));
  assert.equal(ev.images, EVAL_IMAGES);
  assert.ok(Math.abs(ev.nats_per_image - summary.test_nats_per_image) / summary.test_nats_per_image < 1e-5,
    `pixelcnn eval ${ev.nats_per_image} nats/image, the script ${summary.test_nats_per_image}`);
  // The live weights ride along in optimizer.safetensors, as with pixelcnn train --ema.
  const live = lastJson(ok(run(process.execPath, [CLI, 'eval', '--model', dir, '--limit', String(EVAL_IMAGES), '--live-weights', '--json', '--no-progress']), 'pixelcnn eval --live-weights'));
  assert.notEqual(live.nats_per_image, ev.nats_per_image);
  const png = join(root, 'ddp-samples.png');
  ok(run(process.execPath, [CLI, 'sample', '--model', dir, '--n', '2', '--out', png, '--no-progress']), 'pixelcnn sample');
  assert.deepEqual([...readFileSync(png).subarray(1, 4)], [...Buffer.from('PNG')]);
});

test('torch: train_ddp.py trains a conditional PixelCNN++ with the logistic mixture that pixelcnn eval reads and either side resumes', async (t) => {
  const python = needTorch(t);
  if (!python) return;
  const dir = fresh('ddp-pp');
  const run16 = ['--eval-limit', '16', '--batch', '16'];
  const out = await trainDdp(python, 2, ['--dataset', 'mnist', '--limit', '64', ...run16, '--seed', '3', '--lr', '0.002', '--arch', 'pixelcnn++',
    '--conditional', '--likelihood', 'logistic-mixture', '--mixtures', '2', '--filters', '4', '--resnets', '0', '--dropout', '0.2', '--steps', '3', '--json', '--out', dir]);
  const summary = lastJson(out);
  assert.equal(summary.steps, 3);
  assert.deepEqual(loadCheckpoint(dir).modelConfig, { arch: 'pixelcnn++', channels: 1, levels: 256, likelihood: 'logistic-mixture', mixtures: 2,
    height: 28, width: 28, numClasses: 10, filters: 4, resnets: 0, dropout: 0.2, weightNorm: false });
  const ev = lastJson(ok(run(process.execPath, [CLI, 'eval', '--model', dir, '--limit', '16', '--json', '--no-progress']), 'pixelcnn eval'));
  assert.equal(ev.images, 16);
  assert.ok(Math.abs(ev.bits_per_dim - summary.test_bits_per_dim) / summary.test_bits_per_dim < 1e-5,
    `pixelcnn eval ${ev.bits_per_dim} bits/dim, the script ${summary.test_bits_per_dim}`);
  // pixelcnn train continues the script's checkpoint, and the script continues that one.
  ok(run(process.execPath, [CLI, 'train', ...run16, '--steps', '4', '--samples', '0', '--no-progress', '--resume', '--out', dir]), 'pixelcnn train --resume');
  assert.equal(loadCheckpoint(dir).optimizer!.step, 4);
  await trainDdp(python, 1, [...run16, '--steps', '5', '--resume', '--out', dir]);
  const ck = loadCheckpoint(dir);
  assert.equal(ck.optimizer!.step, 5);
  assert.equal(ck.training!.step, 5);
  assert.equal(ck.training!.indexInEpoch, 16);
});

test('torch: training resumes across the boundary with data position and Adam moments intact', async (t) => {
  const python = needTorch(t);
  if (!python) return;
  const flags = ['--dataset', 'mnist', '--limit', '64', '--eval-limit', '8', '--levels', '2', '--hidden', '8', '--out-hidden', '8',
    '--blocks', '1', '--batch', '16', '--lr', '0.003', '--lr-schedule', 'cosine', '--warmup', '2', '--seed', '9'];
  const start = fresh('start');
  ok(run(process.execPath, [CLI, 'train', ...flags, '--steps', '3', '--samples', '0', '--no-progress', '--out', start]), 'pixelcnn train');
  // The same 3 more steps (crossing an epoch boundary: 64 images = 4 steps) on each side.
  const here = fresh('here'), there = fresh('there');
  cpSync(start, here, { recursive: true });
  cpSync(start, there, { recursive: true });
  ok(run(process.execPath, [CLI, 'train', ...flags, '--steps', '6', '--samples', '0', '--no-progress', '--resume', '--out', here]), 'pixelcnn train --resume');
  // The script is told only the new budget: the training flags come from the checkpoint, as in pixelcnn train.
  const resumed = run(python, [TRAIN_DDP, '--steps', '6', '--resume', '--out', there]);
  ok(resumed, 'train_ddp.py --resume');
  assert.match(resumed.stderr, /resuming .* at step 3; continuing its --batch 16 --lr 0\.003 --lr-schedule cosine --warmup 2 --seed 9 --eval-limit 8\n/);
  const a = loadCheckpoint(here), b = loadCheckpoint(there);
  for (const k of ['step', 'epoch', 'indexInEpoch', 'imagesSeen'] as const) assert.equal(b.training![k], a.training![k], k);
  // The script records the data set as pixelcnn train does (and takes it from the checkpoint on --resume).
  assert.deepEqual(b.training!.dataset, { name: 'mnist', dataDir: null, colour: null, binarise: 'stochastic', limit: 64 });
  assert.deepEqual(b.training!.dataset, a.training!.dataset);
  const contra = run(python, [TRAIN_DDP, '--steps', '7', '--resume', '--limit', '32', '--out', there]);
  assert.equal(contra.status, 1);
  assert.equal(contra.stderr, `train_ddp.py: error: --limit 32 contradicts the checkpoint in ${there} (trained with --limit 64); leave the flag out to continue it\n`);
  assert.equal(b.optimizer!.step, 6);
  for (const [name, p] of a.params) {
    const rel = relativeError(b.params.get(name)!.data, p.data);
    assert.ok(rel < 1e-4, `${name}: torch resume vs ours differ by ${rel}`);
  }
  // And back: pixelcnn train resumes the script's checkpoint.
  const back = run(process.execPath, [CLI, 'train', '--steps', '7', '--samples', '0', '--no-progress', '--resume', '--out', there]);
  ok(back, 'pixelcnn train --resume of a torch checkpoint');
  assert.match(back.stderr, /resuming .* at step 6; continuing its --batch 16 --lr 0\.003 --lr-schedule cosine --warmup 2 --seed 9 --eval-limit 8\n/);
  assert.equal(loadCheckpoint(there).optimizer!.step, 7);
  // A recorded option the flag would refuse: one line naming the file and field.
  const cfgPath = join(there, 'config.json');
  const cfgText = readFileSync(cfgPath, 'utf8');
  assert.match(cfgText, /"lrSchedule": ?"cosine"/);
  writeFileSync(cfgPath, cfgText.replace(/"lrSchedule": ?"cosine"/, '"lrSchedule": "linear"'));
  const bad = run(python, [TRAIN_DDP, '--steps', '8', '--resume', '--out', there]);
  // A run trained with --flip: the script does not mirror images, so it refuses to continue it.
  const flipped = fresh('flipped');
  ok(run(process.execPath, [CLI, 'train', ...flags, '--flip', '--steps', '1', '--samples', '0', '--no-progress', '--out', flipped]), 'pixelcnn train --flip');
  const noFlip = run(python, [TRAIN_DDP, '--steps', '2', '--resume', '--out', flipped]);
  assert.equal(noFlip.status, 1);
  assert.equal(noFlip.stderr, `train_ddp.py: error: the checkpoint in ${flipped} was trained with --flip, which train_ddp.py does not do (it would change the data the run sees)\n`);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, `train_ddp.py: error: ${cfgPath}: "training.options.lrSchedule" is "linear": allowed choices are constant, cosine, exp\n`);
});

test('torch: bad input gives one line and exit 1 on the Python side', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const dir = fresh('bad');
  saveCheckpoint(dir, { modelConfig: { ...ARCH_CASES[0].config }, params: createModel(ARCH_CASES[0].config).parameters() });
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('"blocks"', '"blokcs"'));
  const r = run(python, ['-m', 'pixelcnn_torch', 'eval', '--model', dir]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `pixelcnn_torch: error: ${cfgFile}: unknown key 'blokcs' in the PixelCNN config (did you mean 'blocks'?); ` +
    'known keys: arch, channels, levels, likelihood, mixtures, height, width, numClasses, hidden, outHidden, blocks\n');
  // Level labels for the NLL: of x's shape, integers below the model's levels (4 here).
  const good = fresh('good');
  saveCheckpoint(good, { modelConfig: { ...ARCH_CASES[0].config }, params: createModel(ARCH_CASES[0].config).parameters() });
  const xFile = fresh('labels') + '.safetensors';
  writeFileSync(xFile, encodeSafetensors(new Map([['x', { shape: [1, 1, 28, 28], data: new Float32Array(784) }],
    ['labels', { shape: [1, 1, 28, 28], data: new Float32Array(784).fill(4) }]])));
  const lab = run(python, ['-m', 'pixelcnn_torch', 'logits', '--model', good, '--input', xFile, '--output', fresh('y')]);
  assert.equal(lab.status, 1);
  assert.equal(lab.stderr, `pixelcnn_torch: error: ${xFile}: "labels" must hold level labels in [0, 4), got 4\n`);
  const b = run(python, [TRAIN_DDP, '--steps', '1', '--batch', '30', '--out', fresh('x')], pyEnv({ WORLD_SIZE: '4', RANK: '0' }));
  assert.equal(b.status, 1);
  assert.equal(b.stderr, 'train_ddp.py: error: --batch 30 is not divisible by the 4 processes (each takes batch/N images of every step)\n');
  // A weight-normalised layer whose direction v is zero in a slice (w = g · v/‖v‖ undefined): our message.
  const wnConfig = ARCH_CASES.find((c) => c.name.includes('weight-normalised'))!.config;
  const wn = createModel(wnConfig), zero = fresh('wn-zero');
  wn.parameters().get('nin_out.weight_v')!.data.fill(0, 4, 8);  // (K·3 = 6, F = 4, 1, 1): slice 1
  saveCheckpoint(zero, { modelConfig: { ...wnConfig }, params: wn.parameters() });
  const z = run(python, ['-m', 'pixelcnn_torch', 'eval', '--model', zero]);
  assert.equal(z.status, 1);
  assert.equal(z.stderr, `pixelcnn_torch: error: ${zero}: parameter 'nin_out.weight_v' is zero in slice 1 of its first axis ` +
    '(weight normalisation divides by its norm)\n');
  assert.throws(() => loadModel(zero), (e: Error) => e.message === `${join(zero, 'model.safetensors')}: parameter 'nin_out.weight_v' is zero in slice 1 of its first axis ` +
    '(weight normalisation divides by its norm)');
  const wz = run(python, [TRAIN_DDP, '--arch', 'gated', '--weight-norm', '--steps', '1', '--out', fresh('x')]);
  assert.equal(wz.status, 1);
  assert.equal(wz.stderr, 'train_ddp.py: error: --weight-norm needs --arch pixelcnn++ (the gated model has no weight normalisation)\n');
});

test('torch: the Python config reader accepts and refuses exactly what ours does, with the same messages', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const p = { arch: 'pixelcnn', channels: 1, levels: 4, likelihood: 'softmax', height: 8, width: 8, numClasses: 0, hidden: 8, outHidden: 4, blocks: 1 };
  const g = { arch: 'gated', channels: 3, levels: 4, likelihood: 'softmax', height: 8, width: 8, numClasses: 10, hidden: 6, outHidden: 3, layers: 2, kernel: 3, firstKernel: 5 };
  const pp = { arch: 'pixelcnn++', channels: 3, levels: 256, likelihood: 'logistic-mixture', mixtures: 5, height: 8, width: 8, numClasses: 10, filters: 4, resnets: 1, dropout: 0.5 };
  const { mixtures: _k, ...ppNoK } = pp;
  const corpus: unknown[] = [
    p, g, {}, [], 'pixelcnn', { arch: 'pixelcn' }, { arch: 'pixelcnn' }, { ...p, blokcs: 1 }, { ...p, hidden: 7 }, { ...p, hidden: 2.5 },
    { ...p, likelihood: 'sigmoid' }, { ...p, likelihood: 'logistic' }, { ...p, numClasses: 3 }, { ...p, channels: 2 }, { ...p, levels: true },
    { ...p, levels: '4' }, { ...p, width: 0 }, { ...p, blocks: null }, { ...g, hidden: 2 }, { ...g, outHidden: 1 }, { ...g, kernel: 4 },
    { ...g, firstKernel: 17 }, { ...g, blocks: 1 }, { ...g, numClasses: 1001 }, { ...g, arch: 'pixelcnn' },
    // The mixture likelihood and its K (optional: a config without it takes the default).
    { ...p, mixtures: 10 }, { ...p, mixtures: 5 }, { ...g, likelihood: 'sigmoid', levels: 2, mixtures: 3 }, { ...p, mixtures: null },
    { ...p, likelihood: 'logistic-mixture' }, { ...p, likelihood: 'logistic-mixture', mixtures: 5 }, { ...p, likelihood: 'logistic-mixture', levels: 2 },
    { ...p, likelihood: 'logistic-mixture', mixtures: 0 }, { ...p, likelihood: 'logistic-mixture', mixtures: 65 },
    { ...p, likelihood: 'logistic-mixture', mixtures: 2.5 }, { ...g, likelihood: 'logistic-mixture', levels: 256, mixtures: 64 }, { ...p, mixtrues: 5 },
    // PixelCNN++ (a float field).
    pp, ppNoK, { ...ppNoK, likelihood: 'softmax' }, { ...pp, dropout: 0 }, { ...pp, dropout: 0.95 }, { ...pp, dropout: 0.96 },
    { ...pp, dropout: -0.1 }, { ...pp, dropout: 1 }, { ...pp, dropout: '0.1' }, { ...pp, dropout: true }, { ...pp, dropout: null },
    { ...pp, resnets: 65 }, { ...pp, filters: 0 }, { ...pp, filtres: 4 }, { ...pp, hidden: 8 }, { arch: 'pixelcnn++' }, { arch: 'pixelcnn+' },
    // Weight normalisation (a boolean field; optional: a config without it has none).
    { ...pp, weightNorm: true }, { ...pp, weightNorm: false }, { ...pp, weightNorm: 1 }, { ...pp, weightNorm: 0 }, { ...pp, weightNorm: 'true' },
    { ...pp, weightNorm: null }, { ...pp, weightnorm: true }, { ...p, weightNorm: false }, { ...g, weightNorm: true },
  ];
  const ours = corpus.map((raw) => {
    try {
      return { ok: parseModelConfig(raw, { where: 'c.json', name: (k) => `"model.${k}"` }) };
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return { error: e.message };
    }
  });
  const script = 'import json, sys\nfrom pixelcnn_torch.config import ConfigError, parse_model_config\nout = []\n' +
    'for raw in json.load(sys.stdin):\n  try: out.append({"ok": parse_model_config(raw, where="c.json", name=lambda k: f\'"model.{k}"\')})\n' +
    '  except ConfigError as e: out.append({"error": str(e)})\nprint(json.dumps(out))\n';
  const r = spawnSync(python, ['-c', script], { input: JSON.stringify(corpus), encoding: 'utf8', timeout: 60_000, env: pyEnv() });
  const theirs = JSON.parse(ok(r, 'parse_model_config corpus')) as unknown[];
  corpus.forEach((raw, i) => assert.deepEqual(theirs[i], ours[i], `config ${JSON.stringify(raw)}`));
});

/** The swap siblings (`.<name>.pixelcnn-…`) next to a checkpoint directory. */
const swapSiblings = (dir: string) => readdirSync(dirname(dir)).filter((e) => e.startsWith(`.${basename(dir)}.pixelcnn-`));

test('torch: a save by the Python side leaves the user\'s DIR.old and DIR.tmp alone, keeps the mode and the user\'s files, and an interrupted one is recovered on both sides', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const config = JSON.stringify(ARCH_CASES[0].config);
  const dir = fresh('swap');
  // The user's own directories next to it, one of them a complete checkpoint.
  mkdirSync(`${dir}.tmp`);
  writeFileSync(join(`${dir}.tmp`, 'mine.txt'), 'keep');
  torchTool(python, 'init', '--out', `${dir}.old`, '--config', config, '--seed', '1');
  torchTool(python, 'init', '--out', dir, '--config', config, '--seed', '2');
  writeFileSync(join(dir, 'notes.txt'), 'the user\'s');
  chmodSync(dir, 0o750);
  torchTool(python, 'init', '--out', dir, '--config', config, '--seed', '3');
  assert.equal(readFileSync(join(`${dir}.tmp`, 'mine.txt'), 'utf8'), 'keep');
  assert.equal(loadCheckpoint(`${dir}.old`).dir, `${dir}.old`);
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'the user\'s');
  assert.equal(statSync(dir).mode & 0o777, 0o750);
  assert.deepEqual(swapSiblings(dir), []);

  // A Python save interrupted between its renames: <dir> → .<name>.pixelcnn-old-<generation>.
  const generation = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { generation: string }).generation;
  const old = join(dirname(dir), `.${basename(dir)}.pixelcnn-old-${generation}`);
  renameSync(dir, old);
  assert.equal(loadCheckpoint(dir).dir, old);
  const x = inputBatch(ARCH_CASES[0].config, 1, 3);
  const { model } = loadModel(dir);
  assert.ok(maxAbsDiff(torchLogits(python, dir, x, null).data, model.forward(x).data) < 1e-4, 'the Python side reads the -old- sibling');
  // The next Python save continues from it (the user's file comes along) and clears it away.
  torchTool(python, 'init', '--out', dir, '--config', config, '--seed', '4');
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'the user\'s');
  assert.deepEqual(swapSiblings(dir), []);

  // Only the project's own sibling is recovered: a user's DIR.old is never read in place of DIR.
  const gone = fresh('gone');
  cpSync(`${dir}.old`, `${gone}.old`, { recursive: true });
  const r = run(python, ['-m', 'pixelcnn_torch', 'eval', '--model', gone]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `pixelcnn_torch: error: ${gone}: checkpoint directory does not exist\n`);

  // Non-finite weights are not saved, and the checkpoint there stays as it was.
  const before = readFileSync(join(dir, 'model.safetensors'));
  const nan = run(python, ['-c', 'import sys, torch\nfrom pixelcnn_torch import load_model, save_checkpoint\n' +
    'model, ck = load_model(sys.argv[1])\nparams = dict(model.named_parameters())\nwith torch.no_grad(): params["out2.bias"][1] = float("nan")\n' +
    'save_checkpoint(sys.argv[1], ck["model"], params)\n', dir]);
  assert.notEqual(nan.status, 0);
  assert.match(nan.stderr, /not saved: parameter 'out2\.bias' holds a non-finite value \(NaN at index 1\); training diverged \(the checkpoint there is unchanged\)/);
  assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), before);
  assert.deepEqual(swapSiblings(dir), []);
  assert.ok(existsSync(`${dir}.tmp`) && existsSync(`${dir}.old`));
});

test('torch: the Python side refuses a bad training state with our message', (t) => {
  const python = needTorch(t);
  if (!python) return;
  const config = ARCH_CASES[0].config;
  const good = { step: 3, epoch: 0, indexInEpoch: 48, imagesSeen: 48, elapsedSeconds: 1.5, dataset: { name: 'mnist', dataDir: null, colour: null, binarise: null, limit: 64 } };
  for (const training of [{ ...good, step: -1 }, { ...good, imagesSeen: 2 ** 48 + 1 }, { ...good, epoch: 1.5 }, { ...good, elapsedSeconds: -1 },
    { ...good, indexInEpoch: undefined }, { ...good, options: [] }, { ...good, dataset: 3 }, { ...good, dataset: { name: 'mnist', limit: 0 } },
    { ...good, dataset: { dataDir: null } }, { ...good, dataset: { name: 'mnist', colour: 1 } }]) {
    const dir = fresh('state');
    saveCheckpoint(dir, { modelConfig: config, params: createModel(config, 1).parameters() });
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), training }));
    const ours = (() => { try { loadCheckpoint(dir); } catch (e) { return (e as Error).message; } return 'loaded'; })();
    const r = run(python, ['-m', 'pixelcnn_torch', 'eval', '--model', dir]);
    assert.equal(r.stderr, `pixelcnn_torch: error: ${ours}\n`, JSON.stringify(training));
  }
});
