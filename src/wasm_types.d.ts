/** A decimal: a string such as "12.5" (exact), or a JS number (read from its JSON text). */
export type DecimalInput = string | number;
/** A decimal as the engine writes it, Ruby-style: "12.0", "0.0125". */
export type DecimalString = string;
export type ChargeModelName =
  | "standard" | "graduated" | "graduated_percentage" | "package"
  | "percentage" | "volume" | "dynamic" | "custom";
export type AggregationType =
  | "count_agg" | "sum_agg" | "max_agg" | "unique_count_agg"
  | "latest_agg" | "weighted_sum_agg" | "custom_agg";

/** Charge properties exactly as Lago's API takes them. */
export interface ChargeProperties {
  amount?: string | null;
  graduated_ranges?: GraduatedRangeInput[];
  graduated_percentage_ranges?: GraduatedPercentageRangeInput[];
  volume_ranges?: GraduatedRangeInput[];
  package_size?: number;
  free_units?: number;
  rate?: string;
  fixed_amount?: string | null;
  free_units_per_events?: number | null;
  free_units_per_total_aggregation?: string | null;
  per_transaction_min_amount?: string | null;
  per_transaction_max_amount?: string | null;
  pricing_group_keys?: string[];
  grouped_by?: string[];
  presentation_group_keys?: { value: string; options?: { display_in_invoice: boolean } }[];
  custom_properties?: Record<string, unknown>;
  [key: string]: unknown;
}
export interface GraduatedRangeInput {
  from_value: number; to_value: number | null; per_unit_amount: string; flat_amount: string;
}
export interface GraduatedPercentageRangeInput {
  from_value: number; to_value: number | null; rate: string; flat_amount: string;
}

