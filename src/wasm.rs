//! The only module that knows about JavaScript.
//!
//! Each export takes a plain object (or its JSON text), hands its JSON to `crate::rating`, and
//! returns a plain object. Errors are thrown as a JS `Error` that also carries Lago's
//! `{status, error, code, error_details}`.

use crate::error::Error;
use crate::rating;
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = include_str!("wasm_types.d.ts");

/// Request text from a JS value: a string is taken as JSON text, anything else is stringified.
fn request_json(input: &JsValue) -> Result<Value, Error> {
    let text = match input.as_string() {
        Some(text) => text,
        None => js_sys::JSON::stringify(input)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| Error::BadRequest("the input cannot be written as JSON".into()))?,
    };
    rating::parse_request(&text)
}

fn to_js(value: &Value) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(&value.to_string())
}

/// A thrown `Error` whose message says what is wrong and which carries Lago's error body.
fn to_js_error(error: &Error) -> JsValue {
    let body = error.to_json();
    let js_error = js_sys::Error::new(&error.to_string());
    js_error.set_name("LagoError");
    if let Ok(fields) = js_sys::JSON::parse(&body.to_string()) {
        let _ = js_sys::Object::assign(js_error.as_ref(), &fields.into());
    }
    js_error.into()
}

fn call(input: &JsValue, f: fn(&Value) -> crate::error::Result<Value>) -> Result<JsValue, JsValue> {
    let result = request_json(input).and_then(|request| f(&request));
    match result {
        Ok(value) => to_js(&value),
        Err(error) => Err(to_js_error(&error)),
    }
}

/// Prices a charge on given units (and per-event values, or groups).
#[wasm_bindgen(js_name = priceCharge, unchecked_return_type = "ChargeResult")]
pub fn price_charge(
    #[wasm_bindgen(unchecked_param_type = "PriceInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::price_charge)
}

/// Validates a charge's properties and rules as Lago does.
#[wasm_bindgen(js_name = validateCharge, unchecked_return_type = "ValidationResult")]
pub fn validate_charge(
    #[wasm_bindgen(unchecked_param_type = "ValidateInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::validate_charge)
}

/// Builds one usage line (fee) in cents.
#[wasm_bindgen(js_name = buildFee, unchecked_return_type = "Fee")]
pub fn build_fee(
    #[wasm_bindgen(unchecked_param_type = "FeeInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::build_fee)
}

/// Builds a charge's usage: fees per filter bucket and group, totals, taxes, true-up.
#[wasm_bindgen(js_name = buildChargeUsage, unchecked_return_type = "ChargeUsage")]
pub fn build_charge_usage(
    #[wasm_bindgen(unchecked_param_type = "ChargeUsageInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::build_charge_usage)
}

/// The fee of one pay-in-advance event (its marginal cost).
#[wasm_bindgen(js_name = payInAdvanceFee, unchecked_return_type = "InAdvanceFee")]
pub fn pay_in_advance_fee(
    #[wasm_bindgen(unchecked_param_type = "PayInAdvanceInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::pay_in_advance_fee)
}

/// Lago's instant estimate for one event (standard, percentage).
#[wasm_bindgen(js_name = estimateInstant, unchecked_return_type = "InstantEstimate")]
pub fn estimate_instant(
    #[wasm_bindgen(unchecked_param_type = "PriceInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::estimate_instant)
}

/// The spending-minimum true-up fee.
#[wasm_bindgen(js_name = trueUp, unchecked_return_type = "TrueUpResult")]
pub fn true_up(
    #[wasm_bindgen(unchecked_param_type = "TrueUpInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::true_up)
}

/// One tier of a graduated or graduated_percentage charge, in isolation.
#[wasm_bindgen(js_name = rangeDetail, unchecked_return_type = "RangeDetail")]
pub fn range_detail(
    #[wasm_bindgen(unchecked_param_type = "RangeDetailInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::range_detail)
}

/// Pricing-unit cents from a model's output in pricing units.
#[wasm_bindgen(js_name = pricingUnitUsage, unchecked_return_type = "PricingUnitUsage")]
pub fn pricing_unit_usage(
    #[wasm_bindgen(unchecked_param_type = "PricingUnitUsageInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::pricing_unit_usage)
}

/// Pricing-unit cents converted to currency cents.
#[wasm_bindgen(js_name = pricingUnitToFiat, unchecked_return_type = "FiatAmounts")]
pub fn pricing_unit_to_fiat(
    #[wasm_bindgen(unchecked_param_type = "PricingUnitToFiatInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, rating::pricing_unit_to_fiat)
}

/// A subscription's billing-period boundaries at a reference instant, in the customer's timezone.
#[wasm_bindgen(js_name = billingPeriod, unchecked_return_type = "BillingPeriod")]
pub fn billing_period(
    #[wasm_bindgen(unchecked_param_type = "BillingPeriodInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, crate::period::boundaries_json)
}

/// A billable metric's aggregation of events over a window (count, sum, max, unique count,
/// latest, weighted sum, prorated; filters and groups).
#[wasm_bindgen(js_name = aggregate, unchecked_return_type = "MetricAggregationResult")]
pub fn aggregate(
    #[wasm_bindgen(unchecked_param_type = "MetricAggregationInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, crate::aggregations::aggregate_json)
}

/// Lago's `valid_amount?` (or `valid_positive_amount?` when `positive`).
#[wasm_bindgen(js_name = isValidAmount)]
pub fn is_valid_amount(
    #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
    positive: Option<bool>,
) -> bool {
    // A JS string is the value itself here, not JSON text.
    let value = match value.as_string() {
        Some(text) => Ok(Value::String(text)),
        None => request_json(&value),
    };
    value.is_ok_and(|v| rating::is_valid_amount(&v, positive.unwrap_or(false)))
}

/// A currency's exponent and subunit.
#[wasm_bindgen(js_name = currency, unchecked_return_type = "CurrencyInfo")]
pub fn currency(code: &str) -> Result<JsValue, JsValue> {
    match rating::currency(code) {
        Ok(value) => to_js(&value),
        Err(error) => Err(to_js_error(&error)),
    }
}

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    crate::version().to_string()
}
