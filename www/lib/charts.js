// Two pictures in plain SVG (no chart library: two line charts do not need 50–200 KB of
// dependency, and plain SVG scales with the container, prints, and is readable by tests).
// Every plotted amount is integer cents from the engine; floats here are only pixel positions.
import { formatCents, formatUnits } from './money.js';

const W = 640, H = 230;
const M = { l: 76, r: 18, t: 14, b: 34 };
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
let uid = 0;

/** Nice tick values from 0 to ≥ max (integers when `integer`). */
export function niceTicks(max, count = 4, integer = true) {
  if (!(max > 0)) return [0, integer ? 1 : 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step0 = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw) ?? 10 * power;
  const step = integer ? Math.max(1, Math.ceil(step0)) : step0;
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

function frame({ title, desc, body, yTicks, yLabel, xTicks, xLabel, sx, sy }) {
  const id = `chart${++uid}`;
  const grid = yTicks.map((v) => `<g class="tick"><line x1="${M.l}" x2="${W - M.r}" y1="${sy(v)}" y2="${sy(v)}"/>`
    + `<text x="${M.l - 6}" y="${sy(v) + 4}" text-anchor="end">${esc(yLabel(v))}</text></g>`).join('');
  const xs = xTicks.map((v) => `<g class="tick"><line x1="${sx(v)}" x2="${sx(v)}" y1="${H - M.b}" y2="${H - M.b + 4}"/>`
    + `<text x="${sx(v)}" y="${H - M.b + 17}" text-anchor="middle">${esc(xLabel(v))}</text></g>`).join('');
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}t ${id}d" preserveAspectRatio="xMidYMid meet">`
    + `<title id="${id}t">${esc(title)}</title><desc id="${id}d">${esc(desc)}</desc>`
    + `<g class="grid">${grid}</g><line class="axis" x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}"/>`
    + `<g class="xticks">${xs}</g>${body}</svg>`;
}

const dayLabel = (seconds) => new Date(seconds * 1000).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

/**
 * Cumulative usage amount over the period: the engine's current usage after each slot up to
 * now (solid), and a dashed line from now to the engine's projection at the period end.
 */
export function cumulativeChart({ period, points, nowTs, currentCents, projectedCents, currency }) {
  const maxCents = Math.max(1, projectedCents ?? 0, currentCents ?? 0, ...points.map((p) => p.amount_cents ?? 0));
  const yTicks = niceTicks(maxCents);
  const yMax = yTicks[yTicks.length - 1];
  const sx = (t) => M.l + ((t - period.from) / (period.to + 1 - period.from)) * (W - M.l - M.r);
  const sy = (c) => H - M.b - (c / yMax) * (H - M.t - M.b);
  const actual = [[period.from, 0], ...points.filter((p) => p.amount_cents !== undefined).map((p) => [p.t, p.amount_cents])];
  const path = actual.map(([t, c], i) => `${i ? 'L' : 'M'}${sx(t).toFixed(1)},${sy(c).toFixed(1)}`).join('');
  const dots = actual.slice(1).map(([t, c]) => `<circle class="pt" cx="${sx(t).toFixed(1)}" cy="${sy(c).toFixed(1)}" r="2"><title>${esc(dayLabel(t))}: ${esc(formatCents(c, currency))}</title></circle>`).join('');
  let projection = '';
  if (projectedCents !== null && projectedCents !== undefined) {
    const labelY = Math.max(M.t + 24, sy(projectedCents) - 8);
    projection = `<path class="projected" d="M${sx(nowTs).toFixed(1)},${sy(currentCents).toFixed(1)}L${sx(period.to).toFixed(1)},${sy(projectedCents).toFixed(1)}"/>`
      + `<circle class="proj-end" cx="${sx(period.to).toFixed(1)}" cy="${sy(projectedCents).toFixed(1)}" r="4"/>`
      + `<text class="label" x="${(sx(period.to) - 6).toFixed(1)}" y="${labelY.toFixed(1)}" text-anchor="end">projected ${esc(formatCents(projectedCents, currency))}</text>`;
  }
  const nowRight = sx(nowTs) > W - 60;
  const nowLine = `<line class="now" x1="${sx(nowTs).toFixed(1)}" x2="${sx(nowTs).toFixed(1)}" y1="${M.t}" y2="${H - M.b}"/>`
    + `<text class="label" x="${(sx(nowTs) + (nowRight ? -4 : 4)).toFixed(1)}" y="${M.t + 10}" text-anchor="${nowRight ? 'end' : 'start'}">now</text>`;
  const spanDays = (period.to + 1 - period.from) / 86400;
  const everyDays = Math.max(1, Math.ceil(spanDays / 6));
  const xTicks = [];
  for (let d = 0; d <= spanDays; d += everyDays) xTicks.push(period.from + d * 86400);
  return frame({
    title: 'Cumulative usage amount over the period',
    desc: `Actual ${formatCents(currentCents ?? 0, currency)} by ${dayLabel(nowTs)}`
      + (projectedCents !== null && projectedCents !== undefined ? `, projected ${formatCents(projectedCents, currency)} at the period end` : ''),
    body: nowLine + `<path class="actual" d="${path}"/>` + dots + projection,
    yTicks, yLabel: (c) => formatCents(c, currency), xTicks, xLabel: dayLabel, sx, sy,
  });
}

