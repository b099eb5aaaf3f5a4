import { InvalidArgumentError, Option } from 'commander';

/** Flag parsers that reject nonsense with a message naming the flag's expectation. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer ≥ ${min}, got '${v}'` : `expected an integer in [${min}, ${max}], got '${v}'`);
    }
    return n;
  };
}

export function floatArg(min: number, max = Infinity, opts: { exclusiveMin?: boolean; exclusiveMax?: boolean } = {}) {
  return (v: string): number => {
    const n = Number(v);
    const ok = v.trim() !== '' && Number.isFinite(n) && (opts.exclusiveMin ? n > min : n >= min) && (opts.exclusiveMax ? n < max : n <= max);
    if (!ok) {
      const upper = Number.isFinite(max) ? ` and ${opts.exclusiveMax ? '<' : '≤'} ${max}` : '';
      throw new InvalidArgumentError(`expected a number ${opts.exclusiveMin ? '>' : '≥'} ${min}${upper}, got '${v}'`);
    }
    return n;
  };
}

/** An option restricted to `choices` (commander lists them in --help and rejects others). */
export function choice<T extends string>(flags: string, description: string, choices: readonly T[], def?: T): Option {
  const o = new Option(flags, description).choices([...choices]);
  return def !== undefined ? o.default(def) : o;
}

/** Errors the user can fix: printed without a stack trace. */
export class UsageError extends Error {}
