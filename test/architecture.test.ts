// The layers point one way: no import cycles (type imports included) and no import from a lower
// layer to a higher one, checked over every source file's import and export statements.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Lower first; a module may import its own layer and the ones below. */
const LAYERS: [string, number][] = [
  ['query-lang', 0],
  ['src/model.ts', 1],
  ['src/storage', 2],
  ['src/db', 3],
  ['src/tx', 4],
  ['src/query', 5],
  ['src/pull', 5],
  ['src/connection.ts', 6],
  ['src/feed', 7],
  ['src/cluster', 8],
  ['src/cli', 9],
  ['src/repl', 9],
  ['src/server', 9],
  ['src/client', 9],
  ['src/index.ts', 10],
];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Each file's relative imports, as files relative to the root. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...sourceFiles(path.join(ROOT, 'src')), ...sourceFiles(path.join(ROOT, 'query-lang'))]) {
    const text = fs.readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => path.relative(ROOT, path.resolve(path.dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
    graph.set(path.relative(ROOT, file), deps);
  }
  return graph;
}

function layerOf(file: string): number {
  const found = LAYERS.filter(([prefix]) => file === prefix || file.startsWith(prefix + '/')).sort((a, b) => b[0].length - a[0].length)[0];
  if (!found) throw new Error(`${file} is in no layer: add it to LAYERS`);
  return found[1];
}

/** The import cycles, each as a path from a file back to itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === 'open') found.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('the layers', () => {
  const graph = importGraph();

  it('have no import cycles', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('import only their own layer and the ones below', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) for (const dep of deps) if (layerOf(dep) > layerOf(file)) upward.push(`${file} -> ${dep}`);
    expect(upward).toEqual([]);
  });

  it('the check finds a cycle and an upward import when there is one', () => {
    const bad = new Map([
      ['src/storage/a.ts', ['src/db/b.ts']],
      ['src/db/b.ts', ['src/storage/a.ts']],
    ]);
    expect(cycles(bad)).toHaveLength(1);
    expect(layerOf('src/db/b.ts')).toBeGreaterThan(layerOf('src/storage/a.ts'));
  });
});
