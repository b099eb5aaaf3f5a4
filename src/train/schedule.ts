/** Learning-rate schedules, as a function of progress. */
export type LrSchedule = 'constant' | 'cosine' | 'exp';

export interface ScheduleOptions {
  lr: number;
  schedule: LrSchedule;
  /** exp: multiply the rate by this every epoch. */
  decayPerEpoch: number;
  /** Linear warm-up over this many steps (0 = none). */
  warmupSteps: number;
}

/**
 * The rate at `step` (0-based). `epochProgress` is fractional epochs done; `progress` is the
 * fraction of the run done (cosine needs it; null when the run length is a wall-clock budget).
 */
export function learningRate(o: ScheduleOptions, step: number, epochProgress: number, progress: number | null): number {
  let lr = o.lr;
  if (o.schedule === 'exp') lr *= Math.pow(o.decayPerEpoch, epochProgress);
  else if (o.schedule === 'cosine' && progress !== null) lr *= 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
  if (o.warmupSteps > 0 && step < o.warmupSteps) lr *= (step + 1) / o.warmupSteps;
  return lr;
}
