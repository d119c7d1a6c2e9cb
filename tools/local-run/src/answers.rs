//! Reading the API's answers: the export's progress in `GET /sync`, the
//! summary, and the checks of the example queries against the guide's test
//! data set.

use serde_json::Value;

/// The guide's account with two contacts on one product.
pub const EXAMPLE_ACCOUNT: &str = "000011112222";
/// Its product.
pub const EXAMPLE_PRODUCT: &str = "4gzp2symm0v9zidfrn9f854w6";
/// A contact of another account (111122223333), looked up by email.
pub const EXAMPLE_EMAIL: &str = "ravis@example.com";
/// The guide's products with their Agreement-API ids: the local run's
/// `SELLER_PRODUCTS` (the stand-in's seed data uses the same ids).
pub const SELLER_PRODUCTS: &str = "4gzp2symm0v9zidfrn9f854w6=prod-4gzp2symm0v9z,\
c0dcyyqczbk5uc62acmp6450t=prod-c0dcyyqczbk5,3qtu9xydxldrj8c5jyldy1lqo=prod-3qtu9xydxldr";
/// The stand-in's running instance of [`EXAMPLE_PRODUCT`], owned by [`EXAMPLE_ACCOUNT`].
pub const EXAMPLE_INSTANCE: &str = "i-0a1b2c3d4e5f60718";
/// The stand-in's instance of [`EXAMPLE_PRODUCT`] owned by another account (444455556666).
pub const OTHER_OWNERS_INSTANCE: &str = "i-0c3d4e5f607182930";
/// An account whose only agreement has expired (and which has a PSC contact).
pub const EXPIRED_ACCOUNT: &str = "111122223333";
/// The given names of the guide's live contacts of [`EXAMPLE_ACCOUNT`] /
/// [`EXAMPLE_PRODUCT`] (Angela's later CREATE wins over her earlier DELETE).
pub const EXPECTED_CONTACTS: [&str; 2] = ["Angela", "Eugene"];

/// What the first export's events add up to: the guide's five contacts
/// (its UPDATE of a contact the table never held creates it; its stale
/// DELETE writes nothing, so it is no event) and the export's end.
pub const EXPECTED_EVENTS: &str = "5 PSC Contact Created, 1 PSC Export Finished";
/// The contact the local run erases to show an opt-out (Nathan, of account
/// 333344445555: no example query reads it).
pub const OPT_OUT_CONTACT: &str = "91c72621-6cf4-4d69-8ebe-073ff4f8ab9e";
/// The only members a `PSC Contact Deleted` detail may have: identifiers.
pub const DELETED_DETAIL_MEMBERS: [&str; 10] = [
    "schemaVersion",
    "eventId",
    "customerGuid",
    "awsAccountId",
    "productId",
    "productCode",
    "subscriptionGuid",
    "operationTime",
    "exportRequestId",
    "removedFromTable",
];

/// The opt-out's `PSC Contact Deleted` detail: about [`OPT_OUT_CONTACT`],
/// identifiers only.
pub fn check_deleted_detail(detail: &Value) -> Result<(), String> {
    if detail.get("customerGuid").and_then(Value::as_str) != Some(OPT_OUT_CONTACT) {
        return Err(format!("the PSC Contact Deleted event is not about {OPT_OUT_CONTACT}"));
    }
    let extra: Vec<&String> = detail
        .as_object()
        .map(|o| o.keys().filter(|k| !DELETED_DETAIL_MEMBERS.contains(&k.as_str())).collect())
        .unwrap_or_default();
    if !extra.is_empty() {
        return Err(format!("the PSC Contact Deleted event carries more than identifiers: {extra:?}"));
    }
    Ok(())
}

/// One export as `GET /sync` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportView {
    pub request_id: String,
    pub status: String,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub skipped_stale: u64,
    pub rejected: u64,
    pub coverage: Option<(String, String)>,
    pub rejects_report: Option<String>,
    pub message: Option<String>,
}

