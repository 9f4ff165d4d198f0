//! JSON written straight into text, for the usage answers read on every request: building a
//! `serde_json::Value` first costs a hashed map insert and an allocation per key. The text is
//! byte for byte what `Value::to_string` gives for the same document (compact, keys in the
//! order written, strings escaped by serde_json itself).

use crate::error::Result;
use crate::number::{self, DIGITS_MAX};
use crate::rating::whole_cents;
use rust_decimal::Decimal;
use serde_json::Value;
use std::fmt::Write;

/// The bytes serde_json escapes in a string.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A JSON document being written: callers open and close objects and arrays, and write keys
/// before object members.
#[derive(Debug, Default)]
pub struct JsonText {
    text: String,
    /// A value was just written at this level: the next one needs a comma.
    comma: bool,
}

impl JsonText {
    /// An empty document, with room for `bytes` of text.
    pub fn with_capacity(bytes: usize) -> Self {
        JsonText {
            text: String::with_capacity(bytes),
            comma: false,
        }
    }

    /// The text written.
    pub fn into_string(self) -> String {
        self.text
    }

    fn separate(&mut self) {
        if self.comma {
            self.text.push(',');
        }
    }

    fn done(&mut self) -> &mut Self {
        self.comma = true;
        self
    }

    /// `"key":` of the next object member, for the keys this crate spells (plain ASCII: written
    /// without looking for escapes).
    pub fn key(&mut self, key: &'static str) -> &mut Self {
        debug_assert!(!key.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
        self.separate();
        self.text.push('"');
        self.text.push_str(key);
        self.text.push_str("\":");
        self.comma = false;
        self
    }

    /// `"key":` for a key that comes from the user (a filter or group key), escaped.
    pub fn key_text(&mut self, key: &str) -> &mut Self {
        self.separate();
        self.escaped(key);
        self.text.push(':');
        self.comma = false;
        self
    }

    /// `{`.
    pub fn open_object(&mut self) -> &mut Self {
        self.separate();
        self.text.push('{');
        self.comma = false;
        self
    }

    /// `}`.
    pub fn close_object(&mut self) -> &mut Self {
        self.text.push('}');
        self.done()
    }

    /// `[`.
    pub fn open_array(&mut self) -> &mut Self {
        self.separate();
        self.text.push('[');
        self.comma = false;
        self
    }

    /// `]`.
    pub fn close_array(&mut self) -> &mut Self {
        self.text.push(']');
        self.done()
    }

    /// A string value.
    pub fn string(&mut self, value: &str) -> &mut Self {
        self.separate();
        self.escaped(value);
        self.done()
    }

    /// A string value, or `null`.
    pub fn optional_string(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.string(value),
            None => self.null(),
        }
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.separate();
        self.text.push_str("null");
        self.done()
    }

    /// An integer value.
    pub fn integer(&mut self, value: u64) -> &mut Self {
        self.separate();
        self.digits(u128::from(value));
        self.done()
    }

    /// A decimal as Ruby prints it, in a string (`"4.0"`): [`crate::number::ruby_decimal`] without its
    /// allocation.
    pub fn decimal(&mut self, value: Decimal) -> &mut Self {
        self.separate();
        self.text.push('"');
        if value.is_zero() {
            self.text.push_str("0.0");
        } else {
            // `value.normalize()` as Display writes it, from the mantissa: no trailing zeros,
            // plain digits (no exponent), a leading `0.` below one.
            let mut mantissa = value.mantissa().unsigned_abs();
            let mut scale = value.scale();
            while scale > 0 && mantissa % 10 == 0 {
                mantissa /= 10;
                scale -= 1;
            }
            if value.is_sign_negative() {
                self.text.push('-');
            }
            let mut buffer = [0u8; DIGITS_MAX];
            let digits = number::digits(mantissa, &mut buffer);
            let scale = usize::try_from(scale).unwrap_or(usize::MAX);
            match digits.len().checked_sub(scale) {
                Some(0) | None => {
                    self.text.push_str("0.");
                    for _ in digits.len()..scale {
                        self.text.push('0');
                    }
                    self.text.push_str(digits);
                }
                Some(whole) => {
                    let (int, fraction) = digits.split_at(whole);
                    self.text.push_str(int);
                    self.text.push('.');
                    self.text
                        .push_str(if fraction.is_empty() { "0" } else { fraction });
                }
            }
        }
        self.text.push('"');
        self.done()
    }

    /// Whole cents as a JSON integer, refused past what JavaScript holds exactly (`field` names
    /// the error).
    pub fn cents(&mut self, value: Decimal, field: &str) -> Result<&mut Self> {
        let cents = whole_cents(value, field)?;
        self.separate();
        if cents < 0 {
            self.text.push('-');
        }
        self.digits(u128::from(cents.unsigned_abs()));
        Ok(self.done())
    }

