//! The usage engine: an organisation in memory (customers, taxes, metrics, pricing units, plans,
//! subscriptions, events) and Lago's current, projected and past usage over it.
//!
//! No globals: an [`Engine`] value owns everything. Time is an argument: every call that needs
//! "now" takes it; the engine remembers the latest `now` it was given (its clock) only to know
//! which periods had closed when the configuration changes.
//!
//! A closed period is frozen the first time the configuration changes after it closed: its usage
//! is computed with the configuration in force until then and kept, so a later price change or
//! a deleted metric does not rewrite it (Lago's past usage reads invoiced fees). Until then it is
//! computed live, so a history loaded out of order still counts.

pub mod coupons;
pub mod entities;
pub(crate) mod fast_hash;
pub mod ingest;
mod json_text;
pub mod model;
pub mod projection;
pub mod render;
pub mod running;
pub mod store;
pub mod usage;

use crate::aggregations::filters::FilterValues;
use crate::charge_models::Context;
use crate::domain::event::Event;
use crate::error::{Error, ErrorDetails, Result};
use crate::json::object;
use crate::period::{self, Mode};
use chrono::{DateTime, Utc};
use entities::{metric_json, tax_json, CREATED_AT};
pub use ingest::Duplicates;
use model::{Customer, Metric, Organization, Plan, PlanContext, Status, Subscription, Tax};
use projection::Projector;
use render::{Projectors, Shape};
use running::RunningCache;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use store::EventStore;
use usage::{Scope, UsageFilters};

/// Subscriptions, customers, plans, … per organisation: bounds memory and per-change work.
pub const ENTITIES_MAX: usize = 100_000;

/// A custom pricing unit (`POST /pricing_units`).
#[derive(Debug, Clone, PartialEq)]
pub struct PricingUnit {
    /// Unique code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Short name shown on usage.
    pub short_name: Option<String>,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

/// A closed period's usage, kept as it was when the configuration changed.
#[derive(Debug, Clone, PartialEq)]
struct FrozenPeriod {
    charges_from: DateTime<Utc>,
    usage: Value,
}

/// Entities by id or code, in key order: a `BTreeMap<String, T>` whose values are boxed, so that
/// every entity map is the same `BTreeMap<String, Box<_>>` code in the binary (one copy of the
/// B-tree's insert, remove and rebalancing instead of one per entity type; −8.8 KB gzip).
pub(crate) struct ById<T>(BTreeMap<String, Box<T>>);

impl<T: fmt::Debug> fmt::Debug for ById<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> Default for ById<T> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<T> ById<T> {
    pub(crate) fn get(&self, key: &str) -> Option<&T> {
        self.0.get(key).map(|value| &**value)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        self.0.get_mut(key).map(|value| &mut **value)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub(crate) fn insert(&mut self, key: String, value: T) -> Option<T> {
        self.0.insert(key, Box::new(value)).map(|old| *old)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<T> {
        self.0.remove(key).map(|old| *old)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.0.values().map(|value| &**value)
    }
}

/// An organisation and its usage.
#[derive(Debug, Default)]
pub struct Engine {
    org: Organization,
    customers: ById<Customer>,
    taxes: ById<Tax>,
    metrics: ById<Metric>,
    pricing_units: ById<PricingUnit>,
    plans: ById<Plan>,
    subscriptions: ById<Subscription>,
    coupons: ById<coupons::Coupon>,
    applied_coupons: Vec<coupons::AppliedCoupon>,
    events: EventStore,
    frozen: BTreeMap<String, Vec<FrozenPeriod>>,
    clock: Option<DateTime<Utc>>,
    next_id: u64,
    running: RunningCache,
    /// Bumped by every change that can move a usage: the response cache's validity.
    generation: u64,
    /// The last customer `sequential_id` given (derived again on import).
    customer_sequence: u64,
    /// Current-usage answers as JSON text, by query (see [`Engine::current_usage_text`]).
    usage_cache: HashMap<String, CachedUsage>,
}

/// Current usage as JSON text, and the period it holds for (while the generation stays).
#[derive(Debug, Clone)]
pub struct UsageText {
    /// `{"customer_usage": …}`.
    pub text: Arc<str>,
    /// First instant of the answer's period.
    pub from: DateTime<Utc>,
    /// Last instant of the answer's period.
    pub to: DateTime<Utc>,
}

/// A current-usage answer, valid while nothing changed and `now` stays in its period.
#[derive(Debug)]
struct CachedUsage {
    generation: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    text: Arc<str>,
}

/// Cached current-usage answers kept at most (a client cycling through queries cannot grow
/// memory without end; the cache starts over when full).
const USAGE_CACHE_MAX: usize = 10_000;

/// A deterministic, UUID-shaped id: the same calls give the same ids.
fn uuid(kind: &str, seed: &str, n: u64) -> String {
    let hash = fnv1a(&[kind, seed]);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        hash >> 32,
        (hash >> 16) & 0xffff,
        hash & 0xfff,
        (hash >> 4) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// FNV-1a over the concatenated parts: stable across platforms and versions, unlike std's
/// hasher.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|part| part.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn object<'a>(value: &'a Value, root: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        Error::BadRequest(format!(
            "param is missing or the value is empty or invalid: {root}"
        ))
    })
}

impl Engine {
    /// An empty organisation with Lago's premium features on.
    pub fn new() -> Engine {
        Engine::default()
    }

