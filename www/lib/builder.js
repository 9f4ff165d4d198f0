// The plan builder: the active plan's fields, its charges (every Lago charge model, tiers as
// editable rows, filters, pricing group keys, taxes), the shared catalogue of billable metrics
// and taxes, and Lago JSON import/export. Renders HTML; the page binds it by data attributes.
import { AGGREGATIONS, CHARGE_MODELS, INTERVALS, MAX_PLANS, filterValuesText, rangesKey } from './scenario.js';
import { button, errSlot, esc, field, idOf, select } from './html.js';

const MODEL_LABELS = {
  standard: 'Standard (per unit)', graduated: 'Graduated (tiers)', volume: 'Volume (one tier for all units)',
  package: 'Package', percentage: 'Percentage', graduated_percentage: 'Graduated percentage', dynamic: 'Dynamic (amount from events)',
  custom: 'Custom',
};
export const modelLabel = (m) => MODEL_LABELS[m] ?? m;
const COMMON_CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD', 'SEK', 'BHD', 'INR', 'BRL'];

export function renderBuilder(scenario) {
  const p = scenario.active;
  const plan = scenario.plans[p];
  const base = `plans.${p}`;
  const tabs = scenario.plans.map((pl, i) => `<button type="button" class="tab" data-action="select-plan" data-path="${i}" aria-pressed="${i === p}">`
    + `${esc(pl.name || pl.code || `Plan ${i + 1}`)}</button>`).join('');
  const planTools = [
    scenario.plans.length < MAX_PLANS ? button('add-plan', '', '+ New plan') : '',
    scenario.plans.length < MAX_PLANS ? button('duplicate-plan', String(p), 'Duplicate') : '',
    scenario.plans.length > 1 ? button('remove-plan', String(p), 'Remove plan', { cls: 'btn danger' }) : '',
  ].join('');
  const taxChecks = scenario.taxes.length
    ? scenario.taxes.map((t) => checkbox(`${base}.tax_codes`, t.code, plan.tax_codes.includes(t.code), `${esc(t.code)} (${esc(t.rate)} %)`)).join('')
    : '<span class="muted">No taxes defined (see Taxes below).</span>';
  return `
  <div class="plan-tabs" role="group" aria-label="Plans">${tabs}</div>
  <div class="toolbar">${planTools}</div>
  <div class="grid-fields">
    ${field({ path: `${base}.name`, label: 'Plan name', value: plan.name, struct: true })}
    ${field({ path: `${base}.code`, label: 'Plan code', value: plan.code, struct: true })}
    ${field({ path: `${base}.amount_currency`, label: 'Currency', value: plan.amount_currency, attrs: 'list="currency-list" maxlength="3"', struct: true })}
    ${select({ path: `${base}.interval`, label: 'Interval', value: plan.interval, options: INTERVALS.map((i) => [i, i]) })}
    ${field({ path: `${base}.amount_cents`, label: 'Subscription fee (cents)', value: plan.amount_cents, kind: 'int', hint: 'Not part of usage; shown apart.' })}
  </div>
  <datalist id="currency-list">${COMMON_CURRENCIES.map((c) => `<option value="${c}">`).join('')}</datalist>
  <fieldset class="taxes-of-plan"><legend>Plan taxes</legend>${taxChecks}${errSlot(`${base}.tax_codes`)}</fieldset>
  ${errSlot(`${base}.plan`, 'block')}
  <h3>Charges</h3>
  <div class="charges">${plan.charges.map((c, i) => renderCharge(scenario, plan, c, `${base}.charges.${i}`, i)).join('')}</div>
  <div class="toolbar">${button('add-charge', base, '+ Add charge')}</div>
  ${renderCatalogue(scenario)}`;
}

function checkbox(path, value, checked, label) {
  const id = `${idOf(path)}-${String(value).replace(/[^A-Za-z0-9_-]/g, '-')}`;
  return `<span class="check-inline"><input type="checkbox" id="${id}" data-bind-set="${esc(path)}" value="${esc(value)}"${checked ? ' checked' : ''}>`
    + `<label for="${id}">${label}</label></span>`;
}