/** What an aggregation of events hands to a charge model. */
export interface AggregationInput {
  units?: DecimalInput;
  /** Units before proration (prorated charges). */
  full_units_number?: DecimalInput;
  /** Units shown in current usage when they differ from `units`. */
  current_usage_units?: DecimalInput;
  total_aggregated_units?: DecimalInput;
  events_count?: number;
  /** Cumulative sums for percentage free units; derived from `per_event_amounts` when absent. */
  running_total?: DecimalInput[];
  /** Each event's value in timestamp order (percentage min/max, running totals). */
  per_event_amounts?: DecimalInput[];
  /** Prorated graduated: each event's full and prorated value, in time order. */
  per_event_full_units?: DecimalInput[];
  per_event_prorated_units?: DecimalInput[];
  /** Dynamic: Σ of the events' precise_total_amount_cents. */
  precise_total_amount_cents?: DecimalInput;
  /** Custom: what the custom aggregator computed. */
  custom_aggregation?: { amount?: DecimalInput; units?: DecimalInput };
}
export interface GroupInput extends AggregationInput {
  grouped_by: Record<string, string | null>;
}
export interface ChargeInput {
  charge_model: ChargeModelName;
  properties?: ChargeProperties;
  /** Lago premium licence (default true): per-transaction min/max apply only with it. */
  premium?: boolean;
  prorated?: boolean;
  pay_in_advance?: boolean;
  /** ISO 4217 code, default "EUR". */
  currency?: string;
  /** The metric's aggregation type (default "sum_agg"). */
  aggregation_type?: AggregationType;
  applied_pricing_unit?: { conversion_rate: DecimalInput; short_name?: string };
}
export interface PriceInput extends ChargeInput, AggregationInput {
  /** Price each group on its own and sum. */
  groups?: GroupInput[];
}
export interface ChargeResult {
  charge_model: ChargeModelName;
  units: DecimalString;
  full_units_number?: DecimalString | null;
  total_aggregated_units?: DecimalString | null;
  count: number;
  /** In currency (or pricing-unit) major units, unrounded. */
  amount: DecimalString;
  unit_amount?: DecimalString;
  amount_details: Record<string, unknown>;
  grouped_results?: (Omit<ChargeResult, "charge_model" | "grouped_results"> & {
    grouped_by: Record<string, string | null>;
  })[];
}
export interface FeeInput extends ChargeInput, AggregationInput {
  /** Which units a prorated or in-advance fee shows (default "invoice"). */
  context?: "current_usage" | "invoice";
}
export interface PricingUnitUsage {
  amount_cents: number; precise_amount_cents: DecimalString;
  unit_amount_cents: number; precise_unit_amount: DecimalString; conversion_rate: DecimalString;
}
export interface Fee {
  units: DecimalString;
  events_count: number;
  /** Rounded once, half up, at the currency's exponent. */
  amount_cents: number;
  amount_currency: string;
  precise_amount_cents: DecimalString;
  /** Truncated toward zero, as Lago stores it. */
  unit_amount_cents: number;
  precise_unit_amount: DecimalString;
  total_aggregated_units: DecimalString | null;
  amount_details: Record<string, unknown>;
  pricing_unit_usage: PricingUnitUsage | null;
}
export interface FilterInput extends AggregationInput {
  values: Record<string, string[]>;
  properties?: ChargeProperties;
  invoice_display_name?: string | null;
  groups?: GroupInput[];
}
export interface ChargeUsageInput extends FeeInput {
  groups?: GroupInput[];
  filters?: FilterInput[];
  taxes?: { rate: DecimalInput; code?: string }[];
  /** Spending minimum (cents); a true-up fee is added on invoices. */
  min_amount_cents?: number;
  charges_duration_days?: number;
  billed_days?: number;
}
export interface UsageTotals {
  units: DecimalString;
  events_count: number;
  amount_cents: number;
  amount_currency: string;
  pricing_unit_details: { amount_cents: number; short_name: string | null; conversion_rate: DecimalString } | null;
}
export interface ChargeUsage extends UsageTotals {
  filters: (UsageTotals & { values: Record<string, string[]> | null; invoice_display_name: string | null })[];
  grouped_usage: (UsageTotals & { grouped_by: Record<string, string | null> })[];
  fees: Fee[];
  taxes_amount_cents?: number;
  total_amount_cents?: number;
  true_up_fee: Fee | null;
}
export interface InAdvanceEventInput { value?: DecimalInput; precise_total_amount_cents?: DecimalInput }
export interface PayInAdvanceInput extends ChargeInput {
  /** The period's earlier events, in time order (values, or objects). */
  events_before?: (DecimalInput | InAdvanceEventInput)[];
  event?: DecimalInput | InAdvanceEventInput;
  /** Or the two costs directly. */
  cost_including_event?: DecimalInput;
  cost_excluding_event?: DecimalInput;
  pay_in_advance_units?: DecimalInput;
}
export interface InAdvanceFee {
  units: DecimalString; events_count: number; amount_cents: number; amount_currency: string;
  precise_amount_cents: DecimalString; unit_amount: DecimalString; unit_amount_cents: number;
  amount_details: Record<string, unknown>;
}
export interface InstantEstimate { units: DecimalString; amount: DecimalString }
export interface TrueUpInput {
  min_amount_cents: DecimalInput; used_amount_cents?: DecimalInput; used_precise_amount_cents?: DecimalInput;
  charges_duration_days: number; billed_days: number; currency?: string;
  applied_pricing_unit?: { conversion_rate: DecimalInput; short_name?: string };
}
export interface TrueUpResult { true_up: boolean; fee: Fee | null }
export interface RangeDetailInput {
  charge_model: "graduated" | "graduated_percentage";
  range: GraduatedRangeInput | GraduatedPercentageRangeInput;
  total_units: DecimalInput;
  adjacent_model?: boolean;
}
export type RangeDetail = Record<string, unknown>;
export interface PricingUnitUsageInput { amount: DecimalInput; unit_amount?: DecimalInput; conversion_rate: DecimalInput }
export interface PricingUnitToFiatInput {
  amount_cents: DecimalInput; precise_amount_cents?: DecimalInput; unit_amount_cents?: DecimalInput;
  conversion_rate: DecimalInput; currency?: string;
}
export interface FiatAmounts {
  amount_cents: number; precise_amount_cents: DecimalString;
  /** Not yet truncated (a fee truncates it). */
  unit_amount_cents: DecimalString; precise_unit_amount: DecimalString;
}
export interface ValidateInput {
  charge_model: string;
  properties?: Record<string, unknown>;
  premium?: boolean;
  billable_metric?: { aggregation_type?: AggregationType };
  aggregation_type?: AggregationType;
  pay_in_advance?: boolean;
  prorated?: boolean;
  recurring?: boolean;
  min_amount_cents?: number;
}
/** Lago's error body; thrown errors (name "LagoError") carry these fields too. */
export interface LagoErrorBody {
  status: number;
  error: string;
  code: string;
  error_details: Record<string, string[]>;
}
export interface ValidationResult { valid: boolean; error: LagoErrorBody | null }
export interface CurrencyInfo { code: string; exponent: number; subunit_to_unit: number }

