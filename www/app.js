// The pricing simulator: "what would this customer pay on this plan, and why?", answered in the
// browser by the usage-calc engine (WebAssembly); nothing leaves the page.
//
// One scenario object (lib/scenario.js) holds everything and lives in the URL. Inputs are bound
// to scenario paths by data attributes; a value change re-prices synchronously (numbers mode:
// one `buildChargeUsage` per charge), a structural change re-renders the panel it affects, and
// events mode runs the engine's usage store asynchronously (lib/events.js).
import { version } from '../pkg/index.js';
import { renderBuilder, renderImportExport } from './lib/builder.js';
import { cumulativeChart } from './lib/charts.js';
import { Simulation, SyntheticSource, SYNTHETIC_MAX_EVENTS, UploadSource, engineReadsCsv, iso, nowOfDay, periodFor } from './lib/events.js';
import { esc, errIdOf } from './lib/html.js';
import { startPortal, portalParams } from './lib/portal.js';
import { describeCode, priceNumbers, validatePlan } from './lib/pricing.js';
import {
  comparisonFromNumbers, comparisonFromUsage, curvePosition, renderComparison, renderEventsResults,
  renderNumbersResults, tierChartItems,
} from './lib/render.js';
import { patchChildren } from './lib/patch.js';
import {
  MAX_PLANS, charge, decodeScenario, defaultProperties, defaultScenario, encodeScenario, exportLagoPlan,
  importLagoPlan, normalizeScenario, parseFilterValues,
} from './lib/scenario.js';
import { renderUsage, usedMetrics } from './lib/usage.js';

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

let scenario = null;
let errors = new Map();
let csv = false;
let upload = null;
const sim = new Simulation();
let lastReprice = { ms: 0, at: 0 };

// ---------------------------------------------------------------------------------------------
// Scenario paths
// ---------------------------------------------------------------------------------------------

const segments = (path) => String(path).split('.').filter((s) => s !== '').map(decodeURIComponent);

function getPath(path, root = scenario) {
  let node = root;
  for (const key of segments(path)) {
    if (node === null || node === undefined) return undefined;
    node = node[key];
  }
  return node;
}

function setPath(path, value, root = scenario) {
  const keys = segments(path);
  let node = root;
  keys.slice(0, -1).forEach((key, i) => {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = /^\d+$/.test(keys[i + 1]) ? [] : {};
    node = node[key];
  });
  node[keys[keys.length - 1]] = value;
}

/** The value of an input as the scenario stores it (see lib/html.js `field`). */
function readInput(el) {
  const kind = el.dataset.kind || 'str';
  const raw = el.type === 'checkbox' ? el.checked : el.value;
  const text = typeof raw === 'string' ? raw.trim() : raw;
  switch (kind) {
    case 'bool': return !!raw;
    case 'nullstr': return text === '' ? null : raw;
    case 'dec': return text;
    case 'optdec': return text === '' ? null : text;
    case 'int': return /^-?\d+$/.test(text) ? Number(text) : text;
    case 'optint': return text === '' ? null : /^-?\d+$/.test(text) ? Number(text) : text;
    case 'keys': return text.split(',').map((k) => k.trim()).filter(Boolean);
    case 'filtervals': return parseFilterValues(text);
    case 'metricfilters': return Object.entries(parseFilterValues(text)).map(([key, values]) => ({ key, values }));
    case 'json': try { return JSON.parse(text || '{}'); } catch { return undefined; }
    default: return raw;
  }
}

const activePlan = () => scenario.plans[scenario.active];

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** Something that identifies an element across a re-render (id, or action + path). */
function focusKey(el) {
  if (!el || el === document.body) return null;
  if (el.id) return { id: el.id, start: el.selectionStart ?? null, end: el.selectionEnd ?? null };
  if (el.dataset?.action) return { action: el.dataset.action, path: el.dataset.path ?? '' };
  return null;
}
function restoreFocus(key) {
  if (!key) return;
  const el = key.id ? document.getElementById(key.id)
    : $$(`[data-action="${key.action}"]`).find((b) => (b.dataset.path ?? '') === key.path);
  if (!el) return;
  el.focus({ preventScroll: true });
  if (key.start !== null && key.start !== undefined && typeof el.setSelectionRange === 'function') {
    try { el.setSelectionRange(key.start, key.end); } catch { /* not a text input */ }
  }
}

function withFocus(fn) {
  const key = focusKey(document.activeElement);
  fn();
  restoreFocus(key);
}

function renderBuilderPanel() {
  const open = new Set($$('#builder details[open]').map((d) => d.id));
  $('#builder').innerHTML = renderBuilder(scenario);
  for (const id of open) document.getElementById(id)?.setAttribute('open', '');
  applyErrors();
}

let usageSignature = '';
function usageShape() {
  return JSON.stringify([scenario.mode, scenario.events.source, csv, usedMetrics(scenario).map((e) => [e.metric.code, e.metric.name,
    e.metric.aggregation_type, [...e.filters.keys()], e.events, [...e.groups], e.dynamic]), scenario.metrics.map((m) => [m.code, m.name, m.aggregation_type])]);
}

