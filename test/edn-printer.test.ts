import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BigDec, Char, EdnList, EdnPrintError, Keyword, Sym, Tagged, Uuid, printEdn, readEdn, type EdnValue } from '../query-lang/edn/index.js';
import { Uri } from '../query-lang/edn/types.js';
import { FactlogError } from '../query-lang/errors.js';

describe('printEdn', () => {
  it('prints atoms', () => {
    expect(printEdn(null)).toBe('nil');
    expect(printEdn(undefined)).toBe('nil');
    expect(printEdn(true)).toBe('true');
    expect(printEdn(42)).toBe('42');
    expect(printEdn(1.5)).toBe('1.5');
    expect(printEdn(-0)).toBe('-0.0');
    expect(printEdn(2 ** 60)).toBe('1152921504606847000.0');
    expect(readEdn(printEdn(2 ** 60))).toBe(2 ** 60);
    expect(printEdn(NaN)).toBe('##NaN');
    expect(printEdn(-Infinity)).toBe('##-Inf');
    expect(printEdn(12n)).toBe('12N');
    expect(printEdn(new BigDec('1.50'))).toBe('1.50M');
    expect(printEdn('a"b\\c\n\t\u0001')).toBe('"a\\"b\\\\c\\n\\t\\u0001"');
    expect(printEdn(Keyword.of('a/b'))).toBe(':a/b');
    expect(printEdn(Sym.of('foo'))).toBe('foo');
    expect(printEdn(new Char('a'))).toBe('\\a');
    expect(printEdn(new Char('\n'))).toBe('\\newline');
    expect(printEdn(new Char(' '))).toBe('\\space');
    expect(printEdn(new Char('\u0000'))).toBe('\\u0000');
    expect(printEdn(new Date('2020-01-02T03:04:05.006Z'))).toBe('#inst "2020-01-02T03:04:05.006Z"');
    expect(printEdn(new Uuid('F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6'))).toBe('#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"');
  });
  it('prints collections', () => {
    expect(printEdn([1, [2], new EdnList([Sym.of('a')])])).toBe('[1 [2] (a)]');
    expect(
      printEdn(
        new Map<EdnValue, EdnValue>([
          [Keyword.of('a'), 1],
          ['b', null],
        ]),
      ),
    ).toBe('{:a 1, "b" nil}');
    expect(printEdn(new Set([1, 2]))).toBe('#{1 2}');
    expect(printEdn(new Tagged('my/t', [1]))).toBe('#my/t [1]');
    expect(printEdn({ a: 1, 'b/c': [true], 'not a kw': 2 })).toBe('{:a 1, :b/c [true], "not a kw" 2}');
  });
  it('refuses keywords, symbols and decimals whose text would not read back as themselves', () => {
    for (const name of [Keyword.of('a;b'), Keyword.of('a b'), Keyword.of('x/a]'), Sym.of('nil'), Sym.of('12'), Sym.of('a b'), new BigDec('abc')]) {
      expect(() => printEdn(name), String(name)).toThrow(EdnPrintError);
    }
    expect(printEdn([Keyword.of('ns/a-b?'), Sym.of('ns/x*'), new BigDec('1.50')])).toBe('[:ns/a-b? ns/x* 1.50M]');
  });

  it('refuses what EDN cannot express', () => {
    expect(() => printEdn(new Date(NaN))).toThrow(EdnPrintError);
    expect(() => printEdn(() => 1)).toThrow(EdnPrintError);
    expect(() => printEdn(Symbol('x'))).toThrow(EdnPrintError);
    const cyc: unknown[] = [];
    cyc.push(cyc);
    expect(() => printEdn(cyc)).toThrow(EdnPrintError);
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    try {
      printEdn(deep);
      expect.fail('should throw');
    } catch (e) {
      expect((e as FactlogError).code).toBe('edn/unprintable');
    }
  });
});

