import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PATIENCE_MS, Turns } from '../src/cluster/turns.js';

describe('Turns', () => {
  it('alone, every sequence is this node’s turn', () => {
    const turns = new Turns('b', 200);
    expect(turns.contended(0)).toBe(false);
    for (let seq = 1; seq < 10; seq++) expect(turns.isMine(seq, 0)).toBe(true);
  });

  it('writers that know each other get every sequence, each exactly one, round robin', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.uuid(), { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 1e6 }), (ids, from) => {
        const nodes = ids.map((id) => new Turns(id, 200));
        for (const node of nodes) for (const id of ids) node.hear(id, 0);
        for (let seq = from; seq < from + 2 * ids.length; seq++) {
          const holders = nodes.filter((n) => n.isMine(seq, 10));
          expect(holders).toHaveLength(1);
          // the same node again only after every other had its turn
          expect(holders[0]!.isMine(seq + ids.length, 10)).toBe(true);
          for (let k = 1; k < ids.length; k++) expect(holders[0]!.isMine(seq + k, 10)).toBe(false);
        }
      }),
    );
  });

  it('a writer not heard within the window no longer has turns; one that stopped is forgotten at once', () => {
    const turns = new Turns('a', 200);
    turns.hear('b', 0);
    turns.hear('c', 150);
    expect(turns.writers(100)).toEqual(['a', 'b', 'c']);
    expect(turns.writers(200)).toEqual(['a', 'c']);
    turns.forget('c');
    expect(turns.contended(200)).toBe(false);
    turns.hear('a', 300);
    expect(turns.writers(300)).toEqual(['a']);
  });
});

describe('Turns.patienceMs', () => {
  it('follows the pace of the stream within its bounds, and ignores pauses', () => {
    const turns = new Turns('a', 200);
    expect(turns.patienceMs()).toBe(PATIENCE_MS.min);
    for (let now = 0; now < 2000; now += 30) turns.noteMessages(1, now);
    expect(turns.patienceMs()).toBeGreaterThan(80);
    expect(turns.patienceMs()).toBeLessThanOrEqual(PATIENCE_MS.max);
    // a pause, then messages 2 ms apart (several per local commit)
    turns.noteMessages(1, 10_000);
    for (let now = 10_004; now < 11_000; now += 4) turns.noteMessages(2, now);
    expect(turns.patienceMs()).toBe(PATIENCE_MS.min);
  });
});