export type Interval = "weekly" | "monthly" | "quarterly" | "semiannual" | "yearly";
/** A subscription and a reference instant; datetimes are ISO 8601 (RFC 3339). */
export interface BillingPeriodInput {
  /** "current_usage": the period containing the instant; "billing": the one invoiced at it. */
  mode?: "current_usage" | "billing";
  reference_instant: string;
  plan: { interval: Interval; pay_in_advance?: boolean; bill_charges_monthly?: boolean; bill_fixed_charges_monthly?: boolean };
  subscription: {
    billing_time: "calendar" | "anniversary";
    subscription_at: string;
    started_at?: string | null;
    status?: "active" | "terminated" | "pending" | "canceled";
    terminated_at?: string | null;
  };
  /** IANA name, default "UTC". */
  customer_timezone?: string;
}
export interface BillingPeriod {
  from_datetime: string | null;
  to_datetime: string | null;
  charges_from_datetime: string | null;
  charges_to_datetime: string | null;
  charges_duration_days: number;
  fixed_charges_from_datetime: string | null;
  fixed_charges_to_datetime: string | null;
  fixed_charges_duration_days: number;
  next_end_of_period: string | null;
  /** The usage response's issuing_date (YYYY-MM-DD). */
  issuing_date: string | null;
}

/** A billable metric aggregated over a window (Lago's aggregation services). */
export interface MetricAggregationInput {
  metric?: {
    aggregation_type: AggregationType;
    field_name?: string | null;
    recurring?: boolean;
    rounding_function?: "round" | "ceil" | "floor" | null;
    rounding_precision?: number | null;
  };
  /** Inclusive instants (RFC 3339). */
  window?: { from: string; to: string; charges_duration_days?: number };
  events?: { timestamp: string; properties?: Record<string, unknown>; precise_total_amount_cents?: DecimalInput }[];
  grouped_by?: string[];
  timezone?: string;
  [key: string]: unknown;
}
export interface MetricAggregationResult {
  aggregation?: DecimalString;
  count?: number;
  current_usage_units?: DecimalString;
  total_aggregated_units?: DecimalString;
  running_total?: DecimalString[];
  groups?: { grouped_by: Record<string, string | null>; aggregation: DecimalString; count: number }[];
  [key: string]: unknown;
}

/** Input of `periodRatio`: a subscription period and the instant to project from. */
export interface PeriodRatioInput {
  from_datetime: string;
  to_datetime: string;
  now: string;
  timezone?: string;
}

/** Lago's projection ratio (`period_ratio` as a decimal string) and the day counts behind it. */
export interface PeriodRatio {
  period_ratio: string;
  days_passed: number;
  total_days: number;
}

// ---------------------------------------------------------------------------------------------
// The usage engine (`Engine`): an organisation in memory. Inputs are the inner objects of Lago's
// API bodies (`POST /customers`' `customer`, …) and are upserts: on an update, keys left out
// keep their stored values, so only the identifying key is required by the types; the engine
// answers a 422 naming the field when a creation lacks a mandatory one.
// ---------------------------------------------------------------------------------------------

