// "Usage from events": an `Engine` holding the scenario's taxes, metrics and plans, one customer
// (`sim_customer`) and one subscription (`scenario.events.subscription`, default "sim") on the
// active plan, fed with events that have happened by "now" — a synthetic month or an uploaded
// file — and asked Lago's current and projected usage.
//
// The engine counts every stored event of the period (as Lago does: nothing real arrives from
// the future), so "now" is enforced by what is ingested: events are fed in time order up to
// now, slot by slot (a day, or a few days for long periods), and the current usage after each
// slot is the cumulative-cost picture. Moving now forward ingests more; moving it back rebuilds.
//
// Uploaded text is parsed by the engine (`ingestBulk`), in chunks of CHUNK_LINES lines with a
// yield to the event loop in between (progress bar). The page reads only two things per line to
// route it: the "timestamp" (to order and slot it) and the "external_subscription_id" (to tell
// the user which ids the file holds). Nothing is rewritten.
import { Engine, billingPeriod } from '../../pkg/index.js';
import { metricInput } from './pricing.js';
import { planInput, SIM_CUSTOMER } from './scenario.js';
import { mulberry32 } from './random.js';

export const CHUNK_LINES = 50_000;
export const SYNTHETIC_MAX_EVENTS = 2_000_000;
const SLOTS_MAX = 62;
const DAY = 86_400;

const TS_RE = /"timestamp"\s*:\s*"?(-?\d+(?:\.\d+)?)"?/;
const SUB_RE = /"external_subscription_id"\s*:\s*"((?:[^"\\]|\\.)*)"/;

export const iso = (seconds) => new Date(Math.floor(seconds) * 1000).toISOString().replace('.000Z', 'Z');
export const toSeconds = (text) => Date.parse(text) / 1000;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Does this engine build read CSV in `ingestBulk`? (The lead engineer is adding it.) */
let csvSupport = null;
export function engineReadsCsv() {
  if (csvSupport === null) {
    const probe = new Engine();
    try {
      csvSupport = probe.ingestBulk('transaction_id,external_subscription_id,code,timestamp\nprobe,probe,probe,1700000000\n', '2025-01-01T00:00:00Z') === 1;
    } catch {
      csvSupport = false;
    }
    probe.free();
  }
  return csvSupport;
}

/**
 * The whole calendar billing period that holds the day `start` (YYYY-MM-DD) for `plan` (asked
 * of the engine for a subscription that began long before): `{from, to, days, slotDays,
 * slotEnds}` in Unix seconds, cut in UTC (the simulated customer's timezone). The simulated
 * subscription starts at `from`.
 */
export function periodFor(plan, start) {
  const reference = Date.parse(`${start}T12:00:00Z`);
  if (Number.isNaN(reference)) throw new Error(`"${start}" is not a date`);
  const longBefore = new Date(reference - 800 * DAY * 1000).toISOString().slice(0, 10);
  const period = billingPeriod({
    mode: 'current_usage', reference_instant: `${start}T12:00:00Z`, plan: { interval: plan.interval },
    subscription: { billing_time: 'calendar', subscription_at: `${longBefore}T00:00:00Z` },
  });
  const from = toSeconds(period.charges_from_datetime);
  const to = toSeconds(period.charges_to_datetime);
  const days = Math.max(1, Math.round((to + 1 - from) / DAY));
  const slotDays = Math.ceil(days / SLOTS_MAX);
  const slotEnds = [];
  for (let d = slotDays; d < days + slotDays; d += slotDays) slotEnds.push(Math.min(from + d * DAY - 1, to));
  return { from, to, days, slotDays, slotEnds, durationDays: period.charges_duration_days };
}

/** The instant "now" of day `day` (1-based): the end of that day, inside the period. */
export function nowOfDay(period, day) {
  const d = Math.min(Math.max(1, Math.round(day)), period.days);
  return Math.min(period.from + d * DAY - 1, period.to);
}

