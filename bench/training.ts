/**
 * Training throughput, ours against PyTorch in one run (the machines are shared and noisy, so
 * only the ratio of back-to-back runs means much):
 *   npm run build && node dist/bench/training.js [--levels 256 --hidden 128 --out-hidden 32 --blocks 7 --batch 32 --steps 20]
 *   node dist/bench/training.js --arch pixelcnn++ --filters 32 --resnets 1 --likelihood logistic-mixture --mixtures 10 --batch 16
 * Runs `pixelcnn bench --json` and, where /usr/bin/python3 has torch, bench/torch_train.py with
 * the same flags, alternating them `--rounds` times; prints a table and the ratio of medians.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 2;
const defaults: Record<string, string> = { '--levels': '256', '--hidden': '128', '--out-hidden': '32', '--blocks': '7', '--batch': '32', '--steps': '20' };
for (const [k, v] of Object.entries(defaults)) if (!args.includes(k)) args.push(k, v);

function run(cmd: string, argv: string[]): number | null {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) { process.stderr.write(`${cmd} failed: ${r.stderr}\n`); return null; }
  const line = r.stdout.trim().split('\n').pop()!;
  return (JSON.parse(line) as { train_images_per_s: number }).train_images_per_s;
}

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const ours: number[] = [], torch: number[] = [];
for (let r = 0; r < rounds; r++) {
  const a = run(process.execPath, [join(root, 'bin', 'pixelcnn.js'), 'bench', '--json', ...args]);
  if (a !== null) ours.push(a);
  if (hasTorch) {
    const b = run('/usr/bin/python3', [join(root, 'bench', 'torch_train.py'), ...args]);
    if (b !== null) torch.push(b);
  }
}
const median = (v: number[]) => { const s = [...v].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
console.log(`config: ${args.join(' ')}`);
console.log(`pixelcnn: ${ours.map((v) => v.toFixed(1)).join(', ')} images/s (median ${median(ours).toFixed(1)})`);
if (hasTorch) {
  console.log(`pytorch:  ${torch.map((v) => v.toFixed(1)).join(', ')} images/s (median ${median(torch).toFixed(1)})`);
  console.log(`ratio pixelcnn / pytorch: ${(median(ours) / median(torch)).toFixed(2)}`);
} else console.log('pytorch: not installed (apt-get install python3-torch)');