/** An instant: RFC 3339 text (`"2025-06-15T10:00:00Z"`) or a `Date`. */
export type InstantInput = string | Date;

/** The organisation's settings (`new Engine(settings)`, `configure`). Absent keys keep their defaults. */
export interface OrganizationInput {
  /** Lago's premium licence (default true): per-transaction min/max, projected usage, … */
  premium?: boolean | null;
  /** Premium integrations turned on (default `["projected_usage", "granular_lifetime_usage"]`). */
  premium_integrations?: string[] | null;
  /** IANA timezone of customers that have none (default "UTC"). */
  timezone?: string | null;
  [key: string]: unknown;
}

/** `POST /customers`' `customer` (an upsert by `external_id`). */
export interface CustomerInput {
  external_id: string;
  name?: string | null;
  /** ISO 4217 code (usage is always in the plan's currency). */
  currency?: string | null;
  /** IANA name; periods are cut at local midnight. Default: the organisation's. */
  timezone?: string | null;
  /** Taxes of its fees when neither the charge nor the plan has any. */
  tax_codes?: string[] | null;
  [key: string]: unknown;
}

/** `POST /taxes`' `tax` (an upsert by `code`). */
export interface TaxInput {
  code: string;
  name?: string | null;
  /** Percent: "20" is 20 %. Mandatory on creation. */
  rate?: DecimalInput;
  /** A default tax of the organisation (used when charge, plan and customer have none). */
  applied_to_organization?: boolean | null;
  /** `"billing_entity"` reads as `applied_to_organization: true`. */
  applied_to?: string | null;
  description?: string | null;
  [key: string]: unknown;
}

/** A billable metric filter: the values a property may take. */
export interface BillableMetricFilterInput { key: string; values: string[] }

/** `POST /billable_metrics`' `billable_metric` (an upsert by `code`). */
export interface BillableMetricInput {
  code: string;
  /** Usage lists charges by this name (case-insensitive); the code when absent. */
  name?: string | null;
  /** Mandatory on creation. */
  aggregation_type?: AggregationType;
  /** The property aggregated (every aggregation but count_agg needs one). */
  field_name?: string | null;
  recurring?: boolean | null;
  rounding_function?: "round" | "ceil" | "floor" | null;
  rounding_precision?: number | null;
  filters?: BillableMetricFilterInput[] | null;
  description?: string | null;
  [key: string]: unknown;
}

/** A custom pricing unit (`POST /pricing_units`' `pricing_unit`). */
export interface PricingUnitInput {
  code: string;
  name?: string | null;
  short_name?: string | null;
  description?: string | null;
  [key: string]: unknown;
}

/** One filter of a plan charge: the metric filter values it matches and how they are priced. */
export interface ChargeFilterInput {
  /** Metric filter key → some of its declared values, or `["__ALL_FILTER_VALUES__"]`. */
  values: Record<string, string[] | string>;
  /** Replace the charge's properties for the matching events (default: the charge's). */
  properties?: ChargeProperties | null;
  invoice_display_name?: string | null;
}

/**
 * A charge of a plan (`POST /plans`' `plan.charges[]`). Named `PlanChargeInput` because
 * `ChargeInput` is the stateless pricing input of `priceCharge` & co.
 */
export interface PlanChargeInput {
  /** The metric's code; or `billable_metric_id`, its code or lago_id as Lago's API takes it. */
  billable_metric_code?: string;
  billable_metric_id?: string;
  charge_model: ChargeModelName;
  /** Unique in the plan (usage filters on it); the metric's code when absent. */
  code?: string | null;
  properties?: ChargeProperties | null;
  filters?: ChargeFilterInput[] | null;
  pay_in_advance?: boolean | null;
  prorated?: boolean | null;
  invoiceable?: boolean | null;
  invoice_display_name?: string | null;
  /** Spending minimum in cents (invoices only; never part of usage). */
  min_amount_cents?: number | null;
  /** The charge's own taxes (first in precedence). */
  tax_codes?: string[] | null;
  /** Amounts in a custom pricing unit, converted to the plan's currency at `conversion_rate`. */
  applied_pricing_unit?: { code: string; conversion_rate: DecimalInput } | null;
  [key: string]: unknown;
}

