//! exportgen: writes a synthetic PSC export (and optionally its metadata file).
//!
//! ```text
//! exportgen --rows 200000 [--seed 42] [--bad-fraction 0.01] [--out FILE|-]
//!           [--meta FILE [--request-id ID] [--bucket B] [--key K] [--meta-key K]]
//! ```
//!
//! The CSV goes to `--out` (default stdout), streamed; a summary goes to
//! stderr. With `--meta`, the metadata JSON of the export is written there
//! (coverage from 2010-01-01 to just after the last row).

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use exportgen::{Config, Placement, coverage, generate, metadata_json};

const USAGE: &str = "usage: exportgen --rows N [--seed S] [--bad-fraction F] [--out FILE|-] \
[--meta FILE [--request-id ID] [--bucket B] [--key K] [--meta-key K]]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("exportgen: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut cfg = Config { rows: 0, ..Config::default() };
    let mut out = String::from("-");
    let mut meta: Option<String> = None;
    let mut request_id = String::from("bench-export");
    let mut bucket = String::from("psc-exports");
    let mut key: Option<String> = None;
    let mut meta_key: Option<String> = None;

    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => cfg.rows = parse_rows(&value()?)?,
            "--seed" => cfg.seed = value()?.parse().map_err(|_| "--seed must be a whole number")?,
            "--bad-fraction" => {
                cfg.bad_fraction = value()?.parse().map_err(|_| "--bad-fraction must be a number")?;
                if !(0.0..=1.0).contains(&cfg.bad_fraction) {
                    return Err("--bad-fraction must be from 0 to 1".into());
                }
            }
            "--out" => out = value()?,
            "--meta" => meta = Some(value()?),
            "--request-id" => request_id = value()?,
            "--bucket" => bucket = value()?,
            "--key" => key = Some(value()?),
            "--meta-key" => meta_key = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if cfg.rows == 0 {
        return Err("--rows is required (and more than 0)".into());
    }

    let start = Instant::now();
    let stats = if out == "-" {
        let stdout = std::io::stdout();
        generate(&cfg, BufWriter::with_capacity(1 << 20, stdout.lock()))
    } else {
        let file = std::fs::File::create(&out).map_err(|e| format!("creating {out}: {e}"))?;
        generate(&cfg, BufWriter::with_capacity(1 << 20, file))
    }
    .map_err(|e| format!("writing the export: {e}"))?;
    let secs = start.elapsed().as_secs_f64();

    if let Some(path) = meta {
        let key = key.unwrap_or_else(|| format!("psc/{request_id}.csv"));
        let meta_key = meta_key.unwrap_or_else(|| format!("psc/{request_id}.meta.json"));
        let at = Placement { request_id: &request_id, bucket: &bucket, csv_key: &key, meta_key: &meta_key };
        let (from, to) = coverage(&stats);
        let mut f = std::fs::File::create(&path).map_err(|e| format!("creating {path}: {e}"))?;
        f.write_all(metadata_json(&at, &from, &to).as_bytes()).map_err(|e| format!("writing {path}: {e}"))?;
    }
    eprintln!(
        "exportgen: {} rows ({} CREATE, {} UPDATE, {} DELETE, {} bad; {} contacts), {:.1} MB in {secs:.1}s",
        stats.rows,
        stats.creates,
        stats.updates,
        stats.deletes,
        stats.bad,
        stats.contacts,
        stats.bytes as f64 / 1e6
    );
    Ok(())
}

/// `200000`, `200k`, `1m`, `1M`.
fn parse_rows(s: &str) -> Result<u64, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.strip_suffix('k') {
        Some(n) => (n, 1_000),
        None => match s.strip_suffix('m') {
            Some(n) => (n, 1_000_000),
            None => (s.as_str(), 1),
        },
    };
    num.parse::<u64>().map(|n| n * mult).map_err(|_| format!("--rows: '{s}' is not a row count like 200000 or 1m"))
}