    fn make_id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        uuid(kind, "", self.next_id)
    }

    /// Moves the engine's clock to `now` if later (what a request at `now` does first).
    pub fn observe(&mut self, now: DateTime<Utc>) {
        if self.clock.is_none_or(|clock| now > clock) {
            self.clock = Some(now);
        }
    }

    /// Before the configuration changes: freeze every period closed at the clock, and drop the
    /// running aggregates (they depend on the configuration).
    fn before_change(&mut self) {
        if let Some(clock) = self.clock {
            let ids: Vec<String> = self.subscriptions.keys().cloned().collect();
            for id in ids {
                // A subscription whose new closed periods can't be computed (more than
                // `PERIODS_MAX` of them, a period past Decimal's range) has nothing readable to
                // keep: its past usage answers that same error. Refusing the change instead
                // would refuse every later one too, its own deletion included.
                let _unreadable = self.freeze_closed(&id, clock);
            }
        }
        self.running.clear();
        self.generation += 1;
    }

    // -----------------------------------------------------------------------------------------
    // Configuration
    // -----------------------------------------------------------------------------------------

    /// Sets the organisation's settings (`premium`, `premium_integrations`, `timezone`).
    pub fn configure(&mut self, input: &Value) -> Result<Value> {
        let org = Organization::parse(object(input, "organization")?)?;
        self.set_organization(org)
    }

    fn set_organization(&mut self, org: Organization) -> Result<Value> {
        self.before_change();
        self.org = org;
        Ok(Value::Object(self.org.input.clone()))
    }

    /// Updates the organisation's settings: keys absent from `input` keep their value (Lago's
    /// `PUT /organizations`).
    pub fn update_organization(&mut self, input: &Value) -> Result<Value> {
        let mut merged = self.org.input.clone();
        for (key, value) in object(input, "organization")? {
            merged.insert(key.clone(), value.clone());
        }
        self.set_organization(Organization::parse(&merged)?)
    }

    /// Creates or updates a customer by `external_id` (keys absent from an update are kept).
    pub fn upsert_customer(&mut self, input: &Value) -> Result<Value> {
        let input = object(input, "customer")?;
        let (merged, lago_id) = update_of(
            self.customers.get(key_of(input, "external_id")),
            input,
            self.clock,
        );
        let mut merged = merged;
        if lago_id.is_none() {
            merged.insert(
                "sequential_id".into(),
                Value::from(self.customer_sequence + 1),
            );
        }
        let lago_id = lago_id.unwrap_or_else(|| self.make_id("customer"));
        let customer = Customer::parse(&merged, lago_id)?;
        self.check_capacity(self.customers.len(), &customer.external_id, &self.customers)?;
        self.check_taxes(&customer.tax_codes)?;
        self.before_change();
        let out = self.customer_json(&customer);
        if let Some(sequence) = customer.input.get("sequential_id").and_then(Value::as_u64) {
            self.customer_sequence = self.customer_sequence.max(sequence);
        }
        self.customers
            .insert(customer.external_id.clone(), customer);
        Ok(out)
    }

    /// Creates or updates a tax by `code`.
    pub fn upsert_tax(&mut self, input: &Value) -> Result<Value> {
        let input = object(input, "tax")?;
        let (merged, lago_id) = update_of(self.taxes.get(key_of(input, "code")), input, self.clock);
        let lago_id = lago_id.unwrap_or_else(|| self.make_id("tax"));
        let tax = Tax::parse(&merged, lago_id)?;
        self.check_capacity(self.taxes.len(), &tax.code, &self.taxes)?;
        self.before_change();
        let out = tax_json(&tax);
        self.taxes.insert(tax.code.clone(), tax);
        Ok(out)
    }

    /// Creates or updates a billable metric by `code`.
    pub fn upsert_metric(&mut self, input: &Value) -> Result<Value> {
        let input = object(input, "billable_metric")?;
        let (merged, lago_id) =
            update_of(self.metrics.get(key_of(input, "code")), input, self.clock);
        let lago_id = lago_id.unwrap_or_else(|| self.make_id("billable_metric"));
        let metric = Metric::parse(&merged, lago_id)?;
        self.check_capacity(self.metrics.len(), &metric.code, &self.metrics)?;
        // Plans priced on the metric must still parse against the new definition.
        let previous = self.metrics.insert(metric.code.clone(), metric.clone());
        let plans = self.reparsed_plans();
        match previous {
            Some(previous) => self.metrics.insert(previous.code.clone(), previous),
            None => self.metrics.remove(&metric.code),
        };
        let plans = plans?;
        self.before_change();
        let out = metric_json(&metric);
        self.metrics.insert(metric.code.clone(), metric);
        self.store_plans(plans);
        Ok(out)
    }

    /// Creates or updates a pricing unit by `code`.
    pub fn upsert_pricing_unit(&mut self, input: &Value) -> Result<Value> {
        let input = object(input, "pricing_unit")?;
        let mut errors = ErrorDetails::default();
        let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
        let code = text("code").filter(|c| !c.is_empty());
        if code.is_none() {
            errors.add("code", "value_is_mandatory");
        }
        errors.into_result()?;
        let code = code.unwrap_or_default();
        let unit = PricingUnit {
            name: text("name").unwrap_or_else(|| code.clone()),
            short_name: text("short_name"),
            code,
            input: input.clone(),
        };
        self.check_capacity(self.pricing_units.len(), &unit.code, &self.pricing_units)?;
        let previous = self.pricing_units.insert(unit.code.clone(), unit.clone());
        let plans = self.reparsed_plans();
        match previous {
            Some(previous) => self.pricing_units.insert(previous.code.clone(), previous),
            None => self.pricing_units.remove(&unit.code),
        };
        let plans = plans?;
        self.before_change();
        let out = object! {
            "code": crate::json::text(&unit.code),
            "name": crate::json::text(&unit.name),
            "short_name": crate::json::text_or_null(unit.short_name.as_deref()),
        };
        self.pricing_units.insert(unit.code.clone(), unit);
        self.store_plans(plans);
        Ok(out)
    }

    /// Creates or replaces a plan by `code` (charges are replaced as a whole, as Lago's update
    /// does with the charges it is given).
    pub fn upsert_plan(&mut self, input: &Value) -> Result<Value> {
        let input = object(input, "plan")?;
        let (merged, lago_id) = update_of(self.plans.get(key_of(input, "code")), input, self.clock);
        let lago_id = lago_id.unwrap_or_else(|| self.make_id("plan"));
        let plan = self.parse_plan(&merged, lago_id)?;
        self.check_capacity(self.plans.len(), &plan.code, &self.plans)?;
        self.check_taxes(&plan.tax_codes)?;
        for charge in &plan.charges {
            self.check_taxes(&charge.tax_codes)?;
        }
        self.before_change();
        let out = self.plan_json(&plan);
        self.plans.insert(plan.code.clone(), plan);
        Ok(out)
    }

    fn parse_plan(&self, input: &Map<String, Value>, lago_id: String) -> Result<Plan> {
        let metric = |key: &str| {
            self.metrics
                .get(key)
                .or_else(|| self.metrics.values().find(|m| m.lago_id == key))
        };
        let pricing_unit = |code: &str| self.pricing_units.get(code).map(|u| u.short_name.clone());
        let seed = lago_id.clone();
        let id = move |kind: &str, index: usize| uuid(kind, &seed, index as u64);
        let ctx = PlanContext {
            premium: self.org.premium,
            metric: &metric,
            pricing_unit: &pricing_unit,
            id: &id,
        };
        Plan::parse(input, lago_id, &ctx)
    }

    /// Every plan parsed again against the current metrics and pricing units (after a change of
    /// either); an error refuses the change.
    fn reparsed_plans(&self) -> Result<Vec<Plan>> {
        self.plans
            .values()
            .map(|plan| self.parse_plan(&plan.input, plan.lago_id.clone()))
            .collect()
    }

    fn store_plans(&mut self, plans: Vec<Plan>) {
        for plan in plans {
            self.plans.insert(plan.code.clone(), plan);
        }
    }

    /// Creates or updates a subscription by `external_id`. An unknown customer is created (as
    /// Lago does); an unknown plan is 404 `plan_not_found`.
    pub fn upsert_subscription(&mut self, input: &Value, now: DateTime<Utc>) -> Result<Value> {
        let input = object(input, "subscription")?;
        self.observe(now);
        let (merged, lago_id) = update_of(
            self.subscriptions.get(key_of(input, "external_id")),
            input,
            self.clock,
        );
        let lago_id = lago_id.unwrap_or_else(|| self.make_id("subscription"));
        let subscription = Subscription::parse(&merged, lago_id, now)?;
        if !self.plans.contains_key(&subscription.plan_code) {
            return Err(Error::not_found("plan"));
        }
        self.check_capacity(
            self.subscriptions.len(),
            &subscription.external_id,
            &self.subscriptions,
        )?;
        if !self
            .customers
            .contains_key(&subscription.external_customer_id)
        {
            self.upsert_customer(
                &object! {"external_id": crate::json::text(&subscription.external_customer_id)},
            )?;
        }
        self.before_change();
        let out = self.subscription_json(&subscription);
        self.subscriptions
            .insert(subscription.external_id.clone(), subscription);
        Ok(out)
    }

    /// Terminates a subscription at `now` (Lago's `DELETE /subscriptions/{id}`).
    pub fn terminate_subscription(
        &mut self,
        external_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Value> {
        self.observe(now);
        if !self.subscriptions.contains_key(external_id) {
            return Err(Error::not_found("subscription"));
        }
        self.before_change();
        let Some(subscription) = self.subscriptions.get_mut(external_id) else {
            return Err(Error::not_found("subscription"));
        };
        subscription.status = Status::Terminated;
        subscription.terminated_at = Some(now);
        subscription
            .input
            .insert("status".into(), Value::from("terminated"));
        subscription
            .input
            .insert("terminated_at".into(), render::datetime(now));
        let subscription = subscription.clone();
        Ok(self.subscription_json(&subscription))
    }

    /// Deletes a customer (Lago's `DELETE /customers/{id}`): its subscriptions are terminated at
    /// `now` and its applied coupons end; its events stay stored.
    pub fn delete_customer(&mut self, external_id: &str, now: DateTime<Utc>) -> Result<Value> {
        let Some(customer) = self.customers.get(external_id) else {
            return Err(Error::not_found("customer"));
        };
        let out = self.customer_json(customer);
        self.observe(now);
        let active: Vec<String> = self
            .subscriptions
            .values()
            .filter(|s| s.external_customer_id == external_id && s.status == Status::Active)
            .map(|s| s.external_id.clone())
            .collect();
        for id in active {
            self.terminate_subscription(&id, now)?;
        }
        for applied in self.applied_coupons.iter_mut() {
            if applied.external_customer_id == external_id && applied.terminated_at.is_none() {
                applied.terminated_at = Some(now);
            }
        }
        self.before_change();
        self.customers.remove(external_id);
        Ok(out)
    }

    /// Deletes a billable metric; charges on it stop billing (closed periods keep their usage).
    pub fn delete_metric(&mut self, code: &str) -> Result<Value> {
        let Some(metric) = self.metrics.get(code) else {
            return Err(Error::not_found("billable_metric"));
        };
        let out = metric_json(metric);
        let lago_id = metric.lago_id.clone();
        self.before_change();
        self.metrics.remove(code);
        // Lago deletes the metric's charges with it.
        let uses_metric = |charge: &Value| {
            charge.get("billable_metric_code").and_then(Value::as_str) == Some(code)
                || charge.get("billable_metric_id").and_then(Value::as_str) == Some(&lago_id)
                || charge.get("billable_metric_id").and_then(Value::as_str) == Some(code)
        };
        let codes: Vec<String> = self.plans.keys().cloned().collect();
        for plan_code in codes {
            let Some(plan) = self.plans.get(&plan_code) else {
                continue;
            };
            let mut input = plan.input.clone();
            if let Some(Value::Array(charges)) = input.get_mut("charges") {
                charges.retain(|c| !uses_metric(c));
            }
            let reparsed = self.parse_plan(&input, plan.lago_id.clone())?;
            self.plans.insert(plan_code, reparsed);
        }
        Ok(out)
    }

    /// Deletes a plan that no subscription uses.
    pub fn delete_plan(&mut self, code: &str) -> Result<Value> {
        let Some(plan) = self.plans.get(code) else {
            return Err(Error::not_found("plan"));
        };
        if self
            .subscriptions
            .values()
            .any(|s| s.plan_code == code && s.status == Status::Active)
        {
            return Err(Error::invalid("plan", "attached_to_an_active_subscription"));
        }
        let out = self.plan_json(plan);
        self.before_change();
        self.plans.remove(code);
        Ok(out)
    }

    /// Deletes a tax (fees fall back to the next taxes in precedence).
    pub fn delete_tax(&mut self, code: &str) -> Result<Value> {
        let Some(tax) = self.taxes.get(code) else {
            return Err(Error::not_found("tax"));
        };
        let out = tax_json(tax);
        self.before_change();
        self.taxes.remove(code);
        Ok(out)
    }

    fn check_capacity<T>(&self, len: usize, key: &str, map: &ById<T>) -> Result<()> {
        if len >= ENTITIES_MAX && !map.contains_key(key) {
            return Err(Error::invalid("base", "too_many_records"));
        }
        Ok(())
    }

    fn check_taxes(&self, codes: &[String]) -> Result<()> {
        if codes.iter().any(|code| !self.taxes.contains_key(code)) {
            return Err(Error::not_found("tax"));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Events
    // -----------------------------------------------------------------------------------------

    /// Ingests one event (`POST /events`' `event` object); `now` is its default timestamp.
    pub fn ingest_event(&mut self, input: &Value, now: DateTime<Utc>) -> Result<Value> {
        let event = ingest::parse_event(input, now)?;
        if self
            .events
            .contains(&event.external_subscription_id, &event.transaction_id)
        {
            return Err(Error::invalid("transaction_id", "value_already_exist"));
        }
        self.observe(now);
        let out = self.event_json(&event, Some(now));
        self.store(event);
        Ok(out)
    }

    /// Ingests a batch (`POST /events/batch`' `events` array): all or nothing.
    pub fn ingest_batch(&mut self, input: &Value, now: DateTime<Utc>) -> Result<Value> {
        let events = ingest::parse_batch(input, now, ingest::BATCH_MAX)?;
        let out = events
            .iter()
            .map(|e| self.event_json(e, Some(now)))
            .collect();
        self.store_all(events, now)?;
        Ok(Value::Array(out))
    }

    /// Ingests NDJSON, a JSON array or CSV of events: all or nothing. Returns the number stored.
    pub fn ingest_bulk(&mut self, text: &str, now: DateTime<Utc>) -> Result<usize> {
        self.ingest_bulk_with_duplicates(text, now, Duplicates::Refuse)
    }

    /// [`ingest_bulk`](Self::ingest_bulk), choosing what an event whose key is already stored
    /// or repeats an earlier one of the text does: with [`Duplicates::Skip`] it is dropped and
    /// the others are stored (any other bad event still refuses the text). Returns the number
    /// stored.
    pub fn ingest_bulk_with_duplicates(
        &mut self,
        text: &str,
        now: DateTime<Utc>,
        duplicates: Duplicates,
    ) -> Result<usize> {
        let mut events = ingest::parse_bulk_with_duplicates(text, now, duplicates)?;
        match duplicates {
            Duplicates::Refuse => self.claim_all(&events)?,
            Duplicates::Skip => self.events.claim_new(&mut events),
        }
        let count = events.len();
        self.store_claimed(events, now)?;
        Ok(count)
    }

    /// Stores a parsed batch (no two events with one key): nothing unless every event is new
    /// and the store has room.
    fn store_all(&mut self, events: Vec<Event>, now: DateTime<Utc>) -> Result<()> {
        self.claim_all(&events)?;
        self.store_claimed(events, now)
    }

    /// Claims the transaction ids of a batch, one probe per event, all or none: an error at the
    /// index of each event whose key is stored.
    fn claim_all(&mut self, events: &[Event]) -> Result<()> {
        self.events.claim(events).map_err(|taken| {
            Error::Indexed(
                taken
                    .into_iter()
                    .map(|index| {
                        let mut details = ErrorDetails::default();
                        details.add("transaction_id", "value_already_exist");
                        (index, details)
                    })
                    .collect(),
            )
        })
    }

    /// Stores events whose transaction ids are claimed, if the store has room for all of them
    /// (else gives the ids back).
    fn store_claimed(&mut self, events: Vec<Event>, now: DateTime<Utc>) -> Result<()> {
        if self.events.len().saturating_add(events.len()) > crate::aggregations::EVENTS_MAX {
            self.events.unclaim(&events);
            return Err(Error::invalid("events", "too_many_events"));
        }
        self.observe(now);
        for event in &events {
            self.fold(event);
        }
        self.generation += events.len() as u64;
        self.events.push_claimed(events);
        Ok(())
    }

    fn store(&mut self, event: Event) {
        self.fold(&event);
        self.events.insert(event);
        self.generation += 1;
    }

    fn fold(&mut self, event: &Event) {
        // A value the states cannot fold (out of range) drops them; the event walk then reports
        // it at query time, where Lago would.
        if self.running.add(event).is_err() {
            self.running.clear();
        }
    }

    /// Number of stored events.
    pub fn events_count(&self) -> usize {
        self.events.len()
    }

    /// `GET /events`: the matching events, newest first, one page of them and the total.
    pub fn events_page(
        &self,
        query: &EventQuery,
        page: usize,
        per_page: usize,
    ) -> (Vec<Value>, usize) {
        let mut matching: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| {
                query
                    .external_subscription_id
                    .is_none_or(|id| *e.external_subscription_id == *id)
            })
            .filter(|e| query.code.is_none_or(|code| *e.code == *code))
            .filter(|e| query.from.is_none_or(|from| e.timestamp >= from))
            .filter(|e| query.to.is_none_or(|to| e.timestamp <= to))
            .collect();
        crate::sort::sort_by(&mut matching, |a, b| {
            b.timestamp
                .cmp(&a.timestamp)
                .then_with(|| a.transaction_id.cmp(&b.transaction_id))
        });
        let total = matching.len();
        let rows = matching
            .into_iter()
            .skip(page.saturating_sub(1).saturating_mul(per_page))
            .take(per_page)
            .map(|e| self.event_json(e, None))
            .collect();
        (rows, total)
    }

    /// `GET /events/{transaction_id}`.
    pub fn event(&self, transaction_id: &str) -> Result<Value> {
        self.events
            .find(transaction_id)
            .map(|e| self.event_json(e, None))
            .ok_or_else(|| Error::not_found("event"))
    }

    fn event_json(&self, event: &Event, created_at: Option<DateTime<Utc>>) -> Value {
        let subscription = self.subscriptions.get(&event.external_subscription_id);
        let lago_id = uuid(
            "event",
            &event.external_subscription_id,
            fnv1a(&[&event.transaction_id]),
        );
        ingest::event_json(
            event,
            &lago_id,
            subscription.map(|s| s.lago_id.as_str()),
            created_at,
        )
    }

    // -----------------------------------------------------------------------------------------
    // Usage
    // -----------------------------------------------------------------------------------------

    /// The customer and its active subscription named by a usage query.
    fn usage_target(&self, query: &UsageQuery) -> Result<(&Customer, &Subscription)> {
        let customer = self
            .customers
            .get(&query.external_customer_id)
            .ok_or_else(|| Error::not_found("customer"))?;
        let subscription = query
            .external_subscription_id
            .as_deref()
            .and_then(|id| self.subscriptions.get(id))
            .filter(|s| {
                s.external_customer_id == customer.external_id && s.status == Status::Active
            })
            .ok_or_else(|| Error::NotAllowed("no_active_subscription".into()))?;
        Ok((customer, subscription))
    }

    fn with_scope<T>(
        &self,
        customer: &Customer,
        subscription: &Subscription,
        f: impl FnOnce(&Scope) -> Result<T>,
    ) -> Result<T> {
        let plan = self
            .plans
            .get(&subscription.plan_code)
            .ok_or_else(|| Error::not_found("plan"))?;
        let metric = |code: &str| self.metrics.get(code);
        let tax = |code: &str| self.taxes.get(code);
        let scope = Scope {
            org: &self.org,
            customer,
            subscription,
            plan,
            metric: &metric,
            tax: &tax,
            default_taxes: self
                .taxes
                .values()
                .filter(|t| t.applied_to_organization)
                .collect(),
            events: &self.events,
            running: Some(&self.running),
        };
        f(&scope)
    }

    /// Lago's `GET /customers/{id}/current_usage` body (`{"customer_usage": …}`).
    pub fn current_usage(&mut self, query: &Value) -> Result<Value> {
        render::value_of(&self.current_usage_body(query)?)
    }

    /// [`Engine::current_usage`] as JSON text, computed (what the JS package parses).
    pub fn current_usage_body(&mut self, query: &Value) -> Result<String> {
        let query = UsageQuery::parse(query)?;
        self.observe(query.now);
        self.current_usage_of(&query).map(|(text, _)| text)
    }

    fn current_usage_of(&self, query: &UsageQuery) -> Result<(String, period::Boundaries)> {
        let (customer, subscription) = self.usage_target(query)?;
        self.with_scope(customer, subscription, |scope| {
            let boundaries = scope.current_period(query.now)?;
            let usage = scope.usage(boundaries, &query.filters, query.apply_taxes)?;
            let text = render::usage_text_in("customer_usage", &usage, Shape::Current)?;
            Ok((text, boundaries))
        })
    }

    /// [`Engine::current_usage`] as JSON text, answered from a cache while nothing changed (no
    /// event, no configuration change) and `now` stays in the answer's period: a repeated read
    /// costs a lookup, and any change is seen by the next read.
    pub fn current_usage_text(&mut self, query: &Value) -> Result<UsageText> {
        let parsed = UsageQuery::parse(query)?;
        self.observe(parsed.now);
        let key = query_key(query);
        if let Some(hit) = self.usage_cache.get(&key) {
            if hit.generation == self.generation && hit.from <= parsed.now && parsed.now <= hit.to {
                return Ok(UsageText {
                    text: Arc::clone(&hit.text),
                    from: hit.from,
                    to: hit.to,
                });
            }
        }
        let (text, boundaries) = self.current_usage_of(&parsed)?;
        let text: Arc<str> = text.into();
        if self.usage_cache.len() >= USAGE_CACHE_MAX {
            self.usage_cache.clear();
        }
        self.usage_cache.insert(
            key,
            CachedUsage {
                generation: self.generation,
                from: boundaries.from_datetime,
                to: boundaries.to_datetime,
                text: Arc::clone(&text),
            },
        );
        Ok(UsageText {
            text,
            from: boundaries.from_datetime,
            to: boundaries.to_datetime,
        })
    }

    /// A number that changes with every change that can move a usage (events, configuration):
    /// an answer computed at one generation holds while it stays the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Lago's `GET /customers/{id}/projected_usage` body (`{"customer_projected_usage": …}`).
    pub fn projected_usage(&mut self, query: &Value) -> Result<Value> {
        render::value_of(&self.projected_usage_body(query)?)
    }

    /// [`Engine::projected_usage`] as JSON text (what the JS package parses).
    pub fn projected_usage_body(&mut self, query: &Value) -> Result<String> {
        let query = UsageQuery::parse(query)?;
        self.observe(query.now);
        if !self.org.premium || !self.org.has_integration("projected_usage") {
            return Err(Error::Forbidden("projected_usage_not_enabled".into()));
        }
        let (customer, subscription) = self.usage_target(&query)?;
        self.with_scope(customer, subscription, |scope| {
            let boundaries = scope.current_period(query.now)?;
            let usage = scope.usage(boundaries, &query.filters, query.apply_taxes)?;
            let ratio = period::proration::period_ratio(
                boundaries.from_datetime,
                boundaries.to_datetime,
                query.now,
                scope.timezone(),
            )?;
            let projectors = Projectors(
                usage
                    .charges
                    .iter()
                    .map(|c| Projector {
                        ratio,
                        recurring: c.metric.metric.recurring,
                        ctx: Context {
                            premium: self.org.premium,
                            prorated: c.charge.prorated,
                            currency: scope.plan.currency,
                            exclude_event: false,
                        },
                        pricing_unit: c.charge.pricing_unit.as_ref().map(|u| &u.applied),
                    })
                    .collect(),
            );
            render::usage_text_in(
                "customer_projected_usage",
                &usage,
                Shape::Projected(&projectors),
            )
        })
    }

    /// Lago's `GET /customers/{id}/past_usage` body (`{"usage_periods": […], "meta": …}`):
    /// closed periods, newest first.
    pub fn past_usage(&mut self, query: &Value) -> Result<Value> {
        let query = PastQuery::parse(query)?;
        self.observe(query.now);
        if let Some(code) = &query.billable_metric_code {
            if !self.metrics.contains_key(code) {
                return Err(Error::not_found("billable_metric"));
            }
        }
        let belongs = self
            .subscriptions
            .get(&query.external_subscription_id)
            .is_some_and(|s| s.external_customer_id == query.external_customer_id)
            && self.customers.contains_key(&query.external_customer_id);
        let mut periods = if belongs {
            self.closed_periods(&query.external_subscription_id, query.now)?
        } else {
            Vec::new()
        };
        periods.reverse();
        if let Some(code) = &query.billable_metric_code {
            for period in &mut periods {
                if let Some(Value::Array(charges)) = period.get_mut("charges_usage") {
                    charges.retain(|c| c["billable_metric"]["code"] == json!(code));
                }
            }
        }
        let total = periods.len();
        let per_page = query.periods_count.unwrap_or(query.per_page).max(1);
        let total_pages = total.div_ceil(per_page);
        let page = query.page.max(1);
        let rows: Vec<Value> = periods
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let mut out = Map::new();
        out.insert("usage_periods".into(), Value::Array(rows));
        out.insert("meta".into(), pagination_meta(page, total_pages, total));
        Ok(Value::Object(out))
    }

    /// Every closed period of a subscription at `now`, oldest first: frozen ones as kept, the
    /// others computed with the current configuration.
    fn closed_periods(&self, external_id: &str, now: DateTime<Utc>) -> Result<Vec<Value>> {
        let periods = self.closed_usages(external_id, None, now)?;
        Ok(periods.into_iter().map(|p| p.usage).collect())
    }

    fn freeze_closed(&mut self, external_id: &str, clock: DateTime<Utc>) -> Result<()> {
        let last = self
            .frozen
            .get(external_id)
            .and_then(|periods| periods.last())
            .map(|p| p.charges_from);
        let new: Vec<FrozenPeriod> = self
            .closed_usages(external_id, last, clock)?
            .into_iter()
            .filter(|p| last.is_none_or(|l| p.charges_from > l))
            .collect();
        if !new.is_empty() {
            self.frozen
                .entry(external_id.to_string())
                .or_default()
                .extend(new);
        }
        Ok(())
    }

    /// Every period of a subscription closed at `now`, from the one holding `start` (default:
    /// its start), oldest first: frozen ones as kept, the others computed with the current
    /// configuration (only frozen ones once its plan is gone).
    fn closed_usages(
        &self,
        external_id: &str,
        start: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<FrozenPeriod>> {
        let Some(subscription) = self.subscriptions.get(external_id) else {
            return Ok(Vec::new());
        };
        let Some(customer) = self.customers.get(&subscription.external_customer_id) else {
            return Ok(Vec::new());
        };
        let frozen = self.frozen.get(external_id).map_or(&[][..], Vec::as_slice);
        if !self.plans.contains_key(&subscription.plan_code) {
            return Ok(frozen.to_vec());
        }
        self.with_scope(customer, subscription, |scope| {
            let input = scope.period_input(Mode::CurrentUsage, now);
            let start = start.unwrap_or(subscription.started_at);
            let mut out = Vec::new();
            for boundaries in period::periods_between(&input, start, now)? {
                let Some(charges) = boundaries.charges_period() else {
                    continue;
                };
                if charges.to >= now {
                    continue;
                }
                let usage = match frozen.iter().find(|f| f.charges_from == charges.from) {
                    Some(kept) => kept.usage.clone(),
                    None => past_period_json(scope, boundaries, external_id)?,
                };
                out.push(FrozenPeriod {
                    charges_from: charges.from,
                    usage,
                });
            }
            Ok(out)
        })
    }

    // -----------------------------------------------------------------------------------------
    // Export / import
    // -----------------------------------------------------------------------------------------

    /// The whole state as JSON; [`Engine::import`] of it gives an engine with the same answers
    /// and the same export.
    pub fn export(&self) -> Value {
        let inputs = |items: Vec<(&String, &Map<String, Value>)>| -> Value {
            Value::Array(
                items
                    .into_iter()
                    .map(|(lago_id, input)| object! {"lago_id": crate::json::text(lago_id), "input": Value::Object(input.clone())})
                    .collect(),
            )
        };
        object! {
            "format": Value::from("usage-calc/1"),
            "organization": Value::Object(self.org.input.clone()),
            "taxes": inputs(self.taxes.values().map(|t| (&t.lago_id, &t.input)).collect()),
            "customers": inputs(self.customers.values().map(|c| (&c.lago_id, &c.input)).collect()),
            "billable_metrics": inputs(self.metrics.values().map(|m| (&m.lago_id, &m.input)).collect()),
            "pricing_units": Value::Array(self.pricing_units.values().map(|u| Value::Object(u.input.clone())).collect()),
            "plans": inputs(self.plans.values().map(|p| (&p.lago_id, &p.input)).collect()),
            "subscriptions": inputs(self.subscriptions.values().map(|s| (&s.lago_id, &s.input)).collect()),
            "coupons": self.coupons_export(),
            "events": Value::Array(self.events.iter().map(event_export_json).collect()),
            "frozen_periods": self.frozen.iter().map(|(id, periods)| {
                (id.clone(), Value::Array(periods.iter().map(|p| object! {
                    "charges_from": render::datetime_exact(p.charges_from),
                    "usage": p.usage.clone(),
                }).collect()))
            }).collect::<Map<String, Value>>().into(),
            "clock": self.clock.map_or(Value::Null, render::datetime_exact),
            "next_id": Value::from(self.next_id),
        }
    }

    /// An engine from an [`Engine::export`].
    pub fn import(state: &Value) -> Result<Engine> {
        let state = object(state, "state")?;
        if state.get("format").and_then(Value::as_str) != Some("usage-calc/1") {
            return Err(Error::invalid("format", "value_is_invalid"));
        }
        let mut engine = Engine::new();
        if let Some(org) = state.get("organization").and_then(Value::as_object) {
            engine.org = Organization::parse(org)?;
        }
        let list = |key: &str| -> Result<Vec<(String, Map<String, Value>)>> {
            match state.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        let lago_id = item.get("lago_id").and_then(Value::as_str);
                        let input = item.get("input").and_then(Value::as_object);
                        match (lago_id, input) {
                            (Some(id), Some(input)) => Ok((id.to_string(), input.clone())),
                            _ => Err(Error::invalid(key, "value_is_invalid")),
                        }
                    })
                    .collect(),
                Some(_) => Err(Error::invalid(key, "value_is_invalid")),
            }
        };
        for (id, input) in list("taxes")? {
            let tax = Tax::parse(&input, id)?;
            engine.taxes.insert(tax.code.clone(), tax);
        }
        for (id, input) in list("customers")? {
            let customer = Customer::parse(&input, id)?;
            if let Some(sequence) = input.get("sequential_id").and_then(Value::as_u64) {
                engine.customer_sequence = engine.customer_sequence.max(sequence);
            }
            engine
                .customers
                .insert(customer.external_id.clone(), customer);
        }
        for (id, input) in list("billable_metrics")? {
            let metric = Metric::parse(&input, id)?;
            engine.metrics.insert(metric.code.clone(), metric);
        }
        if let Some(Value::Array(units)) = state.get("pricing_units") {
            for unit in units {
                engine.upsert_pricing_unit(unit)?;
            }
        }
        for (id, input) in list("plans")? {
            let plan = engine.parse_plan(&input, id)?;
            engine.plans.insert(plan.code.clone(), plan);
        }
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        for (id, input) in list("subscriptions")? {
            let subscription = Subscription::parse(&input, id, epoch)?;
            engine
                .subscriptions
                .insert(subscription.external_id.clone(), subscription);
        }
        if let Some(Value::Object(coupons)) = state.get("coupons") {
            engine.coupons_import(coupons)?;
        }
        if let Some(Value::Array(events)) = state.get("events") {
            for item in events {
                let event = ingest::parse_event(item, epoch)?;
                if !engine
                    .events
                    .contains(&event.external_subscription_id, &event.transaction_id)
                {
                    engine.events.insert(event);
                }
            }
        }
        if let Some(Value::Object(frozen)) = state.get("frozen_periods") {
            for (id, periods) in frozen {
                let mut kept = Vec::new();
                for period in periods.as_array().map_or(&[][..], Vec::as_slice) {
                    let from = period
                        .get("charges_from")
                        .and_then(Value::as_str)
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .ok_or_else(|| Error::invalid("frozen_periods", "value_is_invalid"))?;
                    kept.push(FrozenPeriod {
                        charges_from: from.with_timezone(&Utc),
                        usage: period.get("usage").cloned().unwrap_or(Value::Null),
                    });
                }
                engine.frozen.insert(id.clone(), kept);
            }
        }
        engine.clock = match state.get("clock").and_then(Value::as_str) {
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|_| Error::invalid("clock", "invalid_date"))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        engine.next_id = state.get("next_id").and_then(Value::as_u64).unwrap_or(0);
        Ok(engine)
    }
}

