//! devkit against the real emulators: DynamoDB Local and moto.
//!
//! Under the `with-emulators` binary these use the servers it started;
//! otherwise each test process starts its own (needs `scripts/bootstrap.sh local`).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ProjectionType};
use devkit::{
    CONTACTS_TABLE_RESOURCE, DynamoDbLocal, Emulators, MotoServer, ServerOptions, create_bucket,
    create_table_from_template_file, unique_name,
};

use crate::helpers::{fixture, process_gone, wait_gone};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn item(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect()
}

#[tokio::test]
async fn table_from_template_has_keys_and_both_gsis() {
    let emu = Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = unique_name("contacts");
    create_table_from_template_file(&ddb, &fixture(), CONTACTS_TABLE_RESOURCE, &table).await.unwrap();

    let desc = ddb.describe_table().table_name(&table).send().await.unwrap();
    let t = desc.table().unwrap();
    assert_eq!(t.table_name(), Some(table.as_str()));
    let key: Vec<_> = t.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().clone())).collect();
    assert_eq!(key, [("pk", KeyType::Hash), ("sk", KeyType::Range)]);
    assert_eq!(t.billing_mode_summary().and_then(|b| b.billing_mode()), Some(&BillingMode::PayPerRequest));
    let mut gsis: Vec<_> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap().to_owned(),
                g.key_schema().iter().map(|k| k.attribute_name().to_owned()).collect::<Vec<_>>(),
                g.projection().and_then(|p| p.projection_type()).cloned(),
            )
        })
        .collect();
    gsis.sort();
    assert_eq!(
        gsis,
        [
            ("ByAccount".to_owned(), vec!["gsi1pk".to_owned(), "gsi1sk".to_owned()], Some(ProjectionType::All)),
            ("ByEmail".to_owned(), vec!["gsi2pk".to_owned(), "gsi2sk".to_owned()], Some(ProjectionType::All)),
        ]
    );
}

/// The table the rest of the workspace tests with: `<repo>/template.yaml`.
#[tokio::test]
async fn contacts_table_from_repo_template() {
    let emu = Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::create_contacts_table(&ddb).await.unwrap();
    let desc = ddb.describe_table().table_name(&table).send().await.unwrap();
    let t = desc.table().unwrap();
    assert_eq!(t.table_status(), Some(&aws_sdk_dynamodb::types::TableStatus::Active));
    let mut names: Vec<_> = t.global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    names.sort();
    assert_eq!(names, ["ByAccount", "ByEmail"]);
}

#[tokio::test]
async fn indexes_are_sparse_and_queryable() {
    let emu = Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = unique_name("contacts");
    create_table_from_template_file(&ddb, &fixture(), CONTACTS_TABLE_RESOURCE, &table).await.unwrap();

    for it in [
        item(&[
            ("pk", "CONTACT#g1"),
            ("sk", "CONTACT"),
            ("gsi1pk", "ACCOUNT#000123456789"),
            ("gsi1sk", "PRODUCT#p1#SUB#s1#CONTACT#g1"),
            ("gsi2pk", "EMAIL#a@example.com"),
            ("gsi2sk", "g1"),
        ]),
        // A deleted contact: no index keys, so in neither index.
        item(&[("pk", "CONTACT#g2"), ("sk", "CONTACT"), ("kind", "DELETED")]),
    ] {
        ddb.put_item().table_name(&table).set_item(Some(it)).send().await.unwrap();
    }

    let by_email = ddb
        .query()
        .table_name(&table)
        .index_name("ByEmail")
        .key_condition_expression("gsi2pk = :e")
        .expression_attribute_values(":e", s("EMAIL#a@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_email.count(), 1);

    let by_account = ddb
        .query()
        .table_name(&table)
        .index_name("ByAccount")
        .key_condition_expression("gsi1pk = :a AND begins_with(gsi1sk, :p)")
        .expression_attribute_values(":a", s("ACCOUNT#000123456789"))
        .expression_attribute_values(":p", s("PRODUCT#p1#"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_account.count(), 1);

    let scan_index = ddb.scan().table_name(&table).index_name("ByAccount").send().await.unwrap();
    assert_eq!(scan_index.count(), 1, "the DELETED item must not be indexed");
    let scan_table = ddb.scan().table_name(&table).send().await.unwrap();
    assert_eq!(scan_table.count(), 2);
}

#[tokio::test]
async fn bucket_put_and_get_with_path_style() {
    let emu = Emulators::get().await;
    let s3 = emu.s3_client();
    let bucket = unique_name("exports");
    create_bucket(&s3, &bucket).await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("exports/2026/data.csv")
        .body(b"a,b\n1,2\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket(&bucket).key("exports/2026/data.csv").send().await.unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"a,b\n1,2\n");
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(listed.buckets().iter().any(|b| b.name() == Some(bucket.as_str())));
}

#[tokio::test]
async fn emulators_are_shared_within_a_process() {
    let a = Emulators::get().await;
    let b = Emulators::get().await;
    assert!(std::ptr::eq(a, b));
    assert!(a.dynamodb_endpoint().starts_with("http://127.0.0.1:"));
    assert!(a.s3_endpoint().starts_with("http://127.0.0.1:"));
    assert_ne!(a.dynamodb_endpoint(), a.s3_endpoint());
}

/// Any access key and region see the same tables (`-sharedDb`): the
/// functions run locally with whatever credentials their environment has.
#[tokio::test]
async fn dynamodb_local_is_shared_across_credentials() {
    let emu = Emulators::get().await;
    let table = unique_name("shared");
    create_table_from_template_file(&emu.dynamodb_client(), &fixture(), CONTACTS_TABLE_RESOURCE, &table).await.unwrap();
    let other = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&emu.dynamodb_sdk_config())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("OTHERKEY", "other", None, None, "test"))
            .build(),
    );
    let described = other.describe_table().table_name(&table).send().await;
    assert!(described.is_ok(), "{described:?}");
}

#[tokio::test]
async fn standalone_servers_answer_and_die_on_drop() {
    let (ddb, moto) = tokio::join!(DynamoDbLocal::start(), MotoServer::start());
    let (ddb, moto) = (ddb.unwrap(), moto.unwrap());
    let tables = devkit::dynamodb_client(ddb.endpoint()).list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty(), "a fresh in-memory database");
    devkit::s3_client(moto.endpoint()).list_buckets().send().await.unwrap();

    let (ddb_pid, moto_pid) = (ddb.pid(), moto.pid());
    assert!(!process_gone(ddb_pid) && !process_gone(moto_pid));
    drop(ddb);
    drop(moto);
    assert!(wait_gone(ddb_pid, Duration::from_secs(5)).await, "JVM survived drop");
    assert!(wait_gone(moto_pid, Duration::from_secs(5)).await, "moto survived drop");
}

