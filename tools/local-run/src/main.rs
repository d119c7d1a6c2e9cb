//! `psc-local`: see the crate docs, or `psc-local --help`.

use std::process::ExitCode;

use local_run::run::Session;
use local_run::{args, procs, ui};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    ui::start_clock();
    let args = args::from_env();
    // One thread: every child is forked by the main thread, which lives as
    // long as the process (PR_SET_PDEATHSIG follows the forking thread).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("psc-local: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

/// The first of SIGINT, SIGTERM, SIGHUP.
async fn stop_signal(
    int: &mut tokio::signal::unix::Signal,
    term: &mut tokio::signal::unix::Signal,
    hup: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

async fn run(args: args::Args) -> ExitCode {
    procs::become_subreaper();
    let (mut int, mut term, mut hup) =
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            _ => {
                ui::error("cannot install signal handlers");
                return ExitCode::FAILURE;
            }
        };
    let exit_after_summary = args.exit_after_summary;
    let mut session = match Session::new(args) {
        Ok(s) => s,
        Err(e) => {
            ui::error(format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };

    let outcome = tokio::select! {
        r = session.run_to_summary() => r.map_err(|e| (format!("{e:#}"), ExitCode::FAILURE)),
        sig = stop_signal(&mut int, &mut term, &mut hup) => {
            Err((format!("interrupted ({sig}) before the summary: stopping"), ExitCode::from(130)))
        }
    };

    let code = match outcome {
        Err((msg, code)) => {
            ui::error(msg);
            code
        }
        Ok(report) if exit_after_summary => {
            if report.checks_ok {
                ui::say("--exit-after-summary: all checks passed");
                ExitCode::SUCCESS
            } else {
                ui::error("--exit-after-summary: the example queries did not answer as expected");
                ExitCode::FAILURE
            }
        }
        Ok(_) => {
            session.print_serving();
            tokio::select! {
                sig = stop_signal(&mut int, &mut term, &mut hup) => {
                    ui::print("");
                    ui::say(format!("{sig}: shutting down"));
                    ExitCode::SUCCESS
                }
                what = session.watch_servers() => {
                    ui::error(what);
                    ExitCode::FAILURE
                }
            }
        }
    };
    // A second Ctrl-C during the shutdown is ignored: the shutdown is bounded.
    session.shutdown().await;
    code
}