/// A closed period as Lago's past usage lists it: only the charges with something billed
/// (Lago persists no fee for zero units, zero amount and zero events).
fn past_period_json(
    scope: &Scope,
    boundaries: period::Boundaries,
    external_id: &str,
) -> Result<Value> {
    let usage = scope.usage(boundaries, &UsageFilters::default(), true)?;
    let invoice_id = uuid(
        "invoice",
        external_id,
        boundaries.from_datetime.timestamp().unsigned_abs(),
    );
    let mut json = render::usage_json(&usage, Shape::Current, Some(&invoice_id))?;
    if let Some(Value::Array(charges)) = json.get_mut("charges_usage") {
        charges.retain(|c| {
            c["amount_cents"] != json!(0)
                || c["events_count"] != json!(0)
                || c["units"] != json!("0.0")
        });
    }
    Ok(json)
}

/// Lago's pagination meta (`current_page 0` and `total_pages 0` when nothing matches).
pub fn pagination_meta(page: usize, total_pages: usize, total_count: usize) -> Value {
    let (page, total_pages) = if total_count == 0 {
        (0, 0)
    } else {
        (page, total_pages)
    };
    object! {
        "current_page": Value::from(page),
        "next_page": Value::from(if page < total_pages { Some(page + 1) } else { None }),
        "prev_page": Value::from(if page > 1 { Some(page - 1) } else { None }),
        "total_pages": Value::from(total_pages),
        "total_count": Value::from(total_count),
    }
}

