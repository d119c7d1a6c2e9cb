//! Live entitlement: the seller's products, EC2 instances and AWS
//! Marketplace purchase agreements.
//!
//! PSC contacts say who shared a support contact; these say, today, who runs
//! the seller's product ([`InstanceCheck`], from EC2 `ConfirmProductInstance`)
//! and who bought it ([`Agreement`], from the Agreement API's
//! `SearchAgreements`). [`SellerProducts`] maps PSC's product codes to the
//! Agreement API's product ids and bounds which codes the checks accept.

use std::fmt;

use serde::Serialize;

use crate::domain::{AwsAccountId, Invalid, ProductCode, Timestamp};

/// An EC2 instance id: `i-` and 8 or 17 hexadecimal digits, lower case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct InstanceId(String);

impl InstanceId {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let ok = s
            .strip_prefix("i-")
            .is_some_and(|hex| matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if ok {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(Invalid("must be i- and 8 or 17 hexadecimal digits, like i-0a1b2c3d4e5f60718".into()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({})", self.0)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The AWS regions EC2 runs in (commercial, China and GovCloud partitions).
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// A region name from [`KNOWN_REGIONS`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Region(&'static str);

impl Region {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        KNOWN_REGIONS
            .iter()
            .find(|r| r.eq_ignore_ascii_case(s))
            .map(|r| Self(r))
            .ok_or_else(|| Invalid("must be an AWS region name, like us-east-1".into()))
    }
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.0)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One entry of [`SellerProducts`]: a PSC product code and the Agreement
/// API's product id (`prod-...`) of the same product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerProduct {
    pub product_code: ProductCode,
    pub product_id: String,
}

/// The seller's products, from `SELLER_PRODUCTS`: comma-separated
/// `<productCode>=<marketplaceProductId>` pairs. Empty turns the live checks
/// off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SellerProducts(Vec<SellerProduct>);

impl SellerProducts {
    /// Parses the list; the error names the bad entry (product codes and ids
    /// are not personal data).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let mut out: Vec<SellerProduct> = Vec::new();
        for (i, entry) in s.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let at = |why: &str| Invalid(format!("entry {} ({entry:?}): {why}", i + 1));
            let Some((code, id)) = entry.split_once('=') else {
                return Err(at(
                    "expected <productCode>=<marketplaceProductId>, like 4gzp2symm0v9zidfrn9f854w6=prod-4gzp2symm0v9z",
                ));
            };
            let product_code = ProductCode::parse(code).map_err(|e| at(&format!("product code {}", e.0)))?;
            let id = id.trim();
            let id_ok = id.strip_prefix("prod-").is_some_and(|rest| {
                !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            if !id_ok {
                return Err(at("the product id must be prod- and letters or digits, like prod-4gzp2symm0v9z"));
            }
            if out.iter().any(|p| p.product_code == product_code) {
                return Err(at("this product code is listed twice"));
            }
            out.push(SellerProduct { product_code, product_id: id.to_owned() });
        }
        Ok(Self(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &SellerProduct> {
        self.0.iter()
    }

    pub fn by_code(&self, code: &ProductCode) -> Option<&SellerProduct> {
        self.0.iter().find(|p| &p.product_code == code)
    }

    pub fn by_product_id(&self, id: &str) -> Option<&SellerProduct> {
        self.0.iter().find(|p| p.product_id == id)
    }

    /// The `SELLER_PRODUCTS` text of this list.
    pub fn to_env(&self) -> String {
        self.0.iter().map(|p| format!("{}={}", p.product_code, p.product_id)).collect::<Vec<_>>().join(",")
    }
}

/// What EC2 `ConfirmProductInstance` said about an instance and a product
/// code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceCheck {
    /// The instance exists in the region asked. `product_running`: EC2's
    /// `return`, true only when the product code is attached to the instance
    /// and it runs. `owner`: the account that owns it, when EC2 says.
    Found { product_running: bool, owner: Option<AwsAccountId> },
    /// No such instance in that region (`InvalidInstanceID.NotFound`).
    NotFound,
}

/// AWS Marketplace's agreement status ([the `status` of an
/// AgreementViewSummary](https://docs.aws.amazon.com/marketplace/latest/APIReference/API_marketplace-agreements_AgreementViewSummary.html)).
pub const ACTIVE: &str = "ACTIVE";

/// One purchase agreement of a buyer for one of the seller's products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub agreement_id: String,
    /// `ACTIVE`, `EXPIRED`, `CANCELLED`, `TERMINATED`, `RENEWED`, ...
    pub status: String,
    pub agreement_type: Option<String>,
    pub acceptor: Option<AwsAccountId>,
    /// The product's Agreement-API id (`prod-...`), when the proposal names one.
    pub product_id: Option<String>,
    pub offer_id: Option<String>,
    pub acceptance_time: Option<Timestamp>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

impl Agreement {
    pub fn is_active(&self) -> bool {
        self.status == ACTIVE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_i_and_8_or_17_hex_digits() {
        assert_eq!(InstanceId::parse("i-0A1B2C3D4E5F60718").unwrap().as_str(), "i-0a1b2c3d4e5f60718");
        assert!(InstanceId::parse("i-1234abcd").is_ok());
        for bad in ["", "i-", "i-1234abc", "i-1234abcde", "i-0a1b2c3d4e5f6071", "i-0a1b2c3d4e5f6071g", "x-1234abcd"] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn regions_must_be_known() {
        assert_eq!(Region::parse("EU-WEST-1").unwrap().as_str(), "eu-west-1");
        assert!(Region::parse("mars-north-1").is_err());
        assert!(Region::parse("").is_err());
    }

    #[test]
    fn seller_products_parse_and_name_the_bad_entry() {
        let p = SellerProducts::parse(
            " 4gzp2symm0v9zidfrn9f854w6=prod-4gzp2symm0v9z , c0dcyyqczbk5uc62acmp6450t=prod-c0dcyyqczbk5,",
        )
        .unwrap();
        let code = ProductCode::parse("4gzp2symm0v9zidfrn9f854w6").unwrap();
        assert_eq!(p.by_code(&code).unwrap().product_id, "prod-4gzp2symm0v9z");
        assert_eq!(p.by_product_id("prod-c0dcyyqczbk5").unwrap().product_code.as_str(), "c0dcyyqczbk5uc62acmp6450t");
        assert_eq!(
            p.to_env(),
            "4gzp2symm0v9zidfrn9f854w6=prod-4gzp2symm0v9z,c0dcyyqczbk5uc62acmp6450t=prod-c0dcyyqczbk5"
        );
        assert!(SellerProducts::parse("").unwrap().is_empty());

        let e = SellerProducts::parse("4gzp2symm0v9zidfrn9f854w6=prod-4gzp2symm0v9z,short=prod-x").unwrap_err();
        assert!(e.0.starts_with("entry 2 (\"short=prod-x\"): product code"), "{e}");
        let e = SellerProducts::parse("4gzp2symm0v9zidfrn9f854w6").unwrap_err();
        assert!(e.0.contains("expected <productCode>=<marketplaceProductId>"), "{e}");
        let e = SellerProducts::parse("4gzp2symm0v9zidfrn9f854w6=4gzp2symm0v9z").unwrap_err();
        assert!(e.0.contains("prod-"), "{e}");
        let e = SellerProducts::parse("4gzp2symm0v9zidfrn9f854w6=prod-a,4GZP2SYMM0V9ZIDFRN9F854W6=prod-b").unwrap_err();
        assert!(e.0.contains("entry 2") && e.0.contains("twice"), "{e}");
    }
}
