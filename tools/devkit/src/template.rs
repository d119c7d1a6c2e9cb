//! What code needs of `template.yaml`: tables created from its
//! `ContactsTable` resource, and the list of its functions ([`functions`]).
//!
//! The template is the single source of truth for the table's keys and
//! indexes: nothing about them is written here. `AttributeDefinitions`,
//! `KeySchema`, `GlobalSecondaryIndexes`, `LocalSecondaryIndexes`,
//! `BillingMode` (and `ProvisionedThroughput` when provisioned) and
//! `StreamSpecification.StreamViewType` must be plain literals; every other
//! property may use CloudFormation tags (`!Ref`, `!Sub`, ...) and is ignored.
//!
//! [`TableSpec::create`] leaves the stream off, so that tests and benchmarks
//! that never read it do not pay for it; [`enable_stream_from_template`]
//! turns it on with the template's view type, for what reads it (the
//! contact-events tests, the local run).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus,
};
use serde_norway::Value;

use crate::names::unique_name;
use crate::paths::template_path;

/// Logical id of the table resource in `template.yaml`.
pub const CONTACTS_TABLE_RESOURCE: &str = "ContactsTable";

const ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The shape of a table, read from an `AWS::DynamoDB::Table` resource.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    pub local_secondary_indexes: Vec<LocalSecondaryIndex>,
    pub billing_mode: BillingMode,
    /// Only with [`BillingMode::Provisioned`].
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    /// `StreamSpecification.StreamViewType`, when the template declares a stream.
    pub stream_view_type: Option<StreamViewType>,
}

