//! Command line of `psc-local` (clap).

use std::time::Duration;

use clap::Parser;

const ABOUT: &str = "psc-local: run the whole psc-bridge pipeline on this machine, no AWS account needed";

const LONG_ABOUT: &str = "\
psc-local: run the whole psc-bridge pipeline on this machine, no AWS account needed

    make local [LOCAL_ARGS=\"...\"]        (or: cargo run --bin psc-local -- [OPTIONS])

Installs its tools into .local/ if missing (scripts/bootstrap.sh local), starts DynamoDB Local
and moto (S3, SNS, EventBridge, SQS), creates the table from template.yaml with its stream, the
export bucket and the SNS topic, serves the real Lambda binaries (every AWS::Serverless::Function
of template.yaml: start-export, ingest-export, ingest-feeds, contact-events, eligibility-api) with `cargo lambda
watch`, starts the stand-in of StartSupportDataExport (aws-standin), runs start-export, waits
until ingest-export has applied the guide's test data set and contact-events has put its events
on the bus (a rule sends them to an SQS queue, which the run reads), prints a summary and example
queries against the API on localhost, erases one contact as a buyer's opt-out would and shows
its PSC Contact Deleted, then serves until Ctrl-C, printing each event as it arrives.";

const AFTER_HELP: &str = "\
ENVIRONMENT:
    PSC_LOCAL_RUST_LOG     RUST_LOG of the functions (default info)
    PSC_EMULATOR_START_TIMEOUT_SECS   how long DynamoDB Local and moto may take to start (90)

Logs of the servers and functions: target/local-run/logs/ (the functions' environment:
target/local-run/functions.env).";

/// The flags, as clap parses them; [`Args`] is what the run uses.
#[derive(Parser, Debug)]
#[command(name = "psc-local", about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
struct Cli {
    /// Stop after the summary, the example queries and the opt-out, and exit non-zero unless
    /// their answers are the expected ones (CI smoke test)
    #[arg(long)]
    exit_after_summary: bool,
    /// Invoke start-export with {"fullResync": true} instead of {}
    #[arg(long)]
    full_resync: bool,
    /// Port of the Lambda invoke API and of the eligibility API (cargo lambda watch; default
    /// 9000 when free, else any free port)
    #[arg(long, value_name = "N", value_parser = port)]
    port: Option<u16>,
    /// DynamoDB Local port (default: any free port)
    #[arg(long, value_name = "N", value_parser = port)]
    ddb_port: Option<u16>,
    /// moto (S3, SNS, EventBridge, SQS) port (default: any free port)
    #[arg(long, value_name = "N", value_parser = port)]
    s3_port: Option<u16>,
    /// aws-standin port (default: any free port)
    #[arg(long, value_name = "N", value_parser = port)]
    cas_port: Option<u16>,
    /// How long to wait for the export to be applied
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = timeout)]
    timeout: u64,
    /// Do not run scripts/bootstrap.sh local (the tools must be in .local/)
    #[arg(long)]
    no_bootstrap: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub exit_after_summary: bool,
    pub full_resync: bool,
    pub port: Option<u16>,
    pub ddb_port: Option<u16>,
    pub s3_port: Option<u16>,
    pub cas_port: Option<u16>,
    pub timeout: Duration,
    pub bootstrap: bool,
    /// Where the run keeps `functions.env` and its logs (default
    /// `target/local-run`): tests that start their own run give their own.
    pub run_dir: Option<std::path::PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            exit_after_summary: false,
            full_resync: false,
            port: None,
            ddb_port: None,
            s3_port: None,
            cas_port: None,
            timeout: Duration::from_secs(600),
            bootstrap: true,
            run_dir: None,
        }
    }
}

/// The process's own command line: prints the help or the error and exits
/// (code 2 for an error) as clap does.
pub fn from_env() -> Args {
    let cli = Cli::parse();
    match checked(cli) {
        Ok(a) => a,
        Err(msg) => {
            use clap::CommandFactory as _;
            Cli::command().error(clap::error::ErrorKind::ArgumentConflict, msg).exit()
        }
    }
}

/// `args` (without the program name); `Ok(None)` for `--help`.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Args>, String> {
    match Cli::try_parse_from(std::iter::once("psc-local".to_owned()).chain(args)) {
        Ok(cli) => checked(cli).map(Some),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// [`Args`] of `cli`, unless it gives one port twice.
fn checked(cli: Cli) -> Result<Args, String> {
    let ports: Vec<u16> = [cli.port, cli.ddb_port, cli.s3_port, cli.cas_port].into_iter().flatten().collect();
    for (i, p) in ports.iter().enumerate() {
        if ports[..i].contains(p) {
            return Err(format!("port {p} is given twice"));
        }
    }
    Ok(Args {
        exit_after_summary: cli.exit_after_summary,
        full_resync: cli.full_resync,
        port: cli.port,
        ddb_port: cli.ddb_port,
        s3_port: cli.s3_port,
        cas_port: cli.cas_port,
        timeout: Duration::from_secs(cli.timeout),
        bootstrap: !cli.no_bootstrap,
        run_dir: None,
    })
}

fn port(v: &str) -> Result<u16, String> {
    v.parse::<u16>()
        .ok()
        .filter(|p| *p >= 1024)
        .ok_or_else(|| format!("must be a port number from 1024 to 65535, not {v:?}"))
}

fn timeout(v: &str) -> Result<u64, String> {
    v.parse()
        .ok()
        .filter(|s| (1..=86_400).contains(s))
        .ok_or_else(|| format!("must be a whole number of seconds from 1 to 86400, not {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Option<Args>, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        assert_eq!(p(&[]).unwrap().unwrap(), Args::default());
        assert_eq!(p(&["--help"]).unwrap(), None);
    }

    #[test]
    fn flags_and_values_in_both_spellings() {
        let a =
            p(&["--exit-after-summary", "--port", "9100", "--ddb-port=8001", "--s3-port", "5001", "--cas-port=4601"])
                .unwrap()
                .unwrap();
        assert!(a.exit_after_summary);
        assert_eq!((a.port, a.ddb_port, a.s3_port, a.cas_port), (Some(9100), Some(8001), Some(5001), Some(4601)));
        let a = p(&["--full-resync", "--timeout", "30", "--no-bootstrap"]).unwrap().unwrap();
        assert!(a.full_resync && !a.bootstrap);
        assert_eq!(a.timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_input_is_an_error_naming_the_flag() {
        let e = p(&["--port"]).unwrap_err();
        assert!(e.contains("--port") && e.contains("value is required"), "{e}");
        for bad in ["80", "x"] {
            let e = p(&["--port", bad]).unwrap_err();
            assert!(e.contains("--port") && e.contains("must be a port number"), "{e}");
        }
        assert!(p(&["--timeout", "0"]).unwrap_err().contains("--timeout"));
        assert!(p(&["--wat"]).unwrap_err().contains("unexpected argument"));
        assert!(p(&["--port", "9100", "--s3-port", "9100"]).unwrap_err().contains("given twice"));
    }
}
