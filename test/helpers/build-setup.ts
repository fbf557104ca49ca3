// vitest globalSetup: child-process tests run the compiled dist/, so compile once per test run,
// and type-check the tests with the sources: a type error fails the run before any test does.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

function tsc(root: string, project: string): void {
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, project)], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '');
    throw new Error(`tsc -p ${project} failed:\n${out.slice(0, 4000)}`, { cause: err });
  }
}

/** The web console (console/ -> dist/console/): type-checked and bundled by its own script. */
function buildConsole(root: string): void {
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts/build-console.mjs')], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '');
    throw new Error(`scripts/build-console.mjs failed:\n${out.slice(0, 4000)}`, { cause: err });
  }
}

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  tsc(root, 'tsconfig.json'); // incremental: an up-to-date build costs little
  tsc(root, 'tsconfig.test.json');
  buildConsole(root);
}