/** `POST /plans`' `plan` (an upsert by `code`; `charges` given replace the stored ones). */
export interface PlanInput {
  code: string;
  name?: string | null;
  /** Mandatory on creation. */
  interval?: Interval;
  /** ISO 4217 code of every fee. Mandatory on creation. */
  amount_currency?: string;
  /** The subscription fee (not part of usage). */
  amount_cents?: number | null;
  pay_in_advance?: boolean | null;
  bill_charges_monthly?: boolean | null;
  /** Taxes of the plan's fees when the charge has none. */
  tax_codes?: string[] | null;
  charges?: PlanChargeInput[] | null;
  description?: string | null;
  invoice_display_name?: string | null;
  [key: string]: unknown;
}

/** `POST /subscriptions`' `subscription` (an upsert by `external_id`). */
export interface SubscriptionInput {
  external_id: string;
  /** An unknown customer is created. Mandatory on creation. */
  external_customer_id?: string;
  /** Mandatory on creation; an unknown plan is 404 `plan_not_found`. */
  plan_code?: string;
  name?: string | null;
  /** Default "calendar". */
  billing_time?: "calendar" | "anniversary" | null;
  /** Default: `started_at`, else the `now` of the call. */
  subscription_at?: InstantInput | null;
  /** Default: `subscription_at`. */
  started_at?: InstantInput | null;
  ending_at?: InstantInput | null;
  status?: "active" | "pending" | "terminated" | "canceled" | null;
  /** Mandatory with `status: "terminated"`. */
  terminated_at?: InstantInput | null;
  [key: string]: unknown;
}

/** `ingestBulk`'s options. */
export interface BulkOptions {
  /**
   * Drop an event whose (`external_subscription_id`, `transaction_id`) is already stored or
   * repeats an earlier one of the text, and store the others (default: refuse the whole text
   * with `value_already_exist` at the event's index, as Lago does).
   */
  skipDuplicates?: boolean;
}

/** `POST /events`' `event`. Deduplicated per (`external_subscription_id`, `transaction_id`). */
export interface EventInput {
  transaction_id: string | number;
  code: string | number;
  external_subscription_id?: string | number | null;
  /** Unix seconds, fraction allowed (`1749945600`, `"1749945600.123"`); default: `now`. */
  timestamp?: number | string | null;
  properties?: Record<string, unknown> | null;
  /** Dynamic charge model: the event's amount in cents. */
  precise_total_amount_cents?: DecimalInput | null;
}

/** A group filter value: one value or any of several. */
export type GroupFilterValue = string | number | (string | number)[];

/** The query of `currentUsage` / `projectedUsage` (Lago's query parameters, plus `now`). */
export interface UsageQuery {
  /** Unknown: 404 `customer_not_found`. */
  external_customer_id: string;
  /** Absent, another customer's or not active: 405 `no_active_subscription`. */
  external_subscription_id?: string | null;
  /** The instant the usage is asked at (RFC 3339 text; a `Date` is sent as its ISO text). */
  now: string | Date;
  /** Default true. */
  apply_taxes?: boolean | string | null;
  /** Only one charge (`charge_id` > `charge_code` > `billable_metric_code`); none matches: 404 `charge_not_found`. */
  charge_id?: string | null;
  filter_by_charge_id?: string | null;
  charge_code?: string | null;
  filter_by_charge_code?: string | null;
  billable_metric_code?: string | null;
  filter_by_metric_code?: string | null;
  /** Only events whose property `key` is (one of) the value(s); an object or its JSON text. */
  group?: Record<string, GroupFilterValue> | string | null;
  filter_by_group?: Record<string, GroupFilterValue> | string | null;
  /** One fee per filter bucket, pricing groups merged. */
  skip_grouping?: boolean | string | null;
  /** From the subscription's start (premium `granular_lifetime_usage`, with a charge, metric or group filter). */
  full_usage?: boolean | string | null;
}

