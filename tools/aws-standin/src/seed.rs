//! The seed data of the EC2 and Agreement API stand-ins, around the guide's three products (what
//! `StandIn::seed` and `POST /_admin/reset` load besides the contact records).
//!
//! | account | agreements (proposer [`SELLER_ACCOUNT_ID`] unless said) | instances |
//! | --- | --- | --- |
//! | [`ACCOUNT_ACTIVE`] `000011112222` | [`AGREEMENT_ACTIVE`]: ACTIVE, `prod-4gzp2symm0v9z`, ends 2030-12-31; [`AGREEMENT_OTHER_SELLER`]: ACTIVE, proposed by [`OTHER_SELLER_ACCOUNT_ID`] | [`INSTANCE_RUNNING`] running in us-east-1 with [`PRODUCT_CODE_1`]; [`INSTANCE_EU`] running in eu-west-1 with [`PRODUCT_CODE_1`] |
//! | [`ACCOUNT_EXPIRED`] `111122223333` | [`AGREEMENT_EXPIRED`]: EXPIRED, `prod-c0dcyyqczbk5`, ended 2025-02-28 | [`INSTANCE_STOPPED`] stopped in us-east-1 with [`PRODUCT_CODE_2`] |
//! | [`ACCOUNT_ACTIVE_2`] `333344445555` | [`AGREEMENT_ACTIVE_2`]: ACTIVE, `prod-3qtu9xydxldr`, ends 2031-06-30, in an offer set | none |
//! | [`ACCOUNT_OTHER`] `444455556666` | none | [`INSTANCE_OTHER_OWNER`] running in us-east-1 with [`PRODUCT_CODE_1`] |
//!
//! Every seeded agreement is a `PurchaseAgreement` for an `AmiProduct`.

use time::OffsetDateTime;
use time::macros::datetime;

use crate::agreements::{Agreement, PURCHASE_AGREEMENT, Resource};
use crate::ec2::{Instance, InstanceState};

/// The stand-in's own account (the seller, proposer of its agreements) by default.
pub const SELLER_ACCOUNT_ID: &str = "999988887777";
/// Another seller, proposer of [`AGREEMENT_OTHER_SELLER`].
pub const OTHER_SELLER_ACCOUNT_ID: &str = "555566667777";

/// The guide's product codes and their Agreement API product ids.
pub const PRODUCT_CODE_1: &str = "4gzp2symm0v9zidfrn9f854w6";
pub const PRODUCT_ID_1: &str = "prod-4gzp2symm0v9z";
pub const PRODUCT_CODE_2: &str = "c0dcyyqczbk5uc62acmp6450t";
pub const PRODUCT_ID_2: &str = "prod-c0dcyyqczbk5";
pub const PRODUCT_CODE_3: &str = "3qtu9xydxldrj8c5jyldy1lqo";
pub const PRODUCT_ID_3: &str = "prod-3qtu9xydxldr";
/// The product of [`AGREEMENT_OTHER_SELLER`] (not one of the guide's).
pub const PRODUCT_ID_OTHER_SELLER: &str = "prod-otherseller00";

/// Buyer with an ACTIVE agreement and a running instance.
pub const ACCOUNT_ACTIVE: &str = "000011112222";
/// Buyer whose only agreement EXPIRED, with a stopped instance.
pub const ACCOUNT_EXPIRED: &str = "111122223333";
/// Buyer with an ACTIVE agreement for the third product.
pub const ACCOUNT_ACTIVE_2: &str = "333344445555";
/// Owner of a running instance with [`PRODUCT_CODE_1`] and no agreement.
pub const ACCOUNT_OTHER: &str = "444455556666";

pub const AGREEMENT_ACTIVE: &str = "agmt-4gzp2symm0v9z0000011112222";
pub const AGREEMENT_OTHER_SELLER: &str = "agmt-otherseller00000011112222";
pub const AGREEMENT_EXPIRED: &str = "agmt-c0dcyyqczbk50111122223333";
pub const AGREEMENT_ACTIVE_2: &str = "agmt-3qtu9xydxldr0333344445555";

pub const OFFER_ACTIVE: &str = "offer-4gzp2symm0v9z1";
pub const OFFER_OTHER_SELLER: &str = "offer-otherseller001";
pub const OFFER_EXPIRED: &str = "offer-c0dcyyqczbk51";
pub const OFFER_ACTIVE_2: &str = "offer-3qtu9xydxldr1";
/// The offer set of [`AGREEMENT_ACTIVE_2`].
pub const OFFER_SET_ACTIVE_2: &str = "offerset-3qtu9xydxldr1";

/// Running, us-east-1, owner [`ACCOUNT_ACTIVE`], [`PRODUCT_CODE_1`].
pub const INSTANCE_RUNNING: &str = "i-0a1b2c3d4e5f60718";
/// Stopped, us-east-1, owner [`ACCOUNT_EXPIRED`], [`PRODUCT_CODE_2`].
pub const INSTANCE_STOPPED: &str = "i-0b2c3d4e5f6071829";
/// Running, us-east-1, owner [`ACCOUNT_OTHER`], [`PRODUCT_CODE_1`].
pub const INSTANCE_OTHER_OWNER: &str = "i-0c3d4e5f607182930";
/// Running, eu-west-1, owner [`ACCOUNT_ACTIVE`], [`PRODUCT_CODE_1`].
pub const INSTANCE_EU: &str = "i-0d4e5f60718293a41";

