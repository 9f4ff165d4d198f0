//! A usage event, as Lago stores it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// One usage event of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per subscription (deduplication key with `external_subscription_id`).
    pub transaction_id: String,
    /// The subscription it belongs to.
    pub external_subscription_id: String,
    /// The billable metric's code.
    pub code: String,
    /// When it happened (UTC; Lago takes Unix seconds, possibly fractional).
    pub timestamp: DateTime<Utc>,
    /// Free-form properties; Lago reads each value as text.
    pub properties: Map<String, Value>,
    /// The event's own price in cents (dynamic charges).
    pub precise_total_amount_cents: Option<Decimal>,
}

impl Event {
    /// A property read as Lago reads `properties->>'key'`: strings as they are, numbers by their
    /// JSON text, booleans as `true`/`false`; null and objects/arrays give `None`.
    pub fn property_text(&self, key: &str) -> Option<String> {
        match self.properties.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }
}
