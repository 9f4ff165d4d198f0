//! One error type for the whole engine, rendered as Lago's error JSON at the edge.

use crate::json::{self, fields, object};
use serde_json::{Map, Value};

/// Field → error codes, in the order they were found (Lago's `error_details`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetails(Vec<(String, Vec<String>)>);

impl ErrorDetails {
    /// Records `code` under `field`, once.
    pub fn add(&mut self, field: &str, code: &str) {
        match self.0.iter_mut().find(|(name, _)| name == field) {
            Some((_, codes)) if codes.iter().any(|c| c == code) => {}
            Some((_, codes)) => codes.push(code.to_string()),
            None => self.0.push((field.to_string(), vec![code.to_string()])),
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The codes recorded under `field`.
    pub fn codes(&self, field: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(name, _)| name == field)
            .flat_map(|(_, codes)| codes.iter().map(String::as_str))
            .collect()
    }

    /// Every field with its codes, in insertion order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, c)| (f.as_str(), c.as_slice()))
    }

    /// `Ok(())` when empty, else a validation error carrying these details.
    pub fn into_result(self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }

    /// `{"field": ["code", ...], ...}` in insertion order.
    pub fn to_json(&self) -> Value {
        let map: Map<String, Value> = self
            .0
            .iter()
            .map(|(field, codes)| (field.clone(), json::texts(codes)))
            .collect();
        Value::Object(map)
    }
}

/// Everything that can go wrong, each mapped to one Lago status and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Input failed validation (422 `validation_errors`).
    Validation(ErrorDetails),
    /// A computation left `Decimal`'s range (422, `value_is_out_of_range` on the field).
    Overflow {
        /// The quantity being computed; empty until the caller names it.
        field: String,
    },
    /// The request is not JSON or not an object (400).
    BadRequest(String),
    /// Items of a batch failed validation (422, `error_details` keyed by the item's index).
    Indexed(Vec<(usize, ErrorDetails)>),
    /// A record the request names does not exist (404, `<resource>_not_found`).
    NotFound(String),
    /// The request is not allowed in this state (405, e.g. `no_active_subscription`).
    NotAllowed(String),
    /// The feature is not enabled for the organisation (403, e.g. `projected_usage_not_enabled`).
    Forbidden(String),
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A validation error with a single field and code.
    pub fn invalid(field: &str, code: &str) -> Self {
        let mut details = ErrorDetails::default();
        details.add(field, code);
        Error::Validation(details)
    }

    /// An overflow not yet attributed to a field.
    pub fn overflow() -> Self {
        Error::Overflow {
            field: String::new(),
        }
    }

    /// Names the field of an overflow that has none yet; other errors pass through.
    #[must_use]
    pub fn in_field(self, field: &str) -> Self {
        match self {
            Error::Overflow { field: current } if current.is_empty() => Error::Overflow {
                field: field.to_string(),
            },
            other => other,
        }
    }

    /// HTTP status Lago answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Validation(_) | Error::Overflow { .. } | Error::Indexed(_) => 422,
            Error::BadRequest(_) => 400,
            Error::NotFound(_) => 404,
            Error::NotAllowed(_) => 405,
            Error::Forbidden(_) => 403,
        }
    }

    /// Lago's error body: `{status, error, code, error_details}`.
    pub fn to_json(&self) -> Value {
        const UNPROCESSABLE: &str = "Unprocessable Entity";
        const INVALID: &str = "validation_errors";
        match self {
            Error::Validation(details) => {
                body(422, UNPROCESSABLE, INVALID, Some(details.to_json()))
            }
            Error::Overflow { field } => {
                let field = if field.is_empty() { "amount" } else { field };
                let details = object! { field: Value::from(["value_is_out_of_range"]) };
                body(422, UNPROCESSABLE, INVALID, Some(details))
            }
            Error::BadRequest(message) => {
                let details = object! { "body": Value::from([message.as_str()]) };
                body(400, "Bad Request", "bad_request", Some(details))
            }
            Error::Indexed(items) => {
                let details: Map<String, Value> = items
                    .iter()
                    .map(|(index, details)| (index.to_string(), details.to_json()))
                    .collect();
                body(422, UNPROCESSABLE, INVALID, Some(Value::Object(details)))
            }
            Error::NotFound(code) => body(404, "Not Found", code, None),
            Error::NotAllowed(code) => body(405, "Method Not Allowed", code, None),
            Error::Forbidden(code) => body(403, "Forbidden", code, None),
        }
    }

    /// Lago's `<resource>_not_found`.
    pub fn not_found(resource: &str) -> Self {
        Error::NotFound(format!("{resource}_not_found"))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Validation(details) => write!(f, "validation_errors: {}", details.to_json()),
            Error::Overflow { field } => write!(f, "value_is_out_of_range: {field}"),
            Error::BadRequest(message) => write!(f, "bad_request: {message}"),
            Error::Indexed(_) => {
                write!(f, "validation_errors: {}", self.to_json()["error_details"])
            }
            Error::NotFound(code) | Error::NotAllowed(code) | Error::Forbidden(code) => {
                write!(f, "{code}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// `{status, error, code}`, then `error_details` when given.
fn body(status: u16, error: &str, code: &str, details: Option<Value>) -> Value {
    let mut out = fields! {
        "status": Value::from(status),
        "error": json::text(error),
        "code": json::text(code),
    };
    if let Some(details) = details {
        out.insert("error_details".to_owned(), details);
    }
    Value::Object(out)
}
