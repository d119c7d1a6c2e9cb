//! SigV4 for the contact write's one request shape ([`super::put`]): a
//! `POST` of a JSON body to the endpoint's path, signing `content-type`,
//! `host`, `x-amz-date`, `x-amz-security-token` (with temporary
//! credentials) and `x-amz-target`, exactly as
//! `aws_sigv4::http_request::sign` signs that request with its default
//! settings (the tests compare the two, header for header).
//!
//! `aws_sigv4::http_request::sign` is general: per request it builds a
//! header map, canonicalises every header and the URI, formats the date
//! and derives the signing key (four HMACs). That was 16% of the ingest's
//! CPU per row (docs/benchmarks-ingest.md, the profile). For this one
//! shape the canonical request is a fixed template: it is written here
//! into one buffer, the signing key is derived once a day per credentials
//! (`aws_sigv4::sign::v4::generate_signing_key`), and the signature is
//! aws-sigv4's own `calculate_signature`.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use sha2::{Digest, Sha256};

use crate::domain::Timestamp;

/// The body's type: DynamoDB's JSON 1.0 protocol.
pub(super) const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "dynamodb";
const SIGNED: &str = "content-type;host;x-amz-date;x-amz-target";
const SIGNED_WITH_TOKEN: &str = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target";

/// Signs the contact write's requests for one region.
pub(super) struct Signer {
    region: String,
    /// The signing key of the last day and credentials signed for.
    key: Mutex<Option<DayKey>>,
}

struct DayKey {
    date: String,
    access_key: String,
    secret: String,
    key: [u8; 32],
}

/// The headers SigV4 adds to a request.
#[derive(Debug, PartialEq)]
pub(super) struct Signature {
    /// `x-amz-date`.
    pub amz_date: String,
    /// `x-amz-security-token`, with temporary credentials.
    pub token: Option<String>,
    /// `authorization`.
    pub authorization: String,
}

impl Signer {
    pub fn new(region: &str) -> Self {
        Self { region: region.to_owned(), key: Mutex::new(None) }
    }

    /// The signature of `POST {path}` to `host` with [`CONTENT_TYPE`],
    /// `target` and `body`, at `now`. `path` must be plain (see [`is_plain_path`]):
    /// it is its own canonical form.
    pub fn sign(
        &self,
        credentials: &Credentials,
        host: &str,
        path: &str,
        target: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Signature {
        let iso = Timestamp::from_system_time(now).to_iso(); // 2016-04-07T14:05:15.275Z
        let amz_date =
            [&iso[0..4], &iso[5..7], &iso[8..10], "T", &iso[11..13], &iso[14..16], &iso[17..19], "Z"].concat();
        let date = &amz_date[..8];
        let token = credentials.session_token();
        let signed = if token.is_some() { SIGNED_WITH_TOKEN } else { SIGNED };

        let mut canonical = String::with_capacity(320 + token.map_or(0, str::len));
        for part in ["POST\n", path, "\n\ncontent-type:", CONTENT_TYPE, "\nhost:", host, "\nx-amz-date:", &amz_date] {
            canonical.push_str(part);
        }
        if let Some(token) = token {
            canonical.push_str("\nx-amz-security-token:");
            canonical.push_str(token);
        }
        for part in ["\nx-amz-target:", target, "\n\n", signed, "\n"] {
            canonical.push_str(part);
        }
        push_sha256_hex(&mut canonical, body);

        let scope = format!("{date}/{}/{SERVICE}/aws4_request", self.region);
        let mut to_sign = String::with_capacity(128);
        for part in [ALGORITHM, "\n", &amz_date, "\n", &scope, "\n"] {
            to_sign.push_str(part);
        }
        push_sha256_hex(&mut to_sign, canonical.as_bytes());
        let signature = calculate_signature(self.key(credentials, date, now), to_sign.as_bytes());
        let authorization = format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            credentials.access_key_id()
        );
        Signature { amz_date, token: token.map(str::to_owned), authorization }
    }

    /// The signing key of `date` for `credentials`: derived on the first
    /// request of a day or of new credentials, then kept.
    fn key(&self, credentials: &Credentials, date: &str, now: SystemTime) -> [u8; 32] {
        let mut kept = self.key.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = kept.as_ref().filter(|k| {
            k.date == date && k.access_key == credentials.access_key_id() && k.secret == credentials.secret_access_key()
        }) {
            return k.key;
        }
        let derived = generate_signing_key(credentials.secret_access_key(), now, &self.region, SERVICE);
        let key = <[u8; 32]>::try_from(derived.as_ref()).expect("an HMAC-SHA256 key is 32 bytes");
        *kept = Some(DayKey {
            date: date.to_owned(),
            access_key: credentials.access_key_id().to_owned(),
            secret: credentials.secret_access_key().to_owned(),
            key,
        });
        key
    }
}

