//! Entities as Lago's API shows them (`CustomerObject`, `PlanObject`, `ChargeObject`, …) and the
//! reads the REST API needs: one, all, filtered.
//!
//! Fields Lago has and the engine does not model (addresses, billing configuration, …) are echoed
//! from the stored input, or null, so every object carries the keys Lago's clients expect; text,
//! integer and datetime columns keep the type lago-api would store (`text_column`, …).

use super::model::{Customer, Metric, Plan, Status, Subscription, Tax};
use super::{render, Engine};
use crate::error::{Error, Result};
use crate::json::{fields, object, text, text_or_null, texts};
use crate::period;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Customer fields echoed from the input as they were given (null when absent).
const CUSTOMER_ECHOED: &[&str] = &[
    "address_line1",
    "address_line2",
    "city",
    "country",
    "email",
    "legal_name",
    "legal_number",
    "logo_url",
    "firstname",
    "lastname",
    "customer_type",
    "phone",
    "state",
    "tax_identification_number",
    "url",
    "zipcode",
];

/// The members of a customer's `shipping_address` (`Address`), all text columns.
const ADDRESS_FIELDS: &[&str] = &[
    "address_line1",
    "address_line2",
    "city",
    "country",
    "state",
    "zipcode",
];

/// `billing_configuration`'s text members (`CustomerBillingConfiguration`).
const BILLING_TEXT_FIELDS: &[&str] = &[
    "payment_provider_code",
    "provider_customer_id",
    "document_locale",
];

/// The stored creation time of an entity (set once, when it is created).
pub(super) const CREATED_AT: &str = "created_at";

/// Text columns the engine does not model, rendered as lago-api stores them ([`text_column`]).
fn echoed(input: &Map<String, Value>, keys: &[&str], out: &mut Map<String, Value>) {
    for key in keys {
        out.insert((*key).to_string(), text_column(input, key));
    }
}

fn created_at(input: &Map<String, Value>) -> Value {
    input
        .get(CREATED_AT)
        .cloned()
        .unwrap_or_else(|| render::datetime(DateTime::<Utc>::UNIX_EPOCH))
}

fn text_or(input: &Map<String, Value>, key: &str, default: Value) -> Value {
    match input.get(key) {
        Some(Value::Null) | None => default,
        Some(value) => value.clone(),
    }
}

/// A text column as lago-api stores a permitted scalar param and renders it: text as given, a
/// number or a boolean as its text, null otherwise (strong parameters drop an array or an object
/// given for a scalar key, so the column stays NULL).
pub(super) fn text_column(input: &Map<String, Value>, key: &str) -> Value {
    input.get(key).and_then(scalar_text).unwrap_or(Value::Null)
}

/// A permitted scalar as the text a text column keeps (a number or a boolean as its text);
/// `None` for null, a list or an object.
pub(super) fn scalar_text(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) => Some(Value::String(text.clone())),
        Value::Number(number) => Some(Value::String(number.to_string())),
        Value::Bool(flag) => Some(Value::String(flag.to_string())),
        _ => None,
    }
}

/// [`text_column`], `default` when that is null.
fn text_column_or(input: &Map<String, Value>, key: &str, default: &str) -> Value {
    match text_column(input, key) {
        Value::Null => text(default),
        value => value,
    }
}

/// An integer column as lago-api renders it: an integer, or the text of one, as given; null
/// otherwise.
fn integer_column(input: &Map<String, Value>, key: &str) -> Value {
    match input.get(key) {
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Value::Number(number.clone())
        }
        Some(Value::String(text)) => text.trim().parse::<i64>().map_or(Value::Null, Value::from),
        _ => Value::Null,
    }
}

/// A text column lago-api only ever holds one of `allowed` in (it refuses any other value):
/// the value when it is one of them, null otherwise.
fn enum_column(input: &Map<String, Value>, key: &str, allowed: &[&str]) -> Value {
    match input.get(key).and_then(Value::as_str) {
        Some(value) if allowed.contains(&value) => text(value),
        _ => Value::Null,
    }
}

/// [`enum_column`] for a column that is never null: `default` in place of null.
fn enum_or(input: &Map<String, Value>, key: &str, allowed: &[&str], default: &str) -> Value {
    match enum_column(input, key, allowed) {
        Value::Null => text(default),
        value => value,
    }
}

