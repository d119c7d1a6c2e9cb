//! EC2's `ConfirmProductInstance` answer (`psc_bridge::aws::ec2::parse_answer`).
//! The input is the HTTP status (two bytes) and the body.
//!
//! * Only a 2xx answer is an instance check; any other status is a service
//!   error with EC2's code, or `HTTP<status>` when the body has none (or is
//!   not XML at all: a proxy's page), so it is judged by its status.
//! * A 5xx, and throttling at any status, is retryable; another 4xx is not.
//!   A 2xx that is not a well-formed answer is a `BadResponse`.
//! * An owner, when read, is a 12-digit account id.

use psc_bridge::aws::Failure;
use psc_bridge::aws::ec2::parse_answer;
use psc_bridge::entitlement::InstanceCheck;

pub fn check(data: &[u8]) {
    let (status, body) = match data {
        [a, b, body @ ..] => (u16::from_be_bytes([*a, *b]) % 600, body),
        _ => return,
    };
    match parse_answer(status, body) {
        Ok(check) => {
            assert!((200..300).contains(&status), "an instance check from a {status}");
            if let InstanceCheck::Found { owner: Some(owner), .. } = check {
                let o = owner.as_str();
                assert!(o.len() == 12 && o.bytes().all(|b| b.is_ascii_digit()), "owner {o:?}");
            }
        }
        Err(e) => {
            assert_eq!((e.service, e.operation), ("EC2", "ConfirmProductInstance"));
            assert_eq!(e.status, Some(status), "the error keeps the status");
            if (200..300).contains(&status) {
                assert_eq!(e.failure, Failure::BadResponse, "a 2xx error: {e}");
            } else {
                assert_eq!(e.failure, Failure::Service, "a {status} answer: {e}");
                let code = e.code().unwrap_or_else(|| panic!("a {status} error without a code: {e}"));
                assert!(!code.is_empty(), "an empty code");
                let expected =
                    status >= 500 || e.is_throttling() || code == psc_bridge::aws::codes::TRANSACTION_CONFLICT;
                assert_eq!(e.retryable, expected, "a {status} {code}: retryable {}", e.retryable);
            }
            assert!(!e.to_string().is_empty());
        }
    }
}