function renderUsagePanel(force = false) {
  const shape = usageShape();
  if (!force && shape === usageSignature) return;
  usageSignature = shape;
  $('#usage').innerHTML = renderUsage(scenario, { csv });
  if (scenario.mode === 'events') {
    updateNowControl();
    renderUploadSummary();
  }
}

/** Re-renders after a structural edit, once the focus has moved (Tab), keeping it. */
let structuralTimer = null;
function structuralChange({ builder = true } = {}) {
  clearTimeout(structuralTimer);
  structuralTimer = setTimeout(() => withFocus(() => {
    if (builder) renderBuilderPanel();
    renderUsagePanel();
    renderComparePicker();
  }), 0);
}

function applyErrors() {
  const p = `plans.${scenario.active}`;
  const shown = new Set();
  for (const slot of $$('[data-err-for]')) {
    const path = slot.dataset.errFor;
    const messages = errors.get(path);
    slot.textContent = messages ? messages.flatMap((m) => m.split(', ')).map(describeCode).join('; ') : '';
    if (messages) shown.add(path);
  }
  for (const input of $$('[data-bind]')) {
    const bad = errors.has(input.dataset.bind);
    if (bad) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }
  // Errors without a field of their own are listed at the plan level.
  const orphans = [...errors].filter(([path]) => !shown.has(path) && path.startsWith(p)).map(([path, m]) => `${path.slice(p.length + 1)}: ${m.join(', ')}`);
  const planSlot = document.getElementById(errIdOf(`${p}.plan`));
  if (planSlot) planSlot.textContent = [errors.get(`${p}.plan`)?.join('; '), ...orphans].filter(Boolean).join(' · ');
  const count = [...errors.keys()].filter((k) => k.startsWith(p)).length;
  $('#plan-status').textContent = count ? `${count} field${count > 1 ? 's' : ''} need attention (the engine's validation)` : 'Valid plan (checked by the engine)';
  $('#plan-status').className = count ? 'status bad' : 'status good';
}

function validate() {
  errors = validatePlan(scenario, scenario.active);
  for (const [path, message] of jsonErrors) errors.set(path, [message]);
  applyErrors();
}
const jsonErrors = new Map();

// ---------------------------------------------------------------------------------------------
// Pricing and results
// ---------------------------------------------------------------------------------------------

/** Re-prices and redraws the results (synchronous in numbers mode: the one-frame path). */
function update() {
  const t0 = performance.now();
  if (scenario.mode === 'numbers') {
    const plan = activePlan();
    const priced = priceNumbers(scenario, plan);
    const t1 = performance.now();
    showResults(renderNumbersResults(scenario, priced));
    const t2 = performance.now();
    showTierCharts(tierChartItems(scenario, plan, priced.lines.map((l) => (l.usage ? curvePosition(l.usage, l.charge) : null))));
    const t3 = performance.now();
    setHtml($('#cumulative'), '<p class="muted">The cost over the period needs a timeline: switch the usage to <strong>Events</strong> (a synthetic month or a file).</p>');
    renderComparisonNumbers(priced);
    const ms = performance.now() - t0;
    lastReprice = { ms, at: Date.now(), pricing: t1 - t0, results: t2 - t1, charts: t3 - t2, compare: performance.now() - t3 };
    document.body.dataset.repriceMs = ms.toFixed(2);
    $('#reprice').textContent = `Re-priced ${plan.charges.length} charge${plan.charges.length === 1 ? '' : 's'} in ${ms.toFixed(1)} ms`;
  } else {
    renderEventsView();
    runSim();
  }
  scheduleUrl();
}

function renderComparisonNumbers(activePriced) {
  const indexes = comparedIndexes();
  if (indexes.length < 2) { setHtml($('#compare-body'), compareHint()); return; }
  const entries = indexes.map((i) => comparisonFromNumbers(scenario, i === scenario.active ? activePriced : priceNumbers(scenario, scenario.plans[i])));
  setHtml($('#compare-body'), renderComparison(scenario, entries));
}

/** innerHTML, skipped when unchanged (no re-layout for nothing). */
function setHtml(el, html) {
  if (el._html === html) return;
  el._html = html;
  el.innerHTML = html;
}

/** The results view (lib/render.js `view`): totals, then one keyed <tbody> per charge. */
let explainers = new Map();
function showResults(v) {
  const body = $('#results-body');
  if (body.dataset.skeleton !== v.skeleton) {
    body.innerHTML = `<div id="totals-slot"></div><div class="table-scroll"><table class="lines">${v.skeleton}</table></div>`;
    body.dataset.skeleton = v.skeleton;
    body._html = null;
  }
  explainers = v.explain;
  setHtml($('#totals-slot'), v.totals);
  patchChildren($('#results-body table.lines'), v.rows, { tag: 'tbody', onOpen: fillExplanation });
  for (const d of $$('#results-body details[data-explain][open]')) fillExplanation(d);
}