    /// The decimal digits of `value`.
    fn digits(&mut self, value: u128) {
        let mut buffer = [0u8; DIGITS_MAX];
        self.text.push_str(number::digits(value, &mut buffer));
    }

    /// A value already written as JSON text.
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.separate();
        self.text.push_str(json);
        self.done()
    }

    /// A string with serde_json's escapes (only `"`, `\` and control characters need any).
    fn escaped(&mut self, value: &str) {
        if value.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]) {
            let _ = write!(self.text, "{}", Value::from(value));
        } else {
            self.text.push('"');
            self.text.push_str(value);
            self.text.push('"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::ruby_decimal;
    use serde_json::json;

    /// The writer gives `Value::to_string`'s text: nesting, commas, escapes of every ASCII
    /// control character, quotes, backslashes, non-ASCII left as is, integers and nulls.
    #[test]
    fn writes_what_value_to_string_writes() {
        let awkward: String = (0u8..0x80).map(char::from).chain("é€😀/".chars()).collect();
        let expected = json!({
            "a": [],
            "b": {},
            "c": [1, null, "x", {"d": [awkward.clone()]}],
            awkward.clone(): 18_446_744_073_709_551_615u64,
            "e": "4.0",
            "f": [-12, 9_007_199_254_740_991u64],
        });
        let mut out = JsonText::with_capacity(0);
        out.open_object();
        out.key("a").open_array().close_array();
        out.key("b").open_object().close_object();
        out.key("c").open_array().integer(1).null().string("x");
        out.open_object().key("d").open_array().string(&awkward);
        out.close_array().close_object().close_array();
        out.key_text(&awkward).integer(u64::MAX);
        out.key("e").decimal(Decimal::from(4));
        out.key("f").open_array();
        out.cents(Decimal::from(-12), "f").unwrap();
        out.cents(Decimal::from(9_007_199_254_740_991u64), "f")
            .unwrap();
        out.close_array();
        // Cents past 2^53 − 1 or with a fraction are refused, naming the field.
        assert!(out
            .cents(Decimal::from(9_007_199_254_740_992u64), "g")
            .is_err());
        assert!(out.cents(Decimal::new(15, 1), "g").is_err());
        out.close_object();
        assert_eq!(out.into_string(), expected.to_string());
    }

    /// Every mantissa size and scale, both signs: the digits written from the mantissa are
    /// `ruby_decimal`'s, and integers and cents are `Display`'s.
    #[test]
    fn digits_equal_display_for_every_size_and_scale() {
        let mut mantissa: u128 = 1;
        let mut wide = Vec::new();
        while mantissa < (1u128 << 96) {
            wide.extend([mantissa, mantissa - 1, mantissa + 7, mantissa * 3 / 2]);
            mantissa *= 10;
        }
        wide.extend([
            (1u128 << 96) - 1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
        ]);
        for &m in &wide {
            for scale in 0..=28 {
                for negative in [false, true] {
                    let Ok(m) = i128::try_from(m) else { continue };
                    let Ok(value) = Decimal::try_from_i128_with_scale(m, scale) else {
                        continue;
                    };
                    let value = if negative { -value } else { value };
                    let mut out = JsonText::with_capacity(0);
                    out.decimal(value);
                    let expected = format!("\"{}\"", ruby_decimal(value));
                    assert_eq!(out.into_string(), expected, "{m} {scale}");
                }
            }
            if let Ok(small) = u64::try_from(m) {
                let mut out = JsonText::with_capacity(0);
                out.integer(small);
                assert_eq!(out.into_string(), small.to_string());
            }
        }
        for cents in [0i64, 1, -1, 9, -10, 123_456_789, -9_007_199_254_740_991] {
            let mut out = JsonText::with_capacity(0);
            out.cents(Decimal::from(cents), "f").unwrap();
            out.cents(Decimal::new(cents * 100, 2), "f").unwrap();
            assert_eq!(out.into_string(), format!("{cents},{cents}"));
        }
    }

    /// Decimals are written as `ruby_decimal` writes them.
    #[test]
    fn decimals_as_ruby_prints_them() {
        for text in [
            "0",
            "-0.000",
            "4",
            "4.50",
            "-12.3400",
            "1e-7",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "0.5",
            "-0.5",
            "123.456",
            "100",
            "0.0000000000000000000000000001",
            "18446744073709551616",
            "1844674407370955161.6",
            "18446744073709551615",
        ] {
            let value = crate::number::parse_decimal_str(text).unwrap();
            let mut out = JsonText::with_capacity(0);
            out.decimal(value);
            assert_eq!(
                out.into_string(),
                format!("\"{}\"", ruby_decimal(value)),
                "{text}"
            );
        }
    }
}
