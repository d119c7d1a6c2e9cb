//! Reading the API's answers (as `psc_bridge::api`'s types): `GET /sync`
//! for the export's progress and the summary, and the checks of the example
//! queries against the guide's test data set.

use psc_bridge::api::{
    AccountProductView, AccountView, ContactBody, ContactsView, InstanceView, Sources, SyncView, Verdict,
};
use serde::de::DeserializeOwned;
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

/// An answer of the API as its contract type; what fails to read is a check failure.
fn read<T: DeserializeOwned>(answer: &Value, what: &str) -> Result<T, String> {
    T::deserialize(answer).map_err(|e| format!("{what}: not the answer the API's contract describes: {e}"))
}

/// A `GET /sync` answer.
pub fn sync_view(answer: Value) -> anyhow::Result<SyncView> {
    read(&answer, "GET /sync").map_err(anyhow::Error::msg)
}

/// The sorted given names of `contacts`.
pub fn contact_names(contacts: &[ContactBody]) -> Vec<String> {
    let mut names: Vec<String> = contacts.iter().map(|c| c.given_name.clone()).collect();
    names.sort();
    names
}

fn expect_eligible(eligible: bool, what: &str) -> Result<(), String> {
    if eligible { Ok(()) } else { Err(format!("{what}: eligible is false, expected true")) }
}

fn expect_contacts(contacts: &[ContactBody], what: &str, expected: &[&str]) -> Result<(), String> {
    let names = contact_names(contacts);
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
    let answer: AccountView = read(answer, &what)?;
    if answer.aws_account_id != EXAMPLE_ACCOUNT {
        return Err(format!("{what}: awsAccountId is not {EXAMPLE_ACCOUNT}"));
    }
    expect_eligible(answer.eligible, &what)?;
    expect_contacts(&answer.contacts, &what, &EXPECTED_CONTACTS)?;
    if !answer.contacts.iter().all(|c| c.product_code == EXAMPLE_PRODUCT) {
        return Err(format!("{what}: not every contact is on product {EXAMPLE_PRODUCT}"));
    }
    expect_verdicts(&answer.sources, &what, Verdict::Eligible, Verdict::Eligible)?;
    let active = answer.agreements.iter().any(|a| a.active && a.product_code.as_deref() == Some(EXAMPLE_PRODUCT));
    if !active {
        return Err(format!("{what}: no ACTIVE agreement for {EXAMPLE_PRODUCT} listed"));
    }
    Ok(())
}

/// The verdicts of the agreements and the PSC contacts.
fn expect_verdicts(sources: &Sources, what: &str, agreements: Verdict, psc: Verdict) -> Result<(), String> {
    let got = (sources.agreements.verdict, sources.psc_contacts.verdict);
    if got == (agreements, psc) {
        Ok(())
    } else {
        let name =
            |v: Verdict| serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Err(format!(
            "{what}: verdicts agreements={}, pscContacts={}; expected {}, {}",
            name(got.0),
            name(got.1),
            name(agreements),
            name(psc)
        ))
    }
}

/// `GET /accounts/111122223333`: eligible by its PSC contact, although its
/// only agreement has expired.
pub fn check_expired(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXPIRED_ACCOUNT}");
    let answer: AccountView = read(answer, &what)?;
    expect_eligible(answer.eligible, &what)?;
    expect_verdicts(&answer.sources, &what, Verdict::NotEligible, Verdict::Eligible)?;
    let status = answer.agreements.first().map(|a| a.status.as_str());
    if status != Some("EXPIRED") {
        return Err(format!("{what}: agreement status {status:?}, expected EXPIRED"));
    }
    Ok(())
}

/// `GET /accounts/000011112222/instances/i-0a1b2c3d4e5f60718?productCode=...`:
/// runs the product, owned by the account, eligible.
pub fn check_instance(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}/instances/{EXAMPLE_INSTANCE}");
    let answer: InstanceView = read(answer, &what)?;
    expect_eligible(answer.eligible, &what)?;
    if answer.owner_id.as_deref() != Some(EXAMPLE_ACCOUNT) {
        return Err(format!("{what}: ownerId is not {EXAMPLE_ACCOUNT}"));
    }
    Ok(())
}

/// `GET /accounts/000011112222/instances/i-0c3d4e5f607182930?productCode=...`:
/// runs the product, but another account owns it: not eligible.
pub fn check_other_owner(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}/instances/{OTHER_OWNERS_INSTANCE}");
    let answer: InstanceView = read(answer, &what)?;
    let flags = (answer.product_running, answer.owner_matches, answer.eligible);
    if flags == (true, false, false) {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected productRunning, not ownerMatches, not eligible; got productRunning={}, ownerMatches={}, eligible={}",
            flags.0, flags.1, flags.2
        ))
    }
}

/// `GET /accounts/000011112222/products/4gzp2symm0v9zidfrn9f854w6`:
/// eligible, Eugene and Angela.
pub fn check_product(answer: &Value) -> Result<(), String> {
    let what = format!("GET /accounts/{EXAMPLE_ACCOUNT}/products/{EXAMPLE_PRODUCT}");
    let answer: AccountProductView = read(answer, &what)?;
    if answer.product_code != EXAMPLE_PRODUCT {
        return Err(format!("{what}: productCode is not {EXAMPLE_PRODUCT}"));
    }
    expect_eligible(answer.eligible, &what)?;
    expect_contacts(&answer.contacts, &what, &EXPECTED_CONTACTS)
}

