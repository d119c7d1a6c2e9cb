//! Parse benchmark of the ingest path, no network: how close psc-bridge's
//! parse + validate + build-write-requests comes to bare CSV parsing.
//!
//! ```text
//! cargo bench --bench ingest_parse -- [EXPORT.csv] [--rows N] [--runs N] [--seed S] [--bad-fraction F]
//! ```
//!
//! Without a file, it generates `target/bench-data/export-<rows>.csv`
//! (default 200k rows, seed 42, 0.1% bad rows) with `exportgen`, unless that
//! file already exists. Every measurement reads the same file, from the page
//! cache (one untimed pass first), and the best of `--runs` (default 5) is
//! kept:
//!
//! * `bare csv`: `csv::Reader::read_byte_record` over the file, with the
//!   reader settings `ExportReader` uses: the ceiling.
//! * `parse+validate`: `ExportReader::next_row` for every row (columns
//!   mapped, every field checked, `ContactRecord`s built).
//! * `parse+validate+items`: the same, plus `aws::dynamodb::item::contact_item` for every
//!   valid row: the DynamoDB item each conditional write sends. This is the
//!   figure the target (at least half of bare) applies to.
//! * `floor: bare csv + SDK items`: bare parsing plus the same items built
//!   straight from the raw fields, nothing validated: the least any
//!   implementation pays for items of the SDK's type
//!   (`HashMap<String, AttributeValue>`).
//!
//! Prints a table and one `BENCH {json}` line for scripts/bench-ingest.sh.

use std::collections::HashMap;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use psc_bridge::aws::dynamodb::item::contact_item;
use psc_bridge::export_csv::{ExportReader, Row};

/// The benchmark's options (`cargo bench --bench ingest_parse -- --help`).
#[derive(clap::Parser)]
struct Opts {
    /// An export CSV to read; without it, one of `--rows` rows is generated.
    file: Option<PathBuf>,
    #[arg(long, default_value_t = 200_000)]
    rows: u64,
    /// Runs of each measurement; the best counts.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of generated rows that are invalid.
    #[arg(long, default_value_t = 0.001)]
    bad_fraction: f64,
    /// `cargo bench` passes --bench to every bench binary.
    #[arg(long, hide = true)]
    bench: bool,
}

/// `target/bench-data/export-<rows>.csv`, generated once.
fn generated_file(o: &Opts) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("creating target/bench-data");
    let path = dir.join(format!("export-{}.csv", o.rows));
    if !path.exists() {
        let tmp = path.with_extension("csv.tmp");
        let cfg = exportgen::Config { rows: o.rows, seed: o.seed, bad_fraction: o.bad_fraction, ..Default::default() };
        let out = BufWriter::with_capacity(1 << 20, File::create(&tmp).expect("creating the export file"));
        let st = exportgen::generate(&cfg, out).expect("writing the export file");
        std::fs::rename(&tmp, &path).expect("renaming the export file");
        eprintln!("generated {} ({} rows, {:.1} MB)", path.display(), st.rows, st.bytes as f64 / 1e6);
    }
    path
}

/// What one pass saw (also keeps the optimiser from skipping work).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    rows: u64,
    valid: u64,
    rejected: u64,
    checksum: u64,
}

