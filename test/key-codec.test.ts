// The index key byte form: LMDB compares keys with memcmp, so the bytes must sort exactly as the
// parts compare (numbers by value across number and bigint, strings by UTF-8, shorter prefix
// first) and read back to the same parts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys as codecCompareKeys, EXACT_KEY_CODEC, KEY_MAX_STRING, readKey, writeKey } from '../src/storage/key-codec.js';
import { indexKey, keyPayload, Tag, writeIndexKey, type IndexName, type KeyPart, type RawDatom } from '../src/storage/encoding.js';
import { tupleFloor, VALUE_KEY_CODEC } from '../src/storage/value-keys.js';
import { compareValues } from '../query-lang/edn/compare.js';
import { valueRange } from '../src/db/value-range.js';
import { printEdn } from '../query-lang/edn/printer.js';
import { Keyword, Sym, Uuid } from '../query-lang/edn/types.js';
import { decimalText } from '../query-lang/edn/decimal.js';
import { DECIMAL_FLOOR } from '../src/storage/decimal-keys.js';

const buffer = Buffer.alloc(8192);
function encode(key: KeyPart[]): Buffer {
  const end = writeKey(key, buffer, 0);
  return Buffer.from(buffer.subarray(0, end));
}

/** The order the bytes must have, written out directly: the model. */
function rank(p: KeyPart): number {
  if (typeof p === 'boolean') return 0;
  if (typeof p === 'string') return p === KEY_MAX_STRING ? 3 : 2;
  return 1;
}
function comparePart(a: KeyPart, b: KeyPart): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  if (typeof a === 'boolean') return Number(a) - Number(b);
  const x = a as number | bigint;
  const y = b as number | bigint;
  const xNaN = typeof x === 'number' && Number.isNaN(x);
  const yNaN = typeof y === 'number' && Number.isNaN(y);
  if (xNaN || yNaN) return Number(xNaN) - Number(yNaN);
  if (x < y) return -1;
  if (x > y) return 1;
  // equal values: a number sorts before the bigint of the same value
  return (typeof x === 'bigint' ? 1 : 0) - (typeof y === 'bigint' ? 1 : 0);
}
function compareKeys(a: KeyPart[], b: KeyPart[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = comparePart(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const keyString = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !s.includes('\0'));
const part: fc.Arbitrary<KeyPart> = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 20 }),
  fc.maxSafeNat(),
  fc.integer({ min: 2 ** 40, max: 2 ** 40 + 1000 }),
  fc.double({ noNaN: false }).map((d) => (Object.is(d, -0) ? 0 : d)),
  fc.constantFrom(0.5, 1.5, 2, 2.5, -2, -2.5, 2 ** 53, -(2 ** 53), 2 ** 53 - 1),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.constantFrom(2n, -2n, 2n ** 53n, 2n ** 60n),
  fc.boolean(),
  keyString,
  fc.constantFrom('Ivan', 'Ivanov', 'é', '\uffff', KEY_MAX_STRING),
);
const key = fc.array(part, { minLength: 0, maxLength: 6 });

