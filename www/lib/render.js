// Results: totals, per-charge lines, the tier-by-tier explanation of each fee (from the
// engine's `amount_details`), the cost-against-units pictures, and the plan comparison.
import { buildChargeUsage, buildFee } from '../../pkg/index.js';
import { ceilDivDecimal, compareDecimal } from './decimal.js';
import { currencyInfo, formatCents, formatMajor, formatPreciseCents, formatRate, formatUnits } from './money.js';
import { cleanProperties, filterValuesText, rangesKey } from './scenario.js';
import { esc } from './html.js';
import { modelLabel } from './builder.js';
import { metricOf } from './pricing.js';
import { tierChart } from './charts.js';

const money = (cents, currency, attrs = '') => `<span class="money"${attrs} data-cents="${esc(String(cents))}">${esc(formatCents(cents, currency))}</span>`;

/** A charge's display name (Lago: invoice_display_name, else the metric's name). */
export const chargeName = (scenario, c) => c.invoice_display_name || metricOf(scenario, c.billable_metric_code).name || c.billable_metric_code;

// ---------------------------------------------------------------------------------------------
// Explanations
// ---------------------------------------------------------------------------------------------

/** How a fee's amount was reached, from its `amount_details` and the charge's properties. */
export function explainFee(model, fee, properties, currency) {
  const d = fee.amount_details || {};
  const m = (v) => esc(formatMajor(v, currency));
  let body = '';
  if (d.graduated_ranges || d.graduated_percentage_ranges) {
    const pct = !!d.graduated_percentage_ranges;
    const rows = (d.graduated_ranges || d.graduated_percentage_ranges).map((r, i) => `<tr>
      <td>${i + 1}</td><td>${esc(formatUnits(String(r.from_value)))} – ${r.to_value === null ? '∞' : esc(formatUnits(String(r.to_value)))}</td>
      <td class="num">${esc(formatUnits(r.units))}</td>
      <td class="num">${pct ? esc(formatRate(r.rate)) : m(r.per_unit_amount)}</td>
      <td class="num">${m(r.per_unit_total_amount)}</td>
      <td class="num">${m(r.flat_unit_amount)}</td>
      <td class="num">${m(r.total_with_flat_amount)}</td></tr>`).join('');
    body = `<table class="explain-table"><caption class="sr-only">Tier by tier</caption><thead><tr><th scope="col">Tier</th><th scope="col">Range</th><th scope="col">Units in tier</th>
      <th scope="col">${pct ? 'Rate' : 'Unit price'}</th><th scope="col">Units × price</th><th scope="col">Flat fee</th><th scope="col">Subtotal</th></tr></thead><tbody>${rows}</tbody></table>`;
  } else if (model === 'volume') {
    const tier = (properties.volume_ranges || []).findIndex((r) => r.to_value === null || compareDecimal(fee.units, String(r.to_value)) <= 0);
    body = `<p>Volume: all ${esc(formatUnits(fee.units))} units at the unit price of the tier they reach${tier >= 0 ? ` (tier ${tier + 1})` : ''}:
      ${esc(formatUnits(fee.units))} × ${m(d.per_unit_amount)} = ${m(d.per_unit_total_amount)}, plus a flat fee of ${m(d.flat_unit_amount)}.</p>`;
  } else if (model === 'package') {
    const packages = ceilDivDecimal(d.paid_units, String(d.per_package_size));
    body = `<p>Package: ${esc(formatUnits(fee.units))} units − ${esc(formatUnits(d.free_units))} free = ${esc(formatUnits(d.paid_units))} paid units;
      ${packages === null ? '' : `${esc(packages)} started package(s) of ${esc(formatUnits(String(d.per_package_size)))} units`} at ${m(d.per_package_unit_amount)} each.</p>`;
  } else if (model === 'percentage') {
    body = `<table class="explain-table"><caption class="sr-only">Percentage</caption><tbody>
      <tr><th scope="row">Units (amount)</th><td class="num">${esc(formatUnits(d.units))}</td></tr>
      <tr><th scope="row">Free units</th><td class="num">${esc(formatUnits(d.free_units))}</td></tr>
      <tr><th scope="row">Paid units × ${esc(formatRate(d.rate))}</th><td class="num">${esc(formatUnits(d.paid_units))} → ${m(d.per_unit_total_amount)}</td></tr>
      <tr><th scope="row">Fixed fee × paid events (${esc(d.paid_events)} of ${esc(fee.events_count)}, ${esc(d.free_events)} free)</th><td class="num">${m(d.fixed_fee_unit_amount)} → ${m(d.fixed_fee_total_amount)}</td></tr>
      <tr><th scope="row">Per-transaction min/max adjustment</th><td class="num">${m(d.min_max_adjustment_total_amount)}</td></tr>
      </tbody></table>`;
  } else if (model === 'standard') {
    body = `<p>Standard: ${esc(formatUnits(fee.units))} units × ${m(properties.amount ?? '0')}.</p>`;
  } else if (model === 'dynamic') {
    body = '<p>Dynamic: the sum of the events\' amounts.</p>';
  } else {
    body = `<pre>${esc(JSON.stringify(d, null, 1))}</pre>`;
  }
  const exact = String(fee.precise_amount_cents);
  const rounded = compareDecimal(exact, String(fee.amount_cents)) !== 0;
  const info = currencyInfo(currency);
  return `${body}<p class="rounding">Amount ${esc(formatPreciseCents(exact, currency))}${rounded
    ? ` → rounded half-up once to ${info.exponent} decimal${info.exponent === 1 ? '' : 's'}: <strong>${esc(formatCents(fee.amount_cents, currency))}</strong>`
    : `: exact at ${info.exponent} decimal${info.exponent === 1 ? '' : 's'}, no rounding`}.</p>`;
}

