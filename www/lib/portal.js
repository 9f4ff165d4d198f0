// Portal mode: `?customer=<external_id>&token=<t>` (what the shim's `portal_url` hands out)
// shows that customer's live current and projected usage, read-only, refreshed every few
// seconds from `GET /portal/customers/<id>/usage?token=<t>` on the same origin:
//   {customer: {...}, subscriptions: [{external_id, plan_code, current_usage, projected_usage | null}], now?}
// where current_usage is a `customer_usage` and projected_usage a `customer_projected_usage`
// (either bare or wrapped in its Lago key).
import { esc } from './html.js';
import { formatCents, formatUnits } from './money.js';

export const PORTAL_REFRESH_MS = 5000;

export function portalParams(search) {
  const params = new URLSearchParams(search);
  const customer = params.get('customer');
  const refresh = Number(params.get('refresh'));
  return customer ? { customer, token: params.get('token') ?? '', refreshMs: refresh >= 1000 ? refresh : PORTAL_REFRESH_MS } : null;
}

export const portalUrl = ({ customer, token }) => `/portal/customers/${encodeURIComponent(customer)}/usage?token=${encodeURIComponent(token)}`;

const period = (u) => {
  const fmt = (t) => new Date(t).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
  return `${fmt(u.from_datetime)} – ${fmt(u.to_datetime)}`;
};

function subscriptionCard(s) {
  const current = s.current_usage?.customer_usage ?? s.current_usage;
  const projected = s.projected_usage?.customer_projected_usage ?? s.projected_usage ?? null;
  if (!current) return `<article class="card"><h3>${esc(s.external_id)}</h3><p class="muted">No usage.</p></article>`;
  const cur = current.currency;
  const projectedById = new Map((projected?.charges_usage || []).map((c) => [c.charge?.lago_id, c]));
  const rows = current.charges_usage.map((c) => {
    const p = projectedById.get(c.charge?.lago_id);
    return `<tr><th scope="row">${esc(c.charge?.invoice_display_name || c.billable_metric?.name || c.charge?.code)}</th>
      <td class="num">${esc(formatUnits(c.units))}</td><td class="num"><span class="money" data-cents="${esc(c.amount_cents)}">${esc(formatCents(c.amount_cents, cur))}</span></td>
      <td class="num">${p ? esc(formatUnits(p.projected_units)) : '—'}</td><td class="num">${p ? esc(formatCents(p.projected_amount_cents, cur)) : '—'}</td></tr>`;
  }).join('');
  return `<article class="card portal-sub" data-subscription="${esc(s.external_id)}">
    <h3>${esc(s.plan_code)} <span class="muted">· subscription ${esc(s.external_id)} · ${esc(period(current))}</span></h3>
    <dl class="totals">
      <div><dt>Usage so far</dt><dd><span class="money" data-cents="${esc(current.amount_cents)}">${esc(formatCents(current.amount_cents, cur))}</span></dd></div>
      <div><dt>Taxes</dt><dd>${esc(formatCents(current.taxes_amount_cents, cur))}</dd></div>
      <div class="total"><dt>Total so far</dt><dd><span class="money portal-total" data-cents="${esc(current.total_amount_cents)}">${esc(formatCents(current.total_amount_cents, cur))}</span></dd></div>
      <div class="projected"><dt>Projected usage at period end</dt><dd>${projected
    ? `<span class="money portal-projected" data-cents="${esc(projected.projected_amount_cents)}">${esc(formatCents(projected.projected_amount_cents, cur))}</span>`
    : '<span class="muted">not enabled</span>'}</dd></div>
    </dl>
    <div class="table-scroll"><table class="lines"><caption class="sr-only">Charges</caption>
      <thead><tr><th scope="col">Charge</th><th scope="col" class="num">Units</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Projected units</th><th scope="col" class="num">Projected amount</th></tr></thead>
      <tbody>${rows}</tbody></table></div>
  </article>`;
}

/** Starts the portal view in `root`; returns a stop function. */
export function startPortal(root, params, { fetchImpl = fetch, refreshMs = params.refreshMs ?? PORTAL_REFRESH_MS } = {}) {
  let timer = null;
  let stopped = false;
  root.innerHTML = `<header class="portal-head"><h2>Usage of <span id="portal-customer">${esc(params.customer)}</span></h2>
    <p class="muted">Read-only, live: refreshed every ${Math.round(refreshMs / 1000)} s. <span id="portal-updated" role="status" aria-live="polite"></span></p></header>
    <div id="portal-body" aria-busy="true"><p>Loading…</p></div>`;
  const body = root.querySelector('#portal-body');
  const updated = root.querySelector('#portal-updated');
  const load = async () => {
    try {
      const res = await fetchImpl(portalUrl(params), { headers: { accept: 'application/json' }, cache: 'no-store' });
      const data = await res.json().catch(() => null);
      if (!res.ok) {
        const why = data?.code || data?.error || res.statusText;
        body.innerHTML = `<p class="err block" role="alert">The portal answered ${res.status} (${esc(why)}). Is the link complete (customer and token)?</p>`;
      } else {
        const name = data.customer?.name || data.customer?.external_id || params.customer;
        root.querySelector('#portal-customer').textContent = name;
        body.innerHTML = (data.subscriptions || []).length
          ? data.subscriptions.map(subscriptionCard).join('')
          : '<p class="muted">No active subscription.</p>';
        updated.textContent = `Updated ${new Date().toLocaleTimeString()}${data.now ? ` (usage at ${new Date(data.now).toLocaleString(undefined, { timeZone: 'UTC' })} UTC)` : ''}.`;
        document.body.dataset.portal = 'loaded';
      }
    } catch (e) {
      body.innerHTML = `<p class="err block" role="alert">Cannot reach the portal endpoint (${esc(e.message)}). Portal mode needs the shim (<code>node www/shim/server.mjs</code>).</p>`;
    }
    body.setAttribute('aria-busy', 'false');
    if (!stopped) timer = setTimeout(load, refreshMs);
  };
  load();
  return () => { stopped = true; clearTimeout(timer); };
}
