import { Command } from 'commander';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './args.js';
import { fmt } from './common.js';
import { MODEL_FILE, checkCheckpointTarget, checkpointExists, saveCheckpoint } from '../train/checkpoint.js';
import { loadModel } from '../train/model-io.js';
import { floatToHalf, halfToFloat } from '../train/safetensors.js';

interface ExportFlags {
  model: string;
  out: string;
  float16: boolean;
  liveWeights: boolean;
  force: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write a checkpoint\'s model for shipping: config.json and model.safetensors, without the optimizer state ' +
      '(which only resuming needs), optionally as float16 (half the size)')
    .requiredOption('--model <dir>', 'checkpoint directory to read')
    .requiredOption('--out <dir>', 'directory to write')
    .option('--float16', 'store the weights as float16, rounded to nearest; the recorded test metrics are dropped, since ' +
      'they belong to the float32 weights (run pixelcnn eval on the result)', false)
    .option('--live-weights', 'for a model trained with --ema: the live training weights instead of their average', false)
    .option('--force', 'replace a checkpoint already in --out', false)
    .action((f: ExportFlags) => runExport(f));
}

function runExport(f: ExportFlags): void {
  if (resolve(f.out) === resolve(f.model)) throw new UsageError('--out is the --model directory: export writes a new one');
  checkCheckpointTarget(f.out);
  if (checkpointExists(f.out) && !f.force) throw new UsageError(`${f.out} already holds a checkpoint; replace it with --force`);
  const { model, metrics, training } = loadModel(f.model, { live: f.liveWeights });
  const params = model.parameters();
  saveCheckpoint(f.out, {
    modelConfig: { ...model.config }, params, training,
    // Metrics describe the weights they were measured with: the stored average, in float32.
    metrics: f.float16 || f.liveWeights ? undefined : metrics,
    weightsDtype: f.float16 ? 'F16' : 'F32',
  });
  let count = 0, change = 0;
  for (const p of params.values()) {
    count += p.size;
    if (f.float16) for (const x of p.data) change = Math.max(change, Math.abs(halfToFloat(floatToHalf(x)) - x));
  }
  const mb = statSync(join(f.out, MODEL_FILE)).size / 1e6;
  console.log(`${f.out}: ${count.toLocaleString('en')} parameters, ${MODEL_FILE} ${fmt(mb, 2)} MB` +
    (f.float16 ? ` (float16; the largest change from rounding is ${change.toExponential(2)}: check with pixelcnn eval --model ${f.out})` : ''));
}