/** The fees of a charge usage with a label each (filter values, group). */
function labelledFees(usage, charge) {
  const fees = usage.fees || [];
  const labels = [];
  if (charge.filters.length && usage.filters?.length) {
    for (const f of usage.filters) labels.push(f.values ? (f.invoice_display_name || filterValuesText(f.values)) : 'other events (default)');
  } else if (usage.grouped_usage?.length) {
    for (const g of usage.grouped_usage) labels.push(Object.entries(g.grouped_by).map(([k, v]) => `${k}=${v ?? '—'}`).join(', '));
  }
  return fees.map((fee, i) => ({ fee, label: fees.length > 1 ? (labels[i] ?? `fee ${i + 1}`) : '' }));
}

function explainCharge(usage, charge, currency) {
  return labelledFees(usage, charge).map(({ fee, label }, i) => {
    const f = charge.filters.length && i < charge.filters.length && charge.filters[i]?.properties ? charge.filters[i].properties : charge.properties;
    return `<div class="fee">${label ? `<h4>${esc(label)}</h4>` : ''}${explainFee(charge.charge_model, fee, f, currency)}</div>`;
  }).join('');
}

// ---------------------------------------------------------------------------------------------
// Cost-against-units curves (cached per charge properties)
// ---------------------------------------------------------------------------------------------

const curveCache = new Map();
const TIERED = new Set(['graduated', 'volume', 'graduated_percentage', 'package']);

function niceCeil(x) {
  const power = 10 ** Math.floor(Math.log10(x));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((f) => f * power).find((v) => v >= x);
}

/** Units texts for sampling [0, xMax] (integers when the range allows). */
function sampleUnits(xMax, breakpoints, step) {
  const integer = xMax >= 50;
  const fmt = (u) => (integer ? String(Math.round(u)) : String(+u.toPrecision(8)));
  const set = new Set([0]);
  const n = 48;
  for (let i = 1; i <= n; i++) set.add(+fmt((xMax * i) / n));
  const delta = integer ? 1 : xMax / 1000;
  for (const b of breakpoints) {
    if (b < 0 || b > xMax) continue;
    set.add(+fmt(b));
    if (b + delta <= xMax) set.add(+fmt(b + delta));
    if (b - delta > 0) set.add(+fmt(b - delta));
  }
  if (step) for (let u = step.from; u <= xMax && set.size < 400; u += step.size) { set.add(+fmt(u)); set.add(+fmt(u + delta)); }
  return [...set].sort((a, b) => a - b).map(fmt);
}

