// The peer: what a team would write instead of usage-calc — plain JavaScript with decimal.js,
// for the benchmark's plan (standard, graduated, volume, package and percentage charges over
// count, sum, max, unique count and latest metrics, with charge filters and pricing groups).
//
// Two variants, both reading the same NDJSON text and answering Lago's current usage in cents:
// * `RunningPeer` keeps running aggregates per (billing period, charge, filter bucket, pricing
//   group) as events arrive, so a usage query only prices a handful of numbers;
// * `RecomputePeer` stores the events and aggregates the period's events at query time, the way
//   Lago answers current usage (SQL over the events table).
//
// Rules it follows (those of the plan at hand, as Lago states them):
// * dedup on (external_subscription_id, transaction_id): the first occurrence wins;
// * monthly calendar periods in UTC: the period holding `now` is [month start, month end];
// * a charge filter takes the events whose property is one of its values (the plan's filters
//   are disjoint single-key filters); the other events go to the default bucket;
// * sum, max and latest keep only values whose text is `^-?\d+(\.\d+)?$`; latest takes the
//   greatest (timestamp, arrival) and gives 0 for a negative value; unique count counts distinct
//   texts;
// * percentage with `free_units_per_events` N and per-transaction min/max: the first N events of
//   the period by (timestamp, arrival) are free, each other one pays `v × rate/100 + fixed`
//   clamped to [min, max];
// * graduated: tiers in order, "+1" bounds unless adjacent, the flat fee of each tier entered;
//   volume: the tier of the units; package: started packages after free units;
// * one fee per (bucket, group), rounded half-up to cents, the usage being their sum.

import Decimal from 'decimal.js';

const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });
const ZERO = new D(0);
const ONE = new D(1);
const HUNDRED = new D(100);
const NUMERIC = /^-?\d+(\.\d+)?$/;

/** The numeric value of a property (`properties->>key` passing Lago's check), or null. */
function numeric(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? new D(value) : null;
  if (typeof value === 'string' && NUMERIC.test(value)) return new D(value);
  return null;
}

/** `properties->>key` as text (null when missing or null). */
function text(value) {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

// ---------------------------------------------------------------------------------------------
// Charge models (decimal.js)
// ---------------------------------------------------------------------------------------------

function parseRanges(ranges) {
  return ranges.map((r) => ({
    from: new D(r.from_value),
    to: r.to_value === null || r.to_value === undefined ? null : new D(r.to_value),
    price: new D(r.per_unit_amount ?? '0'),
    flat: new D(r.flat_amount ?? '0'),
  }));
}

function compileModel(name, props) {
  switch (name) {
    case 'standard': {
      const amount = new D(props.amount ?? '0');
      return { name, price: (units) => units.times(amount) };
    }
    case 'graduated': {
      const ranges = parseRanges(props.graduated_ranges);
      const adjacent = ranges.length >= 2 && ranges.every((r, i) => i === 0 || (ranges[i - 1].to !== null && ranges[i - 1].to.eq(r.from)));
      return {
        name,
        price: (units) => {
          let amount = ZERO;
          for (const r of ranges) {
            const reached = r.to !== null && units.gte(r.to) ? r.to : units;
            const inTier = r.from.isZero() ? reached : adjacent ? reached.minus(r.from) : reached.minus(r.from).plus(ONE);
            amount = amount.plus(inTier.times(r.price)).plus(r.flat);
            if (r.to === null || r.to.gte(units)) break;
          }
          return amount;
        },
      };
    }
    case 'volume': {
      const ranges = parseRanges(props.volume_ranges).sort((a, b) => a.from.cmp(b.from));
      return {
        name,
        price: (units) => {
          const covers = (r) => r.to === null || units.lte(r.to);
          const ceil = units.ceil();
          const range = ranges.find((r) => r.from.lte(ceil) && covers(r)) ?? ranges.find(covers) ?? ranges[ranges.length - 1];
          return range ? units.times(range.price).plus(range.flat) : ZERO;
        },
      };
    }
    case 'package': {
      const amount = new D(props.amount ?? '0');
      const size = new D(props.package_size ?? 1);
      const free = new D(props.free_units ?? 0);
      return {
        name,
        price: (units) => {
          const paid = units.minus(free);
          return paid.lte(0) ? ZERO : paid.div(size).ceil().times(amount);
        },
      };
    }
    case 'percentage': {
      const rate = new D(props.rate ?? '0');
      const fixed = new D(props.fixed_amount ?? '0');
      const min = props.per_transaction_min_amount != null ? new D(props.per_transaction_min_amount) : null;
      const max = props.per_transaction_max_amount != null ? new D(props.per_transaction_max_amount) : null;
      const freeEvents = Number(props.free_units_per_events ?? 0);
      if (props.free_units_per_total_aggregation && Number(props.free_units_per_total_aggregation) !== 0) {
        throw new Error('peer: free_units_per_total_aggregation is not implemented');
      }
      if (min === null && max === null) throw new Error('peer: percentage without min/max is not implemented');
      return {
        name,
        freeEvents,
        // One event's clamped amount (premium: min/max per transaction).
        eventAmount: (value) => {
          let amount = value.times(rate).div(HUNDRED).plus(fixed);
          if (min !== null && amount.lt(min)) amount = min;
          else if (max !== null && amount.gt(max)) amount = max;
          return amount;
        },
      };
    }
    default:
      throw new Error(`peer: charge model ${name} is not implemented`);
  }
}

// ---------------------------------------------------------------------------------------------
// Aggregation states (one per period, charge, bucket, group), fed one event at a time
// ---------------------------------------------------------------------------------------------

/** A max-heap of the `limit` earliest events by (timestamp, seq), with their clamped amounts. */
class EarliestEvents {
  constructor(limit) {
    this.limit = limit;
    this.items = []; // heap on (ts, seq), latest on top
    this.total = ZERO; // Σ of the kept amounts
  }
  static later(a, b) {
    return a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);
  }
  add(ts, seq, amount) {
    if (this.limit === 0) return;
    const items = this.items;
    const item = { ts, seq, amount };
    if (items.length < this.limit) {
      items.push(item);
      this.total = this.total.plus(amount);
      let i = items.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!EarliestEvents.later(items[i], items[p])) break;
        [items[i], items[p]] = [items[p], items[i]];
        i = p;
      }
      return;
    }
    if (!EarliestEvents.later(items[0], item)) return; // the usual case: a later event
    this.total = this.total.minus(items[0].amount).plus(amount);
    items[0] = item;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let top = i;
      if (l < items.length && EarliestEvents.later(items[l], items[top])) top = l;
      if (r < items.length && EarliestEvents.later(items[r], items[top])) top = r;
      if (top === i) break;
      [items[i], items[top]] = [items[top], items[i]];
      i = top;
    }
  }
}

