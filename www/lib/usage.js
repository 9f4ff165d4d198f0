// The usage panel: "Numbers" (a value and a slider per metric, priced at once) or "Events"
// (a synthetic month or an uploaded file, ingested by the engine up to "now").
import { filterSignature, filterValuesText, rangesKey } from './scenario.js';
import { errIdOf, errSlot, esc, field, idOf, seg } from './html.js';
import { readsEventsCount } from './pricing.js';

/** Metrics any plan charges for, with what their charges need from the numbers mode. */
export function usedMetrics(scenario) {
  const out = new Map();
  for (const plan of scenario.plans) {
    for (const c of plan.charges) {
      const m = scenario.metrics.find((x) => x.code === c.billable_metric_code);
      if (!m) continue;
      const entry = out.get(m.code) ?? { metric: m, filters: new Map(), events: false, groups: new Set(), dynamic: false, bounds: [] };
      for (const f of c.filters) entry.filters.set(filterSignature(f.values), f.values);
      if (readsEventsCount(c.charge_model) && m.aggregation_type !== 'count_agg') entry.events = true;
      (c.properties.pricing_group_keys || []).forEach((k) => entry.groups.add(k));
      if (c.charge_model === 'dynamic') entry.dynamic = true;
      const key = rangesKey(c.charge_model);
      if (key) for (const r of c.properties[key] || []) if (Number.isFinite(Number(r.to_value)) && r.to_value !== null) entry.bounds.push(Number(r.to_value));
      if (c.charge_model === 'package') entry.bounds.push(Number(c.properties.package_size) * 10 || 0);
      out.set(m.code, entry);
    }
  }
  return [...out.values()];
}

/** A slider's top: a round number above the value and the charges' last tier bound. */
export function sliderMax(value, bounds) {
  const v = Math.max(Number(value) || 0, 0);
  const target = Math.max(100, v * 2, ...bounds.map((b) => b * 1.5));
  const power = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 5, 10].map((f) => f * power).find((x) => x >= target);
}

export function renderUsage(scenario, { csv }) {
  const mode = scenario.mode;
  const radio = (value, label) => `<span class="check-inline"><input type="radio" name="mode" id="mode-${value}" value="${value}" data-action-change="mode"${mode === value ? ' checked' : ''}><label for="mode-${value}">${label}</label></span>`;
  return `<fieldset class="mode"><legend>Usage source</legend>${radio('numbers', 'Numbers')}${radio('events', 'Events')}</fieldset>
    <p class="explain">${mode === 'numbers'
    ? '<strong>Numbers</strong>: the usage of one whole billing period, typed per metric. Each charge is priced by the engine on those units (<code>buildChargeUsage</code>): nothing to project.'
    : `<strong>Events</strong>: a billing period of events, fed to the engine's usage store in time order up to <em>now</em> (<code>Engine.ingestBulk</code>), then Lago's current usage at now and its projection to the period end. The simulator's customer is <code>sim_customer</code>; its subscription's <code>external_id</code> is set below (default <code>sim</code>).`}</p>
    ${mode === 'numbers' ? renderNumbers(scenario) : renderEvents(scenario, csv)}`;
}

function renderNumbers(scenario) {
  const metrics = usedMetrics(scenario);
  if (!metrics.length) return '<p class="muted">No charge yet: add one to the plan.</p>';
  return `<div class="numbers">${metrics.map((e) => {
    const m = e.metric;
    const units = scenario.numbers.units[m.code] ?? '0';
    const max = sliderMax(units, e.bounds);
    const upath = `numbers.units.${seg(m.code)}`;
    const id = idOf(upath);
    const filters = [...e.filters].map(([sig, values]) => field({
      path: `numbers.filters.${seg(m.code)}.${seg(sig)}`, label: `… of which ${esc(filterValuesText(values))}`,
      value: scenario.numbers.filters[m.code]?.[sig] ?? '0', kind: 'dec', type: 'number', attrs: 'min="0" step="any" data-units="1"',
    })).join('');
    const events = e.events ? field({ path: `numbers.events.${seg(m.code)}`, label: 'Events (transactions)', value: scenario.numbers.events[m.code] ?? '0',
      kind: 'dec', type: 'number', attrs: 'min="0" step="1" data-units="1"', hint: 'Read by percentage charges (fixed fee per event, free events).' }) : '';
    const groups = e.groups.size ? field({ path: `numbers.groups.${seg(m.code)}`, label: `Split by ${esc([...e.groups].join(', '))}`,
      value: scenario.numbers.groups[m.code] ?? '', kind: 'str', attrs: 'placeholder="a=100, b=20" data-units="1"', hint: 'value=units pairs; the rest has no group value.' }) : '';
    const dynamic = e.dynamic ? field({ path: `numbers.dynamic.${seg(m.code)}`, label: 'Σ precise_total_amount_cents', value: scenario.numbers.dynamic[m.code] ?? '0',
      kind: 'dec', type: 'number', attrs: 'min="0" step="any" data-units="1"' }) : '';
    return `<div class="metric-usage">
      <div class="field units"><label for="${id}">${esc(m.name || m.code)} <span class="muted">(${esc(m.code)}, ${esc(m.aggregation_type)})</span></label>
        <div class="units-row">
          <input type="number" id="${id}" data-bind="${esc(upath)}" data-kind="dec" data-units="1" data-slider="${id}-slider" min="0" step="any" value="${esc(units)}" aria-describedby="${errIdOf(upath)}">
          <label for="${id}-slider" class="sr-only">${esc(m.name || m.code)} slider</label>
          <input type="range" id="${id}-slider" data-slider-for="${id}" min="0" max="${max}" step="${max >= 1000 ? Math.max(1, Math.round(max / 1000)) : 'any'}" value="${esc(Math.min(Number(units) || 0, max))}">
        </div>
        ${errSlot(upath)}
      </div>
      ${filters}${events}${groups}${dynamic}
    </div>`;
  }).join('')}</div>`;
}

