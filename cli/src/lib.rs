//! `psc`: the support desk's command line and browser console for the
//! psc-bridge eligibility API.
//!
//! * [`target`]: where it points (`--api-url` / `PSC_API_URL`, `--stack`,
//!   `--local`) and how it authenticates (SigV4 for `execute-api` with the
//!   user's own credentials, a bearer token with `--token`, nothing locally).
//! * [`client`]: the API calls, the Lambda invoke of start-export, the
//!   CloudFormation lookup of a stack's outputs, the S3 read of a rejects
//!   report; errors that say what to do.
//! * [`render`]: the tables a person reads (`--json` prints the API's answer
//!   unchanged instead).
//! * [`commands`]: one function per command, returning the exit code.
//! * [`console`]: `psc console`, a small web page on 127.0.0.1 whose requests
//!   this process signs and forwards.
//!
//! Exit codes ([`exit`]): 0 eligible or found, 1 not eligible or not found,
//! 2 usage (a bad argument, or a 400 from the API), 3 authentication,
//! network or server (or an answer that is not the contract's), 4
//! eligibility unconfirmed (help in good faith).

pub mod client;
pub mod commands;
pub mod console;
pub mod render;
pub mod target;

/// The documented exit codes.
pub mod exit {
    /// Eligible, or found, or done.
    pub const OK: u8 = 0;
    /// Not eligible, or not found.
    pub const NO: u8 = 1;
    /// A usage error: a bad argument (also a 400 from the API).
    pub const USAGE: u8 = 2;
    /// Authentication, network or server trouble (or an answer that is not
    /// the contract's).
    pub const TROUBLE: u8 = 3;
    /// Eligibility unconfirmed: no source says eligible, and none can rule
    /// it out (the API's `eligibility: unconfirmed`); help in good faith.
    pub const UNCONFIRMED: u8 = 4;

    /// The exit code of an account lookup's `eligibility`.
    pub fn of(e: psc_bridge::api::Eligibility) -> u8 {
        match e {
            psc_bridge::api::Eligibility::Eligible => OK,
            psc_bridge::api::Eligibility::NotEligible => NO,
            psc_bridge::api::Eligibility::Unconfirmed => UNCONFIRMED,
        }
    }
}