/** The curve of a tiered charge up to a nice `xMax` covering `units`, priced by the engine. */
export function chargeCurve(charge, currency, aggregation, units) {
  if (!TIERED.has(charge.charge_model)) return null;
  const props = cleanProperties(charge.properties);
  const key = rangesKey(charge.charge_model);
  let breakpoints = [];
  let step = null;
  if (key) {
    for (const r of props[key] || []) {
      if (Number(r.from_value) > 0) breakpoints.push(Number(r.from_value));
      if (r.to_value !== null && r.to_value !== undefined) breakpoints.push(Number(r.to_value));
    }
  } else {
    const size = Number(props.package_size) || 1;
    const free = Number(props.free_units) || 0;
    if (free > 0) breakpoints.push(free);
    step = { from: free, size };
  }
  breakpoints = [...new Set(breakpoints.filter(Number.isFinite))].sort((a, b) => a - b);
  const last = breakpoints.length ? breakpoints[breakpoints.length - 1] : 10;
  const needed = Math.max(last * (breakpoints.length > 1 ? 1.25 : 2), (Number(units) || 0) * 1.15, step ? step.from + step.size * 4 : 0, 10);
  const xMax = niceCeil(needed);
  const cacheKey = JSON.stringify([charge.charge_model, props, currency, aggregation, xMax]);
  if (!curveCache.has(cacheKey)) {
    let curve = null;
    try {
      curve = sampleUnits(xMax, breakpoints, step && (xMax - step.from) / step.size <= 60 ? step : null).map((u) => ({
        u: Number(u),
        cents: buildFee({ charge_model: charge.charge_model, properties: props, units: u, currency, aggregation_type: aggregation }).amount_cents,
      }));
    } catch {
      curve = null; // invalid properties: the builder shows why
    }
    if (curveCache.size > 200) curveCache.clear();
    curveCache.set(cacheKey, curve);
  }
  const curve = curveCache.get(cacheKey);
  return curve && { curve, breakpoints, xMax, key: cacheKey };
}

/**
 * One cost-against-units picture per tiered charge, with the position of `positions[i]`, as
 * keyed items (`{key, sig, html()}`): the SVG is only rebuilt when its curve or position moves.
 */
export function tierChartItems(scenario, plan, positions) {
  return plan.charges.map((c, i) => {
    const metric = metricOf(scenario, c.billable_metric_code);
    const pos = positions[i];
    const shape = chargeCurve(c, plan.amount_currency, metric.aggregation_type, pos?.units);
    if (!shape) return null;
    const marker = pos && pos.units !== undefined ? { u: Number(pos.units), label: pos.units, cents: pos.cents } : null;
    const name = chargeName(scenario, c);
    return {
      key: `${i}`,
      sig: `${shape.key}|${name}|${pos?.units}|${pos?.cents}|${pos?.note}`,
      html: () => `<figure class="tier-chart"><figcaption>${esc(name)} <span class="muted">· ${esc(modelLabel(c.charge_model))}${pos?.note ? ` · ${esc(pos.note)}` : ''}</span></figcaption>`
        + tierChart({ name, ...shape, marker, currency: plan.amount_currency }) + '</figure>',
    };
  }).filter(Boolean);
}