/// End of [`AGREEMENT_ACTIVE`].
pub const AGREEMENT_ACTIVE_END: OffsetDateTime = datetime!(2030-12-31 23:59:59 UTC);
/// End of [`AGREEMENT_EXPIRED`].
pub const AGREEMENT_EXPIRED_END: OffsetDateTime = datetime!(2025-02-28 23:59:59 UTC);

/// The seeded instances.
pub fn instances() -> Vec<Instance> {
    vec![
        Instance::new(INSTANCE_RUNNING, ACCOUNT_ACTIVE, "us-east-1", InstanceState::Running, &[PRODUCT_CODE_1]),
        Instance::new(INSTANCE_STOPPED, ACCOUNT_EXPIRED, "us-east-1", InstanceState::Stopped, &[PRODUCT_CODE_2]),
        Instance::new(INSTANCE_OTHER_OWNER, ACCOUNT_OTHER, "us-east-1", InstanceState::Running, &[PRODUCT_CODE_1]),
        Instance::new(INSTANCE_EU, ACCOUNT_ACTIVE, "eu-west-1", InstanceState::Running, &[PRODUCT_CODE_1]),
    ]
}

#[allow(clippy::too_many_arguments)]
fn agreement(
    id: &str,
    acceptor: &str,
    proposer: &str,
    product: &str,
    offer: &str,
    accepted: OffsetDateTime,
    end: OffsetDateTime,
    status: &str,
) -> Agreement {
    Agreement {
        agreement_id: id.into(),
        agreement_type: PURCHASE_AGREEMENT.into(),
        acceptor_account_id: acceptor.into(),
        proposer_account_id: proposer.into(),
        acceptance_time: accepted,
        start_time: accepted,
        end_time: Some(end),
        last_update_time: accepted,
        status: status.into(),
        resources: vec![Resource::new(product, "AmiProduct")],
        offer_id: offer.into(),
        offer_set_id: None,
    }
}

/// The seeded agreements. `seller_account_id` proposes the guide's products' agreements (the
/// stand-in's configured seller; [`SELLER_ACCOUNT_ID`] by default).
pub fn agreements(seller_account_id: &str) -> Vec<Agreement> {
    let mut active_2 = agreement(
        AGREEMENT_ACTIVE_2,
        ACCOUNT_ACTIVE_2,
        seller_account_id,
        PRODUCT_ID_3,
        OFFER_ACTIVE_2,
        datetime!(2025-07-01 00:00:00 UTC),
        datetime!(2031-06-30 23:59:59 UTC),
        "ACTIVE",
    );
    active_2.offer_set_id = Some(OFFER_SET_ACTIVE_2.into());
    let mut expired = agreement(
        AGREEMENT_EXPIRED,
        ACCOUNT_EXPIRED,
        seller_account_id,
        PRODUCT_ID_2,
        OFFER_EXPIRED,
        datetime!(2024-03-01 00:00:00 UTC),
        AGREEMENT_EXPIRED_END,
        "EXPIRED",
    );
    expired.last_update_time = datetime!(2025-03-01 00:00:00 UTC);
    vec![
        agreement(
            AGREEMENT_ACTIVE,
            ACCOUNT_ACTIVE,
            seller_account_id,
            PRODUCT_ID_1,
            OFFER_ACTIVE,
            datetime!(2024-01-15 10:30:00 UTC),
            AGREEMENT_ACTIVE_END,
            "ACTIVE",
        ),
        agreement(
            AGREEMENT_OTHER_SELLER,
            ACCOUNT_ACTIVE,
            OTHER_SELLER_ACCOUNT_ID,
            PRODUCT_ID_OTHER_SELLER,
            OFFER_OTHER_SELLER,
            datetime!(2024-06-01 08:00:00 UTC),
            datetime!(2029-05-31 23:59:59 UTC),
            "ACTIVE",
        ),
        expired,
        active_2,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::is_valid_instance_id;

    #[test]
    fn seed_is_consistent() {
        for i in instances() {
            assert!(is_valid_instance_id(&i.instance_id), "{}", i.instance_id);
        }
        let a = agreements(SELLER_ACCOUNT_ID);
        assert_eq!(a.iter().filter(|a| a.proposer_account_id == SELLER_ACCOUNT_ID).count(), 3);
        // each product id is `prod-` + the start of its product code.
        for (code, id) in
            [(PRODUCT_CODE_1, PRODUCT_ID_1), (PRODUCT_CODE_2, PRODUCT_ID_2), (PRODUCT_CODE_3, PRODUCT_ID_3)]
        {
            assert!(code.starts_with(id.strip_prefix("prod-").unwrap()), "{code} {id}");
        }
        let ids: std::collections::BTreeSet<_> = a.iter().map(|a| &a.agreement_id).collect();
        assert_eq!(ids.len(), 4);
    }
}
