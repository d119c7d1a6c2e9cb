//! Test and local-run support for psc-bridge.
//!
//! * [`DynamoDbLocal`] and [`MotoServer`]: the real DynamoDB engine (DynamoDB
//!   Local) and an S3-compatible server (moto), started as child processes
//!   from the project's own `.local/` folder (`scripts/bootstrap.sh` installs
//!   them) on a free or given port ([`ServerOptions`]), and killed, with
//!   their whole process group, when the handle drops or the process ends.
//!   The one implementation: tests, the `with-emulators` binary and
//!   `psc-local` all start them here.
//! * [`Emulators::get`]: the emulators for tests, shared by every test of a
//!   process (or of a whole run, when the `with-emulators` binary started
//!   them and exported `PSC_TEST_DYNAMODB_ENDPOINT` / `PSC_TEST_S3_ENDPOINT`).
//! * [`sdk_config`], [`dynamodb_client`], [`s3_client`]: SDK clients for an
//!   emulator endpoint, with dummy static credentials and `us-east-1`.
//! * [`create_table_from_template`]: creates a table with exactly the keys
//!   and indexes of `ContactsTable` in `template.yaml`, the single source of
//!   truth for the table's shape; [`enable_stream_from_template`] turns on
//!   its stream as the template declares it; [`functions`]: the template's
//!   functions (logical id, workspace member, binary), the one list of them.
//! * [`unique_name`], [`create_bucket`]: per-test tables and buckets.
//! * [`export_metadata_json`]: a CAS export's metadata file, for fixtures.
//! * [`capture_logs`], [`contact_values`], [`leaked`]: every log line of a
//!   test process, and the check that no contact value is in them.
//! * [`FaultProxy`]: a proxy in front of DynamoDB (Local) that slows down,
//!   fails or holds back write requests ([`Fault`]), for the ingest's
//!   slow-database tests.
//! * [`GroupChild`]: a child process in its own process group, logging to a
//!   file, that cannot outlive its parent ([`die_with_parent`]); the
//!   emulators run as one, and so do the processes `psc-local` starts.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let emu = devkit::Emulators::get().await;
//! let ddb = emu.dynamodb_client();
//! let table = devkit::unique_name("contacts");
//! devkit::create_table_from_template(&ddb, &table).await?;
//! let s3 = emu.s3_client();
//! let bucket = devkit::unique_name("exports");
//! devkit::create_bucket(&s3, &bucket).await?;
//! # Ok(()) }
//! ```

mod clients;
mod emulators;
mod faults;
mod fixtures;
mod logs;
mod names;
mod paths;
mod process;
mod servers;
mod template;

pub use clients::{REGION, dynamodb_client, s3_client, sdk_config};
pub use emulators::{DYNAMODB_ENDPOINT_ENV, Emulators, S3_ENDPOINT_ENV};
pub use faults::{Fault, FaultProxy, FaultStats, INTERNAL_SERVER_ERROR};
pub use fixtures::export_metadata_json;
pub use logs::{CONTACT_COLUMNS, LogBuffer, capture_logs, contact_values, contains_token, leaked};
pub use names::{create_bucket, unique_name};
pub use paths::{PSC_ROOT_ENV, dynamodb_local_dir, repo_root, target_dir, template_path};
pub use process::{
    GroupChild, die_with_parent, free_port, log_tail, port_is_free, remove_aws_env, remove_cargo_run_env,
};
pub use servers::{DynamoDbLocal, MotoServer, START_TIMEOUT_ENV, ServerOptions};
pub use template::{
    CONTACTS_TABLE_RESOURCE, FUNCTION_TYPE, Function, TableSpec, create_contacts_table, create_table_from_template,
    create_table_from_template_file, enable_stream_from_template, functions, functions_from_template_str,
    wait_for_table_active,
};