fn open(path: &Path) -> File {
    File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

/// The ceiling: csv's ByteRecord loop, reader configured as ExportReader's.
fn bare_csv(path: &Path) -> Seen {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(open(path));
    let mut rec = csv::ByteRecord::new();
    let mut seen = Seen::default();
    let mut first = true;
    while rdr.read_byte_record(&mut rec).expect("valid CSV") {
        if std::mem::take(&mut first) {
            continue; // the header
        }
        seen.rows += 1;
        seen.checksum = seen.checksum.wrapping_add(rec.as_slice().len() as u64 + rec.len() as u64);
        black_box(&rec);
    }
    seen
}

/// The floor of "build the write requests": the same DynamoDB items (same
/// attribute names, same values) built straight from the raw fields, with no
/// validation, no intermediate record and no timestamp reformatting. Whatever
/// psc-bridge does, an item as the SDK takes it (`HashMap<String,
/// AttributeValue>`, one `String` per name and per value) costs this much.
fn floor_items(path: &Path) -> Seen {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(open(path));
    let mut rec = csv::ByteRecord::new();
    let mut seen = Seen::default();
    let mut first = true;
    const NAMES: [&str; 16] = [
        "productId",
        "productCode",
        "customerGuid",
        "subscriptionGuid",
        "subscriptionStartDate",
        "organization",
        "awsAccountId",
        "givenName",
        "surname",
        "telephoneNumber",
        "email",
        "title",
        "countryCode",
        "zipCode",
        "operationTime",
        "operationType",
    ];
    let cat = |parts: &[&str]| {
        let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|p| s.push_str(p));
        AttributeValue::S(s)
    };
    while rdr.read_byte_record(&mut rec).expect("valid CSV") {
        if std::mem::take(&mut first) {
            continue;
        }
        seen.rows += 1;
        let f = |i: usize| std::str::from_utf8(rec.get(i).unwrap_or_default()).unwrap_or_default().trim();
        let sv = |v: &str| AttributeValue::S(v.to_owned());
        let guid = f(2);
        let mut item: HashMap<String, AttributeValue> = HashMap::with_capacity(24);
        item.insert("pk".to_owned(), cat(&["CONTACT#", guid]));
        item.insert("sk".to_owned(), sv("CONTACT"));
        item.insert("customerGuid".to_owned(), sv(guid));
        item.insert("operationTime".to_owned(), sv(f(14)));
        item.insert("exportRequestId".to_owned(), sv("bench-request-id"));
        if f(15) == "DELETE" {
            item.insert("kind".to_owned(), sv("DELETED"));
        } else {
            item.insert("kind".to_owned(), sv("CONTACT"));
            item.insert("gsi1pk".to_owned(), cat(&["ACCOUNT#", f(6)]));
            item.insert("gsi1sk".to_owned(), cat(&["PRODUCT#", f(1), "#SUB#", f(3), "#CONTACT#", guid]));
            item.insert("gsi2pk".to_owned(), cat(&["EMAIL#", f(10)]));
            item.insert("gsi2sk".to_owned(), sv(guid));
            for (i, name) in NAMES.iter().enumerate() {
                let v = f(i);
                if i != 2 && i != 14 && !v.is_empty() {
                    item.insert((*name).to_owned(), sv(v));
                }
            }
        }
        seen.checksum = seen.checksum.wrapping_add(item.len() as u64);
        black_box(item);
    }
    seen
}

/// What `parse_validate` does with each valid row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Items {
    None,
    Library,
}

/// psc-bridge's reader: columns mapped, every row validated.
fn parse_validate(path: &Path, items: Items) -> Seen {
    let mut reader = ExportReader::new(open(path)).expect("a valid header");
    let mut seen = Seen::default();
    while let Some(row) = reader.next_row() {
        seen.rows += 1;
        match row.expect("readable CSV") {
            Row::Valid(rec) => {
                seen.valid += 1;
                match items {
                    Items::None => black_box(rec).key.product_id.as_str().len(),
                    Items::Library => {
                        let item = contact_item(&rec, "bench-request-id");
                        seen.checksum = seen.checksum.wrapping_add(item.len() as u64);
                        black_box(item).len()
                    }
                };
            }
            Row::Rejected(r) => {
                seen.rejected += 1;
                black_box(r);
            }
        }
    }
    seen
}

/// Best wall time and best thread CPU time of `runs` passes.
fn best_of(runs: usize, mut f: impl FnMut() -> Seen) -> (Duration, f64, Seen) {
    let mut best = Duration::MAX;
    let mut best_cpu = f64::MAX;
    let mut seen = Seen::default();
    for _ in 0..runs {
        let cpu = exportgen::thread_cpu_seconds();
        let start = Instant::now();
        seen = f();
        best = best.min(start.elapsed());
        best_cpu = best_cpu.min(exportgen::thread_cpu_seconds() - cpu);
    }
    (best, best_cpu, seen)
}

