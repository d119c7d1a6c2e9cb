//! CloudWatch metrics in embedded metric format (EMF): one JSON line on
//! stdout per emission, which CloudWatch Logs turns into metrics. The
//! template's alarms watch these names.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
}

impl Metrics {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self { namespace: namespace.into() }
    }

    /// The EMF document for these values (no dimensions).
    pub fn document(&self, values: &[(&str, f64)], timestamp_ms: i64) -> Value {
        let mut doc = Map::new();
        let defs: Vec<Value> = values.iter().map(|(name, _)| json!({"Name": name, "Unit": unit(name)})).collect();
        doc.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{"Namespace": self.namespace, "Dimensions": [[]], "Metrics": defs}]}),
        );
        for (name, v) in values {
            doc.insert((*name).to_owned(), json!(v));
        }
        Value::Object(doc)
    }

    pub fn emit(&self, values: &[(&str, f64)]) {
        let now = time::OffsetDateTime::now_utc();
        let ms = now.unix_timestamp() * 1000 + i64::from(now.millisecond());
        println!("{}", self.document(values, ms));
    }
}

fn unit(name: &str) -> &'static str {
    if name.ends_with("Seconds") { "Seconds" } else { "Count" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_shape() {
        let d = Metrics::new("PscBridge").document(&[("ExportFailed", 1.0), ("WatermarkAgeSeconds", 5.0)], 1000);
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "PscBridge");
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"], "Seconds");
        assert_eq!(d["ExportFailed"], 1.0);
        assert_eq!(d["_aws"]["Timestamp"], 1000);
    }
}