/// An event as `parse_event` reads it back: the timestamp as exact Unix seconds.
fn event_export_json(event: &Event) -> Value {
    let seconds = event.timestamp.timestamp();
    let micros = event.timestamp.timestamp_subsec_micros();
    let timestamp = if micros == 0 {
        seconds.to_string()
    } else {
        let sign = if seconds < 0 && micros > 0 { "-" } else { "" };
        let (whole, fraction) = if seconds < 0 {
            ((seconds + 1).unsigned_abs(), 1_000_000 - micros)
        } else {
            (seconds.unsigned_abs(), micros)
        };
        format!("{sign}{whole}.{fraction:06}")
    };
    object! {
        "transaction_id": crate::json::text(&event.transaction_id),
        "external_subscription_id": crate::json::text(&event.external_subscription_id),
        "code": crate::json::text(&event.code),
        "timestamp": Value::String(timestamp),
        "properties": serde_json::to_value(&event.properties).unwrap_or_default(),
        "precise_total_amount_cents": Value::from(event.precise_total_amount_cents.map(|c| c.to_string())),
    }
}

/// An entity's stored JSON and id.
trait Stored {
    fn input(&self) -> &Map<String, Value>;
    fn lago_id(&self) -> &str;
}

macro_rules! stored {
    ($($entity:ty),*) => {$(
        impl Stored for $entity {
            fn input(&self) -> &Map<String, Value> {
                &self.input
            }
            fn lago_id(&self) -> &str {
                &self.lago_id
            }
        }
    )*};
}
stored!(Customer, Tax, Metric, Plan, Subscription);