/** The query of `pastUsage`. */
export interface PastUsageQuery {
  /** Another customer's subscription, or an unknown customer: an empty list. */
  external_customer_id?: string | null;
  /** Absent: 422 `{external_subscription_id: ["value_is_mandatory"]}`. */
  external_subscription_id: string;
  /** Periods ended before this instant are listed. */
  now: string | Date;
  /** Only this metric's charges (unknown: 404 `billable_metric_not_found`). */
  billable_metric_code?: string | null;
  /** Periods per page (overrides `per_page`). */
  periods_count?: number | string | null;
  /** Default 1. */
  page?: number | string | null;
  /** Default 100. */
  per_page?: number | string | null;
}

/** `pricing_unit_details` of a usage line (amounts in pricing-unit cents). */
export interface PricingUnitDetails {
  amount_cents: number;
  short_name: string | null;
  conversion_rate: DecimalString;
}
export interface PresentationBreakdown {
  presentation_by: Record<string, string | null>;
  units: DecimalString;
}
/** Units, cents and counts of a usage line (a charge, one of its filters or groups). */
export interface UsageLineTotals {
  units: DecimalString;
  total_aggregated_units: DecimalString;
  events_count: number;
  amount_cents: number;
  amount_currency: string;
  pricing_unit_details: PricingUnitDetails | null;
}
/** `filters[]` of a charge: its charge filters (oldest first), then the default bucket (`values: null`). */
export interface CustomerUsageFilter extends UsageLineTotals {
  invoice_display_name: string | null;
  values: Record<string, string[]> | null;
  presentation_breakdowns: PresentationBreakdown[];
}
/** `grouped_usage[]` of a charge priced per `pricing_group_keys` value. */
export interface CustomerUsageGroup extends UsageLineTotals {
  grouped_by: Record<string, string | null>;
  filters: CustomerUsageFilter[];
  presentation_breakdowns: PresentationBreakdown[];
}
export interface UsageBillableMetric {
  lago_id: string;
  name: string;
  code: string;
  aggregation_type: AggregationType;
}
/** One `charges_usage[]` entry. */
export interface CustomerChargeUsage extends UsageLineTotals {
  charge: { lago_id: string; code: string; charge_model: ChargeModelName; invoice_display_name: string | null };
  billable_metric: UsageBillableMetric;
  filters: CustomerUsageFilter[];
  grouped_usage: CustomerUsageGroup[];
  presentation_breakdowns: PresentationBreakdown[];
}
/** A period's usage (`customer_usage`, or one of `usage_periods`). Instants are `2025-06-30T23:59:59Z`. */
export interface CustomerUsage {
  from_datetime: string;
  to_datetime: string;
  /** YYYY-MM-DD. */
  issuing_date: string;
  currency: string;
  /** Σ of the fees, before taxes. */
  amount_cents: number;
  total_amount_cents: number;
  /** Σ over fees and taxes of amount × rate, rounded once. */
  taxes_amount_cents: number;
  /** null for current usage. */
  lago_invoice_id: string | null;
  charges_usage: CustomerChargeUsage[];
}
/** `GET /customers/{id}/current_usage`'s body. */
export interface CurrentUsageResponse {
  customer_usage: CustomerUsage;
}

/** What `projectedUsage` adds to a usage line (and drops: `total_aggregated_units`). */
export interface ProjectedLineFields {
  /** round(units / ratio, 2), ratio = days begun (today included) / days of the period. */
  projected_units: DecimalString;
  projected_amount_cents: number;
  projected_presentation_breakdowns: PresentationBreakdown[];
  pricing_unit_details: (PricingUnitDetails & { projected_amount_cents: number }) | null;
}
export type ProjectedUsageLineTotals = Omit<UsageLineTotals, "total_aggregated_units" | "pricing_unit_details">
  & ProjectedLineFields;