function renderEvents(scenario, csv) {
  const ev = scenario.events;
  const synth = scenario.metrics.filter((m) => m.code).map((m) => {
    const s = ev.synthetic[m.code] ?? {};
    const p = `events.synthetic.${seg(m.code)}`;
    return `<tr><th scope="row">${esc(m.name || m.code)}</th>
      <td>${field({ path: `${p}.per_day`, label: `${esc(m.code)} events per day`, value: s.per_day ?? 0, kind: 'int', type: 'number', attrs: 'min="0" step="1"', hiddenLabel: true })}</td>
      <td>${field({ path: `${p}.trend`, label: `${esc(m.code)} trend, % per day`, value: s.trend ?? '0', kind: 'str', type: 'number', attrs: 'step="any"', hiddenLabel: true })}</td>
      <td>${m.aggregation_type === 'count_agg' ? '<span class="muted">—</span>' : field({ path: `${p}.min`, label: `${esc(m.code)} value from`, value: s.min ?? 1, kind: 'int', type: 'number', hiddenLabel: true })}</td>
      <td>${m.aggregation_type === 'count_agg' ? '<span class="muted">—</span>' : field({ path: `${p}.max`, label: `${esc(m.code)} value to`, value: s.max ?? 1, kind: 'int', type: 'number', hiddenLabel: true })}</td></tr>`;
  }).join('');
  return `<div class="events">
    <div class="grid-fields">
      ${field({ path: 'events.start', label: 'Period containing', value: ev.start, type: 'date', struct: true })}
      ${field({ path: 'events.subscription', label: 'Subscription external_id', value: ev.subscription, struct: true, hint: 'Events are counted when their external_subscription_id is this id.' })}
    </div>
    <div class="field now"><label for="now-day">Now: <output id="now-label" for="now-day"></output></label>
      <input type="range" id="now-day" data-bind="events.now_day" data-kind="int" data-struct="1" min="1" max="31" step="1" value="${esc(ev.now_day)}">
    </div>
    <fieldset class="source"><legend>Events</legend>
      <span class="check-inline"><input type="radio" name="source" id="source-synthetic" value="synthetic" data-action-change="source"${ev.source !== 'upload' ? ' checked' : ''}><label for="source-synthetic">Synthetic month</label></span>
      <span class="check-inline"><input type="radio" name="source" id="source-upload" value="upload" data-action-change="source"${ev.source === 'upload' ? ' checked' : ''}><label for="source-upload">Uploaded file</label></span>
    </fieldset>
    <div class="synthetic"${ev.source === 'upload' ? ' hidden' : ''}>
      <div class="table-scroll"><table><caption>Synthetic events: volume on day 1, growing by the trend each day; values drawn uniformly</caption>
      <thead><tr><th scope="col">Metric</th><th scope="col">Events / day</th><th scope="col">Trend % / day</th><th scope="col">Value from</th><th scope="col">Value to</th></tr></thead>
      <tbody>${synth}</tbody></table></div>
      <div class="grid-fields">${field({ path: 'events.seed', label: 'Random seed', value: ev.seed, kind: 'int', type: 'number', struct: true })}</div>
    </div>
    <div class="upload"${ev.source === 'upload' ? '' : ' hidden'}>
      <div class="dropzone" id="dropzone">
        <label for="event-file">Event file: NDJSON (one event per line), a JSON array${csv ? ', or CSV' : ''} — choose or drop it here</label>
        <input type="file" id="event-file" accept=".ndjson,.jsonl,.json,.csv,.txt,application/json,text/csv">
        <p class="hint">${csv ? 'CSV: a header row <code>transaction_id,external_subscription_id,code,timestamp,…</code> then one event per row.'
    : 'CSV (header <code>transaction_id,external_subscription_id,code,timestamp,&lt;properties&gt;</code>) needs an engine whose <code>ingestBulk</code> reads CSV; this build reads NDJSON and JSON.'}
        The file stays in this tab (a shared link does not carry it).</p>
      </div>
    </div>
    <div class="progress-row"><label for="ingest-progress">Ingestion</label>
      <progress id="ingest-progress" max="1" value="0"></progress>
      <span id="ingest-status" class="status" role="status" aria-live="polite"></span></div>
    <div id="subscription-ids" class="ids"></div>
    <div id="ingest-errors" class="err block" role="alert"></div>
  </div>`;
}
