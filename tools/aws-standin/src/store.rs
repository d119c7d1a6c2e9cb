//! The stand-in's store of contact records, with history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::record::{Contact, OperationType, Record, guide_sample_records, truncate_to_millis};

/// Errors of [`Store`] operations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("no record with customer guid {0}")]
    UnknownCustomerGuid(String),
}

#[derive(Default)]
struct Inner {
    /// Customer guids in the order they were first seen (the export's row order).
    order: Vec<String>,
    /// Every state of each record, sorted by operation time (ties: insertion order).
    history: HashMap<String, Vec<Record>>,
}

/// A shared, cloneable handle to the contact records the stand-in exports.
///
/// Each Customer Guid keeps its full history of states, so an export can pick the latest state
/// within its coverage window. Operation times are truncated to milliseconds (the precision of
/// the CSV).
#[derive(Clone, Default)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store seeded with the guide's static test data set (its six sample rows).
    pub fn with_guide_data() -> Self {
        let store = Self::new();
        store.seed_guide_data();
        store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the guide's six sample rows (as raw [`Store::insert`]s).
    pub fn seed_guide_data(&self) {
        for r in guide_sample_records() {
            self.insert(r);
        }
    }

    /// Removes every record.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// Appends one state exactly as given (operation type and time included). Returns the stored
    /// record (operation time truncated to milliseconds).
    pub fn insert(&self, mut record: Record) -> Record {
        record.operation_time = truncate_to_millis(record.operation_time);
        let mut inner = self.lock();
        let guid = record.customer_guid.clone();
        if !inner.history.contains_key(&guid) {
            inner.order.push(guid.clone());
        }
        let history = inner.history.entry(guid).or_default();
        let pos = history.partition_point(|r| r.operation_time <= record.operation_time);
        history.insert(pos, record.clone());
        record
    }

    /// Creates or updates a contact at `at` (default: now). The operation type is derived:
    /// CREATE when the guid has no state at or before `at` or its state then is a DELETE,
    /// UPDATE otherwise.
    pub fn upsert(&self, contact: Contact, at: Option<OffsetDateTime>) -> Record {
        let at = truncate_to_millis(at.unwrap_or_else(OffsetDateTime::now_utc));
        let op = match self.state_at(&contact.customer_guid, at) {
            Some(r) if r.operation_type != OperationType::Delete => OperationType::Update,
            _ => OperationType::Create,
        };
        self.insert(Record::from_contact(contact, at, op))
    }

    /// Deletes a contact at `at` (default: now): appends a DELETE state carrying only the
    /// identifiers of its latest state.
    pub fn delete(&self, customer_guid: &str, at: Option<OffsetDateTime>) -> Result<Record, StoreError> {
        let at = truncate_to_millis(at.unwrap_or_else(OffsetDateTime::now_utc));
        let base = self
            .state_at(customer_guid, at)
            .or_else(|| self.latest(customer_guid))
            .ok_or_else(|| StoreError::UnknownCustomerGuid(customer_guid.to_string()))?;
        let mut record = base.identifiers_only();
        record.operation_time = at;
        record.operation_type = OperationType::Delete;
        Ok(self.insert(record))
    }

    /// The latest state of one record at or before `at`.
    pub fn state_at(&self, customer_guid: &str, at: OffsetDateTime) -> Option<Record> {
        let inner = self.lock();
        inner.history.get(customer_guid)?.iter().rev().find(|r| r.operation_time <= at).cloned()
    }

    /// The latest state of one record.
    pub fn latest(&self, customer_guid: &str) -> Option<Record> {
        self.lock().history.get(customer_guid)?.last().cloned()
    }

    /// Every state of one record, oldest first (empty when unknown).
    pub fn history(&self, customer_guid: &str) -> Vec<Record> {
        self.lock().history.get(customer_guid).cloned().unwrap_or_default()
    }

    /// The latest state of every record (DELETE states included), in first-seen order.
    pub fn latest_all(&self) -> Vec<Record> {
        let inner = self.lock();
        inner.order.iter().filter_map(|g| inner.history.get(g).and_then(|h| h.last()).cloned()).collect()
    }

    /// Number of distinct Customer Guids.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows of an export covering `[from, end]` (see [`select_export_row`]), in first-seen
    /// order of their Customer Guids.
    pub fn export_rows(&self, from: OffsetDateTime, end: OffsetDateTime) -> Vec<Record> {
        let inner = self.lock();
        inner.order.iter().filter_map(|g| inner.history.get(g).and_then(|h| select_export_row(h, from, end))).collect()
    }
}

