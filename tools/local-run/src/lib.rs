//! `psc-local` (`make local`): the whole psc-bridge pipeline on one machine,
//! with no AWS account.
//!
//! 1. installs its tools into `.local/` when missing (`scripts/bootstrap.sh local`:
//!    moto, cargo-lambda, DynamoDB Local; not SAM CLI, cfn-lint, zig or checkov);
//! 2. builds the functions and `aws-standin` while DynamoDB Local and moto
//!    start (devkit), on free or configured ports;
//! 3. creates the table from `template.yaml` (devkit), with its stream, the
//!    export bucket and an SNS topic in moto;
//! 4. starts `aws-standin` (the local `StartSupportDataExport`, delivering
//!    notifications to ingest-export's invoke URL) and `cargo lambda watch`,
//!    which serves the real function binaries with their environment; and
//!    the change events ([`events`]): a poller on the table's stream that
//!    invokes contact-events, a bus on moto, a rule to a queue, and a reader;
//! 5. invokes start-export and follows the export (stand-in, then `GET /sync`)
//!    until it is APPLIED, PARTIAL or FAILED;
//! 6. prints the summary, the export's events and the example queries (as
//!    `curl` commands, with their answers, checked);
//! 7. erases a contact in the stand-in (an opt-out), runs a second export and
//!    checks its `PSC Contact Deleted`; then serves until Ctrl-C (or exits
//!    with `--exit-after-summary`), and stops everything it started.

pub mod answers;
pub mod args;
pub mod events;
pub mod http;
pub mod procs;
pub mod run;
pub mod ui;