function fillExplanation(details) {
  const explain = explainers.get(details.dataset.explain);
  const html = explain ? explain() : '';
  const box = details.querySelector('.explain-body');
  if (box && box._html !== html) { box._html = html; box.innerHTML = html; }
}

function showTierCharts(items) {
  const box = $('#tier-charts');
  patchChildren(box, items, { tag: 'div', attrs: 'class="tier-item"' });
  let empty = box.querySelector('.empty');
  if (!items.length && !empty) box.insertAdjacentHTML('afterbegin', '<p class="muted empty">No tiered charge (graduated, volume, package, graduated percentage) in this plan.</p>');
  else if (items.length && empty) empty.remove();
}

const comparedIndexes = () => scenario.compare.filter((i) => i < scenario.plans.length).slice(0, MAX_PLANS);
const compareHint = () => (scenario.plans.length < 2
  ? '<p class="muted">One plan only: add one (＋ New plan, Duplicate, or Import) to compare.</p>'
  : '<p class="muted">Tick two or three plans above.</p>');

function renderComparePicker() {
  $('#compare-picker').innerHTML = scenario.plans.map((p, i) => `<span class="check-inline"><input type="checkbox" id="compare-${i}" data-compare="${i}"${scenario.compare.includes(i) ? ' checked' : ''}>`
    + `<label for="compare-${i}">${esc(p.name || p.code || `Plan ${i + 1}`)}</label></span>`).join('');
}

// ---------------------------------------------------------------------------------------------
// Events mode
// ---------------------------------------------------------------------------------------------

let simView = null; // {usage, comparison, period, nowTs, stale}
let uploadStarted = null;
let simRunning = false;
let simAgain = false;
let rebuildTimer = null;

function eventsContext() {
  const plan = activePlan();
  const period = periodFor(plan, scenario.events.start);
  return { plan, period, nowTs: nowOfDay(period, scenario.events.now_day) };
}

const dataKey = () => JSON.stringify([scenario.metrics, scenario.events.start, scenario.events.subscription, scenario.events.seed,
  scenario.events.source === 'upload' ? `upload:${upload?.name}:${upload?.bytes}:${upload?.stamp}` : scenario.events.synthetic, activePlan().interval]);
const priceKey = () => JSON.stringify([scenario.plans, scenario.taxes, scenario.active]);

/** Runs the event simulation until it matches the scenario (one run at a time). */
async function runSim() {
  if (simRunning) {
    simAgain = true;
    // Other events (a new file, period, subscription, generator): stop feeding the old ones now.
    if (sim.dataKey !== undefined && dataKey() !== sim.dataKey) sim.generation++;
    return;
  }
  simRunning = true;
  try {
    do {
      simAgain = false;
      await simStep();
    } while (simAgain && scenario.mode === 'events');
  } finally {
    simRunning = false;
  }
}