/// Keys the engine sets on an entity's stored input; an update cannot change them.
const ENGINE_KEPT: &[&str] = &[CREATED_AT, "sequential_id"];

/// The JSON an upsert parses and the id it keeps: an update keeps the keys it does not give
/// (`{a: 1}` updated by `{b: 2}` is `{a: 1, b: 2}`) and the entity's id; a creation has no id yet
/// and is stamped `created_at` (the engine's clock).
fn update_of<T: Stored>(
    existing: Option<&T>,
    update: &Map<String, Value>,
    clock: Option<DateTime<Utc>>,
) -> (Map<String, Value>, Option<String>) {
    let given = update
        .iter()
        .filter(|(key, _)| !ENGINE_KEPT.contains(&key.as_str()));
    let Some(existing) = existing else {
        let mut created: Map<String, Value> = given.map(|(k, v)| (k.clone(), v.clone())).collect();
        let at = clock.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        created.insert(CREATED_AT.into(), render::datetime(at));
        return (created, None);
    };
    let mut merged = existing.input().clone();
    for (key, value) in given {
        merged.insert(key.clone(), value.clone());
    }
    (merged, Some(existing.lago_id().to_string()))
}

/// The text of an entity's key field (`code`, `external_id`), "" when absent.
fn key_of<'a>(input: &'a Map<String, Value>, field: &str) -> &'a str {
    input.get(field).and_then(Value::as_str).unwrap_or("")
}