impl ExportView {
    /// APPLIED, PARTIAL or FAILED: nothing more will happen to it.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "APPLIED" | "PARTIAL" | "FAILED")
    }

    /// Rows written to the table (created + updated + deleted).
    pub fn applied(&self) -> u64 {
        self.created + self.updated + self.deleted
    }
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The export `request_id` in a `GET /sync` answer.
pub fn find_export(sync: &Value, request_id: &str) -> Option<ExportView> {
    let e = sync
        .get("exports")?
        .as_array()?
        .iter()
        .find(|e| e.get("requestId").and_then(Value::as_str) == Some(request_id))?;
    let counts = e.get("counts").cloned().unwrap_or(Value::Null);
    let coverage = e.get("coverage").and_then(|c| Some((str_of(c, "start")?, str_of(c, "end")?)));
    Some(ExportView {
        request_id: request_id.to_owned(),
        status: str_of(e, "status").unwrap_or_default(),
        created: u64_of(&counts, "created"),
        updated: u64_of(&counts, "updated"),
        deleted: u64_of(&counts, "deleted"),
        skipped_stale: u64_of(&counts, "skippedStale"),
        rejected: u64_of(&counts, "rejected"),
        coverage,
        rejects_report: str_of(e, "rejectsReport"),
        message: str_of(e, "message"),
    })
}

/// The watermark of a `GET /sync` answer (`None` while null).
pub fn watermark(sync: &Value) -> Option<String> {
    str_of(sync, "watermark")
}

/// The sorted given names of the `contacts` of an answer.
pub fn contact_names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer
        .get("contacts")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| str_of(c, "givenName")).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn expect_eligible(answer: &Value, what: &str) -> Result<(), String> {
    match answer.get("eligible").and_then(Value::as_bool) {
        Some(true) => Ok(()),
        Some(false) => Err(format!("{what}: eligible is false, expected true")),
        None => Err(format!("{what}: no boolean 'eligible' in the answer")),
    }
}

fn expect_contacts(answer: &Value, what: &str, expected: &[&str]) -> Result<(), String> {
    let names = contact_names(answer);
    if names.iter().map(String::as_str).eq(expected.iter().copied()) {
        Ok(())
    } else {
        Err(format!("{what}: contacts {names:?}, expected {expected:?}"))
    }
}

/// `GET /accounts/000011112222`: eligible, Eugene and Angela, on product
/// 4gzp2symm0v9zidfrn9f854w6.
pub fn check_account(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}");
    if str_of(answer, "awsAccountId").as_deref() != Some(EXAMPLE_ACCOUNT) {
        return Err(format!("{what}: awsAccountId is not {EXAMPLE_ACCOUNT}"));
    }
    expect_eligible(answer, &what)?;
    expect_contacts(answer, &what, &EXPECTED_CONTACTS)?;
    let on_product = answer
        .get("contacts")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().all(|c| str_of(c, "productCode").as_deref() == Some(EXAMPLE_PRODUCT)));
    if !on_product {
        return Err(format!("{what}: not every contact is on product {EXAMPLE_PRODUCT}"));
    }
    expect_verdicts(answer, &what, "eligible", "eligible")?;
    let active = answer.get("agreements").and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|a| {
            a.get("active") == Some(&Value::Bool(true)) && str_of(a, "productCode").as_deref() == Some(EXAMPLE_PRODUCT)
        })
    });
    if !active {
        return Err(format!("{what}: no ACTIVE agreement for {EXAMPLE_PRODUCT} listed"));
    }
    Ok(())
}

/// The verdicts of the agreements and the PSC contacts.
fn expect_verdicts(answer: &Value, what: &str, agreements: &str, psc: &str) -> Result<(), String> {
    let verdict = |source: &str| {
        answer.get("sources").and_then(|s| s.get(source)).and_then(|s| str_of(s, "verdict")).unwrap_or_default()
    };
    let got = (verdict("agreements"), verdict("pscContacts"));
    if got.0 == agreements && got.1 == psc {
        Ok(())
    } else {
        Err(format!("{what}: verdicts agreements={}, pscContacts={}; expected {agreements}, {psc}", got.0, got.1))
    }
}

/// `GET /accounts/111122223333`: eligible by its PSC contact, although its
/// only agreement has expired.
pub fn check_expired(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXPIRED_ACCOUNT}");
    expect_eligible(answer, &what)?;
    expect_verdicts(answer, &what, "notEligible", "eligible")?;
    let status = answer.get("agreements").and_then(|a| a.get(0)).and_then(|a| str_of(a, "status"));
    if status.as_deref() != Some("EXPIRED") {
        return Err(format!("{what}: agreement status {status:?}, expected EXPIRED"));
    }
    Ok(())
}

