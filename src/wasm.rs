//! The only module that knows about JavaScript.
//!
//! Each export takes a plain object (or its JSON text), hands its JSON to `crate::rating`, and
//! returns a plain object. Errors are thrown as a JS `Error` that also carries Lago's
//! `{status, error, code, error_details}`.

use crate::engine::Duplicates;
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
    grow_ahead();
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

/// Lago's projection ratio: days begun (today included) over the days of the period.
#[wasm_bindgen(js_name = periodRatio, unchecked_return_type = "PeriodRatio")]
pub fn period_ratio(
    #[wasm_bindgen(unchecked_param_type = "PeriodRatioInput | string")] input: JsValue,
) -> Result<JsValue, JsValue> {
    call(&input, crate::engine::projection::period_ratio_json)
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

// ---------------------------------------------------------------------------------------------
// The usage engine: an organisation in memory.
// ---------------------------------------------------------------------------------------------

/// `now` from a JS value: an ISO 8601 string or a `Date`.
fn instant(value: &JsValue, field: &str) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    let text = match value.dyn_ref::<js_sys::Date>() {
        Some(date) if date.get_time().is_finite() => date.to_iso_string().as_string(),
        Some(_) => None,
        None => value.as_string(),
    };
    text.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| Error::invalid(field, "invalid_date"))
}

fn answer(result: Result<Value, Error>) -> Result<JsValue, JsValue> {
    match result {
        Ok(value) => to_js(&value),
        Err(error) => Err(to_js_error(&error)),
    }
}

#[wasm_bindgen]
extern "C" {
    /// The platform's `TextEncoder` (Node >= 11 and browsers).
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    /// Encodes as much of `text` as fits into `into`.
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(
        this: &TextEncoder,
        text: &js_sys::JsString,
        into: &js_sys::Uint8Array,
    ) -> EncodeIntoResult;

    /// `encodeInto`'s answer: UTF-16 units read, bytes written.
    type EncodeIntoResult;
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeIntoResult) -> u32;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> u32;

    /// `ingestBulk`'s options (`BulkOptions` in `wasm_types.d.ts`).
    #[wasm_bindgen(typescript_type = "BulkOptions")]
    pub type BulkOptions;
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
}

/// Linear memory grown in one step ahead of need, as a share of what it holds (1/4), and at
/// most [`GROW_AHEAD_MAX_BYTES`]: see [`grow_ahead`].
const GROW_AHEAD_DIVISOR: usize = 4;

/// Past 64 MiB, memory grows 16 MiB at a time: a step per 16 MiB more, and at most 16 MiB
/// reserved and unused (measured at 1M events: 64 MiB steps left ~50 bytes per stored event
/// unused).
const GROW_AHEAD_MAX_BYTES: usize = 16 << 20;