/** The default bucket is not projected (`projected_units` "0.0"). */
export interface ProjectedUsageFilter extends ProjectedUsageLineTotals {
  invoice_display_name: string | null;
  values: Record<string, string[]> | null;
  presentation_breakdowns: PresentationBreakdown[];
}
export interface ProjectedUsageGroup extends ProjectedUsageLineTotals {
  grouped_by: Record<string, string | null>;
  filters: ProjectedUsageFilter[];
  presentation_breakdowns: PresentationBreakdown[];
}
/** A projected `charges_usage[]` entry; a charge with filters projects its filter buckets only. */
export interface ProjectedChargeUsage extends ProjectedUsageLineTotals {
  charge: { lago_id: string; charge_model: ChargeModelName; invoice_display_name: string | null };
  billable_metric: UsageBillableMetric;
  filters: ProjectedUsageFilter[];
  grouped_usage: ProjectedUsageGroup[];
  presentation_breakdowns: PresentationBreakdown[];
}
export interface ProjectedCustomerUsage extends Omit<CustomerUsage, "charges_usage"> {
  /** Σ of the charges' `projected_amount_cents`. */
  projected_amount_cents: number;
  charges_usage: ProjectedChargeUsage[];
}
/** `GET /customers/{id}/projected_usage`'s body. */
export interface ProjectedUsageResponse {
  customer_projected_usage: ProjectedCustomerUsage;
}

/** Lago's pagination meta (`current_page` 0 and `total_pages` 0 when nothing matches). */
export interface PaginationMeta {
  current_page: number;
  next_page: number | null;
  prev_page: number | null;
  total_pages: number;
  total_count: number;
}
/** A closed period: only charges with units, events or an amount are listed. */
export interface PastUsagePeriod extends CustomerUsage {
  lago_invoice_id: string;
}
/** `GET /customers/{id}/past_usage`'s body: closed periods, newest first. */
export interface PastUsageResponse {
  usage_periods: PastUsagePeriod[];
  meta: PaginationMeta;
}

/**
 * `Engine.export()`: the whole state as plain JSON (store it with `JSON.stringify`), read back
 * by `Engine.import`. Treat it as opaque: only `format` is a promise.
 */
export interface EngineState {
  format: "usage-calc/1";
  organization: OrganizationInput;
  taxes: { lago_id: string; input: TaxInput }[];
  customers: { lago_id: string; input: CustomerInput }[];
  billable_metrics: { lago_id: string; input: BillableMetricInput }[];
  pricing_units: PricingUnitInput[];
  plans: { lago_id: string; input: PlanInput }[];
  subscriptions: { lago_id: string; input: SubscriptionInput }[];
  /** Timestamps as exact Unix seconds text. */
  events: {
    transaction_id: string;
    external_subscription_id: string;
    code: string;
    timestamp: string;
    properties: Record<string, unknown>;
    precise_total_amount_cents: string | null;
  }[];
  /** Closed periods kept as they were when the configuration changed, per subscription. */
  frozen_periods: Record<string, { charges_from: string; usage: PastUsagePeriod }[]>;
  /** The latest `now` the engine was given. */
  clock: string | null;
  next_id: number;
}

/** One HTTP request for `Engine.handle` (Lago's REST API under `/api/v1`). */
export interface ApiRequest {
  /** `GET`, `POST`, `PUT`, `DELETE` (`OPTIONS` answers a CORS preflight). */
  method: string;
  /** The raw path before `?`, still percent-encoded: `/api/v1/customers/acme`. */
  path: string;
  /** The raw query string without `?`. */
  query?: string;
  /** Header names in any case; `authorization: Bearer <key>` is required. */
  headers?: Record<string, string>;
  /** JSON text. */
  body?: string;
}

/** What `Engine.handle` answers: Lago's status and JSON body. */
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON text (empty for a preflight). */
  body: string;
}
