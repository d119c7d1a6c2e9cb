//! Progress lines: `psc-local [  12.3s] what is happening`.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

/// Starts the clock the progress lines show (the first call wins).
pub fn start_clock() {
    START.get_or_init(Instant::now);
}

/// Seconds since [`start_clock`].
pub fn elapsed_secs() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// The prefix of a progress line.
pub fn prefix() -> String {
    format!("psc-local [{:6.1}s]", elapsed_secs())
}

/// Prints one progress line on stdout, flushed (the output may be a pipe).
pub fn say(msg: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    for (i, line) in msg.as_ref().lines().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "{} {line}", prefix());
        } else {
            let _ = writeln!(out, "{:w$} {line}", "", w = prefix().len());
        }
    }
    let _ = out.flush();
}

/// Prints text as is on stdout, flushed.
pub fn print(msg: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", msg.as_ref());
    let _ = out.flush();
}

/// Prints an error line on stderr.
pub fn error(msg: impl AsRef<str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} error: {}", prefix(), msg.as_ref());
    let _ = err.flush();
}

/// Indents every line of `text` by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    text.lines().map(|l| format!("{:n$}{l}", "")).collect::<Vec<_>>().join("\n")
}