/// `metadata` as lago-api renders a customer's metadata records (`CustomerMetadata`): each
/// object with a text `key` and `value` as `{lago_id, key, value, display_in_invoice,
/// created_at}`, the id derived from the customer's and the position (the same calls give the
/// same ids); anything else is left out.
fn customer_metadata(customer: &Customer) -> Value {
    let input = &customer.input;
    let Some(Value::Array(items)) = input.get("metadata") else {
        return Value::Array(Vec::new());
    };
    let rows = items
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|item| match (text_column(item, "key"), text_column(item, "value")) {
            (Value::String(key), Value::String(value)) => Some((item, key, value)),
            _ => None,
        })
        .enumerate()
        .map(|(index, (item, key, value))| {
            object! {
                "lago_id": Value::String(super::uuid("customer_metadata", &customer.lago_id, index as u64)),
                "key": Value::String(key),
                "value": Value::String(value),
                "display_in_invoice": Value::Bool(item.get("display_in_invoice").and_then(Value::as_bool).unwrap_or(false)),
                "created_at": created_at(input),
            }
        })
        .collect();
    Value::Array(rows)
}

/// The payment providers `CustomerBillingConfiguration.payment_provider` names; lago-api stores
/// null for any other value.
const PAYMENT_PROVIDERS: &[&str] = &["stripe", "adyen", "gocardless"];

/// `billing_configuration` as lago-api renders what it stored of the input: each known member
/// given, with its column's type (texts, `invoice_grace_period` an integer, `sync` and
/// `sync_with_provider` booleans, `provider_payment_methods` a list of texts), the payment
/// provider null unless Lago knows it; anything else is left out.
fn billing_configuration(input: &Map<String, Value>) -> Value {
    let Some(Value::Object(given)) = input.get("billing_configuration") else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if given.contains_key(key) {
            if let Some(value) = value {
                out.insert(key.to_string(), value);
            }
        }
    };
    put(
        "invoice_grace_period",
        Some(integer_column(given, "invoice_grace_period")),
    );
    for key in BILLING_TEXT_FIELDS {
        put(key, Some(text_column(given, key)));
    }
    for (key, allowed) in [
        (
            "subscription_invoice_issuing_date_anchor",
            ["current_period_end", "next_period_start"],
        ),
        (
            "subscription_invoice_issuing_date_adjustment",
            ["align_with_finalization_date", "keep_anchor"],
        ),
    ] {
        put(key, Some(enum_column(given, key, &allowed)));
    }
    put(
        "payment_provider",
        Some(enum_column(given, "payment_provider", PAYMENT_PROVIDERS)),
    );
    for key in ["sync", "sync_with_provider"] {
        // Booleans the schema does not let be null: a value that is not one is left out.
        put(
            key,
            given.get(key).and_then(Value::as_bool).map(Value::Bool),
        );
    }
    let methods = match given.get("provider_payment_methods") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(text))
            .collect::<Option<Vec<Value>>>()
            .map_or(Value::Null, Value::Array),
        _ => Value::Null,
    };
    put("provider_payment_methods", Some(methods));
    Value::Object(out)
}

/// `shipping_address` as lago-api renders it: its six members given, each a text column; an
/// empty object when none is given.
fn shipping_address(input: &Map<String, Value>) -> Value {
    let Some(Value::Object(given)) = input.get("shipping_address") else {
        return Value::Object(Map::new());
    };
    let members = ADDRESS_FIELDS
        .iter()
        .filter(|key| given.contains_key(**key))
        .map(|key| ((*key).to_string(), text_column(given, key)));
    Value::Object(members.collect())
}

/// `TaxObject`.
pub fn tax_json(tax: &Tax) -> Value {
    object! {
        "lago_id": text(&tax.lago_id),
        "name": text(&tax.name),
        "code": text(&tax.code),
        "description": text_column(&tax.input, "description"),
        "rate": tax.rate.normalize().to_string().parse::<serde_json::Number>().map_or(Value::Null, Value::Number),
        "applied_to_organization": Value::from(tax.applied_to_organization),
        "created_at": created_at(&tax.input),
    }
}

