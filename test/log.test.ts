// log.ts: a log entry survives its stored forms, factlog's own bytes (format 3 on) and msgpack
// (formats 1 and 2, through a real database of that format), exactly: ids past 2^32, integers at the int32 edges, -0, NaN, infinities,
// strings of any length and script, bigints, booleans, and the added flag.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { open } from '../src/index.js';
import { decodeLogEntry, encodeLogRecord, type LogEntry } from '../src/storage/log.js';
import { DATA_FILE, FORMAT_VERSION, logDbOptions } from '../src/storage/store.js';
import { tempDir } from './helpers/tmp.js';

const number = fc.oneof(
  fc.integer(),
  fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 0, -0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
  fc.double(),
);
const payload = fc.oneof(
  number.map((p) => ({ tag: 2, payload: p })),
  fc.string({ unit: 'binary', maxLength: 300 }).map((p) => ({ tag: 4, payload: p })),
  fc.bigInt().map((p) => ({ tag: 3, payload: p })),
  fc.boolean().map((p) => ({ tag: 1, payload: p })),
  fc.nat({ max: 2 ** 45 }).map((p) => ({ tag: 9, payload: p })),
);
const datom = fc.record({
  e: fc.oneof(fc.nat({ max: 1000 }), fc.nat({ max: 2 ** 42 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  a: fc.nat({ max: 100_000 }),
  value: payload,
  added: fc.boolean(),
});
const entry = fc
  .record({
    t: fc.nat(),
    tx: fc.nat({ max: 2 ** 42 }),
    instant: fc.oneof(fc.nat(), fc.constant(Date.now())),
    datoms: fc.array(datom, { maxLength: 40 }),
  })
  .map((r): LogEntry => ({ t: r.t, tx: r.tx, instant: r.instant, datoms: r.datoms.map((d) => ({ e: d.e, a: d.a, tag: d.value.tag, payload: d.value.payload, added: d.added })) }));

describe('log records', () => {
  it("factlog's own bytes give back every entry exactly", () => {
    fc.assert(
      fc.property(entry, (e) => {
        const bytes = encodeLogRecord(e);
        expect(bytes).toBeInstanceOf(Uint8Array);
        expect(decodeLogEntry(e.t, bytes)).toStrictEqual(e);
      }),
      { numRuns: 500 },
    );
  });

  it('a record is its own Buffer: encoding the next one does not change it', () => {
    const first: LogEntry = { t: 1, tx: 5, instant: 7, datoms: [{ e: 1, a: 2, tag: 4, payload: 'x'.repeat(70_000), added: true }] };
    const second: LogEntry = { t: 2, tx: 6, instant: 8, datoms: [{ e: 3, a: 2, tag: 4, payload: 'y'.repeat(90_000), added: false }] };
    const a = encodeLogRecord(first);
    encodeLogRecord(second);
    expect(decodeLogEntry(1, a)).toStrictEqual(first);
  });

  it('a new database stores its log in bytes; a format-2 database keeps msgpack records; both read back the same', async () => {
    const tx = `[{:db/id "a" :p/name "Ann" :p/n 3 :p/big 12345678901234567890N :p/x -0.5 :p/ok true :p/s "żółw 🐢"}]`;
    const logs: unknown[][] = [];
    const raws: unknown[] = [];
    for (const createFormat of [FORMAT_VERSION, 2]) {
      const dir = path.join(tempDir(), `f${createFormat}`);
      const conn = await open({ path: dir, createFormat });
      const r = await conn.transact(tx);
      await conn.transact([[':db/retract', r.tempids.a, ':p/n', 3]]);
      expect(conn.store.format).toBe(createFormat);
      logs.push([...conn.txRange(1)].map((e) => e.data.map((d) => [d.a, d.v instanceof Date ? 'an instant' : d.v, d.added])));
      await conn.close();
      const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16, readOnly: true });
      raws.push(env.openDB('log', logDbOptions(createFormat)).get(r.t));
      await env.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(raws[0]).toBeInstanceOf(Uint8Array);
    expect(raws[1]).not.toBeInstanceOf(Uint8Array);
    expect(logs[0]).toEqual(logs[1]);
    expect(logs[0]!.flat()).toContainEqual([expect.any(Number), 12345678901234567890n, true]);
    expect(logs[0]![1]).toEqual([
      [expect.any(Number), 3, false],
      [expect.any(Number), 'an instant', true],
    ]);
  });
});

describe('log records hold any JS string (issue 25)', () => {
  it('keeps lone surrogates exactly, in a record of a new version; well-formed strings keep version 1 bytes', () => {
    const strings = ['x\uD800', '\uDC00', 'a\uD83D\uDE00b\uDFFF', 'é\uD800'.repeat(100)];
    const entry: LogEntry = { t: 3, tx: 2 ** 40 + 3, instant: 1, datoms: strings.map((s, i) => ({ e: i, a: 10, tag: 4, payload: s, added: true })) };
    const bytes = encodeLogRecord(entry);
    expect(decodeLogEntry(3, bytes).datoms.map((d) => d.payload)).toEqual(strings);
    expect(bytes[0]).toBe(2);
    const plain: LogEntry = { ...entry, datoms: [{ e: 1, a: 10, tag: 4, payload: 'a\uD83D\uDE00', added: true }] };
    expect(encodeLogRecord(plain)[0]).toBe(1);
  });

  it('round-trips any string, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.oneof(fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF'), fc.string({ unit: 'binary', maxLength: 1 })), maxLength: 40 }), { maxLength: 6 }),
        (strings) => {
          const entry: LogEntry = { t: 1, tx: 5, instant: 0, datoms: strings.map((s) => ({ e: 1, a: 2, tag: 4, payload: s, added: false })) };
          expect(decodeLogEntry(1, encodeLogRecord(entry)).datoms.map((d) => d.payload)).toEqual(strings);
        },
      ),
    );
  });
});
