/**
 * The shipped models (models/<name>/): each card (README.md) must say what its checkpoint is.
 * The card's `pixelcnn train` command, parsed by the CLI's own parser, gives config.json's model
 * config and training options; its parameter count and test figures are config.json's; and its
 * `pixelcnn eval` command, run here, reproduces the figures to the digits the card prints.
 * Format of a card: models/README.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { trainCommand } from '../src/cli/train.js';
import { modelConfigFromFlags, type ModelFlags } from '../src/cli/options.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { modelFromCheckpoint } from '../src/train/model-io.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const modelsDir = join(repoRoot, 'models');
const cli = join(repoRoot, 'bin', 'pixelcnn.js');

const shipped = readdirSync(modelsDir).sort().filter((n) => existsSync(join(modelsDir, n, 'config.json')));

/** The card's `| key | value |` rows. */
function rows(card: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of card.split('\n')) {
    const r = /^\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|\s*$/.exec(line);
    if (r && !/^-+$/.test(r[1])) m.set(r[1], r[2]);
  }
  return m;
}

/** The one line of a ```sh block of the card that starts with `pixelcnn <command>` (continuations joined). */
function commandLine(card: string, command: string): string[] {
  const blocks = [...card.matchAll(/```sh\n([\s\S]*?)```/g)].map((b) => b[1].replace(/\\\n\s*/g, ''));
  const lines = blocks.flatMap((b) => b.split('\n')).filter((l) => l.startsWith(`pixelcnn ${command} `));
  assert.equal(lines.length, 1, `the card should give exactly one \`pixelcnn ${command}\` command, found ${lines.length}`);
  return lines[0].trim().split(/\s+/).slice(2);
}

/** The number as the card prints it: digits with thin or plain spaces as thousands separators. */
const cardInt = (s: string) => Number(s.replace(/[\s\u2009\u202f,]/g, ''));

test('there is at least one shipped model', () => {
  assert.ok(shipped.length > 0, 'models/ holds no checkpoint');
});

for (const name of shipped) {
  const dir = join(modelsDir, name);

  test(`models/${name}: the card agrees with config.json (train command, parameters, figures, samples)`, () => {
    const cardFile = join(dir, 'README.md');
    assert.ok(existsSync(cardFile), `models/${name} has no model card (README.md)`);
    const card = readFileSync(cardFile, 'utf8');
    assert.match(card, /^# \S/, 'the card starts with a title');
    const ck = loadCheckpoint(dir);
    const model = modelFromCheckpoint(ck);
    const c = ck.modelConfig;
    const facts = rows(card);

    // The training command, parsed as `pixelcnn train` parses it.
    const argv = commandLine(card, 'train');
    const cmd = trainCommand().exitOverride().configureOutput({ writeErr: () => {} });
    const parsed: { flags?: ModelFlags & Record<string, unknown> } = {};
    cmd.action((flags: ModelFlags & Record<string, unknown>) => { parsed.flags = flags; });
    cmd.parse(argv, { from: 'user' });
    const f = parsed.flags;
    assert.ok(f, 'the train command did not parse');
    assert.deepEqual(modelConfigFromFlags(f, c), c, 'the card\'s train command describes another model');
    const opts = ck.training?.options as Record<string, unknown> | undefined;
    assert.ok(opts, 'config.json has no training options');
    const fromFlags: Record<string, unknown> = {
      batchSize: f.batch, lr: f.lr, lrSchedule: f.lrSchedule, lrDecay: f.lrDecay, warmupSteps: f.warmup, clipNorm: f.clip,
      weightDecay: f.weightDecay, ema: f.ema, seed: f.seed, binarise: f.binarise, flip: f.flip, minutes: f.minutes, steps: f.steps, epochs: f.epochs,
    };
    for (const [k, v] of Object.entries(fromFlags)) {
      if (k in opts) assert.deepEqual(v, opts[k], `training option ${k}: the card's command says ${String(v)}, config.json ${String(opts[k])}`);
    }
    // The data set: name and, for emoji, the size (absent: the default).
    const data = ck.training?.dataset;
    if (data) {
      assert.equal(f.dataset, data.name, 'the card\'s command trains on another data set');
      assert.equal(f.size ?? null, data.size ?? null, 'the card\'s command has another --size');
    }

    const parameters = [...model.parameters().values()].reduce((s, p) => s + p.size, 0);
    assert.equal(cardInt(facts.get('parameters') ?? ''), parameters, 'parameters');

    const m = ck.metrics ?? {};
    const nll = facts.get('test NLL') ?? '';
    assert.ok(typeof m.test_bits_per_dim === 'number', 'config.json records no test_bits_per_dim');
    if (c.levels === 2) {
      assert.match(nll, /^\*\*\d+\.\d\d nats\/image\*\* \(0\.\d{4} bits\/dim\)/);
      assert.equal(nll.match(/\*\*([\d.]+) nats/)![1], m.test_nats_per_image.toFixed(2));
    } else {
      assert.match(nll, /^\*\*\d+\.\d{4} bits\/dim\*\*/);
    }
    assert.equal(nll.match(/([\d.]+) bits\/dim/)![1], m.test_bits_per_dim.toFixed(4));
    const images = nll.match(/(\d[\d\s\u2009\u202f,]*) test images/);
    assert.ok(images, 'the test NLL row says on how many test images');
    assert.equal(cardInt(images[1]), m.test_images, 'test images');

    // The sample grid the card shows.
    assert.match(card, /!\[[^\]]*\]\(samples\.png\)/, 'the card shows samples.png');
    const png = PNG.sync.read(readFileSync(join(dir, 'samples.png')));
    assert.ok(png.width >= c.width && png.height >= c.height, 'samples.png is smaller than one image');
    assert.ok(statSync(join(dir, 'model.safetensors')).size < 8 * 1024 * 1024, 'model.safetensors over 8 MiB: too big to ship');
  });

  test(`models/${name}: the card's pixelcnn eval command reproduces its test figure`, () => {
    const card = readFileSync(join(dir, 'README.md'), 'utf8');
    const argv = commandLine(card, 'eval');
    const r = spawnSync(process.execPath, [cli, 'eval', ...argv, '--json', '--no-progress'], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { bits_per_dim: number; nats_per_image?: number; images: number };
    const nll = rows(card).get('test NLL') ?? '';
    assert.equal(out.bits_per_dim.toFixed(4), nll.match(/([\d.]+) bits\/dim/)![1], 'bits/dim');
    if (out.nats_per_image !== undefined) assert.equal(out.nats_per_image.toFixed(2), nll.match(/\*\*([\d.]+) nats/)![1], 'nats/image');
    assert.equal(out.images, cardInt(nll.match(/(\d[\d\s\u2009\u202f,]*) test images/)![1]));
  });
}