// ---------- generators ----------
const reserved = new Set(['nil', 'true', 'false']);
const name = fc.stringMatching(/^[a-zA-Z*!?<>=][a-zA-Z0-9*!_?<>=.+-]{0,6}$/).filter((s) => !reserved.has(s));
const qualified = fc.tuple(fc.option(name, { nil: null }), name).map(([ns, n]) => (ns ? `${ns}/${n}` : n));
const keyword = qualified.map((s) => Keyword.of(s));
const sym = qualified.filter((s) => !reserved.has(s)).map((s) => Sym.of(s));
const char = fc
  .integer({ min: 0, max: 0xffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => new Char(String.fromCharCode(c)));
const bigdec = fc.tuple(fc.integer(), fc.nat()).map(([a, b]) => new BigDec(`${a}.${b}`));
const date = fc.date({ noInvalidDate: true });
const uuid = fc.uuid().map((u) => new Uuid(u));
const keyish: fc.Arbitrary<EdnValue> = fc.oneof(keyword, fc.string({ maxLength: 8 }), fc.integer());

const atom: fc.Arbitrary<EdnValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.integer(),
  fc.bigInt(),
  fc.double(),
  keyword,
  sym,
  char,
  bigdec,
  date,
  uuid,
);

const { value: ednValue } = fc.letrec<{ value: EdnValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.array(tie('value'), { maxLength: 5 }).map((xs) => new EdnList(xs)),
    fc.uniqueArray(fc.tuple(keyish, tie('value')), { maxLength: 5, selector: ([k]) => k }).map((es) => new Map<EdnValue, EdnValue>(es)),
    fc.uniqueArray(keyish, { maxLength: 5 }).map((xs) => new Set<EdnValue>(xs)),
    fc
      .tuple(
        fc.stringMatching(/^[a-z][a-z0-9]{0,5}(\/[a-z]{1,4})?$/).filter((t) => t !== 'inst' && t !== 'uuid'),
        tie('value'),
      )
      .map(([t, v]) => new Tagged(t, v)),
  ),
}));

describe('printEdn round-trip property', () => {
  it('readEdn(printEdn(x)) deep-equals x', () => {
    fc.assert(
      fc.property(ednValue, (v) => {
        const text = printEdn(v);
        expect(readEdn(text)).toEqual(v);
        expect(printEdn(readEdn(text))).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
  it('round-trips deep values up to the reader limit', () => {
    let v: EdnValue = 1;
    for (let i = 0; i < 999; i++) v = [v];
    expect(readEdn(printEdn(v))).toEqual(v);
  });
});

describe('strings with lone surrogates (issue 25)', () => {
  it('print as \\u escapes, so the text survives UTF-8 (a file, stdout) and reads back exactly', () => {
    for (const s of ['x\uD800', '\uDC00y', 'a\uD83D\uDE00b', '\uDE00\uD83D', 'z\uDBFF']) {
      const text = printEdn(s);
      expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
      expect(readEdn(Buffer.from(text, 'utf8').toString('utf8'))).toBe(s);
    }
    expect(printEdn('a\uD83D\uDE00')).toBe('"a\uD83D\uDE00"');
  });
});

describe('printEdn of decimals, URIs and bytes (issue 21)', () => {
  it('prints 1.50M with its scale, #uri "..." and #bytes "base64", each reading back equal', () => {
    for (const [v, text] of [
      [new BigDec('1.50'), '1.50M'],
      [new Uri('urn:isbn:0451450523'), '#uri "urn:isbn:0451450523"'],
      [new Uint8Array([0, 1, 2, 255]), '#bytes "AAEC/w=="'],
    ] as const) {
      expect(printEdn(v)).toBe(text);
      expect(readEdn(text)).toEqual(v);
    }
  });

  it('any bytes round-trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
        expect(readEdn(printEdn(bytes))).toEqual(bytes);
      }),
    );
  });
});
