//! The services the stand-in answers on its one port, and the wire protocols it tells apart.

use serde::{Deserialize, Serialize};
use strum::{Display, IntoStaticStr};

/// One of the emulated AWS services (displayed as its JSON name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Display, IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Service {
    /// AWS Marketplace Commerce Analytics (`StartSupportDataExport`), AWS JSON 1.1.
    Cas,
    /// Amazon EC2 (`ConfirmProductInstance`), EC2 Query.
    Ec2,
    /// AWS Marketplace Agreement Service (`SearchAgreements`), Smithy RPC v2 CBOR.
    Agreements,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The wire protocol of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Protocol {
    /// AWS JSON 1.1 (`application/x-amz-json-1.1`, `X-Amz-Target`).
    #[serde(rename = "json1.1")]
    #[strum(serialize = "json1.1")]
    Json11,
    /// Smithy RPC v2 CBOR (`POST /service/{service}/operation/{operation}`, `application/cbor`).
    Cbor,
    /// EC2 Query (`Action=...&Version=...`, a form-encoded body).
    Query,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [Service::Cas, Service::Ec2, Service::Agreements] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(serde_json::to_value(Protocol::Json11).unwrap(), serde_json::json!("json1.1"));
        assert_eq!(serde_json::to_value(Protocol::Cbor).unwrap(), serde_json::json!(Protocol::Cbor.as_str()));
    }
}