async function simStep() {
  if (scenario.mode !== 'events') return;
  const status = $('#ingest-status');
  const progress = $('#ingest-progress');
  const errorsBox = $('#ingest-errors');
  let ctx;
  try { ctx = eventsContext(); } catch (e) { showSimError(`period: ${e.message}`); return; }
  const { period, nowTs } = ctx;
  updateNowControl(period);
  const source = scenario.events.source === 'upload' ? upload : new SyntheticSource(scenario, period);
  if (!source) { showSimError('Choose or drop an event file (or switch to the synthetic month).', true); return; }
  if (source.kind === 'synthetic' && source.total() > SYNTHETIC_MAX_EVENTS) {
    showSimError(`The synthetic month would hold ${source.total().toLocaleString()} events: keep it under ${SYNTHETIC_MAX_EVENTS.toLocaleString()}.`);
    return;
  }
  const key = dataKey(), prices = priceKey();
  let rebuild = sim.dirty || key !== sim.dataKey || !sim.engine || nowTs < sim.ingestedTs;
  try {
    if (!rebuild && prices !== sim.priceKey) {
      try {
        sim.updatePlans(scenario); // the engine re-prices its events at once; the timeline follows
      } catch (e) {
        // An invalid plan leaves the engine and its events as they were: say why, keep them.
        sim.priceKey = null;
        showSimError(`The plan cannot be priced: ${e.message}`);
        return;
      }
      sim.priceKey = prices;
      simView = { usage: sim.usage(), comparison: compareEvents(), period: sim.period, nowTs: sim.ingestedTs, stale: true };
      renderEventsView();
      clearTimeout(rebuildTimer);
      rebuildTimer = setTimeout(() => { sim.dirty = true; runSim(); }, 600);
      return;
    }
    const t0 = performance.now();
    if (rebuild) {
      clearTimeout(rebuildTimer);
      sim.reset(scenario, period, source);
      sim.dataKey = key;
      sim.priceKey = prices;
      sim.dirty = false;
    }
    const before = sim.eventsIngested;
    errorsBox.textContent = '';
    progress.removeAttribute('data-state');
    progress.removeAttribute('data-source');
    progress.value = 0;
    status.textContent = 'Ingesting…';
    const ok = await sim.advanceTo(nowTs, (fraction, count) => {
      progress.value = fraction;
      status.textContent = `Ingesting… ${count.toLocaleString()} events`;
    });
    if (!ok) { sim.dirty = true; simAgain = true; return; }
    const ms = performance.now() - t0;
    progress.value = 1;
    progress.dataset.state = 'done';
    progress.dataset.source = source.kind === 'synthetic' ? 'synthetic' : source.name;
    const added = sim.eventsIngested - before;
    document.body.dataset.eventsIngested = String(sim.eventsIngested);
    status.textContent = `${sim.eventsIngested.toLocaleString()} events up to now (${added.toLocaleString()} ingested in ${(ms / 1000).toFixed(2)} s`
      + `${added > 1000 ? `, ${Math.round(added / (ms / 1000)).toLocaleString()} events/s` : ''})`
      + `${sim.duplicatesSkipped ? `; ${sim.duplicatesSkipped.toLocaleString()} repeated events skipped (same subscription and transaction_id)` : ''}.`;
    simView = { usage: sim.usage(), comparison: compareEvents(), period, nowTs: sim.ingestedTs, stale: false };
    renderEventsView();
    if (source.kind !== 'synthetic' && uploadStarted !== null) {
      // From the file chosen to its usage on screen: read, index, ingest, query, draw.
      document.body.dataset.uploadMs = String(Math.round(performance.now() - uploadStarted));
      uploadStarted = null;
    }
  } catch (e) {
    sim.dirty = true;
    progress.dataset.state = 'error';
    const details = sim.errors.at(-1);
    errorsBox.innerHTML = `${esc(e.message)}${details?.lines ? `<ul>${details.lines.map((l) => `<li><code>${esc(l.line)}</code> → ${esc(l.errors)}</li>`).join('')}</ul>` : ''}`;
    status.textContent = 'Stopped: see the error below.';
    simView = null;
    renderEventsView();
  }
}

function compareEvents() {
  const indexes = comparedIndexes();
  if (indexes.length < 2) return null;
  return sim.comparePlans(indexes.map((i) => scenario.plans[i])).map((entry) => comparisonFromUsage(scenario, entry));
}

function showSimError(message, quiet = false) {
  const box = $('#ingest-errors');
  if (box) box.textContent = quiet ? '' : message;
  const status = $('#ingest-status');
  if (status) status.textContent = quiet ? message : '';
  simView = null;
  renderEventsView(message);
}

function renderEventsView(message = '') {
  const plan = activePlan();
  if (!simView?.usage) {
    const body = $('#results-body');
    body.dataset.skeleton = '';
    setHtml(body, `<p class="muted">${esc(message || 'Waiting for the events…')}</p>`);
    setHtml($('#cumulative'), '');
    showTierCharts([]);
    setHtml($('#compare-body'), comparedIndexes().length < 2 ? compareHint() : '');
    $('#reprice').textContent = '';
    return;
  }
  const { usage } = simView;
  const period = simView.period;
  const nowLabel = new Date(usage.t * 1000).toLocaleString(undefined, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }) + ' UTC';
  const v = renderEventsResults(scenario, plan, usage, nowLabel);
  showResults(v);
  $('#results-body').dataset.now = iso(usage.t);
  showTierCharts(tierChartItems(scenario, plan, v.positions));
  setHtml($('#cumulative'), `<figure><figcaption>Usage amount over the period: actual up to now, projected to the end${simView.stale ? ' <span class="muted">(timeline updating…)</span>' : ''}</figcaption>`
    + cumulativeChart({
      period, points: sim.snapshots, nowTs: usage.t, currentCents: usage.current.amount_cents,
      projectedCents: usage.projected ? usage.projected.projected_amount_cents : null, currency: usage.current.currency,
    }) + '</figure>');
  setHtml($('#compare-body'), simView.comparison ? renderComparison(scenario, simView.comparison, { projected: true }) : compareHint());
  $('#reprice').textContent = `Engine usage over ${sim.eventsIngested.toLocaleString()} events`;
}

function updateNowControl(period) {
  const slider = $('#now-day');
  if (!slider) return;
  try { period ??= eventsContext().period; } catch { return; }
  slider.max = String(period.days);
  const day = Math.min(Math.max(1, Number(scenario.events.now_day) || 1), period.days);
  slider.value = String(day);
  const t = nowOfDay(period, day);
  const label = `day ${day} of ${period.days} — ${new Date(t * 1000).toLocaleString(undefined, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' })} UTC`;
  $('#now-label').textContent = label;
  slider.setAttribute('aria-valuetext', label);
}

