//! aws-standin's integration tests, in one binary (as zero-to-production's
//! `tests/api/main.rs`): the helpers are shared by modules, not by binaries,
//! so none is dead in any of them.
//!
//! * `sdk`: the stand-in through the real `aws-sdk-marketplacecommerceanalytics`
//!   client and over HTTP, and an S3 round trip through moto;
//! * `binary`: the `aws-standin` binary, reached by SDK clients configured
//!   only by the environment;
//! * `ec2`: `ConfirmProductInstance`, signed with aws-sigv4 and sent with hyper;
//! * `agreements`: `SearchAgreements` through the real `aws-sdk-marketplaceagreement`
//!   client (RPC v2 CBOR) and as raw AWS JSON 1.0.
//!
//! moto comes from devkit's `Emulators::get()`: the one `with-emulators`
//! started (`make test`), or one started for this process.

// StartSupportDataExport is marked deprecated in the SDK (PSC retired);
// calling it is the point of these tests.
#![allow(deprecated)]

mod agreements;
mod binary;
mod ec2;
mod helpers;
mod sdk;
