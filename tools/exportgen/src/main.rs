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

use clap::Parser;
use exportgen::{Config, Placement, coverage, generate, metadata_json};

/// Writes a synthetic PSC export (and optionally its metadata file).
#[derive(Parser)]
#[command(name = "exportgen")]
struct Cli {
    /// Data rows: 200000, 200k, 1m (more than 0).
    #[arg(long, value_parser = parse_rows)]
    rows: u64,
    /// Same seed, same file.
    #[arg(long, default_value_t = Config::default().seed)]
    seed: u64,
    /// Fraction of rows, 0 to 1, given one defect each.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    bad_fraction: f64,
    /// Where the CSV goes; `-` is stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    out: String,
    /// Also write the export's metadata JSON there.
    #[arg(long, value_name = "FILE")]
    meta: Option<String>,
    /// The metadata's request id.
    #[arg(long, value_name = "ID", default_value = "bench-export")]
    request_id: String,
    /// The metadata's bucket.
    #[arg(long, value_name = "B", default_value = "psc-exports")]
    bucket: String,
    /// The CSV's key in the metadata (default psc/<request id>.csv).
    #[arg(long, value_name = "K")]
    key: Option<String>,
    /// The metadata's own key (default psc/<request id>.meta.json).
    #[arg(long, value_name = "K")]
    meta_key: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("exportgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let cfg = Config { rows: cli.rows, seed: cli.seed, bad_fraction: cli.bad_fraction, ..Config::default() };
    let Cli { out, meta, request_id, bucket, key, meta_key, .. } = cli;

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

/// `200000`, `200k`, `1m`, `1M`; more than 0.
fn parse_rows(s: &str) -> Result<u64, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.strip_suffix('k') {
        Some(n) => (n, 1_000),
        None => match s.strip_suffix('m') {
            Some(n) => (n, 1_000_000),
            None => (s.as_str(), 1),
        },
    };
    match num.parse::<u64>() {
        Ok(0) => Err("must be more than 0".into()),
        Ok(n) => Ok(n * mult),
        Err(_) => Err(format!("'{s}' is not a row count like 200000 or 1m")),
    }
}

/// A number from 0 to 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|_| "must be a number".to_owned())?;
    if (0.0..=1.0).contains(&f) { Ok(f) } else { Err("must be from 0 to 1".into()) }
}