/// Grows linear memory ahead of need when it grew since the last call. dlmalloc grows memory
/// by what each allocation lacks, a few pages at a time while events arrive, and every
/// `memory.grow` makes the JS engine swap the memory's `ArrayBuffer` and account for it, which
/// in a fresh instance cost more than the ingestion. A quarter more (at most 16 MiB),
/// allocated and freed at once, stays in the allocator's free space for the next allocations:
/// memory grows a few dozen times for 1M events instead of once per few pages. Best effort: a
/// reservation that cannot be had is skipped (the allocation that needs the memory reports it).
fn grow_ahead() {
    thread_local! {
        static PAGES_SEEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let pages = core::arch::wasm32::memory_size(0);
    if pages <= PAGES_SEEN.get() {
        return;
    }
    let mut reserve: Vec<u8> = Vec::new();
    if reserve
        .try_reserve_exact((pages * 65_536 / GROW_AHEAD_DIVISOR).min(GROW_AHEAD_MAX_BYTES))
        .is_ok()
    {
        // Kept from the optimiser, which may remove an allocation nobody reads.
        std::hint::black_box(&mut reserve);
    }
    drop(reserve);
    PAGES_SEEN.set(core::arch::wasm32::memory_size(0));
}

/// `ingestBulk`'s options: none, or an object whose `skipDuplicates` is absent or a boolean.
fn bulk_duplicates(options: Option<&BulkOptions>) -> Result<Duplicates, Error> {
    // The JS value as it came: the type is unchecked, a number arrives as one.
    let Some(options) = options.map(JsValue::from) else {
        return Ok(Duplicates::Refuse);
    };
    let skip = if options.is_object() {
        js_sys::Reflect::get(&options, &JsValue::from_str("skipDuplicates")).ok()
    } else {
        None
    };
    match skip.map(|skip| (skip.is_undefined(), skip.as_bool())) {
        Some((true, _)) | Some((_, Some(false))) => Ok(Duplicates::Refuse),
        Some((_, Some(true))) => Ok(Duplicates::Skip),
        _ => Err(Error::BadRequest(
            "the options must be an object whose skipDuplicates is a boolean".into(),
        )),
    }
}

/// A bulk text handed over as a string or as UTF-8 bytes, read into `scratch` (kept by the
/// engine from one call to the next: a fresh buffer per call was zeroed first, ~200 WASM
/// instructions per event of a bulk ingestion). A string is encoded by the platform's
/// `TextEncoder` straight into WASM memory: wasm-bindgen's own string argument copies long ASCII
/// text a character at a time in JavaScript (measured: ~15 % of bulk ingestion), and `encode`
/// then a copy made a JS array per call and moved the text twice.
fn bulk_text<'s>(input: &JsValue, scratch: &'s mut Vec<u8>) -> Result<&'s str, Error> {
    grow_ahead();
    let length = if let Some(text) = input.dyn_ref::<js_sys::JsString>() {
        encode_string(text, scratch)
    } else if let Some(array) = input.dyn_ref::<js_sys::Uint8Array>() {
        let length = array.length() as usize;
        let bytes = room(scratch, length);
        array.copy_to(bytes);
        length
    } else {
        return Err(Error::BadRequest(
            "the bulk text must be a string or a Uint8Array".into(),
        ));
    };
    let bytes = scratch.get(..length).unwrap_or_default();
    std::str::from_utf8(bytes).map_err(|_| Error::BadRequest("the bulk text is not UTF-8".into()))
}

/// A scratch buffer past this size is given back after the call (a one-off 64 MiB text does
/// not hold its memory for the engine's life).
const SCRATCH_KEPT_MAX_BYTES: usize = 4 << 20;

/// `scratch[..length]`, grown (with zeros, the first time only) when shorter.
fn room(scratch: &mut Vec<u8>, length: usize) -> &mut [u8] {
    if scratch.len() < length {
        scratch.resize(length, 0);
    }
    scratch.get_mut(..length).unwrap_or_default()
}

/// A JS string as UTF-8 into `scratch`, its length in bytes: one `encodeInto` into room for one
/// byte per UTF-16 unit (all of an ASCII text), and for other text a second one into room for
/// the rest at three bytes per unit (the most one unit takes).
fn encode_string(text: &js_sys::JsString, scratch: &mut Vec<u8>) -> usize {
    let units = text.length();
    let (read, mut written) = encode_at(text, room(scratch, units as usize), 0);
    if read < units {
        let rest = text.slice(read, units);
        let bytes = room(scratch, written + 3 * (units - read) as usize);
        written += encode_at(&rest, bytes, written).1;
    }
    written
}

/// `encodeInto` of `text` into `bytes[from..]`, through a view of WASM memory at their address
/// (taken after the allocation: memory may have grown and replaced its buffer): units read,
/// bytes written.
fn encode_at(text: &js_sys::JsString, bytes: &mut [u8], from: usize) -> (u32, usize) {
    let room = bytes.get_mut(from..).unwrap_or_default();
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let view = js_sys::Uint8Array::new_with_byte_offset_and_length(
        &memory.buffer(),
        room.as_mut_ptr() as u32,
        room.len() as u32,
    );
    let result = ENCODER.with(|encoder| encoder.encode_into(text, &view));
    let written = (result.written() as usize).min(room.len());
    (result.read(), written)
}

