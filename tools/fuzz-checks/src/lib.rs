//! The invariants of every parser of input that comes from outside
//! psc-bridge, one module per parser, each with one `check(&[u8])` that
//! panics when an invariant does not hold.
//!
//! Two callers: the `cargo fuzz` targets of `fuzz/` (nightly, libFuzzer),
//! which call `check` on every generated input, and this crate's tests
//! (`tests/corpora.rs`, stable, in `make test`), which replay every input of
//! the committed corpora (`fuzz/corpus/<target>/`) and the regression
//! inputs. A check asserts what the parser promises, not only that it does
//! not panic: a row is valid or rejected with its line, an error never
//! quotes a contact value, parse → serialise → parse is stable, a resumed
//! read yields the rows of one pass. `docs/reliability.md` lists them.

pub mod agreements;
pub mod api;
pub mod cas;
pub mod ec2;
pub mod export_csv;
pub mod feeds;
pub mod feeds_notice;
pub mod gate;
pub mod stream;

/// A target's check: panics when an invariant does not hold for the input.
pub type Check = fn(&[u8]);

/// Every target: its name (the folder of its corpus and the fuzz binary)
/// and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("export_csv", export_csv::check),
    ("cas_documents", cas::check),
    ("feed_csv", feeds::check),
    ("feeds_notice", feeds_notice::check),
    ("api_router", api::check),
    ("console_gate", gate::check),
    ("ec2_answer", ec2::check),
    ("agreements_answer", agreements::check),
    ("stream_record", stream::check),
];

/// Panics unless every `"; "`-separated part of `text` is a fixed
/// message: `column: rule` with a known column and rule, or one of
/// `others`, numbers aside. Only fixed texts, so no input value can be in
/// it (an error or reject reason never quotes a contact value).
pub fn assert_made_of(text: &str, columns: &[&str], rules: &[&str], others: &[&str], what: &str) {
    let known = |part: &str| {
        let part = digits_as_n(part);
        others.contains(&part.as_str())
            || part.split_once(": ").is_some_and(|(column, rule)| columns.contains(&column) && rules.contains(&rule))
    };
    assert!(!text.is_empty(), "{what} is empty");
    for part in text.split("; ") {
        assert!(known(part), "{what} has a part that is no fixed message: {part:?} (in {text:?})");
    }
}

/// `text` with each run of digits as `N`.
pub fn digits_as_n(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('N') {
                out.push('N');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One current-thread runtime per thread, for the async parsers (the
/// router, the Agreement API client).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    }
    RT.with(|rt| rt.block_on(f))
}