/// A usage query without its `now`: what a cached answer depends on.
fn query_key(query: &Value) -> String {
    let mut key = String::new();
    if let Some(map) = query.as_object() {
        for (name, value) in map.iter().filter(|(name, _)| name.as_str() != "now") {
            key.push_str(name);
            key.push('\u{1}');
            key.push_str(&value.to_string());
            key.push('\u{2}');
        }
    }
    key
}

/// `GET /events` filters.
#[derive(Debug, Default)]
pub struct EventQuery<'a> {
    /// Only this subscription's events.
    pub external_subscription_id: Option<&'a str>,
    /// Only this metric code.
    pub code: Option<&'a str>,
    /// Timestamps at or after.
    pub from: Option<DateTime<Utc>>,
    /// Timestamps at or before.
    pub to: Option<DateTime<Utc>>,
}

/// A current or projected usage query.
struct UsageQuery {
    external_customer_id: String,
    external_subscription_id: Option<String>,
    now: DateTime<Utc>,
    apply_taxes: bool,
    filters: UsageFilters,
}

/// A past usage query.
struct PastQuery {
    external_customer_id: String,
    external_subscription_id: String,
    now: DateTime<Utc>,
    billable_metric_code: Option<String>,
    periods_count: Option<usize>,
    page: usize,
    per_page: usize,
}

