//! The export bucket: [`ObjectStore`] implemented on the S3 client itself
//! (the bucket comes with each location).

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;

use crate::aws::error::{AwsError, Failure};
use crate::domain::Timestamp;
use crate::notification::S3Location;
use crate::ports::{Listed, ObjectReader, ObjectStore, Opened};

const SERVICE: &str = "S3";

fn s3_error<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> AwsError {
    move |e| AwsError::from_sdk(SERVICE, operation, &e)
}

impl ObjectStore for aws_sdk_s3::Client {
    async fn read_small(&self, loc: &S3Location, max_bytes: usize) -> Result<Option<Vec<u8>>, AwsError> {
        let out =
            self.get_object().bucket(&loc.bucket_name).key(&loc.key).send().await.map_err(s3_error("GetObject"))?;
        if out.content_length().unwrap_or(0) as usize > max_bytes {
            return Ok(None);
        }
        let bytes = out.body.collect().await.map_err(|e| {
            AwsError::local(SERVICE, "GetObject", Failure::BadResponse, format!("reading the body: {e}"))
        })?;
        let bytes = bytes.into_bytes();
        Ok((bytes.len() <= max_bytes).then(|| bytes.to_vec()))
    }

    async fn open(&self, loc: &S3Location) -> Result<ObjectReader, AwsError> {
        let out =
            self.get_object().bucket(&loc.bucket_name).key(&loc.key).send().await.map_err(s3_error("GetObject"))?;
        Ok(Box::new(tokio_util::io::SyncIoBridge::new(out.body.into_async_read())))
    }

    async fn open_from(&self, loc: &S3Location, from: u64) -> Result<Opened, AwsError> {
        let mut req = self.get_object().bucket(&loc.bucket_name).key(&loc.key);
        if from > 0 {
            req = req.range(format!("bytes={from}-"));
        }
        match req.send().await {
            Ok(out) => {
                // `bytes <first>-<last>/<size>` on a ranged answer.
                let size = out
                    .content_range()
                    .and_then(|r| r.rsplit_once('/'))
                    .and_then(|(_, size)| size.parse().ok())
                    .unwrap_or_else(|| from + out.content_length().unwrap_or(0).max(0) as u64);
                Ok(Opened { reader: Box::new(tokio_util::io::SyncIoBridge::new(out.body.into_async_read())), size })
            }
            // A range that starts at or past the end: nothing left to read.
            Err(e) if from > 0 && e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                Ok(Opened { reader: Box::new(std::io::empty()), size: from })
            }
            Err(e) => Err(s3_error("GetObject")(e)),
        }
    }

    async fn read_head(&self, loc: &S3Location, len: u64) -> Result<Vec<u8>, AwsError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let out = self
            .get_object()
            .bucket(&loc.bucket_name)
            .key(&loc.key)
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await
            .map_err(s3_error("GetObject"))?;
        let bytes = out.body.collect().await.map_err(|e| {
            AwsError::local(SERVICE, "GetObject", Failure::BadResponse, format!("reading the body: {e}"))
        })?;
        let mut bytes = bytes.into_bytes().to_vec();
        bytes.truncate(len as usize);
        Ok(bytes)
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, AwsError> {
        let mut pages = self.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(s3_error("ListObjectsV2"))?;
            for o in page.contents() {
                let (Some(key), Some(modified)) = (o.key(), o.last_modified()) else { continue };
                let last_modified = Timestamp::from_unix_seconds(modified.secs()).map_err(|e| {
                    AwsError::local(SERVICE, "ListObjectsV2", Failure::BadResponse, format!("LastModified {e}"))
                })?;
                out.push(Listed {
                    key: key.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().unwrap_or_default().to_owned(),
                    last_modified,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn put_file(&self, loc: &S3Location, path: &Path, content_type: &str) -> Result<(), AwsError> {
        let body = ByteStream::from_path(path).await.map_err(|e| {
            AwsError::local(SERVICE, "PutObject", Failure::BadRequest, format!("reading the local file: {e}"))
        })?;
        self.put_object()
            .bucket(&loc.bucket_name)
            .key(&loc.key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(s3_error("PutObject"))?;
        Ok(())
    }
}
