// The log file (src/storage/log-file.ts): framed, checksummed records that read back exactly as
// written, and a torn or damaged tail that reading stops before.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogFile, LOG_FILE_START, type LogRecord } from '../src/storage/log-file.js';
import { encodeLogRecord, type LogDatom, type LogEntry } from '../src/storage/log.js';
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
  .chain(({ tag, payload }) => fc.record({ e: fc.nat(), a: fc.nat(1000), tag: fc.constant(tag), payload: fc.constant(payload), added: fc.boolean() })) as fc.Arbitrary<LogDatom>;

function entriesArb(): fc.Arbitrary<LogEntry[]> {
  return fc
    .array(fc.record({ instant: fc.nat(), datoms: fc.array(datomArb, { maxLength: 6 }) }), { maxLength: 25 })
    .map((xs) => xs.map((x, t) => ({ t, tx: 0x1_0000_0000 + t, instant: x.instant, datoms: x.datoms })));
}

const recordOf = (entry: LogEntry): LogRecord => ({ t: entry.t, bytes: encodeLogRecord(entry) });

function freshFile(): string {
  return path.join(tempDir(), 'factlog.log');
}

describe('log file', () => {
  it('reads back every entry as written, whatever the batches they were appended in', () => {
    fc.assert(
      fc.property(entriesArb(), fc.array(fc.nat(4), { maxLength: 30 }), fc.boolean(), (entries, cuts, flush) => {
        const file = freshFile();
        const log = LogFile.open(file);
        let at = LOG_FILE_START;
        for (let i = 0, c = 0; i < entries.length; c++) {
          const n = Math.max(1, cuts[c % Math.max(cuts.length, 1)] ?? 1);
          const { start, end } = log.append(entries.slice(i, i + n).map(recordOf), flush, at);
          expect(start).toBe(at);
          // grown ahead: zeros follow the records
          expect(log.size()).toBeGreaterThan(end);
          expect(log.endsAt(end)).toBe(true);
          at = end;
          i += n;
        }
        const read = [...log.read()];
        expect(read.map((r) => r.entry)).toEqual(entries);
        expect(read.length ? read[read.length - 1].end : LOG_FILE_START).toBe(at);
        expect(log.validEnd()).toBe(at);
        log.close();
        fs.rmSync(file);
      }),
      { numRuns: 60 },
    );
  });

  it('records a dead writer left past the end are not read after a later append that ends before them', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entry = (t: number, v: number): LogEntry => ({ t, tx: 0x1_0000_0000 + t, instant: t, datoms: [{ e: 1, a: 2, tag: Tag.Number, payload: v, added: true }] });
    // a writer appended t 1 and 2 in one commit and died before LMDB committed them
    log.append([recordOf(entry(1, 11)), recordOf(entry(2, 12))], true, LOG_FILE_START);
    // another writer commits its own t 1, a record of the same size, where the log ended
    const { end } = log.append([recordOf(entry(1, 99))], true, LOG_FILE_START);
    expect(end - LOG_FILE_START).toBe(recordOf(entry(1, 99)).bytes.length + 12);
    expect([...log.read()].map((r) => r.entry)).toEqual([entry(1, 99)]);
    expect(log.endsAt(end)).toBe(true);
    log.close();
  });

  it('stops before a torn last record, at any cut, and validEnd tells where to cut the file', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entries = [0, 1, 2].map((t) => ({ t, tx: t, instant: t, datoms: [{ e: t, a: 10, tag: Tag.String, payload: `value ${t}`, added: true }] }));
    const wholeEnd = log.append(entries.slice(0, 2).map(recordOf), true, LOG_FILE_START).end;
    const { end } = log.append([recordOf(entries[2])], true, wholeEnd);
    for (let cut = end - 1; cut > wholeEnd; cut--) {
      log.truncate(cut);
      expect([...log.read()].map((r) => r.entry.t)).toEqual([0, 1]);
      expect(log.validEnd()).toBe(wholeEnd);
      expect(log.endsAt(wholeEnd)).toBe(false); // torn bytes, not the end
    }
    log.close();
  });

  it('a record that is undone (its commit failed) is zeroes: the log ends before it', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entries = [0, 1].map((t) => ({ t, tx: t, instant: t, datoms: [{ e: t, a: 10, tag: Tag.Boolean, payload: true, added: true }] }));
    const first = log.append([recordOf(entries[0])], true, LOG_FILE_START);
    const second = log.append([recordOf(entries[1])], true, first.end);
    log.undo(second.start, second.end);
    expect([...log.read()].map((r) => r.entry.t)).toEqual([0]);
    expect(log.endsAt(first.end)).toBe(true);
    // the next record takes its place
    const again = log.append([recordOf(entries[1])], true, first.end);
    expect(again.start).toBe(second.start);
    expect([...log.read()].map((r) => r.entry.t)).toEqual([0, 1]);
    log.close();
  });

  it('stops at a last record whose bytes changed (checksum), refuses one with records after it, and reads on from an offset', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entries = [0, 1, 2].map((t) => ({ t, tx: t, instant: t, datoms: [{ e: t, a: 10, tag: Tag.Number, payload: t * 1.5, added: t !== 1 }] }));
    const ends: number[] = [];
    for (const e of entries) ends.push(log.append([recordOf(e)], false, ends.at(-1) ?? LOG_FILE_START).end);
    expect([...log.read(ends[0])].map((r) => r.entry)).toEqual(entries.slice(1));
    const clean = fs.readFileSync(file);
    const bytes = Buffer.from(clean);
    bytes[ends[2] - 2] ^= 0xff; // inside record 2's payload
    fs.writeFileSync(file, bytes);
    expect([...log.read()].map((r) => r.entry.t)).toEqual([0, 1]);
    bytes[ends[2] - 2] ^= 0xff;
    bytes[ends[1] - 2] ^= 0xff; // inside record 1's payload, record 2 whole after it
    fs.writeFileSync(file, bytes);
    expect(() => [...log.read()]).toThrow(expect.objectContaining({ code: 'storage/log-damaged' }));
    log.close();
  });

  it('stops at a whole record whose t does not follow on, and checks the first t when told it', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const entries = [0, 1, 7, 8].map((t) => ({ t, tx: t, instant: t, datoms: [{ e: t, a: 10, tag: Tag.Boolean, payload: true, added: true }] }));
    const ends: number[] = [];
    for (const e of entries) ends.push(log.append([recordOf(e)], false, ends.at(-1) ?? LOG_FILE_START).end);
    expect([...log.read()].map((r) => r.entry.t)).toEqual([0, 1]);
    expect(log.validEnd()).toBe(ends[1]);
    expect([...log.read(ends[1])].map((r) => r.entry.t)).toEqual([7, 8]); // any first t when not told
    expect([...log.read(ends[1], 2)]).toEqual([]);
    expect([...log.read(ends[1], 7)].map((r) => r.entry.t)).toEqual([7, 8]);
    expect(log.validEnd(ends[0], 1)).toBe(ends[1]);
    expect(log.validEnd(ends[0], 5)).toBe(ends[0]);
    log.close();
  });

  /** Twenty records, one per t, appended one commit each; returns where each record starts and ends. */
  function twentyRecords(log: LogFile): { starts: number[]; ends: number[] } {
    const starts: number[] = [];
    const ends: number[] = [];
    for (let t = 0; t < 20; t++) {
      const entry = { t, tx: 0x1_0000_0000 + t, instant: 1_700_000_000_000 + t, datoms: [{ e: 100 + t, a: 10, tag: Tag.String, payload: `name ${t}`, added: true }] };
      const { start, end } = log.append([recordOf(entry)], false, ends.at(-1) ?? LOG_FILE_START);
      starts.push(start);
      ends.push(end);
    }
    return { starts, ends };
  }

  it('a record damaged in the middle (any byte of it flipped) with whole records after it is damage, not a torn tail', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const { starts, ends } = twentyRecords(log);
    const clean = fs.readFileSync(file);
    for (let at = starts[5]; at < ends[5]; at++) {
      const bytes = Buffer.from(clean);
      bytes[at] ^= 0x5a;
      fs.writeFileSync(file, bytes);
      let err: any;
      try {
        for (const _ of log.read(LOG_FILE_START, 0));
      } catch (e) {
        err = e;
      }
      expect(err?.code, `flip at ${at}`).toBe('storage/log-damaged');
      expect(err.message).toContain(file);
      expect(err.message).toContain(`byte ${starts[5]}`);
      expect(err.message).toContain('t=5');
      expect(() => log.validEnd(LOG_FILE_START, 0)).toThrow(expect.objectContaining({ code: 'storage/log-damaged' }));
    }
    log.close();
  });

  it('a record zeroed in the middle, whole records after it: damage, not the end of the log', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const { starts, ends } = twentyRecords(log);
    const bytes = fs.readFileSync(file);
    bytes.fill(0, starts[5], ends[5]);
    fs.writeFileSync(file, bytes);
    expect(() => [...log.read(LOG_FILE_START, 0)]).toThrow(expect.objectContaining({ code: 'storage/log-damaged' }));
    // read from where LMDB's log ends (t 0-4 indexed), as a writer opening it does
    expect(() => log.validEnd(starts[5], 5)).toThrow(expect.objectContaining({ code: 'storage/log-damaged' }));
    log.close();
  });

  it('the last record damaged, or zeroed, is a torn tail: cut off silently', () => {
    const file = freshFile();
    const log = LogFile.open(file);
    const { starts, ends } = twentyRecords(log);
    const clean = fs.readFileSync(file);
    for (const damage of ['flip', 'zero'] as const) {
      const bytes = Buffer.from(clean);
      if (damage === 'flip') bytes[ends[19] - 3] ^= 0x5a;
      else bytes.fill(0, starts[19], ends[19]);
      fs.writeFileSync(file, bytes);
      expect(log.validEnd(LOG_FILE_START, 0)).toBe(starts[19]);
    }
    log.close();
  });

  it('refuses a file that is not a factlog log file', () => {
    const file = freshFile();
    fs.writeFileSync(file, 'this is not a log file at all');
    expect(() => LogFile.open(file)).toThrow(expect.objectContaining({ code: 'storage/not-a-log-file' }));
  });
});