fn query_text(query: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match query.get(*key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    })
}

/// A boolean query parameter, as lago-api casts it (`ActiveModel::Type::Boolean`): `"0"`, `"f"`,
/// `"F"`, `"false"`, `"FALSE"`, `"off"`, `"OFF"` and `0` are false, `""` is nil (false), and any
/// other value present is true, never an error.
fn query_flag(query: &Map<String, Value>, key: &str, default: bool) -> bool {
    match query.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => !matches!(
            text.as_str(),
            "" | "0" | "f" | "F" | "false" | "FALSE" | "off" | "OFF"
        ),
        Some(Value::Number(number)) => number.as_i64() != Some(0),
        Some(_) => true,
    }
}

fn query_count(query: &Map<String, Value>, key: &str) -> Result<Option<usize>> {
    match query.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                _ => return Err(Error::invalid(key, "value_is_invalid")),
            };
            text.parse::<usize>()
                .map(Some)
                .map_err(|_| Error::invalid(key, "value_is_invalid"))
        }
    }
}

fn query_now(query: &Map<String, Value>) -> Result<DateTime<Utc>> {
    match query.get("now") {
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| Error::invalid("now", "invalid_date")),
        _ => Err(Error::invalid("now", "value_is_mandatory")),
    }
}

/// `group[key]=value` / `filter_by_group` (an object or its JSON text; values string or list).
/// An empty one (`group=`, how an empty deepObject is sent) is no filter.
fn group_filter(query: &Map<String, Value>) -> Result<Option<FilterValues>> {
    let given = |key: &str| {
        query
            .get(key)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
    };
    let raw = match given("group").or_else(|| given("filter_by_group")) {
        None => return Ok(None),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|_| Error::invalid("filter_by_group", "value_is_invalid"))?,
        Some(other) => other.clone(),
    };
    let Value::Object(map) = raw else {
        return Err(Error::invalid("filter_by_group", "value_is_invalid"));
    };
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        let values = match value {
            Value::String(text) => vec![text],
            Value::Number(number) => vec![number.to_string()],
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    Value::Number(number) => Ok(number.to_string()),
                    _ => Err(Error::invalid("filter_by_group", "value_is_invalid")),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(Error::invalid("filter_by_group", "value_is_invalid")),
        };
        out.push((key, values));
    }
    Ok(Some(FilterValues(out)))
}