function renderCharge(scenario, plan, c, path, i) {
  const metric = scenario.metrics.find((m) => m.code === c.billable_metric_code);
  const metricOptions = scenario.metrics.map((m) => [m.code, `${m.name || m.code} (${m.code}, ${m.aggregation_type})`]);
  const title = `${i + 1}. ${esc(c.invoice_display_name || metric?.name || c.billable_metric_code || 'Charge')} · ${esc(modelLabel(c.charge_model))}`;
  const groupKeys = (c.properties.pricing_group_keys || []).join(', ');
  const taxes = scenario.taxes.map((t) => checkbox(`${path}.tax_codes`, t.code, c.tax_codes.includes(t.code), `${esc(t.code)}`)).join('');
  const filters = c.filters.map((f, j) => renderFilter(c, f, `${path}.filters.${j}`, j, metric)).join('');
  return `<fieldset class="charge" id="${idOf(path)}">
    <legend>${title}</legend>
    <div class="grid-fields">
      ${select({ path: `${path}.billable_metric_code`, label: 'Billable metric', value: c.billable_metric_code, options: metricOptions })}
      ${select({ path: `${path}.charge_model`, label: 'Charge model', value: c.charge_model, options: CHARGE_MODELS.map((m) => [m, modelLabel(m)]) })}
      ${field({ path: `${path}.code`, label: 'Charge code', value: c.code ?? '', kind: 'nullstr', struct: true })}
      ${field({ path: `${path}.invoice_display_name`, label: 'Display name', value: c.invoice_display_name ?? '', kind: 'nullstr', struct: true })}
    </div>
    ${renderProperties(c.charge_model, c.properties, `${path}.properties`)}
    <div class="grid-fields">
      ${field({ path: `${path}.properties.pricing_group_keys`, label: 'Pricing group keys', value: groupKeys, kind: 'keys', struct: true, hint: 'Comma-separated event properties; each value is priced on its own.' })}
    </div>
    <details class="more" id="more-${idOf(path)}"><summary>Filters (${c.filters.length}), taxes and billing options</summary>
      <div class="filters">${filters || '<p class="muted">No filters: every event of the metric is priced with the properties above.</p>'}</div>
      <div class="toolbar">${button('add-filter', path, '+ Add filter')}</div>
      <fieldset><legend>Charge taxes (override the plan's)</legend>${taxes || '<span class="muted">No taxes defined.</span>'}${errSlot(`${path}.tax_codes`)}</fieldset>
      <div class="grid-fields">
        ${field({ path: `${path}.pay_in_advance`, label: 'Pay in advance', value: c.pay_in_advance, kind: 'bool', type: 'checkbox' })}
        ${field({ path: `${path}.prorated`, label: 'Prorated', value: c.prorated, kind: 'bool', type: 'checkbox' })}
        ${field({ path: `${path}.min_amount_cents`, label: 'Spending minimum (cents, invoices only)', value: c.min_amount_cents, kind: 'int' })}
      </div>
    </details>
    ${errSlot(path, 'block')}
    <div class="toolbar end">${button('remove-charge', path, 'Remove charge', { cls: 'btn danger', label: `Remove charge ${i + 1}` })}</div>
  </fieldset>`;
}

function renderFilter(c, f, path, j, metric) {
  const keys = (metric?.filters || []).map((x) => `${x.key}: ${x.values.join(', ')}`).join('; ');
  const own = !!f.properties;
  return `<fieldset class="filter"><legend>Filter ${j + 1}</legend>
    <div class="grid-fields">
      ${field({ path: `${path}.values`, label: 'Matches (key: values; …)', value: filterValuesText(f.values), kind: 'filtervals', struct: true,
        hint: keys ? `Metric filters: ${esc(keys)}` : 'The metric declares no filters: add them under Billable metrics.' })}
      ${field({ path: `${path}.invoice_display_name`, label: 'Display name', value: f.invoice_display_name ?? '', kind: 'nullstr', struct: true })}
      ${field({ path: `${path}.own`, label: 'Own price (else the charge\'s)', value: own, kind: 'bool', type: 'checkbox', struct: true, err: false })}
    </div>
    ${own ? renderProperties(c.charge_model, f.properties, `${path}.properties`) : ''}
    <div class="toolbar end">${button('remove-filter', path, 'Remove filter', { cls: 'btn danger', label: `Remove filter ${j + 1}` })}</div>
  </fieldset>`;
}

/** The property fields of a charge model (Lago's names). */
export function renderProperties(model, props, path) {
  const key = rangesKey(model);
  if (key) return renderRanges(model, props[key] || [], `${path}.${key}`);
  const f = (name, label, kind = 'dec', hint = '') => field({ path: `${path}.${name}`, label, value: props[name] ?? '', kind, hint });
  switch (model) {
    case 'standard':
      return `<div class="grid-fields">${f('amount', 'Unit price')}</div>`;
    case 'package':
      return `<div class="grid-fields">${f('amount', 'Price per package')}${f('package_size', 'Package size (units)', 'int')}${f('free_units', 'Free units', 'int')}</div>`;
    case 'percentage':
      return `<div class="grid-fields">${f('rate', 'Rate (%)')}${f('fixed_amount', 'Fixed fee per event', 'optdec')}`
        + `${f('free_units_per_events', 'Free events', 'optint')}${f('free_units_per_total_aggregation', 'Free amount (units)', 'optdec')}`
        + `${f('per_transaction_min_amount', 'Min per transaction', 'optdec')}${f('per_transaction_max_amount', 'Max per transaction', 'optdec')}</div>`;
    case 'dynamic':
      return '<p class="muted">Dynamic: the amount is the sum of the events\' <code>precise_total_amount_cents</code>.</p>';
    case 'custom':
      return `<div class="grid-fields">${field({ path: `${path}.custom_properties`, label: 'Custom properties (JSON)', value: JSON.stringify(props.custom_properties ?? {}), kind: 'json' })}</div>`
        + '<p class="muted">Custom aggregations run Lago\'s Ruby sandbox, which the engine does not emulate.</p>';
    default:
      return '';
  }
}

