//! The sync rules of R3: the watermark, stale rows, and data freshness.
//!
//! Pure functions; the DynamoDB adapter stores what they compute.

use time::{Duration, OffsetDateTime, Weekday};

use crate::domain::Timestamp;

/// The time span an export covers (its metadata's `dataSetCoverageRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Coverage {
    /// Refuses a range that ends before it starts (the guide's own sample does).
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, String> {
        if end < start {
            Err(format!("coverage ends ({end}) before it starts ({start})"))
        } else {
            Ok(Self { start, end })
        }
    }
}

/// The stored sync state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// End of the contiguous coverage applied so far; `None` before the first export.
    pub watermark: Option<Timestamp>,
    /// Coverage applied beyond a gap, waiting for the gap to close.
    pub pending: Vec<Coverage>,
    /// Optimistic-lock version of the stored item (0: no item yet).
    pub version: u64,
}

impl SyncState {
    /// The watermark, or the initial from-date before any export was applied.
    pub fn effective_watermark(&self, initial: Timestamp) -> Timestamp {
        self.watermark.unwrap_or(initial)
    }

    /// The state after an export with `coverage` was applied.
    ///
    /// An export that starts at or before the watermark advances it to its end;
    /// one that leaves a gap is kept pending and merged in once the gap closes.
    /// A coverage already pending is not added twice (an ingest killed after
    /// recording its coverage records it again when it is retried).
    pub fn with_applied(&self, coverage: Coverage, initial: Timestamp) -> SyncState {
        let mut w = self.effective_watermark(initial);
        let mut pending = self.pending.clone();
        if !pending.contains(&coverage) {
            pending.push(coverage);
        }
        // Sorted by start, one pass merges everything contiguous: each merge
        // can only make later-starting ranges contiguous.
        pending.sort_by_key(|c| (c.start, c.end));
        let mut merged = false;
        pending.retain(|c| {
            if c.start <= w {
                w = w.max(c.end);
                merged = true;
                false
            } else {
                true
            }
        });
        SyncState { watermark: if merged { Some(w) } else { self.watermark }, pending, version: self.version }
    }
}

/// A row at or before the watermark is already reflected or superseded.
pub fn is_stale(operation_time: Timestamp, watermark: Timestamp) -> bool {
    operation_time <= watermark
}

/// How old the data is, in business time: seconds that fall on Monday to
/// Friday (UTC) between the watermark and now.
pub fn business_age(watermark: Timestamp, now: Timestamp) -> Duration {
    let (from, to) = (watermark.datetime(), now.datetime());
    if to <= from {
        return Duration::ZERO;
    }
    // More than three weeks behind is stale by any count; don't loop for years.
    let from = from.max(to - Duration::weeks(3));
    let mut total = Duration::ZERO;
    let mut cursor: OffsetDateTime = from;
    while cursor < to {
        let next_midnight = (cursor.date().next_day().expect("date in range")).midnight().assume_utc();
        let end = next_midnight.min(to);
        if !matches!(cursor.weekday(), Weekday::Saturday | Weekday::Sunday) {
            total += end - cursor;
        }
        cursor = end;
    }
    total
}