/// On a given port, with the log where it was asked for, kept after the stop.
#[tokio::test]
async fn servers_start_on_a_given_port_with_a_kept_log() {
    let dir = std::env::temp_dir().join(unique_name("devkit-logs"));
    let (port_a, port_b) = (devkit::free_port().unwrap(), devkit::free_port().unwrap());
    let (ddb, moto) = tokio::join!(
        DynamoDbLocal::start_with(ServerOptions::default().port(port_a).log(dir.join("ddb.log"))),
        MotoServer::start_with(ServerOptions::default().port(port_b).log(dir.join("moto.log"))),
    );
    let (mut ddb, mut moto) = (ddb.unwrap(), moto.unwrap());
    assert_eq!(ddb.endpoint(), format!("http://127.0.0.1:{port_a}"));
    assert_eq!(moto.endpoint(), format!("http://127.0.0.1:{port_b}"));
    assert_eq!(ddb.log(), dir.join("ddb.log"));
    assert!(ddb.try_exited().is_none() && moto.try_exited().is_none());
    devkit::dynamodb_client(ddb.endpoint()).list_tables().send().await.unwrap();
    devkit::s3_client(moto.endpoint()).list_buckets().send().await.unwrap();

    // A taken port: an error that names the server, no retry elsewhere.
    let taken = DynamoDbLocal::start_with(ServerOptions::default().port(port_a).log(dir.join("ddb2.log"))).await;
    let err = format!("{:#}", taken.unwrap_err());
    assert!(err.contains("DynamoDB Local"), "{err}");

    let (ddb_pid, moto_pid) = (ddb.pid(), moto.pid());
    ddb.stop();
    moto.stop();
    assert!(wait_gone(ddb_pid, Duration::from_secs(5)).await && wait_gone(moto_pid, Duration::from_secs(5)).await);
    assert!(dir.join("ddb.log").is_file() && dir.join("moto.log").is_file(), "logs are kept");
    std::fs::remove_dir_all(&dir).ok();
}

const HELPER_ENV: &str = "DEVKIT_ORPHAN_HELPER";

/// Run by `no_jvm_survives_a_killed_test_process` in a child process: starts
/// DynamoDB Local, prints its pid and waits to be killed.
#[tokio::test]
#[ignore = "helper, run by no_jvm_survives_a_killed_test_process"]
async fn orphan_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let ddb = DynamoDbLocal::start().await.unwrap();
    println!("JVM_PID={}", ddb.pid());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
}

/// A test process killed with SIGKILL (no destructors, no atexit) must not
/// leave its JVM behind: PR_SET_PDEATHSIG takes it down.
#[tokio::test]
async fn no_jvm_survives_a_killed_test_process() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "emulators::orphan_helper", "--ignored", "--nocapture"])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find_map(|l| l.strip_prefix("JVM_PID=").map(str::to_owned))
    })
    .await
    .unwrap();
    let jvm_pid: u32 = match line {
        Some(pid) => pid.parse().unwrap(),
        None => {
            let _ = helper.kill();
            panic!("helper did not report a JVM pid: {:?}", helper.wait());
        }
    };
    assert!(!process_gone(jvm_pid));
    helper.kill().unwrap(); // SIGKILL
    helper.wait().unwrap();
    assert!(wait_gone(jvm_pid, Duration::from_secs(10)).await, "JVM {jvm_pid} outlived its killed parent");
}