/// `GET /contacts?email=ravis@example.com`: Ravi Smith of account 111122223333.
pub fn check_email(answer: &Value) -> Result<(), String> {
    let what = format!("GET /contacts?email={EXAMPLE_EMAIL}");
    let answer: ContactsView = read(answer, &what)?;
    expect_contacts(&answer.contacts, &what, &["Ravi"])?;
    let account = answer.contacts.first().map(|c| c.aws_account_id.as_str());
    if account != Some("111122223333") {
        return Err(format!("{what}: awsAccountId {account:?}, expected 111122223333"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use psc_bridge::api::{AgreementBody, examples};
    use serde_json::json;

    fn contact(name: &str, account: &str, product: &str) -> ContactBody {
        ContactBody {
            given_name: name.into(),
            aws_account_id: account.into(),
            product_code: product.into(),
            ..examples::contact()
        }
    }

    fn value<T: serde::Serialize>(answer: &T) -> Value {
        serde_json::to_value(answer).unwrap()
    }

    #[test]
    fn reads_a_sync_answer_and_its_export() {
        let mut sync = examples::sync();
        sync.exports[0].status = "PARTIAL".into();
        let sync = sync_view(value(&sync)).unwrap();
        let e = sync.export("c3c84ee0-5aba-11e6-8d9c-235dc080841d").unwrap();
        assert!(e.is_final());
        assert_eq!((e.counts.applied(), e.counts.skipped_stale, e.counts.rejected), (6, 1, 2));
        assert_eq!(e.coverage.unwrap().start.to_string(), "2026-11-01T00:00:00.000Z");
        assert_eq!(sync.export("nope"), None);
        assert_eq!(sync.watermark.map(|w| w.to_string()).as_deref(), Some("2026-11-20T17:00:00.000Z"));
        let bare = json!({"watermark": null, "pendingRanges": [], "freshness": value(&examples::freshness()),
            "exports": [{"requestId": "r", "status": "REQUESTED", "forced": false,
                "counts": {"created": 0, "updated": 0, "deleted": 0, "skippedStale": 0, "rejected": 0}}]});
        let sync = sync_view(bare).unwrap();
        assert_eq!(sync.watermark, None);
        assert!(!sync.export("r").unwrap().is_final());
        let renamed =
            json!({"watermark": null, "pending": [], "exports": [], "freshness": value(&examples::freshness())});
        assert!(sync_view(renamed).unwrap_err().to_string().contains("missing field `pendingRanges`"));
    }

    fn good_account() -> AccountView {
        let mut a = examples::account();
        a.contacts = vec![
            contact("Eugene", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT),
            contact("Angela", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT),
        ];
        a
    }

    #[test]
    fn account_check_wants_eugene_and_angela_eligible_on_the_product() {
        assert_eq!(check_account(&value(&good_account())), Ok(()));
        let mut no_agreement = good_account();
        no_agreement.agreements.clear();
        assert!(check_account(&value(&no_agreement)).unwrap_err().contains("no ACTIVE agreement"));
        let mut unavailable = good_account();
        unavailable.sources.agreements.verdict = Verdict::Unavailable;
        assert!(check_account(&value(&unavailable)).unwrap_err().contains("agreements=unavailable"));
        let mut not_eligible = good_account();
        not_eligible.eligible = false;
        assert!(check_account(&value(&not_eligible)).unwrap_err().contains("eligible is false"));
        let mut one = good_account();
        one.contacts.truncate(1);
        assert!(check_account(&value(&one)).unwrap_err().contains("expected [\"Angela\", \"Eugene\"]"));
        let mut other_product = good_account();
        other_product.contacts[0].product_code = "x".into();
        assert!(check_account(&value(&other_product)).is_err());
        let not_found = check_account(&json!({"error": {"code": "NotFound"}})).unwrap_err();
        assert!(not_found.contains("not the answer the API's contract describes"), "{not_found}");
    }

    #[test]
    fn product_and_email_checks() {
        let mut product = examples::account_product();
        product.contacts = vec![
            contact("Angela", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT),
            contact("Eugene", EXAMPLE_ACCOUNT, EXAMPLE_PRODUCT),
        ];
        assert_eq!(check_product(&value(&product)), Ok(()));
        product.eligible = false;
        assert!(check_product(&value(&product)).is_err());
        let mut email = examples::contacts();
        email.contacts = vec![contact("Ravi", "111122223333", "c0dcyyqczbk5uc62acmp6450t")];
        assert_eq!(check_email(&value(&email)), Ok(()));
        email.contacts.clear();
        assert!(check_email(&value(&email)).is_err());
    }

    #[test]
    fn live_check_answers() {
        let mut expired = examples::account();
        expired.sources.agreements.verdict = Verdict::NotEligible;
        expired.agreements = vec![AgreementBody { status: "EXPIRED".into(), active: false, ..examples::agreement() }];
        assert_eq!(check_expired(&value(&expired)), Ok(()));
        expired.agreements[0].status = "ACTIVE".into();
        assert!(check_expired(&value(&expired)).unwrap_err().contains("expected EXPIRED"));

        let mine = examples::instance();
        assert_eq!(check_instance(&value(&mine)), Ok(()));
        let mut claimed = examples::instance();
        claimed.owner_id = Some("444455556666".into());
        assert!(check_instance(&value(&claimed)).is_err());
        let mut theirs = claimed.clone();
        (theirs.owner_matches, theirs.eligible) = (false, false);
        assert_eq!(check_other_owner(&value(&theirs)), Ok(()));
        assert!(check_other_owner(&value(&mine)).is_err());
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
