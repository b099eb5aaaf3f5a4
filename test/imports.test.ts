/**
 * The source tree has no import circle: every .ts file under src/ and web/, its relative
 * import / export-from specifiers (type-only ones included, since a type cycle is still a design
 * cycle), as a graph that must be acyclic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The source file a relative specifier names ('./x.js' → x.ts, './dir' → dir/index.ts), or null. */
function resolveSpecifier(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c)) ?? null;
}

/** file → the files it imports (relative specifiers only), for every .ts file under the dirs. */
function importGraph(dirs: string[]): { graph: Map<string, string[]>; unresolved: string[] } {
  const graph = new Map<string, string[]>(), unresolved: string[] = [];
  for (const file of dirs.flatMap((d) => tsFiles(join(root, d)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps: string[] = [];
    for (const { fileName: spec } of importedFiles) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSpecifier(file, spec);
      if (target) deps.push(target);
      else unresolved.push(`${relative(root, file)}: '${spec}'`);
    }
    graph.set(file, deps);
  }
  return { graph, unresolved };
}

/** One cycle of the graph as a path that ends where it starts, or null when it is acyclic. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

test('findCycle finds a cycle (with its path) and accepts a DAG', () => {
  const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));
  assert.deepEqual(findCycle(g({ a: ['b'], b: ['c'], c: ['b'], d: [] })), ['b', 'c', 'b']);
  assert.deepEqual(findCycle(g({ a: ['a'] })), ['a', 'a']);
  assert.equal(findCycle(g({ a: ['b', 'c'], b: ['c'], c: [], d: ['a'] })), null);
});

test('src/ and web/ have no import circle (relative imports, type-only included)', () => {
  const { graph, unresolved } = importGraph(['src', 'web']);
  assert.deepEqual(unresolved, [], 'every relative import names a source file');
  assert.ok(graph.size > 50 && [...graph.values()].some((d) => d.length > 0), `the graph was read (${graph.size} files)`);
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import circle: ${cycle?.map((f) => relative(root, f)).join(' → ')}`);
});