fn main() {
    let mut o = <Opts as clap::Parser>::parse();
    o.runs = o.runs.max(1);
    let path = match &o.file {
        Some(p) => p.clone(),
        None => generated_file(&o),
    };
    let bytes = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).len();
    // Into the page cache, untimed.
    let mut sink = Vec::with_capacity(1 << 20);
    let mut f = open(&path);
    while f.by_ref().take(1 << 20).read_to_end(&mut sink).expect("reading the file") > 0 {
        sink.clear();
    }
    let _ = parse_validate(&path, Items::Library);

    let (t_bare, c_bare, s_bare) = best_of(o.runs, || bare_csv(&path));
    let (t_val, c_val, s_val) = best_of(o.runs, || parse_validate(&path, Items::None));
    let (t_items, c_items, s_items) = best_of(o.runs, || parse_validate(&path, Items::Library));
    let (t_floor, c_floor, _) = best_of(o.runs, || floor_items(&path));
    assert_eq!(s_bare.rows, s_items.rows, "both readers see the same rows");
    assert_eq!(s_val.valid, s_items.valid);

    let mbs = |t: f64| bytes as f64 / 1e6 / t;
    let rps = |t: f64| s_bare.rows as f64 / t;
    println!(
        "file {} : {} rows ({} valid, {} rejected), {:.1} MB; best of {} runs",
        path.display(),
        s_bare.rows,
        s_items.valid,
        s_items.rejected,
        bytes as f64 / 1e6,
        o.runs
    );
    println!(
        "{:<28} {:>9} {:>9} {:>11} {:>8} {:>9} {:>8}",
        "measurement", "wall s", "MB/s", "rows/s", "vs bare", "CPU s", "vs bare"
    );
    let lines = [
        ("bare csv ByteRecord", t_bare, c_bare),
        ("psc parse+validate", t_val, c_val),
        ("psc parse+validate+items", t_items, c_items),
        ("floor: bare csv + SDK items", t_floor, c_floor),
    ];
    for (name, t, c) in lines {
        let t = t.as_secs_f64();
        println!(
            "{name:<28} {t:>9.3} {:>9.1} {:>11.0} {:>8.2} {c:>9.3} {:>8.2}",
            mbs(t),
            rps(t),
            t_bare.as_secs_f64() / t,
            c_bare / c
        );
    }
    let ratio = t_bare.as_secs_f64() / t_items.as_secs_f64();
    let cpu_ratio = c_bare / c_items;
    println!(
        "target: parse+validate+items >= 0.50 of bare: {ratio:.2} (CPU time: {cpu_ratio:.2}) -> {}",
        if ratio >= 0.5 { "MET" } else { "NOT MET" }
    );
    let r = |v: f64| (v * 10.0).round() / 10.0;
    let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let (tb, tv, ti, tf) = (t_bare.as_secs_f64(), t_val.as_secs_f64(), t_items.as_secs_f64(), t_floor.as_secs_f64());
    let json = serde_json::json!({
        "bench": "parse-rust",
        "file": path.display().to_string(),
        "rows": s_bare.rows,
        "valid": s_items.valid,
        "rejected": s_items.rejected,
        "bytes": bytes,
        "runs": o.runs,
        "bareSec": r3(tb),
        "bareCpuSec": r3(c_bare),
        "bareMBps": r(mbs(tb)),
        "bareRowsPerSec": rps(tb).round(),
        "validateSec": r3(tv),
        "validateCpuSec": r3(c_val),
        "validateMBps": r(mbs(tv)),
        "validateRowsPerSec": rps(tv).round(),
        "itemsSec": r3(ti),
        "itemsCpuSec": r3(c_items),
        "itemsMBps": r(mbs(ti)),
        "itemsRowsPerSec": rps(ti).round(),
        "floorSec": r3(tf),
        "floorCpuSec": r3(c_floor),
        "floorMBps": r(mbs(tf)),
        "floorRowsPerSec": rps(tf).round(),
        "floorRatioToBare": r3(tb / tf),
        "ratioToBare": r3(ratio),
        "cpuRatioToBare": r3(cpu_ratio),
    });
    println!("BENCH {json}");
}