impl UsageQuery {
    fn parse(value: &Value) -> Result<UsageQuery> {
        let query = object(value, "query")?;
        Ok(UsageQuery {
            external_customer_id: query_text(query, &["external_customer_id"])
                .ok_or_else(|| Error::not_found("customer"))?,
            external_subscription_id: query_text(query, &["external_subscription_id"]),
            now: query_now(query)?,
            apply_taxes: query_flag(query, "apply_taxes", true),
            filters: UsageFilters {
                charge_id: query_text(query, &["charge_id", "filter_by_charge_id"]),
                charge_code: query_text(query, &["charge_code", "filter_by_charge_code"]),
                billable_metric_code: query_text(
                    query,
                    &["billable_metric_code", "filter_by_metric_code"],
                ),
                group: group_filter(query)?,
                skip_grouping: query_flag(query, "skip_grouping", false),
                full_usage: query_flag(query, "full_usage", false),
            },
        })
    }
}

impl PastQuery {
    fn parse(value: &Value) -> Result<PastQuery> {
        let query = object(value, "query")?;
        let external_subscription_id = query_text(query, &["external_subscription_id"])
            .ok_or_else(|| Error::invalid("external_subscription_id", "value_is_mandatory"))?;
        Ok(PastQuery {
            external_customer_id: query_text(query, &["external_customer_id"]).unwrap_or_default(),
            external_subscription_id,
            now: query_now(query)?,
            billable_metric_code: query_text(query, &["billable_metric_code"]),
            periods_count: query_count(query, "periods_count")?,
            page: query_count(query, "page")?.unwrap_or(1),
            per_page: query_count(query, "per_page")?.unwrap_or(100),
        })
    }
}
