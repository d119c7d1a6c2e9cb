//! The CAS adapter: [`ExportSource`] with the `StartSupportDataExport`
//! client (built by [`crate::cas_client`]).

use aws_sdk_marketplacecommerceanalytics as cas;
use aws_sdk_marketplacecommerceanalytics::primitives::DateTime;
use aws_sdk_marketplacecommerceanalytics::types::SupportDataSetType;
use psc_bridge::aws::AwsError;
use psc_bridge::model::ExportParams;
use psc_bridge::ports::ExportSource;

/// The service name in errors and logs.
pub const SERVICE: &str = "CAS";

/// The Commerce Analytics Service as an export source.
#[derive(Clone)]
pub struct CasSource(pub cas::Client);

impl ExportSource for CasSource {
    #[allow(deprecated)] // the operation is marked deprecated in every SDK; it is the one PSC has
    async fn start_export(&self, p: &ExportParams) -> Result<String, AwsError> {
        let millis = p.from_date.datetime().unix_timestamp_nanos() / 1_000_000;
        let mut req = self
            .0
            .start_support_data_export()
            .data_set_type(SupportDataSetType::from(p.data_set_type.as_str()))
            .from_date(DateTime::from_millis(millis as i64))
            .role_name_arn(&p.role_arn)
            .destination_s3_bucket_name(&p.bucket)
            .destination_s3_prefix(&p.prefix)
            .sns_topic_arn(&p.sns_topic_arn);
        for (k, v) in &p.customer_defined_values {
            req = req.customer_defined_values(k, v);
        }
        let out = req.send().await.map_err(|e| AwsError::from_sdk(SERVICE, "StartSupportDataExport", &e))?;
        Ok(out.data_set_request_id().unwrap_or_default().to_owned())
    }
}
