//! The AWS Marketplace Agreement Service's `SearchAgreements` as psc-bridge calls it: the
//! agreement model, the request (Smithy RPC v2 CBOR, read and written with serde through
//! `ciborium`), the filters psc-bridge sends, pagination, and the service's error documents.

use std::collections::BTreeMap;

use ciborium::Value;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::record::timestamp_serde;

/// The service shape name, the service part of the CBOR path.
pub const SERVICE_SHAPE: &str = "AWSMPCommerceService_v20200301";
/// The one emulated operation.
pub const SEARCH_AGREEMENTS: &str = "SearchAgreements";
/// SigV4 signing name (`aws.auth#sigv4` name in the model; the SDK's `signing_name()`).
pub const SIGNING_NAME: &str = "aws-marketplace";
/// Content type of RPC v2 CBOR.
pub const CBOR_CONTENT_TYPE: &str = "application/cbor";
/// The `smithy-protocol` header's value for RPC v2 CBOR.
pub const SMITHY_PROTOCOL: &str = "rpc-v2-cbor";
/// The only catalog.
pub const CATALOG: &str = "AWSMarketplace";
/// `maxResults` range (the model's `MaxResults`) and the default page size.
pub const MAX_RESULTS: i64 = 50;
/// Agreement type of purchase agreements.
pub const PURCHASE_AGREEMENT: &str = "PurchaseAgreement";
/// Agreement statuses the model's enum has.
pub const STATUSES: [&str; 9] =
    ["ACTIVE", "ARCHIVED", "CANCELLED", "EXPIRED", "RENEWED", "REPLACED", "ROLLED_BACK", "SUPERSEDED", "TERMINATED"];
/// The filters psc-bridge sends, the ones emulated. Others are `UNSUPPORTED_FILTERS`.
pub const FILTERS: [&str; 3] = ["PartyType", "AgreementType", "AcceptorAccountId"];
/// The modelled error shapes of the service (`__type` prefixed with the namespace in CBOR).
const MODELLED_ERRORS: [&str; 7] = [
    "ValidationException",
    "AccessDeniedException",
    "ThrottlingException",
    "InternalServerException",
    "ResourceNotFoundException",
    "ConflictException",
    "ServiceQuotaExceededException",
];

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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

fn random_id(prefix: &str, len: usize) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &hex[..len])
}

impl Agreement {
    /// What `POST /_admin/agreements` takes: an agreement whose fields are optional (absent or
    /// null) except `acceptorAccountId` and `resources` (defaults: a new `agmt-` id,
    /// `PurchaseAgreement`, `seller_account_id` as proposer, times now, no end time, `ACTIVE`, a
    /// new `offer-` id). `Err` names what is missing or invalid.
    pub fn from_admin_json(mut value: serde_json::Value, seller_account_id: &str) -> Result<Agreement, String> {
        use serde_json::json;
        let fields = value.as_object_mut().ok_or("an agreement is a JSON object")?;
        fields.retain(|_, v| !v.is_null());
        let now = crate::record::format_timestamp(crate::record::truncate_to_millis(OffsetDateTime::now_utc()));
        let accepted = fields.get("acceptanceTime").cloned().unwrap_or(json!(now));
        let defaults = [
            ("agreementId", json!(random_id("agmt-", 25))),
            ("agreementType", json!(PURCHASE_AGREEMENT)),
            ("proposerAccountId", json!(seller_account_id)),
            ("acceptanceTime", accepted.clone()),
            ("startTime", accepted.clone()),
            ("lastUpdateTime", accepted),
            ("status", json!("ACTIVE")),
            ("offerId", json!(random_id("offer-", 13))),
        ];
        for (name, default) in defaults {
            fields.entry(name).or_insert(default);
        }
        let agreement: Agreement = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if agreement.resources.is_empty() {
            return Err("resources (at least one) is required".into());
        }
        if !STATUSES.contains(&agreement.status.as_str()) {
            return Err(format!("status must be one of {}", STATUSES.join(", ")));
        }
        Ok(agreement)
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
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error_type} ({status}): {message}")]
pub struct AgreementsError {
    pub status: u16,
    pub error_type: String,
    pub message: String,
    pub reason: Option<String>,
    pub fields: Vec<ValidationField>,
}

/// The error document on the wire.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDocument<'a> {
    #[serde(rename = "__type")]
    error_type: String,
    message: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [ValidationField],
}

impl AgreementsError {
    pub fn new(status: u16, error_type: impl Into<String>, message: impl Into<String>) -> Self {
        AgreementsError { status, error_type: error_type.into(), message: message.into(), reason: None, fields: vec![] }
    }

