//! The services the stand-in answers on its one port, and the wire protocols it tells apart.

use serde::{Deserialize, Serialize};

/// One of the emulated AWS services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
        match self {
            Service::Cas => "cas",
            Service::Ec2 => "ec2",
            Service::Agreements => "agreements",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire protocol of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// AWS JSON 1.1 (`application/x-amz-json-1.1`, `X-Amz-Target`).
    #[serde(rename = "json1.1")]
    Json11,
    /// Smithy RPC v2 CBOR (`POST /service/{service}/operation/{operation}`, `application/cbor`).
    #[serde(rename = "cbor")]
    Cbor,
    /// EC2 Query (`Action=...&Version=...`, a form-encoded body).
    #[serde(rename = "query")]
    Query,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Json11 => "json1.1",
            Protocol::Cbor => "cbor",
            Protocol::Query => "query",
        }
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
