//! Cold start of the function binaries: the time from spawning the process to
//! its first `GET /2018-06-01/runtime/invocation/next` on a fake Lambda
//! Runtime API (a small HTTP server in this program, passed to the child as
//! `AWS_LAMBDA_RUNTIME_API`). That span is the function's init: config, SDK
//! setup and the DynamoDB warm-up. A measurement, not a test.
//!
//!     functions/eligibility-api/benches/run.sh   (release build of the functions, then this)
//!     cargo run -q --bin with-emulators -- cargo bench -p eligibility-api --bench cold_start
//!
//! Binaries: `target/release/<binary>` for every function of template.yaml
//! (devkit's [`devkit::functions`]), or the paths given as arguments after
//! `--`. Env: `BENCH_RUNS` (default 30).
//!
//! Each run gives the child the environment Lambda would (function name,
//! memory, version, region, credentials) plus every variable the functions
//! read, with `AWS_ENDPOINT_URL` pointing at DynamoDB Local, so the
//! warm-up `DescribeTable` really goes out and comes back during init.
//! A second, short pass points `AWS_ENDPOINT_URL` at the fake server itself
//! to check that a DynamoDB request is made *before* the first `next`
//! (the warm-up happens during init, not on the first lookup).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// What the fake server saw.
#[derive(Debug)]
enum Seen {
    Next(Instant),
    /// A request to the DynamoDB endpoint (second pass), by its X-Amz-Target.
    Aws(String),
    InitError(String),
}

/// A fake Lambda Runtime API (and, for the second pass, a fake AWS endpoint
/// that answers every call with an error). `next` is never answered: the
/// child waits until it is killed.
fn fake_server() -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            if let Some(s) = handle(stream, &tx) {
                held.push(s); // keep `next` open
                if held.len() > 64 {
                    held.remove(0);
                }
            }
        }
    });
    (addr, rx)
}

fn handle(stream: TcpStream, tx: &mpsc::Sender<Seen>) -> Option<TcpStream> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let now = Instant::now();
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut target = String::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("x-amz-target:") {
            target = v.trim().to_owned();
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    if method == "GET" && path.starts_with(NEXT) {
        let _ = tx.send(Seen::Next(now));
        return Some(stream);
    }
    if path.contains("/init/error") {
        let _ = tx.send(Seen::InitError(String::from_utf8_lossy(&body).into_owned()));
        let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return None;
    }
    let _ = tx.send(Seen::Aws(target));
    let err = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"fake"}"#;
    let _ = write!(
        stream,
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        err.len()
    );
    let _ = stream.write_all(err);
    None
}

fn spawn(bin: &Path, name: &str, runtime_api: &str, aws_endpoint: &str, table: &str, home: &Path) -> Child {
    Command::new(bin)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .env("AWS_SESSION_TOKEN", "bench-token")
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("TABLE_NAME", table)
        .env("METRICS_NAMESPACE", "PscBridgeBench")
        .env("CAS_ROLE_ARN", "arn:aws:iam::123456789012:role/psc-bridge-cas")
        .env("EXPORT_BUCKET", "psc-bridge-bench-exports")
        .env("FEEDS_BUCKET", "psc-bridge-bench-feeds")
        .env("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:psc-bridge-bench")
        .env("EVENT_BUS_NAME", "psc-bridge-bench-events")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()))
}

enum Run {
    Ready { init: Duration, aws_before_next: Vec<String> },
    Exited(String),
    InitError(String),
    Timeout,
}

