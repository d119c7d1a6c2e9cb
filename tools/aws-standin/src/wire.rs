//! The AWS JSON 1.1 wire protocol of `StartSupportDataExport`: header checks, request parsing and
//! validation, and errors in the service's shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::export::{DataSetType, ExportRequest};
use crate::record::parse_timestamp;

/// `X-Amz-Target` prefix of the service's operations.
pub const TARGET_PREFIX: &str = "MarketplaceCommerceAnalytics20150701.";
/// `X-Amz-Target` of the one emulated operation.
pub const START_SUPPORT_DATA_EXPORT_TARGET: &str = "MarketplaceCommerceAnalytics20150701.StartSupportDataExport";
/// SigV4 signing name (the service part of the credential scope).
pub const SIGNING_NAME: &str = "marketplacecommerceanalytics";
/// The protocol's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Error type of the service's one modelled error (a server fault, HTTP 500).
pub const SERVICE_EXCEPTION: &str = "MarketplaceCommerceAnalyticsException";
/// Error type of invalid input (HTTP 400).
pub const VALIDATION_EXCEPTION: &str = "ValidationException";

/// An error answer: HTTP status, `x-amzn-ErrorType` header and body `{"__type", "message"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, thiserror::Error)]
#[error("{error_type} ({status}): {message}")]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    #[serde(rename = "__type")]
    pub error_type: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, error_type: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { status, error_type: error_type.into(), message: message.into() }
    }

    /// 400 `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, VALIDATION_EXCEPTION, message)
    }

    /// 400 `SerializationException` (a body that is not the operation's JSON).
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("error serializes")
    }
}

/// The parts of a SigV4 credential scope
/// (`Credential=<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Checks the shape of a SigV4 `Authorization` header (the signature itself is not verified) and
/// that it is scoped to the service (and to `required_region` when given).
pub fn check_authorization(
    authorization: Option<&str>,
    amz_date: Option<&str>,
    required_region: Option<&str>,
) -> Result<Credential, ApiError> {
    check_sigv4(authorization, amz_date, SIGNING_NAME, required_region)
}

/// The region and service of a SigV4 `Authorization` header's credential scope, read leniently
/// (for the request log: also when the header is otherwise wrong).
pub fn credential_scope(authorization: Option<&str>) -> Option<(String, String)> {
    let params = authorization?.trim().strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = params.split(',').find_map(|p| p.trim().strip_prefix("Credential="))?;
    let scope: Vec<&str> = credential.trim().split('/').collect();
    (scope.len() == 5).then(|| (scope[2].to_string(), scope[3].to_string()))
}

/// [`check_authorization`] for any service: `signing_name` is the service part the credential
/// scope must name (`ec2`, `aws-marketplace`, ...). Errors are in the JSON protocols' shape
/// (`MissingAuthenticationTokenException`, `IncompleteSignatureException`,
/// `InvalidSignatureException`, all 403); other protocols map them to their own codes.
pub fn check_sigv4(
    authorization: Option<&str>,
    amz_date: Option<&str>,
    signing_name: &str,
    required_region: Option<&str>,
) -> Result<Credential, ApiError> {
    let incomplete = |m: &str| ApiError::new(403, "IncompleteSignatureException", m);
    let invalid = |m: String| Err(ApiError::new(403, "InvalidSignatureException", m));
    let Some(auth) = authorization.map(str::trim).filter(|a| !a.is_empty()) else {
        return Err(ApiError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let Some(params) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(incomplete("Authorization header must use the AWS4-HMAC-SHA256 algorithm (SigV4)."));
    };
    let param = |name: &str| {
        params.split(',').filter_map(|p| p.split_once('=')).find(|(k, _)| k.trim() == name).map(|(_, v)| v.trim())
    };
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (param("Credential"), param("SignedHeaders"), param("Signature"))
    else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let well_formed = scope.len() == 5
        && !scope[0].is_empty()
        && scope[1].len() == 8
        && scope[1].bytes().all(|b| b.is_ascii_digit())
        && !scope[2].is_empty()
        && scope[4] == "aws4_request";
    if !well_formed {
        return Err(incomplete(
            "Credential must have the form <access key id>/<yyyymmdd>/<region>/<service>/aws4_request.",
        ));
    }
    if scope[3] != signing_name {
        return invalid(format!("Credential should be scoped to correct service: '{signing_name}'."));
    }
    let headers: Vec<&str> = signed_headers.split(';').collect();
    if signed_headers.is_empty() || !headers.contains(&"host") {
        return Err(incomplete("SignedHeaders must include 'host'."));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hexadecimal characters."));
    }
    let Some(amz_date) = amz_date.map(str::trim).filter(|d| !d.is_empty()) else {
        return Err(incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."));
    };
    if amz_date.len() >= 8 && !amz_date.starts_with(scope[1]) && amz_date.bytes().take(8).all(|b| b.is_ascii_digit()) {
        let (scoped, sent) = (scope[1], &amz_date[..8]);
        return invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scoped}' != '{sent}'."
        ));
    }
    if let Some(required) = required_region
        && scope[2] != required
    {
        return invalid(format!("Credential should be scoped to a valid region, not '{}'.", scope[2]));
    }
    Ok(Credential {
        access_key_id: scope[0].to_string(),
        date: scope[1].to_string(),
        region: scope[2].to_string(),
        service: scope[3].to_string(),
    })
}