// ---------------------------------------------------------------------------------------------
// Sources: where the events come from
// ---------------------------------------------------------------------------------------------

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * A synthetic month: per metric, `per_day` events on day 1 growing by `trend` % a day, each
 * with an integer value in [min, max] (a user id for unique counts), a random declared value
 * for each filter key and one of a/b/c for each pricing group key. Deterministic: the events of
 * a day depend only on (seed, metric, day), so any prefix of the period is generated alike.
 */
export class SyntheticSource {
  constructor(scenario, period) {
    this.kind = 'synthetic';
    this.period = period;
    this.seed = Number(scenario.events.seed) || 1;
    this.subscription = scenario.events.subscription;
    this.metrics = scenario.metrics.filter((m) => m.code).map((m) => {
      const p = scenario.events.synthetic[m.code] ?? {};
      const groupKeys = new Set();
      for (const plan of scenario.plans) {
        for (const c of plan.charges) {
          if (c.billable_metric_code === m.code) (c.properties.pricing_group_keys || []).forEach((k) => groupKeys.add(k));
        }
      }
      const min = Math.floor(Number(p.min ?? 1)) || 0;
      return {
        metric: m, perDay: Math.max(0, Number(p.per_day ?? 0) || 0), trend: Number(p.trend ?? 0) || 0,
        min, max: Math.max(min, Math.floor(Number(p.max ?? min)) || min), groupKeys: [...groupKeys],
      };
    });
    this.cache = new Map();
  }

  /** Events per day of metric `g` on day index `d` (0-based). */
  countOn(g, d) { return Math.max(0, Math.round(g.perDay * (1 + g.trend / 100) ** d)); }

  total() {
    let n = 0;
    for (const g of this.metrics) for (let d = 0; d < this.period.days; d++) n += this.countOn(g, d);
    return n;
  }

  /** `[{ts, line}]` of day `d`, in time order. */
  day(d) {
    if (this.cache.has(d)) return this.cache.get(d);
    const out = [];
    const dayStart = this.period.from + d * DAY;
    for (const g of this.metrics) {
      const rand = mulberry32(hash(`${this.seed}|${g.metric.code}|${d}`));
      const n = this.countOn(g, d);
      for (let i = 0; i < n; i++) {
        const ts = dayStart + Math.floor(rand() * DAY);
        const value = g.min + Math.floor(rand() * (g.max - g.min + 1));
        const properties = {};
        if (g.metric.field_name && g.metric.aggregation_type !== 'count_agg') {
          properties[g.metric.field_name] = g.metric.aggregation_type === 'unique_count_agg' ? `u${value}` : value;
        }
        for (const f of g.metric.filters || []) if (f.key && f.values.length) properties[f.key] = f.values[Math.floor(rand() * f.values.length)];
        for (const k of g.groupKeys) properties[k] = 'abc'[Math.floor(rand() * 3)];
        out.push({ ts, line: JSON.stringify({
          transaction_id: `${g.metric.code}-${d + 1}-${i}`, external_subscription_id: this.subscription,
          code: g.metric.code, timestamp: ts, properties,
        }) });
      }
    }
    out.sort((a, b) => a.ts - b.ts);
    if (this.cache.size > 8) this.cache.clear();
    this.cache.set(d, out);
    return out;
  }

  /** Lines with a timestamp in (t0, t1]. */
  linesBetween(t0, t1) {
    const lines = [];
    const first = Math.max(0, Math.floor((t0 + 1 - this.period.from) / DAY));
    const last = Math.min(this.period.days - 1, Math.floor((t1 - this.period.from) / DAY));
    for (let d = first; d <= last; d++) {
      for (const e of this.day(d)) if (e.ts > t0 && e.ts <= t1) lines.push(e.line);
    }
    return lines;
  }

  /** Events with a timestamp in (t0, t1]: whole days from the counts, partial days generated. */
  countBetween(t0, t1) {
    let n = 0;
    const first = Math.max(0, Math.floor((t0 + 1 - this.period.from) / DAY));
    const last = Math.min(this.period.days - 1, Math.floor((t1 - this.period.from) / DAY));
    for (let d = first; d <= last; d++) {
      const start = this.period.from + d * DAY;
      if (t0 < start && t1 >= start + DAY - 1) n += this.metrics.reduce((k, g) => k + this.countOn(g, d), 0);
      else n += this.day(d).filter((e) => e.ts > t0 && e.ts <= t1).length;
    }
    return n;
  }