function renderUploadSummary() {
  const box = $('#subscription-ids');
  if (!box) return;
  if (!upload || scenario.events.source !== 'upload') { box.innerHTML = ''; return; }
  const ours = scenario.events.subscription;
  let outside = '';
  try {
    const { period, nowTs } = eventsContext();
    if (upload.kind !== 'json-array') {
      const before = upload.countBetween(-Infinity, period.from - 1);
      const after = upload.countBetween(nowTs, Infinity);
      outside = `${before ? `${before.toLocaleString()} before this period` : ''}${before && after ? ', ' : ''}${after ? `${after.toLocaleString()} after now` : ''}`;
    }
  } catch { /* period errors are shown elsewhere */ }
  const ids = upload.topSubscriptions().slice(0, 6).map(([id, n]) => `<li>${id === null ? '<em>no external_subscription_id</em>' : `<code>${esc(id)}</code>`}: ${n.toLocaleString()} events `
    + `${id === ours ? '<strong>(counted: the simulated subscription)</strong>' : id === null ? '(stored, never counted)'
      : `(stored, not counted) <button type="button" class="btn small" data-action="use-subscription" data-path="${esc(id)}">Simulate subscription “${esc(id)}”</button>`}</li>`).join('');
  box.innerHTML = `<p><strong>${esc(upload.name)}</strong> (${upload.kind}${upload.count !== null ? `, ${upload.count.toLocaleString()} lines` : ''}).
    ${upload.kind === 'json-array' ? 'A JSON array is ingested in one piece, all its events at once (set "Period containing" to their period): the timeline and "now" need NDJSON or CSV (one event per line).' : ''}
    ${outside ? `Not ingested: ${esc(outside)}.` : ''}</p><ul>${ids}</ul>`;
}

async function handleFile(file) {
  const status = $('#ingest-status');
  const progress = $('#ingest-progress');
  const box = $('#ingest-errors');
  box.textContent = '';
  progress.removeAttribute('data-state');
  progress.value = 0;
  status.textContent = `Reading ${file.name}…`;
  try {
    uploadStarted = performance.now();
    const source = await UploadSource.read(file, (f) => { progress.value = f * 0.1; status.textContent = `Indexing ${file.name}… ${Math.round(f * 100)} %`; });
    if (source.kind === 'csv' && !csv) {
      throw new Error('This engine build does not read CSV yet (ingestBulk takes NDJSON or a JSON array); convert the file to NDJSON, one event per line.');
    }
    source.stamp = Date.now();
    upload = source;
    scenario.events.source = 'upload';
    if (source.maxTs !== null) {
      // Simulate the period of the latest event, up to the day of that event.
      const latest = new Date(source.maxTs * 1000);
      scenario.events.start = latest.toISOString().slice(0, 10);
      const period = periodFor(activePlan(), scenario.events.start);
      scenario.events.now_day = Math.min(period.days, Math.floor((source.maxTs - period.from) / 86400) + 1);
      status.textContent = `Period set to the latest event's; now = the day of that event.`;
    }
    usageSignature = '';
    renderUsagePanel(true);
    update();
  } catch (e) {
    progress.dataset.state = 'error';
    box.textContent = e.message;
    status.textContent = 'Not ingested.';
  }
}

// ---------------------------------------------------------------------------------------------
// Input handling
// ---------------------------------------------------------------------------------------------

function onInput(event) {
  const el = event.target;
  if (el.dataset.sliderFor) {
    const input = document.getElementById(el.dataset.sliderFor);
    input.value = el.value;
    setPath(input.dataset.bind, String(el.value));
    update();
    return;
  }
  if (el.id === 'now-day') {
    scenario.events.now_day = Number(el.value);
    updateNowControl();
    return; // ingestion follows on `change`
  }
  if (el.dataset.bindSet !== undefined || !el.dataset.bind || el.tagName === 'SELECT') return; // selects: on change
  bindValue(el);
  if (el.dataset.slider) {
    const slider = document.getElementById(el.dataset.slider);
    const v = Number(el.value);
    if (slider && Number.isFinite(v)) {
      if (v > Number(slider.max)) slider.max = String(v);
      slider.value = String(v);
    }
  }
  const path = el.dataset.bind;
  if (path.startsWith('plans.') || path.startsWith('metrics.') || path.startsWith('taxes.')) {
    validate();
    if (/\.(name|code)$/.test(path) && path.split('.').length === 3) refreshPlanLabels();
  }
  if (path.startsWith('events.') && scenario.mode === 'events') {
    if (el.dataset.struct) return; // applied on change
    clearTimeout(rebuildTimer);
    rebuildTimer = setTimeout(update, 400);
    return;
  }
  update();
}

