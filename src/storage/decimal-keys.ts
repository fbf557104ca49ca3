// Format 6's key of a :db.type/bigdec value, in numeric order whatever the digits and scale:
//   DECIMAL, sign (NEGATIVE < ZERO < POSITIVE), then for a non-zero value 0.d1d2...dn × 10^E
//   (d1 > 0, dn > 0): E + 2^31 as 4 bytes, each digit as d + 2, END_DIGITS; then SCALE and the
//   scale + 2^31 as 4 bytes. A negative value's exponent, digits and END_DIGITS are inverted, so
//   its order turns over. Equal values of other scales (1.5, 1.50) share all bytes before SCALE
//   and sort by scale; a range bound ("floor") stops before SCALE, below every scale of its value,
//   and a bound followed by KEY_MAX (0xfd, above SCALE) is above them all.
import { decimalText, parseDecimal, stripZeros, type Decimal } from '../../query-lang/edn/decimal.js';

export const DECIMAL = 0x3a;
const NEGATIVE = 0x01;
const ZERO = 0x02;
const POSITIVE = 0x03;
const DIGIT_BASE = 0x02;
const END_DIGITS = 0x01;
const SCALE = 0x01;
const OFFSET = 2 ** 31;

/** A bound's payload: this character, then the value's text (no stored decimal's text starts with it). */
export const DECIMAL_FLOOR = '\u0005';

function writeUint32(n: number, invert: boolean, target: Uint8Array, pos: number): number {
  for (let shift = 24; shift >= 0; shift -= 8) {
    const byte = Math.floor(n / 2 ** shift) & 0xff;
    target[pos++] = invert ? 255 - byte : byte;
  }
  return pos;
}

function readUint32(source: Uint8Array, pos: number, invert: boolean): number {
  let n = 0;
  for (let i = 0; i < 4; i++) n = n * 256 + (invert ? 255 - source[pos + i]! : source[pos + i]!);
  return n;
}

/** Writes the key of a decimal's text (or of a bound, DECIMAL_FLOOR + text) at `pos`; returns where it ends. */
export function writeDecimalKey(payload: string, target: Uint8Array, pos: number): number {
  const floor = payload.startsWith(DECIMAL_FLOOR);
  const d = parseDecimal(floor ? payload.slice(1) : payload);
  if (d === undefined) throw new TypeError(`${JSON.stringify(payload)} is not a decimal`);
  target[pos++] = DECIMAL;
  if (d.unscaled === 0n) target[pos++] = ZERO;
  else {
    const negative = d.unscaled < 0n;
    const stripped = stripZeros(d);
    const digits = (negative ? -stripped.unscaled : stripped.unscaled).toString();
    target[pos++] = negative ? NEGATIVE : POSITIVE;
    pos = writeUint32(digits.length - stripped.scale + OFFSET, negative, target, pos);
    for (let i = 0; i < digits.length; i++) {
      const byte = DIGIT_BASE + digits.charCodeAt(i) - 48;
      target[pos++] = negative ? 255 - byte : byte;
    }
    target[pos++] = negative ? 255 - END_DIGITS : END_DIGITS;
  }
  if (floor) return pos;
  target[pos++] = SCALE;
  return writeUint32(d.scale + OFFSET, false, target, pos);
}

/** Reads the key at source[start] (its DECIMAL byte): the decimal's text and where the key ends. */
export function readDecimalKey(source: Uint8Array, start: number): [string, number] {
  let pos = start + 1;
  const sign = source[pos++];
  let digits = '0';
  let exponent = 1;
  if (sign !== ZERO) {
    const negative = sign === NEGATIVE;
    exponent = readUint32(source, pos, negative) - OFFSET;
    pos += 4;
    digits = '';
    for (;;) {
      const byte = negative ? 255 - source[pos++]! : source[pos++]!;
      if (byte === END_DIGITS) break;
      digits += String.fromCharCode(48 + byte - DIGIT_BASE);
    }
    if (negative) digits = '-' + digits;
  }
  if (source[pos] !== SCALE) return [DECIMAL_FLOOR + valueText(digits, exponent, undefined), pos];
  const scale = readUint32(source, pos + 1, false) - OFFSET;
  return [valueText(digits, exponent, scale), pos + 5];
}

/** 0.digits × 10^exponent at `scale` (undefined: the scale of the digits as they are). */
function valueText(digits: string, exponent: number, scale: number | undefined): string {
  const n = digits.replace('-', '').length;
  const value: Decimal = { unscaled: BigInt(digits), scale: n - exponent };
  if (scale === undefined || value.unscaled === 0n) return decimalText(scale === undefined ? value : { unscaled: 0n, scale });
  return decimalText({ unscaled: value.unscaled * 10n ** BigInt(scale - value.scale), scale });
}
