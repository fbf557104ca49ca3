// Exact decimals (`1.50M`, :db.type/bigdec) as a BigInt unscaled value and a scale, as Java's
// BigDecimal holds them: value = unscaled × 10^-scale, so 1.50M (150, 2) keeps its scale, which
// decimal.js and big.js normalize away. Arithmetic follows BigDecimal's exact rules.
import { BigDec } from './types.js';

export interface Decimal {
  readonly unscaled: bigint;
  /** Digits after the point; negative for a value with trailing zeros in exponent form (15E+1). */
  readonly scale: number;
}

/** A scale's bounds: Java's int, less a margin that keeps a key's exponent (digits - scale) in 32 bits. */
const MAX_SCALE = 2 ** 31 - 2 ** 12;
const MIN_SCALE = -MAX_SCALE;
/** Digits of the unscaled value at most: keeps a value's index key well inside LMDB's 1978 bytes. */
export const MAX_DECIMAL_DIGITS = 1000;

const DECIMAL_RE = /^([+-]?)([0-9]+)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;

/** The decimal that `text` (EDN or Java BigDecimal syntax, no M) writes; undefined if it is none or too large. */
export function parseDecimal(text: string): Decimal | undefined {
  const m = DECIMAL_RE.exec(text);
  if (!m) return undefined;
  const fraction = m[3] ?? '';
  const digits = (m[2]! + fraction).replace(/^0+(?=.)/, '');
  if (digits.length > MAX_DECIMAL_DIGITS) return undefined;
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  const scale = fraction.length - exponent;
  if (!Number.isSafeInteger(scale) || scale < MIN_SCALE || scale > MAX_SCALE) return undefined;
  const magnitude = BigInt(digits);
  return { unscaled: m[1] === '-' ? -magnitude : magnitude, scale };
}

/** The text Java's BigDecimal.toString gives: plain, or with an exponent for a negative scale or a tiny value. */
export function decimalText(d: Decimal): string {
  const negative = d.unscaled < 0n;
  const digits = (negative ? -d.unscaled : d.unscaled).toString();
  const sign = negative ? '-' : '';
  if (d.scale === 0) return sign + digits;
  const adjusted = digits.length - 1 - d.scale;
  if (d.scale > 0 && adjusted >= -6) {
    const padded = digits.padStart(d.scale + 1, '0');
    return `${sign}${padded.slice(0, -d.scale)}.${padded.slice(-d.scale)}`;
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mantissa}E${adjusted >= 0 ? '+' : ''}${adjusted}`;
}

/** The decimal a BigDec holds (its text is EDN's, read as written). */
export function toDecimal(b: BigDec): Decimal | undefined {
  return parseDecimal(b.text);
}

export function toBigDec(d: Decimal): BigDec {
  return new BigDec(decimalText(d));
}

/** The BigDec in its one stored form (`+1.5e1` is `15`), or undefined if it is no decimal we keep. */
export function canonicalBigDec(b: BigDec): BigDec | undefined {
  const d = toDecimal(b);
  return d === undefined ? undefined : toBigDec(d);
}

/** An integer as a decimal of scale 0 (Java's BigDecimal.valueOf(long)). */
export function integerDecimal(n: number | bigint): Decimal {
  return { unscaled: BigInt(n), scale: 0 };
}

export function decimalToNumber(d: Decimal): number {
  return Number(decimalText(d));
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Both unscaled values at the larger scale. */
function aligned(a: Decimal, b: Decimal): [bigint, bigint, number] {
  if (a.scale === b.scale) return [a.unscaled, b.unscaled, a.scale];
  if (a.scale > b.scale) return [a.unscaled, b.unscaled * pow10(a.scale - b.scale), a.scale];
  return [a.unscaled * pow10(b.scale - a.scale), b.unscaled, b.scale];
}

/** Numeric order, scale ignored (BigDecimal.compareTo: 1.5 and 1.50 compare equal). */
export function compareDecimals(a: Decimal, b: Decimal): number {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The same value with no trailing zeros (BigDecimal.stripTrailingZeros): what numeric equality keys on. */
export function stripZeros(d: Decimal): Decimal {
  if (d.unscaled === 0n) return { unscaled: 0n, scale: 0 };
  let { unscaled, scale } = d;
  while (unscaled % 10n === 0n) {
    unscaled /= 10n;
    scale--;
  }
  return { unscaled, scale };
}

export function addDecimals(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b);
  return { unscaled: x + y, scale };
}

export function subtractDecimals(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b);
  return { unscaled: x - y, scale };
}

export function multiplyDecimals(a: Decimal, b: Decimal): Decimal {
  return { unscaled: a.unscaled * b.unscaled, scale: a.scale + b.scale };
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The exact quotient (BigDecimal.divide without a MathContext): at the preferred scale a.scale -
 * b.scale, or the least larger scale that holds it. Undefined when dividing by zero or when the
 * expansion does not terminate (1M / 3), where Java throws.
 */
export function divideDecimals(a: Decimal, b: Decimal): Decimal | undefined {
  if (b.unscaled === 0n) return undefined;
  const g = gcd(a.unscaled, b.unscaled) || 1n;
  let p = a.unscaled / g;
  let q = b.unscaled / g;
  if (q < 0n) [p, q] = [-p, -q];
  let twos = 0;
  let fives = 0;
  let rest = q;
  while (rest % 2n === 0n) {
    rest /= 2n;
    twos++;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives++;
  }
  if (rest !== 1n) return undefined;
  const k = Math.max(twos, fives);
  return { unscaled: p * (pow10(k) / q), scale: a.scale - b.scale + k };
}