function bindValue(el) {
  const path = el.dataset.bind;
  const value = readInput(el);
  if (/\.filters\.\d+\.own$/.test(path)) {
    const filterPath = path.replace(/\.own$/, '');
    const chargePath = filterPath.replace(/\.filters\.\d+$/, '');
    const c = getPath(chargePath);
    const props = structuredClone(c.properties);
    delete props.pricing_group_keys;
    getPath(filterPath).properties = value ? props : null;
    return;
  }
  if (el.dataset.kind === 'json') {
    if (value === undefined) jsonErrors.set(path, 'not valid JSON'); else { jsonErrors.delete(path); setPath(path, value); }
    return;
  }
  if (el.dataset.kind === 'keys' && !value.length) {
    const parent = getPath(path.replace(/\.[^.]+$/, ''));
    delete parent.pricing_group_keys;
    return;
  }
  // Editing a tier's "to" moves the next tier's "from" along (adjacent or +1, as it was).
  const tierTo = /^(.*\.(?:graduated_ranges|volume_ranges|graduated_percentage_ranges))\.(\d+)\.to_value$/.exec(path);
  if (tierTo) {
    const ranges = getPath(tierTo[1]);
    const i = Number(tierTo[2]);
    const old = ranges[i].to_value;
    const next = ranges[i + 1];
    if (next && typeof value === 'number' && typeof old === 'number') {
      if (next.from_value === old) next.from_value = value;
      else if (next.from_value === old + 1) next.from_value = value + 1;
      const nextInput = document.querySelector(`[data-bind="${tierTo[1]}.${i + 1}.from_value"]`);
      if (nextInput) nextInput.value = String(next.from_value);
    }
  }
  setPath(path, value);
}

function refreshPlanLabels() {
  $$('.plan-tabs .tab').forEach((tab, i) => { tab.textContent = scenario.plans[i].name || scenario.plans[i].code || `Plan ${i + 1}`; });
  renderComparePicker();
}

function onChange(event) {
  const el = event.target;
  if (el.dataset.actionChange === 'mode') {
    scenario.mode = el.value;
    usageSignature = '';
    withFocus(() => renderUsagePanel(true));
    update();
    return;
  }
  if (el.dataset.actionChange === 'source') {
    scenario.events.source = el.value;
    usageSignature = '';
    withFocus(() => renderUsagePanel(true));
    update();
    return;
  }
  if (el.id === 'event-file') {
    if (el.files?.[0]) handleFile(el.files[0]);
    return;
  }
  if (el.dataset.compare !== undefined) {
    const i = Number(el.dataset.compare);
    scenario.compare = el.checked ? [...new Set([...scenario.compare, i])].sort() : scenario.compare.filter((x) => x !== i);
    if (scenario.compare.length > MAX_PLANS) scenario.compare = scenario.compare.slice(-MAX_PLANS);
    update();
    return;
  }
  if (el.dataset.bindSet !== undefined) {
    const list = getPath(el.dataset.bindSet) || [];
    setPath(el.dataset.bindSet, el.checked ? [...new Set([...list, el.value])] : list.filter((x) => x !== el.value));
    validate();
    update();
    return;
  }
  if (el.id === 'now-day') {
    scenario.events.now_day = Number(el.value);
    update();
    return;
  }
  if (!el.dataset.bind || !el.dataset.struct) return;
  const path = el.dataset.bind;
  const before = getPath(path);
  bindValue(el);
  const metricOfCharge = /^(plans\.(\d+)\.charges\.\d+)\.billable_metric_code$/.exec(path);
  if (metricOfCharge) {
    // A charge code derived from the old metric follows the new one (codes stay unique).
    const c = getPath(metricOfCharge[1]);
    const escaped = String(before).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (!c.code || new RegExp(`^${escaped}(_\\d+)?$`).test(c.code)) {
      const taken = new Set(scenario.plans[Number(metricOfCharge[2])].charges.filter((x) => x !== c).map((x) => x.code || x.billable_metric_code));
      c.code = uniqueCode(c.billable_metric_code, taken);
    }
  }
  const model = /^(plans\.\d+\.charges\.\d+)\.charge_model$/.exec(path);
  if (model) {
    const c = getPath(model[1]);
    const keys = c.properties.pricing_group_keys;
    c.properties = { ...defaultProperties(c.charge_model), ...(keys ? { pricing_group_keys: keys } : {}) };
    c.filters.forEach((f) => { if (f.properties) f.properties = defaultProperties(c.charge_model); });
  }
  if (path.startsWith('metrics.') && path.endsWith('.code')) renameMetric(event);
  if (path.startsWith('plans.') || path.startsWith('metrics.') || path.startsWith('taxes.')) validate();
  structuralChange({ builder: !path.startsWith('events.') && !path.startsWith('numbers.') });
  update();
}

/** A renamed metric keeps its charges and numbers (they refer to it by code). */
function renameMetric(event) {
  const old = event.target.defaultValue;
  const code = event.target.value.trim();
  if (!old || old === code) return;
  for (const plan of scenario.plans) for (const c of plan.charges) if (c.billable_metric_code === old) c.billable_metric_code = code;
  for (const k of ['units', 'events', 'filters', 'groups', 'dynamic']) {
    if (old in scenario.numbers[k]) { scenario.numbers[k][code] = scenario.numbers[k][old]; delete scenario.numbers[k][old]; }
  }
  if (old in scenario.events.synthetic) { scenario.events.synthetic[code] = scenario.events.synthetic[old]; delete scenario.events.synthetic[old]; }
  event.target.defaultValue = code;
}

