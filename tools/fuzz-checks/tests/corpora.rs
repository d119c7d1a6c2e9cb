//! Replays every committed input of the fuzz corpora (`fuzz/corpus/<target>/`)
//! and of the regression folder (`fuzz/regressions/<target>/`, the inputs of
//! the crashes fuzzing found) through each target's check, on stable, so CI
//! checks them without fuzzing (docs/reliability.md).

use std::path::PathBuf;

fn inputs(folder: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(folder).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a corpus file");
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_has_a_seed_corpus() {
    for (target, _) in fuzz_checks::TARGETS {
        assert!(!inputs("corpus", target).is_empty(), "fuzz/corpus/{target}/ is empty");
    }
}

#[test]
fn the_corpora_and_the_regressions_keep_every_invariant() {
    for (target, check) in fuzz_checks::TARGETS {
        for folder in ["corpus", "regressions"] {
            for (path, bytes) in inputs(folder, target) {
                let outcome = std::panic::catch_unwind(|| check(&bytes));
                assert!(outcome.is_ok(), "{target}: {} breaks an invariant", path.display());
            }
        }
    }
}

/// The Agreement API seeds are real answers (CBOR the SDK reads), not
/// bytes it refuses at once: else fuzzing them would explore only errors.
#[test]
fn the_agreement_seeds_read_as_agreements() {
    let seed =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/agreements_answer/one-page"))
            .expect("the seed");
    let (result, calls) = fuzz_checks::agreements::search(200, &seed[1..]);
    let agreements = result.expect("the seed reads");
    assert_eq!((agreements.len(), calls), (1, 1));
    let a = &agreements[0];
    assert_eq!(a.acceptor.as_ref().map(|a| a.as_str()), Some("000011112222"));
    assert_eq!((a.product_id.as_deref(), a.status.as_str()), (Some("prod-123"), "ACTIVE"));
    let seed =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/agreements_answer/throttled"))
            .expect("the seed");
    let (result, _) = fuzz_checks::agreements::search(400, &seed[1..]);
    let e = result.expect_err("a throttled answer");
    assert!(e.is_throttling() && e.retryable, "{e}");
}