/** Where a charge sits on its curve: its single fee, or the default bucket of a filtered one. */
export function curvePosition(usage, charge) {
  if (!usage?.fees?.length) return null;
  if (usage.grouped_usage?.length) return { note: 'grouped: each group sits on its own point' };
  const fee = usage.fees[usage.fees.length - 1];
  return { units: fee.units, cents: fee.amount_cents, note: charge.filters.length ? 'position of the default bucket' : '' };
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/**
 * A results view: `{skeleton, totals, rows: [{key, sig, html()}], explain: Map(key → () => html)}`.
 * Rows are one <tbody> per charge (its line and a <details> whose body is filled when opened).
 */
function view(skeleton, totals, rows) {
  const explain = new Map(rows.map((r) => [r.key, r.explain]));
  return { skeleton, totals, rows: rows.map(({ key, html }) => ({ key, sig: html, html: () => html })), explain };
}

const explainRow = (key, colspan, title, extra = '') => `<tr class="explain-row"><td colspan="${colspan}"><details data-explain="${esc(key)}"><summary>How ${esc(title)} is priced</summary>`
  + `<div class="explain-body"></div></details>${extra}</td></tr>`;

/** Results of the numbers mode. */
export function renderNumbersResults(scenario, priced) {
  const { plan, currency } = priced;
  const rows = priced.lines.map((line) => {
    const c = line.charge;
    const key = `${line.index}`;
    const notes = (line.notes || []).map((n) => `<p class="note">${esc(n)}</p>`).join('');
    const name = chargeName(scenario, c);
    if (line.error) {
      return { key, html: `<tr class="charge-row error"><th scope="row">${esc(name)}</th><td>${esc(modelLabel(c.charge_model))}</td>
        <td class="num" colspan="2"><span class="err">${esc(line.error.message)}</span></td></tr>${notes ? `<tr><td colspan="4">${notes}</td></tr>` : ''}` };
    }
    return {
      key,
      html: `<tr class="charge-row" data-charge="${esc(c.code || c.billable_metric_code)}"><th scope="row">${esc(name)}</th>
      <td>${esc(modelLabel(c.charge_model))}</td><td class="num">${esc(formatUnits(line.usage.units))}</td>
      <td class="num">${money(line.usage.amount_cents, currency, ' data-line')}</td></tr>${explainRow(key, 4, name, notes)}`,
      explain: () => explainCharge(line.usage, c, currency),
    };
  });
  const taxes = priced.taxes;
  const taxNote = [
    taxes.breakdown.map((b) => `${b.codes.join(' + ')} on ${formatCents(b.base_cents, currency)}`).join('; '),
    taxes.missing.length ? `unknown tax codes: ${taxes.missing.join(', ')}` : '',
    taxes.roundedOnce ? '' : 'charges carry different taxes: rounded once per tax set',
  ].filter(Boolean).join(' · ');
  const skeleton = `<caption>Charges of ${esc(plan.name || plan.code)} for one period</caption>
    <thead><tr><th scope="col">Charge</th><th scope="col">Model</th><th scope="col" class="num">Units</th><th scope="col" class="num">Amount</th></tr></thead>`;
  return view(skeleton, totalsBlock({ currency, amount: priced.amount_cents, taxes: priced.taxes_cents, total: priced.total_cents, taxNote, complete: priced.complete, plan }), rows);
}

function totalsBlock({ currency, amount, taxes, total, taxNote, complete, plan, projected = null, projectedNote = '' }) {
  return `<dl class="totals" aria-live="polite">
    <div><dt>Usage</dt><dd>${money(amount, currency, ' id="usage-amount"')}</dd></div>
    <div><dt>Taxes</dt><dd>${money(taxes, currency, ' id="taxes-amount"')}${taxNote ? `<small>${esc(taxNote)}</small>` : ''}</dd></div>
    <div class="total"><dt>Total${projected !== null ? ' so far' : ''}</dt><dd>${money(total, currency, ' id="total"')}</dd></div>
    ${projected !== null ? `<div class="projected"><dt>Projected usage at period end</dt><dd>${money(projected, currency, ' id="projected-amount"')}<small>${esc(projectedNote)}</small></dd></div>` : ''}
    <div class="fee-line"><dt>Subscription fee</dt><dd>${money(plan.amount_cents || 0, currency)}<small>not part of usage</small></dd></div>
  </dl>${complete ? '' : '<p class="err block">Some charges could not be priced (see below): the total leaves them out.</p>'}`;
}

/**
 * Results of the events mode: the engine's current usage at now and its projection, each
 * charge explained by re-pricing the engine's units with `buildChargeUsage` (shown only when
 * that gives the engine's cents, which holds for every model that depends on units alone).
 */
export function renderEventsResults(scenario, plan, usage, nowLabel) {
  const { current, projected } = usage;
  const currency = current.currency || plan.amount_currency;
  const projectedById = new Map((projected?.charges_usage || []).map((c) => [c.charge.lago_id, c]));
  const positions = [];
  const rows = current.charges_usage.map((cu) => {
    const index = plan.charges.findIndex((c) => (c.code || c.billable_metric_code) === cu.charge.code);
    const charge = plan.charges[index];
    const pu = projectedById.get(cu.charge.lago_id);
    let explanation = () => '<p class="muted">No explanation.</p>';
    if (charge) {
      const metric = metricOf(scenario, charge.billable_metric_code);
      const input = {
        charge_model: charge.charge_model, properties: cleanProperties(charge.properties), currency,
        aggregation_type: metric.aggregation_type, units: cu.units, events_count: cu.events_count,
      };
      const defaultBucket = cu.filters.find((f) => f.values === null);
      if (charge.filters.length) {
        input.filters = cu.filters.filter((f) => f.values !== null).map((f) => {
          const def = charge.filters.find((x) => JSON.stringify(x.values) === JSON.stringify(f.values));
          return { values: f.values, properties: cleanProperties(def?.properties ?? charge.properties), units: f.units, events_count: f.events_count, invoice_display_name: f.invoice_display_name };
        });
        input.units = defaultBucket?.units ?? '0';
        input.events_count = defaultBucket?.events_count ?? 0;
      }
      if (cu.grouped_usage?.length && !charge.filters.length) input.groups = cu.grouped_usage.map((g) => ({ grouped_by: g.grouped_by, units: g.units, events_count: g.events_count }));
      try {
        const again = buildChargeUsage(input);
        positions[index] = curvePosition(again, charge);
        explanation = again.amount_cents === cu.amount_cents
          ? () => explainCharge(again, charge, currency)
          : () => `<p class="muted">The engine's ${esc(formatCents(cu.amount_cents, currency))} depends on each event's value (${esc(modelLabel(charge.charge_model))}), not on the units alone: no tier breakdown.</p>`;
      } catch (e) {
        explanation = () => `<p class="muted">${esc(e.message)}</p>`;
      }
    }
    const name = charge ? chargeName(scenario, charge) : cu.billable_metric.name;
    return { key: cu.charge.code, explain: explanation, html: `<tr class="charge-row" data-charge="${esc(cu.charge.code)}"><th scope="row">${esc(name)}</th>
      <td>${esc(modelLabel(cu.charge.charge_model))}</td>
      <td class="num">${esc(formatUnits(cu.units))}<small>${esc(cu.events_count.toLocaleString())} events</small></td>
      <td class="num">${money(cu.amount_cents, currency, ' data-line')}</td>
      <td class="num">${pu ? esc(formatUnits(pu.projected_units)) : '—'}</td>
      <td class="num">${pu ? money(pu.projected_amount_cents, currency) : '—'}</td></tr>${explainRow(cu.charge.code, 6, name)}` };
  });
  const totals = totalsBlock({
    currency, amount: current.amount_cents, taxes: current.taxes_amount_cents, total: current.total_amount_cents, complete: true, plan,
    projected: projected ? projected.projected_amount_cents : null,
    projectedNote: projected ? 'before taxes; Lago\'s rule: units ÷ (days begun ÷ days of the period)' : '',
  });
  const skeleton = `<caption>Charges of ${esc(plan.name || plan.code)} at ${esc(nowLabel)}, and projected to the period end</caption>
    <thead><tr><th scope="col">Charge</th><th scope="col">Model</th><th scope="col" class="num">Units</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Projected units</th><th scope="col" class="num">Projected amount</th></tr></thead>`;
  const totalsHtml = `${totals}${usage.projectedError ? `<p class="err block">${esc(usage.projectedError)}</p>` : ''}`;
  return { ...view(skeleton, totalsHtml, rows), positions };
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

/**
 * The same usage on 2–3 plans: `entries[i] = {plan, total (cents), lines: Map(key → cents), error}`.
 * Charges are matched across plans by metric (and order among the plan's charges of that metric).
 */
export function renderComparison(scenario, entries, { projected = false } = {}) {
  const ok = entries.filter((e) => !e.error);
  const currencies = new Set(ok.map((e) => e.currency));
  const comparable = currencies.size === 1 && ok.length >= 2;
  const cheapest = comparable ? ok.reduce((a, b) => (BigInt(b.total) < BigInt(a.total) ? b : a)) : null;
  const keys = [];
  const labels = new Map();
  for (const e of ok) {
    for (const [key, line] of e.lines) {
      if (!labels.has(key)) { keys.push(key); labels.set(key, line.label); }
    }
  }
  const head = entries.map((e) => `<th scope="col" class="num">${esc(e.plan.name || e.plan.code)}${e === cheapest ? ' <span class="badge">Cheapest</span>' : ''}</th>`).join('');
  const diffHead = comparable ? entries.map((e) => (e === cheapest ? '' : `<th scope="col" class="num">${esc(e.plan.name || e.plan.code)} − ${esc(cheapest.plan.name || cheapest.plan.code)}</th>`)).join('') : '';
  const cell = (e, cents) => (e.error ? '<td class="num muted">—</td>' : `<td class="num">${cents === undefined ? '<span class="muted">no charge</span>' : money(cents, e.currency)}</td>`);
  // One difference column per plan other than the cheapest: that plan minus the cheapest.
  const diffs = (pick) => (comparable ? entries.map((e) => {
    if (e === cheapest) return '';
    if (e.error) return '<td></td>';
    const a = pick(e), b = pick(cheapest);
    if (a === undefined && b === undefined) return '<td class="num muted">—</td>';
    const d = BigInt(a ?? 0) - BigInt(b ?? 0);
    return `<td class="num diff ${d > 0n ? 'up' : d < 0n ? 'down' : ''}">${d > 0n ? '+' : ''}${esc(formatCents(d.toString(), e.currency))}</td>`;
  }).join('') : '');
  const rows = keys.map((key) => `<tr><th scope="row">${esc(labels.get(key))}</th>${entries.map((e) => cell(e, e.lines.get(key)?.cents)).join('')}`
    + `${diffs((e) => e.lines.get(key)?.cents)}</tr>`).join('');
  const totalRow = (label, field) => `<tr class="total-row"><th scope="row">${label}</th>${entries.map((e) => (e.error ? `<td class="err">${esc(e.error)}</td>` : `<td class="num">${money(e[field], e.currency, ` data-plan="${esc(e.plan.code)}" data-field="${field}"`)}</td>`)).join('')}`
    + `${diffs((e) => e[field])}</tr>`;
  return `<div class="table-scroll"><table class="compare"><caption>The same usage on ${entries.length} plans${projected ? ' (at now; projected totals below)' : ''}</caption>
    <thead><tr><th scope="col">Charge</th>${head}${diffHead}</tr></thead>
    <tbody>${rows}${totalRow('Usage', 'amount')}${totalRow('Taxes', 'taxes')}${totalRow('Total', 'total')}${projected ? totalRow('Projected usage', 'projected') : ''}</tbody></table></div>
    ${currencies.size > 1 ? '<p class="note">The plans use different currencies: no cheapest.</p>' : ''}
    ${comparable ? `<p class="note">Cheapest: <strong>${esc(cheapest.plan.name || cheapest.plan.code)}</strong> at ${esc(formatCents(cheapest.total, cheapest.currency))} (differences: each plan minus the cheapest).</p>` : ''}`;
}

/** Comparison lines of a numbers-mode pricing. */
export function comparisonFromNumbers(scenario, priced) {
  const lines = new Map();
  const seen = new Map();
  for (const line of priced.lines) {
    const metric = line.charge.billable_metric_code;
    const n = seen.get(metric) ?? 0;
    seen.set(metric, n + 1);
    const key = `${metric}#${n}`;
    lines.set(key, { label: `${metricOf(scenario, metric).name || metric}${n ? ` (${n + 1})` : ''}`, cents: line.usage ? line.usage.amount_cents : undefined });
  }
  return {
    plan: priced.plan, currency: priced.currency, lines, amount: priced.amount_cents.toString(),
    taxes: priced.taxes_cents.toString(), total: priced.total_cents.toString(),
    error: priced.complete ? null : 'some charges cannot be priced',
  };
}

/** Comparison lines of an engine usage (events mode). */
export function comparisonFromUsage(scenario, entry) {
  if (entry.error) return { plan: entry.plan, error: entry.error, lines: new Map() };
  const lines = new Map();
  const seen = new Map();
  for (const cu of entry.current.charges_usage) {
    const metric = cu.billable_metric.code;
    const n = seen.get(metric) ?? 0;
    seen.set(metric, n + 1);
    lines.set(`${metric}#${n}`, { label: `${cu.billable_metric.name}${n ? ` (${n + 1})` : ''}`, cents: cu.amount_cents });
  }
  return {
    plan: entry.plan, currency: entry.current.currency, lines, amount: String(entry.current.amount_cents),
    taxes: String(entry.current.taxes_amount_cents), total: String(entry.current.total_amount_cents),
    projected: entry.projected ? String(entry.projected.projected_amount_cents) : undefined,
  };
}