/// `GET /accounts/000011112222/instances/i-0a1b2c3d4e5f60718?productCode=...`:
/// runs the product, owned by the account, eligible.
pub fn check_instance(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}/instances/{EXAMPLE_INSTANCE}");
    expect_eligible(answer, &what)?;
    if str_of(answer, "ownerId").as_deref() != Some(EXAMPLE_ACCOUNT) {
        return Err(format!("{what}: ownerId is not {EXAMPLE_ACCOUNT}"));
    }
    Ok(())
}

/// `GET /accounts/000011112222/instances/i-0c3d4e5f607182930?productCode=...`:
/// runs the product, but another account owns it: not eligible.
pub fn check_other_owner(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}/instances/{OTHER_OWNERS_INSTANCE}");
    let flags = (answer.get("productRunning"), answer.get("ownerMatches"), answer.get("eligible"));
    if flags == (Some(&Value::Bool(true)), Some(&Value::Bool(false)), Some(&Value::Bool(false))) {
        Ok(())
    } else {
        Err(format!("{what}: expected productRunning, not ownerMatches, not eligible; got {flags:?}"))
    }
}

/// `GET /accounts/000011112222/products/4gzp2symm0v9zidfrn9f854w6`:
/// eligible, Eugene and Angela.
pub fn check_product(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}/products/{EXAMPLE_PRODUCT}");
    if str_of(answer, "productCode").as_deref() != Some(EXAMPLE_PRODUCT) {
        return Err(format!("{what}: productCode is not {EXAMPLE_PRODUCT}"));
    }
    expect_eligible(answer, &what)?;
    expect_contacts(answer, &what, &EXPECTED_CONTACTS)
}

/// `GET /contacts?email=ravis@example.com`: Ravi Smith of account 111122223333.
pub fn check_email(answer: &Value) -> Result<(), String> {
    let what = format!("GET /contacts?email={EXAMPLE_EMAIL}");
    expect_contacts(answer, &what, &["Ravi"])?;
    let account = answer.get("contacts").and_then(|c| c.get(0)).and_then(|c| str_of(c, "awsAccountId"));
    if account.as_deref() != Some("111122223333") {
        return Err(format!("{what}: awsAccountId {account:?}, expected 111122223333"));
    }
    Ok(())
}