impl TableSpec {
    /// Reads resource `logical_id` of the CloudFormation/SAM template text.
    pub fn from_template_str(yaml: &str, logical_id: &str) -> Result<Self> {
        let mut doc: Value = serde_norway::from_str(yaml).context("template is not valid YAML")?;
        doc.apply_merge().context("resolving YAML merge keys")?;
        let resource = doc
            .get("Resources")
            .ok_or_else(|| anyhow!("template has no Resources"))?
            .get(logical_id)
            .ok_or_else(|| anyhow!("template has no resource {logical_id}"))?;
        let at = |p: &str| format!("Resources.{logical_id}.{p}");
        let ty = string(field(resource, "Type", &at(""))?, &at("Type"))?;
        if ty != "AWS::DynamoDB::Table" {
            bail!("{} is {ty}, expected AWS::DynamoDB::Table", at("Type"));
        }
        let props = mapping_value(field(resource, "Properties", &at(""))?, &at("Properties"))?;
        let at = |p: &str| format!("Resources.{logical_id}.Properties.{p}");

        let attribute_definitions =
            sequence(field(props, "AttributeDefinitions", &at(""))?, &at("AttributeDefinitions"))?
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let p = at(&format!("AttributeDefinitions[{i}]"));
                    let name = string(field(v, "AttributeName", &p)?, &format!("{p}.AttributeName"))?;
                    let ty = string(field(v, "AttributeType", &p)?, &format!("{p}.AttributeType"))?;
                    let ty = match ty {
                        "S" | "N" | "B" => ScalarAttributeType::from(ty),
                        other => bail!("{p}.AttributeType is {other:?}, expected S, N or B"),
                    };
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ty)
                        .build()
                        .map_err(|e| anyhow!("{p}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?;

        let key_schema = read_key_schema(field(props, "KeySchema", &at(""))?, &at("KeySchema"))?;

        let billing_mode = match optional(props, "BillingMode") {
            None => BillingMode::Provisioned, // CloudFormation's default
            Some(v) => match string(v, &at("BillingMode"))? {
                "PAY_PER_REQUEST" => BillingMode::PayPerRequest,
                "PROVISIONED" => BillingMode::Provisioned,
                other => {
                    bail!("{} is {other:?}, expected PAY_PER_REQUEST or PROVISIONED", at("BillingMode"))
                }
            },
        };
        let provisioned = billing_mode == BillingMode::Provisioned;
        let provisioned_throughput = if provisioned {
            let v = optional(props, "ProvisionedThroughput").ok_or_else(|| {
                anyhow!("{} is PROVISIONED (the default) but there is no ProvisionedThroughput", at("BillingMode"))
            })?;
            Some(throughput(v, &at("ProvisionedThroughput"))?)
        } else {
            None
        };

        let global_secondary_indexes = match optional(props, "GlobalSecondaryIndexes") {
            None => Vec::new(),
            Some(v) => sequence(v, &at("GlobalSecondaryIndexes"))?
                .iter()
                .enumerate()
                .map(|(i, gsi)| {
                    let p = at(&format!("GlobalSecondaryIndexes[{i}]"));
                    let mut b = GlobalSecondaryIndex::builder()
                        .index_name(string(field(gsi, "IndexName", &p)?, &format!("{p}.IndexName"))?)
                        .set_key_schema(Some(read_key_schema(field(gsi, "KeySchema", &p)?, &format!("{p}.KeySchema"))?))
                        .projection(projection(field(gsi, "Projection", &p)?, &format!("{p}.Projection"))?);
                    if provisioned {
                        let t = field(gsi, "ProvisionedThroughput", &p)?;
                        b = b.provisioned_throughput(throughput(t, &format!("{p}.ProvisionedThroughput"))?);
                    }
                    b.build().map_err(|e| anyhow!("{p}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?,
        };

        let local_secondary_indexes = match optional(props, "LocalSecondaryIndexes") {
            None => Vec::new(),
            Some(v) => sequence(v, &at("LocalSecondaryIndexes"))?
                .iter()
                .enumerate()
                .map(|(i, lsi)| {
                    let p = at(&format!("LocalSecondaryIndexes[{i}]"));
                    LocalSecondaryIndex::builder()
                        .index_name(string(field(lsi, "IndexName", &p)?, &format!("{p}.IndexName"))?)
                        .set_key_schema(Some(read_key_schema(field(lsi, "KeySchema", &p)?, &format!("{p}.KeySchema"))?))
                        .projection(projection(field(lsi, "Projection", &p)?, &format!("{p}.Projection"))?)
                        .build()
                        .map_err(|e| anyhow!("{p}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?,
        };

        let stream_view_type = match optional(props, "StreamSpecification") {
            None => None,
            Some(v) => {
                let p = at("StreamSpecification");
                Some(match string(field(v, "StreamViewType", &p)?, &format!("{p}.StreamViewType"))? {
                    t @ ("NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES" | "KEYS_ONLY") => StreamViewType::from(t),
                    other => bail!(
                        "{p}.StreamViewType is {other:?}, expected NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES or KEYS_ONLY"
                    ),
                })
            }
        };

        Ok(TableSpec {
            attribute_definitions,
            key_schema,
            global_secondary_indexes,
            local_secondary_indexes,
            billing_mode,
            provisioned_throughput,
            stream_view_type,
        })
    }

    /// Reads resource `logical_id` of the template file at `path`.
    pub fn from_template_file(path: &Path, logical_id: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading template {}", path.display()))?;
        Self::from_template_str(&text, logical_id).with_context(|| format!("in template {}", path.display()))
    }

    /// `ContactsTable` of `<repo>/template.yaml`.
    pub fn contacts_table() -> Result<Self> {
        Self::from_template_file(&template_path()?, CONTACTS_TABLE_RESOURCE)
    }

    /// Names of the global secondary indexes, in template order.
    pub fn gsi_names(&self) -> Vec<&str> {
        self.global_secondary_indexes.iter().map(|g| g.index_name()).collect()
    }

    /// Creates table `table_name` with this shape and waits until it and its
    /// indexes are ACTIVE.
    pub async fn create(&self, client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<()> {
        client
            .create_table()
            .table_name(table_name)
            .set_attribute_definitions(Some(self.attribute_definitions.clone()))
            .set_key_schema(Some(self.key_schema.clone()))
            .set_global_secondary_indexes(
                (!self.global_secondary_indexes.is_empty()).then(|| self.global_secondary_indexes.clone()),
            )
            .set_local_secondary_indexes(
                (!self.local_secondary_indexes.is_empty()).then(|| self.local_secondary_indexes.clone()),
            )
            .billing_mode(self.billing_mode.clone())
            .set_provisioned_throughput(self.provisioned_throughput.clone())
            .send()
            .await
            .map_err(|e| anyhow!("creating table {table_name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        wait_for_table_active(client, table_name).await
    }
}

/// Creates table `table_name` with the keys, indexes and billing mode of
/// `ContactsTable` in `<repo>/template.yaml`, and waits until it is ACTIVE.
pub async fn create_table_from_template(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<()> {
    TableSpec::contacts_table()?.create(client, table_name).await
}

/// Creates table `table_name` from resource `logical_id` of the template at
/// `path`, and waits until it is ACTIVE.
pub async fn create_table_from_template_file(
    client: &aws_sdk_dynamodb::Client,
    path: &Path,
    logical_id: &str,
    table_name: &str,
) -> Result<()> {
    TableSpec::from_template_file(path, logical_id)?.create(client, table_name).await
}

/// Turns on the stream of table `table_name` with the view type of
/// `ContactsTable`'s `StreamSpecification` in `<repo>/template.yaml`, and
/// returns the stream's ARN (`LatestStreamArn`).
pub async fn enable_stream_from_template(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<String> {
    let spec = TableSpec::contacts_table()?;
    let view = spec
        .stream_view_type
        .ok_or_else(|| anyhow!("{CONTACTS_TABLE_RESOURCE} in template.yaml declares no StreamSpecification"))?;
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(view)
        .build()
        .map_err(|e| anyhow!("stream specification: {e}"))?;
    client.update_table().table_name(table_name).stream_specification(stream).send().await.map_err(|e| {
        anyhow!("enabling the stream of {table_name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))
    })?;
    wait_for_table_active(client, table_name).await?;
    let described =
        client.describe_table().table_name(table_name).send().await.map_err(|e| {
            anyhow!("describing table {table_name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))
        })?;
    described
        .table
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| anyhow!("table {table_name} has no LatestStreamArn after enabling its stream"))
}

/// Creates a uniquely named contacts table from `<repo>/template.yaml` and
/// returns its name.
pub async fn create_contacts_table(client: &aws_sdk_dynamodb::Client) -> Result<String> {
    let name = unique_name("contacts");
    create_table_from_template(client, &name).await?;
    Ok(name)
}

/// Waits until table `table_name` and all its global secondary indexes are
/// ACTIVE (at most a minute).
pub async fn wait_for_table_active(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let out = client.describe_table().table_name(table_name).send().await.map_err(|e| {
            anyhow!("describing table {table_name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))
        })?;
        let table = out.table().ok_or_else(|| anyhow!("DescribeTable {table_name} returned no table"))?;
        let table_active = table.table_status() == Some(&TableStatus::Active);
        let indexes_active =
            table.global_secondary_indexes().iter().all(|g| g.index_status() == Some(&IndexStatus::Active));
        if table_active && indexes_active {
            return Ok(());
        }
        if started.elapsed() > ACTIVE_TIMEOUT {
            bail!(
                "table {table_name} not ACTIVE after {}s (status {:?})",
                ACTIVE_TIMEOUT.as_secs(),
                table.table_status()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- the functions ----

/// Resource type of a function in the template.
pub const FUNCTION_TYPE: &str = "AWS::Serverless::Function";

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its logical id, e.g. `StartExportFunction`.
    pub logical_id: String,
    /// `Properties.CodeUri`: its workspace member, e.g. `functions/start-export`.
    pub code_uri: String,
    /// `Metadata.BuildProperties.Binary`: the cargo binary that `sam build`
    /// builds for it (cargo-lambda), e.g. `start-export`.
    pub binary: String,
}

/// Every function of the template text, in template order.
pub fn functions_from_template_str(yaml: &str) -> Result<Vec<Function>> {
    let mut doc: Value = serde_norway::from_str(yaml).context("template is not valid YAML")?;
    doc.apply_merge().context("resolving YAML merge keys")?;
    let resources = doc.get("Resources").ok_or_else(|| anyhow!("template has no Resources"))?;
    let Value::Mapping(resources) = resources else { bail!("Resources must be a mapping") };
    let mut out = Vec::new();
    for (id, resource) in resources {
        let Some(id) = id.as_str() else { continue };
        if resource.get("Type").and_then(Value::as_str) != Some(FUNCTION_TYPE) {
            continue;
        }
        let at = |p: &str| format!("Resources.{id}.{p}");
        let props = field(resource, "Properties", &at(""))?;
        let code_uri = string(field(props, "CodeUri", &at("Properties"))?, &at("Properties.CodeUri"))?;
        let build = field(field(resource, "Metadata", &at(""))?, "BuildProperties", &at("Metadata"))?;
        let binary =
            string(field(build, "Binary", &at("Metadata.BuildProperties"))?, &at("Metadata.BuildProperties.Binary"))?;
        out.push(Function { logical_id: id.to_owned(), code_uri: code_uri.to_owned(), binary: binary.to_owned() });
    }
    if out.is_empty() {
        bail!("template has no {FUNCTION_TYPE}");
    }
    Ok(out)
}

/// Every function of `<repo>/template.yaml`, in template order: the one list
/// of the functions for code that needs it (the local run, the benchmarks,
/// `scripts/check-template.sh` through the `template-functions` binary).
pub fn functions() -> Result<Vec<Function>> {
    let path = template_path()?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading template {}", path.display()))?;
    functions_from_template_str(&text).with_context(|| format!("in template {}", path.display()))
}

// ---- reading plain literals out of the YAML ----

fn describe(v: &Value) -> String {
    match v {
        Value::Tagged(t) => format!("the CloudFormation tag {} (only plain literals are supported here)", t.tag),
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(m) => {
            let intrinsic = m.keys().filter_map(|k| k.as_str()).find(|k| *k == "Ref" || k.starts_with("Fn::"));
            match intrinsic {
                Some(k) => format!("the CloudFormation function {k} (only plain literals are supported here)"),
                None => "a mapping".into(),
            }
        }
    }
}

fn field<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Value> {
    let m = mapping_value(v, path)?;
    m.get(key).ok_or_else(|| anyhow!("{path} has no {key}")).map(|v| v as &Value)
}

fn optional<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|v| !v.is_null())
}

fn mapping_value<'a>(v: &'a Value, path: &str) -> Result<&'a Value> {
    match v {
        Value::Mapping(m) if !is_intrinsic(m) => Ok(v),
        other => bail!("{path} must be a mapping, found {}", describe(other)),
    }
}

fn is_intrinsic(m: &serde_norway::Mapping) -> bool {
    m.len() == 1 && m.keys().filter_map(|k| k.as_str()).any(|k| k == "Ref" || k.starts_with("Fn::"))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    match v {
        Value::String(s) => Ok(s),
        other => bail!("{path} must be a string, found {}", describe(other)),
    }
}

fn sequence<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    match v {
        Value::Sequence(s) => Ok(s),
        other => bail!("{path} must be a list, found {}", describe(other)),
    }
}

fn integer(v: &Value, path: &str) -> Result<i64> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| anyhow!("{path} must be an integer")),
        // CloudFormation accepts numbers written as strings.
        Value::String(s) => s.parse().map_err(|_| anyhow!("{path} must be an integer, found {s:?}")),
        other => bail!("{path} must be an integer, found {}", describe(other)),
    }
}

fn read_key_schema(v: &Value, path: &str) -> Result<Vec<KeySchemaElement>> {
    let elements = sequence(v, path)?;
    if elements.is_empty() {
        bail!("{path} is empty");
    }
    elements
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let p = format!("{path}[{i}]");
            let name = string(field(k, "AttributeName", &p)?, &format!("{p}.AttributeName"))?;
            let ty = match string(field(k, "KeyType", &p)?, &format!("{p}.KeyType"))? {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                other => bail!("{p}.KeyType is {other:?}, expected HASH or RANGE"),
            };
            KeySchemaElement::builder().attribute_name(name).key_type(ty).build().map_err(|e| anyhow!("{p}: {e}"))
        })
        .collect()
}

fn projection(v: &Value, path: &str) -> Result<Projection> {
    mapping_value(v, path)?;
    let mut b = Projection::builder();
    if let Some(t) = optional(v, "ProjectionType") {
        b = b.projection_type(match string(t, &format!("{path}.ProjectionType"))? {
            "ALL" => ProjectionType::All,
            "KEYS_ONLY" => ProjectionType::KeysOnly,
            "INCLUDE" => ProjectionType::Include,
            other => bail!("{path}.ProjectionType is {other:?}, expected ALL, KEYS_ONLY or INCLUDE"),
        });
    }
    if let Some(attrs) = optional(v, "NonKeyAttributes") {
        let p = format!("{path}.NonKeyAttributes");
        for (i, a) in sequence(attrs, &p)?.iter().enumerate() {
            b = b.non_key_attributes(string(a, &format!("{p}[{i}]"))?);
        }
    }
    Ok(b.build())
}

fn throughput(v: &Value, path: &str) -> Result<ProvisionedThroughput> {
    ProvisionedThroughput::builder()
        .read_capacity_units(integer(field(v, "ReadCapacityUnits", path)?, &format!("{path}.ReadCapacityUnits"))?)
        .write_capacity_units(integer(field(v, "WriteCapacityUnits", path)?, &format!("{path}.WriteCapacityUnits"))?)
        .build()
        .map_err(|e| anyhow!("{path}: {e}"))
}
