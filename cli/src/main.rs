//! `psc`: the support desk's command line for psc-bridge. See `psc --help`
//! and docs/support-desk.md.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use psc_cli::commands::{self, Cli};
use psc_cli::exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; anything else is a usage error (exit 2).
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let commands::Command::Completions { shell } = &cli.command {
        clap_complete::generate(*shell, &mut Cli::command(), "psc", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("psc: cannot start: {e}");
            return ExitCode::from(exit::TROUBLE);
        }
    };
    ExitCode::from(runtime.block_on(commands::run(cli)))
}
