//! Reading table shapes from templates (no emulator needed).

use aws_sdk_dynamodb::types::{BillingMode, KeyType, ProjectionType, ScalarAttributeType, StreamViewType};
use devkit::{CONTACTS_TABLE_RESOURCE, TableSpec};

use crate::helpers::fixture;

fn keys(ks: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(String, KeyType)> {
    ks.iter().map(|k| (k.attribute_name().to_owned(), k.key_type().clone())).collect()
}

/// The shape docs/data-model.md describes.
fn assert_data_model_shape(spec: &TableSpec) {
    assert_eq!(spec.billing_mode, BillingMode::PayPerRequest);
    assert_eq!(spec.provisioned_throughput, None);
    assert_eq!(keys(&spec.key_schema), [("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]);
    let mut attrs: Vec<(String, ScalarAttributeType)> = spec
        .attribute_definitions
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().clone()))
        .collect();
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<(String, ScalarAttributeType)> = ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "pk", "sk"]
        .iter()
        .map(|n| (n.to_string(), ScalarAttributeType::S))
        .collect();
    assert_eq!(attrs, expected);
    let mut gsis: Vec<_> = spec.global_secondary_indexes.iter().collect();
    gsis.sort_by_key(|g| g.index_name().to_owned());
    assert_eq!(gsis.len(), 2, "{:?}", spec.gsi_names());
    for (gsi, name, pk, sk) in [(gsis[0], "ByAccount", "gsi1pk", "gsi1sk"), (gsis[1], "ByEmail", "gsi2pk", "gsi2sk")] {
        assert_eq!(gsi.index_name(), name);
        assert_eq!(keys(gsi.key_schema()), [(pk.into(), KeyType::Hash), (sk.into(), KeyType::Range)]);
        assert_eq!(gsi.projection().and_then(|p| p.projection_type()), Some(&ProjectionType::All));
        assert_eq!(gsi.provisioned_throughput(), None);
    }
    assert!(spec.local_secondary_indexes.is_empty());
}

#[test]
fn fixture_contacts_table_matches_data_model() {
    let spec = TableSpec::from_template_file(&fixture(), CONTACTS_TABLE_RESOURCE).unwrap();
    assert_data_model_shape(&spec);
    assert_eq!(spec.gsi_names(), ["ByAccount", "ByEmail"]);
}

/// `<repo>/template.yaml`'s ContactsTable has the shape docs/data-model.md
/// describes.
#[test]
fn repo_template_contacts_table_matches_data_model() {
    let spec = TableSpec::contacts_table().unwrap();
    assert_data_model_shape(&spec);
    // contact-events reads the old and the new image of every change.
    assert_eq!(spec.stream_view_type, Some(StreamViewType::NewAndOldImages));
}

#[test]
fn a_table_without_a_stream_has_no_view_type_and_a_bad_view_type_is_named() {
    assert_eq!(TableSpec::from_template_str(MINIMAL, "T").unwrap().stream_view_type, None);
    let yaml = MINIMAL.replace(
        "      BillingMode: PAY_PER_REQUEST\n",
        "      BillingMode: PAY_PER_REQUEST\n      StreamSpecification: { StreamViewType: NEW_AND_OLD }\n",
    );
    let err = format!("{:#}", TableSpec::from_template_str(&yaml, "T").unwrap_err());
    assert!(err.contains("Resources.T.Properties.StreamSpecification.StreamViewType is \"NEW_AND_OLD\""), "{err}");
}

const MINIMAL: &str = r#"
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Ref Name
      AttributeDefinitions:
        - { AttributeName: id, AttributeType: S }
        - { AttributeName: n, AttributeType: N }
      KeySchema:
        - { AttributeName: id, KeyType: HASH }
      BillingMode: PAY_PER_REQUEST
      LocalSecondaryIndexes: []
      GlobalSecondaryIndexes:
        - IndexName: ByN
          KeySchema: [{ AttributeName: n, KeyType: HASH }]
          Projection: { ProjectionType: INCLUDE, NonKeyAttributes: [a, b] }
"#;

#[test]
fn reads_include_projection_and_number_keys() {
    let spec = TableSpec::from_template_str(MINIMAL, "T").unwrap();
    assert_eq!(spec.gsi_names(), ["ByN"]);
    let p = spec.global_secondary_indexes[0].projection().unwrap();
    assert_eq!(p.projection_type(), Some(&ProjectionType::Include));
    assert_eq!(p.non_key_attributes(), ["a", "b"]);
    assert_eq!(spec.attribute_definitions[1].attribute_type(), &ScalarAttributeType::N);
}

#[test]
fn provisioned_is_the_default_and_needs_throughput() {
    let yaml = MINIMAL.replace("      BillingMode: PAY_PER_REQUEST\n", "");
    let err = TableSpec::from_template_str(&yaml, "T").unwrap_err();
    assert!(format!("{err:#}").contains("ProvisionedThroughput"), "{err:#}");

    let yaml = MINIMAL
        .replace(
            "      BillingMode: PAY_PER_REQUEST\n",
            "      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: \"3\" }\n",
        )
        .replace(
            "          Projection: { ProjectionType: INCLUDE",
            "          ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 2 }\n          Projection: { ProjectionType: INCLUDE",
        );
    let spec = TableSpec::from_template_str(&yaml, "T").unwrap();
    assert_eq!(spec.billing_mode, BillingMode::Provisioned);
    let t = spec.provisioned_throughput.unwrap();
    assert_eq!((t.read_capacity_units(), t.write_capacity_units()), (5, 3));
    let g = spec.global_secondary_indexes[0].provisioned_throughput().unwrap();
    assert_eq!((g.read_capacity_units(), g.write_capacity_units()), (1, 2));
}

#[test]
fn tags_in_the_key_schema_are_rejected_with_the_path() {
    let yaml = MINIMAL.replace(
        "        - { AttributeName: id, KeyType: HASH }",
        "        - { AttributeName: !Ref KeyName, KeyType: HASH }",
    );
    let err = format!("{:#}", TableSpec::from_template_str(&yaml, "T").unwrap_err());
    assert!(err.contains("Resources.T.Properties.KeySchema[0].AttributeName"), "{err}");
    assert!(err.contains("Ref"), "{err}");

    let yaml = MINIMAL.replace(
        "      BillingMode: PAY_PER_REQUEST",
        "      BillingMode: { \"Fn::If\": [Prod, PROVISIONED, PAY_PER_REQUEST] }",
    );
    let err = format!("{:#}", TableSpec::from_template_str(&yaml, "T").unwrap_err());
    assert!(err.contains("BillingMode"), "{err}");
    assert!(err.contains("Fn::If"), "{err}");
}

#[test]
fn wrong_or_missing_resource_is_an_error() {
    let err = format!("{:#}", TableSpec::from_template_str(MINIMAL, "Nope").unwrap_err());
    assert!(err.contains("no resource Nope"), "{err}");

    let yaml = MINIMAL.replace("AWS::DynamoDB::Table", "AWS::S3::Bucket");
    let err = format!("{:#}", TableSpec::from_template_str(&yaml, "T").unwrap_err());
    assert!(err.contains("expected AWS::DynamoDB::Table"), "{err}");

    let err = format!("{:#}", TableSpec::from_template_str("a: [", "T").unwrap_err());
    assert!(err.contains("not valid YAML"), "{err}");
}

#[test]
fn yaml_anchors_and_merge_keys_are_resolved() {
    let yaml = r#"
Keys: &keys
  - { AttributeName: id, KeyType: HASH }
Base: &base
  BillingMode: PAY_PER_REQUEST
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      <<: *base
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
      KeySchema: *keys
"#;
    let spec = TableSpec::from_template_str(yaml, "T").unwrap();
    assert_eq!(spec.billing_mode, BillingMode::PayPerRequest);
    assert_eq!(spec.key_schema.len(), 1);
}

/// The functions of the real template: each one's workspace member is a
/// crate whose binary is the one the template builds.
#[test]
fn the_templates_functions_with_their_members_and_binaries() {
    let functions = devkit::functions().unwrap();
    let ids: Vec<&str> = functions.iter().map(|f| f.logical_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "StartExportFunction",
            "IngestExportFunction",
            "IngestFeedsFunction",
            "ContactEventsFunction",
            "EligibilityApiFunction"
        ]
    );
    let root = devkit::repo_root().unwrap();
    for f in &functions {
        assert_eq!(f.code_uri, format!("functions/{}", f.binary), "{f:?}");
        assert!(root.join(&f.code_uri).join("Cargo.toml").is_file(), "{f:?}");
    }
}

#[test]
fn a_function_without_its_binary_is_an_error_naming_the_path() {
    let yaml = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/f\n";
    let e = format!("{:#}", devkit::functions_from_template_str(yaml).unwrap_err());
    assert!(e.contains("Resources.F.") && e.contains("Metadata"), "{e}");
    let yaml = "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n";
    assert!(devkit::functions_from_template_str(yaml).is_err(), "no function at all");
}

/// docs/operations.md's alarm table names every alarm of the template, and
/// no other.
#[test]
fn the_operations_doc_lists_every_alarm() {
    let root = devkit::repo_root().unwrap();
    let template: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(devkit::template_path().unwrap()).unwrap()).unwrap();
    let alarms: std::collections::BTreeSet<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::CloudWatch::Alarm"))
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect();
    assert!(!alarms.is_empty());
    let doc = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let listed: std::collections::BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(id, _)| id.to_owned()))
        .filter(|id| id.ends_with("Alarm"))
        .collect();
    assert_eq!(listed, alarms, "docs/operations.md's alarm table against template.yaml");
}
