//! Reads a JSON object field by field, collecting every problem at once and
//! naming each field by its path. Unknown fields are refused.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::{Error, FieldError};

pub struct Input<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    seen: Vec<&'static str>,
    errors: Vec<FieldError>,
}

/// Whether a field must be present.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}
pub use Need::{Optional, Required};

impl<'a> Input<'a> {
    pub fn new(value: &'a Value) -> Result<Input<'a>, Error> {
        let object = value
            .as_object()
            .ok_or_else(|| Error::Malformed("the body must be a JSON object".into()))?;
        Ok(Input::at(object, String::new()))
    }

    fn at(object: &'a Map<String, Value>, prefix: String) -> Self {
        Input {
            object,
            prefix,
            seen: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        self.errors.push(FieldError::new(path, message));
    }

    /// Whether `name` already has a problem recorded.
    pub fn failed(&self, name: &str) -> bool {
        let path = self.path(name);
        self.errors.iter().any(|e| e.field == path)
    }

    /// The raw value, `None` (and an error if required) when absent or null.
    fn raw(&mut self, name: &'static str, need: Need) -> Option<&'a Value> {
        self.seen.push(name);
        match self.object.get(name) {
            None | Some(Value::Null) => {
                if need == Required {
                    self.error(name, "is required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A trimmed, non-empty string of at most `max_chars` characters.
    pub fn text(&mut self, name: &'static str, need: Need, max_chars: usize) -> Option<String> {
        let value = self.raw(name, need)?;
        let Some(text) = value.as_str() else {
            self.error(name, "must be a string");
            return None;
        };
        let text = text.trim();
        if text.is_empty() {
            self.error(name, "must not be empty");
            return None;
        }
        if text.chars().count() > max_chars {
            self.error(name, format!("must be at most {max_chars} characters"));
            return None;
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            self.error(name, "must not contain control characters");
            return None;
        }
        Some(text.to_string())
    }

    /// A string parsed by `T` (enumerations, credit codes, phone numbers).
    pub fn parse<T>(&mut self, name: &'static str, need: Need) -> Option<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.parse_with(name, need, |s| s.parse::<T>())
    }

    /// A string parsed by `parse`.
    pub fn parse_with<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        need: Need,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let text = self.text(name, need, 200)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(name, e.to_string());
                None
            }
        }
    }

    pub fn integer(&mut self, name: &'static str, need: Need, min: i64, max: i64) -> Option<i64> {
        let value = self.raw(name, need)?;
        // JSON has one number type: 5.0 is the integer 5 (as JSON Schema says).
        let integral = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        });
        match integral {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.error(name, format!("must be between {min} and {max}"));
                None
            }
            None => {
                self.error(name, "must be an integer");
                None
            }
        }
    }

    /// Amounts in cents: integers, never negative, below 10^12 (ten billion yuan).
    pub fn cents(&mut self, name: &'static str, need: Need) -> Option<i64> {
        self.integer(name, need, 0, 999_999_999_999)
    }

    pub fn boolean(&mut self, name: &'static str, need: Need) -> Option<bool> {
        let value = self.raw(name, need)?;
        let b = value.as_bool();
        if b.is_none() {
            self.error(name, "must be true or false");
        }
        b
    }

    /// An RFC 3339 timestamp with an explicit offset.
    pub fn time(&mut self, name: &'static str, need: Need) -> Option<DateTime<Utc>> {
        let text = self.text(name, need, 64)?;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.error(
                    name,
                    "must be an RFC 3339 timestamp such as 2026-01-17T10:00:00+08:00",
                );
                None
            }
        }
    }

    /// A list of strings, each read like [`Input::text`].
    pub fn texts(
        &mut self,
        name: &'static str,
        need: Need,
        max_items: usize,
        max_chars: usize,
    ) -> Option<Vec<String>> {
        let value = self.raw(name, need)?;
        let Some(items) = value.as_array() else {
            self.error(name, "must be an array of strings");
            return None;
        };
        if items.len() > max_items {
            self.error(name, format!("must have at most {max_items} items"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str().map(str::trim) {
                Some(s) if !s.is_empty() && s.chars().count() <= max_chars => {
                    out.push(s.to_string())
                }
                _ => self.error(
                    &format!("{name}[{i}]"),
                    format!("must be a non-empty string of at most {max_chars} characters"),
                ),
            }
        }
        Some(out)
    }

    /// An absolute http(s) URL.
    pub fn url(&mut self, name: &'static str, need: Need) -> Option<String> {
        let text = self.text(name, need, 2048)?;
        match url::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(text),
            _ => {
                self.error(name, "must be an absolute http or https URL");
                None
            }
        }
    }

    /// A nested object read by `read`; its errors are named `name.field`.
    pub fn object<T>(
        &mut self,
        name: &'static str,
        need: Need,
        allowed: &[&str],
        read: impl FnOnce(&mut Input<'a>) -> Option<T>,
    ) -> Option<T> {
        let value = self.raw(name, need)?;
        let Some(object) = value.as_object() else {
            self.error(name, "must be an object");
            return None;
        };
        let mut inner = Input::at(object, format!("{}.", self.path(name)));
        let out = read(&mut inner);
        inner.refuse_unknown(allowed);
        self.errors.append(&mut inner.errors);
        out
    }

    fn refuse_unknown(&mut self, also_allowed: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()) && !also_allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.error(&key, "is not a known field");
        }
    }

    /// Ends reading: unknown fields and every collected problem become one 422.
    pub fn finish(mut self) -> Result<(), Error> {
        self.refuse_unknown(&[]);
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }

    /// Unwraps a value read above; only called after [`Input::finish`] passed,
    /// when every required value is present.
    pub fn got<T>(value: Option<T>, name: &str) -> Result<T, Error> {
        value.ok_or_else(|| Error::field(name, "is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_is_named_by_its_path() {
        let body = json!({
            "name": "  ",
            "count": "3",
            "when": "yesterday",
            "inner": {"x": 1, "extra": true},
            "surplus": 1
        });
        let mut input = Input::new(&body).unwrap();
        input.text("name", Required, 10);
        input.integer("count", Required, 0, 5);
        input.time("when", Optional);
        input.text("missing", Required, 10);
        input.object("inner", Required, &[], |i| i.integer("x", Required, 5, 9));
        let Err(Error::Validation(errors)) = input.finish() else {
            panic!("expected validation errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "count",
                "when",
                "missing",
                "inner.x",
                "inner.extra",
                "surplus"
            ]
        );
    }

    #[test]
    fn good_input_reads_cleanly() {
        let body =
            json!({"name": " 孙先生 ", "n": 0, "at": "2026-01-17T10:00:00+08:00", "tags": ["a"]});
        let mut input = Input::new(&body).unwrap();
        assert_eq!(input.text("name", Required, 3).as_deref(), Some("孙先生"));
        assert_eq!(input.cents("n", Required), Some(0));
        assert_eq!(
            input.time("at", Required).map(|t| t.to_rfc3339()),
            Some("2026-01-17T02:00:00+00:00".into())
        );
        assert_eq!(
            input.texts("tags", Optional, 2, 5),
            Some(vec!["a".to_string()])
        );
        assert!(input.finish().is_ok());
    }
}