describe('index key codec', () => {
  it('reads back what it wrote', () => {
    fc.assert(
      fc.property(key, (k) => {
        const bytes = encode(k);
        expect(readKey(bytes, 0, bytes.length)).toEqual(k);
      }),
      { numRuns: 2000 },
    );
  });

  it('byte order is the order of the parts (memcmp, as LMDB compares keys)', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(Math.sign(Buffer.compare(encode(a), encode(b)))).toBe(Math.sign(compareKeys(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('compareKeys gives the order of the bytes from the parts (for scans that stop at a bound without encoding each key)', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(Math.sign(codecCompareKeys(a, b))).toBe(Math.sign(Buffer.compare(encode(a), encode(b))));
      }),
      { numRuns: 5000 },
    );
  });

  it('keys that share a prefix sort together: a prefix range [p, p + KEY_MAX) holds exactly the keys that start with p', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 3 }), key, key, (prefix, rest, other) => {
        const inside = encode([...prefix, ...rest]);
        const start = encode(prefix);
        const end = encode([...prefix, KEY_MAX_STRING]);
        if (rest.length === 0 || rest[0] !== KEY_MAX_STRING) {
          expect(Buffer.compare(start, inside) <= 0 && Buffer.compare(inside, end) < 0).toBe(true);
        }
        const outside = encode(other);
        const startsWithPrefix = prefix.every((p, i) => i < other.length && comparePart(other[i]!, p) === 0);
        if (!startsWithPrefix && other[prefix.length] !== KEY_MAX_STRING) {
          expect(Buffer.compare(start, outside) <= 0 && Buffer.compare(outside, end) < 0).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('is compact for the integers index keys are made of', () => {
    // [e, a, tag, "Ivan", tx]: ordered-binary takes 44 bytes
    expect(encode([1_000_000, 1003, 4, 'Ivan', 2 ** 40 + 1]).length).toBe(22);
    expect(encode([0]).length).toBe(1);
  });

  it('keeps every digit of a bigint and tells 5 from 5n', () => {
    for (const k of [[2n ** 60n + 1n], [-(2n ** 70n) - 3n], [5n], [5], [-5n]] as KeyPart[][]) {
      const bytes = encode(k);
      expect(readKey(bytes, 0, bytes.length)).toEqual(k);
    }
  });

  it('refuses a string holding U+0000 (the string terminator)', () => {
    expect(() => encode(['a\u0000b'])).toThrow(TypeError);
    expect(() => encode(['é\u0000b'])).toThrow(TypeError);
  });
});

describe('index keys written straight from a datom', () => {
  it('are the bytes of the key array indexKey makes', () => {
    const datom = fc.record({
      e: fc.nat({ max: 2 ** 45 }),
      a: fc.nat({ max: 5000 }),
      tag: fc.integer({ min: 1, max: 12 }),
      payload: fc.oneof(
        part.filter((p) => p !== KEY_MAX_STRING),
        fc.string({ minLength: 300, maxLength: 400 }).filter((s) => !s.includes('\0')),
      ),
      tx: fc.integer({ min: 2 ** 40, max: 2 ** 41 }),
    });
    fc.assert(
      fc.property(datom, fc.constantFrom<IndexName>('eavt', 'aevt', 'avet', 'vaet'), (d, index) => {
        const written = Buffer.alloc(8192);
        const end = writeIndexKey[index](d as RawDatom, written, 0);
        expect(written.subarray(0, end)).toEqual(encode(indexKey(index, d as RawDatom)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('format 5 key codec: every JS string exactly, in UTF-16 order; -0 kept next to 0 (issue 25)', () => {
  const exactBytes = (key: KeyPart[]) => Buffer.from(buffer.subarray(0, EXACT_KEY_CODEC.writeKey(key, buffer, 0)));
  const anyString = fc
    .string({
      unit: fc.oneof(fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF', '😀', '\uE000', '\uFFFF', '\uFF01', 'a', 'é', '\u0001'), fc.string({ unit: 'binary', maxLength: 1 })),
      maxLength: 10,
    })
    .filter((s) => !s.includes('\0') && !s.startsWith(KEY_MAX_STRING));
  const exactPart: fc.Arbitrary<KeyPart> = fc.oneof(part, anyString, fc.constantFrom(-0, 0, 0.5, 0n));
  const exactKey = fc.array(exactPart, { minLength: 0, maxLength: 5 });

  it('reads back every key exactly: lone surrogates, astral characters, -0', () => {
    fc.assert(
      fc.property(exactKey, (k) => {
        const bytes = exactBytes(k);
        const read = readKey(bytes, 0, bytes.length);
        expect(read).toEqual(k);
        read.forEach((p, i) => expect(Object.is(p, k[i]) || (p !== p && k[i] !== k[i])).toBe(true));
      }),
    );
  });

  it('orders strings by UTF-16 code units, as JS and the query language compare them', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        expect(Math.sign(Buffer.compare(exactBytes([a]), exactBytes([b])))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
    expect(Buffer.compare(exactBytes(['😀']), exactBytes(['\uFF01']))).toBe(-1);
  });

  it('compareKeys gives the order of the bytes (-0 sorts with 0: right before a 0 followed by more, after a bare 0)', () => {
    fc.assert(
      fc.property(exactKey, exactKey, (a, b) => {
        expect(Math.sign(EXACT_KEY_CODEC.compareKeys(a, b))).toBe(Math.sign(Buffer.compare(exactBytes(a), exactBytes(b))));
      }),
      { numRuns: 500 },
    );
    for (const [a, b] of [
      [
        [1, -0],
        [1, 0],
      ],
      [
        [1, -0, 5],
        [1, 0, 2],
      ],
      [
        [1, -0],
        [1, 0, 2],
      ],
      [[-0, 3], [0]],
    ] as KeyPart[][][]) {
      expect(Math.sign(EXACT_KEY_CODEC.compareKeys(a, b))).toBe(Math.sign(Buffer.compare(exactBytes(a), exactBytes(b))));
    }
  });

  it('is the format 2-4 codec for keys without surrogates or -0 (the same bytes)', () => {
    fc.assert(
      fc.property(key, (k) => {
        const plain = k.filter((p) => !(typeof p === 'string' && /[\uD800-\uDFFF]/.test(p)));
        expect(exactBytes(plain)).toEqual(encode(plain));
      }),
    );
  });
});

describe('format 6 key codec: tuples element by element, nil first, and keywords by namespace then name, in the query order (issue 22)', () => {
  const bytesOf = (key: KeyPart[]) => Buffer.from(buffer.subarray(0, VALUE_KEY_CODEC.writeKey(key, buffer, 0)));
  const TX = 2 ** 40 + 3;
  const tupleKey = (t: unknown[], e = 7) => [12, Tag.Tuple, printEdn(t as never), e, TX];
  const text = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '😀', '\uD800', '\uDC00', '\uFF01', '\uFFFF', '\u0000', '\u0001', '\u0002', '/', '.', ' '), maxLength: 4 });
  const name = fc.string({ unit: fc.constantFrom('a', 'b', 'z', '.', '-', 'é'), minLength: 1, maxLength: 3 }).filter((s) => /^[a-zé]/.test(s));
  const keyword = fc.tuple(fc.option(fc.oneof(name, fc.constantFrom('a', 'a.b', 'ab'))), name).map(([ns, n]) => Keyword.of(ns ? `${ns}/${n}` : n));
  const element = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    text,
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(-0, 0, 0.5, -2.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 60, -(2 ** 60), 1e300, 2 ** 40 + 1),
    fc.double({ min: -10, max: 10 }),
    fc.constantFrom(0n, 3n, -3n, 2n ** 53n, 2n ** 60n, 2n ** 60n + 1n, -(2n ** 70n)),
    fc.integer({ min: -3, max: 3 }).map((n) => new Date(n * 1000)),
    keyword,
    fc.constantFrom(Sym.of('s'), Sym.of('a/s'), new Uuid('00000000-0000-0000-0000-000000000001'), new Uuid('10000000-0000-0000-0000-000000000000')),
  );
  const tuple = fc.array(element, { minLength: 0, maxLength: 4 });

  it("Buffer.compare of two tuples' keys is the query comparison; keys are equal only for the same value, and read back", () => {
    fc.assert(
      fc.property(tuple, tuple, (x, y) => {
        const [kx, ky] = [tupleKey(x), tupleKey(y)];
        const [bx, by] = [bytesOf(kx), bytesOf(ky)];
        const order = compareValues(x, y);
        if (order !== 0) expect(Math.sign(Buffer.compare(bx, by))).toBe(Math.sign(order));
        else expect(bx.equals(by)).toBe(printEdn(x as never) === printEdn(y as never));
        expect(readKey(bx, 0, bx.length)).toEqual(kx);
        // no key extends another (packed runs rely on it)
        if (!bx.equals(by)) expect(bx.subarray(0, by.length).equals(by) || by.subarray(0, bx.length).equals(bx)).toBe(false);
        expect(Math.sign(VALUE_KEY_CODEC.compareKeys(kx, ky))).toBe(Math.sign(Buffer.compare(bx, by)));
        expect(Math.sign(VALUE_KEY_CODEC.comparePartAfter(Tag.Tuple, kx[2]!, ky[2]!))).toBe(Math.sign(Buffer.compare(bytesOf([Tag.Tuple, kx[2]!]), bytesOf([Tag.Tuple, ky[2]!]))));
      }),
      { numRuns: 2000 },
    );
    const order = [
      [null, 'z'],
      ['A', null],
      ['A', 'a'],
      ['A', 'b'],
      ['A', 'b', null],
      ['B', 'a'],
    ].map((t) => bytesOf(tupleKey(t)));
    for (let i = 1; i < order.length; i++) expect(Buffer.compare(order[i - 1]!, order[i]!)).toBe(-1);
  });

  it("a tuple's floor bound sorts below every tuple at or above it and above every tuple below it", () => {
    fc.assert(
      fc.property(tuple, tuple, (x, y) => {
        const floor = bytesOf([12, Tag.Tuple, tupleFloor(printEdn(x as never))!]);
        expect(Math.sign(Buffer.compare(floor, bytesOf(tupleKey(y))))).toBe(compareValues(y, x) >= 0 ? -1 : 1);
      }),
      { numRuns: 1000 },
    );
  });

  it("a tuple range's bounds hold exactly the tuples in it, by bytes and by compareKeys, whatever equal values they hold", () => {
    const tied = fc.oneof(fc.constantFrom(-0, 0, 5, 5n, 2 ** 60, 2n ** 60n, NaN, null, ''), element);
    const near = fc.array(tied, { minLength: 0, maxLength: 3 });
    const inScans = (k: KeyPart[], scans: [KeyPart[], KeyPart[]][]) => {
      const tupleScan = scans.find(([start]) => start[1] === Tag.Tuple)!;
      const [start, end] = tupleScan;
      const byKeys = VALUE_KEY_CODEC.compareKeys(k, start) >= 0 && VALUE_KEY_CODEC.compareKeys(k, end) < 0;
      const bytes = bytesOf(k);
      expect(Buffer.compare(bytes, bytesOf(start)) >= 0 && Buffer.compare(bytes, bytesOf(end)) < 0).toBe(byKeys);
      return byKeys;
    };
    fc.assert(
      fc.property(near, near, fc.boolean(), (t, b, inclusive) => {
        const k = tupleKey(t);
        const order = compareValues(t, b);
        expect(inScans(k, valueRange(12, null, b as never, undefined, false, true, true).scans)).toBe(order >= 0);
        expect(inScans(k, valueRange(12, null, undefined, b as never, inclusive, true, true).scans)).toBe(inclusive ? order <= 0 : order < 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('a long tuple is keyed by its marker after every other tuple, and reads back as the marker', () => {
    const marker = keyPayload(printEdn(['a'.repeat(2000), null]));
    const key = [12, Tag.Tuple, marker, 7, TX];
    const bytes = bytesOf(key);
    expect(readKey(bytes, 0, bytes.length)).toEqual(key);
    expect(Buffer.compare(bytes, bytesOf(tupleKey(['b', 'z'])))).toBe(1);
  });

  it('keywords sort as the query compares them (no namespace first, then namespace, then name) and read back', () => {
    fc.assert(
      fc.property(keyword, keyword, (x, y) => {
        const [kx, ky] = [
          [12, Tag.Keyword, x.fqn, 7, TX],
          [12, Tag.Keyword, y.fqn, 7, TX],
        ];
        const [bx, by] = [bytesOf(kx), bytesOf(ky)];
        expect(Math.sign(Buffer.compare(bx, by))).toBe(Math.sign(compareValues(x, y)));
        expect(readKey(bx, 0, bx.length)).toEqual(kx);
        expect(Math.sign(VALUE_KEY_CODEC.compareKeys(kx, ky))).toBe(Math.sign(Buffer.compare(bx, by)));
      }),
      { numRuns: 1000 },
    );
    // by printed text, :b sorts after :a/c and :a.c/d before :a/b; by the query's order, not
    const ordered = ['b', 'a/b.x', 'a/c', 'a.c/d'].map((t) => bytesOf([12, Tag.Keyword, t]));
    for (let i = 1; i < ordered.length; i++) expect(Buffer.compare(ordered[i - 1]!, ordered[i]!)).toBe(-1);
  });

  it('is the format 5 codec for every other key (the same bytes)', () => {
    fc.assert(
      fc.property(key, (k) => {
        const claimed = k.some((p, i) => i > 0 && (k[i - 1] === Tag.Tuple || k[i - 1] === Tag.Keyword) && typeof p === 'string' && p !== KEY_MAX_STRING);
        if (!claimed) expect(bytesOf(k)).toEqual(Buffer.from(buffer.subarray(0, EXACT_KEY_CODEC.writeKey(k, buffer, 0))));
      }),
    );
  });
});

describe('bigdec keys (format 6, decimal-keys.ts)', () => {
  const bytesOf = (key: KeyPart[]) => Buffer.from(buffer.subarray(0, VALUE_KEY_CODEC.writeKey(key, buffer, 0)));
  const decimal = fc.record({ unscaled: fc.oneof(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.bigInt({ min: -1000n, max: 1000n })), scale: fc.integer({ min: -25, max: 25 }) });
  type D = { unscaled: bigint; scale: number };
  /** The model: value by BigInt arithmetic at a common scale, then scale. */
  const byValue = (x: D, y: D) => {
    const s = Math.max(x.scale, y.scale);
    const a = x.unscaled * 10n ** BigInt(s - x.scale);
    const b = y.unscaled * 10n ** BigInt(s - y.scale);
    return a < b ? -1 : a > b ? 1 : 0;
  };

  it('sort by numeric value, then scale, and read back to the same text', () => {
    fc.assert(
      fc.property(decimal, decimal, fc.nat(5), (x, y, e) => {
        const kx = [7, Tag.BigDec, decimalText(x), e, 1] as KeyPart[];
        const ky = [7, Tag.BigDec, decimalText(y), e, 1] as KeyPart[];
        const bx = bytesOf(kx);
        const by = bytesOf(ky);
        const expected = byValue(x, y) || Math.sign(x.scale - y.scale);
        expect(Math.sign(Buffer.compare(bx, by))).toBe(expected);
        expect(Math.sign(VALUE_KEY_CODEC.compareKeys(kx, ky))).toBe(expected);
        expect(readKey(bx, 0, bx.length)).toEqual(kx);
      }),
      { numRuns: 2000 },
    );
  });

  it('a bound sits below (floor) or above (floor then KEY_MAX) every scale of its value', () => {
    fc.assert(
      fc.property(decimal, decimal, (x, bound) => {
        const key = bytesOf([7, Tag.BigDec, decimalText(x), 1000, 1]);
        const floor = bytesOf([7, Tag.BigDec, DECIMAL_FLOOR + decimalText(bound)]);
        const ceiling = bytesOf([7, Tag.BigDec, DECIMAL_FLOOR + decimalText(bound), KEY_MAX_STRING]);
        const c = byValue(x, bound);
        expect(Buffer.compare(key, floor) >= 0).toBe(c >= 0);
        expect(Buffer.compare(key, ceiling) < 0).toBe(c <= 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps scale: 1.50 reads back as 1.50, 1.5E+2 as 1.5E+2', () => {
    for (const text of ['1.50', '1.5', '0', '0.00', '-0.001', '1.5E+2', '0E-7', '-123456789012345678901234567890.123']) {
      const key = bytesOf([7, Tag.BigDec, text, 1, 2]);
      expect(readKey(key, 0, key.length)[2]).toBe(text);
    }
  });
});
