//! Typed configuration from environment variables.
//!
//! Every function parses its configuration in one place through these
//! helpers, so that a bad value fails at init with a message that names the
//! variable. Handlers never read the environment themselves.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// A source of variables: the process environment or, in tests, a map.
pub trait Env {
    /// The raw value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

impl Env for [(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

/// A configuration variable that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong with it, for a human.
    pub message: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: &str, message: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            message: message.into(),
        }
    }
}

/// The trimmed value of `name`; unset and blank both count as absent.
pub fn optional(env: &(impl Env + ?Sized), name: &str) -> Option<String> {
    env.var(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The trimmed value of `name`, which must be set and not blank.
pub fn required(env: &(impl Env + ?Sized), name: &str) -> Result<String, ConfigError> {
    optional(env, name).ok_or_else(|| ConfigError::new(name, "is required but not set"))
}

/// `name` parsed as `T`, or `default` when absent.
pub fn parse_or<T>(env: &(impl Env + ?Sized), name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(env, name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|err| ConfigError::new(name, format!("cannot parse {raw:?}: {err}"))),
    }
}

/// `name` as a number within `range`, or `default` when absent.
pub fn number_in<T>(
    env: &(impl Env + ?Sized),
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
    T::Err: Display,
{
    let value = parse_or(env, name, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            name,
            format!(
                "{value} is outside the allowed range {}..={}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// `name` as a whole number of seconds within `range`, or `default`.
pub fn seconds_in(
    env: &(impl Env + ?Sized),
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    number_in(env, name, default, range).map(Duration::from_secs)
}

/// A boolean flag: `true/false`, `1/0`, `yes/no`, `on/off` (any case), or
/// `default` when absent.
pub fn flag_or(env: &(impl Env + ?Sized), name: &str, default: bool) -> Result<bool, ConfigError> {
    match optional(env, name) {
        None => Ok(default),
        Some(raw) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(
                name,
                format!("{raw:?} is not a boolean (use true or false)"),
            )),
        },
    }
}

/// A comma-separated list; items are trimmed and blank items dropped.
/// Absent means an empty list.
pub fn list(env: &(impl Env + ?Sized), name: &str) -> Vec<String> {
    optional(env, name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_absent() {
        let env = [("A", "  "), ("B", " x ")];
        assert_eq!(optional(&env, "A"), None);
        assert_eq!(optional(&env, "B").as_deref(), Some("x"));
        assert_eq!(optional(&env, "C"), None);
    }

    #[test]
    fn required_names_the_missing_variable() {
        let env = [("OTHER", "1")];
        let err = required(&env, "TABLE_NAME").unwrap_err();
        assert_eq!(err.variable, "TABLE_NAME");
        assert_eq!(
            err.to_string(),
            "invalid configuration: TABLE_NAME: is required but not set"
        );
    }

    #[test]
    fn parse_or_uses_default_and_reports_bad_numbers() {
        let env = [("GOOD", "42"), ("BAD", "forty")];
        assert_eq!(parse_or(&env, "GOOD", 1u32), Ok(42));
        assert_eq!(parse_or(&env, "UNSET", 7u32), Ok(7));
        let err = parse_or(&env, "BAD", 1u32).unwrap_err();
        assert_eq!(err.variable, "BAD");
        assert!(err.message.contains("\"forty\""), "{}", err.message);
    }

    #[test]
    fn number_in_rejects_values_outside_the_range() {
        let env = [("LEEWAY", "61"), ("OK", "60")];
        assert_eq!(number_in(&env, "OK", 30u64, 0..=60), Ok(60));
        let err = number_in(&env, "LEEWAY", 30u64, 0..=60).unwrap_err();
        assert!(err.message.contains("0..=60"), "{}", err.message);
    }

    #[test]
    fn seconds_in_gives_a_duration() {
        let env = [("T", "90")];
        assert_eq!(
            seconds_in(&env, "T", 60, 1..=3600),
            Ok(Duration::from_secs(90))
        );
        assert!(seconds_in(&env, "T", 60, 1..=30).is_err());
    }

    #[test]
    fn flag_or_accepts_common_spellings_and_rejects_others() {
        let env = [("A", "TRUE"), ("B", "0"), ("C", "maybe")];
        assert_eq!(flag_or(&env, "A", false), Ok(true));
        assert_eq!(flag_or(&env, "B", true), Ok(false));
        assert_eq!(flag_or(&env, "D", true), Ok(true));
        assert_eq!(flag_or(&env, "C", false).unwrap_err().variable, "C");
    }

    #[test]
    fn list_splits_on_commas_and_drops_blanks() {
        let env = [("L", " a, b ,,c ")];
        assert_eq!(list(&env, "L"), vec!["a", "b", "c"]);
        assert!(list(&env, "NONE").is_empty());
    }

    #[test]
    fn a_hash_map_is_an_env() {
        let env: HashMap<String, String> = [("K".to_owned(), "v".to_owned())].into();
        assert_eq!(required(&env, "K"), Ok("v".to_owned()));
    }
}