  untimed() { return []; }
  chunkText(lines) { return lines.join('\n'); }
}

/**
 * An uploaded file, indexed: its lines (the file's own text) ordered by timestamp. NDJSON and
 * CSV are routed line by line; a JSON array is one piece the engine parses at once (no timeline).
 */
export class UploadSource {
  static async read(file, onProgress) {
    const text = await file.text();
    const source = new UploadSource();
    source.name = file.name;
    source.bytes = file.size;
    await source.index(text, onProgress);
    return source;
  }

  async index(text, onProgress = () => {}) {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is not an event
    const first = text.trimStart()[0];
    if (first === undefined) throw new Error('the file is empty');
    this.kind = first === '[' ? 'json-array' : first === '{' ? 'ndjson' : 'csv';
    this.subscriptions = new Map();
    if (this.kind === 'json-array') {
      this.whole = text;
      this.lines = [];
      this.count = null;
      this.order = new Uint32Array(0);
      this.times = new Float64Array(0);
      this.untimedIndexes = [];
      this.minTs = null;
      this.maxTs = null;
      return;
    }
    const lines = text.split('\n');
    let header = null;
    let tsCol = -1, subCol = -1;
    if (this.kind === 'csv') {
      header = lines.shift().replace(/\r$/, '');
      const cols = header.split(',').map((c) => c.trim());
      tsCol = cols.indexOf('timestamp');
      subCol = cols.indexOf('external_subscription_id');
    }
    const lastCol = Math.max(tsCol, subCol);
    this.header = header;
    const kept = [];
    const ts = new Float64Array(lines.length);
    let sorted = true, previous = -Infinity, n = 0;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (!line.trim()) continue;
      let t = NaN, sub = null;
      if (this.kind === 'ndjson') {
        const m = TS_RE.exec(line);
        if (m) t = Number(m[1]);
        const s = SUB_RE.exec(line);
        sub = s ? s[1] : null;
      } else {
        const cells = csvCells(line, lastCol);
        if (tsCol >= 0) t = cells[tsCol] === undefined || cells[tsCol].trim() === '' ? NaN : Number(cells[tsCol]);
        if (subCol >= 0) sub = cells[subCol]?.trim() || null;
      }
      kept.push(line);
      ts[n] = t;
      if (!Number.isNaN(t)) {
        if (t < previous) sorted = false;
        previous = t;
      }
      n++;
      this.subscriptions.set(sub, (this.subscriptions.get(sub) || 0) + 1);
      if ((i & 0x3ffff) === 0x3ffff) { onProgress(i / lines.length); await tick(); }
    }
    this.lines = kept;
    this.count = n;
    const times = ts.subarray(0, n);
    const timed = [];
    const untimed = [];
    for (let i = 0; i < n; i++) (Number.isNaN(times[i]) ? untimed : timed).push(i);
    const order = Uint32Array.from(timed);
    if (!sorted) order.sort((a, b) => times[a] - times[b]);
    this.order = order;
    this.times = Float64Array.from(order, (i) => times[i]);
    this.untimedIndexes = untimed;
    this.minTs = order.length ? this.times[0] : null;
    this.maxTs = order.length ? this.times[order.length - 1] : null;
  }

  /** Index of the first ordered line with a timestamp > t. */
  upper(t) {
    let lo = 0, hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid] <= t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  countBetween(t0, t1) { return this.kind === 'json-array' ? 0 : Math.max(0, this.upper(t1) - this.upper(t0)); }

  linesBetween(t0, t1) {
    if (this.kind === 'json-array') return [];
    const out = [];
    for (let k = this.upper(t0), end = this.upper(t1); k < end; k++) out.push(this.lines[this.order[k]]);
    return out;
  }

  untimed() { return this.untimedIndexes.map((i) => this.lines[i]); }
  chunkText(lines) { return this.kind === 'csv' ? `${this.header}\n${lines.join('\n')}\n` : lines.join('\n'); }

  /** The file's subscription ids, most events first. */
  topSubscriptions() { return [...this.subscriptions].sort((a, b) => b[1] - a[1]); }
}

