// A replica (or follower) behind an excision on its primary: the primary's history up to the
// replica's t was rewritten by a request the replica has not read yet, so their hash chains differ
// there without the histories having diverged. The requests after the replica's t say what was
// rewritten: the replica applies them to its own log and compares the chains again, so a replica
// that merely lags catches up and one that truly diverged is still refused (feed/diverged).
import fs from 'node:fs';
import path from 'node:path';
import { FactlogError } from '../../query-lang/errors.js';
import { excisionRulesIn, rebuildWithout, requestsExcision } from '../db/excision.js';
import { schemaOfStore } from '../db/log-replay.js';
import { logFileIdentity, putInPlace, removeLeftSideDirectories, sideDirectory } from '../storage/compaction.js';
import { removeDatabaseFiles } from '../storage/database-files.js';
import type { ExcisionRule } from '../storage/excision.js';
import { DATA_FILE, Store } from '../storage/store.js';

/** The excision requests `store` records after t, in t order. */
export function excisionsAfter(store: Store, t: number): ExcisionRule[] {
  const schema = schemaOfStore(store);
  const rules: ExcisionRule[] = [];
  for (const entry of store.logRange(t + 1)) if (requestsExcision(entry)) rules.push(...excisionRulesIn(entry, schema));
  return rules;
}

/** Thrown by follow where the history it read was rewritten by an excision requested later (not a divergence). */
export function excisedError(store: Store, t: number, rules: ExcisionRule[]): FactlogError {
  const at = [...new Set(rules.map((r) => r.requestedAt))].join(', ');
  return new FactlogError(
    'feed/excised',
    `${store.dir} excised datoms at or before t=${t}, already read from it (requested at t=${at}): apply the same excision to what you hold and compare the chains again (replicate does), or read it again`,
  );
}

/**
 * Bring the replica at `to` past the excisions its primary made after the replica's last t: its
 * log rebuilt without what they excise, kept only when its chain then equals the primary's (else
 * nothing changes, and the replica's own check reports the divergence). Returns whether it did.
 */
export async function applyPrimaryExcisions(source: string, to: string): Promise<boolean> {
  const dir = path.resolve(to);
  if (!fs.existsSync(path.join(dir, DATA_FILE))) return false;
  removeLeftSideDirectories(dir);
  const side = sideDirectory(dir, 'excise');
  try {
    const before = logFileIdentity(dir);
    if (!(await rebuildIfExcised(source, dir, side))) return false;
    putInPlace(side, dir, before, 'storage/excise-busy');
    return true;
  } finally {
    removeDatabaseFiles(side);
  }
}

async function rebuildIfExcised(source: string, dir: string, side: string): Promise<boolean> {
  const { store: replica } = Store.open({ path: dir, create: false });
  const { store: primary } = Store.open({ path: source, create: false, readOnly: true });
  try {
    const lastT = replica.lastT();
    if (lastT < 0 || primary.lastT() <= lastT || sameChain(primary, replica, lastT)) return false;
    const rules = excisionsAfter(primary, lastT);
    if (rules.length === 0) return false;
    await rebuildWithout(replica, side, rules, lastT);
    const { store: rebuilt } = Store.open({ path: side, create: false, readOnly: true });
    try {
      return sameChain(primary, rebuilt, lastT);
    } finally {
      await rebuilt.close();
    }
  } finally {
    await primary.close();
    await replica.close();
  }
}

function sameChain(a: Store, b: Store, t: number): boolean {
  return Buffer.from(a.chainHash(t)!).equals(b.chainHash(t)!);
}