/**
 * Cost against units for one tiered charge: the engine's price at sampled units, the tier
 * breakpoints as dashed lines, and the current position.
 */
export function tierChart({ name, curve, breakpoints, marker, currency, xMax }) {
  const maxCents = Math.max(1, ...curve.map((p) => p.cents), marker?.cents ?? 0);
  const yTicks = niceTicks(maxCents);
  const yMax = yTicks[yTicks.length - 1];
  const sx = (u) => M.l + (u / xMax) * (W - M.l - M.r);
  const sy = (c) => H - M.b - (c / yMax) * (H - M.t - M.b);
  const path = curve.map((p, i) => `${i ? 'L' : 'M'}${sx(p.u).toFixed(1)},${sy(p.cents).toFixed(1)}`).join('');
  const bps = breakpoints.filter((b) => b > 0 && b < xMax).map((b) => `<line class="break" x1="${sx(b).toFixed(1)}" x2="${sx(b).toFixed(1)}" y1="${M.t}" y2="${H - M.b}"/>`
    + `<text class="label break-label" x="${(sx(b) + 3).toFixed(1)}" y="${M.t + 10}">${esc(formatUnits(String(b)))}</text>`).join('');
  let mark = '';
  if (marker && marker.u >= 0) {
    const mx = sx(Math.min(marker.u, xMax)), my = sy(marker.cents);
    const anchor = mx > W / 2 ? 'end' : 'start';
    mark = `<circle class="marker" cx="${mx.toFixed(1)}" cy="${my.toFixed(1)}" r="5"/>`
      + `<text class="label" x="${(mx + (anchor === 'end' ? -8 : 8)).toFixed(1)}" y="${(my - 8).toFixed(1)}" text-anchor="${anchor}">${esc(formatUnits(marker.label))} → ${esc(formatCents(marker.cents, currency))}</text>`;
  }
  const xTicks = niceTicks(xMax, 5, false).filter((v) => v <= xMax);
  return frame({
    title: `${name}: cost against units`,
    desc: `Tier breakpoints at ${breakpoints.join(', ') || 'none'}; now at ${marker ? `${marker.label} units, ${formatCents(marker.cents, currency)}` : 'no usage'}`,
    body: bps + `<path class="curve" d="${path}"/>` + mark,
    yTicks, yLabel: (c) => formatCents(c, currency), xTicks, xLabel: (u) => formatUnits(String(+u.toPrecision(6))), sx, sy,
  });
}
