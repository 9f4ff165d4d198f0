//! Current usage of one subscription: every charge of its plan, each filter bucket and pricing
//! group priced into a fee, then taxes (Lago's `Invoices::CustomerUsageService` and
//! `Fees::ChargeService` in `current_usage` context).

use super::model::{
    Charge, ChargeFilterDef, Customer, Metric, Organization, Plan, Subscription, Tax,
};
use super::running::{Need, RunningCache};
use super::store::EventStore;
use crate::aggregations::filters::FilterValues;
use crate::aggregations::{
    self, AggregationParams, AggregationResult, Breakdown, ChargeSettings, FreeUnits, GroupValues,
    UsageContext, Window,
};
use crate::charge_models::{Aggregation, ChargeModel, Context};
use crate::error::{Error, Result};
use crate::fees::{self, Fee, FeeContext};
use crate::money::{add, div_or_zero, mul, round_half_up, Currency};
use crate::period::tz::Tz;
use crate::period::{self, Boundaries, Mode, PeriodInput};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// A bucket's result from the running states: `None` when not asked (no cache), `Some(Ok(None))`
/// when not kept there (the event walk answers).
type Kept = Option<Result<Option<AggregationResult>>>;

/// The usage filters of Lago's `UsageFilters` (query parameters of the usage endpoints).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageFilters {
    /// Only this charge (`charge_id` / `filter_by_charge_id`).
    pub charge_id: Option<String>,
    /// Only this charge (`charge_code` / `filter_by_charge_code`).
    pub charge_code: Option<String>,
    /// Only the charges of this metric (`billable_metric_code` / `filter_by_metric_code`).
    pub billable_metric_code: Option<String>,
    /// Only events whose properties hold one of these values (`group` / `filter_by_group`).
    pub group: Option<FilterValues>,
    /// One fee per bucket, pricing groups merged.
    pub skip_grouping: bool,
    /// From the subscription's start instead of the period's (premium).
    pub full_usage: bool,
}

impl UsageFilters {
    fn selects_charges(&self) -> bool {
        self.charge_id.is_some()
            || self.charge_code.is_some()
            || self.billable_metric_code.is_some()
    }
}

/// One usage line: a bucket's fee for one pricing group.
#[derive(Debug, Clone)]
pub struct FeeLine {
    /// The pricing group (`None` when the charge is not grouped).
    pub grouped_by: Option<GroupValues>,
    /// The fee in cents.
    pub fee: Fee,
    /// What the model priced (the projection re-prices it).
    pub aggregation: Aggregation,
    /// Presentation breakdowns of the line.
    pub breakdowns: Vec<Breakdown>,
}

/// One filter bucket of a charge (a charge filter, or the default bucket).
#[derive(Debug, Clone)]
pub struct BucketUsage<'a> {
    /// The filter (`None`: the default bucket).
    pub filter: Option<&'a ChargeFilterDef>,
    /// The bucket's model (the filter's properties, or the charge's).
    pub model: &'a ChargeModel,
    /// One line per pricing group.
    pub lines: Vec<FeeLine>,
}

/// The usage of one charge.
#[derive(Debug, Clone)]
pub struct ChargeUsage<'a> {
    /// The charge.
    pub charge: &'a Charge,
    /// Its metric.
    pub metric: &'a Metric,
    /// Filters first (oldest first), the default bucket last.
    pub buckets: Vec<BucketUsage<'a>>,
}

impl ChargeUsage<'_> {
    /// Every fee line of the charge, buckets in order.
    pub fn lines(&self) -> impl Iterator<Item = &FeeLine> {
        self.buckets.iter().flat_map(|b| b.lines.iter())
    }
}

/// The usage of a subscription's period.
#[derive(Debug, Clone)]
pub struct Usage<'a> {
    /// The period.
    pub boundaries: Boundaries,
    /// The charges window (`from_datetime`/`to_datetime` of the response).
    pub window: Window,
    /// The plan's currency.
    pub currency: Currency,
    /// Per charge, in Lago's order.
    pub charges: Vec<ChargeUsage<'a>>,
    /// Σ of the fees.
    pub amount_cents: Decimal,
    /// Taxes, rounded once.
    pub taxes_amount_cents: Decimal,
}

/// Everything one usage computation reads.
pub struct Scope<'a> {
    /// The organisation.
    pub org: &'a Organization,
    /// The customer.
    pub customer: &'a Customer,
    /// The subscription.
    pub subscription: &'a Subscription,
    /// Its plan.
    pub plan: &'a Plan,
    /// Metrics by code.
    pub metric: &'a dyn Fn(&str) -> Option<&'a Metric>,
    /// Taxes by code.
    pub tax: &'a dyn Fn(&str) -> Option<&'a Tax>,
    /// The organisation's default taxes.
    pub default_taxes: Vec<&'a Tax>,
    /// Stored events.
    pub events: &'a EventStore,
    /// Running aggregates (the fast path; `None` walks the events).
    pub running: Option<&'a RunningCache>,
}

