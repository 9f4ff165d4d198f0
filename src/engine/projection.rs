//! Projected usage: each fee line scaled to the end of the period (Lago's
//! `Fees::ProjectionService`).
//!
//! `ratio` = days begun (today included) / days of the subscription period. Units project to
//! `round(units / ratio, 2)` and are priced again for standard, package, graduated and volume;
//! the other models scale their amount (`amount / ratio`, on an aggregation without running
//! totals, so percentage free units are not deducted). Recurring metrics project to their
//! current values.

use super::usage::FeeLine;
use crate::aggregations::Breakdown;
use crate::charge_models::{Aggregation, ChargeModel, Context};
use crate::error::Result;
use crate::fees::{AppliedPricingUnit, PricingUnitUsage};
use crate::money::{add, div_or_zero, round_half_up, to_cents};
use rust_decimal::Decimal;

/// A projection of a set of fee lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// Projected units.
    pub units: Decimal,
    /// Projected amount in currency cents.
    pub amount_cents: Decimal,
    /// Projected amount in pricing-unit cents (`None` when the charge has no pricing unit).
    pub pricing_unit_amount_cents: Option<Decimal>,
    /// Projected presentation breakdowns.
    pub breakdowns: Vec<Breakdown>,
}

/// How to project the lines of one charge.
pub struct Projector<'a> {
    /// The elapsed share of the period, in (0, 1] (else nothing is projected).
    pub ratio: Decimal,
    /// The metric carries over periods: the projection is the current usage.
    pub recurring: bool,
    /// How the charge computes (premium, proration, currency).
    pub ctx: Context,
    /// The charge's pricing unit.
    pub pricing_unit: Option<&'a AppliedPricingUnit>,
}

impl Projector<'_> {
    /// The projection of `lines`, each priced with `model` (Σ over the lines).
    pub fn project<'l>(
        &self,
        lines: impl Iterator<Item = (&'l FeeLine, &'l ChargeModel)>,
    ) -> Result<Projection> {
        let mut total = Projection {
            pricing_unit_amount_cents: self.pricing_unit.map(|_| Decimal::ZERO),
            ..Projection::default()
        };
        let mut any = false;
        for (line, model) in lines {
            any = true;
            let one = self.project_line(line, model)?;
            total.units = add(total.units, one.units)?;
            total.amount_cents = add(total.amount_cents, one.amount_cents)?;
            if let (Some(sum), Some(cents)) = (
                total.pricing_unit_amount_cents,
                one.pricing_unit_amount_cents,
            ) {
                total.pricing_unit_amount_cents = Some(add(sum, cents)?);
            }
            total.breakdowns.extend(one.breakdowns);
        }
        if !any {
            return Ok(Projection::default());
        }
        Ok(total)
    }

    fn project_line(&self, line: &FeeLine, model: &ChargeModel) -> Result<Projection> {
        if self.recurring {
            return Ok(Projection {
                units: line.fee.units,
                amount_cents: line.fee.amount_cents,
                pricing_unit_amount_cents: line
                    .fee
                    .pricing_unit_usage
                    .as_ref()
                    .map(|u| u.amount_cents),
                breakdowns: line.breakdowns.clone(),
            });
        }
        if self.ratio <= Decimal::ZERO || self.ratio > Decimal::ONE {
            return Ok(Projection::default());
        }
        let units = line.aggregation.units;
        let projected_units = if units.is_zero() {
            Decimal::ZERO
        } else {
            round_half_up(div_or_zero(units, self.ratio)?, 2)
        };
        let amount = match model {
            ChargeModel::Standard(_)
            | ChargeModel::Package(_)
            | ChargeModel::Volume(_)
            | ChargeModel::Graduated(_)
                if !self.ctx.prorated =>
            {
                let projected = Aggregation {
                    units: projected_units,
                    events_count: line.aggregation.events_count,
                    ..Aggregation::default()
                };
                model.apply(&projected, &self.ctx)?.amount
            }
            _ => {
                let current = Aggregation {
                    running_total: Vec::new(),
                    ..line.aggregation.clone()
                };
                let amount = model.apply(&current, &self.ctx)?.amount;
                if amount.is_zero() {
                    Decimal::ZERO
                } else {
                    div_or_zero(amount, self.ratio)?
                }
            }
        };
        let amount = amount.max(Decimal::ZERO);
        let (amount_cents, pricing_unit_amount_cents) = match self.pricing_unit {
            None => (to_cents(amount, self.ctx.currency)?, None),
            Some(unit) => {
                let usage = PricingUnitUsage::build(amount, Decimal::ZERO, unit.conversion_rate)?;
                let fiat = usage.to_fiat(self.ctx.currency)?;
                (fiat.amount_cents, Some(usage.amount_cents))
            }
        };
        let exponent = self.ctx.currency.exponent;
        let breakdowns = line
            .breakdowns
            .iter()
            .map(|b| {
                Ok(Breakdown {
                    groups: b.groups.clone(),
                    value: round_half_up(div_or_zero(b.value, self.ratio)?, exponent),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Projection {
            units: projected_units.max(Decimal::ZERO),
            amount_cents,
            pricing_unit_amount_cents,
            breakdowns,
        })
    }
}

/// Lago's projection ratio on JSON: `{from_datetime, to_datetime, now, timezone}` →
/// `{period_ratio, days_passed, total_days}` (the current day counts as passed).
pub fn period_ratio_json(request: &serde_json::Value) -> Result<serde_json::Value> {
    use crate::error::Error;
    use crate::period::proration;
    use chrono::{DateTime, Utc};
    use std::str::FromStr;
    let instant = |key: &str| -> Result<DateTime<Utc>> {
        request
            .get(key)
            .and_then(serde_json::Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| Error::invalid(key, "invalid_date"))
    };
    let (from, to, now) = (
        instant("from_datetime")?,
        instant("to_datetime")?,
        instant("now")?,
    );
    let timezone = match request.get("timezone").and_then(serde_json::Value::as_str) {
        None => crate::period::tz::Tz::UTC,
        Some(name) => crate::period::tz::Tz::from_str(name)
            .map_err(|_| Error::invalid("timezone", "invalid_timezone"))?,
    };
    if to < from {
        return Err(Error::invalid("to_datetime", "value_is_invalid"));
    }
    Ok(crate::json::object! {
        "period_ratio": crate::rating::decimal_json(proration::period_ratio(from, to, now, timezone)?),
        "days_passed": serde_json::Value::from(proration::days_elapsed(from, to, now, timezone)?),
        "total_days": serde_json::Value::from(proration::period_days_total(from, to, timezone)?),
    })
}
