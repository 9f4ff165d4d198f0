//! Fees: a charge model's amount turned into cents, rounded once, the way Lago stores a fee;
//! pricing-unit conversion; and the spending-minimum true-up.

use crate::charge_models::{Aggregation, AmountDetails, Priced};
use crate::error::{Error, Result};
use crate::money::{div_or_zero, mul, round_half_up, sub, to_cents, truncate, Currency};
use crate::number::through_float;
use rust_decimal::Decimal;

/// Where the fee is shown: the units displayed depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeContext {
    /// Current usage: prorated and pay-in-advance charges show `current_usage_units`.
    CurrentUsage,
    /// An invoice: prorated charges show their full units.
    Invoice,
}

/// A charge's custom pricing unit: properties are in it, fees in the plan currency.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedPricingUnit {
    /// Fiat per one pricing unit (> 0).
    pub conversion_rate: Decimal,
    /// Display name, e.g. `CRD`.
    pub short_name: Option<String>,
}

/// Amounts in pricing units, as Lago's `PricingUnitUsage` holds them (exponent always 2).
#[derive(Debug, Clone, PartialEq)]
pub struct PricingUnitUsage {
    /// Pricing-unit cents, rounded half up.
    pub amount_cents: Decimal,
    /// Pricing-unit cents, unrounded.
    pub precise_amount_cents: Decimal,
    /// Pricing-unit cents per unit, truncated.
    pub unit_amount_cents: Decimal,
    /// Pricing units per unit, unrounded.
    pub precise_unit_amount: Decimal,
    /// Fiat per pricing unit.
    pub conversion_rate: Decimal,
}

/// Pricing units are always counted in hundredths.
const PRICING_UNIT_SUBUNIT: Decimal = Decimal::ONE_HUNDRED;

impl PricingUnitUsage {
    /// Lago's `build_from_fiat_amounts` (which takes pricing-unit amounts despite its name).
    pub fn build(amount: Decimal, unit_amount: Decimal, conversion_rate: Decimal) -> Result<Self> {
        Ok(PricingUnitUsage {
            amount_cents: mul(round_half_up(amount, 2), PRICING_UNIT_SUBUNIT)?,
            precise_amount_cents: mul(amount, PRICING_UNIT_SUBUNIT)?,
            unit_amount_cents: truncate(mul(unit_amount, PRICING_UNIT_SUBUNIT)?),
            precise_unit_amount: unit_amount,
            conversion_rate,
        })
    }

    /// Lago's `to_fiat_currency_cents`: from the ROUNDED pricing-unit cents and the TRUNCATED
    /// unit cents, so rounding happens twice.
    pub fn to_fiat(&self, currency: Currency) -> Result<FiatAmounts> {
        let rate = self.conversion_rate;
        let fiat = div_or_zero(mul(self.amount_cents, rate)?, PRICING_UNIT_SUBUNIT)?;
        let fiat_unit = div_or_zero(mul(self.unit_amount_cents, rate)?, PRICING_UNIT_SUBUNIT)?;
        Ok(FiatAmounts {
            amount_cents: to_cents(fiat, currency)?,
            precise_amount_cents: mul(fiat, currency.subunit())?,
            unit_amount_cents: mul(fiat_unit, currency.subunit())?,
            precise_unit_amount: fiat_unit,
        })
    }
}

/// Fiat amounts from a pricing-unit usage (`unit_amount_cents` not yet truncated).
#[derive(Debug, Clone, PartialEq)]
pub struct FiatAmounts {
    /// Currency subunits, rounded.
    pub amount_cents: Decimal,
    /// Currency subunits, unrounded.
    pub precise_amount_cents: Decimal,
    /// Currency subunits per unit, unrounded (a fee truncates it).
    pub unit_amount_cents: Decimal,
    /// Currency major units per unit.
    pub precise_unit_amount: Decimal,
}

/// A usage line: one filter bucket and group of one charge, in cents.
#[derive(Debug, Clone, PartialEq)]
pub struct Fee {
    /// Units shown on the fee.
    pub units: Decimal,
    /// Events aggregated.
    pub events_count: u64,
    /// Subunits, rounded half up once.
    pub amount_cents: Decimal,
    /// Subunits, unrounded.
    pub precise_amount_cents: Decimal,
    /// Subunits per unit, truncated toward zero.
    pub unit_amount_cents: Decimal,
    /// Major units per unit, unrounded.
    pub precise_unit_amount: Decimal,
    /// Units before rounding and proration, when known.
    pub total_aggregated_units: Option<Decimal>,
    /// Lago's stored breakdown (kept as computed, even when the fee is zeroed); JSON only
    /// where a fee is shown with it (usage JSON has none, so it is not written there).
    pub amount_details: AmountDetails,
    /// The amounts in pricing units, when the charge has one.
    pub pricing_unit_usage: Option<PricingUnitUsage>,
}