    /// The model's HTTP status of an error type: `AccessDeniedException` 403,
    /// `ResourceNotFoundException` 404, `ConflictException` 409, `ServiceQuotaExceededException`
    /// 402, `ThrottlingException` 429, `InternalServerException` 500; others 400.
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
            reason: Some(reason.into()),
            fields: vec![ValidationField { name: field.into(), message: message.clone() }],
            ..Self::new(400, "ValidationException", message)
        }
    }

    /// 400 `SerializationException`: a body that is not the operation's input.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    /// The `__type` on the wire: the absolute shape id for modelled errors, the bare name
    /// otherwise.
    pub fn wire_type(&self) -> String {
        if MODELLED_ERRORS.contains(&self.error_type.as_str()) {
            format!("com.amazonaws.marketplaceagreement#{}", self.error_type)
        } else {
            self.error_type.clone()
        }
    }

    /// The CBOR error document.
    pub fn to_cbor(&self, request_id: &str) -> Vec<u8> {
        to_cbor(&ErrorDocument {
            error_type: self.wire_type(),
            message: &self.message,
            request_id,
            reason: self.reason.as_deref(),
            fields: &self.fields,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Request.

/// One filter of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub name: Option<String>,
    pub values: Option<Vec<String>>,
}

/// A `SearchAgreements` request as received (types checked, values not validated yet); unknown
/// members are ignored.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub catalog: Option<String>,
    pub filters: Option<Vec<Filter>>,
    /// Not emulated: a request with a sort is answered `INVALID_SORT_BY`.
    pub sort: Option<serde_json::Value>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

/// A CBOR document in its JSON form (text → string, numbers → numbers, tags → their content),
/// for the request log and [`parse_search_request`].
pub fn cbor_to_json(bytes: &[u8]) -> Result<serde_json::Value, String> {
    fn untag(v: ciborium::Value) -> ciborium::Value {
        use ciborium::Value as V;
        match v {
            V::Tag(_, inner) => untag(*inner),
            V::Array(items) => V::Array(items.into_iter().map(untag).collect()),
            V::Map(entries) => V::Map(entries.into_iter().map(|(k, v)| (k, untag(v))).collect()),
            other => other,
        }
    }
    let value: ciborium::Value = ciborium::de::from_reader(bytes).map_err(|e| e.to_string())?;
    untag(value).deserialized().map_err(|e| e.to_string())
}

/// Reads the request from its JSON form; wrong types are `SerializationException`s.
pub fn parse_search_request(value: &serde_json::Value) -> Result<SearchRequest, AgreementsError> {
    SearchRequest::deserialize(value)
        .map_err(|e| AgreementsError::serialization(format!("Bad SearchAgreements input: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Search.

/// One page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    pub agreements: Vec<Agreement>,
    pub next_token: Option<String>,
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The opaque `nextToken` for `offset` into the results of the search `fingerprint` identifies.
fn encode_token(offset: usize, fingerprint: u64) -> String {
    format!("aws-standin:v1:{offset}:{fingerprint:016x}").bytes().map(|b| format!("{b:02x}")).collect()
}

/// The offset of a token made by [`encode_token`] for the same search; `None` for anything else.
fn decode_token(token: &str, fingerprint: u64) -> Option<usize> {
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let (offset, fp) = text.strip_prefix("aws-standin:v1:")?.split_once(':')?;
    (u64::from_str_radix(fp, 16).ok()? == fingerprint).then_some(())?;
    offset.parse().ok()
}

/// Validates the request and runs it over `agreements` as the seller `seller_account_id`, the
/// way psc-bridge asks: `PartyType=Proposer` (the agreements the seller proposed), an
/// `AgreementType`, optionally an `AcceptorAccountId`. Results come by end time ascending (no end
/// time last; ties by agreement id) in pages of `maxResults` (default and maximum 50).
pub fn search(
    agreements: &[Agreement],
    seller_account_id: &str,
    req: &SearchRequest,
) -> Result<SearchPage, AgreementsError> {
    use AgreementsError as E;
    if req.catalog.as_deref() != Some(CATALOG) {
        return Err(E::validation("INVALID_CATALOG", "catalog", format!("catalog is required and must be {CATALOG}")));
    }
    if req.sort.as_ref().is_some_and(|s| !s.is_null()) {
        return Err(E::validation("INVALID_SORT_BY", "sort", "sort is not emulated (results come by EndTime)"));
    }
    let mut by_name: BTreeMap<&str, &str> = BTreeMap::new();
    for f in req.filters.as_deref().unwrap_or_default() {
        let Some(name) = f.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(E::validation("MISSING_FILTER_NAME", "filters", "Every filter needs a name"));
        };
        let [value] = f.values.as_deref().unwrap_or_default() else {
            return Err(E::validation("INVALID_FILTER_VALUES", name, format!("Filter {name} takes exactly one value")));
        };
        if !FILTERS.contains(&name) {
            let message = format!("Filter {name} is not emulated by aws-standin (only {})", FILTERS.join(", "));
            return Err(E::validation("UNSUPPORTED_FILTERS", name, message));
        }
        if by_name.insert(name, value).is_some() {
            return Err(E::validation("INVALID_FILTERS", name, format!("Filter {name} is given more than once")));
        }
    }
    match by_name.get("PartyType") {
        Some(&"Proposer") => {}
        Some(&"Acceptor") => {
            return Err(E::validation("UNSUPPORTED_FILTERS", "PartyType", "PartyType Acceptor is not emulated"));
        }
        Some(other) => {
            return Err(E::validation("INVALID_PARTY_TYPE", "PartyType", format!("Invalid PartyType '{other}'")));
        }
        None => return Err(E::validation("INVALID_FILTERS", "PartyType", "The PartyType filter is required")),
    }
    let Some(&agreement_type) = by_name.get("AgreementType") else {
        return Err(E::validation("INVALID_FILTERS", "AgreementType", "The AgreementType filter is required"));
    };
    let max_results = req.max_results.unwrap_or(MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max_results) {
        let message = format!("maxResults must be between 1 and {MAX_RESULTS}, not {max_results}");
        return Err(E::validation("INVALID_MAX_RESULTS", "maxResults", message));
    }
    // The token is bound to the search (its filters and the seller; not the page size).
    let fingerprint = fnv1a(&format!("{by_name:?}|{seller_account_id}"));
    let offset = match req.next_token.as_deref() {
        None | Some("") => 0,
        Some(token) => decode_token(token, fingerprint).ok_or_else(|| {
            E::validation("INVALID_NEXT_TOKEN", "nextToken", "The nextToken is invalid or belongs to another search")
        })?,
    };

    let acceptor = by_name.get("AcceptorAccountId");
    let mut hits: Vec<&Agreement> = agreements
        .iter()
        .filter(|a| {
            a.proposer_account_id == seller_account_id
                && a.agreement_type == agreement_type
                && acceptor.is_none_or(|v| *v == a.acceptor_account_id)
        })
        .collect();
    hits.sort_by_key(|&a| (a.end_time.is_none(), a.end_time, &a.agreement_id));
    let end = (offset + max_results as usize).min(hits.len());
    let page = hits.get(offset.min(end)..end).unwrap_or_default().iter().map(|a| (*a).clone()).collect();
    let next_token = (end < hits.len()).then(|| encode_token(end, fingerprint));
    Ok(SearchPage { agreements: page, next_token })
}

// ---------------------------------------------------------------------------------------------
// The answer.

fn to_cbor(value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// A timestamp as RPC v2 CBOR writes it: tag 1 over epoch seconds, an integer, or a float when
/// there are milliseconds.
fn epoch(t: OffsetDateTime) -> Value {
    let secs = match t.millisecond() {
        0 => Value::from(t.unix_timestamp()),
        ms => Value::from(t.unix_timestamp() as f64 + f64::from(ms) / 1000.0),
    };
    Value::Tag(1, Box::new(secs))
}

/// A CBOR map of the fields that are there.
fn map(fields: impl IntoIterator<Item = (&'static str, Option<Value>)>) -> Value {
    Value::Map(fields.into_iter().filter_map(|(k, v)| Some((k.into(), v?))).collect())
}

/// One `AgreementViewSummary`.
fn summary(a: &Agreement) -> Value {
    let text = |s: &str| Some(Value::from(s));
    let party = |id: &str| Some(map([("accountId", text(id))]));
    let resources = a.resources.iter().map(|r| map([("id", text(&r.id)), ("type", text(&r.resource_type))]));
    map([
        ("agreementId", text(&a.agreement_id)),
        ("acceptanceTime", Some(epoch(a.acceptance_time))),
        ("startTime", Some(epoch(a.start_time))),
        ("endTime", a.end_time.map(epoch)),
        ("lastUpdateTime", Some(epoch(a.last_update_time))),
        ("agreementType", text(&a.agreement_type)),
        ("acceptor", party(&a.acceptor_account_id)),
        ("proposer", party(&a.proposer_account_id)),
        (
            "proposalSummary",
            Some(map([
                ("resources", Some(Value::Array(resources.collect()))),
                ("offerId", text(&a.offer_id)),
                ("offerSetId", a.offer_set_id.as_deref().and_then(text)),
            ])),
        ),
        ("status", text(&a.status)),
    ])
}

impl SearchPage {
    /// The `SearchAgreements` output document in CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        to_cbor(&map([
            ("agreementViewSummaries", Some(Value::Array(self.agreements.iter().map(summary).collect()))),
            ("nextToken", self.next_token.as_deref().map(Value::from)),
        ]))
    }
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
        let page = search(&data(), SELLER, &req(&[BASE[0], BASE[1], ("AcceptorAccountId", "000011112222")])).unwrap();
        assert_eq!(ids(&page), ["a"]);
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
        let mut other = req(&[BASE[0], BASE[1], ("AcceptorAccountId", "000011112222")]);
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
        assert_eq!(reason(req(&[("PartyType", "Acceptor"), BASE[1]])), "UNSUPPORTED_FILTERS");
        assert_eq!(reason(req(&[BASE[0], BASE[1], ("Status", "ACTIVE")])), "UNSUPPORTED_FILTERS");
        assert_eq!(reason(req(&[BASE[0], BASE[1], BASE[1]])), "INVALID_FILTERS");
        assert_eq!(reason(SearchRequest { sort: Some(json!({"sortBy": "EndTime"})), ..req(&BASE) }), "INVALID_SORT_BY");
        let mut r = req(&BASE);
        r.filters.as_mut().unwrap()[0].values = Some(vec!["Proposer".into(), "Acceptor".into()]);
        assert_eq!(reason(r), "INVALID_FILTER_VALUES");
        for n in [0, 51] {
            assert_eq!(reason(SearchRequest { max_results: Some(n), ..req(&BASE) }), "INVALID_MAX_RESULTS");
        }
    }

    #[test]
    fn request_parsing() {
        let r = parse_search_request(&json!({
            "catalog": "AWSMarketplace",
            "filters": [{"name": "PartyType", "values": ["Proposer"]}],
            "maxResults": 5,
            "nextToken": "abc",
            "extra": true
        }))
        .unwrap();
        assert_eq!(r.max_results, Some(5));
        assert_eq!(r.filters.unwrap()[0].values.as_deref(), Some(&["Proposer".to_string()][..]));
        for bad in [json!([]), json!({"filters": {}}), json!({"maxResults": "5"}), json!({"catalog": 1})] {
            assert_eq!(parse_search_request(&bad).unwrap_err().error_type, "SerializationException", "{bad}");
        }
    }

    #[test]
    fn cbor_documents() {
        let mut a = data().remove(0);
        a.acceptance_time = datetime!(2024-01-15 10:00:00.250 UTC);
        a.offer_set_id = Some("offerset-1".into());
        let cbor = SearchPage { agreements: vec![a], next_token: Some("tok".into()) }.to_cbor();
        let j = cbor_to_json(&cbor).unwrap();
        let s = &j["agreementViewSummaries"][0];
        assert_eq!(s["acceptanceTime"], json!(1705312800.25));
        assert_eq!(s["endTime"], json!(1924905600));
        assert_eq!(s["acceptor"], json!({"accountId": "000011112222"}));
        assert_eq!(s["proposalSummary"]["resources"], json!([{"id": "prod-a", "type": "AmiProduct"}]));
        assert_eq!(s["proposalSummary"]["offerSetId"], json!("offerset-1"));
        assert_eq!(j["nextToken"], json!("tok"));
        assert!(cbor.windows(2).any(|w| w == [0xc1, 0x1a]), "endTime as tag 1 + integer");
        assert!(cbor.windows(2).any(|w| w == [0xc1, 0xfb]), "acceptanceTime as tag 1 + float64");

        let e = AgreementsError::validation("INVALID_MAX_RESULTS", "maxResults", "bad");
        assert_eq!(
            cbor_to_json(&e.to_cbor("r-1")).unwrap(),
            json!({"__type": "com.amazonaws.marketplaceagreement#ValidationException", "message": "bad", "requestId": "r-1",
                "reason": "INVALID_MAX_RESULTS", "fields": [{"name": "maxResults", "message": "bad"}]})
        );
        assert_eq!(AgreementsError::serialization("x").wire_type(), "SerializationException");
        assert_eq!(AgreementsError::default_status("ThrottlingException"), 429);
    }

    #[test]
    fn admin_input_defaults() {
        let input = json!({
            "acceptorAccountId": "000011112222",
            "resources": [{"id": "prod-x", "type": "SaaSProduct"}],
            "endTime": "2031-01-01T00:00:00Z"
        });
        let a = Agreement::from_admin_json(input, SELLER).unwrap();
        assert_eq!(
            (a.proposer_account_id.as_str(), a.status.as_str(), a.agreement_type.as_str()),
            (SELLER, "ACTIVE", PURCHASE_AGREEMENT)
        );
        assert!(a.agreement_id.starts_with("agmt-") && a.agreement_id.len() == 30, "{}", a.agreement_id);
        assert_eq!(a.end_time, Some(datetime!(2031-01-01 00:00 UTC)));
        assert!(Agreement::from_admin_json(json!({}), SELLER).is_err());
        let bad = json!({"acceptorAccountId": "1", "resources": [{"id": "p", "type": "AmiProduct"}], "status": "NOPE"});
        assert!(Agreement::from_admin_json(bad, SELLER).is_err());
    }
}