/// An answer the engine wrote as JSON text: JSON.parse builds the object.
fn answer_text(result: Result<String, Error>) -> Result<JsValue, JsValue> {
    match result {
        Ok(text) => js_sys::JSON::parse(&text),
        Err(error) => Err(to_js_error(&error)),
    }
}

/// An organisation's customers, taxes, metrics, plans, subscriptions and events, and Lago's
/// current, projected and past usage over them. Every input is a plain object (or its JSON text)
/// with Lago's field names; every `now` is an ISO 8601 string or a `Date`.
#[wasm_bindgen(js_name = Engine)]
pub struct JsEngine {
    inner: crate::engine::Engine,
    /// The key `handle` requires (`Authorization: Bearer …`); never exported with the state.
    api_key: String,
    /// Where `ingestBulk` reads its text (see [`bulk_text`]).
    scratch: Vec<u8>,
}

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// An empty organisation (premium features on), optionally with settings
    /// (`premium`, `premium_integrations`, `timezone`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "OrganizationInput | string | undefined")]
        settings: JsValue,
    ) -> Result<JsEngine, JsValue> {
        let mut inner = crate::engine::Engine::new();
        if !settings.is_undefined() && !settings.is_null() {
            let input = request_json(&settings).map_err(|e| to_js_error(&e))?;
            inner.configure(&input).map_err(|e| to_js_error(&e))?;
        }
        Ok(JsEngine {
            inner,
            api_key: String::new(),
            scratch: Vec::new(),
        })
    }

    /// Replaces the organisation's settings.
    pub fn configure(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "OrganizationInput | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&input).and_then(|v| self.inner.configure(&v)))
    }

    /// Creates or updates a customer (`POST /customers`' `customer`).
    #[wasm_bindgen(js_name = upsertCustomer, unchecked_return_type = "Record<string, unknown>")]
    pub fn upsert_customer(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "CustomerInput | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&input).and_then(|v| self.inner.upsert_customer(&v)))
    }

    /// Creates or updates a tax (`POST /taxes`' `tax`).
    #[wasm_bindgen(js_name = upsertTax, unchecked_return_type = "Record<string, unknown>")]
    pub fn upsert_tax(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "TaxInput | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&input).and_then(|v| self.inner.upsert_tax(&v)))
    }

    /// Creates or updates a billable metric (`POST /billable_metrics`' `billable_metric`).
    #[wasm_bindgen(js_name = upsertBillableMetric, unchecked_return_type = "Record<string, unknown>")]
    pub fn upsert_billable_metric(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "BillableMetricInput | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&input).and_then(|v| self.inner.upsert_metric(&v)))
    }

    /// Creates or updates a pricing unit (`{code, name, short_name}`).
    #[wasm_bindgen(js_name = upsertPricingUnit, unchecked_return_type = "Record<string, unknown>")]
    pub fn upsert_pricing_unit(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "PricingUnitInput | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&input).and_then(|v| self.inner.upsert_pricing_unit(&v)))
    }

    /// Creates or replaces a plan and its charges (`POST /plans`' `plan`).
    #[wasm_bindgen(js_name = upsertPlan, unchecked_return_type = "Record<string, unknown>")]
    pub fn upsert_plan(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "PlanInput | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&input).and_then(|v| self.inner.upsert_plan(&v)))
    }

    /// Creates or updates a subscription (`POST /subscriptions`' `subscription`).
    #[wasm_bindgen(js_name = upsertSubscription, unchecked_return_type = "Record<string, unknown>")]
    pub fn upsert_subscription(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SubscriptionInput | string")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(
            instant(&now, "now")
                .and_then(|now| Ok((now, request_json(&input)?)))
                .and_then(|(now, v)| self.inner.upsert_subscription(&v, now)),
        )
    }

    /// Terminates a subscription at `now`.
    #[wasm_bindgen(js_name = terminateSubscription, unchecked_return_type = "Record<string, unknown>")]
    pub fn terminate_subscription(
        &mut self,
        external_id: &str,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(
            instant(&now, "now")
                .and_then(|now| self.inner.terminate_subscription(external_id, now)),
        )
    }

    /// Deletes a billable metric (closed periods keep their usage).
    #[wasm_bindgen(js_name = deleteBillableMetric, unchecked_return_type = "Record<string, unknown>")]
    pub fn delete_billable_metric(&mut self, code: &str) -> Result<JsValue, JsValue> {
        answer(self.inner.delete_metric(code))
    }

    /// Deletes a plan no active subscription uses.
    #[wasm_bindgen(js_name = deletePlan, unchecked_return_type = "Record<string, unknown>")]
    pub fn delete_plan(&mut self, code: &str) -> Result<JsValue, JsValue> {
        answer(self.inner.delete_plan(code))
    }

    /// Deletes a tax.
    #[wasm_bindgen(js_name = deleteTax, unchecked_return_type = "Record<string, unknown>")]
    pub fn delete_tax(&mut self, code: &str) -> Result<JsValue, JsValue> {
        answer(self.inner.delete_tax(code))
    }

    /// Ingests one event; `now` is its default timestamp. Returns Lago's event JSON.
    #[wasm_bindgen(js_name = ingestEvent, unchecked_return_type = "Record<string, unknown>")]
    pub fn ingest_event(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "EventInput | string")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(
            instant(&now, "now")
                .and_then(|now| Ok((now, request_json(&input)?)))
                .and_then(|(now, v)| self.inner.ingest_event(&v, now)),
        )
    }

    /// Ingests up to 100 events, all or nothing (`POST /events/batch`' `events`).
    #[wasm_bindgen(js_name = ingestBatch, unchecked_return_type = "Record<string, unknown>[]")]
    pub fn ingest_batch(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "EventInput[] | string")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(
            instant(&now, "now")
                .and_then(|now| Ok((now, request_json(&input)?)))
                .and_then(|(now, v)| self.inner.ingest_batch(&v, now)),
        )
    }

    /// Ingests NDJSON text (one event per line), a JSON array text, or CSV with a header row
    /// naming `transaction_id` (other columns are properties), parsed inside WASM, all or
    /// nothing; as a string or as UTF-8 bytes (a file's `Buffer`). With `{skipDuplicates:
    /// true}`, an event whose key is already stored or repeats an earlier one of the text is
    /// dropped instead of refusing the text. Returns the number of events stored.
    #[wasm_bindgen(js_name = ingestBulk)]
    pub fn ingest_bulk(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] text: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
        options: Option<BulkOptions>,
    ) -> Result<u32, JsValue> {
        let stored = bulk_duplicates(options.as_ref())
            .and_then(|duplicates| Ok((duplicates, instant(&now, "now")?)))
            .and_then(|(duplicates, now)| {
                let text = bulk_text(&text, &mut self.scratch)?;
                self.inner
                    .ingest_bulk_with_duplicates(text, now, duplicates)
            });
        if self.scratch.len() > SCRATCH_KEPT_MAX_BYTES {
            self.scratch = Vec::new();
        }
        stored
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .map_err(|e| to_js_error(&e))
    }

    /// Changes with every change that can move a usage (events, configuration): an answer
    /// of `handle` carrying `x-usage-calc-valid: <generation> <from_ms> <to_ms>` holds while it
    /// equals the generation there and the clock stays in `[from, to]`.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> f64 {
        // Exact up to 2^53 changes.
        self.inner.generation() as f64
    }

    /// Number of stored events.
    #[wasm_bindgen(getter, js_name = eventsCount)]
    pub fn events_count(&self) -> u32 {
        u32::try_from(self.inner.events_count()).unwrap_or(u32::MAX)
    }

    /// `GET /customers/{id}/current_usage`'s body.
    #[wasm_bindgen(js_name = currentUsage, unchecked_return_type = "CurrentUsageResponse")]
    pub fn current_usage(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "UsageQuery | string")] query: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer_text(request_json(&query).and_then(|v| self.inner.current_usage_body(&v)))
    }

    /// `GET /customers/{id}/projected_usage`'s body.
    #[wasm_bindgen(js_name = projectedUsage, unchecked_return_type = "ProjectedUsageResponse")]
    pub fn projected_usage(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "UsageQuery | string")] query: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer_text(request_json(&query).and_then(|v| self.inner.projected_usage_body(&v)))
    }

    /// `GET /customers/{id}/past_usage`'s body.
    #[wasm_bindgen(js_name = pastUsage, unchecked_return_type = "PastUsageResponse")]
    pub fn past_usage(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "PastUsageQuery | string")] query: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(request_json(&query).and_then(|v| self.inner.past_usage(&v)))
    }

    /// Deletes a customer (`DELETE /customers/{id}`): its subscriptions end at `now`.
    #[wasm_bindgen(js_name = deleteCustomer, unchecked_return_type = "Record<string, unknown>")]
    pub fn delete_customer(
        &mut self,
        external_id: &str,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        answer(instant(&now, "now").and_then(|now| self.inner.delete_customer(external_id, now)))
    }

    /// Sets the API key `handle` requires on every `/api/v1` route.
    #[wasm_bindgen(js_name = setApiKey)]
    pub fn set_api_key(&mut self, key: &str) {
        self.api_key = key.to_string();
    }

    /// Lago's REST API: one HTTP request in, `{status, headers, body}` out (body is JSON text).
    /// Never throws: every problem is an HTTP answer.
    #[wasm_bindgen(unchecked_return_type = "ApiResponse")]
    pub fn handle(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "ApiRequest")] request: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Date")] now: JsValue,
    ) -> JsValue {
        grow_ahead();
        let response = match instant(&now, "now") {
            Ok(now) => {
                crate::api::handle(&mut self.inner, &self.api_key, &api_request(&request), now)
            }
            Err(error) => crate::api::Response {
                status: 400,
                headers: vec![("content-type".into(), "application/json".into())],
                body: error.to_json().to_string(),
            },
        };
        api_response(&response)
    }

    /// The whole state as JSON (`Engine.import` reads it back).
    #[wasm_bindgen(js_name = export, unchecked_return_type = "EngineState")]
    pub fn export_state(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.export())
    }

    /// An engine from an export.
    #[wasm_bindgen(js_name = import)]
    pub fn import_state(
        #[wasm_bindgen(unchecked_param_type = "EngineState | string")] state: JsValue,
    ) -> Result<JsEngine, JsValue> {
        request_json(&state)
            .and_then(|v| crate::engine::Engine::import(&v))
            .map(|inner| JsEngine {
                inner,
                api_key: String::new(),
                scratch: Vec::new(),
            })
            .map_err(|e| to_js_error(&e))
    }
}