fn one_run(
    bin: &Path,
    name: &str,
    addr: &str,
    endpoint: &str,
    table: &str,
    home: &Path,
    rx: &mpsc::Receiver<Seen>,
) -> Run {
    while rx.try_recv().is_ok() {}
    let start = Instant::now();
    let mut child = spawn(bin, name, addr, endpoint, table, home);
    let mut aws = Vec::new();
    let deadline = start + Duration::from_secs(10);
    let outcome = loop {
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(Seen::Next(at)) => break Run::Ready { init: at - start, aws_before_next: aws },
            Ok(Seen::Aws(target)) => aws.push(target),
            Ok(Seen::InitError(body)) => break Run::InitError(body),
            Err(_) => {
                if let Ok(Some(status)) = child.try_wait() {
                    break Run::Exited(format!("exited ({status}) without asking for an event"));
                }
                if Instant::now() > deadline {
                    break Run::Timeout;
                }
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize]
}

/// Cold starts of the function binaries (`cargo bench --bench cold_start -- --help`).
#[derive(clap::Parser)]
struct Args {
    /// Binaries to start; without any, every function of template.yaml from target/release.
    binaries: Vec<PathBuf>,
    /// `cargo bench` passes --bench to every bench binary.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let args = <Args as clap::Parser>::parse().binaries;
    let binaries: Vec<(String, PathBuf)> = if args.is_empty() {
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let functions = devkit::functions().expect("the functions of template.yaml");
        functions.into_iter().map(|f| (f.binary.clone(), target.join("release").join(&f.binary))).collect()
    } else {
        args.iter()
            .map(|p| {
                let p = p.clone();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, p)
            })
            .collect()
    };

    // DynamoDB Local and a table, so the warm-up succeeds as in AWS.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (endpoint, table) = rt.block_on(async {
        let emu = devkit::Emulators::get().await;
        let ddb = emu.dynamodb_client();
        let table = devkit::unique_name("bench-cold");
        devkit::create_table_from_template(&ddb, &table).await.expect("table");
        (emu.dynamodb_endpoint().to_owned(), table)
    });
    let home = tempfile_dir();
    let (addr, rx) = fake_server();
    let fake_endpoint = format!("http://{addr}");

    println!("\ncold start: process spawn -> first GET {NEXT}, {runs} runs each, DynamoDB Local at {endpoint}\n");
    println!("| function | binary | size | min ms | p50 ms | p90 ms | max ms | DynamoDB call before first `next` |");
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for (name, bin) in &binaries {
        let rel = bin.strip_prefix(&root).unwrap_or(bin).display().to_string();
        let Ok(meta) = std::fs::metadata(bin) else {
            println!("| {name} | {rel} | - | - | - | - | - | not built |");
            continue;
        };
        let size = format!("{:.1} MB", meta.len() as f64 / 1_000_000.0);
        // Warm the page cache: we measure init, not the disk.
        let _ = std::fs::read(bin);
        let mut samples = Vec::new();
        let mut problem = None;
        for _ in 0..runs {
            match one_run(bin, name, &addr, &endpoint, &table, &home, &rx) {
                Run::Ready { init, .. } => samples.push(init),
                Run::Exited(m) => problem = Some(m),
                Run::InitError(m) => problem = Some(format!("init error: {m}")),
                Run::Timeout => problem = Some("no `next` within 10 s".into()),
            }
            if problem.is_some() {
                break;
            }
        }
        if let Some(p) = problem {
            println!("| {name} | {rel} | {size} | - | - | - | - | {p} |");
            continue;
        }
        // Second pass: is DynamoDB called during init?
        let warm = match one_run(bin, name, &addr, &fake_endpoint, &table, &home, &rx) {
            Run::Ready { aws_before_next, .. } if aws_before_next.is_empty() => "no".to_owned(),
            Run::Ready { aws_before_next, .. } => format!("yes: {}", aws_before_next.join(", ")),
            _ => "?".to_owned(),
        };
        samples.sort();
        println!(
            "| {name} | {rel} | {size} | {:.1} | {:.1} | {:.1} | {:.1} | {warm} |",
            ms(samples[0]),
            ms(pct(&samples, 50.0)),
            ms(pct(&samples, 90.0)),
            ms(*samples.last().unwrap())
        );
    }
    println!(
        "\ntarget: at most 50 ms. Locally the DynamoDB connection is plain HTTP; in AWS the warm-up also pays the TLS handshake, during init."
    );
    let _ = std::fs::remove_dir_all(&home);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psc-bench-home-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