function uniqueCode(base, taken) {
  let code = base;
  for (let n = 2; taken.has(code); n++) code = `${base}_${n}`;
  return code;
}

const actions = {
  'select-plan': (path) => { scenario.active = Number(path); },
  'add-plan': () => {
    const code = uniqueCode('plan', new Set(scenario.plans.map((p) => p.code)));
    scenario.plans.push({ code, name: `Plan ${scenario.plans.length + 1}`, interval: 'monthly', amount_currency: activePlan().amount_currency,
      amount_cents: 0, pay_in_advance: false, tax_codes: [...activePlan().tax_codes], charges: [] });
    scenario.active = scenario.plans.length - 1;
    scenario.compare = [...new Set([...scenario.compare, scenario.active])].slice(-MAX_PLANS);
  },
  'duplicate-plan': (path) => {
    const copy = structuredClone(scenario.plans[Number(path)]);
    copy.code = uniqueCode(`${copy.code}_copy`, new Set(scenario.plans.map((p) => p.code)));
    copy.name = `${copy.name} (copy)`;
    scenario.plans.push(copy);
    scenario.active = scenario.plans.length - 1;
    scenario.compare = [...new Set([...scenario.compare, scenario.active])].slice(-MAX_PLANS);
  },
  'remove-plan': (path) => {
    const i = Number(path);
    scenario.plans.splice(i, 1);
    scenario.compare = scenario.compare.filter((x) => x !== i).map((x) => (x > i ? x - 1 : x));
    scenario.active = Math.min(scenario.active, scenario.plans.length - 1);
  },
  'add-charge': (path) => {
    const plan = getPath(path);
    const metric = scenario.metrics[0]?.code ?? '';
    const code = uniqueCode(metric || 'charge', new Set(plan.charges.map((c) => c.code || c.billable_metric_code)));
    plan.charges.push(charge(code, metric, 'standard', defaultProperties('standard')));
  },
  'remove-charge': (path) => removeAt(path),
  'add-filter': (path) => {
    const c = getPath(path);
    const m = scenario.metrics.find((x) => x.code === c.billable_metric_code);
    const first = m?.filters?.[0];
    c.filters.push({ values: first ? { [first.key]: [first.values[0]].filter(Boolean) } : {}, properties: null, invoice_display_name: null });
  },
  'remove-filter': (path) => removeAt(path),
  'add-tier': (path) => {
    const ranges = getPath(path);
    const last = ranges[ranges.length - 1];
    const pct = /graduated_percentage_ranges$/.test(path);
    if (last && last.to_value === null) last.to_value = Math.max(Number(last.from_value) * 2, Number(last.from_value) + 100);
    const from = last ? last.to_value : 0;
    ranges.push(pct ? { from_value: from, to_value: null, rate: last?.rate ?? '0', flat_amount: '0' }
      : { from_value: from, to_value: null, per_unit_amount: last?.per_unit_amount ?? '0', flat_amount: '0' });
  },
  'remove-tier': (path) => {
    removeAt(path);
    const ranges = getPath(path.replace(/\.\d+$/, ''));
    if (ranges.length) ranges[ranges.length - 1].to_value = null;
  },
  'add-metric': () => {
    const code = uniqueCode('metric', new Set(scenario.metrics.map((m) => m.code)));
    scenario.metrics.push({ code, name: code, aggregation_type: 'sum_agg', field_name: 'value', filters: [] });
    scenario.events.synthetic[code] = { per_day: 100, trend: '0', min: 1, max: 10 };
    $('#catalogue')?.setAttribute('open', '');
  },
  'remove-metric': (path) => removeAt(path),
  'add-tax': () => { scenario.taxes.push({ code: uniqueCode('tax', new Set(scenario.taxes.map((t) => t.code))), name: null, rate: '10' }); },
  'remove-tax': (path) => removeAt(path),
  'use-subscription': (path) => { scenario.events.subscription = path; usageSignature = ''; },
  'import-new': () => importPlan(false),
  'import-replace': () => importPlan(true),
  export: () => {
    $('#lago-json').value = JSON.stringify(exportLagoPlan(activePlan(), scenario), null, 2);
    $('#lago-json-status').textContent = `Exported "${activePlan().code}" as a Lago plan body (import reads it back).`;
    return false;
  },
  download: () => {
    const text = JSON.stringify(exportLagoPlan(activePlan(), scenario), null, 2);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    a.download = `${activePlan().code || 'plan'}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    return false;
  },
  'copy-link': async () => {
    await writeUrl();
    const status = $('#share-status');
    try { await navigator.clipboard.writeText(location.href); status.textContent = 'Link copied.'; } catch { status.textContent = 'Copy the address bar: it holds the scenario.'; }
    return false;
  },
  reset: () => {
    scenario = defaultScenario();
    upload = null;
    return true;
  },
};

function removeAt(path) {
  const list = getPath(path.replace(/\.\d+$/, ''));
  list.splice(Number(path.split('.').pop()), 1);
}

function importPlan(replace) {
  const status = $('#lago-json-status');
  try {
    const { plan, taxes, newMetrics, notes } = importLagoPlan($('#lago-json').value, scenario);
    scenario.taxes.push(...taxes);
    scenario.metrics.push(...newMetrics);
    for (const m of newMetrics) scenario.events.synthetic[m.code] ??= { per_day: 100, trend: '0', min: 1, max: 10 };
    const others = new Set(scenario.plans.filter((_, i) => !replace || i !== scenario.active).map((p) => p.code));
    if (others.has(plan.code)) {
      const code = uniqueCode(plan.code, others);
      notes.push(`plan code "${plan.code}" is taken: imported as "${code}"`);
      plan.code = code;
    }
    if (replace) {
      scenario.plans[scenario.active] = plan;
    } else {
      if (scenario.plans.length >= MAX_PLANS) throw new Error(`${MAX_PLANS} plans at most: remove one or import into this plan`);
      scenario.plans.push(plan);
      scenario.active = scenario.plans.length - 1;
      scenario.compare = [...new Set([...scenario.compare, scenario.active])].slice(-MAX_PLANS);
    }
    for (const m of usedMetrics(scenario)) scenario.numbers.units[m.metric.code] ??= '0';
    status.textContent = `Imported "${plan.code}" (${plan.charges.length} charges).${notes.length ? ` ${notes.join('. ')}.` : ''}`;
    return true;
  } catch (e) {
    status.textContent = `Not imported: ${e.message}`;
    return false;
  }
}

async function onClick(event) {
  const button = event.target.closest('[data-action]');
  if (!button || button.tagName === 'INPUT') return;
  const action = actions[button.dataset.action];
  if (!action) return;
  const result = await action(button.dataset.path ?? '');
  if (result === false) return;
  validate();
  withFocus(() => {
    renderBuilderPanel();
    usageSignature = '';
    renderUsagePanel(true);
    renderComparePicker();
  });
  if (!document.activeElement || document.activeElement === document.body) $('#builder-heading').focus({ preventScroll: true });
  update();
}

function bindDropzone() {
  document.addEventListener('dragover', (e) => {
    if (!e.target.closest?.('#dropzone')) return;
    e.preventDefault();
    e.target.closest('#dropzone').classList.add('over');
  });
  document.addEventListener('dragleave', (e) => e.target.closest?.('#dropzone')?.classList.remove('over'));
  document.addEventListener('drop', (e) => {
    const zone = e.target.closest?.('#dropzone');
    if (!zone) return;
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer?.files?.[0];
    if (file) handleFile(file);
  });
}

// ---------------------------------------------------------------------------------------------
// URL
// ---------------------------------------------------------------------------------------------

let urlTimer = null;
function scheduleUrl() {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(writeUrl, 250);
}
async function writeUrl() {
  clearTimeout(urlTimer);
  const hash = await encodeScenario(scenario);
  history.replaceState(null, '', `${location.pathname}${location.search}#${hash}`);
  document.body.dataset.url = 'saved';
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

async function main() {
  $('#engine-version').textContent = `usage-calc ${version()}`;
  const portal = portalParams(location.search);
  if (portal) {
    document.body.classList.add('portal-mode');
    $('#simulator').hidden = true;
    $('#portal').hidden = false;
    startPortal($('#portal'), portal);
    document.body.dataset.ready = '1';
    return;
  }
  scenario = (await decodeScenario(location.hash)) ?? normalizeScenario(defaultScenario());
  csv = engineReadsCsv();
  validate();
  $('#import-slot').innerHTML = renderImportExport();
  renderBuilderPanel();
  renderUsagePanel(true);
  renderComparePicker();
  document.addEventListener('input', onInput);
  document.addEventListener('change', onChange);
  document.addEventListener('click', onClick);
  document.addEventListener('toggle', (e) => { if (e.target.matches?.('details[data-explain]') && e.target.open) fillExplanation(e.target); }, true);
  bindDropzone();
  window.addEventListener('hashchange', async () => {
    const next = await decodeScenario(location.hash);
    if (!next || JSON.stringify(next) === JSON.stringify(scenario)) return;
    scenario = next;
    validate();
    renderBuilderPanel();
    renderUsagePanel(true);
    renderComparePicker();
    update();
  });
  update();
  await writeUrl();
  document.body.dataset.ready = '1';
}

main().catch((e) => {
  document.body.dataset.ready = 'error';
  const box = document.getElementById('fatal');
  box.hidden = false;
  box.textContent = `The simulator could not start: ${e.message}`;
  throw e;
});

// For tests and the console: the live scenario and the last re-pricing time.
window.simulator = { get scenario() { return scenario; }, get lastReprice() { return lastReprice; } };
