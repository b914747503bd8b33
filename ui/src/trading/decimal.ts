// Exact decimal strings: validation, multiples, display formatting. No floating point on money.

const PLAIN = /^\d+(\.\d+)?$/;
const ANY = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A user-typed positive decimal ("12", "0.5"); no sign, exponent or separators. */
export function isPlainDecimal(text: string): boolean {
  return PLAIN.test(text);
}

interface Scaled {
  units: bigint; // value * 10^scale
  scale: number;
}

/** Parse any decimal string the API sends ("1E-8", "-0.22", "100"); null if it is not one. */
function parse(text: string): Scaled | null {
  const m = ANY.exec(text.trim());
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return null;
  const digits = (m[2] || "0") + (m[3] ?? "");
  let scale = (m[3] ?? "").length - Number(m[4] ?? "0");
  let units = BigInt(digits);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: m[1] === "-" ? -units : units, scale };
}

function rescale(value: Scaled, scale: number): bigint {
  return value.units * 10n ** BigInt(scale - value.scale);
}

/** value > 0 */
export function isPositive(text: string): boolean {
  const v = parse(text);
  return v !== null && v.units > 0n;
}

/** Whether value is an exact multiple of step (step > 0). */
export function isMultipleOf(value: string, step: string): boolean {
  const v = parse(value);
  const s = parse(step);
  if (!v || !s || s.units === 0n) return false;
  const scale = Math.max(v.scale, s.scale);
  return rescale(v, scale) % rescale(s, scale) === 0n;
}

/** Fraction digits an increment implies: "0.01" gives 2, "1" gives 0. */
export function decimalsOf(step: string): number {
  const v = parse(step);
  if (!v) return 2;
  let { units, scale } = v;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return scale;
}

/** Multiply by 10^places exactly ("0.05", 2 gives "5"); for percent <-> fraction. */
export function shift(text: string, places: number): string | null {
  const v = parse(text);
  if (!v) return null;
  const scale = v.scale - places;
  return scale >= 0 ? toPlain({ units: v.units, scale }) : toPlain({ units: v.units * 10n ** BigInt(-scale), scale: 0 });
}

function toPlain(v: Scaled): string {
  const negative = v.units < 0n;
  const digits = (negative ? -v.units : v.units).toString().padStart(v.scale + 1, "0");
  const int = digits.slice(0, digits.length - v.scale);
  let frac = v.scale > 0 ? digits.slice(digits.length - v.scale) : "";
  frac = frac.replace(/0+$/, "");
  const body = frac ? `${int}.${frac}` : int;
  return negative && body.replace(/[0.]/g, "") !== "" ? `-${body}` : body;
}

function roundTo(v: Scaled, decimals: number): Scaled {
  if (v.scale <= decimals) return v;
  const factor = 10n ** BigInt(v.scale - decimals);
  const negative = v.units < 0n;
  const abs = negative ? -v.units : v.units;
  let q = abs / factor;
  if ((abs % factor) * 2n >= factor) q += 1n; // half up, away from zero
  return { units: negative ? -q : q, scale: decimals };
}

function group(int: string): string {
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export interface FormatOptions {
  /** At most this many fraction digits (rounded half up). */
  max: number;
  /** At least this many fraction digits (zero padded); default: trailing zeros trimmed. */
  min?: number;
  /** "+" before positive values (PnL). */
  signed?: boolean;
}

/** Thousands separators and rounding on the string itself; "—" for null or unparsable. */
export function formatDecimal(text: string | null | undefined, options: FormatOptions): string {
  if (text === null || text === undefined) return "—";
  const parsed = parse(String(text));
  if (!parsed) return String(text);
  const v = roundTo(parsed, options.max);
  const negative = v.units < 0n;
  const digits = (negative ? -v.units : v.units).toString().padStart(v.scale + 1, "0");
  const int = digits.slice(0, digits.length - v.scale);
  let frac = v.scale > 0 ? digits.slice(digits.length - v.scale) : "";
  const min = options.min ?? 0;
  frac = frac.replace(/0+$/, "");
  if (frac.length < min) frac = frac.padEnd(min, "0");
  const body = group(int) + (frac ? `.${frac}` : "");
  const isZero = v.units === 0n;
  if (negative && !isZero) return `−${body}`;
  return options.signed && !isZero ? `+${body}` : body;
}

/** -1, 0 or 1: the sign of a decimal string (for PnL colours). */
export function signOf(text: string | null | undefined): number {
  const v = text === null || text === undefined ? null : parse(String(text));
  if (!v || v.units === 0n) return 0;
  return v.units > 0n ? 1 : -1;
}
