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
pub mod gate;
pub mod stream;

/// Every target: its name (the folder of its corpus and the fuzz binary)
/// and its check.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("export_csv", export_csv::check),
    ("cas_documents", cas::check),
    ("feed_csv", feeds::check),
    ("api_router", api::check),
    ("console_gate", gate::check),
    ("ec2_answer", ec2::check),
    ("agreements_answer", agreements::check),
    ("stream_record", stream::check),
];

/// Shortest input value an error text is checked not to quote: shorter
/// ones ("a", "US") occur in the rule texts themselves by chance.
pub const MIN_LEAK_LEN: usize = 6;

/// Panics when `text` quotes one of `values` (trimmed, at least
/// [`MIN_LEAK_LEN`] bytes) unless `allowed` (the rule texts, column names)
/// holds it anyway.
pub fn assert_no_value_in(text: &str, values: &[&str], allowed: &str, what: &str) {
    for v in values {
        let v = v.trim();
        if v.len() >= MIN_LEAK_LEN && text.contains(v) && !allowed.contains(v) {
            panic!("{what} quotes an input value: {text:?} contains {v:?}");
        }
    }
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
