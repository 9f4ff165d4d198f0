// Exact decimal text helpers (BigInt with a scale). The page never does float arithmetic on
// money: amounts come from the engine as integer cents or decimal strings, and these helpers
// only move the decimal point (cents → major units for display) or subtract *units*
// typed by the user (splitting a metric's units over filter buckets). Nothing here prices.

const DECIMAL_RE = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/;

/** `{ digits: BigInt, scale }` of a plain decimal text ("12", "-0.5", "3."), or null. */
export function parseDecimal(text) {
  if (typeof text === 'number') text = Number.isFinite(text) ? String(text) : '';
  if (typeof text !== 'string') return null;
  const m = DECIMAL_RE.exec(text);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return null;
  const fraction = m[3] ?? '';
  const digits = BigInt((m[2] || '0') + fraction);
  return { digits: m[1] === '-' ? -digits : digits, scale: fraction.length };
}

export const isDecimal = (text) => parseDecimal(text) !== null;

function align(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [a.digits * 10n ** BigInt(scale - a.scale), b.digits * 10n ** BigInt(scale - b.scale), scale];
}

/** Decimal text of `digits × 10^-scale`, without trailing fraction zeros ("12", "0.5"). */
export function formatDecimal({ digits, scale }) {
  const negative = digits < 0n;
  let text = (negative ? -digits : digits).toString().padStart(scale + 1, '0');
  if (scale > 0) {
    text = `${text.slice(0, -scale)}.${text.slice(-scale)}`.replace(/\.?0+$/, '');
  }
  return (negative && text !== '0' ? '-' : '') + text;
}

/** a − b on decimal texts (null when either is not a decimal). */
export function subDecimal(a, b) {
  const x = parseDecimal(a), y = parseDecimal(b);
  if (!x || !y) return null;
  const [p, q, scale] = align(x, y);
  return formatDecimal({ digits: p - q, scale });
}

/** −1, 0 or 1 (null when either is not a decimal). */
export function compareDecimal(a, b) {
  const x = parseDecimal(a), y = parseDecimal(b);
  if (!x || !y) return null;
  const [p, q] = align(x, y);
  return p < q ? -1 : p > q ? 1 : 0;
}

/** ceil(a / b) for non-negative decimals, as decimal text (display of a package count). */
export function ceilDivDecimal(a, b) {
  const x = parseDecimal(a), y = parseDecimal(b);
  if (!x || !y || y.digits <= 0n || x.digits < 0n) return null;
  const [p, q] = align(x, y);
  return ((p + q - 1n) / q).toString();
}

/**
 * Integer minor units (cents) → major-unit decimal text at the currency's exponent:
 * (12345, 2) → "123.45", (-5, 2) → "-0.05", (700, 0) → "700". Accepts a number, BigInt or text.
 */
export function minorToMajor(minor, exponent) {
  const parsed = parseDecimal(typeof minor === 'bigint' ? minor.toString() : minor);
  if (!parsed) return null;
  const { digits, scale } = parsed;
  const text = formatDecimal({ digits, scale: scale + exponent });
  return fixScale(text, exponent);
}

/** Pads the fraction of a decimal text to at least `min` digits ("12" → "12.00"). */
export function fixScale(text, min) {
  if (min <= 0) return text;
  const [int, fraction = ''] = text.split('.');
  return `${int}.${fraction.padEnd(min, '0')}`;
}

/** Σ of integer cents, exactly (BigInt), as a BigInt. */
export function sumCents(values) {
  let total = 0n;
  for (const v of values) total += BigInt(v);
  return total;
}