impl Fee {
    /// Takes the fee's amounts from a pricing-unit usage converted to `currency`.
    fn set_pricing_unit_usage(
        &mut self,
        usage: PricingUnitUsage,
        currency: Currency,
    ) -> Result<()> {
        let fiat = usage.to_fiat(currency)?;
        self.amount_cents = fiat.amount_cents;
        self.precise_amount_cents = fiat.precise_amount_cents;
        self.unit_amount_cents = truncate(fiat.unit_amount_cents);
        self.precise_unit_amount = fiat.precise_unit_amount;
        self.pricing_unit_usage = Some(usage);
        Ok(())
    }
}

/// Which units a fee shows (Lago's `init_fee`).
pub fn shown_units(
    aggregation: &Aggregation,
    prorated: bool,
    pay_in_advance: bool,
    context: FeeContext,
) -> Decimal {
    match context {
        FeeContext::CurrentUsage if prorated || pay_in_advance => aggregation
            .current_usage_units
            .or(aggregation.full_units_number)
            .unwrap_or(aggregation.units),
        FeeContext::Invoice if prorated => {
            aggregation.full_units_number.unwrap_or(aggregation.units)
        }
        _ => aggregation.units,
    }
}

/// Turns a priced aggregation into a fee. Negative units or amount give a zero fee (units,
/// amount and unit amount), with the breakdown left as computed.
pub fn build(
    priced: Priced,
    aggregation: &Aggregation,
    units: Decimal,
    currency: Currency,
    pricing_unit: Option<&AppliedPricingUnit>,
) -> Result<Fee> {
    let negative = units < Decimal::ZERO || priced.amount < Decimal::ZERO;
    let (units, amount, unit_amount) = if negative {
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
    } else {
        (units, priced.amount, priced.unit_amount)
    };
    let mut fee = Fee {
        units,
        events_count: aggregation.events_count,
        amount_cents: to_cents(amount, currency).map_err(|e| e.in_field("amount_cents"))?,
        precise_amount_cents: mul(amount, currency.subunit())?,
        unit_amount_cents: truncate(mul(unit_amount, currency.subunit())?),
        precise_unit_amount: unit_amount,
        total_aggregated_units: aggregation.total_aggregated_units,
        amount_details: priced.amount_details,
        pricing_unit_usage: None,
    };
    if let Some(unit) = pricing_unit {
        let usage = PricingUnitUsage::build(amount, unit_amount, unit.conversion_rate)?;
        fee.set_pricing_unit_usage(usage, currency)?;
    }
    Ok(fee)
}

/// What the true-up needs: the minimum and what the charge's fees already came to.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueUpInput {
    /// The charge's spending minimum, in cents (pricing-unit cents with a pricing unit).
    pub min_amount_cents: Decimal,
    /// Σ amount_cents of every fee of the charge in the period (pricing-unit cents with one).
    pub used_amount_cents: Decimal,
    /// Σ precise_amount_cents of those fees.
    pub used_precise_amount_cents: Decimal,
    /// Days in the charges' full period.
    pub charges_duration_days: u32,
    /// Days actually billed (the subscription may have started or ended mid-period).
    pub billed_days: u32,
}

/// The prorated minimum, computed in Float as Lago does (`min ÷ duration × days`), then read
/// back as the shortest decimal of that Float, as Ruby carries it into BigDecimal.
#[allow(clippy::float_arithmetic)] // Lago's true-up is Float math; matching it to the cent needs it.
fn prorated_minimum(input: &TrueUpInput) -> Result<Decimal> {
    use rust_decimal::prelude::ToPrimitive;
    let min = input
        .min_amount_cents
        .to_f64()
        .ok_or_else(Error::overflow)?;
    let float = min / f64::from(input.charges_duration_days) * f64::from(input.billed_days);
    if !float.is_finite() {
        return Err(Error::invalid("charges_duration_days", "value_is_invalid"));
    }
    through_float(&format!("{float}"))
}

/// The true-up fee, or `None` when the fees already reach the prorated minimum.
pub fn true_up(
    input: &TrueUpInput,
    currency: Currency,
    pricing_unit: Option<&AppliedPricingUnit>,
) -> Result<Option<Fee>> {
    if input.charges_duration_days == 0 {
        return Err(Error::invalid("charges_duration_days", "value_is_invalid"));
    }
    let prorated_min = prorated_minimum(input)?;
    if input.used_amount_cents >= prorated_min {
        return Ok(None);
    }
    let missing = sub(prorated_min, input.used_amount_cents)?;
    let mut fee = Fee {
        units: Decimal::ONE,
        events_count: 0,
        amount_cents: round_half_up(missing, 0),
        precise_amount_cents: sub(prorated_min, input.used_precise_amount_cents)?,
        unit_amount_cents: round_half_up(missing, 0),
        precise_unit_amount: Decimal::ZERO,
        total_aggregated_units: None,
        amount_details: AmountDetails::Empty,
        pricing_unit_usage: None,
    };
    fee.precise_unit_amount = div_or_zero(fee.precise_amount_cents, currency.subunit())?;
    if let Some(unit) = pricing_unit {
        let amount = div_or_zero(missing, PRICING_UNIT_SUBUNIT)?;
        let usage = PricingUnitUsage::build(amount, amount, unit.conversion_rate)?;
        fee.set_pricing_unit_usage(usage, currency)?;
    }
    Ok(Some(fee))
}