/// `BillableMetricObject`.
pub fn metric_json(metric: &Metric) -> Value {
    object! {
        "lago_id": text(&metric.lago_id),
        "name": text(&metric.name),
        "code": text(&metric.code),
        "description": text_column(&metric.input, "description"),
        "recurring": Value::from(metric.metric.recurring),
        "rounding_function": text_column(&metric.input, "rounding_function"),
        "rounding_precision": integer_column(&metric.input, "rounding_precision"),
        "created_at": created_at(&metric.input),
        "expression": text_column_or(&metric.input, "expression", ""),
        "field_name": text_or_null(metric.metric.field_name.as_deref()),
        "aggregation_type": text(&metric.aggregation_name),
        // Lago's only interval; anything else would be refused there, never rendered.
        "weighted_interval": enum_column(&metric.input, "weighted_interval", &["seconds"]),
        "filters": metric.metric.filters.iter().map(|f| object! {"key": text(&f.key), "values": texts(&f.values)}).collect(),
    }
}

impl Engine {
    fn taxes_json(&self, codes: &[String]) -> Vec<Value> {
        codes
            .iter()
            .filter_map(|code| self.taxes.get(code))
            .map(tax_json)
            .collect()
    }

    /// `CustomerObjectExtended`.
    pub fn customer_json(&self, customer: &Customer) -> Value {
        let input = &customer.input;
        let sequence = input
            .get("sequential_id")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut out = fields! {
            "lago_id": text(&customer.lago_id),
            "sequential_id": text_or(input, "sequential_id", Value::from(0)),
            "slug": Value::String(format!("CUS-{sequence:04}")),
            "external_id": text(&customer.external_id),
            "name": text_or_null(customer.name.as_deref()),
            "currency": Value::from(customer.currency.map(|c| c.code)),
            "timezone": Value::from(customer.timezone.map(|tz| tz.name())),
            "applicable_timezone": Value::from(customer.timezone.unwrap_or(self.org.timezone).name()),
            "account_type": enum_or(input, "account_type", &["customer", "partner"], "customer"),
        };
        echoed(input, CUSTOMER_ECHOED, &mut out);
        out.insert(
            "customer_type".into(),
            enum_column(input, "customer_type", &["company", "individual"]),
        );
        out.insert(
            "net_payment_term".into(),
            integer_column(input, "net_payment_term"),
        );
        out.append(&mut fields! {
            "created_at": created_at(input),
            "updated_at": text_or(input, "updated_at", created_at(input)),
            "finalize_zero_amount_invoice": enum_or(input, "finalize_zero_amount_invoice", &["inherit", "skip", "finalize"], "inherit"),
            "skip_invoice_custom_sections": Value::Bool(false),
            "billing_configuration": billing_configuration(input),
            "shipping_address": shipping_address(input),
            "metadata": customer_metadata(customer),
            "integration_customers": Value::Array(Vec::new()),
            "taxes": Value::Array(self.taxes_json(&customer.tax_codes)),
            "applicable_invoice_custom_sections": Value::Array(Vec::new()),
        });
        Value::Object(out)
    }

    /// `ChargeObject` of a plan's charge.
    fn charge_json(&self, plan: &Plan, index: usize) -> Value {
        let charge = &plan.charges[index];
        let metric = self.metrics.get(&charge.metric_code);
        let input = plan
            .input
            .get("charges")
            .and_then(|c| c.get(index))
            .and_then(Value::as_object);
        let stored = |key: &str| input.and_then(|i| i.get(key)).cloned();
        object! {
            "lago_id": text(&charge.lago_id),
            "lago_billable_metric_id": text_or_null(metric.map(|m| m.lago_id.as_str())),
            "billable_metric_code": text(&charge.metric_code),
            "code": text(&charge.code),
            "invoice_display_name": text_or_null(charge.invoice_display_name.as_deref()),
            "created_at": created_at(&plan.input),
            "charge_model": Value::from(charge.model.name()),
            "pay_in_advance": Value::from(charge.pay_in_advance),
            "invoiceable": Value::from(charge.invoiceable),
            "regroup_paid_fees": stored("regroup_paid_fees").unwrap_or(Value::Null),
            "prorated": Value::from(charge.prorated),
            "min_amount_cents": crate::rating::cents_json(charge.min_amount_cents, "min_amount_cents").unwrap_or(Value::from(0)),
            "properties": Value::Object(charge.properties.clone()),
            "filters": charge.filters.iter().map(|f| object! {
                "invoice_display_name": text_or_null(f.invoice_display_name.as_deref()),
                "properties": Value::Object(f.properties.clone()),
                "values": f.values.0.iter().map(|(k, v)| (k.clone(), texts(v))).collect::<Map<String, Value>>().into(),
            }).collect(),
            "taxes": Value::Array(self.taxes_json(&charge.tax_codes)),
            "applied_pricing_unit": charge.pricing_unit.as_ref().map_or(Value::Null, |u| object! {
                "code": text(&u.code),
                "conversion_rate": Value::String(crate::number::ruby_decimal(u.applied.conversion_rate)),
            }),
            "accepts_target_wallet": stored("accepts_target_wallet").unwrap_or(Value::Null),
        }
    }