/// Whether `path` is its own canonical URI: `/`, or `/`-separated
/// segments of unreserved characters other than `.` (nothing SigV4 would
/// percent-encode or normalise).
pub(super) fn is_plain_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains("//")
        && path.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'~' | b'/'))
}

fn push_sha256_hex(out: &mut String, bytes: &[u8]) {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(bytes), &mut hex).expect("64 hex digits for 32 bytes");
    out.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;

    use super::*;

    const TARGET: &str = "DynamoDB_20120810.PutItem";

    /// What `aws_sigv4::http_request::sign` adds to the same request.
    fn by_aws_sigv4(
        credentials: &Credentials,
        region: &str,
        host: &str,
        path: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Signature {
        let identity: Identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("dynamodb")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("http://{host}{path}");
        let headers = [("host", host), ("content-type", CONTENT_TYPE), ("x-amz-target", TARGET)];
        let signable = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder().uri(&url).body(()).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        let header = |name: &str| request.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        Signature {
            amz_date: header("x-amz-date").unwrap(),
            token: header("x-amz-security-token"),
            authorization: header("authorization").unwrap(),
        }
    }

    #[test]
    fn signs_the_contact_write_as_aws_sigv4_does() {
        let long_term = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
        let temporary = Credentials::new(
            "ASIAEXAMPLE",
            "secret/with+symbols",
            Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==".into()),
            None,
            "test",
        );
        let body = br#"{"TableName":"contacts","Item":{"pk":{"S":"CONTACT#x"}},"ReturnConsumedCapacity":"INDEXES"}"#;
        let midnight = UNIX_EPOCH + Duration::from_secs(1_796_601_600); // 2026-12-07T00:00:00Z
        let cases = [
            (&long_term, "us-east-1", "dynamodb.us-east-1.amazonaws.com", "/", midnight - Duration::from_millis(1)),
            (&temporary, "eu-west-2", "127.0.0.1:8000", "/", midnight + Duration::from_millis(999)),
            (&temporary, "us-east-1", "localhost:4566", "/dynamodb/v1", midnight + Duration::from_secs(86_399)),
        ];
        for (credentials, region, host, path, now) in cases {
            let signer = Signer::new(region);
            let ours = signer.sign(credentials, host, path, TARGET, body, now);
            assert_eq!(ours, by_aws_sigv4(credentials, region, host, path, body, now), "{host}{path} at {now:?}");
            // The kept key signs the next request of the day as well; the next
            // day, and other credentials, get a key of their own.
            let later = now + Duration::from_secs(1);
            let again = signer.sign(credentials, host, path, TARGET, b"{}", later);
            assert_eq!(again, by_aws_sigv4(credentials, region, host, path, b"{}", later));
            let other = if credentials.access_key_id() == "AKIDEXAMPLE" { &temporary } else { &long_term };
            assert_eq!(
                signer.sign(other, host, path, TARGET, body, later),
                by_aws_sigv4(other, region, host, path, body, later)
            );
        }
        let signer = Signer::new("us-east-1");
        let host = "dynamodb.us-east-1.amazonaws.com";
        let before = midnight - Duration::from_secs(1);
        assert_eq!(
            signer.sign(&long_term, host, "/", TARGET, body, before),
            by_aws_sigv4(&long_term, "us-east-1", host, "/", body, before)
        );
        assert_eq!(
            signer.sign(&long_term, host, "/", TARGET, body, midnight),
            by_aws_sigv4(&long_term, "us-east-1", host, "/", body, midnight),
            "the signing key of the new day"
        );
    }

    #[test]
    fn only_paths_that_are_their_own_canonical_form_are_plain() {
        for plain in ["/", "/dynamodb", "/a-b_c~d/e1"] {
            assert!(is_plain_path(plain), "{plain}");
        }
        for not in ["", "dynamodb", "//", "/a//b", "/./", "/a/../b", "/a b", "/a%20b", "/a.b", "/a:b"] {
            assert!(!is_plain_path(not), "{not}");
        }
    }
}