/// Checks the `Content-Type` header (the protocol's, optionally with parameters).
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    match content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        Some(c) if c == CONTENT_TYPE => Ok(()),
        other => Err(ApiError::serialization(format!(
            "Content-Type must be {CONTENT_TYPE}, not {}",
            other.as_deref().unwrap_or("(missing)")
        ))),
    }
}

/// Parses a `fromDate` value: epoch seconds as a JSON number (possibly fractional, as the SDKs
/// send it) or as a numeric string, or an ISO 8601 string.
pub fn parse_from_date(v: &Value) -> Option<OffsetDateTime> {
    let from_secs = |secs: f64| -> Option<OffsetDateTime> {
        if !secs.is_finite() {
            return None;
        }
        let micros = (secs * 1_000_000.0).round();
        if micros.abs() > 2.5e17 {
            return None;
        }
        OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1_000).ok()
    };
    match v {
        Value::Number(n) => from_secs(n.as_f64()?),
        Value::String(s) => parse_timestamp(s).or_else(|| s.trim().parse::<f64>().ok().and_then(from_secs)),
        _ => None,
    }
}

/// The operation's input as sent; unknown fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    data_set_type: Option<String>,
    #[serde(default, deserialize_with = "from_date")]
    from_date: Option<OffsetDateTime>,
    role_name_arn: Option<String>,
    destination_s3_bucket_name: Option<String>,
    destination_s3_prefix: Option<String>,
    sns_topic_arn: Option<String>,
    customer_defined_values: Option<BTreeMap<String, String>>,
}

fn from_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => parse_from_date(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("'fromDate' must be a timestamp (epoch seconds or ISO 8601)")),
    }
}

