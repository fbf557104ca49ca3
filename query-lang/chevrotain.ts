// Chevrotain, loaded from its single-file ESM bundle when present. The package's default entry
// pulls in hundreds of lodash-es modules (about a second of start-up for every CLI call); the
// bundle is the same code in one file. Falls back to the default entry if the layout changes.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

type Chevrotain = typeof import('chevrotain');

async function load(): Promise<Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve('chevrotain'); // .../chevrotain/lib/src/api.js
    return (await import(pathToFileURL(path.join(path.dirname(entry), '..', 'chevrotain.mjs')).href)) as Chevrotain;
  } catch {
    return import('chevrotain');
  }
}

export const chevrotain: Chevrotain = await load();
