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
