//! The AWS Marketplace Agreement Service's `SearchAgreements`: the agreement model, request
//! parsing and validation (the documented filters, sort, `maxResults`, opaque `nextToken`), the
//! search itself, and the answer and error documents in both protocols the service speaks
//! (Smithy RPC v2 CBOR and AWS JSON 1.0).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::record::{parse_timestamp, timestamp_serde};

/// The service shape name: the JSON 1.0 target prefix and the CBOR path's service part.
pub const SERVICE_SHAPE: &str = "AWSMPCommerceService_v20200301";
/// `X-Amz-Target` prefix of the service's operations (AWS JSON 1.0).
pub const TARGET_PREFIX: &str = "AWSMPCommerceService_v20200301.";
/// `X-Amz-Target` of the one emulated operation.
pub const SEARCH_AGREEMENTS_TARGET: &str = "AWSMPCommerceService_v20200301.SearchAgreements";
/// Path prefix of RPC v2 CBOR requests (`{prefix}{operation}`).
pub const CBOR_PATH_PREFIX: &str = "/service/AWSMPCommerceService_v20200301/operation/";
/// The one emulated operation.
pub const SEARCH_AGREEMENTS: &str = "SearchAgreements";
/// SigV4 signing name (`aws.auth#sigv4` name in the model; the SDK's `signing_name()`).
pub const SIGNING_NAME: &str = "aws-marketplace";
/// Content type of AWS JSON 1.0.
pub const JSON10_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// Content type of RPC v2 CBOR.
pub const CBOR_CONTENT_TYPE: &str = "application/cbor";
/// The `smithy-protocol` header's value for RPC v2 CBOR.
pub const SMITHY_PROTOCOL: &str = "rpc-v2-cbor";
/// The only catalog.
pub const CATALOG: &str = "AWSMarketplace";
/// Namespace of the modelled error shapes (`__type` of RPC v2 CBOR errors).
pub const ERROR_NAMESPACE: &str = "com.amazonaws.marketplaceagreement#";
/// `maxResults` range (the model's `MaxResults`) and the stand-in's default page size.
pub const MAX_RESULTS: i64 = 50;
/// Agreement type of purchase agreements (the one the API documents).
pub const PURCHASE_AGREEMENT: &str = "PurchaseAgreement";

/// Agreement statuses the model's enum has.
pub const STATUSES: [&str; 9] =
    ["ACTIVE", "ARCHIVED", "CANCELLED", "EXPIRED", "RENEWED", "REPLACED", "ROLLED_BACK", "SUPERSEDED", "TERMINATED"];
/// Resource (product) types the API documents.
pub const RESOURCE_TYPES: [&str; 5] =
    ["AmiProduct", "ContainerProduct", "SaaSProduct", "ProfessionalServicesProduct", "MachineLearningProduct"];
/// Filters the stand-in implements. `AgreementId` is a stand-in extension (not in the API docs).
pub const FILTERS: [&str; 15] = [
    "PartyType",
    "AgreementType",
    "AcceptorAccountId",
    "Status",
    "ResourceIdentifier",
    "ResourceType",
    "OfferId",
    "OfferSetId",
    "AgreementId",
    "BeforeEndTime",
    "AfterEndTime",
    "BeforeStartTime",
    "AfterStartTime",
    "BeforeLastUpdateTime",
    "AfterLastUpdateTime",
];
/// Filters the API documents that the stand-in does not emulate (answered with
/// `ValidationException` `UNSUPPORTED_FILTERS`).
pub const NOT_EMULATED_FILTERS: [&str; 4] =
    ["EndTimeBehaviorType", "EndTimeBehaviorReasonCode", "InitialAgreementId", "LicenseArn"];

/// One resource (product) of an agreement's proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The Agreement API's product id, e.g. `prod-4gzp2symm0v9z`.
    pub id: String,
    /// `AmiProduct`, `SaaSProduct`, ...
    #[serde(rename = "type")]
    pub resource_type: String,
}

impl Resource {
    pub fn new(id: impl Into<String>, resource_type: impl Into<String>) -> Self {
        Resource { id: id.into(), resource_type: resource_type.into() }
    }
}

/// An agreement as `SearchAgreements` sees it (the fields of `AgreementViewSummary`, with the
/// acceptor and proposer flattened to their account ids).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agreement {
    pub agreement_id: String,
    pub agreement_type: String,
    pub acceptor_account_id: String,
    pub proposer_account_id: String,
    #[serde(with = "timestamp_serde")]
    pub acceptance_time: OffsetDateTime,
    #[serde(with = "timestamp_serde")]
    pub start_time: OffsetDateTime,
    /// `None` for pay-as-you-go agreements (no end date).
    #[serde(default, with = "timestamp_serde::option")]
    pub end_time: Option<OffsetDateTime>,
    #[serde(with = "timestamp_serde")]
    pub last_update_time: OffsetDateTime,
    /// One of [`STATUSES`].
    pub status: String,
    pub resources: Vec<Resource>,
    pub offer_id: String,
    #[serde(default)]
    pub offer_set_id: Option<String>,
}

/// What `POST /_admin/agreements` takes: an [`Agreement`] whose fields are optional except
/// `acceptorAccountId` and `resources` (defaults: a new `agmt-` id, `PurchaseAgreement`, the
/// configured seller as proposer, times now, no end time, `ACTIVE`, a new `offer-` id).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgreementInput {
    pub agreement_id: Option<String>,
    pub agreement_type: Option<String>,
    pub acceptor_account_id: Option<String>,
    pub proposer_account_id: Option<String>,
    #[serde(default, with = "timestamp_serde::option")]
    pub acceptance_time: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp_serde::option")]
    pub start_time: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp_serde::option")]
    pub end_time: Option<OffsetDateTime>,
    #[serde(default, with = "timestamp_serde::option")]
    pub last_update_time: Option<OffsetDateTime>,
    pub status: Option<String>,
    pub resources: Option<Vec<Resource>>,
    pub offer_id: Option<String>,
    pub offer_set_id: Option<String>,
}

