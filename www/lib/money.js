// Money and number display. Amounts arrive from the engine as integer minor units (cents) or
// as decimal strings in major units; both are turned into exact decimal text (lib/decimal.js)
// and handed to Intl.NumberFormat *as strings*, which formats them without going through a
// float (ECMA-402 "Intl.NumberFormat v3": string inputs are exact decimals).
import { currency as engineCurrency } from '../../pkg/index.js';
import { minorToMajor, parseDecimal } from './decimal.js';

const locale = () => (typeof navigator !== 'undefined' && navigator.language) || 'en-US';
const currencyCache = new Map();
const formatterCache = new Map();

/** `{code, exponent, subunit_to_unit}` from the engine, or null for an unknown code. */
export function currencyInfo(code) {
  const key = String(code || '').toUpperCase();
  if (!currencyCache.has(key)) {
    let info = null;
    try { info = engineCurrency(key); } catch { info = null; }
    currencyCache.set(key, info);
  }
  return currencyCache.get(key);
}

function formatter(code, minFraction, maxFraction) {
  const key = `${code}|${minFraction}|${maxFraction}`;
  if (!formatterCache.has(key)) {
    let nf;
    try {
      nf = new Intl.NumberFormat(locale(), {
        style: 'currency', currency: code, minimumFractionDigits: minFraction, maximumFractionDigits: maxFraction,
      });
    } catch {
      nf = null; // a code Intl does not know: plain text below
    }
    formatterCache.set(key, nf);
  }
  return formatterCache.get(key);
}

/** Integer cents (minor units) of `code` → "€1,234.56". */
export function formatCents(cents, code) {
  const info = currencyInfo(code);
  if (cents === null || cents === undefined || !info) return '—';
  const major = minorToMajor(cents, info.exponent);
  const nf = formatter(info.code, info.exponent, info.exponent);
  return nf ? nf.format(major) : `${major} ${info.code}`;
}

/**
 * A major-unit decimal string from the engine ("45.0", "0.0373333…") → "€45.00", "€0.0373333…":
 * at least the currency's exponent, and every digit the engine gave (up to 20).
 */
export function formatMajor(text, code) {
  const info = currencyInfo(code);
  const parsed = parseDecimal(String(text ?? ''));
  if (!info || !parsed) return String(text ?? '—');
  const digits = Math.min(20, Math.max(info.exponent, parsed.scale));
  const nf = formatter(info.code, info.exponent, digits);
  return nf ? nf.format(String(text).trim()) : `${text} ${info.code}`;
}

/** Precise minor units ("5061.725") → major text in that currency ("€50.61725"). */
export function formatPreciseCents(text, code) {
  const info = currencyInfo(code);
  if (!info) return String(text);
  const major = minorToMajor(String(text), info.exponent);
  return major === null ? String(text) : formatMajor(major, code);
}

const unitFormatters = new Map();
/** A units decimal string ("1500.0") → "1,500"; every fraction digit kept. */
export function formatUnits(text) {
  const parsed = parseDecimal(String(text ?? ''));
  if (!parsed) return String(text ?? '—');
  const digits = Math.min(20, parsed.scale);
  if (!unitFormatters.has(digits)) {
    unitFormatters.set(digits, new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }));
  }
  return unitFormatters.get(digits).format(String(text).trim());
}

/** A rate in percent ("1.5") → "1.5 %". */
export const formatRate = (text) => `${formatUnits(text)} %`;