/// A one-line digest of an answer, for the progress output.
pub fn digest(answer: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(e) = answer.get("eligible").and_then(Value::as_bool) {
        parts.push(format!("eligible={e}"));
    }
    if answer.get("contacts").is_some() {
        parts.push(format!("contacts={}", contact_names(answer).join(",")));
    }
    if let Some(w) = answer.get("freshness").and_then(|f| f.get("watermark")).and_then(Value::as_str) {
        parts.push(format!("watermark={w}"));
    }
    if let Some(code) = answer.get("error").and_then(|e| e.get("code")).and_then(Value::as_str) {
        parts.push(format!("error={code}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contact(name: &str, account: &str, product: &str) -> Value {
        json!({"givenName": name, "awsAccountId": account, "productCode": product})
    }

    #[test]
    fn finds_an_export_and_its_counts() {
        let sync = json!({
            "watermark": "2026-11-20T17:00:00.000Z",
            "exports": [
                {"requestId": "other", "status": "APPLIED", "counts": {}},
                {"requestId": "r1", "status": "PARTIAL",
                 "coverage": {"start": "2010-01-01T00:00:00.000Z", "end": "2026-11-20T17:00:00.000Z"},
                 "counts": {"created": 4, "updated": 1, "deleted": 0, "skippedStale": 1, "rejected": 2},
                 "rejectsReport": "s3://b/k"}
            ]
        });
        let e = find_export(&sync, "r1").unwrap();
        assert_eq!(e.status, "PARTIAL");
        assert!(e.is_final());
        assert_eq!((e.applied(), e.skipped_stale, e.rejected), (5, 1, 2));
        assert_eq!(e.rejects_report.as_deref(), Some("s3://b/k"));
        assert_eq!(e.coverage.unwrap().0, "2010-01-01T00:00:00.000Z");
        assert_eq!(find_export(&sync, "nope"), None);
        assert_eq!(watermark(&sync).as_deref(), Some("2026-11-20T17:00:00.000Z"));
        assert_eq!(watermark(&json!({"watermark": null})), None);
        let requested = find_export(&json!({"exports": [{"requestId": "r", "status": "REQUESTED"}]}), "r").unwrap();
        assert!(!requested.is_final());
    }

    #[test]
    fn account_check_wants_eugene_and_angela_eligible_on_the_product() {
        let good = json!({
            "awsAccountId": EXAMPLE_ACCOUNT, "eligible": true,
            "sources": {"agreements": {"verdict": "eligible"}, "pscContacts": {"verdict": "eligible"}},
            "agreements": [{"status": "ACTIVE", "active": true, "productCode": EXAMPLE_PRODUCT}],
            "contacts": [contact("Eugene", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT), contact("Angela", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT)]
        });
        assert_eq!(check_account(&good), Ok(()));
        let mut no_agreement = good.clone();
        no_agreement["agreements"] = json!([]);
        assert!(check_account(&no_agreement).unwrap_err().contains("no ACTIVE agreement"));
        let mut unavailable = good.clone();
        unavailable["sources"]["agreements"]["verdict"] = json!("unavailable");
        assert!(check_account(&unavailable).unwrap_err().contains("agreements=unavailable"));
        let mut not_eligible = good.clone();
        not_eligible["eligible"] = json!(false);
        assert!(check_account(&not_eligible).unwrap_err().contains("eligible is false"));
        let mut one = good.clone();
        one["contacts"] = json!([contact("Eugene", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT)]);
        assert!(check_account(&one).unwrap_err().contains("expected [\"Angela\", \"Eugene\"]"));
        let mut other_product = good.clone();
        other_product["contacts"][0]["productCode"] = json!("x");
        assert!(check_account(&other_product).is_err());
        assert!(check_account(&json!({"error": {"code": "NotFound"}})).is_err());
    }

    #[test]
    fn product_and_email_checks() {
        let product = json!({
            "awsAccountId": EXAMPLE_ACCOUNT, "productCode": EXAMPLE_PRODUCT, "eligible": true,
            "contacts": [contact("Angela", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT), contact("Eugene", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT)]
        });
        assert_eq!(check_product(&product), Ok(()));
        assert!(check_product(&json!({"productCode": EXAMPLE_PRODUCT, "eligible": false})).is_err());
        let email = json!({"contacts": [contact("Ravi", "111122223333", "c0dcyyqczbk5uc62acmp6450t")]});
        assert_eq!(check_email(&email), Ok(()));
        assert!(check_email(&json!({"contacts": []})).is_err());
        assert_eq!(digest(&product), "eligible=true contacts=Angela,Eugene");
    }

    #[test]
    fn live_check_answers() {
        let expired = json!({
            "eligible": true,
            "sources": {"agreements": {"verdict": "notEligible"}, "pscContacts": {"verdict": "eligible"}},
            "agreements": [{"status": "EXPIRED", "active": false}]
        });
        assert_eq!(check_expired(&expired), Ok(()));
        let mut active = expired.clone();
        active["agreements"][0]["status"] = json!("ACTIVE");
        assert!(check_expired(&active).unwrap_err().contains("expected EXPIRED"));

        let mine = json!({"eligible": true, "ownerId": EXAMPLE_ACCOUNT, "productRunning": true, "ownerMatches": true});
        assert_eq!(check_instance(&mine), Ok(()));
        assert!(check_instance(&json!({"eligible": true, "ownerId": "444455556666"})).is_err());
        let theirs =
            json!({"eligible": false, "ownerId": "444455556666", "productRunning": true, "ownerMatches": false});
        assert_eq!(check_other_owner(&theirs), Ok(()));
        assert!(check_other_owner(&mine).is_err());
    }

    #[test]
    fn a_deletion_event_passes_with_identifiers_only() {
        let ok = json!({"schemaVersion": 1, "eventId": "e", "customerGuid": OPT_OUT_CONTACT, "awsAccountId": "333344445555",
                        "removedFromTable": false});
        assert_eq!(check_deleted_detail(&ok), Ok(()));
        let mut leaky = ok.clone();
        leaky["contact"] = json!({"email": "x"});
        assert_eq!(
            check_deleted_detail(&leaky).unwrap_err(),
            "the PSC Contact Deleted event carries more than identifiers: [\"contact\"]"
        );
        let other = json!({"customerGuid": "ba1d75cc-d984-4f07-bb14-ae04b952afbc"});
        assert!(check_deleted_detail(&other).unwrap_err().contains("is not about 91c72621"));
    }
}
