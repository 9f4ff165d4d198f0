// The main job: prices a sample plan with the built engine and prints every line and tier.
// Run via `bash scripts/run.sh`, which builds pkg/ first.
import { existsSync } from 'node:fs';

const entry = new URL('../pkg/index.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('price-sample: pkg/index.js not found; the package is not built. Run: bash scripts/build.sh');
  process.exit(1);
}
const engine = await import(entry.href);

// A month of usage on a sample "Scale" plan, in EUR, with 20% VAT.
const currency = 'EUR';
const charges = [
  {
    name: 'API calls', charge_model: 'graduated', units: 1_250_000,
    properties: { graduated_ranges: [
      { from_value: 0, to_value: 100000, per_unit_amount: '0', flat_amount: '0' },
      { from_value: 100001, to_value: 1000000, per_unit_amount: '0.0004', flat_amount: '0' },
      { from_value: 1000001, to_value: null, per_unit_amount: '0.0002', flat_amount: '25' },
    ] },
  },
  { name: 'Storage (GB)', charge_model: 'package', units: 1234.5, properties: { amount: '5', package_size: 100, free_units: 50 } },
  {
    name: 'Payments processed', charge_model: 'percentage', units: 48250.75, per_event_amounts: [12000, 30000, 250.75, 6000],
    properties: { rate: '1.4', fixed_amount: '0.25', free_units_per_events: 1, per_transaction_max_amount: '300' },
  },
  {
    name: 'Seats', charge_model: 'volume', units: 42,
    properties: { volume_ranges: [
      { from_value: 0, to_value: 10, per_unit_amount: '12', flat_amount: '0' },
      { from_value: 11, to_value: 50, per_unit_amount: '9.5', flat_amount: '20' },
      { from_value: 51, to_value: null, per_unit_amount: '7', flat_amount: '50' },
    ] },
  },
  {
    name: 'Compute (hours)', charge_model: 'standard', units: 12, properties: { amount: '0.12' },
    filters: [
      { values: { cloud: ['aws'] }, properties: { amount: '0.08' }, units: 730.5 },
      { values: { cloud: ['gcp'] }, properties: { amount: '0.10' }, units: 211 },
    ],
  },
  {
    name: 'AI credits', charge_model: 'standard', units: 3180, properties: { amount: '0.015' },
    applied_pricing_unit: { conversion_rate: '0.9', short_name: 'CRD' },
  },
];

const money = (cents) => new Intl.NumberFormat('en-IE', { style: 'currency', currency }).format(cents / 100);
const pad = (text, width) => String(text).padEnd(width);
console.log(`usage-calc ${engine.version()}: sample plan "Scale", one month, ${currency}\n`);
console.log(`${pad('charge', 20)}${pad('model', 22)}${pad('units', 14)}${'amount'.padStart(12)}`);
let amountCents = 0;
let taxesCents = 0;
for (const { name, ...charge } of charges) {
  const usage = engine.buildChargeUsage({ ...charge, currency, taxes: [{ rate: '20' }] });
  amountCents += usage.amount_cents;
  taxesCents += usage.taxes_amount_cents;
  console.log(`${pad(name, 20)}${pad(charge.charge_model, 22)}${pad(usage.units, 14)}${money(usage.amount_cents).padStart(12)}`);
  for (const filter of usage.filters) {
    const label = filter.values ? Object.entries(filter.values).map(([k, v]) => `${k}=${v.join('|')}`).join(',') : '(other)';
    console.log(`${pad('', 22)}${pad(label, 20)}${pad(filter.units, 14)}${money(filter.amount_cents).padStart(12)}`);
  }
  const details = usage.fees.at(-1).amount_details;
  for (const tier of details.graduated_ranges ?? []) {
    console.log(`${pad('', 22)}tier ${tier.from_value}–${tier.to_value ?? '∞'}: ${tier.units} × ${tier.per_unit_amount} + ${tier.flat_unit_amount} = ${tier.total_with_flat_amount}`);
  }
  if (details.paid_units && details.per_package_size) {
    console.log(`${pad('', 22)}${details.free_units} free, ${details.paid_units} paid in packages of ${details.per_package_size} at ${details.per_package_unit_amount}`);
  }
  if (details.rate) {
    console.log(`${pad('', 22)}${details.paid_units} × ${details.rate}% + ${details.paid_events} × fixed fee; min/max adjustment ${details.min_max_adjustment_total_amount}`);
  }
  if (usage.pricing_unit_details) {
    const pu = usage.pricing_unit_details;
    console.log(`${pad('', 22)}${pu.amount_cents / 100} ${pu.short_name} at ${pu.conversion_rate} ${currency}/${pu.short_name}`);
  }
}
console.log(`\n${pad('subtotal', 56)}${money(amountCents).padStart(12)}`);
console.log(`${pad('VAT 20%', 56)}${money(taxesCents).padStart(12)}`);
console.log(`${pad('total', 56)}${money(amountCents + taxesCents).padStart(12)}`);
