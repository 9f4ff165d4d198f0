//! Typed readers over a JSON request object that name the field in their errors.

use crate::error::{Error, Result};
use crate::limits::PER_EVENT_VALUES_MAX;
use crate::number::{decimal_from_json, NumError};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// A request object, with typed readers that name the field in their errors.
pub(crate) struct Input<'a>(pub(crate) &'a Map<String, Value>);

impl<'a> Input<'a> {
    pub(crate) fn of(value: &'a Value) -> Result<Self> {
        value
            .as_object()
            .map(Input)
            .ok_or_else(|| Error::BadRequest("the request must be a JSON object".into()))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn decimal(&self, key: &str) -> Result<Option<Decimal>> {
        crate::number::optional_decimal(self.get(key), key)
    }

    pub(crate) fn decimal_or_zero(&self, key: &str) -> Result<Decimal> {
        Ok(self.decimal(key)?.unwrap_or(Decimal::ZERO))
    }

    pub(crate) fn required_decimal(&self, key: &str) -> Result<Decimal> {
        self.decimal(key)?
            .ok_or_else(|| Error::invalid(key, "value_is_mandatory"))
    }

    pub(crate) fn decimals(&self, key: &str) -> Result<Option<Vec<Decimal>>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let items = value
            .as_array()
            .ok_or_else(|| Error::invalid(key, "invalid_type"))?;
        if items.len() > PER_EVENT_VALUES_MAX {
            return Err(Error::invalid(key, "too_many_values"));
        }
        items
            .iter()
            .map(|item| match decimal_from_json(item) {
                Ok(number) => Ok(number),
                Err(NumError::Invalid) => Err(Error::invalid(key, "value_is_invalid")),
                Err(NumError::OutOfRange) => Err(Error::invalid(key, "value_is_out_of_range")),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub(crate) fn count(&self, key: &str) -> Result<u64> {
        match self.decimal(key)? {
            None => Ok(0),
            Some(n) if n >= Decimal::ZERO && n.fract().is_zero() => {
                u64::try_from(n).map_err(|_| Error::invalid(key, "value_is_out_of_range"))
            }
            Some(_) => Err(Error::invalid(key, "value_is_invalid")),
        }
    }

    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Error::invalid(key, "invalid_type")),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid(key, "invalid_type")),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(Error::invalid(key, "invalid_type")),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(Error::invalid(key, "invalid_type")),
        }
    }
}