    /// `PlanObject`.
    pub fn plan_json(&self, plan: &Plan) -> Value {
        let input = &plan.input;
        object! {
            "lago_id": text(&plan.lago_id),
            "name": text(&plan.name),
            "invoice_display_name": text_column(input, "invoice_display_name"),
            "created_at": created_at(input),
            "code": text(&plan.code),
            "interval": Value::from(plan.interval.as_str()),
            "description": text_column(input, "description"),
            "amount_cents": crate::rating::cents_json(plan.amount_cents, "amount_cents").unwrap_or(Value::from(0)),
            "amount_currency": Value::from(plan.currency.code),
            "trial_period": text_or(input, "trial_period", Value::from(0)),
            "pay_in_advance": Value::from(plan.pay_in_advance),
            "bill_charges_monthly": Value::from(plan.bill_charges_monthly),
            "bill_fixed_charges_monthly": Value::Null,
            "minimum_commitment": Value::Null,
            "charges": (0..plan.charges.len()).map(|i| self.charge_json(plan, i)).collect(),
            "fixed_charges": Value::Array(Vec::new()),
            "taxes": Value::Array(self.taxes_json(&plan.tax_codes)),
            "usage_thresholds": Value::Array(Vec::new()),
            "entitlements": Value::Array(Vec::new()),
            "metadata": text_or(input, "metadata", object! {}),
        }
    }