function newState(kind, model) {
  switch (kind) {
    case 'count_agg': return { count: 0 };
    case 'sum_agg':
      return model.name === 'percentage'
        ? { total: ZERO, count: 0, paid: ZERO, free: new EarliestEvents(model.freeEvents) }
        : { total: ZERO, count: 0 };
    case 'max_agg': return { max: null, count: 0 };
    case 'latest_agg': return { ts: -Infinity, seq: -1, value: null, count: 0 };
    case 'unique_count_agg': return { values: new Set() };
    default: throw new Error(`peer: aggregation ${kind} is not implemented`);
  }
}

/** Folds one event into a state; `value` is the field's raw property value. */
function fold(state, kind, model, value, ts, seq) {
  switch (kind) {
    case 'count_agg':
      state.count++;
      return;
    case 'sum_agg': {
      const v = numeric(value);
      if (v === null) return;
      state.total = state.total.plus(v);
      state.count++;
      if (state.free) {
        const amount = model.eventAmount(v);
        state.paid = state.paid.plus(amount);
        state.free.add(ts, seq, amount);
      }
      return;
    }
    case 'max_agg': {
      const v = numeric(value);
      if (v === null) return;
      if (state.max === null || v.gt(state.max)) state.max = v;
      state.count++;
      return;
    }
    case 'latest_agg': {
      const v = numeric(value);
      if (v === null) return;
      if (ts > state.ts || (ts === state.ts && seq > state.seq)) {
        state.ts = ts;
        state.seq = seq;
        state.value = v;
      }
      state.count++;
      return;
    }
    case 'unique_count_agg':
      state.values.add(text(value));
      return;
  }
}

/** The fee amount (major units) of one state. */
function amountOf(state, kind, model) {
  if (model.name === 'percentage') {
    // Σ of every event's clamped amount, minus the free first N events'.
    return state ? state.paid.minus(state.free.total) : ZERO;
  }
  let units = ZERO;
  if (state) {
    switch (kind) {
      case 'count_agg': units = new D(state.count); break;
      case 'sum_agg': units = state.total; break;
      case 'max_agg': units = state.max ?? ZERO; break;
      case 'latest_agg': units = state.value === null || state.value.isNeg() ? ZERO : state.value; break;
      case 'unique_count_agg': units = new D(state.values.size); break;
    }
  }
  return model.price(units);
}

