// The log file (src/storage/log-file.ts): framed, checksummed records that read back exactly as
// written, and a torn or damaged tail that reading stops before.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogFile, LOG_FILE_START, type LogRecord } from '../src/storage/log-file.js';
import { encodeLogEntry, type LogDatom, type LogEntry } from '../src/storage/log.js';
import { Tag } from '../src/storage/encoding.js';
import { tempDir } from './helpers/tmp.js';

const datomArb: fc.Arbitrary<LogDatom> = fc
  .oneof(
    fc.record({ tag: fc.constant(Tag.Number), payload: fc.oneof(fc.integer(), fc.double()) }),
    fc.record({ tag: fc.constant(Tag.BigInt), payload: fc.bigInt() }),
    fc.record({ tag: fc.constant(Tag.String), payload: fc.string({ unit: 'binary' }) }),
    fc.record({ tag: fc.constant(Tag.Boolean), payload: fc.boolean() }),
    fc.record({ tag: fc.constant(Tag.Ref), payload: fc.nat() }),
  )
  .chain(({ tag, payload }) =>
    fc.record({ e: fc.nat(), a: fc.nat(1000), tag: fc.constant(tag), payload: fc.constant(payload), added: fc.boolean() }),
  ) as fc.Arbitrary<LogDatom>;

function entriesArb(): fc.Arbitrary<LogEntry[]> {
  return fc.array(fc.record({ instant: fc.nat(), datoms: fc.array(datomArb, { maxLength: 6 }) }), { maxLength: 25 }).map((xs) =>
    xs.map((x, t) => ({ t, tx: 0x1_0000_0000 + t, instant: x.instant, datoms: x.datoms })),
  );
}

const recordOf = (entry: LogEntry): LogRecord => ({ t: entry.t, encoded: encodeLogEntry(entry) });

function freshFile(): string {
  return path.join(tempDir(), 'factlog.log');
}

describe('log file', () => {
  it('reads back every entry as written, whatever the batches they were appended in', () => {
    fc.assert(
      fc.property(entriesArb(), fc.array(fc.nat(4), { maxLength: 30 }), fc.boolean(), (entries, cuts, flush) => {
        const file = freshFile();
        const log = LogFile.open(file);
        const ends: number[] = [];
        for (let i = 0, c = 0; i < entries.length; c++) {
          const n = Math.max(1, cuts[c % Math.max(cuts.length, 1)] ?? 1);
          const { start, end } = log.append(entries.slice(i, i + n).map(recordOf), flush);
          expect(start).toBe(ends.length ? ends[ends.length - 1] : LOG_FILE_START);
          ends.push(end);
          i += n;
        }
        const read = [...log.read()];
        expect(read.map((r) => r.entry)).toEqual(entries);
        if (entries.length) expect(read[read.length - 1].end).toBe(log.size());
        log.close();
        fs.rmSync(file);
      }),
      { numRuns: 60 },
    );
  });

  it('stops before a torn last record, at any cut, and validEnd tells where to cut the file', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entries = [0, 1, 2].map((t) => ({ t, tx: t, instant: t, datoms: [{ e: t, a: 10, tag: Tag.String, payload: `value ${t}`, added: true }] }));
    log.append(entries.slice(0, 2).map(recordOf), true);
    const wholeEnd = log.size();
    const { end } = log.append([recordOf(entries[2])], true);
    for (let cut = wholeEnd + 1; cut < end; cut++) {
      log.truncate(cut);
      expect([...log.read()].map((r) => r.entry.t)).toEqual([0, 1]);
      expect(log.validEnd()).toBe(wholeEnd);
    }
    log.close();
  });

  it('stops at a record whose bytes changed (checksum), and reads on from an offset', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entries = [0, 1, 2].map((t) => ({ t, tx: t, instant: t, datoms: [{ e: t, a: 10, tag: Tag.Number, payload: t * 1.5, added: t !== 1 }] }));
    const ends = entries.map((e) => log.append([recordOf(e)], false).end);
    expect([...log.read(ends[0])].map((r) => r.entry)).toEqual(entries.slice(1));
    const bytes = fs.readFileSync(file);
    bytes[ends[1] - 2] ^= 0xff; // inside record 1's payload
    fs.writeFileSync(file, bytes);
    expect([...log.read()].map((r) => r.entry.t)).toEqual([0]);
    log.close();
  });

  it('refuses a file that is not a factlog log file', () => {
    const file = freshFile();
    fs.writeFileSync(file, 'this is not a log file at all');
    expect(() => LogFile.open(file)).toThrow(expect.objectContaining({ code: 'storage/not-a-log-file' }));
  });
});