fn random_id(prefix: &str, len: usize) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &hex[..len])
}

impl AgreementInput {
    /// The agreement, with the defaults filled in; `Err` names what is missing or invalid.
    pub fn into_agreement(self, seller_account_id: &str) -> Result<Agreement, String> {
        let acceptor = self.acceptor_account_id.ok_or("acceptorAccountId is required")?;
        let resources = self.resources.filter(|r| !r.is_empty()).ok_or("resources (at least one) is required")?;
        let status = self.status.unwrap_or_else(|| "ACTIVE".into());
        if !STATUSES.contains(&status.as_str()) {
            return Err(format!("status must be one of {}", STATUSES.join(", ")));
        }
        let now = crate::record::truncate_to_millis(OffsetDateTime::now_utc());
        let acceptance_time = self.acceptance_time.unwrap_or(now);
        Ok(Agreement {
            agreement_id: self.agreement_id.unwrap_or_else(|| random_id("agmt-", 25)),
            agreement_type: self.agreement_type.unwrap_or_else(|| PURCHASE_AGREEMENT.into()),
            acceptor_account_id: acceptor,
            proposer_account_id: self.proposer_account_id.unwrap_or_else(|| seller_account_id.to_string()),
            acceptance_time,
            start_time: self.start_time.unwrap_or(acceptance_time),
            end_time: self.end_time,
            last_update_time: self.last_update_time.unwrap_or(acceptance_time),
            status,
            resources,
            offer_id: self.offer_id.unwrap_or_else(|| random_id("offer-", 13)),
            offer_set_id: self.offer_set_id,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// One `fields` entry of a `ValidationException`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationField {
    pub name: String,
    pub message: String,
}

/// An error answer of the service: HTTP status, `__type`, `message`, and for
/// `ValidationException` its `reason` and `fields`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementsError {
    pub status: u16,
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ValidationField>,
}

/// The modelled error shapes of the service.
pub const MODELLED_ERRORS: [&str; 7] = [
    "ValidationException",
    "AccessDeniedException",
    "ThrottlingException",
    "InternalServerException",
    "ResourceNotFoundException",
    "ConflictException",
    "ServiceQuotaExceededException",
];

impl AgreementsError {
    pub fn new(status: u16, error_type: impl Into<String>, message: impl Into<String>) -> Self {
        AgreementsError { status, error_type: error_type.into(), message: message.into(), reason: None, fields: vec![] }
    }

    /// The model's HTTP status of an error type: `ValidationException` 400,
    /// `AccessDeniedException` 403, `ResourceNotFoundException` 404, `ConflictException` 409,
    /// `ServiceQuotaExceededException` 402, `ThrottlingException` 429, `InternalServerException`
    /// 500; others 400.
    pub fn default_status(error_type: &str) -> u16 {
        match error_type {
            "AccessDeniedException" => 403,
            "ResourceNotFoundException" => 404,
            "ConflictException" => 409,
            "ServiceQuotaExceededException" => 402,
            "ThrottlingException" => 429,
            "InternalServerException" | "InternalFailure" => 500,
            "ServiceUnavailable" => 503,
            _ => 400,
        }
    }

    /// 400 `ValidationException` with a reason (`INVALID_FILTERS`, ...) and the offending field.
    pub fn validation(reason: &str, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AgreementsError {
            status: 400,
            error_type: "ValidationException".into(),
            message: message.clone(),
            reason: Some(reason.into()),
            fields: vec![ValidationField { name: field.into(), message }],
        }
    }

    /// 400 `SerializationException`: a body that is not the operation's input.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    /// The `__type` on the wire: the absolute shape id for modelled errors in RPC v2 CBOR, the
    /// bare name otherwise.
    pub fn wire_type(&self, cbor: bool) -> String {
        if cbor && MODELLED_ERRORS.contains(&self.error_type.as_str()) {
            format!("{ERROR_NAMESPACE}{}", self.error_type)
        } else {
            self.error_type.clone()
        }
    }

    /// The error document (JSON 1.0 or CBOR).
    pub fn document(&self, request_id: &str, cbor: bool) -> Out {
        let mut m = vec![
            ("__type".to_string(), Out::str(self.wire_type(cbor))),
            ("message".to_string(), Out::str(&self.message)),
            ("requestId".to_string(), Out::str(request_id)),
        ];
        if let Some(r) = &self.reason {
            m.push(("reason".into(), Out::str(r)));
        }
        if !self.fields.is_empty() {
            m.push((
                "fields".into(),
                Out::List(
                    self.fields
                        .iter()
                        .map(|f| Out::map([("name", Out::str(&f.name)), ("message", Out::str(&f.message))]))
                        .collect(),
                ),
            ));
        }
        Out::Map(m)
    }
}

impl std::fmt::Display for AgreementsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error_type, self.status, self.message)
    }
}

impl std::error::Error for AgreementsError {}

// ---------------------------------------------------------------------------------------------
// Request.

/// One filter of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub name: Option<String>,
    pub values: Option<Vec<String>>,
}

/// The `sort` member.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sort {
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
}

/// A `SearchAgreements` request as received (types checked, values not validated yet).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub catalog: Option<String>,
    pub filters: Option<Vec<Filter>>,
    pub sort: Option<Sort>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

fn opt_string(obj: &serde_json::Map<String, Value>, name: &str, at: &str) -> Result<Option<String>, AgreementsError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AgreementsError::serialization(format!("'{at}{name}' must be a string"))),
    }
}