const cents = (amount) => (amount.isNeg() ? 0 : amount.times(HUNDRED).toDecimalPlaces(0, D.ROUND_HALF_UP).toNumber());

// ---------------------------------------------------------------------------------------------
// Plan compilation and periods
// ---------------------------------------------------------------------------------------------

function compilePlan(metrics, plan) {
  const byCode = new Map(metrics.map((m) => [m.code, m]));
  const charges = plan.charges.map((c, index) => {
    const metric = byCode.get(c.billable_metric_code);
    const filters = (c.filters ?? []).map((f) => {
      const keys = Object.keys(f.values);
      if (keys.length !== 1) throw new Error('peer: only single-key filters are implemented');
      const key = keys[0];
      const values = [].concat(f.values[key]);
      return { key, values: new Set(values), model: compileModel(c.charge_model, f.properties ?? c.properties) };
    });
    return {
      index,
      code: c.code ?? metric.code,
      metricCode: metric.code,
      kind: metric.aggregation_type,
      field: metric.field_name ?? null,
      filters,
      model: compileModel(c.charge_model, c.properties),
      groupKeys: c.properties?.pricing_group_keys ?? [],
    };
  });
  const byMetric = new Map();
  for (const charge of charges) {
    if (!byMetric.has(charge.metricCode)) byMetric.set(charge.metricCode, []);
    byMetric.get(charge.metricCode).push(charge);
  }
  return { charges, byMetric };
}

/** Which bucket an event falls in: the first filter whose key holds one of its values, else the default (filters.length). */
function bucketOf(charge, properties) {
  const filters = charge.filters;
  for (let i = 0; i < filters.length; i++) {
    const v = text(properties[filters[i].key]);
    if (v !== null && filters[i].values.has(v)) return i;
  }
  return filters.length;
}

function groupOf(charge, properties) {
  const keys = charge.groupKeys;
  if (keys.length === 0) return '';
  if (keys.length === 1) return text(properties[keys[0]]) ?? '\u0000null';
  return keys.map((k) => text(properties[k]) ?? '\u0000null').join('\u0001');
}

/** Monthly calendar periods in UTC: [start, end] in Unix seconds, cached for the last month seen. */
class Months {
  constructor() {
    this.start = 1;
    this.end = 0;
    this.key = 0;
  }
  keyOf(ts) {
    if (ts >= this.start && ts <= this.end) return this.key;
    const d = new Date(ts * 1000);
    const y = d.getUTCFullYear(), m = d.getUTCMonth();
    this.start = Date.UTC(y, m, 1) / 1000;
    this.end = Date.UTC(y, m + 1, 1) / 1000 - 1e-6;
    this.key = y * 12 + m;
    return this.key;
  }
}

/** Splits NDJSON text into lines and hands each parsed event to `handle` (blank lines skipped). */
export function eachEvent(text, handle) {
  let start = 0;
  const length = text.length;
  while (start < length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = length;
    if (end > start) {
      const line = text.slice(start, end);
      if (line.trim() !== '') handle(JSON.parse(line));
    }
    start = end + 1;
  }
}

function validate(event) {
  if (typeof event.transaction_id !== 'string' || event.transaction_id === '') throw new Error('peer: transaction_id is mandatory');
  if (typeof event.code !== 'string' || event.code === '') throw new Error('peer: code is mandatory');
  const ts = typeof event.timestamp === 'number' ? event.timestamp : Number(event.timestamp);
  if (!Number.isFinite(ts)) throw new Error('peer: invalid timestamp');
  return ts;
}

/** Σ of the fees in cents, per charge code and in all. */
function usageFromStates(plan, period, stateOf) {
  const charges = {};
  let total = 0;
  for (const charge of plan.charges) {
    let chargeCents = 0;
    for (let b = 0; b <= charge.filters.length; b++) {
      const model = b < charge.filters.length ? charge.filters[b].model : charge.model;
      const groups = stateOf(period, charge, b);
      if (groups.size === 0) {
        chargeCents += cents(amountOf(null, charge.kind, model)); // no event: 0 units (flat fees still apply)
      } else {
        for (const state of groups.values()) chargeCents += cents(amountOf(state, charge.kind, model));
      }
    }
    charges[charge.code] = chargeCents;
    total += chargeCents;
  }
  return { amount_cents: total, charges };
}

// ---------------------------------------------------------------------------------------------
// The peers
// ---------------------------------------------------------------------------------------------

/** Running aggregates per (period, charge, bucket, group). */
/** What both peers share: the plan, Lago's dedup on (subscription, transaction id), NDJSON. */
class Peer {
  constructor({ metrics, plan }) {
    this.plan = compilePlan(metrics, plan);
    this.seen = new Map(); // subscription → Set of transaction ids
    this.seq = 0;
    this.duplicates = 0;
    this.stored = 0;
  }