impl<'a> Scope<'a> {
    /// The customer's timezone (else the organisation's).
    pub fn timezone(&self) -> Tz {
        self.customer.timezone.unwrap_or(self.org.timezone)
    }

    /// The period inputs of the subscription at `reference`.
    pub fn period_input(&self, mode: Mode, reference: DateTime<Utc>) -> PeriodInput {
        PeriodInput {
            mode,
            reference,
            interval: self.plan.interval,
            pay_in_advance: self.plan.pay_in_advance,
            bill_charges_monthly: self.plan.bill_charges_monthly,
            bill_fixed_charges_monthly: false,
            billing_time: self.subscription.billing_time,
            subscription_at: self.subscription.subscription_at,
            started_at: self.subscription.started_at,
            terminated_at: self.subscription.terminated(),
            timezone: self.timezone(),
        }
    }

    /// The current period at `now`.
    pub fn current_period(&self, now: DateTime<Utc>) -> Result<Boundaries> {
        period::boundaries::boundaries(&self.period_input(Mode::CurrentUsage, now))
    }

    /// The charges window of a period.
    pub fn window(&self, boundaries: &Boundaries) -> Result<Window> {
        let charges = boundaries
            .charges_period()
            .ok_or_else(|| Error::invalid("period", "no_charges_period"))?;
        Ok(Window {
            from: charges.from,
            to: charges.to,
            charges_duration_days: Some(boundaries.charges_duration_days),
            timezone: self.timezone(),
        })
    }

    /// The charges the filters select, in Lago's order (metric name, case-insensitive, unless
    /// a charge or metric filter is used). A filter that matches no charge is 404.
    pub fn selected_charges(
        &self,
        filters: &UsageFilters,
    ) -> Result<Vec<(&'a Charge, &'a Metric)>> {
        let mut charges = Vec::with_capacity(self.plan.charges.len());
        for charge in &self.plan.charges {
            let wanted = match (
                &filters.charge_id,
                &filters.charge_code,
                &filters.billable_metric_code,
            ) {
                (Some(id), _, _) => &charge.lago_id == id,
                (None, Some(code), _) => &charge.code == code,
                (None, None, Some(code)) => &charge.metric_code == code,
                (None, None, None) => true,
            };
            if !wanted {
                continue;
            }
            // A charge whose metric was deleted no longer bills (Lago discards it with the metric).
            if let Some(metric) = (self.metric)(&charge.metric_code) {
                charges.push((charge, metric));
            }
        }
        if filters.selects_charges() {
            if charges.is_empty() {
                return Err(Error::not_found("charge"));
            }
        } else {
            crate::sort::sort_by(&mut charges, |(_, a), (_, b)| a.sort_name.cmp(&b.sort_name));
        }
        Ok(charges)
    }

    /// Lago's `full_usage` rule: premium `granular_lifetime_usage`, a charge, metric or group
    /// filter, and no prorated charge among the selected ones.
    pub fn check_full_usage(
        &self,
        filters: &UsageFilters,
        charges: &[(&Charge, &Metric)],
    ) -> Result<()> {
        if !filters.full_usage {
            return Ok(());
        }
        let allowed = self.org.premium
            && self.org.has_integration("granular_lifetime_usage")
            && (filters.selects_charges() || filters.group.is_some())
            && charges.iter().all(|(c, _)| !c.prorated);
        if allowed {
            Ok(())
        } else {
            Err(Error::NotAllowed("full_usage_not_allowed".into()))
        }
    }