/// Largest request body `handle` accepts, in bytes (the shim stops reading there: 413).
#[wasm_bindgen(js_name = apiBodyMaxBytes)]
pub fn api_body_max_bytes() -> u32 {
    u32::try_from(crate::api::BODY_MAX_BYTES).unwrap_or(u32::MAX)
}

fn string_field(object: &JsValue, key: &str) -> String {
    js_sys::Reflect::get(object, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// `{method, path, query?, headers?, body?}` read field by field (no JSON round trip).
fn api_request(request: &JsValue) -> crate::api::Request {
    let mut headers = Vec::new();
    if let Ok(object) = js_sys::Reflect::get(request, &JsValue::from_str("headers")) {
        if object.is_object() {
            let object: js_sys::Object = object.unchecked_into();
            for entry in js_sys::Object::entries(&object).iter() {
                let pair: js_sys::Array = entry.unchecked_into();
                if let (Some(key), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string())
                {
                    headers.push((key.to_ascii_lowercase(), value));
                }
            }
        }
    }
    crate::api::Request {
        method: string_field(request, "method"),
        path: string_field(request, "path"),
        query: string_field(request, "query"),
        headers,
        body: string_field(request, "body"),
    }
}

fn api_response(response: &crate::api::Response) -> JsValue {
    let headers = js_sys::Object::new();
    for (key, value) in &response.headers {
        let _ = js_sys::Reflect::set(&headers, &JsValue::from_str(key), &JsValue::from_str(value));
    }
    let out = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&out, &"status".into(), &JsValue::from(response.status));
    let _ = js_sys::Reflect::set(&out, &"headers".into(), &headers);
    let _ = js_sys::Reflect::set(&out, &"body".into(), &JsValue::from_str(&response.body));
    out.into()
}
