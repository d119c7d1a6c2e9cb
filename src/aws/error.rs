//! One error for every AWS call, built in one place from the SDK's error.
//!
//! Callers match on [`AwsError::code`] (the service's error code, such as
//! `ConditionalCheckFailedException` or `NoSuchKey`) and on
//! [`AwsError::retryable`], never on the text.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Service error codes the adapters act on.
pub mod codes {
    /// DynamoDB: a write's condition was false (stale row, concurrent update).
    pub const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailedException";
    /// DynamoDB: the request is malformed (for a lookup: a start key outside the query).
    pub const VALIDATION: &str = "ValidationException";
    /// DynamoDB: another request (a transaction) was changing the item at
    /// the same time.
    pub const TRANSACTION_CONFLICT: &str = "TransactionConflict";
    /// S3: the object does not exist.
    pub const NO_SUCH_KEY: &str = "NoSuchKey";
}

/// How the call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with an error (`code`, `message`, `status`).
    Service,
    /// No answer in time, after the SDK's retries.
    Timeout,
    /// The request could not be sent (connection refused, DNS, TLS).
    Unreachable,
    /// An answer came that could not be read.
    BadResponse,
    /// The request could not be built (a bug or a bad configuration).
    BadRequest,
}

/// A failed AWS call, after the SDK's own retries. Holds the operation, the
/// service's error code and message, and the HTTP status; never a request
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// `DynamoDB`, `S3`, `CAS`, ...
    pub service: &'static str,
    /// `PutItem`, `GetObject`, `StartSupportDataExport`, ...
    pub operation: &'static str,
    pub failure: Failure,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    /// The service's message. DynamoDB's may quote key values: log the code,
    /// not the message, where keys are personal.
    pub message: Option<String>,
    pub status: Option<u16>,
    /// True when retrying later may succeed (throttling, 5xx, timeouts).
    pub retryable: bool,
}

impl AwsError {
    /// The one conversion from an SDK error, for every SDK client.
    pub fn from_sdk<E: ProvideErrorMetadata>(
        service: &'static str,
        operation: &'static str,
        e: &SdkError<E, HttpResponse>,
    ) -> Self {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let base =
            |failure, retryable| Self { service, operation, failure, code: None, message: None, status, retryable };
        match e {
            SdkError::ServiceError(se) => {
                let err = se.err();
                let code = err.code().map(str::to_owned);
                let server_side = status.is_some_and(|s| s >= 500);
                Self {
                    code: code.clone(),
                    message: err.message().map(str::to_owned),
                    retryable: server_side || code.as_deref().is_some_and(is_throttling),
                    ..base(Failure::Service, false)
                }
            }
            SdkError::TimeoutError(_) => base(Failure::Timeout, true),
            SdkError::DispatchFailure(d) if d.is_timeout() => base(Failure::Timeout, true),
            SdkError::DispatchFailure(_) => base(Failure::Unreachable, true),
            SdkError::ResponseError(_) => base(Failure::BadResponse, true),
            _ => base(Failure::BadRequest, false),
        }
    }

    /// A service error made by an adapter or a test double.
    pub fn service(service: &'static str, operation: &'static str, code: &str, message: &str, status: u16) -> Self {
        Self {
            service,
            operation,
            failure: Failure::Service,
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
            status: Some(status),
            retryable: status >= 500 || is_throttling(code) || code == codes::TRANSACTION_CONFLICT,
        }
    }

    /// A call that failed on our side of the wire (a body that could not be
    /// read, a local file to upload that could not be opened): no code, no
    /// status; retryable unless the request itself was bad.
    pub fn local(service: &'static str, operation: &'static str, failure: Failure, message: String) -> Self {
        Self {
            service,
            operation,
            failure,
            code: None,
            message: Some(message),
            status: None,
            retryable: failure != Failure::BadRequest,
        }
    }

