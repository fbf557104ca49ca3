// vitest globalSetup: child-process tests run the compiled dist/, so compile once per test run.
// Incremental, so an up-to-date build costs little. Type errors do not block emit; a missing
// output does.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    if (!fs.existsSync(path.join(root, 'dist/src/index.js'))) throw new Error(`build failed:\n${out}`);
    console.warn(`tsc reported type errors (output was still emitted):\n${out.slice(0, 2000)}`);
  }
}