function renderRanges(model, ranges, path) {
  const pct = model === 'graduated_percentage';
  const rows = ranges.map((r, i) => {
    const p = `${path}.${i}`;
    const cell = (name, label, kind) => `<td>${field({ path: `${p}.${name}`, label: `Tier ${i + 1} ${label}`, value: r[name] ?? '', kind, hiddenLabel: true })}</td>`;
    return `<tr>${cell('from_value', 'from', 'int')}${cell('to_value', 'to (empty: no limit)', 'optint')}`
      + `${pct ? cell('rate', 'rate (%)', 'dec') : cell('per_unit_amount', 'price per unit', 'dec')}${cell('flat_amount', 'flat fee', 'dec')}`
      + `<td>${button('remove-tier', p, '×', { cls: 'btn icon', label: `Remove tier ${i + 1}` })}</td></tr>`;
  }).join('');
  return `<div class="tiers"><table>
      <caption class="sr-only">Tiers</caption>
      <thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">${pct ? 'Rate %' : 'Per unit'}</th><th scope="col">Flat fee</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
      <tbody>${rows}</tbody></table>
      ${errSlot(path, 'block')}
      <div class="toolbar">${button('add-tier', path, '+ Add tier')}</div>
      <p class="hint">A tier starts where the previous one ends (editing "to" moves the next "from"); the last tier has no "to".</p>
    </div>`;
}

function renderCatalogue(scenario) {
  const metrics = scenario.metrics.map((m, i) => {
    const p = `metrics.${i}`;
    return `<tr>
      <td>${field({ path: `${p}.code`, label: `Metric ${i + 1} code`, value: m.code, hiddenLabel: true, struct: true })}</td>
      <td>${field({ path: `${p}.name`, label: `Metric ${i + 1} name`, value: m.name ?? '', kind: 'nullstr', hiddenLabel: true, struct: true })}</td>
      <td>${select({ path: `${p}.aggregation_type`, label: `Metric ${i + 1} aggregation`, value: m.aggregation_type, options: AGGREGATIONS.map((a) => [a, a]), hiddenLabel: true })}</td>
      <td>${field({ path: `${p}.field_name`, label: `Metric ${i + 1} property`, value: m.field_name ?? '', kind: 'nullstr', hiddenLabel: true, struct: true })}</td>
      <td>${field({ path: `${p}.filters`, label: `Metric ${i + 1} filters`, value: m.filters.map((f) => `${f.key}: ${f.values.join(', ')}`).join('; '), kind: 'metricfilters', hiddenLabel: true, struct: true })}</td>
      <td>${button('remove-metric', p, '×', { cls: 'btn icon', label: `Remove metric ${m.code || i + 1}` })}</td></tr>`;
  }).join('');
  const taxes = scenario.taxes.map((t, i) => `<tr>
      <td>${field({ path: `taxes.${i}.code`, label: `Tax ${i + 1} code`, value: t.code, hiddenLabel: true, struct: true })}</td>
      <td>${field({ path: `taxes.${i}.rate`, label: `Tax ${i + 1} rate (%)`, value: t.rate, kind: 'dec', hiddenLabel: true })}</td>
      <td>${button('remove-tax', `taxes.${i}`, '×', { cls: 'btn icon', label: `Remove tax ${t.code || i + 1}` })}</td></tr>`).join('');
  return `<details class="catalogue" id="catalogue"><summary>Billable metrics (${scenario.metrics.length}) and taxes (${scenario.taxes.length}), shared by all plans</summary>
    <div class="table-scroll"><table class="metrics"><caption class="sr-only">Billable metrics</caption>
      <thead><tr><th scope="col">Code</th><th scope="col">Name</th><th scope="col">Aggregation</th><th scope="col">Property</th><th scope="col">Filters (key: values; …)</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
      <tbody>${metrics}</tbody></table></div>
    ${errSlot('metrics', 'block')}
    <div class="toolbar">${button('add-metric', '', '+ Add metric')}</div>
    <div class="table-scroll"><table class="taxes"><caption class="sr-only">Taxes</caption>
      <thead><tr><th scope="col">Tax code</th><th scope="col">Rate %</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
      <tbody>${taxes}</tbody></table></div>
    ${errSlot('taxes', 'block')}
    <div class="toolbar">${button('add-tax', '', '+ Add tax')}</div>
  </details>`;
}

export function renderImportExport() {
  return `<details class="import" id="import-export"><summary>Import / export Lago JSON</summary>
    <div class="field"><label for="lago-json">Lago plan JSON (paste a <code>GET /plans/{code}</code> body)</label>
    <textarea id="lago-json" rows="8" spellcheck="false" aria-describedby="lago-json-status"></textarea></div>
    <div class="toolbar">
      <button type="button" class="btn" data-action="import-new">Import as a new plan</button>
      <button type="button" class="btn" data-action="import-replace">Import into this plan</button>
      <button type="button" class="btn" data-action="export">Export this plan</button>
      <button type="button" class="btn" data-action="download">Download JSON</button>
    </div>
    <p id="lago-json-status" class="status" role="status"></p>
  </details>`;
}
