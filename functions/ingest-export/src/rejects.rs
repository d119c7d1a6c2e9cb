//! The rejects report: one CSV line per rejected row (its line, the reason
//! and non-personal identifiers only), beside the export in S3. An export
//! applied across checkpoints leaves one part per segment, joined when it
//! ends.

use std::io::{BufWriter, Write};

use psc_bridge::export_csv::Reject;
use psc_bridge::notification::S3Location;
use psc_bridge::ports::ObjectStore;
use tempfile::NamedTempFile;

use crate::error::{ApplyError, IngestError};

/// Header of the rejects report: line, reason and non-personal identifiers only.
pub const REJECTS_HEADER: [&str; 7] =
    ["line", "reason", "customerGuid", "subscriptionGuid", "productCode", "awsAccountId", "operationType"];

/// A part of a rejects report is a segment's rejects: small.
const MAX_REJECTS_PART_BYTES: usize = 256 << 20;

/// The rejects report sits beside the export: `<export key>.rejects.csv`.
pub fn rejects_key(data_set_key: &str) -> String {
    format!("{data_set_key}.rejects.csv")
}

/// A part of the rejects report of an export applied across checkpoints:
/// the rejects of the segment that starts at `line`. The name is the same
/// for a segment applied twice (a duplicate continuation), so the part is
/// written over, never counted twice.
pub fn rejects_part_key(data_set_key: &str, line: u64) -> String {
    format!("{data_set_key}.rejects.part-{line:012}.csv")
}

/// The rejects of one segment, in a temporary file created at the first.
#[derive(Default)]
pub(crate) struct RejectsFile {
    writer: Option<csv::Writer<BufWriter<NamedTempFile>>>,
}

impl RejectsFile {
    pub(crate) fn add(&mut self, r: &Reject) -> Result<(), ApplyError> {
        let io = |e: &dyn std::fmt::Display| ApplyError::Rejects(e.to_string());
        if self.writer.is_none() {
            let file = NamedTempFile::new().map_err(|e| io(&e))?;
            let mut w = csv::Writer::from_writer(BufWriter::new(file));
            w.write_record(REJECTS_HEADER).map_err(|e| io(&e))?;
            self.writer = Some(w);
        }
        let w = self.writer.as_mut().expect("created above");
        let opt = |v: Option<&str>| v.unwrap_or("").to_owned();
        w.write_record([
            r.line.to_string(),
            r.reason.clone(),
            opt(r.customer_guid.as_ref().map(|g| g.as_str())),
            opt(r.subscription_guid.as_ref().map(|g| g.as_str())),
            opt(r.product_code.as_ref().map(|g| g.as_str())),
            opt(r.aws_account_id.as_ref().map(|g| g.as_str())),
            opt(r.operation_type.map(|o| o.as_str())),
        ])
        .map_err(|e| io(&e))
    }

    /// The file, when a row was rejected.
    pub(crate) fn finish(self) -> Result<Option<NamedTempFile>, ApplyError> {
        let Some(w) = self.writer else { return Ok(None) };
        let mut buf = w.into_inner().map_err(|e| ApplyError::Rejects(e.to_string()))?;
        buf.flush().map_err(|e| ApplyError::Rejects(e.to_string()))?;
        let file = buf.into_inner().map_err(|e| ApplyError::Rejects(e.to_string()))?;
        Ok(Some(file))
    }
}

/// Where the rejects of export `request_id` (data set `data_set`) go.
pub(crate) struct Report<'a, O> {
    pub objects: &'a O,
    pub request_id: &'a str,
    pub data_set: &'a S3Location,
}

impl<O: ObjectStore> Report<'_, O> {
    fn failed(&self, detail: String) -> IngestError {
        IngestError::RejectsReport { request_id: self.request_id.to_owned(), detail }
    }

    fn beside(&self, key: String) -> S3Location {
        S3Location { bucket_name: self.data_set.bucket_name.clone(), key }
    }

    /// Uploads the rejects of the segment that starts at `line` as a part;
    /// returns its key.
    pub async fn put_part(&self, line: u64, file: &NamedTempFile) -> Result<String, IngestError> {
        let loc = self.beside(rejects_part_key(&self.data_set.key, line));
        self.objects.put_file(&loc, file.path(), "text/csv").await.map_err(|e| self.failed(e.to_string()))?;
        Ok(loc.key)
    }

    /// Uploads the whole report, from the parts (in file order) and the
    /// last segment's rejects; returns its URI, or `None` without rejects.
    pub async fn put(&self, parts: &[String], last: Option<NamedTempFile>) -> Result<Option<String>, IngestError> {
        let file = match (parts.is_empty(), last) {
            (true, None) => return Ok(None),
            (true, Some(file)) => file,
            (false, last) => self.join(parts, last).await?,
        };
        let loc = self.beside(rejects_key(&self.data_set.key));
        self.objects.put_file(&loc, file.path(), "text/csv").await.map_err(|e| self.failed(e.to_string()))?;
        Ok(Some(loc.uri()))
    }

    /// The parts (each with its header), in file order, then the last
    /// segment's rejects, under one header.
    async fn join(&self, parts: &[String], last: Option<NamedTempFile>) -> Result<NamedTempFile, IngestError> {
        let mut out = NamedTempFile::new().map_err(|e| self.failed(e.to_string()))?;
        writeln!(out, "{}", REJECTS_HEADER.join(",")).map_err(|e| self.failed(e.to_string()))?;
        let mut append = |bytes: &[u8]| -> Result<(), IngestError> {
            // Every part starts with the header line.
            let body = bytes.splitn(2, |b| *b == b'\n').nth(1).unwrap_or_default();
            out.write_all(body).map_err(|e| self.failed(e.to_string()))
        };
        for key in parts {
            let loc = self.beside(key.clone());
            match self.objects.read_small(&loc, MAX_REJECTS_PART_BYTES).await {
                Ok(Some(bytes)) => append(&bytes)?,
                Ok(None) => return Err(self.failed(format!("the rejects part {} is larger than 256 MiB", loc.uri()))),
                Err(source) => return Err(IngestError::S3 { uri: loc.uri(), source }),
            }
        }
        if let Some(file) = last {
            let bytes = std::fs::read(file.path()).map_err(|e| self.failed(e.to_string()))?;
            append(&bytes)?;
        }
        out.flush().map_err(|e| self.failed(e.to_string()))?;
        Ok(out)
    }
}