// ---------------------------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------------------------

/** An engine fed up to `now`, with the cumulative-cost snapshots taken on the way. */
export class Simulation {
  constructor() {
    this.engine = null;
    this.generation = 0;
    this.ingestedTs = null;
    this.snapshots = [];
    this.eventsIngested = 0;
    this.duplicatesSkipped = 0;
    this.untimedDone = false;
    this.errors = [];
  }

  get busy() { return this.running !== undefined && this.running !== null; }

  /** Sets the organisation up (taxes, metrics, plans, customer, subscription), no events yet. */
  reset(scenario, period, source) {
    this.generation++;
    if (this.engine) this.engine.free();
    this.engine = new Engine({ premium: true, premium_integrations: ['projected_usage'], timezone: 'UTC' });
    this.engine.configure({ premium: true, premium_integrations: ['projected_usage'], timezone: 'UTC' });
    this.scenario = scenario;
    this.period = period;
    this.source = source;
    this.subscription = scenario.events.subscription;
    this.ingestedTs = period.from - 1;
    this.snapshots = [];
    this.eventsIngested = 0;
    this.duplicatesSkipped = 0;
    this.untimedDone = false;
    this.errors = [];
    this.planErrors = new Map();
    for (const t of scenario.taxes) if (t.code) try { this.engine.upsertTax({ code: t.code, name: t.name || t.code, rate: t.rate }); } catch { /* shown by validation */ }
    for (const m of scenario.metrics) if (m.code) try { this.engine.upsertBillableMetric(metricInput(m)); } catch { /* shown by validation */ }
    this.registerPlans(scenario);
    const active = scenario.plans[scenario.active];
    this.engine.upsertCustomer({ external_id: SIM_CUSTOMER, name: 'Simulated customer', timezone: 'UTC' });
    this.engine.upsertSubscription({
      external_id: this.subscription, external_customer_id: SIM_CUSTOMER, plan_code: active.code,
      billing_time: 'calendar', subscription_at: iso(period.from), started_at: iso(period.from),
    }, iso(period.from));
    this.planCode = active.code;
  }

  /** (Re)declares every plan of the scenario; invalid plans are remembered, not thrown. */
  registerPlans(scenario) {
    this.planErrors = new Map();
    for (const plan of scenario.plans) {
      try { this.engine.upsertPlan(planInput(plan)); } catch (e) { this.planErrors.set(plan.code, e.message); }
    }
    const active = scenario.plans[scenario.active];
    if (this.planErrors.has(active.code)) throw new Error(`plan "${active.code}": ${this.planErrors.get(active.code)}`);
  }

  /** A plan edit: the engine re-prices its stored events (the period is not closed). */
  updatePlans(scenario) {
    this.scenario = scenario;
    this.registerPlans(scenario);
    const active = scenario.plans[scenario.active];
    if (active.code !== this.planCode) {
      this.engine.upsertSubscription({ external_id: this.subscription, plan_code: active.code }, iso(this.ingestedTs));
      this.planCode = active.code;
    }
  }