/// Parses and validates a `StartSupportDataExport` request body the way the service would:
/// a body that is not the operation's JSON is a `SerializationException`; missing fields, a data
/// set type outside the enum and out-of-range lengths are reported together in one
/// `ValidationException`.
pub fn parse_request(body: &[u8]) -> Result<ExportRequest, ApiError> {
    let input: Input = serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("Request body is not the operation's JSON: {e}")))?;
    let mut errors: Vec<String> = Vec::new();
    let constraint = |name: &str, rule: &str| format!("Value at '{name}' failed to satisfy constraint: {rule}");
    let null = |name: &str| format!("Value null at '{name}' failed to satisfy constraint: Member must not be null");
    let data_set_type = match &input.data_set_type {
        None => Err(null("dataSetType")),
        Some(t) => serde_json::from_value::<DataSetType>(Value::String(t.clone())).map_err(|_| {
            let shown: String = t.chars().take(64).collect();
            format!(
                "Value '{shown}' at 'dataSetType' failed to satisfy constraint: Member must satisfy enum value set: [customer_support_contacts_data, test_customer_support_contacts_data]"
            )
        }),
    };
    errors.extend(data_set_type.as_ref().err().cloned());
    if input.from_date.is_none() {
        errors.push(null("fromDate"));
    }
    for (name, value, max) in [
        ("roleNameArn", &input.role_name_arn, 2048),
        ("destinationS3BucketName", &input.destination_s3_bucket_name, 63),
        ("snsTopicArn", &input.sns_topic_arn, 256),
    ] {
        match value.as_deref().map(|v| v.chars().count()) {
            None => errors.push(null(name)),
            Some(0) => errors.push(constraint(name, "Member must have length greater than or equal to 1")),
            Some(n) if n > max => {
                errors.push(constraint(name, &format!("Member must have length less than or equal to {max}")))
            }
            Some(_) => {}
        }
    }
    if let Some(m) = &input.customer_defined_values {
        let name = "customerDefinedValues";
        if m.is_empty() {
            errors.push(constraint(name, "Member must have length greater than or equal to 1"));
        }
        if m.len() > 5 {
            errors.push(constraint(name, "Member must have length less than or equal to 5"));
        }
        let bad = |s: &String| !(1..=255).contains(&s.chars().count());
        if m.keys().any(bad) {
            errors.push(constraint(
                name,
                "Map keys must satisfy constraint: [Member must have length between 1 and 255]",
            ));
        } else if m.values().any(bad) {
            errors.push(constraint(
                name,
                "Map value must satisfy constraint: [Member must have length between 1 and 255]",
            ));
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        let plural = if n == 1 { "" } else { "s" };
        return Err(ApiError::validation(format!("{n} validation error{plural} detected: {}", errors.join("; "))));
    }
    Ok(ExportRequest {
        data_set_type: data_set_type.expect("validated"),
        from_date: input.from_date.expect("validated"),
        role_name_arn: input.role_name_arn.expect("validated"),
        destination_s3_bucket_name: input.destination_s3_bucket_name.expect("validated"),
        destination_s3_prefix: input.destination_s3_prefix,
        sns_topic_arn: input.sns_topic_arn.expect("validated"),
        customer_defined_values: input.customer_defined_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/marketplacecommerceanalytics/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn authorization_shape_and_scope() {
        let c = check_authorization(Some(AUTH), Some("20240101T000000Z"), None).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.access_key_id, "AKIDEXAMPLE");
        assert!(check_authorization(Some(AUTH), Some("20240101T000000Z"), Some("us-east-1")).is_ok());
        let e = check_authorization(Some(AUTH), Some("20240101T000000Z"), Some("eu-west-1")).unwrap_err();
        assert_eq!(e.error_type, "InvalidSignatureException");
        assert_eq!(
            check_authorization(None, None, None).unwrap_err().error_type,
            "MissingAuthenticationTokenException"
        );
        let s3 = AUTH.replace("/marketplacecommerceanalytics/", "/s3/");
        let e = check_authorization(Some(&s3), Some("20240101T000000Z"), None).unwrap_err();
        assert_eq!((e.status, e.error_type.as_str()), (403, "InvalidSignatureException"));
        for bad in [
            "Bearer abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/marketplacecommerceanalytics/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKID/2024/us-east-1/marketplacecommerceanalytics/aws4_request, SignedHeaders=host, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/marketplacecommerceanalytics/aws4_request, SignedHeaders=host, Signature=xyz",
        ] {
            let e = check_authorization(Some(bad), Some("20240101T000000Z"), None).unwrap_err();
            assert_eq!(e.error_type, "IncompleteSignatureException", "{bad}");
        }
        let e = check_authorization(Some(AUTH), None, None).unwrap_err();
        assert_eq!(e.error_type, "IncompleteSignatureException");
    }

    #[test]
    fn content_type() {
        assert!(check_content_type(Some("application/x-amz-json-1.1")).is_ok());
        assert!(check_content_type(Some("application/x-amz-json-1.1; charset=utf-8")).is_ok());
        assert!(check_content_type(Some("application/json")).is_err());
        assert!(check_content_type(None).is_err());
    }

    fn valid() -> serde_json::Value {
        json!({
            "dataSetType": "test_customer_support_contacts_data",
            "fromDate": 1462320000.5,
            "roleNameArn": "arn:aws:iam::123456789012:role/R",
            "destinationS3BucketName": "bucket",
            "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:t"
        })
    }

    fn parse(v: serde_json::Value) -> Result<ExportRequest, ApiError> {
        parse_request(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn valid_requests_and_from_date_forms() {
        let r = parse(valid()).unwrap();
        assert_eq!(r.from_date, datetime!(2016-05-04 00:00:00.5 UTC));
        assert_eq!(r.destination_s3_prefix, None);
        for (v, expected) in [
            (json!(1462320000), datetime!(2016-05-04 00:00 UTC)),
            (json!(1462320000.123), datetime!(2016-05-04 00:00:00.123 UTC)),
            (json!("2016-05-04T00:00:00Z"), datetime!(2016-05-04 00:00 UTC)),
            (json!("2016-05-04T00:00:00.123Z"), datetime!(2016-05-04 00:00:00.123 UTC)),
            (json!("1462320000"), datetime!(2016-05-04 00:00 UTC)),
        ] {
            let mut body = valid();
            body["fromDate"] = v.clone();
            assert_eq!(parse(body).unwrap().from_date, expected, "{v}");
        }
    }

    #[test]
    fn validation_errors_are_collected() {
        let e = parse(json!({})).unwrap_err();
        assert_eq!((e.status, e.error_type.as_str()), (400, "ValidationException"));
        assert!(e.message.starts_with("5 validation errors detected"), "{}", e.message);
        for f in ["dataSetType", "fromDate", "roleNameArn", "destinationS3BucketName", "snsTopicArn"] {
            assert!(e.message.contains(&format!("'{f}'")), "{f}: {}", e.message);
        }
        let mut b = valid();
        b["dataSetType"] = json!("customer_subscriber_hourly_monthly_subscriptions");
        let e = parse(b).unwrap_err();
        assert!(e.message.contains("enum value set"), "{}", e.message);

        let mut b = valid();
        b["roleNameArn"] = json!("r".repeat(2049));
        b["destinationS3BucketName"] = json!("b".repeat(64));
        b["snsTopicArn"] = json!("");
        let e = parse(b).unwrap_err();
        assert!(e.message.starts_with("3 validation errors"), "{}", e.message);
        let mut b = valid();
        b["roleNameArn"] = json!("r".repeat(2048));
        b["destinationS3BucketName"] = json!("b".repeat(63));
        b["snsTopicArn"] = json!("t".repeat(256));
        assert!(parse(b).is_ok());

        for cdv in [
            json!({}),
            json!({"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}),
            json!({"": "x"}),
            json!({"k": ""}),
            json!({"k": "v".repeat(256)}),
        ] {
            let mut b = valid();
            b["customerDefinedValues"] = cdv.clone();
            let e = parse(b).unwrap_err();
            assert_eq!(e.error_type, "ValidationException", "{cdv}");
            assert!(e.message.contains("customerDefinedValues"), "{}", e.message);
        }
        let mut b = valid();
        b["customerDefinedValues"] = json!({"a":"1","b":"2","c":"3","d":"4","e":"5"});
        assert_eq!(parse(b).unwrap().customer_defined_values.unwrap().len(), 5);
    }

    #[test]
    fn serialization_errors() {
        assert_eq!(parse_request(b"not json").unwrap_err().error_type, "SerializationException");
        assert_eq!(parse_request(b"[]").unwrap_err().error_type, "SerializationException");
        let mut b = valid();
        b["fromDate"] = json!("last tuesday");
        assert_eq!(parse(b).unwrap_err().error_type, "SerializationException");
        let mut b = valid();
        b["roleNameArn"] = json!(5);
        assert_eq!(parse(b).unwrap_err().error_type, "SerializationException");
        let mut b = valid();
        b["customerDefinedValues"] = json!({"k": 1});
        assert_eq!(parse(b).unwrap_err().error_type, "SerializationException");
    }

    #[test]
    fn error_body_shape() {
        let e = ApiError::new(500, SERVICE_EXCEPTION, "boom");
        assert_eq!(e.status, 500);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v, json!({"__type": "MarketplaceCommerceAnalyticsException", "message": "boom"}));
    }
}
