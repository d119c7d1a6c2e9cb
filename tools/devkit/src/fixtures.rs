//! Fixtures shared by the test suites of the library and the functions.

/// The metadata JSON of a CAS export, as `StartSupportDataExport` writes it
/// beside the CSV (format in `shared/reference/cas-facts.md`), for an export
/// of the test data set covering `start`..`end` whose files are
/// `s3://bucket/csv_key` and `s3://bucket/meta_key`.
///
/// ```
/// let meta = devkit::export_metadata_json("req-1", "2010-01-01T00:00:00.000Z", "2020-01-10T00:00:00.000Z", "b", "k.csv", "k.meta.json");
/// assert!(meta.contains(r#""dataSetRequestId":"req-1""#));
/// ```
pub fn export_metadata_json(
    request_id: &str,
    start: &str,
    end: &str,
    bucket: &str,
    csv_key: &str,
    meta_key: &str,
) -> String {
    serde_json::json!({
        "dataSetRequestId": request_id,
        "dataSetCoverageRange": {"startDateTime": start, "endDateTime": end},
        "dataSetRequestParameters": {
            "fromDate": start,
            "dataSetType": "test_customer_support_contacts_data",
            "roleNameArn": "arn:aws:iam::123456789012:role/MarketplaceCommerceAnalyticsRole",
            "destinationS3BucketName": bucket,
            "destinationS3Prefix": "psc",
            "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:psc"
        },
        "dataSetS3Location": {"bucketName": bucket, "key": csv_key},
        "dataSetMetaDataS3Location": {"bucketName": bucket, "key": meta_key},
        "requestReceivedDateTime": end,
        "requestCompletedDateTime": end
    })
    .to_string()
}
