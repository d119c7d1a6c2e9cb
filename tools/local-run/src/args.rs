//! Command line of `psc-local`.

use std::time::Duration;

pub const USAGE: &str = "\
psc-local: run the whole psc-bridge pipeline on this machine, no AWS account needed

USAGE:
    make local [LOCAL_ARGS=\"...\"]        (or: cargo run --bin psc-local -- [OPTIONS])

Installs its tools into .local/ if missing (scripts/bootstrap.sh local), starts DynamoDB Local
and moto (S3, SNS, EventBridge, SQS), creates the table from template.yaml with its stream, the
export bucket and the SNS topic, serves the real Lambda binaries (start-export, ingest-export,
eligibility-api, contact-events) with `cargo lambda watch`, starts the stand-in of
StartSupportDataExport (aws-standin), runs start-export, waits until ingest-export has applied
the guide's test data set and contact-events has put its events on the bus (a rule sends them
to an SQS queue, which the run reads), prints a summary and example queries against the API on
localhost, erases one contact as a buyer's opt-out would and shows its PSC Contact Deleted, then
serves until Ctrl-C, printing each event as it arrives.

OPTIONS:
    --exit-after-summary   stop after the summary, the example queries and the opt-out, and exit non-zero
                           unless their answers are the expected ones (CI smoke test)
    --full-resync          invoke start-export with {\"fullResync\": true} instead of {}
    --port N               port of the Lambda invoke API and of the eligibility API
                           (cargo lambda watch; default 9000 when free, else any free port)
    --ddb-port N           DynamoDB Local port (default: any free port)
    --s3-port N            moto (S3, SNS, EventBridge, SQS) port (default: any free port)
    --cas-port N           aws-standin port (default: any free port)
    --timeout SECONDS      how long to wait for the export to be applied (default 600)
    --no-bootstrap         do not run scripts/bootstrap.sh local (the tools must be in .local/)
    -h, --help             this text

ENVIRONMENT:
    PSC_LOCAL_RUST_LOG     RUST_LOG of the functions (default info)
    PSC_EMULATOR_START_TIMEOUT_SECS   how long DynamoDB Local and moto may take to start (90)

Logs of the servers and functions: target/local-run/logs/ (the functions' environment:
target/local-run/functions.env).
";

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

/// `Ok(None)` for `--help`.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Args>, String> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--exit-after-summary" => out.exit_after_summary = true,
            "--full-resync" => out.full_resync = true,
            "--no-bootstrap" => out.bootstrap = false,
            "--port" => out.port = Some(port(&name, &value()?)?),
            "--ddb-port" => out.ddb_port = Some(port(&name, &value()?)?),
            "--s3-port" => out.s3_port = Some(port(&name, &value()?)?),
            "--cas-port" => out.cas_port = Some(port(&name, &value()?)?),
            "--timeout" => {
                let v = value()?;
                let secs: u64 =
                    v.parse().ok().filter(|s| (1..=86_400).contains(s)).ok_or_else(|| {
                        format!("{name} must be a whole number of seconds from 1 to 86400, not {v:?}")
                    })?;
                out.timeout = Duration::from_secs(secs);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let ports: Vec<u16> = [out.port, out.ddb_port, out.s3_port, out.cas_port].into_iter().flatten().collect();
    for (i, p) in ports.iter().enumerate() {
        if ports[..i].contains(p) {
            return Err(format!("port {p} is given twice"));
        }
    }
    Ok(Some(out))
}

fn port(name: &str, v: &str) -> Result<u16, String> {
    v.parse::<u16>()
        .ok()
        .filter(|p| *p >= 1024)
        .ok_or_else(|| format!("{name} must be a port number from 1024 to 65535, not {v:?}"))
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
        assert!(p(&["--port"]).unwrap_err().contains("--port needs a value"));
        assert!(p(&["--port", "80"]).unwrap_err().contains("--port must be"));
        assert!(p(&["--port", "x"]).unwrap_err().contains("--port must be"));
        assert!(p(&["--timeout", "0"]).unwrap_err().contains("--timeout"));
        assert!(p(&["--wat"]).unwrap_err().contains("unknown argument"));
        assert!(p(&["--port", "9100", "--s3-port", "9100"]).unwrap_err().contains("given twice"));
    }
}