  /**
   * Ingests every event with a timestamp up to `nowTs` not ingested yet, a slot at a time,
   * taking a snapshot of the current usage at each slot end. Resolves false when superseded.
   */
  async advanceTo(nowTs, onProgress = () => {}) {
    const generation = this.generation;
    const ends = this.period.slotEnds.filter((e) => e > this.ingestedTs && e < nowTs);
    if (nowTs > this.ingestedTs) ends.push(nowTs);
    const total = this.source.kind === 'json-array' ? 1
      : ends.reduce((n, e, i) => n + this.countBetween(i ? ends[i - 1] : this.ingestedTs, e), 0) || 1;
    let done = 0;
    const ingest = async (lines, at) => {
      for (let i = 0; i < lines.length; i += CHUNK_LINES) {
        const chunk = lines.slice(i, i + CHUNK_LINES);
        try {
          // A file often repeats an event (a client's retry): each key is stored once.
          const stored = this.engine.ingestBulk(this.source.chunkText(chunk), iso(at), { skipDuplicates: true });
          this.eventsIngested += stored;
          this.duplicatesSkipped += chunk.length - stored;
        } catch (e) {
          this.errors.push(describeIngestError(e, chunk));
          throw e;
        }
        done += chunk.length;
        onProgress(Math.min(1, done / total), this.eventsIngested);
        await tick();
        if (generation !== this.generation) return false;
      }
      return true;
    };
    if (!this.untimedDone) {
      this.untimedDone = true;
      if (this.source.kind === 'json-array') {
        try { this.eventsIngested += this.engine.ingestBulk(this.source.whole, iso(nowTs), { skipDuplicates: true }); } catch (e) { this.errors.push(describeIngestError(e, null)); throw e; }
        onProgress(1, this.eventsIngested);
        await tick();
        if (generation !== this.generation) return false;
      }
      if (!(await ingest(this.source.untimed(), nowTs))) return false;
    }
    for (const end of ends) {
      const lines = this.source.linesBetween(this.ingestedTs, end);
      if (!(await ingest(lines, end))) return false;
      this.ingestedTs = end;
      this.snapshots.push({ t: end, ...this.snapshot(end) });
    }
    return generation === this.generation;
  }

  countBetween(t0, t1) { return this.source.countBetween(t0, t1); }

  /** Usage amount at `t` (what the cumulative picture plots). */
  snapshot(t) {
    try {
      const u = this.query('currentUsage', t).customer_usage;
      return { amount_cents: u.amount_cents, total_cents: u.total_amount_cents };
    } catch (e) {
      return { error: e.message };
    }
  }

  query(kind, t, extra = {}) {
    return this.engine[kind]({ external_customer_id: SIM_CUSTOMER, external_subscription_id: this.subscription, now: iso(t), ...extra });
  }

  /** Current and projected usage at the instant everything was ingested up to. */
  usage() {
    const t = this.ingestedTs;
    const current = this.query('currentUsage', t).customer_usage;
    let projected = null, projectedError = null;
    try { projected = this.query('projectedUsage', t).customer_projected_usage; } catch (e) { projectedError = e.message; }
    return { t, current, projected, projectedError };
  }

  /** The same events priced on each plan (the subscription switched, queried, switched back). */
  comparePlans(plans) {
    const t = this.ingestedTs;
    const out = plans.map((plan) => {
      if (this.planErrors.has(plan.code)) return { plan, error: this.planErrors.get(plan.code) };
      try {
        this.engine.upsertSubscription({ external_id: this.subscription, plan_code: plan.code }, iso(t));
        const current = this.query('currentUsage', t).customer_usage;
        let projected = null;
        try { projected = this.query('projectedUsage', t).customer_projected_usage; } catch { projected = null; }
        return { plan, current, projected };
      } catch (e) {
        return { plan, error: e.message };
      }
    });
    this.engine.upsertSubscription({ external_id: this.subscription, plan_code: this.planCode }, iso(t));
    return out;
  }
}

/** The first `last + 1` cells of a CSV row (RFC 4180 quotes), enough to route it. */
function csvCells(line, last) {
  const cells = [];
  let i = 0;
  while (cells.length <= last && i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') { value += '"'; i += 2; } else if (line[i] === '"') { i++; break; } else value += line[i++];
      }
      cells.push(value);
      i = line.indexOf(',', i) === -1 ? line.length + 1 : line.indexOf(',', i) + 1;
    } else {
      const end = line.indexOf(',', i);
      cells.push(line.slice(i, end === -1 ? line.length : end));
      i = end === -1 ? line.length + 1 : end + 1;
    }
  }
  return cells;
}

/** An ingestion error with the offending lines quoted (indexes are the chunk's). */
function describeIngestError(error, chunk) {
  const details = error.error_details;
  if (!details || !chunk) return { message: error.message };
  const lines = Object.entries(details).slice(0, 5).map(([index, fields]) => ({
    line: chunk[Number(index)]?.slice(0, 200) ?? `#${index}`,
    errors: JSON.stringify(fields),
  }));
  return { message: error.message, lines };
}