  /** Ingests NDJSON text; returns the number of events stored (duplicates are skipped). */
  ingestNdjson(text) {
    const before = this.stored;
    eachEvent(text, (event) => this.ingest(event));
    return this.stored - before;
  }

  /** The event's subscription and timestamp when it is new (and counts it), else null. */
  accept(event) {
    const ts = validate(event);
    const sub = event.external_subscription_id ?? '';
    let seen = this.seen.get(sub);
    if (!seen) this.seen.set(sub, (seen = new Set()));
    if (seen.has(event.transaction_id)) {
      this.duplicates++;
      return null;
    }
    seen.add(event.transaction_id);
    this.stored++;
    return { sub, ts, seq: this.seq++ };
  }
}

export class RunningPeer extends Peer {
  constructor(setup) {
    super(setup);
    this.states = new Map(); // subscription → period key → charge index → bucket → Map(group → state)
    this.months = new Months();
  }

  ingest(event) {
    const accepted = this.accept(event);
    if (!accepted) return;
    const { sub, ts, seq } = accepted;
    const charges = this.plan.byMetric.get(event.code);
    if (!charges) return; // unknown code: stored, never billed
    const properties = event.properties ?? {};
    const period = this.months.keyOf(ts);
    let perSub = this.states.get(sub);
    if (!perSub) this.states.set(sub, (perSub = new Map()));
    let perPeriod = perSub.get(period);
    if (!perPeriod) perSub.set(period, (perPeriod = this.plan.charges.map((c) => Array.from({ length: c.filters.length + 1 }, () => new Map()))));
    for (const charge of charges) {
      const bucket = bucketOf(charge, properties);
      const model = bucket < charge.filters.length ? charge.filters[bucket].model : charge.model;
      const groups = perPeriod[charge.index][bucket];
      const group = groupOf(charge, properties);
      let state = groups.get(group);
      if (!state) groups.set(group, (state = newState(charge.kind, model)));
      fold(state, charge.kind, model, charge.field === null ? null : properties[charge.field], ts, seq);
    }
  }

  /** Current usage at `now` (ISO string) of one subscription: `{amount_cents, charges}`. */
  currentUsage(subscription, now) {
    const period = new Months().keyOf(Date.parse(now) / 1000);
    const perPeriod = this.states.get(subscription)?.get(period);
    const empty = new Map();
    return usageFromStates(this.plan, period, (_, charge, bucket) => perPeriod?.[charge.index][bucket] ?? empty);
  }
}

/** Stores the events; current usage aggregates the period's events at query time (Lago's way). */
export class RecomputePeer extends Peer {
  constructor(setup) {
    super(setup);
    this.events = new Map(); // subscription → code → [{ts, seq, properties}]
  }

  ingest(event) {
    const accepted = this.accept(event);
    if (!accepted) return;
    const { sub, ts, seq } = accepted;
    let perSub = this.events.get(sub);
    if (!perSub) this.events.set(sub, (perSub = new Map()));
    let list = perSub.get(event.code);
    if (!list) perSub.set(event.code, (list = []));
    list.push({ ts, seq, properties: event.properties ?? {} });
  }

  currentUsage(subscription, now) {
    const months = new Months();
    const period = months.keyOf(Date.parse(now) / 1000);
    const { start, end } = months;
    const perSub = this.events.get(subscription);
    return usageFromStates(this.plan, period, (_, charge, bucket) => {
      let events = (perSub?.get(charge.metricCode) ?? []).filter((e) => e.ts >= start && e.ts <= end);
      const model = bucket < charge.filters.length ? charge.filters[bucket].model : charge.model;
      if (model.name === 'percentage') events = events.slice().sort((a, b) => a.ts - b.ts || a.seq - b.seq); // ORDER BY timestamp
      const groups = new Map();
      for (const e of events) {
        if (bucketOf(charge, e.properties) !== bucket) continue;
        const group = groupOf(charge, e.properties);
        let state = groups.get(group);
        if (!state) groups.set(group, (state = newState(charge.kind, model)));
        fold(state, charge.kind, model, charge.field === null ? null : e.properties[charge.field], e.ts, e.seq);
      }
      return groups;
    });
  }
}

/** Per-charge cents of the engine's `currentUsage` answer, keyed like the peer's. */
export function engineCents(customerUsage) {
  const charges = {};
  for (const usage of customerUsage.charges_usage) charges[usage.charge.code] = usage.amount_cents;
  return { amount_cents: customerUsage.amount_cents, charges };
}
