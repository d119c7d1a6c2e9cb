//! Reading configuration from the environment, once, at start.
//!
//! The functions read every variable through these calls, so a test can
//! check that `template.yaml` sets each one (see `tests/template.rs`). The
//! SDK's own configuration is in [`crate::aws`].

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A variable that must be set (and not empty).
pub fn env_required(name: &'static str) -> Result<String, ConfigError> {
    env_optional(name).ok_or(ConfigError::Missing(name))
}

/// A variable that may be unset; empty counts as unset.
pub fn env_optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `AWS_LAMBDA_FUNCTION_NAME`, which Lambda sets (not the template): the
/// function a continuation invokes, this one; `None` outside Lambda.
pub fn lambda_function_name() -> Option<String> {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|v| !v.trim().is_empty())
}

/// A variable with a default.
pub fn env_or(name: &'static str, default: &str) -> String {
    env_optional(name).unwrap_or_else(|| default.to_owned())
}

/// Parses a variable's text with `parse`, naming the variable on failure.
pub fn parse_var<T, E: std::fmt::Display>(
    name: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })
}

/// The default `INITIAL_FROM_DATE`: before AWS Marketplace existed, so the
/// first export is the full data set.
pub const DEFAULT_INITIAL_FROM_DATE: &str = "2010-01-01T00:00:00.000Z";