    /// `SubscriptionObjectExtended`; the current billing period is the one holding `now`.
    pub fn subscription_json(&self, subscription: &Subscription) -> Value {
        let plan = self.plans.get(&subscription.plan_code);
        let customer = self.customers.get(&subscription.external_customer_id);
        let now = self.clock.unwrap_or(subscription.started_at);
        let period = match (customer, plan, subscription.status) {
            (Some(customer), Some(_), Status::Active) => self
                .with_scope(customer, subscription, |scope| scope.current_period(now))
                .ok(),
            _ => None,
        };
        let canceled_at = (subscription.status == Status::Canceled)
            .then(|| subscription.terminated_at.map(render::datetime))
            .flatten();
        object! {
            "lago_id": text(&subscription.lago_id),
            "external_id": text(&subscription.external_id),
            "lago_customer_id": text_or_null(customer.map(|c| c.lago_id.as_str())),
            "external_customer_id": text(&subscription.external_customer_id),
            "billing_time": Value::from(match subscription.billing_time {
                period::BillingTime::Calendar => "calendar",
                period::BillingTime::Anniversary => "anniversary",
            }),
            "name": text_or_null(subscription.name.as_deref()),
            "plan_code": text(&subscription.plan_code),
            "plan_amount_cents": plan.and_then(|p| crate::rating::cents_json(p.amount_cents, "amount_cents").ok()).unwrap_or_default(),
            "plan_amount_currency": Value::from(plan.map(|p| p.currency.code)),
            "status": Value::from(subscription.status.as_str()),
            "created_at": created_at(&subscription.input),
            "canceled_at": canceled_at.unwrap_or_default(),
            "started_at": if subscription.status == Status::Pending { Value::Null } else { render::datetime(subscription.started_at) },
            "ending_at": subscription.ending_at.map(render::datetime).unwrap_or_default(),
            "subscription_at": render::datetime(subscription.subscription_at),
            "terminated_at": subscription.terminated().map(render::datetime).unwrap_or_default(),
            "previous_plan_code": Value::Null,
            "next_plan_code": Value::Null,
            "downgrade_plan_date": Value::Null,
            "trial_ended_at": Value::Null,
            "current_billing_period_started_at": period.map(|p| render::datetime(p.from_datetime)).unwrap_or_default(),
            "current_billing_period_ending_at": period.map(|p| render::datetime(p.to_datetime)).unwrap_or_default(),
            "on_termination_credit_note": Value::Null,
            "on_termination_invoice": Value::from("generate"),
            "plan": plan.map_or(Value::Null, |p| self.plan_json(p)),
            "applicable_usage_thresholds": Value::Array(Vec::new()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reads
    // -----------------------------------------------------------------------------------------

    /// `GET /customers/{id}`.
    pub fn customer(&self, external_id: &str) -> Result<Value> {
        self.customers
            .get(external_id)
            .map(|c| self.customer_json(c))
            .ok_or_else(|| Error::not_found("customer"))
    }

    /// Every customer, oldest first (render with [`Engine::customer_json`]).
    pub fn customers(&self) -> Vec<&Customer> {
        let mut customers: Vec<&Customer> = self.customers.values().collect();
        crate::sort::sort_by_key(&mut customers, |c| {
            c.input.get("sequential_id").and_then(Value::as_u64)
        });
        customers
    }

    /// `GET /taxes/{code}`.
    pub fn tax(&self, code: &str) -> Result<Value> {
        self.taxes
            .get(code)
            .map(tax_json)
            .ok_or_else(|| Error::not_found("tax"))
    }

    /// Every tax, by code (render with [`tax_json`]).
    pub fn taxes(&self) -> Vec<&Tax> {
        self.taxes.values().collect()
    }

    /// `GET /billable_metrics/{code}`.
    pub fn metric(&self, code: &str) -> Result<Value> {
        self.metrics
            .get(code)
            .map(metric_json)
            .ok_or_else(|| Error::not_found("billable_metric"))
    }

    /// Every billable metric, by code (render with [`metric_json`]).
    pub fn metrics(&self) -> Vec<&Metric> {
        self.metrics.values().collect()
    }

    /// `GET /plans/{code}`.
    pub fn plan(&self, code: &str) -> Result<Value> {
        self.plans
            .get(code)
            .map(|p| self.plan_json(p))
            .ok_or_else(|| Error::not_found("plan"))
    }

    /// Every plan, by code (render with [`Engine::plan_json`]).
    pub fn plans(&self) -> Vec<&Plan> {
        self.plans.values().collect()
    }

    /// True when an entity of this kind (`customer`, `tax`, `billable_metric`, `plan`,
    /// `subscription`) has this key.
    pub fn exists(&self, kind: &str, key: &str) -> bool {
        match kind {
            "customer" => self.customers.contains_key(key),
            "tax" => self.taxes.contains_key(key),
            "billable_metric" => self.metrics.contains_key(key),
            "plan" => self.plans.contains_key(key),
            "subscription" => self.subscriptions.contains_key(key),
            _ => false,
        }
    }

    /// `GET /subscriptions/{id}`.
    pub fn subscription(&self, external_id: &str) -> Result<Value> {
        self.subscriptions
            .get(external_id)
            .map(|s| self.subscription_json(s))
            .ok_or_else(|| Error::not_found("subscription"))
    }

    /// Subscriptions matching a customer, plan and statuses (Lago's list defaults to active).
    pub fn subscriptions(
        &self,
        external_customer_id: Option<&str>,
        plan_code: Option<&str>,
        statuses: &[String],
    ) -> Vec<&Subscription> {
        self.subscriptions
            .values()
            .filter(|s| external_customer_id.is_none_or(|c| s.external_customer_id == c))
            .filter(|s| plan_code.is_none_or(|p| s.plan_code == p))
            .filter(|s| {
                if statuses.is_empty() {
                    s.status == Status::Active
                } else {
                    statuses.iter().any(|x| x == s.status.as_str())
                }
            })
            .collect()
    }

    /// `GET /subscriptions/{id}/charges`: the charges of its plan, newest first as Lago orders
    /// them (here: last defined first).
    pub fn subscription_charges(
        &self,
        external_id: &str,
        status: Option<&str>,
    ) -> Result<Vec<Value>> {
        let subscription = self
            .subscriptions
            .get(external_id)
            .filter(|s| s.status.as_str() == status.unwrap_or("active"))
            .ok_or_else(|| Error::not_found("subscription"))?;
        let plan = self
            .plans
            .get(&subscription.plan_code)
            .ok_or_else(|| Error::not_found("plan"))?;
        Ok((0..plan.charges.len())
            .rev()
            .map(|i| self.charge_json(plan, i))
            .collect())
    }

    /// `GET /subscriptions/{id}/charges/{code}`.
    pub fn subscription_charge(&self, external_id: &str, charge_code: &str) -> Result<Value> {
        let plan = self
            .subscriptions
            .get(external_id)
            .and_then(|s| self.plans.get(&s.plan_code))
            .ok_or_else(|| Error::not_found("subscription"))?;
        plan.charges
            .iter()
            .position(|c| c.code == charge_code)
            .map(|i| self.charge_json(plan, i))
            .ok_or_else(|| Error::not_found("charge"))
    }
}