/// Reads the request from its JSON form (JSON 1.0 bodies, or CBOR bodies through
/// [`cbor_to_json`]). Wrong types are `SerializationException`s; unknown members are ignored.
pub fn parse_search_request(value: &Value) -> Result<SearchRequest, AgreementsError> {
    let Value::Object(obj) = value else {
        return Err(AgreementsError::serialization("The request body must be an object (a map)"));
    };
    let filters = match obj.get("filters") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::Object(f) = item else {
                    return Err(AgreementsError::serialization(format!("'filters[{i}]' must be an object")));
                };
                let at = format!("filters[{i}].");
                let values = match f.get("values") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(vs)) => Some(
                        vs.iter()
                            .map(|v| {
                                v.as_str().map(str::to_string).ok_or_else(|| {
                                    AgreementsError::serialization(format!("'{at}values' must be strings"))
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(_) => return Err(AgreementsError::serialization(format!("'{at}values' must be a list"))),
                };
                out.push(Filter { name: opt_string(f, "name", &at)?, values });
            }
            Some(out)
        }
        Some(_) => return Err(AgreementsError::serialization("'filters' must be a list")),
    };
    let sort = match obj.get("sort") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => {
            Some(Sort { sort_by: opt_string(s, "sortBy", "sort.")?, sort_order: opt_string(s, "sortOrder", "sort.")? })
        }
        Some(_) => return Err(AgreementsError::serialization("'sort' must be an object")),
    };
    let max_results = match obj.get("maxResults") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            Some(n.as_i64().ok_or_else(|| AgreementsError::serialization("'maxResults' must be an integer"))?)
        }
        Some(_) => return Err(AgreementsError::serialization("'maxResults' must be an integer")),
    };
    Ok(SearchRequest {
        catalog: opt_string(obj, "catalog", "")?,
        filters,
        sort,
        max_results,
        next_token: opt_string(obj, "nextToken", "")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Search.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the API's sortBy values
enum SortBy {
    EndTime,
    StartTime,
    LastUpdateTime,
}

/// One page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    pub agreements: Vec<Agreement>,
    pub next_token: Option<String>,
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The opaque `nextToken` for `offset` into the results of the search `fingerprint` identifies.
pub fn encode_token(offset: usize, fingerprint: u64) -> String {
    hex(format!("cas-standin:v1:{offset}:{fingerprint:016x}").as_bytes())
}

/// The offset of a token made by [`encode_token`] for the same search; `None` for anything else.
pub fn decode_token(token: &str, fingerprint: u64) -> Option<usize> {
    let text = String::from_utf8(unhex(token)?).ok()?;
    let rest = text.strip_prefix("cas-standin:v1:")?;
    let (offset, fp) = rest.split_once(':')?;
    (u64::from_str_radix(fp, 16).ok()? == fingerprint).then_some(())?;
    offset.parse().ok()
}

fn parse_filter_time(name: &str, value: &str) -> Result<OffsetDateTime, AgreementsError> {
    if let Some(t) = parse_timestamp(value) {
        return Ok(t);
    }
    if let Ok(secs) = value.parse::<i64>()
        && let Ok(t) = OffsetDateTime::from_unix_timestamp(secs)
    {
        return Ok(t);
    }
    Err(AgreementsError::validation(
        "INVALID_FILTER_VALUES",
        name,
        format!("The value '{value}' of filter {name} is not a date (ISO 8601, e.g. 2025-01-01T00:00:00Z)"),
    ))
}

fn valid_filter_value(v: &str) -> bool {
    (1..=64).contains(&v.chars().count()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"+:_-".contains(&b))
}

/// Validates the request and runs it over `agreements` as the account `seller_account_id`
/// (the caller: `PartyType=Proposer` selects the agreements it proposed, `Acceptor` those it
/// accepted). Results are sorted (default `EndTime` ascending, ties by agreement id; agreements
/// without an end time sort last) and cut into pages of `maxResults` (default and maximum 50).
pub fn search(
    agreements: &[Agreement],
    seller_account_id: &str,
    req: &SearchRequest,
) -> Result<SearchPage, AgreementsError> {
    match req.catalog.as_deref() {
        Some(CATALOG) => {}
        Some(other) => {
            return Err(AgreementsError::validation(
                "INVALID_CATALOG",
                "catalog",
                format!("Invalid catalog '{other}': the only catalog is {CATALOG}"),
            ));
        }
        None => {
            return Err(AgreementsError::validation(
                "INVALID_CATALOG",
                "catalog",
                format!("catalog is required and must be {CATALOG}"),
            ));
        }
    }
    let filters = req.filters.as_deref().unwrap_or_default();
    if filters.is_empty() || filters.len() > 10 {
        return Err(AgreementsError::validation(
            "INVALID_FILTERS",
            "filters",
            "Value at 'filters' failed to satisfy constraint: Member must have length between 1 and 10 (PartyType and AgreementType are required)",
        ));
    }
    let mut by_name: Vec<(&str, &str)> = Vec::new();
    for f in filters {
        let Some(name) = f.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(AgreementsError::validation("MISSING_FILTER_NAME", "filters", "Every filter needs a name"));
        };
        let values = f.values.as_deref().unwrap_or_default();
        if values.is_empty() {
            return Err(AgreementsError::validation(
                "MISSING_FILTER_VALUES",
                name,
                format!("Filter {name} needs a value"),
            ));
        }
        if values.len() > 1 {
            return Err(AgreementsError::validation(
                "INVALID_FILTER_VALUES",
                name,
                format!("Filter {name} takes exactly one value"),
            ));
        }
        if NOT_EMULATED_FILTERS.contains(&name) {
            return Err(AgreementsError::validation(
                "UNSUPPORTED_FILTERS",
                name,
                format!("Filter {name} is not emulated by cas-standin"),
            ));
        }
        if !FILTERS.contains(&name) {
            return Err(AgreementsError::validation(
                "INVALID_FILTER_NAME",
                name,
                format!("Unknown filter name '{name}'"),
            ));
        }
        if by_name.iter().any(|(n, _)| *n == name) {
            return Err(AgreementsError::validation(
                "INVALID_FILTERS",
                name,
                format!("Filter {name} is given more than once"),
            ));
        }
        if !valid_filter_value(&values[0]) {
            return Err(AgreementsError::validation(
                "INVALID_FILTER_VALUES",
                name,
                format!("The value of filter {name} must be 1-64 characters of [A-Za-z0-9+:_-]"),
            ));
        }
        by_name.push((name, values[0].as_str()));
    }
    let get = |n: &str| by_name.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);

    let proposer = match get("PartyType") {
        Some("Proposer") => true,
        Some("Acceptor") => false,
        Some(other) => {
            return Err(AgreementsError::validation(
                "INVALID_PARTY_TYPE",
                "PartyType",
                format!("Invalid PartyType '{other}': use Proposer or Acceptor"),
            ));
        }
        None => {
            return Err(AgreementsError::validation(
                "INVALID_FILTERS",
                "PartyType",
                "The PartyType filter is required",
            ));
        }
    };
    let agreement_type = match get("AgreementType") {
        Some(t @ ("PurchaseAgreement" | "VendorInsightsAgreement")) => t,
        Some(other) => {
            return Err(AgreementsError::validation(
                "INVALID_AGREEMENT_TYPE",
                "AgreementType",
                format!("Invalid AgreementType '{other}'"),
            ));
        }
        None => {
            return Err(AgreementsError::validation(
                "INVALID_FILTERS",
                "AgreementType",
                "The AgreementType filter is required",
            ));
        }
    };
    if !proposer {
        // The combinations the API supports for PartyType=Acceptor.
        if let Some((n, _)) = by_name.iter().find(|(n, _)| {
            !matches!(
                *n,
                "PartyType"
                    | "AgreementType"
                    | "Status"
                    | "BeforeEndTime"
                    | "AfterEndTime"
                    | "ResourceIdentifier"
                    | "ResourceType"
                    | "OfferId"
                    | "OfferSetId"
            )
        }) {
            return Err(AgreementsError::validation(
                "UNSUPPORTED_FILTERS",
                n,
                format!("Filter {n} is not supported when PartyType is Acceptor"),
            ));
        }
        let exclusive: Vec<&str> = ["ResourceIdentifier", "ResourceType", "OfferId", "OfferSetId"]
            .into_iter()
            .filter(|n| get(n).is_some())
            .collect();
        if exclusive.len() > 1 || (get("ResourceType").is_some() && get("Status").is_some()) {
            return Err(AgreementsError::validation(
                "UNSUPPORTED_FILTERS",
                "filters",
                "This filter combination is not supported when PartyType is Acceptor",
            ));
        }
    }
    if let Some(s) = get("Status")
        && !STATUSES.contains(&s)
    {
        return Err(AgreementsError::validation("INVALID_STATUS", "Status", format!("Invalid Status '{s}'")));
    }
    if let Some(t) = get("ResourceType")
        && !RESOURCE_TYPES.contains(&t)
    {
        return Err(AgreementsError::validation(
            "INVALID_FILTER_VALUES",
            "ResourceType",
            format!("Invalid ResourceType '{t}': one of {}", RESOURCE_TYPES.join(", ")),
        ));
    }
    if let Some(a) = get("AcceptorAccountId")
        && !(a.len() <= 32 && a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(AgreementsError::validation(
            "INVALID_FILTER_VALUES",
            "AcceptorAccountId",
            format!("Invalid AcceptorAccountId '{a}'"),
        ));
    }
    let time = |n: &str| get(n).map(|v| parse_filter_time(n, v)).transpose();
    let before_end = time("BeforeEndTime")?;
    let after_end = time("AfterEndTime")?;
    let before_start = time("BeforeStartTime")?;
    let after_start = time("AfterStartTime")?;
    let before_update = time("BeforeLastUpdateTime")?;
    let after_update = time("AfterLastUpdateTime")?;

    let sort = req.sort.clone().unwrap_or_default();
    let sort_by = match sort.sort_by.as_deref() {
        None | Some("EndTime") => SortBy::EndTime,
        Some("StartTime") if proposer => SortBy::StartTime,
        Some("LastUpdateTime") if proposer => SortBy::LastUpdateTime,
        Some(other) => {
            return Err(AgreementsError::validation(
                "INVALID_SORT_BY",
                "sort.sortBy",
                format!("Invalid sortBy '{other}': EndTime, or StartTime / LastUpdateTime when PartyType is Proposer"),
            ));
        }
    };
    let descending = match sort.sort_order.as_deref() {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(other) => {
            return Err(AgreementsError::validation(
                "INVALID_SORT_ORDER",
                "sort.sortOrder",
                format!("Invalid sortOrder '{other}': ASCENDING or DESCENDING"),
            ));
        }
    };
    let max_results = req.max_results.unwrap_or(MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max_results) {
        return Err(AgreementsError::validation(
            "INVALID_MAX_RESULTS",
            "maxResults",
            format!("maxResults must be between 1 and {MAX_RESULTS}, not {max_results}"),
        ));
    }

    // The token is bound to the search (filters and sort; not the page size).
    let mut canonical: Vec<String> = by_name.iter().map(|(n, v)| format!("{n}={v}")).collect();
    canonical.sort();
    let fingerprint =
        fnv1a(&format!("{}|{}|{:?}|{descending}|{seller_account_id}", CATALOG, canonical.join("&"), sort_by));
    let offset = match req.next_token.as_deref() {
        None | Some("") => 0,
        Some(token) => decode_token(token, fingerprint).ok_or_else(|| {
            AgreementsError::validation(
                "INVALID_NEXT_TOKEN",
                "nextToken",
                "The nextToken is invalid or belongs to another search",
            )
        })?,
    };

    let mut hits: Vec<&Agreement> = agreements
        .iter()
        .filter(|a| {
            let party = if proposer { &a.proposer_account_id } else { &a.acceptor_account_id };
            let eq = |n: &str, field: &str| get(n).is_none_or(|v| v == field);
            party == seller_account_id
                && a.agreement_type == agreement_type
                && eq("AcceptorAccountId", &a.acceptor_account_id)
                && eq("Status", &a.status)
                && eq("OfferId", &a.offer_id)
                && eq("AgreementId", &a.agreement_id)
                && get("OfferSetId").is_none_or(|v| a.offer_set_id.as_deref() == Some(v))
                && get("ResourceIdentifier").is_none_or(|v| a.resources.iter().any(|r| r.id == v))
                && get("ResourceType").is_none_or(|v| a.resources.iter().any(|r| r.resource_type == v))
                && before_end.is_none_or(|t| a.end_time.is_some_and(|e| e < t))
                && after_end.is_none_or(|t| a.end_time.is_some_and(|e| e > t))
                && before_start.is_none_or(|t| a.start_time < t)
                && after_start.is_none_or(|t| a.start_time > t)
                && before_update.is_none_or(|t| a.last_update_time < t)
                && after_update.is_none_or(|t| a.last_update_time > t)
        })
        .collect();
    hits.sort_by(|a, b| {
        let key = |x: &Agreement| match sort_by {
            SortBy::EndTime => (x.end_time.is_none(), x.end_time.unwrap_or(x.start_time)),
            SortBy::StartTime => (false, x.start_time),
            SortBy::LastUpdateTime => (false, x.last_update_time),
        };
        let ord = key(a).cmp(&key(b));
        let ord = if descending { ord.reverse() } else { ord };
        ord.then_with(|| a.agreement_id.cmp(&b.agreement_id))
    });
    let end = (offset + max_results as usize).min(hits.len());
    let page: Vec<Agreement> =
        hits.get(offset.min(hits.len())..end).unwrap_or_default().iter().map(|a| (*a).clone()).collect();
    let next_token = (end < hits.len()).then(|| encode_token(end, fingerprint));
    Ok(SearchPage { agreements: page, next_token })
}