    /// Taxes of a charge's fees: the charge's, else the plan's, else the customer's, else the
    /// organisation's defaults.
    pub fn taxes_of(&self, charge: &Charge) -> Vec<&'a Tax> {
        let lists = [
            &charge.tax_codes,
            &self.plan.tax_codes,
            &self.customer.tax_codes,
        ];
        for codes in lists {
            let taxes: Vec<&Tax> = codes.iter().filter_map(|c| (self.tax)(c)).collect();
            if !taxes.is_empty() {
                return taxes;
            }
        }
        self.default_taxes.clone()
    }

    /// The usage of the period `boundaries` (current usage: the period holding `now`).
    pub fn usage(
        &self,
        boundaries: Boundaries,
        filters: &UsageFilters,
        apply_taxes: bool,
    ) -> Result<Usage<'a>> {
        let charges = self.selected_charges(filters)?;
        self.check_full_usage(filters, &charges)?;
        let mut window = self.window(&boundaries)?;
        if filters.full_usage {
            window.from = self.subscription.started_at;
        }
        // Every bucket's aggregation first (charge by charge, flat: charge `c`'s buckets from
        // `starts[c]`), so that the running states of a code are built together.
        let mut planned: Vec<AggregationParams> = Vec::new();
        let mut starts = Vec::with_capacity(charges.len() + 1);
        for &(charge, metric) in &charges {
            starts.push(planned.len());
            self.buckets_params(charge, metric, &window, filters, &mut planned);
        }
        starts.push(planned.len());
        let mut kept: Vec<Kept> = planned.iter().map(|_| None).collect();
        if let Some(running) = self.running {
            self.running_results(running, &charges, &planned, &starts, &mut kept);
        }
        let mut usages = Vec::with_capacity(charges.len());
        for (at, (charge, metric)) in charges.into_iter().enumerate() {
            let buckets = starts.get(at).copied().unwrap_or_default()
                ..starts.get(at + 1).copied().unwrap_or_default();
            let params = planned.get(buckets.clone()).unwrap_or_default();
            let kept = kept.get_mut(buckets).unwrap_or_default();
            usages.push(self.charge_usage(charge, metric, params, kept)?);
        }
        let mut amount_cents = Decimal::ZERO;
        let mut taxes_total = Decimal::ZERO;
        for usage in &usages {
            let rates: Vec<Decimal> = if apply_taxes {
                self.taxes_of(usage.charge).iter().map(|t| t.rate).collect()
            } else {
                Vec::new()
            };
            for line in usage.lines() {
                amount_cents = add(amount_cents, line.fee.amount_cents)?;
                for rate in &rates {
                    let tax =
                        div_or_zero(mul(line.fee.amount_cents, *rate)?, Decimal::ONE_HUNDRED)?;
                    taxes_total = add(taxes_total, tax)?;
                }
            }
        }
        Ok(Usage {
            boundaries,
            window,
            currency: self.plan.currency,
            charges: usages,
            amount_cents,
            taxes_amount_cents: round_half_up(taxes_total, 0),
        })
    }

    /// The aggregation of each bucket of a charge (its filters, then the default bucket).
    fn buckets_params(
        &self,
        charge: &Charge,
        metric: &Metric,
        window: &Window,
        filters: &UsageFilters,
        planned: &mut Vec<AggregationParams>,
    ) {
        let targets = charge.filters.iter().map(Some).chain(std::iter::once(None));
        planned.extend(targets.zip(&charge.buckets).map(|(filter, rule)| {
            let model = filter.map_or(&charge.model, |f| &f.model);
            let mut params = AggregationParams::new(std::sync::Arc::clone(&metric.metric), *window);
            params.filter = std::sync::Arc::clone(&rule.events);
            if let Some(group) = &filters.group {
                restrict(
                    &mut std::sync::Arc::make_mut(&mut params.filter).matching,
                    group,
                );
            }
            if !filters.skip_grouping {
                params.grouped_by = charge.group_keys.clone();
            }
            params.presentation_by = rule.presentation_by.clone();
            params.charge = ChargeSettings {
                prorated: charge.prorated,
                pay_in_advance: charge.pay_in_advance,
                dynamic: matches!(charge.model, ChargeModel::Dynamic),
            };
            params.context = UsageContext::CurrentUsage;
            params.free_units = free_units(model);
            params.with_per_event_values = needs_per_event_values(model, charge);
            if let ChargeModel::Percentage(percentage) = model {
                params.event_price = percentage.event_price();
            }
            params
        }));
    }

    /// Each bucket's result from the running states (`None`: the event walk answers), per
    /// charge: the states of one metric code are built in one walk over its events for all the
    /// buckets of the charges on it, not one walk per bucket.
    fn running_results(
        &self,
        running: &RunningCache,
        charges: &[(&'a Charge, &'a Metric)],
        planned: &[AggregationParams],
        starts: &[usize],
        kept: &mut [Kept],
    ) {
        // Reused across codes: a query asks for a few buckets per code.
        let mut slots = Vec::new();
        let mut needs: Vec<Need<'_>> = Vec::new();
        for (first, (charge, _)) in charges.iter().enumerate() {
            let code = charge.metric_code.as_str();
            let earlier = charges.get(..first).unwrap_or_default();
            if earlier.iter().any(|(c, _)| c.metric_code == code) {
                continue;
            }
            slots.clear();
            needs.clear();
            for (at, (charge, _)) in charges.iter().enumerate().skip(first) {
                if charge.metric_code != code {
                    continue;
                }
                let start = starts.get(at).copied().unwrap_or_default();
                let end = starts.get(at + 1).copied().unwrap_or_default();
                for (bucket, slot) in (start..end).enumerate() {
                    if let Some(params) = planned.get(slot) {
                        slots.push(slot);
                        needs.push((charge, bucket, params));
                    }
                }
            }
            let events = self.events.events(&self.subscription.external_id, code);
            running.results(self.subscription, &needs, events, |at, result| {
                if let Some(slot) = slots.get(at).and_then(|&slot| kept.get_mut(slot)) {
                    *slot = Some(result);
                }
            });
        }
    }

    fn charge_usage(
        &self,
        charge: &'a Charge,
        metric: &'a Metric,
        params: &[AggregationParams],
        kept: &mut [Kept],
    ) -> Result<ChargeUsage<'a>> {
        let mut buckets = Vec::with_capacity(charge.buckets.len());
        let targets = charge.filters.iter().map(Some).chain(std::iter::once(None));
        for (index, (filter, params)) in targets.zip(params).enumerate() {
            let model = filter.map_or(&charge.model, |f| &f.model);
            let kept = kept.get_mut(index).and_then(Option::take);
            let result = match kept.transpose()?.flatten() {
                Some(result) => result,
                None => self.walk(charge, params)?,
            };
            let lines = self.price(charge, model, result)?;
            buckets.push(BucketUsage {
                filter,
                model,
                lines,
            });
        }
        Ok(ChargeUsage {
            charge,
            metric,
            buckets,
        })
    }

    /// A bucket's result from the stored events.
    fn walk(&self, charge: &Charge, params: &AggregationParams) -> Result<AggregationResult> {
        let events = self
            .events
            .events(&self.subscription.external_id, &charge.metric_code);
        aggregations::aggregate_events(events, params)
    }

    fn price(
        &self,
        charge: &Charge,
        model: &ChargeModel,
        result: AggregationResult,
    ) -> Result<Vec<FeeLine>> {
        let ctx = Context {
            premium: self.org.premium,
            prorated: charge.prorated,
            currency: self.plan.currency,
            exclude_event: false,
        };
        let pricing_unit = charge.pricing_unit.as_ref().map(|u| &u.applied);
        let line = |grouped_by: Option<GroupValues>, result: &AggregationResult, breakdowns| {
            let aggregation = result.to_charge_aggregation();
            let priced = model
                .apply(&aggregation, &ctx)
                .map_err(|e| e.in_field("amount_cents"))?;
            let units = fees::shown_units(
                &aggregation,
                charge.prorated,
                charge.pay_in_advance,
                FeeContext::CurrentUsage,
            );
            let fee = fees::build(priced, &aggregation, units, ctx.currency, pricing_unit)?;
            Ok(FeeLine {
                grouped_by,
                fee,
                aggregation,
                breakdowns,
            })
        };
        match &result.groups {
            None => Ok(vec![line(None, &result, result.breakdowns.clone())?]),
            Some(groups) => groups
                .iter()
                .map(|group| {
                    let breakdowns = result
                        .breakdowns
                        .iter()
                        .filter(|b| in_group(b, &group.grouped_by))
                        .cloned()
                        .collect();
                    line(Some(group.grouped_by.clone()), &group.result, breakdowns)
                })
                .collect(),
        }
    }
}

