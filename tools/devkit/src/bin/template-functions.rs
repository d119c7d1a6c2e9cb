//! `template-functions`: the functions of `template.yaml`, one a line, as
//! `<logical id> <binary> <CodeUri>` (devkit's [`devkit::functions`]), for
//! scripts that need the list (`scripts/check-template.sh`):
//!
//! ```text
//! cargo run -q --bin template-functions
//! StartExportFunction start-export functions/start-export
//! ...
//! ```

use std::process::ExitCode;

use clap::Parser;

/// Prints each AWS::Serverless::Function of template.yaml as `<logical id> <binary> <CodeUri>`.
#[derive(Parser)]
#[command(name = "template-functions")]
struct Cli {}

fn main() -> ExitCode {
    Cli::parse();
    match devkit::functions() {
        Ok(functions) => {
            for f in functions {
                println!("{} {} {}", f.logical_id, f.binary, f.code_uri);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("template-functions: {e:#}");
            ExitCode::FAILURE
        }
    }
}