/// The row one record contributes to an export covering `[from, end]`, given its history sorted by
/// operation time; `None` when it has not changed in that window.
///
/// - The state exported is the latest one with operation time <= `end`; it is exported only if its
///   operation time is >= `from`. Its details and operation time are written.
/// - Operation type, as the guide describes: DELETE if that state is a delete; otherwise CREATE if
///   the record was created (a CREATE state) within `[from, that state's time]`, else UPDATE.
pub fn select_export_row(history: &[Record], from: OffsetDateTime, end: OffsetDateTime) -> Option<Record> {
    let latest = history.iter().rev().find(|r| r.operation_time <= end)?;
    if latest.operation_time < from {
        return None;
    }
    let mut row = latest.clone();
    match latest.operation_type {
        OperationType::Delete => Some(row.identifiers_only()),
        _ => {
            let created_in_window = history.iter().any(|r| {
                r.operation_type == OperationType::Create
                    && r.operation_time >= from
                    && r.operation_time <= latest.operation_time
            });
            row.operation_type = if created_in_window { OperationType::Create } else { latest.operation_type };
            Some(row)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn contact(guid: &str, name: &str) -> Contact {
        Contact {
            product_id: "4b898955-84fa-4cfb-8f43-98287ad69c06".into(),
            product_code: "4gzp2symm0v9zidfrn9f854w6".into(),
            customer_guid: guid.into(),
            subscription_guid: "cad371fb-6f2c-4537-a054-1a7afc6312fd".into(),
            subscription_start_date: "2020-01-01T00:00:00.000Z".into(),
            organization: Some("Org".into()),
            aws_customer_id: "000011112222".into(),
            given_name: Some(name.into()),
            surname: Some("S".into()),
            telephone_number: Some("555".into()),
            email: Some("a@example.com".into()),
            ..Default::default()
        }
    }

    #[test]
    fn upsert_derives_create_then_update_and_delete_keeps_identifiers() {
        let s = Store::new();
        let a = s.upsert(contact("g1", "A"), Some(datetime!(2020-01-01 00:00 UTC)));
        assert_eq!(a.operation_type, OperationType::Create);
        let b = s.upsert(contact("g1", "B"), Some(datetime!(2020-01-02 00:00 UTC)));
        assert_eq!(b.operation_type, OperationType::Update);
        let d = s.delete("g1", Some(datetime!(2020-01-03 00:00 UTC))).unwrap();
        assert_eq!(d.operation_type, OperationType::Delete);
        assert_eq!(d.given_name, None);
        assert_eq!(d.email, None);
        assert_eq!(d.aws_customer_id, "000011112222");
        let c = s.upsert(contact("g1", "C"), Some(datetime!(2020-01-04 00:00 UTC)));
        assert_eq!(c.operation_type, OperationType::Create);
        assert_eq!(s.history("g1").len(), 4);
        assert_eq!(s.delete("nope", None), Err(StoreError::UnknownCustomerGuid("nope".into())));
    }

    #[test]
    fn out_of_order_inserts_keep_history_sorted() {
        let s = Store::new();
        s.upsert(contact("g1", "late"), Some(datetime!(2020-01-05 00:00 UTC)));
        s.insert(Record::from_contact(contact("g1", "early"), datetime!(2020-01-01 00:00 UTC), OperationType::Create));
        assert_eq!(s.latest("g1").unwrap().given_name.as_deref(), Some("late"));
        assert_eq!(s.history("g1")[0].given_name.as_deref(), Some("early"));
    }

    #[test]
    fn export_follows_the_guides_create_update_delete_rules() {
        let s = Store::new();
        s.upsert(contact("g1", "A"), Some(datetime!(2020-01-01 00:00 UTC))); // CREATE
        s.upsert(contact("g1", "B"), Some(datetime!(2020-01-10 00:00 UTC))); // UPDATE
        s.upsert(contact("g2", "X"), Some(datetime!(2020-01-01 00:00 UTC))); // CREATE
        s.delete("g2", Some(datetime!(2020-01-05 00:00 UTC))).unwrap();
        let end = datetime!(2020-02-01 00:00 UTC);

        // from before the creation: one CREATE with the latest details; create+delete: DELETE only.
        let rows = s.export_rows(datetime!(2019-01-01 00:00 UTC), end);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].operation_type, rows[0].given_name.as_deref()), (OperationType::Create, Some("B")));
        assert_eq!(rows[0].operation_time, datetime!(2020-01-10 00:00 UTC));
        assert_eq!(rows[1].operation_type, OperationType::Delete);
        assert_eq!(rows[1].given_name, None);

        // from between creation and update: UPDATE.
        let rows = s.export_rows(datetime!(2020-01-02 00:00 UTC), end);
        assert_eq!(rows[0].operation_type, OperationType::Update);

        // from after the update: nothing for g1.
        let rows = s.export_rows(datetime!(2020-01-11 00:00 UTC), end);
        assert!(rows.is_empty());

        // end before the update: the earlier state (lag window hides the later one).
        let rows = s.export_rows(datetime!(2019-01-01 00:00 UTC), datetime!(2020-01-09 00:00 UTC));
        assert_eq!(rows[0].given_name.as_deref(), Some("A"));
        assert_eq!(rows[1].operation_type, OperationType::Delete);

        // bounds are inclusive on both ends.
        let at = datetime!(2020-01-10 00:00 UTC);
        assert_eq!(s.export_rows(at, at).len(), 1);
    }

    #[test]
    fn guide_data_latest_state_wins() {
        let s = Store::with_guide_data();
        assert_eq!(s.len(), 5);
        let rows = s.export_rows(datetime!(2000-01-01 00:00 UTC), datetime!(2030-01-01 00:00 UTC));
        assert_eq!(rows.len(), 5);
        let shared = rows.iter().find(|r| r.customer_guid.starts_with("1b4a2b5f")).unwrap();
        assert_eq!(shared.operation_type, OperationType::Create);
        assert_eq!(shared.given_name.as_deref(), Some("Angela"));
        // between the DELETE (04-22) and the CREATE (05-19) of that guid the DELETE is the state.
        let rows = s.export_rows(datetime!(2016-04-01 00:00 UTC), datetime!(2016-05-01 00:00 UTC));
        let shared = rows.iter().find(|r| r.customer_guid.starts_with("1b4a2b5f")).unwrap();
        assert_eq!(shared.operation_type, OperationType::Delete);
    }
}