/// Adds the `group[key]=values` restriction to a bucket's matching values (AND across keys,
/// intersected with the bucket's own values on a shared key).
fn restrict(matching: &mut FilterValues, group: &FilterValues) {
    for (key, values) in &group.0 {
        match matching.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, existing)) => existing.retain(|v| values.contains(v)),
            None => matching.0.push((key.clone(), values.clone())),
        }
    }
}

/// A breakdown row belongs to a group when it agrees on each of the group's keys.
fn in_group(breakdown: &Breakdown, group: &GroupValues) -> bool {
    group.iter().all(|(key, value)| {
        breakdown
            .groups
            .iter()
            .find(|(k, _)| k == key)
            .is_none_or(|(_, v)| v == value)
    })
}

/// The percentage model's free units ask the aggregation for running totals.
fn free_units(model: &ChargeModel) -> FreeUnits {
    match model {
        ChargeModel::Percentage(p) => FreeUnits {
            per_events: p.free_units_per_events,
            per_total_aggregation: p.free_units_per_total_aggregation,
        },
        _ => FreeUnits::default(),
    }
}

/// Per-event values are needed by percentage min/max and prorated graduated only.
fn needs_per_event_values(model: &ChargeModel, charge: &Charge) -> bool {
    match model {
        ChargeModel::Percentage(p) => {
            p.per_transaction_min_amount.is_some() || p.per_transaction_max_amount.is_some()
        }
        ChargeModel::Graduated(_) => charge.prorated,
        _ => false,
    }
}