// ---------------------------------------------------------------------------------------------
// Documents: one value type, written as JSON or CBOR.

/// A document of the protocols: JSON 1.0 writes timestamps as epoch-seconds numbers, RPC v2 CBOR
/// as tag 1 over epoch seconds (an integer, or a float with milliseconds).
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Str(String),
    Int(i64),
    Time(OffsetDateTime),
    List(Vec<Out>),
    Map(Vec<(String, Out)>),
}

fn epoch_seconds(t: OffsetDateTime) -> (i64, u32) {
    (t.unix_timestamp(), t.millisecond() as u32)
}

impl Out {
    pub fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }

    pub fn map<const N: usize>(entries: [(&str, Out); N]) -> Out {
        Out::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The AWS JSON 1.0 form.
    pub fn to_json(&self) -> Value {
        match self {
            Out::Str(s) => Value::String(s.clone()),
            Out::Int(i) => Value::from(*i),
            Out::Time(t) => match epoch_seconds(*t) {
                (s, 0) => Value::from(s),
                (s, ms) => Value::from(s as f64 + ms as f64 / 1000.0),
            },
            Out::List(items) => Value::Array(items.iter().map(Out::to_json).collect()),
            Out::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// The RPC v2 CBOR form (definite lengths).
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = minicbor::Encoder::new(Vec::new());
        self.write_cbor(&mut e);
        e.into_writer()
    }

    fn write_cbor(&self, e: &mut minicbor::Encoder<Vec<u8>>) {
        const INFALLIBLE: &str = "writing CBOR to a Vec cannot fail";
        match self {
            Out::Str(s) => {
                e.str(s).expect(INFALLIBLE);
            }
            Out::Int(i) => {
                e.i64(*i).expect(INFALLIBLE);
            }
            Out::Time(t) => {
                e.tag(minicbor::data::Tag::from(minicbor::data::IanaTag::Timestamp)).expect(INFALLIBLE);
                match epoch_seconds(*t) {
                    (s, 0) => e.i64(s).expect(INFALLIBLE),
                    (s, ms) => e.f64(s as f64 + ms as f64 / 1000.0).expect(INFALLIBLE),
                };
            }
            Out::List(items) => {
                e.array(items.len() as u64).expect(INFALLIBLE);
                for i in items {
                    i.write_cbor(e);
                }
            }
            Out::Map(m) => {
                e.map(m.len() as u64).expect(INFALLIBLE);
                for (k, v) in m {
                    e.str(k).expect(INFALLIBLE);
                    v.write_cbor(e);
                }
            }
        }
    }
}

/// One `AgreementViewSummary`.
pub fn summary(a: &Agreement) -> Out {
    let mut m = vec![
        ("agreementId".to_string(), Out::str(&a.agreement_id)),
        ("acceptanceTime".into(), Out::Time(a.acceptance_time)),
        ("startTime".into(), Out::Time(a.start_time)),
    ];
    if let Some(e) = a.end_time {
        m.push(("endTime".into(), Out::Time(e)));
    }
    m.push(("lastUpdateTime".into(), Out::Time(a.last_update_time)));
    m.push(("agreementType".into(), Out::str(&a.agreement_type)));
    m.push(("acceptor".into(), Out::map([("accountId", Out::str(&a.acceptor_account_id))])));
    m.push(("proposer".into(), Out::map([("accountId", Out::str(&a.proposer_account_id))])));
    let mut proposal = vec![
        (
            "resources".to_string(),
            Out::List(
                a.resources
                    .iter()
                    .map(|r| Out::map([("id", Out::str(&r.id)), ("type", Out::str(&r.resource_type))]))
                    .collect(),
            ),
        ),
        ("offerId".into(), Out::str(&a.offer_id)),
    ];
    if let Some(s) = &a.offer_set_id {
        proposal.push(("offerSetId".into(), Out::str(s)));
    }
    m.push(("proposalSummary".into(), Out::Map(proposal)));
    m.push(("status".into(), Out::str(&a.status)));
    Out::Map(m)
}

/// The `SearchAgreements` output document.
pub fn page_document(page: &SearchPage) -> Out {
    let mut m = vec![("agreementViewSummaries".to_string(), Out::List(page.agreements.iter().map(summary).collect()))];
    if let Some(t) = &page.next_token {
        m.push(("nextToken".into(), Out::str(t)));
    }
    Out::Map(m)
}

// ---------------------------------------------------------------------------------------------
// CBOR input.

const MAX_DEPTH: usize = 64;

/// Decodes a CBOR document (definite or indefinite lengths) into its JSON form: text → string,
/// integers and floats → numbers, tag 1 timestamps → epoch-seconds numbers, other tags → their
/// content. Byte strings, big integers and trailing bytes are errors.
pub fn cbor_to_json(bytes: &[u8]) -> Result<Value, String> {
    let mut d = minicbor::Decoder::new(bytes);
    let v = read_cbor(&mut d, 0)?;
    if d.position() != bytes.len() {
        return Err(format!("unexpected bytes after the CBOR document at {}", d.position()));
    }
    Ok(v)
}

fn read_cbor(d: &mut minicbor::Decoder<'_>, depth: usize) -> Result<Value, String> {
    use minicbor::data::Type;
    if depth > MAX_DEPTH {
        return Err("CBOR nested too deeply".into());
    }
    let err = |e: minicbor::decode::Error| e.to_string();
    Ok(match d.datatype().map_err(err)? {
        Type::Bool => Value::Bool(d.bool().map_err(err)?),
        Type::Null => {
            d.null().map_err(err)?;
            Value::Null
        }
        Type::Undefined => {
            d.undefined().map_err(err)?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64().map_err(err)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64().map_err(err)?),
        Type::F16 | Type::F32 | Type::F64 => {
            let f = d.f64().map_err(err)?;
            serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
        }
        Type::String => Value::String(d.str().map_err(err)?.to_string()),
        Type::StringIndef => {
            let mut s = String::new();
            for chunk in d.str_iter().map_err(err)? {
                s.push_str(chunk.map_err(err)?);
            }
            Value::String(s)
        }
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array().map_err(err)? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(read_cbor(d, depth + 1)?);
                    }
                }
                None => loop {
                    if d.datatype().map_err(err)? == Type::Break {
                        d.skip().map_err(err)?;
                        break;
                    }
                    items.push(read_cbor(d, depth + 1)?);
                },
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut m = serde_json::Map::new();
            let mut entry = |d: &mut minicbor::Decoder<'_>| -> Result<(), String> {
                let key = match read_cbor(d, depth + 1)? {
                    Value::String(k) => k,
                    other => return Err(format!("CBOR map keys must be text, not {other}")),
                };
                let value = read_cbor(d, depth + 1)?;
                m.insert(key, value);
                Ok(())
            };
            match d.map().map_err(err)? {
                Some(n) => {
                    for _ in 0..n {
                        entry(d)?;
                    }
                }
                None => loop {
                    if d.datatype().map_err(err)? == Type::Break {
                        d.skip().map_err(err)?;
                        break;
                    }
                    entry(d)?;
                },
            }
            Value::Object(m)
        }
        Type::Tag => {
            d.tag().map_err(err)?;
            read_cbor(d, depth + 1)?
        }
        other => return Err(format!("unexpected CBOR item: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const SELLER: &str = "999988887777";

    fn agreement(id: &str, acceptor: &str, proposer: &str, end: Option<OffsetDateTime>, status: &str) -> Agreement {
        Agreement {
            agreement_id: id.into(),
            agreement_type: PURCHASE_AGREEMENT.into(),
            acceptor_account_id: acceptor.into(),
            proposer_account_id: proposer.into(),
            acceptance_time: datetime!(2024-01-01 00:00 UTC),
            start_time: datetime!(2024-01-01 00:00 UTC),
            end_time: end,
            last_update_time: datetime!(2024-01-02 00:00 UTC),
            status: status.into(),
            resources: vec![Resource::new(format!("prod-{id}"), "AmiProduct")],
            offer_id: format!("offer-{id}"),
            offer_set_id: None,
        }
    }

    fn data() -> Vec<Agreement> {
        vec![
            agreement("a", "000011112222", SELLER, Some(datetime!(2030-12-31 00:00 UTC)), "ACTIVE"),
            agreement("b", "000011112222", "555566667777", Some(datetime!(2029-01-01 00:00 UTC)), "ACTIVE"),
            agreement("c", "111122223333", SELLER, Some(datetime!(2025-02-28 00:00 UTC)), "EXPIRED"),
            agreement("d", "333344445555", SELLER, None, "ACTIVE"),
        ]
    }

    fn req(filters: &[(&str, &str)]) -> SearchRequest {
        SearchRequest {
            catalog: Some(CATALOG.into()),
            filters: Some(
                filters
                    .iter()
                    .map(|(n, v)| Filter { name: Some(n.to_string()), values: Some(vec![v.to_string()]) })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn ids(page: &SearchPage) -> Vec<&str> {
        page.agreements.iter().map(|a| a.agreement_id.as_str()).collect()
    }

    const BASE: [(&str, &str); 2] = [("PartyType", "Proposer"), ("AgreementType", "PurchaseAgreement")];

    #[test]
    fn proposer_sees_only_its_agreements_sorted_by_end_time() {
        let page = search(&data(), SELLER, &req(&BASE)).unwrap();
        assert_eq!(ids(&page), ["c", "a", "d"]);
        assert_eq!(page.next_token, None);
        let mut r = req(&BASE);
        r.sort = Some(Sort { sort_by: Some("EndTime".into()), sort_order: Some("DESCENDING".into()) });
        assert_eq!(ids(&search(&data(), SELLER, &r).unwrap()), ["d", "a", "c"]);
        let page = search(&data(), SELLER, &req(&[BASE[0], BASE[1], ("AcceptorAccountId", "000011112222")])).unwrap();
        assert_eq!(ids(&page), ["a"]);
        // the acceptor view: agreements the configured account accepted.
        let page = search(&data(), "000011112222", &req(&[("PartyType", "Acceptor"), BASE[1]])).unwrap();
        assert_eq!(ids(&page), ["b", "a"]);
    }

    #[test]
    fn filters_narrow_the_results() {
        let d = data();
        let run = |extra: (&str, &str)| {
            ids(&search(&d, SELLER, &req(&[BASE[0], BASE[1], extra])).unwrap())
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(("Status", "EXPIRED")), ["c"]);
        assert_eq!(run(("ResourceIdentifier", "prod-a")), ["a"]);
        assert_eq!(run(("ResourceType", "SaaSProduct")), Vec::<String>::new());
        assert_eq!(run(("OfferId", "offer-d")), ["d"]);
        assert_eq!(run(("AgreementId", "c")), ["c"]);
        assert_eq!(run(("AfterEndTime", "2026-01-01T00:00:00Z")), ["a"]);
        assert_eq!(run(("BeforeEndTime", "2026-01-01T00:00:00Z")), ["c"]);
        assert_eq!(run(("BeforeEndTime", "2026-01-01")), ["c"]);
        assert_eq!(run(("AfterStartTime", "2024-06-01T00:00:00Z")), Vec::<String>::new());
        assert_eq!(run(("BeforeLastUpdateTime", "2024-01-03T00:00:00Z")).len(), 3);
    }

    #[test]
    fn pagination_with_opaque_tokens() {
        let d = data();
        let mut r = req(&BASE);
        r.max_results = Some(2);
        let p1 = search(&d, SELLER, &r).unwrap();
        assert_eq!(ids(&p1), ["c", "a"]);
        let token = p1.next_token.clone().unwrap();
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
        r.next_token = Some(token.clone());
        let p2 = search(&d, SELLER, &r).unwrap();
        assert_eq!((ids(&p2), p2.next_token.as_deref()), (vec!["d"], None));
        // a token of another search, or garbage, is a ValidationException.
        let mut other = req(&[BASE[0], BASE[1], ("Status", "ACTIVE")]);
        other.next_token = Some(token);
        for bad in [other, SearchRequest { next_token: Some("bm9wZQ==".into()), ..req(&BASE) }] {
            let e = search(&d, SELLER, &bad).unwrap_err();
            assert_eq!(
                (e.error_type.as_str(), e.reason.as_deref()),
                ("ValidationException", Some("INVALID_NEXT_TOKEN"))
            );
        }
    }

    #[test]
    fn validation_reasons() {
        let d = data();
        let reason = |r: SearchRequest| search(&d, SELLER, &r).unwrap_err().reason.unwrap();
        assert_eq!(reason(SearchRequest { catalog: None, ..req(&BASE) }), "INVALID_CATALOG");
        assert_eq!(reason(SearchRequest { catalog: Some("Other".into()), ..req(&BASE) }), "INVALID_CATALOG");
        assert_eq!(reason(req(&[])), "INVALID_FILTERS");
        assert_eq!(reason(req(&[BASE[1]])), "INVALID_FILTERS");
        assert_eq!(reason(req(&[BASE[0]])), "INVALID_FILTERS");
        assert_eq!(reason(req(&[("PartyType", "Buyer"), BASE[1]])), "INVALID_PARTY_TYPE");
        assert_eq!(reason(req(&[BASE[0], ("AgreementType", "Lease")])), "INVALID_AGREEMENT_TYPE");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("Colour", "red")])), "INVALID_FILTER_NAME");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("LicenseArn", "x")])), "UNSUPPORTED_FILTERS");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("Status", "FINE")])), "INVALID_STATUS");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("Status", "ACTIVE"), ("Status", "EXPIRED")])), "INVALID_FILTERS");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("AfterEndTime", "soon")])), "INVALID_FILTER_VALUES");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("OfferId", "has space")])), "INVALID_FILTER_VALUES");
        assert_eq!(
            reason(req(&[("PartyType", "Acceptor"), BASE[1], ("AcceptorAccountId", "000011112222")])),
            "UNSUPPORTED_FILTERS"
        );
        assert_eq!(
            reason(req(&[("PartyType", "Acceptor"), BASE[1], ("ResourceType", "AmiProduct"), ("Status", "ACTIVE")])),
            "UNSUPPORTED_FILTERS"
        );
        let mut r = req(&BASE);
        r.filters.as_mut().unwrap()[0].values = Some(vec![]);
        assert_eq!(reason(r), "MISSING_FILTER_VALUES");
        let mut r = req(&BASE);
        r.filters.as_mut().unwrap()[0].values = Some(vec!["Proposer".into(), "Acceptor".into()]);
        assert_eq!(reason(r), "INVALID_FILTER_VALUES");
        for n in [0, 51] {
            assert_eq!(reason(SearchRequest { max_results: Some(n), ..req(&BASE) }), "INVALID_MAX_RESULTS");
        }
        let sorted = |by: &str, order: &str, party: &str| SearchRequest {
            sort: Some(Sort { sort_by: Some(by.into()), sort_order: Some(order.into()) }),
            ..req(&[("PartyType", party), BASE[1]])
        };
        assert_eq!(reason(sorted("Price", "ASCENDING", "Proposer")), "INVALID_SORT_BY");
        assert_eq!(reason(sorted("StartTime", "ASCENDING", "Acceptor")), "INVALID_SORT_BY");
        assert_eq!(reason(sorted("EndTime", "UP", "Proposer")), "INVALID_SORT_ORDER");
        assert!(search(&d, SELLER, &sorted("StartTime", "DESCENDING", "Proposer")).is_ok());
    }

    #[test]
    fn request_parsing() {
        let r = parse_search_request(&json!({
            "catalog": "AWSMarketplace",
            "filters": [{"name": "PartyType", "values": ["Proposer"]}],
            "sort": {"sortBy": "EndTime", "sortOrder": "DESCENDING"},
            "maxResults": 5,
            "nextToken": "abc",
            "extra": true
        }))
        .unwrap();
        assert_eq!(r.max_results, Some(5));
        assert_eq!(r.filters.unwrap()[0].values.as_deref(), Some(&["Proposer".to_string()][..]));
        for bad in [
            json!([]),
            json!({"filters": {}}),
            json!({"maxResults": "5"}),
            json!({"maxResults": 1.5}),
            json!({"catalog": 1}),
            json!({"filters": [{"values": [1]}]}),
        ] {
            assert_eq!(parse_search_request(&bad).unwrap_err().error_type, "SerializationException", "{bad}");
        }
    }

    #[test]
    fn documents_in_both_protocols() {
        let mut a = data().remove(0);
        a.acceptance_time = datetime!(2024-01-15 10:00:00.250 UTC);
        a.offer_set_id = Some("offerset-1".into());
        let doc = page_document(&SearchPage { agreements: vec![a], next_token: Some("tok".into()) });
        let j = doc.to_json();
        let s = &j["agreementViewSummaries"][0];
        assert_eq!(s["acceptanceTime"], json!(1705312800.25));
        assert_eq!(s["endTime"], json!(1924905600));
        assert_eq!(s["acceptor"], json!({"accountId": "000011112222"}));
        assert_eq!(s["proposalSummary"]["resources"], json!([{"id": "prod-a", "type": "AmiProduct"}]));
        assert_eq!(s["proposalSummary"]["offerSetId"], json!("offerset-1"));
        assert_eq!(j["nextToken"], json!("tok"));
        // CBOR: same document, timestamps tagged; decoding it back gives the JSON form.
        let cbor = doc.to_cbor();
        assert_eq!(cbor_to_json(&cbor).unwrap(), j);
        let tag_1_int = [0xc1, 0x1a]; // tag 1, then a 32-bit unsigned integer
        assert!(cbor.windows(2).any(|w| w == tag_1_int), "endTime as tag 1 + integer");
        assert!(cbor.windows(2).any(|w| w == [0xc1, 0xfb]), "acceptanceTime as tag 1 + float64");
    }

    #[test]
    fn cbor_input_forms() {
        // indefinite map and array, indefinite text: what aws-smithy-cbor's encoder writes.
        let mut e = minicbor::Encoder::new(Vec::new());
        e.begin_map().unwrap().str("catalog").unwrap().str("AWSMarketplace").unwrap();
        e.str("filters").unwrap().begin_array().unwrap();
        e.begin_map()
            .unwrap()
            .str("name")
            .unwrap()
            .begin_str()
            .unwrap()
            .str("Party")
            .unwrap()
            .str("Type")
            .unwrap()
            .end()
            .unwrap();
        e.str("values").unwrap().array(1).unwrap().str("Proposer").unwrap().end().unwrap();
        e.end().unwrap();
        e.str("maxResults").unwrap().i64(3).unwrap().end().unwrap();
        let v = cbor_to_json(&e.into_writer()).unwrap();
        assert_eq!(
            v,
            json!({"catalog": "AWSMarketplace", "filters": [{"name": "PartyType", "values": ["Proposer"]}], "maxResults": 3})
        );
        assert!(cbor_to_json(&[0xa1, 0x01, 0x02]).is_err(), "integer map key");
        assert!(cbor_to_json(&[0xa0, 0x00]).is_err(), "trailing bytes");
        assert!(cbor_to_json(&[0x44, 1, 2, 3, 4]).is_err(), "byte string");
    }

    #[test]
    fn error_documents() {
        let e = AgreementsError::validation("INVALID_MAX_RESULTS", "maxResults", "bad");
        let j = e.document("r-1", false).to_json();
        assert_eq!(
            j,
            json!({"__type": "ValidationException", "message": "bad", "requestId": "r-1", "reason": "INVALID_MAX_RESULTS", "fields": [{"name": "maxResults", "message": "bad"}]})
        );
        let c = cbor_to_json(&e.document("r-1", true).to_cbor()).unwrap();
        assert_eq!(c["__type"], json!("com.amazonaws.marketplaceagreement#ValidationException"));
        assert_eq!(AgreementsError::serialization("x").wire_type(true), "SerializationException");
        assert_eq!(AgreementsError::default_status("ThrottlingException"), 429);
        assert_eq!(AgreementsError::default_status("InternalServerException"), 500);
        assert_eq!(AgreementsError::default_status("AccessDeniedException"), 403);
    }

    #[test]
    fn admin_input_defaults() {
        let input: AgreementInput = serde_json::from_value(json!({
            "acceptorAccountId": "000011112222",
            "resources": [{"id": "prod-x", "type": "SaaSProduct"}],
            "endTime": "2031-01-01T00:00:00Z"
        }))
        .unwrap();
        let a = input.into_agreement(SELLER).unwrap();
        assert_eq!(
            (a.proposer_account_id.as_str(), a.status.as_str(), a.agreement_type.as_str()),
            (SELLER, "ACTIVE", PURCHASE_AGREEMENT)
        );
        assert!(a.agreement_id.starts_with("agmt-") && a.agreement_id.len() == 30, "{}", a.agreement_id);
        assert_eq!(a.end_time, Some(datetime!(2031-01-01 00:00 UTC)));
        assert!(AgreementInput::default().into_agreement(SELLER).is_err());
        let bad: AgreementInput = serde_json::from_value(
            json!({"acceptorAccountId": "1", "resources": [{"id": "p", "type": "AmiProduct"}], "status": "NOPE"}),
        )
        .unwrap();
        assert!(bad.into_agreement(SELLER).is_err());
    }
}