    /// The service's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.code() == Some(code)
    }

    /// The service asked us to slow down (throttling, capacity exceeded):
    /// waiting helps, where for a 5xx it may not.
    pub fn is_throttling(&self) -> bool {
        self.failure == Failure::Service && self.code().is_some_and(is_throttling)
    }

    /// The table is busy: throttled, or another transaction held the item.
    /// Waiting and sending again succeeds once the load falls.
    pub fn is_contention(&self) -> bool {
        self.is_throttling() || self.has_code(codes::TRANSACTION_CONFLICT)
    }

    /// A fault that passes: throttling or a transaction conflict
    /// ([`AwsError::is_contention`]), a 5xx (`InternalServerError`,
    /// `ServiceUnavailable`), an attempt that timed out, a request that
    /// could not be sent or whose answer could not be read. Sending the same
    /// request again later may succeed. Not transient: the service's 4xx
    /// answers (validation, access denied, a missing table) and requests
    /// that could not be built. (A false condition is no error: the
    /// adapters turn it into an outcome.)
    pub fn is_transient(&self) -> bool {
        self.is_contention()
            || match self.failure {
                Failure::Service => self.status.is_some_and(|s| s >= 500),
                Failure::Timeout | Failure::Unreachable | Failure::BadResponse => true,
                Failure::BadRequest => false,
            }
    }

    /// What went wrong without the service's message: safe to log anywhere.
    pub fn summary(&self) -> String {
        match (self.failure, &self.code) {
            (Failure::Service, Some(code)) => format!("{} {} failed: {code}", self.service, self.operation),
            _ => format!("{} {} failed: {}", self.service, self.operation, self.failure_text()),
        }
    }

    fn failure_text(&self) -> String {
        match self.failure {
            Failure::Service => "an error without a code".to_owned(),
            Failure::Timeout => "timed out (after retries)".to_owned(),
            Failure::Unreachable => "could not reach the endpoint (after retries)".to_owned(),
            Failure::BadResponse => match self.status {
                Some(s) => format!("unreadable response (HTTP {s})"),
                None => "unreadable response".to_owned(),
            },
            Failure::BadRequest => "the request could not be built".to_owned(),
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed: ", self.service, self.operation)?;
        match self.failure {
            Failure::Service => {
                write!(f, "{}", self.code().unwrap_or("unknown error"))?;
                if let Some(s) = self.status {
                    write!(f, " (HTTP {s})")?;
                }
                write!(f, ": {}", self.message.as_deref().unwrap_or("no message"))
            }
            _ => f.write_str(&self.failure_text()),
        }
    }
}

impl std::error::Error for AwsError {}

/// The codes the SDK's own retry classifier treats as throttling or
/// transient (DynamoDB's `ProvisionedThroughputExceededException` among them).
fn is_throttling(code: &str) -> bool {
    code.contains("Throttl")
        || code.contains("LimitExceeded")
        || code.contains("ThroughputExceeded")
        || matches!(
            code,
            "SlowDown"
                | "TooManyRequestsException"
                | "RequestTimeout"
                | "RequestTimeoutException"
                | "TransactionInProgressException"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_retryable_client_errors_are_not() {
        let throttled =
            AwsError::service("DynamoDB", "PutItem", "ProvisionedThroughputExceededException", "slow down", 400);
        assert!(throttled.retryable && throttled.is_throttling());
        let server = AwsError::service("S3", "GetObject", "InternalError", "oops", 500);
        assert!(server.retryable && !server.is_throttling());
        let denied = AwsError::service("DynamoDB", "Query", "AccessDeniedException", "no", 400);
        assert!(!denied.retryable);
        assert!(denied.has_code("AccessDeniedException"));
        assert_eq!(denied.to_string(), "DynamoDB Query failed: AccessDeniedException (HTTP 400): no");
        assert_eq!(denied.summary(), "DynamoDB Query failed: AccessDeniedException");
    }

    #[test]
    fn transient_faults_are_throttling_conflicts_5xx_timeouts_and_lost_connections() {
        let transient = [
            AwsError::service("DynamoDB", "PutItem", "ProvisionedThroughputExceededException", "slow down", 400),
            AwsError::service("DynamoDB", "TransactWriteItems", codes::TRANSACTION_CONFLICT, "busy", 400),
            AwsError::service("DynamoDB", "PutItem", "InternalServerError", "oops", 500),
            AwsError::service("DynamoDB", "UpdateItem", "ServiceUnavailable", "later", 503),
            AwsError::local("DynamoDB", "PutItem", Failure::Timeout, "attempt timeout".into()),
            AwsError::local("DynamoDB", "PutItem", Failure::Unreachable, "connection reset".into()),
            AwsError::local("DynamoDB", "PutItem", Failure::BadResponse, "truncated body".into()),
        ];
        for e in &transient {
            assert!(e.is_transient(), "{e}");
        }
        let permanent = [
            AwsError::service("DynamoDB", "PutItem", codes::VALIDATION, "bad item", 400),
            AwsError::service("DynamoDB", "PutItem", "AccessDeniedException", "no", 400),
            AwsError::service("DynamoDB", "PutItem", "ResourceNotFoundException", "no table", 400),
            AwsError::service("DynamoDB", "UpdateItem", codes::CONDITIONAL_CHECK_FAILED, "false", 400),
            AwsError::local("DynamoDB", "PutItem", Failure::BadRequest, "no region".into()),
        ];
        for e in &permanent {
            assert!(!e.is_transient(), "{e}");
        }
    }
}