/// The guide's rule: data reaches the support desk within one business day.
pub fn is_older_than_one_business_day(watermark: Timestamp, now: Timestamp) -> bool {
    business_age(watermark, now) > Duration::hours(24)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }
    fn cov(a: &str, b: &str) -> Coverage {
        Coverage::new(t(a), t(b)).unwrap()
    }
    const INITIAL: &str = "2010-01-01T00:00:00.000Z";

    #[test]
    fn first_full_export_sets_the_watermark() {
        let s = SyncState::default().with_applied(cov(INITIAL, "2020-01-01T00:00:00.000Z"), t(INITIAL));
        assert_eq!(s.watermark, Some(t("2020-01-01T00:00:00.000Z")));
        assert!(s.pending.is_empty());
    }

    #[test]
    fn contiguous_exports_advance_a_gap_does_not() {
        let initial = t(INITIAL);
        let s = SyncState::default().with_applied(cov(INITIAL, "2020-01-01T00:00:00.000Z"), initial);
        // Overlapping start: advances.
        let s = s.with_applied(cov("2019-12-31T00:00:00.000Z", "2020-01-02T00:00:00.000Z"), initial);
        assert_eq!(s.watermark, Some(t("2020-01-02T00:00:00.000Z")));
        // Gap: applied, kept pending, watermark unchanged.
        let s = s.with_applied(cov("2020-01-05T00:00:00.000Z", "2020-01-06T00:00:00.000Z"), initial);
        assert_eq!(s.watermark, Some(t("2020-01-02T00:00:00.000Z")));
        assert_eq!(s.pending, vec![cov("2020-01-05T00:00:00.000Z", "2020-01-06T00:00:00.000Z")]);
        // Another beyond the gap, then the gap closes: everything merges.
        let s = s.with_applied(cov("2020-01-06T00:00:00.000Z", "2020-01-07T00:00:00.000Z"), initial);
        assert_eq!(s.pending.len(), 2);
        let s = s.with_applied(cov("2020-01-02T00:00:00.000Z", "2020-01-05T00:00:00.000Z"), initial);
        assert_eq!(s.watermark, Some(t("2020-01-07T00:00:00.000Z")));
        assert!(s.pending.is_empty());
    }

    #[test]
    fn the_same_coverage_recorded_twice_beyond_a_gap_is_pending_once() {
        // Found by tests/properties of ingest-export: an ingest killed after
        // recording its coverage, retried, records it again.
        let initial = t(INITIAL);
        let gap = cov("2020-01-05T00:00:00.000Z", "2020-01-06T00:00:00.000Z");
        let s = SyncState::default().with_applied(gap, initial).with_applied(gap, initial);
        assert_eq!((s.watermark, s.pending), (None, vec![gap]));
    }

    #[test]
    fn an_old_export_never_moves_the_watermark_back() {
        let initial = t(INITIAL);
        let s = SyncState { watermark: Some(t("2020-01-10T00:00:00.000Z")), ..Default::default() };
        let s = s.with_applied(cov("2020-01-01T00:00:00.000Z", "2020-01-02T00:00:00.000Z"), initial);
        assert_eq!(s.watermark, Some(t("2020-01-10T00:00:00.000Z")));
    }

    #[test]
    fn an_export_with_a_gap_before_any_watermark_leaves_it_unset() {
        let initial = t(INITIAL);
        let s = SyncState::default().with_applied(cov("2020-01-05T00:00:00.000Z", "2020-01-06T00:00:00.000Z"), initial);
        assert_eq!(s.watermark, None);
        assert_eq!(s.pending.len(), 1);
        let s = s.with_applied(cov(INITIAL, "2020-01-05T00:00:00.000Z"), initial);
        assert_eq!(s.watermark, Some(t("2020-01-06T00:00:00.000Z")));
    }

    #[test]
    fn rows_at_or_before_the_watermark_are_stale() {
        let w = t("2020-01-01T00:00:00.000Z");
        assert!(is_stale(t("2019-12-31T23:59:59.999Z"), w));
        assert!(is_stale(w, w));
        assert!(!is_stale(t("2020-01-01T00:00:00.001Z"), w));
    }

    #[test]
    fn business_age_skips_weekends() {
        // Friday 17:00 to Monday 17:00: one business day exactly, not stale.
        let fri = t("2026-11-20T17:00:00.000Z");
        let mon = t("2026-11-23T17:00:00.000Z");
        assert_eq!(business_age(fri, mon), Duration::hours(24));
        assert!(!is_older_than_one_business_day(fri, mon));
        assert!(is_older_than_one_business_day(fri, t("2026-11-23T17:00:01.000Z")));
        // Saturday to Sunday: no business time at all.
        assert_eq!(business_age(t("2026-11-21T01:00:00.000Z"), t("2026-11-22T23:00:00.000Z")), Duration::ZERO);
        // Tuesday 09:00 to Wednesday 09:30: 24.5 hours, stale.
        assert!(is_older_than_one_business_day(t("2026-11-24T09:00:00.000Z"), t("2026-11-25T09:30:00.000Z")));
        // A watermark in the future is not old.
        assert_eq!(business_age(mon, fri), Duration::ZERO);
        // Years behind: capped, still stale, and quick.
        assert!(is_older_than_one_business_day(t(INITIAL), mon));
    }
}
