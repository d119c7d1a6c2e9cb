//! Checks `template.yaml` against the project's contracts:
//! - every variable a function reads (`env_required` / `env_or` /
//!   `env_optional` in `functions/<name>/src`) is set for it, and the set
//!   equals what `docs/configuration.md` documents for that function;
//! - every `Ref` / `GetAtt` / `Sub` / condition names something defined;
//! - no identity policy allows `Resource: '*'` except for the actions that
//!   support no resource-level permission;
//! - `ContactsTable` has exactly the keys and indexes of `docs/data-model.md`;
//! - the CAS role has exactly the trust and permissions that
//!   `docs/configuration.md` documents ("The role CAS assumes").
//! - contact-events' stream filter passes every record that can be an event
//!   and none of the data feeds' other items, and its table access is the
//!   feeds' lookups and the backfill's scan;
//! - the optional webhook, evaluated for each setup a seller can deploy:
//!   nothing without `WebhookUrl`, every event delivered once and every
//!   deletion to a delete call, a role that may invoke only the stack's
//!   destinations, NoEcho credentials, an alarmed dead-letter queue, and
//!   the presets' transformers as `docs/events.md` shows them.
//!
//! CloudFormation short tags (`!Ref`, `!Sub`, ...) parse as tagged values;
//! the long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`) are understood too.

use serde_norway::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every crate directory under `functions/`, with the logical id of the
/// template's function built from it (`devkit::functions`, the one list of
/// the functions); a function crate the template does not build fails here.
fn functions() -> Vec<(String, String)> {
    let template = devkit::functions().expect("the functions of template.yaml");
    let mut dirs: Vec<String> = fs::read_dir(repo_root().join("functions"))
        .expect("functions/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no crate under functions/");
    dirs.into_iter()
        .map(|dir| {
            let f = template
                .iter()
                .find(|f| f.code_uri.trim_end_matches('/') == format!("functions/{dir}"))
                .unwrap_or_else(|| panic!("functions/{dir} is not the CodeUri of any function in template.yaml"));
            (dir, f.logical_id.clone())
        })
        .collect()
}

/// The AWS Marketplace account that assumes the CAS role (docs/configuration.md, "The role CAS assumes").
const MARKETPLACE_ACCOUNT_ROOT: &str = "arn:aws:iam::452565589796:root";

/// Actions that support no resource-level permission, so `Resource: '*'` is
/// the only way to allow them.
/// Actions that support no resource-level permission (IAM's service
/// authorization reference), so `Resource: '*'` is the only way to grant them.
const STAR_RESOURCE_ACTIONS: [&str; 6] = [
    "marketplacecommerceanalytics:StartSupportDataExport",
    "ec2:ConfirmProductInstance",
    "aws-marketplace:SearchAgreements",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
];

const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

// ------------------------------------------------------------------ loading

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn template() -> Value {
    let path = repo_root().join("template.yaml");
    serde_norway::from_str(&read(&path)).unwrap_or_else(|e| panic!("template.yaml does not parse: {e}"))
}

/// What `docs/configuration.md` says about the CAS role: its section
/// "The role CAS assumes", up to the next heading.
fn cas_role_doc() -> String {
    let doc = read(&repo_root().join("docs/configuration.md"));
    let start =
        doc.find("\n## The role CAS assumes").expect("docs/configuration.md: no section \"The role CAS assumes\"");
    let section = &doc[start + 1..];
    let end = section[3..].find("\n#").map(|i| i + 3).unwrap_or(section.len());
    section[..end].to_owned()
}

fn section<'a>(t: &'a Value, name: &str) -> &'a Mapping {
    t.get(name).and_then(Value::as_mapping).unwrap_or_else(|| panic!("template has no {name} section"))
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    section(t, "Resources").get(id).unwrap_or_else(|| panic!("template has no resource {id}"))
}

fn resource_type(r: &Value) -> &str {
    r.get("Type").and_then(Value::as_str).unwrap_or("")
}

fn props(r: &Value) -> &Value {
    r.get("Properties").unwrap_or(&Value::Null)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str)
}

/// A value or a list of values, as a list.
fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn keys(m: &Mapping) -> BTreeSet<String> {
    m.keys().filter_map(Value::as_str).map(str::to_owned).collect()
}

// ---------------------------------------------------------------- intrinsics

/// `(function, argument)` of an intrinsic function, short or long form:
/// `!Ref X` and `{"Ref": X}` both give `("Ref", X)`, `!Sub s` and
/// `{"Fn::Sub": s}` both give `("Sub", s)`.
fn intrinsic(v: &Value) -> Option<(&str, &Value)> {
    match v {
        Value::Tagged(t) => {
            let name: &'static str = INTRINSICS.iter().find(|n| t.tag == **n)?;
            Some((name, &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            let name = k.strip_prefix("Fn::").unwrap_or(k);
            if k != "Ref" && !k.starts_with("Fn::") {
                return None;
            }
            let name: &'static str = INTRINSICS.iter().find(|n| **n == name)?;
            Some((name, arg))
        }
        _ => None,
    }
}

const INTRINSICS: [&str; 20] = [
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Condition",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Base64",
    "Cidr",
    "Length",
    "ToJsonString",
    "Transform",
];

/// `${Name}` / `${Name.Attr}` placeholders of a `Sub` string (not `${!Literal}`).
fn sub_placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let inner = &rest[..end];
        rest = &rest[end + 1..];
        if !inner.starts_with('!') {
            out.push(inner.trim().to_owned());
        }
    }
    out
}

/// Logical name a `GetAtt` argument or a `Sub` placeholder refers to.
fn logical_name(s: &str) -> &str {
    if s.starts_with("AWS::") { s } else { s.split('.').next().unwrap_or(s) }
}

#[derive(Debug, Default)]
struct References {
    /// (where, name) for Ref, GetAtt and Sub.
    names: Vec<(String, String)>,
    /// (where, name) for If and Condition.
    conditions: Vec<(String, String)>,
}

fn collect_references(v: &Value, at: &str, out: &mut References) {
    if let Some((f, arg)) = intrinsic(v) {
        match f {
            "Ref" => {
                if let Some(name) = arg.as_str() {
                    out.names.push((at.to_owned(), name.to_owned()));
                }
            }
            "GetAtt" => {
                let target = match arg {
                    Value::String(s) => Some(logical_name(s).to_owned()),
                    Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                };
                if let Some(name) = target {
                    out.names.push((at.to_owned(), name));
                }
            }
            "Sub" => {
                let (text, vars) = match arg {
                    Value::String(s) => (Some(s.as_str()), None),
                    Value::Sequence(parts) => (parts.first().and_then(Value::as_str), parts.get(1)),
                    _ => (None, None),
                };
                let local: BTreeSet<String> = vars.and_then(Value::as_mapping).map(keys).unwrap_or_default();
                for p in text.map(sub_placeholders).unwrap_or_default() {
                    if !local.contains(&p) {
                        out.names.push((at.to_owned(), logical_name(&p).to_owned()));
                    }
                }
                if let Some(vars) = vars {
                    collect_references(vars, at, out);
                }
                return;
            }
            "Condition" => {
                if let Some(name) = arg.as_str() {
                    out.conditions.push((at.to_owned(), name.to_owned()));
                }
            }
            "If" => {
                if let Some(name) = arg.get(0).and_then(Value::as_str) {
                    out.conditions.push((at.to_owned(), name.to_owned()));
                }
                if let Value::Sequence(parts) = arg {
                    for p in parts.iter().skip(1) {
                        collect_references(p, at, out);
                    }
                }
                return;
            }
            _ => {}
        }
        collect_references(arg, at, out);
        return;
    }
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let k = k.as_str().unwrap_or("?");
                collect_references(child, &format!("{at}.{k}"), out);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_references(child, &format!("{at}[{i}]"), out);
            }
        }
        Value::Tagged(t) => collect_references(&t.value, at, out),
        _ => {}
    }
}

/// A resource or principal in a policy, in a form tests can compare:
/// `Ref:X`, `Arn:X` (`!GetAtt X.Arn`), `Sub:<text>` (`${X.Arn}` kept as is),
/// or the literal string.
fn describe(v: &Value) -> String {
    match intrinsic(v) {
        Some(("Ref", arg)) => format!("Ref:{}", arg.as_str().unwrap_or("?")),
        Some(("GetAtt", Value::String(s))) if s.ends_with(".Arn") => format!("Arn:{}", logical_name(s)),
        Some(("GetAtt", Value::Sequence(p))) if p.get(1).and_then(Value::as_str) == Some("Arn") => {
            format!("Arn:{}", p[0].as_str().unwrap_or("?"))
        }
        Some(("Sub", Value::String(s))) => format!("Sub:{s}"),
        Some((f, _)) => format!("{f}:<complex>"),
        None => match v {
            Value::String(s) => s.clone(),
            other => format!("{other:?}"),
        },
    }
}

// ------------------------------------------------------------------ policies

/// One policy statement and where it was found.
struct Statement<'a> {
    at: String,
    body: &'a Value,
}

fn statements_of<'a>(doc: &'a Value, at: &str, out: &mut Vec<Statement<'a>>) {
    if let Some(list) = doc.get("Statement") {
        for (i, s) in one_or_many(list).into_iter().enumerate() {
            out.push(Statement { at: format!("{at}.Statement[{i}]"), body: s });
        }
    }
}

/// Statements of identity policies: SAM `Policies` of functions, inline
/// policies of roles, `AWS::IAM::Policy` / `ManagedPolicy` documents.
/// (Resource policies and KMS key policies are checked elsewhere: in a key
/// policy `Resource: '*'` means the key itself.)
fn identity_statements(t: &Value) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for (id, r) in section(t, "Resources") {
        let id = id.as_str().unwrap_or("?");
        let p = props(r);
        match resource_type(r) {
            "AWS::Serverless::Function" => {
                for (i, pol) in p.get("Policies").map(one_or_many).unwrap_or_default().into_iter().enumerate() {
                    statements_of(pol, &format!("{id}.Policies[{i}]"), &mut out);
                }
            }
            "AWS::IAM::Role" => {
                for (i, pol) in p.get("Policies").map(one_or_many).unwrap_or_default().into_iter().enumerate() {
                    if let Some(doc) = pol.get("PolicyDocument") {
                        statements_of(doc, &format!("{id}.Policies[{i}]"), &mut out);
                    }
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                if let Some(doc) = p.get("PolicyDocument") {
                    statements_of(doc, id, &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.map(one_or_many).unwrap_or_default().into_iter().map(describe).collect()
}

// --------------------------------------------------------------- environment

/// Names passed as string literals to `env_required(`, `env_or(` or
/// `env_optional(` (turbofish allowed) in Rust source.
fn env_reads(src: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for f in ["env_required", "env_or", "env_optional"] {
        let mut from = 0;
        while let Some(i) = src[from..].find(f) {
            let start = from + i;
            from = start + f.len();
            let prev = src[..start].chars().next_back();
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut rest = &src[from..];
            if let Some(turbofish) = rest.strip_prefix("::<") {
                let Some(end) = turbofish.find('>') else { continue };
                rest = &turbofish[end + 1..];
            }
            let Some(rest) = rest.trim_start().strip_prefix('(') else { continue };
            let Some(rest) = rest.trim_start().strip_prefix('"') else { continue };
            if let Some(end) = rest.find('"') {
                names.insert(rest[..end].to_owned());
            }
        }
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn variables_read_by(crate_dir: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&repo_root().join("functions").join(crate_dir).join("src"), &mut files);
    files.iter().flat_map(|f| env_reads(&read(f))).collect()
}

/// Environment variables a function gets: Globals merged with its own.
fn environment_of(t: &Value, logical_id: &str) -> BTreeSet<String> {
    let global = str_path_mapping(t, &["Globals", "Function", "Environment", "Variables"]);
    let own = str_path_mapping(props(resource(t, logical_id)), &["Environment", "Variables"]);
    global.into_iter().chain(own).collect()
}

fn str_path_mapping(v: &Value, path: &[&str]) -> BTreeSet<String> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_mapping).map(keys).unwrap_or_default()
}

/// Markdown table rows (cells trimmed, backticks removed) of a document.
fn table_rows(doc: &str) -> Vec<Vec<String>> {
    doc.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|') && l.ends_with('|') && !l.contains("---"))
        .map(|l| l[1..l.len() - 1].split('|').map(|c| c.trim().replace('`', "")).collect())
        .collect()
}

/// `docs/configuration.md`: variable -> crate dirs of the functions that read it.
fn documented_variables() -> BTreeMap<String, BTreeSet<String>> {
    let doc = read(&repo_root().join("docs/configuration.md"));
    let mut out = BTreeMap::new();
    let all = functions();
    for row in table_rows(&doc) {
        let [name, functions, ..] = row.as_slice() else { continue };
        if !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') || name.is_empty() {
            continue;
        }
        let crates: BTreeSet<String> = if functions == "all" {
            all.iter().map(|(c, _)| c.clone()).collect()
        } else {
            functions.split(',').map(|f| f.trim().to_owned()).collect()
        };
        for c in &crates {
            assert!(all.iter().any(|(d, _)| d == c), "docs/configuration.md: `{name}` names unknown function {c:?}");
        }
        out.insert(name.clone(), crates);
    }
    assert!(!out.is_empty(), "docs/configuration.md: no variable table found");
    out
}

// --------------------------------------------------------------------- tests

#[test]
fn every_variable_a_function_reads_is_set_for_it() {
    let t = template();
    let mut problems = Vec::new();
    for (crate_dir, logical_id) in &functions() {
        let read = variables_read_by(crate_dir);
        if read.is_empty() {
            problems.push(format!(
                "functions/{crate_dir}/src: no env_required(\"..\") / env_or(\"..\", ..) / env_optional(\"..\") \
                 call found; the function must read its configuration through these (docs/configuration.md)"
            ));
            continue;
        }
        let set = environment_of(&t, logical_id);
        for name in read.difference(&set) {
            problems.push(format!("{logical_id} reads {name} but template.yaml does not set it"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn function_environments_are_exactly_the_documented_variables() {
    let t = template();
    let documented = documented_variables();
    for (crate_dir, logical_id) in &functions() {
        let expected: BTreeSet<String> =
            documented.iter().filter(|(_, fns)| fns.contains(crate_dir)).map(|(n, _)| n.clone()).collect();
        assert_eq!(
            environment_of(&t, logical_id),
            expected,
            "{logical_id}: environment differs from docs/configuration.md"
        );
    }
}

#[test]
fn functions_build_their_own_binary() {
    let t = template();
    let globals = t.get("Globals").and_then(|g| g.get("Function")).expect("Globals.Function");
    assert_eq!(str_at(globals, &["Runtime"]), Some("provided.al2023"));
    assert_eq!(str_at(globals, &["Handler"]), Some("bootstrap"));
    assert_eq!(strings(globals.get("Architectures")), ["arm64"]);
    for (crate_dir, logical_id) in &functions() {
        let f = resource(&t, logical_id);
        assert_eq!(resource_type(f), "AWS::Serverless::Function", "{logical_id}");
        assert_eq!(str_at(f, &["Metadata", "BuildMethod"]), Some("rust-cargolambda"), "{logical_id}");
        assert_eq!(str_at(f, &["Metadata", "BuildProperties", "Binary"]), Some(crate_dir.as_str()), "{logical_id}");
        let code_uri = str_at(props(f), &["CodeUri"]).unwrap_or_default();
        assert_eq!(code_uri.trim_end_matches('/'), format!("functions/{crate_dir}"), "{logical_id}");
        let manifest = read(&repo_root().join(code_uri).join("Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{crate_dir}\"")),
            "functions/{crate_dir}/Cargo.toml must define the binary {crate_dir}"
        );
        let log_group = props(f).get("LoggingConfig").and_then(|l| l.get("LogGroup")).map(describe);
        let log_group = log_group.unwrap_or_else(|| panic!("{logical_id}: no LoggingConfig.LogGroup"));
        let log_group = log_group.strip_prefix("Ref:").expect("LogGroup: !Ref <an AWS::Logs::LogGroup>");
        let lg = resource(&t, log_group);
        assert_eq!(resource_type(lg), "AWS::Logs::LogGroup");
        assert!(props(lg).get("RetentionInDays").is_some(), "{log_group}: no retention");
        // Asynchronous invocations: a dead-letter queue or a destination;
        // a stream: its event source mapping's on-failure destination.
        let stream_on_failure = props(f).get("Events").and_then(Value::as_mapping).is_some_and(|events| {
            events.values().any(|e| {
                e.get("Properties").and_then(|p| p.get("DestinationConfig")).and_then(|d| d.get("OnFailure")).is_some()
            })
        });
        assert!(
            props(f).get("DeadLetterQueue").is_some()
                || props(f).get("EventInvokeConfig").and_then(|c| c.get("DestinationConfig")).is_some()
                || stream_on_failure,
            "{logical_id}: no place for failed invocations"
        );
    }
}

#[test]
fn every_reference_names_something_defined() {
    let t = template();
    let mut defined: BTreeSet<String> = keys(section(&t, "Parameters"));
    defined.extend(keys(section(&t, "Resources")));
    defined.extend(PSEUDO_PARAMETERS.iter().map(|p| (*p).to_owned()));
    // SAM makes `<Function>Role` for every function that names no Role.
    for (id, r) in section(&t, "Resources") {
        if resource_type(r) == "AWS::Serverless::Function" && props(r).get("Role").is_none() {
            defined.insert(format!("{}Role", id.as_str().unwrap_or("?")));
        }
    }
    let conditions = t.get("Conditions").and_then(Value::as_mapping).map(keys).unwrap_or_default();

    let mut refs = References::default();
    for part in ["Conditions", "Globals", "Resources", "Outputs", "Rules"] {
        if let Some(v) = t.get(part) {
            collect_references(v, part, &mut refs);
        }
    }
    // Resource- and output-level `Condition: Name`.
    for part in ["Resources", "Outputs"] {
        for (id, r) in section(&t, part) {
            if let Some(c) = r.get("Condition").and_then(Value::as_str) {
                refs.conditions.push((format!("{part}.{}", id.as_str().unwrap_or("?")), c.to_owned()));
            }
        }
    }
    let policy_refs = refs.names.iter().filter(|(at, _)| at.contains("Polic")).count();
    assert!(policy_refs > 0, "no reference found inside any policy: the scan is broken");

    let mut dangling: Vec<String> = refs
        .names
        .iter()
        .filter(|(_, n)| !defined.contains(n))
        .map(|(at, n)| format!("{at}: {n} is neither a parameter, a resource nor a pseudo parameter"))
        .collect();
    dangling.extend(
        refs.conditions
            .iter()
            .filter(|(_, c)| !conditions.contains(c))
            .map(|(at, c)| format!("{at}: condition {c} is not defined")),
    );
    assert!(dangling.is_empty(), "\n{}", dangling.join("\n"));
}

#[test]
fn no_identity_policy_allows_every_resource_without_need() {
    let t = template();
    let statements = identity_statements(&t);
    assert!(statements.len() >= 5, "found only {} policy statements: the scan is broken", statements.len());
    let mut problems = Vec::new();
    for s in &statements {
        let b = s.body;
        if b.get("NotResource").is_some() || b.get("NotAction").is_some() {
            problems.push(format!("{}: NotResource / NotAction", s.at));
        }
        if str_at(b, &["Effect"]) != Some("Allow") {
            continue;
        }
        let actions = strings(b.get("Action"));
        for a in &actions {
            if a.contains('*') {
                problems.push(format!("{}: wildcard action {a}", s.at));
            }
        }
        let resources = strings(b.get("Resource"));
        if resources.iter().any(|r| r == "*" || r.ends_with(":*")) {
            for a in actions.iter().filter(|a| !STAR_RESOURCE_ACTIONS.contains(&a.as_str())) {
                problems.push(format!("{}: {a} on every resource ('*')", s.at));
            }
        }
    }
    // Managed policies (names or ARNs) would escape these checks.
    for (crate_dir, logical_id) in &functions() {
        let policies = props(resource(&t, logical_id)).get("Policies").map(one_or_many).unwrap_or_default();
        assert!(!policies.is_empty(), "{logical_id} ({crate_dir}) has no Policies");
        for p in policies {
            if !p.is_mapping() {
                problems.push(format!("{logical_id}: managed policy {}", describe(p)));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn contacts_table_matches_the_data_model() {
    let doc = read(&repo_root().join("docs/data-model.md"));
    let rows = table_rows(&doc);

    // Attribute table: `| pk | S | partition key |`, `| gsi1pk, gsi1sk | S | ... |`.
    let mut attribute_types = BTreeMap::new();
    let (mut partition_key, mut sort_key) = (None, None);
    for row in &rows {
        let [names, ty, meaning, ..] = row.as_slice() else { continue };
        if !(ty == "S" || ty == "N" || ty == "B") {
            continue;
        }
        let names: Vec<&str> = names.split(',').map(str::trim).collect();
        if !names.iter().all(|n| n == &"pk" || n == &"sk" || n.starts_with("gsi")) {
            continue;
        }
        for n in &names {
            attribute_types.insert((*n).to_owned(), ty.clone());
        }
        match meaning.as_str() {
            "partition key" => partition_key = Some(names[0].to_owned()),
            "sort key" => sort_key = Some(names[0].to_owned()),
            _ => {}
        }
    }
    // Index table: `| ByAccount | gsi1pk | gsi1sk |`.
    let mut indexes = BTreeMap::new();
    for row in &rows {
        let [name, pk, sk] = row.as_slice() else { continue };
        if name.starts_with("By") && attribute_types.contains_key(pk) && attribute_types.contains_key(sk) {
            indexes.insert(name.clone(), (pk.clone(), sk.clone(), "ALL".to_owned()));
        }
    }
    assert!(doc.contains("both project `ALL`"), "docs/data-model.md no longer says both indexes project ALL");
    let (partition_key, sort_key) = (partition_key.expect("doc: partition key"), sort_key.expect("doc: sort key"));
    // What the brief and the code rely on; if the document changes, change both.
    assert_eq!((partition_key.as_str(), sort_key.as_str()), ("pk", "sk"));
    assert_eq!(indexes.keys().map(String::as_str).collect::<Vec<_>>(), ["ByAccount", "ByEmail"]);

    let t = template();
    let table = resource(&t, "ContactsTable");
    assert_eq!(resource_type(table), "AWS::DynamoDB::Table");
    assert_eq!(str_at(table, &["DeletionPolicy"]), Some("Retain"));
    assert_eq!(str_at(table, &["UpdateReplacePolicy"]), Some("Retain"));
    let p = props(table);

    // The local harness reads these literally: no intrinsic function inside.
    for key in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"] {
        let v = p.get(key).unwrap_or_else(|| panic!("ContactsTable has no {key}"));
        let mut refs = References::default();
        collect_references(v, key, &mut refs);
        assert!(!has_tag(v) && refs.names.is_empty(), "ContactsTable.{key} must be a plain literal");
    }
    assert_eq!(str_at(p, &["BillingMode"]), Some("PAY_PER_REQUEST"));

    let attrs: BTreeMap<String, String> = one_or_many(&p["AttributeDefinitions"])
        .into_iter()
        .map(|a| (str_at(a, &["AttributeName"]).unwrap().to_owned(), str_at(a, &["AttributeType"]).unwrap().to_owned()))
        .collect();
    assert_eq!(attrs, attribute_types, "AttributeDefinitions differ from docs/data-model.md");

    assert_eq!(key_schema(&p["KeySchema"]), (partition_key, sort_key), "table KeySchema");

    let gsis: BTreeMap<String, (String, String, String)> = one_or_many(&p["GlobalSecondaryIndexes"])
        .into_iter()
        .map(|g| {
            let (pk, sk) = key_schema(&g["KeySchema"]);
            let projection = str_at(g, &["Projection", "ProjectionType"]).unwrap_or("").to_owned();
            (str_at(g, &["IndexName"]).unwrap().to_owned(), (pk, sk, projection))
        })
        .collect();
    assert_eq!(gsis, indexes, "GlobalSecondaryIndexes differ from docs/data-model.md");

    assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    assert_eq!(p["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
    assert_eq!(p["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert!(p.get("TimeToLiveSpecification").is_none(), "no TTL: a DELETE removes a contact at once");
}

fn has_tag(v: &Value) -> bool {
    match v {
        Value::Tagged(_) => true,
        Value::Mapping(m) => m.iter().any(|(k, v)| has_tag(k) || has_tag(v)),
        Value::Sequence(s) => s.iter().any(has_tag),
        _ => false,
    }
}

/// (HASH attribute, RANGE attribute) of a KeySchema.
fn key_schema(v: &Value) -> (String, String) {
    let elements = one_or_many(v);
    assert_eq!(elements.len(), 2, "KeySchema must have a HASH and a RANGE key");
    let find = |ty: &str| {
        elements
            .iter()
            .find(|e| str_at(e, &["KeyType"]) == Some(ty))
            .and_then(|e| str_at(e, &["AttributeName"]))
            .unwrap_or_else(|| panic!("KeySchema has no {ty} key"))
            .to_owned()
    };
    (find("HASH"), find("RANGE"))
}

/// The logical id behind `!Ref X` / `!GetAtt X.Arn` of a start-export variable.
fn start_export_target(t: &Value, variable: &str) -> String {
    let v = props(resource(t, "StartExportFunction"))
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(|vars| vars.get(variable))
        .unwrap_or_else(|| panic!("StartExportFunction does not set {variable}"));
    let d = describe(v);
    d.strip_prefix("Ref:").or_else(|| d.strip_prefix("Arn:")).unwrap_or_else(|| panic!("{variable}: {d}")).to_owned()
}

#[test]
fn cas_role_has_exactly_the_documented_trust_and_permissions() {
    // The facts this test encodes, as the docs state them: a change to
    // either side fails here until both agree.
    let facts = cas_role_doc().replace('\n', " ");
    for needle in [
        "`arn:aws:iam::452565589796:root`",
        "`sts:ExternalId`",
        "`s3:PutObject` and `s3:GetBucketLocation` on the export",
        "`sns:Publish` and `sns:GetTopicAttributes` on the topic",
        "`iam:GetRolePolicy` on itself",
    ] {
        assert!(facts.contains(needle), "docs/configuration.md (The role CAS assumes) no longer says {needle}");
    }

    let t = template();
    let role_id = start_export_target(&t, "CAS_ROLE_ARN");
    let bucket = start_export_target(&t, "EXPORT_BUCKET");
    let topic = start_export_target(&t, "SNS_TOPIC_ARN");
    let role = resource(&t, &role_id);
    assert_eq!(resource_type(role), "AWS::IAM::Role");
    assert_eq!(resource_type(resource(&t, &bucket)), "AWS::S3::Bucket");
    assert_eq!(resource_type(resource(&t, &topic)), "AWS::SNS::Topic");

    // Trust: only the Marketplace account, only with the seller's external id.
    let trust = one_or_many(&props(role)["AssumeRolePolicyDocument"]["Statement"]);
    assert_eq!(trust.len(), 1, "one trust statement");
    let s = trust[0];
    assert_eq!(str_at(s, &["Effect"]), Some("Allow"));
    assert_eq!(strings(s.get("Action")), ["sts:AssumeRole"]);
    assert_eq!(s["Principal"].as_mapping().map(Mapping::len), Some(1), "principal: the Marketplace account only");
    assert_eq!(strings(s["Principal"].get("AWS")), [MARKETPLACE_ACCOUNT_ROOT]);
    let condition = s.get("Condition").and_then(Value::as_mapping).expect("trust needs a Condition");
    assert_eq!(keys(condition), BTreeSet::from(["StringEquals".to_owned()]));
    let equals = condition.get("StringEquals").and_then(Value::as_mapping).unwrap();
    assert_eq!(keys(equals), BTreeSet::from(["sts:ExternalId".to_owned()]));
    assert_eq!(describe(&equals["sts:ExternalId"]), "Ref:CasExternalId");
    let external_id = section(&t, "Parameters").get("CasExternalId").expect("parameter CasExternalId");
    assert!(external_id.get("Default").is_none(), "CasExternalId must have no default");

    // Permissions: everything attached to the role, whatever the resource type.
    assert!(props(role).get("ManagedPolicyArns").is_none(), "no managed policy on the CAS role");
    assert!(props(role).get("PermissionsBoundary").is_none());
    let mut docs = Vec::new();
    for (i, p) in props(role).get("Policies").map(one_or_many).unwrap_or_default().into_iter().enumerate() {
        docs.push((format!("{role_id}.Policies[{i}]"), &p["PolicyDocument"]));
    }
    for (id, r) in section(&t, "Resources") {
        if matches!(resource_type(r), "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy")
            && strings(props(r).get("Roles")).contains(&format!("Ref:{role_id}"))
        {
            docs.push((id.as_str().unwrap_or("?").to_owned(), &props(r)["PolicyDocument"]));
        }
    }
    let mut granted = BTreeSet::new();
    for (at, doc) in docs {
        let mut statements = Vec::new();
        statements_of(doc, &at, &mut statements);
        for s in statements {
            assert_eq!(str_at(s.body, &["Effect"]), Some("Allow"), "{}", s.at);
            assert!(s.body.get("NotAction").is_none() && s.body.get("NotResource").is_none(), "{}", s.at);
            for a in strings(s.body.get("Action")) {
                for r in strings(s.body.get("Resource")) {
                    granted.insert((a.clone(), r));
                }
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("s3:PutObject", format!("Sub:${{{bucket}.Arn}}/*")),
        ("s3:GetBucketLocation", format!("Arn:{bucket}")),
        ("sns:Publish", format!("Ref:{topic}")),
        ("sns:GetTopicAttributes", format!("Ref:{topic}")),
        ("iam:GetRolePolicy", format!("Arn:{role_id}")),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r))
    .collect();
    assert_eq!(granted, expected, "CAS role permissions differ from docs/configuration.md");
}

#[test]
fn export_bucket_and_topic_admit_the_cas_role_over_tls_only() {
    let t = template();
    let role = format!("Arn:{}", start_export_target(&t, "CAS_ROLE_ARN"));
    let bucket = start_export_target(&t, "EXPORT_BUCKET");
    let topic = start_export_target(&t, "SNS_TOPIC_ARN");

    let mut bucket_statements = Vec::new();
    let mut topic_statements = Vec::new();
    for r in section(&t, "Resources").values() {
        let p = props(r);
        match resource_type(r) {
            "AWS::S3::BucketPolicy" if describe(&p["Bucket"]) == format!("Ref:{bucket}") => {
                statements_of(&p["PolicyDocument"], "bucket policy", &mut bucket_statements)
            }
            "AWS::SNS::TopicPolicy" if strings(p.get("Topics")).contains(&format!("Ref:{topic}")) => {
                statements_of(&p["PolicyDocument"], "topic policy", &mut topic_statements)
            }
            _ => {}
        }
    }
    let allowed_to_role = |statements: &[Statement<'_>]| -> BTreeSet<String> {
        statements
            .iter()
            .filter(|s| str_at(s.body, &["Effect"]) == Some("Allow"))
            .filter(|s| strings(s.body.get("Principal").and_then(|p| p.get("AWS"))).contains(&role))
            .flat_map(|s| strings(s.body.get("Action")))
            .collect()
    };
    let denies_plain_http = |statements: &[Statement<'_>]| {
        statements.iter().any(|s| {
            str_at(s.body, &["Effect"]) == Some("Deny")
                && s.body
                    .get("Condition")
                    .and_then(|c| c.get("Bool"))
                    .and_then(|b| b.get("aws:SecureTransport"))
                    .is_some_and(|v| v.as_str() == Some("false") || v.as_bool() == Some(false))
        })
    };
    assert_eq!(
        allowed_to_role(&bucket_statements),
        BTreeSet::from(["s3:GetBucketLocation".to_owned(), "s3:PutObject".to_owned()])
    );
    assert!(denies_plain_http(&bucket_statements), "the bucket policy must deny requests without TLS");
    assert!(
        allowed_to_role(&topic_statements).contains("sns:Publish"),
        "the topic policy must let the CAS role publish"
    );

    let b = props(resource(&t, &bucket));
    let block = &b["PublicAccessBlockConfiguration"];
    for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[k].as_bool(), Some(true), "{bucket}: {k}");
    }
    assert!(b.get("BucketEncryption").is_some(), "{bucket}: encryption at rest");
    let rules = one_or_many(&b["LifecycleConfiguration"]["Rules"]);
    assert!(
        rules.iter().any(|r| describe(&r["ExpirationInDays"]) == "Ref:ExportRetentionDays"
            && str_at(r, &["Status"]) == Some("Enabled")),
        "{bucket}: exports must expire after ExportRetentionDays"
    );
}

#[test]
fn alarms_watch_documented_metrics() {
    let doc = read(&repo_root().join("docs/configuration.md"));
    let documented: BTreeSet<String> = table_rows(&doc)
        .into_iter()
        .filter_map(|row| row.first().cloned())
        .flat_map(|cell| cell.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .collect();
    let t = template();
    let namespace = section(&t, "Parameters").get("MetricsNamespace").expect("parameter MetricsNamespace");
    assert_eq!(str_at(namespace, &["Default"]), Some("PscBridge"));

    let mut watched = BTreeSet::new();
    for (id, r) in section(&t, "Resources") {
        if resource_type(r) != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let p = props(r);
        if describe(&p["Namespace"]) == "Ref:MetricsNamespace" {
            let metric = str_at(p, &["MetricName"]).unwrap_or_default().to_owned();
            let id = id.as_str().unwrap_or("?");
            assert!(documented.contains(&metric), "{id} watches {metric}, not in docs/configuration.md");
            assert!(p.get("Dimensions").is_none(), "{id}: the custom metrics have no dimensions");
            watched.insert(metric);
        }
    }
    for metric in ["ExportFailed", "ExportPartial", "StartExportFailed", "DataStale"] {
        assert!(watched.contains(metric), "no alarm on {metric}");
    }
}

/// How a statement restricts `dynamodb:LeadingKeys`.
#[derive(Debug, PartialEq, Eq)]
struct LeadingKeys {
    /// The operator of its condition, e.g. `ForAllValues:StringEquals`.
    op: String,
    values: Vec<String>,
    /// It also requires the key (`Null: false`).
    required: bool,
}

/// What a statement grants one action on.
#[derive(Debug, PartialEq, Eq)]
struct Grant {
    resources: Vec<String>,
    leading_keys: Option<LeadingKeys>,
}

/// The `dynamodb:LeadingKeys` condition of a statement, if any.
fn leading_keys(statement: &Value) -> Option<LeadingKeys> {
    let condition = statement.get("Condition")?.as_mapping()?;
    let (op, values) = condition.iter().find_map(|(op, body)| {
        let values = body.get("dynamodb:LeadingKeys")?;
        let op = op.as_str()?;
        (op != "Null").then(|| (op.to_owned(), strings(Some(values))))
    })?;
    let required =
        condition.get("Null").and_then(|n| n.get("dynamodb:LeadingKeys")).is_some_and(|v| describe(v) == "false");
    Some(LeadingKeys { op, values, required })
}

/// Every DynamoDB action a function's `Policies` grant, and on what.
fn dynamodb_grants(t: &Value, logical_id: &str) -> BTreeMap<String, Grant> {
    let f = props(resource(t, logical_id));
    assert!(f.get("Role").is_none() && f.get("ManagedPolicyArns").is_none(), "only the Policies below");
    let mut granted: BTreeMap<String, Grant> = BTreeMap::new();
    for (i, policy) in f.get("Policies").map(one_or_many).unwrap_or_default().into_iter().enumerate() {
        // A SAM policy template (DynamoDBCrudPolicy, ...) grants whole-table
        // access; S3ReadPolicy and the like are checked by their own tests.
        if policy.get("Statement").is_none() {
            let template = policy.as_mapping().and_then(|m| m.keys().next()).and_then(Value::as_str).unwrap_or("?");
            assert!(
                !template.starts_with("DynamoDB"),
                "{logical_id}.Policies[{i}] is {template}, not a scoped statement"
            );
            continue;
        }
        let mut statements = Vec::new();
        statements_of(policy, &format!("{logical_id}.Policies[{i}]"), &mut statements);
        for s in statements {
            for action in strings(s.body.get("Action")) {
                if !action.to_ascii_lowercase().starts_with("dynamodb:") {
                    continue;
                }
                assert!(!action.contains('*'), "{}: wildcard action {action}", s.at);
                assert_eq!(str_at(s.body, &["Effect"]), Some("Allow"), "{}", s.at);
                let grant = Grant { resources: strings(s.body.get("Resource")), leading_keys: leading_keys(s.body) };
                let previous = granted.insert(action.clone(), grant);
                assert!(previous.is_none(), "{action} granted twice");
            }
        }
    }
    granted
}

fn grant(resource: &str, keys: Option<(&str, &str)>) -> Grant {
    Grant {
        resources: vec![resource.to_owned()],
        leading_keys: keys.map(|(op, v)| LeadingKeys { op: op.to_owned(), values: vec![v.to_owned()], required: true }),
    }
}

/// start-export may call only the DynamoDB operations it makes through the
/// core's DynamoDB store (warm_up, sync_state, reset_watermark,
/// export_requested, recent_exports),
/// each only on its own items: the sync state (pk = SYNC), its export records
/// (pk = EXPORT#<id>) and the exports' partition of the ByAccount index
/// (gsi1pk = EXPORTS). Never a contact: no Scan, no DeleteItem, no batch.
#[test]
fn start_export_holds_only_the_dynamodb_calls_it_makes_on_its_own_items() {
    let t = template();
    let granted = dynamodb_grants(&t, "StartExportFunction");
    for forbidden in ["dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"] {
        assert!(!granted.contains_key(forbidden), "start-export must not hold {forbidden}");
    }
    let (table, index) = ("Arn:ContactsTable", "Sub:${ContactsTable.Arn}/index/ByAccount");
    let expected = BTreeMap::from([
        ("dynamodb:DescribeTable".to_owned(), grant(table, None)),
        ("dynamodb:GetItem".to_owned(), grant(table, Some(("ForAllValues:StringEquals", "SYNC")))),
        ("dynamodb:PutItem".to_owned(), grant(table, Some(("ForAllValues:StringEquals", "SYNC")))),
        ("dynamodb:UpdateItem".to_owned(), grant(table, Some(("ForAllValues:StringLike", "EXPORT#*")))),
        ("dynamodb:Query".to_owned(), grant(index, Some(("ForAllValues:StringEquals", "EXPORTS")))),
    ]);
    assert_eq!(granted, expected);
}

/// The eligibility API's live checks: `ec2:ConfirmProductInstance` and
/// `aws-marketplace:SearchAgreements`, the latter only as the proposer (the
/// seller's own agreements), and nothing else beyond reading the table.
#[test]
fn eligibility_api_may_confirm_instances_and_search_only_its_own_agreements() {
    let t = template();
    let f = props(resource(&t, "EligibilityApiFunction"));
    let mut statements = Vec::new();
    for (i, policy) in f.get("Policies").map(one_or_many).unwrap_or_default().into_iter().enumerate() {
        statements_of(policy, &format!("EligibilityApiFunction.Policies[{i}]"), &mut statements);
    }
    let actions: BTreeSet<String> = statements.iter().flat_map(|s| strings(s.body.get("Action"))).collect();
    let live: BTreeSet<String> = actions.iter().filter(|a| !a.starts_with("dynamodb:")).cloned().collect();
    assert_eq!(
        live,
        BTreeSet::from(["ec2:ConfirmProductInstance".to_owned(), "aws-marketplace:SearchAgreements".to_owned()]),
        "the API's non-DynamoDB actions"
    );
    let search = statements
        .iter()
        .find(|s| strings(s.body.get("Action")).contains(&"aws-marketplace:SearchAgreements".to_owned()))
        .expect("a SearchAgreements statement");
    let party = search
        .body
        .get("Condition")
        .and_then(|c| c.get("StringEquals"))
        .and_then(|c| c.get("aws-marketplace:PartyType"))
        .map(describe);
    assert_eq!(party.as_deref(), Some("Proposer"), "{}: condition aws-marketplace:PartyType = Proposer", search.at);
    assert!(actions.iter().all(|a| !a.contains('*')), "no wildcard action: {actions:?}");
}

/// The usage rule: a String parameter, empty by default (no rule), in the
/// Eligibility API group, passed to the API alone as
/// `SUPPORT_REQUIRES_USAGE_WITHIN_DAYS` (the pattern itself is checked
/// against the function's own parser in eligibility-api's openapi tests).
#[test]
fn the_usage_rule_is_a_parameter_of_the_eligibility_api_only() {
    let t = template();
    let p = section(&t, "Parameters").get("SupportRequiresUsageWithinDays").expect("SupportRequiresUsageWithinDays");
    assert_eq!(str_at(p, &["Type"]), Some("String"));
    assert_eq!(str_at(p, &["Default"]), Some(""), "no usage rule by default");
    assert!(str_at(p, &["AllowedPattern"]).is_some_and(|a| a.starts_with("^$|")), "empty is allowed");
    let groups = t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"].as_sequence().expect("groups");
    let group = groups
        .iter()
        .find(|g| strings(g.get("Parameters")).contains(&"SupportRequiresUsageWithinDays".to_owned()))
        .expect("in a parameter group");
    assert_eq!(str_at(group, &["Label", "default"]), Some("Eligibility API"));
    let api = props(resource(&t, "EligibilityApiFunction"));
    assert_eq!(
        api["Environment"]["Variables"].get("SUPPORT_REQUIRES_USAGE_WITHIN_DAYS").map(describe).as_deref(),
        Some("Ref:SupportRequiresUsageWithinDays")
    );
    for (_, logical_id) in functions().iter().filter(|(_, id)| id != "EligibilityApiFunction") {
        assert!(
            !environment_of(&t, logical_id).contains("SUPPORT_REQUIRES_USAGE_WITHIN_DAYS"),
            "{logical_id} has no use for the usage rule"
        );
    }
}

/// contact-events: the table's stream with both images, a batch-failure
/// reporting event source mapping with bisect, bounded retries and an SQS
/// on-failure destination with an alarm, and a bus only it may put events on.
#[test]
fn contact_events_reads_the_stream_and_alone_puts_on_its_bus() {
    let t = template();
    let table = props(resource(&t, "ContactsTable"));
    assert_eq!(str_at(table, &["StreamSpecification", "StreamViewType"]), Some("NEW_AND_OLD_IMAGES"));
    let f = props(resource(&t, "ContactEventsFunction"));
    let events = f.get("Events").and_then(Value::as_mapping).expect("Events");
    assert_eq!(events.len(), 1, "one trigger");
    let stream = events.values().next().unwrap();
    assert_eq!(str_at(stream, &["Type"]), Some("DynamoDB"));
    let p = stream.get("Properties").expect("Properties");
    assert_eq!(get_att(&p["Stream"]).as_deref(), Some("ContactsTable.StreamArn"));
    assert_eq!(strings(p.get("FunctionResponseTypes")), ["ReportBatchItemFailures"]);
    assert_eq!(p.get("BisectBatchOnFunctionError").and_then(Value::as_bool), Some(true));
    let retries = p.get("MaximumRetryAttempts").and_then(Value::as_u64).expect("a bounded retry count");
    assert!((1..=100).contains(&retries), "{retries}");
    assert_eq!(p.get("ParallelizationFactor").and_then(Value::as_u64), Some(1), "order per contact");
    let on_failure = describe(&p["DestinationConfig"]["OnFailure"]["Destination"]);
    assert_eq!(on_failure, "Arn:ContactEventsFailureQueue");
    assert_eq!(resource_type(resource(&t, "ContactEventsFailureQueue")), "AWS::SQS::Queue");
    let alarm = props(resource(&t, "ContactEventsFailureAlarm"));
    assert_eq!(get_att(&alarm["Dimensions"][0]["Value"]).as_deref(), Some("ContactEventsFailureQueue.QueueName"));

    let env = f.get("Environment").and_then(|e| e.get("Variables")).expect("Environment");
    assert_eq!(describe(&env["EVENT_BUS_NAME"]), "Ref:ContactEventBus");
    assert_eq!(describe(&env["EVENT_DETAIL"]), "Ref:EventDetail");
    let detail = section(&t, "Parameters").get("EventDetail").expect("parameter EventDetail");
    assert_eq!(str_at(detail, &["Default"]), Some("full"));
    assert_eq!(strings(detail.get("AllowedValues")), ["full", "ids"]);

    let policy = props(resource(&t, "ContactEventBusPolicy"));
    let st = &policy["Statement"];
    assert_eq!((str_at(st, &["Effect"]), str_at(st, &["Action"])), (Some("Deny"), Some("events:PutEvents")));
    assert_eq!(describe(&st["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]), "Arn:ContactEventsFunctionRole");
}

#[test]
fn the_ingests_may_invoke_themselves_and_nothing_else_to_go_on_from_a_checkpoint() {
    let t = template();
    let invokes: Vec<(String, String)> = section(&t, "Resources")
        .iter()
        .filter(|(_, r)| resource_type(r) == "AWS::IAM::Policy")
        .flat_map(|(_, r)| {
            let p = props(r);
            let roles: Vec<String> = one_or_many(&p["Roles"]).into_iter().map(describe).collect();
            one_or_many(&p["PolicyDocument"]["Statement"])
                .into_iter()
                .filter(|st| strings(st.get("Action")).iter().any(|a| a.starts_with("lambda:")))
                .flat_map(move |st| {
                    let roles = roles.clone();
                    one_or_many(&st["Resource"]).into_iter().flat_map(move |res| {
                        roles.iter().map(move |role| (role.clone(), describe(res))).collect::<Vec<_>>()
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let each_itself = |f: &str| (format!("Ref:{f}Role"), format!("Arn:{f}"));
    assert_eq!(invokes, [each_itself("IngestExportFunction"), each_itself("IngestFeedsFunction")]);
    for function in ["IngestExportFunction", "IngestFeedsFunction"] {
        let role = format!("Ref:{function}Role");
        let policy = section(&t, "Resources")
            .values()
            .find(|r| {
                resource_type(r) == "AWS::IAM::Policy"
                    && describe(&props(r)["Roles"][0]) == role
                    && strings(props(r)["PolicyDocument"]["Statement"][0].get("Action"))
                        .iter()
                        .any(|a| a.starts_with("lambda:"))
            })
            .expect("the continuation policy");
        assert_eq!(
            strings(policy["Properties"]["PolicyDocument"]["Statement"][0].get("Action")),
            ["lambda:InvokeFunction"]
        );
    }
}

/// `!GetAtt X.Y` as `X.Y`.
fn get_att(v: &Value) -> Option<String> {
    match intrinsic(v)? {
        ("GetAtt", Value::String(s)) => Some(s.clone()),
        ("GetAtt", Value::Sequence(p)) => Some(p.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(".")),
        _ => None,
    }
}

// ------------------------------------------------------------------ webhook
//
// The optional webhook (docs/events.md, "Connecting a CRM or support desk"),
// checked as a seller gets it: the template's Conditions, `Fn::If`s and
// Rules are evaluated for a set of parameter values, so the tests see the
// resources CloudFormation would create.

/// The contact and export detail types contact-events emits (docs/events.md,
/// "Events"): what the webhook delivers.
const DETAIL_TYPES: [&str; 4] =
    ["PSC Contact Created", "PSC Contact Updated", "PSC Contact Deleted", "PSC Export Finished"];

/// The subscription detail types contact-events emits (docs/events.md,
/// "Subscription events"): the webhook leaves them out.
const SUBSCRIPTION_DETAIL_TYPES: [&str; 3] =
    ["Marketplace Subscription Started", "Marketplace Subscription Changed", "Marketplace Subscription Ended"];

/// The parameters that hold a webhook credential.
const WEBHOOK_SECRETS: [&str; 3] = ["WebhookApiKeyValue", "WebhookPassword", "WebhookOAuthClientSecret"];

type Params = BTreeMap<String, String>;

/// The parameter values of a deployment: every default, then `overrides`.
fn parameter_values(t: &Value, overrides: &[(&str, &str)]) -> Params {
    let mut out = Params::new();
    for (name, p) in section(t, "Parameters") {
        let name = name.as_str().unwrap_or("?").to_owned();
        if let Some(d) = p.get("Default") {
            out.insert(name, scalar(d));
        }
    }
    out.insert("CasExternalId".into(), "external-id".into());
    for (k, v) in overrides {
        out.insert((*k).to_owned(), (*v).to_owned());
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The value of a `Ref` to a parameter, or a literal.
fn operand(v: &Value, params: &Params) -> String {
    match intrinsic(v) {
        Some(("Ref", Value::String(name))) => {
            params.get(name).cloned().unwrap_or_else(|| panic!("no value for parameter {name}"))
        }
        Some((f, _)) => panic!("cannot evaluate Fn::{f} as an operand"),
        None => scalar(v),
    }
}

/// A condition expression (`Fn::Equals`, `Not`, `And`, `Or`, `Condition`)
/// under parameter values.
fn eval_condition(t: &Value, expr: &Value, params: &Params) -> bool {
    let (f, arg) = intrinsic(expr).unwrap_or_else(|| panic!("not a condition: {expr:?}"));
    let items = || one_or_many(arg);
    match f {
        "Equals" => {
            let a = items();
            operand(a[0], params) == operand(a[1], params)
        }
        "Not" => !eval_condition(t, items()[0], params),
        "And" => items().into_iter().all(|c| eval_condition(t, c, params)),
        "Or" => items().into_iter().any(|c| eval_condition(t, c, params)),
        "Condition" => named_condition(t, arg.as_str().unwrap_or("?"), params),
        other => panic!("Fn::{other} in a condition"),
    }
}

fn named_condition(t: &Value, name: &str, params: &Params) -> bool {
    let c = section(t, "Conditions").get(name).unwrap_or_else(|| panic!("no condition {name}"));
    eval_condition(t, c, params)
}

/// `v` with every `Fn::If` decided and every `AWS::NoValue` removed (`None`
/// when `v` itself is one).
fn decide(t: &Value, v: &Value, params: &Params) -> Option<Value> {
    match intrinsic(v) {
        Some(("If", Value::Sequence(parts))) => {
            let name = parts[0].as_str().unwrap_or("?");
            let branch = if named_condition(t, name, params) { &parts[1] } else { &parts[2] };
            return decide(t, branch, params);
        }
        Some(("Ref", Value::String(name))) if name == "AWS::NoValue" => return None,
        _ => {}
    }
    match v {
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, child) in m {
                if let Some(c) = decide(t, child, params) {
                    out.insert(k.clone(), c);
                }
            }
            Some(Value::Mapping(out))
        }
        Value::Sequence(items) => Some(Value::Sequence(items.iter().filter_map(|i| decide(t, i, params)).collect())),
        other => Some(other.clone()),
    }
}

/// A deployment: the resources and outputs CloudFormation creates for
/// these parameter values, `Fn::If`s decided.
struct Deployment {
    resources: BTreeMap<String, Value>,
    outputs: BTreeMap<String, Value>,
}

fn deploy(t: &Value, params: &Params) -> Deployment {
    let created = |part: &str| -> BTreeMap<String, Value> {
        section(t, part)
            .iter()
            .filter(|(_, r)| r.get("Condition").and_then(Value::as_str).is_none_or(|c| named_condition(t, c, params)))
            .map(|(id, r)| (id.as_str().unwrap_or("?").to_owned(), decide(t, r, params).unwrap_or(Value::Null)))
            .collect()
    };
    Deployment { resources: created("Resources"), outputs: created("Outputs") }
}

/// The `AssertDescription`s of the template's Rules that refuse these values.
fn refused_by_rules(t: &Value, params: &Params) -> Vec<String> {
    let mut out = Vec::new();
    for rule in section(t, "Rules").values() {
        if rule.get("RuleCondition").is_some_and(|c| !eval_condition(t, c, params)) {
            continue;
        }
        for a in one_or_many(&rule["Assertions"]) {
            if !eval_condition(t, &a["Assert"], params) {
                out.push(str_at(a, &["AssertDescription"]).unwrap_or("?").to_owned());
            }
        }
    }
    out
}

impl Deployment {
    fn of_type(&self, ty: &str) -> Vec<(&str, &Value)> {
        self.resources.iter().filter(|(_, r)| resource_type(r) == ty).map(|(id, r)| (id.as_str(), r)).collect()
    }

    /// Rules on the contact event bus and their targets.
    fn bus_rules(&self) -> Vec<(&str, &Value)> {
        self.of_type("AWS::Events::Rule")
            .into_iter()
            .filter(|(_, r)| describe(&props(r)["EventBusName"]) == "Ref:ContactEventBus")
            .collect()
    }

    /// Bus rules that match an event of this detail type from psc-bridge.
    fn rules_matching(&self, detail_type: &str) -> Vec<&str> {
        self.bus_rules()
            .into_iter()
            .filter(|(_, r)| {
                let pattern = &props(r)["EventPattern"];
                let types = strings(pattern.get("detail-type"));
                strings(pattern.get("source")) == ["psc-bridge"]
                    && (pattern.get("detail-type").is_none() || types.iter().any(|d| d == detail_type))
            })
            .map(|(id, _)| id)
            .collect()
    }
}

const HOOK: &str = "https://hooks.example.com/psc";

/// Every kind of webhook a seller can ask for, with the values the Rules
/// require; `(name, overrides)`.
fn webhook_setups() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let key = [("WebhookAuthType", "API_KEY"), ("WebhookApiKeyValue", "Bearer secret")];
    let basic =
        [("WebhookAuthType", "BASIC"), ("WebhookUsername", "agent@example.com/token"), ("WebhookPassword", "t")];
    let oauth = [
        ("WebhookAuthType", "OAUTH_CLIENT_CREDENTIALS"),
        ("WebhookOAuthTokenUrl", "https://id.example.com/oauth2/token"),
        ("WebhookOAuthClientId", "client"),
        ("WebhookOAuthClientSecret", "secret"),
    ];
    let with = |base: &[(&'static str, &'static str)], auth: &[(&'static str, &'static str)]| {
        base.iter().chain(auth).copied().collect::<Vec<_>>()
    };
    let event = [("WebhookUrl", HOOK)];
    let event_delete = [("WebhookUrl", HOOK), ("WebhookDeleteUrl", "https://hooks.example.com/psc/deleted")];
    let zendesk = [
        ("WebhookUrl", "https://acme.zendesk.com/api/v2/users/create_or_update"),
        ("WebhookPayload", "zendesk-users"),
        ("WebhookDeleteUrl", "https://acme.zendesk.com/api/v2/users/destroy_many"),
    ];
    let hubspot = [
        ("WebhookUrl", "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"),
        ("WebhookPayload", "hubspot-contacts"),
        ("WebhookDeleteUrl", "https://api.hubapi.com/crm/v3/objects/contacts/gdpr-delete"),
    ];
    vec![
        ("event, API key", with(&event, &key)),
        ("event, basic", with(&event, &basic)),
        ("event, OAuth", with(&event, &oauth)),
        ("event, OAuth with a scope", with(&event, &[&oauth[..], &[("WebhookOAuthScope", "events:write")]].concat())),
        ("event and a delete URL, API key", with(&event_delete, &key)),
        ("zendesk-users, basic", with(&zendesk, &basic)),
        ("hubspot-contacts, API key", with(&hubspot, &key)),
    ]
}

/// Without `WebhookUrl` (the default) the stack has no connection, no API
/// destination, no rule on the bus and no webhook output; every resource
/// the webhook adds exists only under a condition that needs `WebhookUrl`.
#[test]
fn without_a_webhook_url_the_stack_has_no_webhook() {
    let t = template();
    let url = section(&t, "Parameters").get("WebhookUrl").expect("parameter WebhookUrl");
    assert_eq!(str_at(url, &["Default"]), Some(""), "the webhook is off by default");

    let defaults = parameter_values(&t, &[]);
    assert!(refused_by_rules(&t, &defaults).is_empty(), "the defaults deploy: {:?}", refused_by_rules(&t, &defaults));
    let off = deploy(&t, &defaults);
    for ty in ["AWS::Events::Connection", "AWS::Events::ApiDestination"] {
        assert!(off.of_type(ty).is_empty(), "{ty} without WebhookUrl");
    }
    assert!(off.bus_rules().is_empty(), "a rule on the bus without WebhookUrl: {:?}", off.bus_rules());
    let webhook_ids = |d: &Deployment| -> BTreeSet<String> {
        d.resources.keys().chain(d.outputs.keys()).filter(|id| id.starts_with("Webhook")).cloned().collect()
    };
    assert!(webhook_ids(&off).is_empty(), "created without WebhookUrl: {:?}", webhook_ids(&off));

    // Everything the webhook adds appears with a WebhookUrl, and only then.
    let on = deploy(&t, &parameter_values(&t, &webhook_setups()[4].1));
    let added: BTreeSet<String> = on.resources.keys().filter(|id| !off.resources.contains_key(*id)).cloned().collect();
    assert_eq!(
        added,
        [
            "WebhookConnection",
            "WebhookDestination",
            "WebhookDeleteDestination",
            "WebhookRole",
            "WebhookDeadLetterQueue",
            "WebhookDeadLetterQueuePolicy",
            "WebhookRule",
            "WebhookDeleteRule",
            "WebhookDeadLetterAlarm",
        ]
        .map(String::from)
        .into(),
    );
    assert!(on.resources.keys().all(|id| off.resources.contains_key(id) || added.contains(id)));
}

/// Every event reaches the webhook exactly once, whatever the setup: Created
/// and Updated by one rule, and a deletion by exactly one rule too (its own,
/// where the system deletes with another call). A preset without its
/// delete call, or without the contact fields it maps, is refused.
#[test]
fn every_accepted_webhook_setup_delivers_each_event_once_and_every_deletion() {
    let t = template();
    for (name, overrides) in webhook_setups() {
        let params = parameter_values(&t, &overrides);
        assert!(refused_by_rules(&t, &params).is_empty(), "{name}: refused: {:?}", refused_by_rules(&t, &params));
        let d = deploy(&t, &params);
        let preset = params["WebhookPayload"] != "event";
        for ty in DETAIL_TYPES {
            let rules = d.rules_matching(ty);
            let expected = if preset && ty == "PSC Export Finished" { 0 } else { 1 };
            assert_eq!(rules.len(), expected, "{name}: {ty} goes to {rules:?}");
        }
        let deleted_to = d.rules_matching("PSC Contact Deleted")[0];
        let expected = if params["WebhookDeleteUrl"].is_empty() { "WebhookRule" } else { "WebhookDeleteRule" };
        assert_eq!(deleted_to, expected, "{name}");
    }

    // What the Rules refuse.
    let zendesk = webhook_setups()[5].1.clone();
    let without = |drop: &str, add: &[(&'static str, &'static str)]| {
        let mut o: Vec<_> = zendesk.iter().copied().filter(|(k, _)| *k != drop).collect();
        o.extend_from_slice(add);
        parameter_values(&t, &o)
    };
    let refused = refused_by_rules(&t, &without("WebhookDeleteUrl", &[]));
    assert!(refused.iter().any(|r| r.contains("WebhookDeleteUrl")), "a preset without its delete call: {refused:?}");
    let refused = refused_by_rules(&t, &without("", &[("EventDetail", "ids")]));
    assert!(refused.iter().any(|r| r.contains("EventDetail=full")), "a preset without contact fields: {refused:?}");
    for (auth, needed) in [
        ("API_KEY", vec!["WebhookApiKeyValue"]),
        ("BASIC", vec!["WebhookUsername", "WebhookPassword"]),
        ("OAUTH_CLIENT_CREDENTIALS", vec!["WebhookOAuthTokenUrl", "WebhookOAuthClientId", "WebhookOAuthClientSecret"]),
    ] {
        let refused = refused_by_rules(&t, &parameter_values(&t, &[("WebhookUrl", HOOK), ("WebhookAuthType", auth)]));
        for p in needed {
            assert!(refused.iter().any(|r| r.contains(p)), "{auth} without {p} is not refused: {refused:?}");
        }
    }
}

/// The rules on the bus send to the stack's own API destinations, as a role
/// that EventBridge alone may assume and that may invoke only those
/// destinations; failures are retried for a day, then dead-lettered.
#[test]
fn webhook_rules_target_their_destinations_with_a_role_that_may_invoke_only_them() {
    let t = template();
    for (name, overrides) in webhook_setups() {
        let d = deploy(&t, &parameter_values(&t, &overrides));
        let destinations: BTreeSet<String> =
            d.of_type("AWS::Events::ApiDestination").iter().map(|(id, _)| format!("Arn:{id}")).collect();
        let mut targeted = BTreeSet::new();
        for (rule, r) in d.bus_rules() {
            let targets = one_or_many(&props(r)["Targets"]);
            assert_eq!(targets.len(), 1, "{name}: {rule}: one target");
            let target = targets[0];
            let arn = describe(&target["Arn"]);
            assert!(destinations.contains(&arn), "{name}: {rule} targets {arn}, not one of {destinations:?}");
            targeted.insert(arn);
            assert_eq!(describe(&target["RoleArn"]), "Arn:WebhookRole", "{name}: {rule}");
            assert_eq!(describe(&target["DeadLetterConfig"]["Arn"]), "Arn:WebhookDeadLetterQueue", "{name}: {rule}");
            let retry = &target["RetryPolicy"];
            assert_eq!(retry["MaximumEventAgeInSeconds"].as_u64(), Some(86400), "{name}: {rule}: retried for a day");
            assert!(retry["MaximumRetryAttempts"].as_u64().is_some_and(|n| n > 0), "{name}: {rule}: retries");
        }
        assert_eq!(targeted, destinations, "{name}: every destination has its rule");
        for (id, dest) in d.of_type("AWS::Events::ApiDestination") {
            assert_eq!(describe(&props(dest)["ConnectionArn"]), "Arn:WebhookConnection", "{name}: {id}");
        }

        let role = props(&d.resources["WebhookRole"]);
        let trust = one_or_many(&role["AssumeRolePolicyDocument"]["Statement"]);
        assert_eq!(trust.len(), 1, "{name}: one trust statement");
        assert_eq!(strings(trust[0]["Principal"].get("Service")), ["events.amazonaws.com"], "{name}");
        assert_eq!(trust[0]["Principal"].as_mapping().map(Mapping::len), Some(1), "{name}: EventBridge only");
        assert_eq!(describe(&trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"]), "Ref:AWS::AccountId");
        assert!(role.get("ManagedPolicyArns").is_none() && role.get("PermissionsBoundary").is_none());
        let mut granted = BTreeSet::new();
        for p in one_or_many(&role["Policies"]) {
            let mut statements = Vec::new();
            statements_of(&p["PolicyDocument"], "WebhookRole", &mut statements);
            for s in statements {
                assert_eq!(str_at(s.body, &["Effect"]), Some("Allow"), "{name}");
                assert!(s.body.get("NotAction").is_none() && s.body.get("NotResource").is_none());
                for a in strings(s.body.get("Action")) {
                    for r in strings(s.body.get("Resource")) {
                        granted.insert((a.clone(), r));
                    }
                }
            }
        }
        let expected: BTreeSet<(String, String)> =
            destinations.iter().map(|d| ("events:InvokeApiDestination".to_owned(), d.clone())).collect();
        assert_eq!(granted, expected, "{name}: the role may invoke its destinations, nothing else");
    }
    // No other identity in the template may invoke an API destination.
    for s in identity_statements(&t) {
        let actions = strings(s.body.get("Action"));
        assert!(
            s.at.starts_with("WebhookRole") || !actions.iter().any(|a| a.starts_with("events:Invoke")),
            "{}: {actions:?}",
            s.at
        );
    }
}

/// The credentials are NoEcho parameters that go to the connection alone
/// (EventBridge keeps them in a Secrets Manager secret): never to a
/// function's environment, an output or another resource.
#[test]
fn webhook_credentials_are_no_echo_and_reach_only_the_connection() {
    let t = template();
    let parameters = section(&t, "Parameters");
    for p in WEBHOOK_SECRETS {
        let param = parameters.get(p).unwrap_or_else(|| panic!("parameter {p}"));
        assert_eq!(param.get("NoEcho").and_then(Value::as_bool), Some(true), "{p} must be NoEcho");
        assert_eq!(str_at(param, &["Default"]), Some(""), "{p}: no default secret");
    }
    for part in ["Resources", "Outputs"] {
        for (id, r) in section(&t, part) {
            let id = id.as_str().unwrap_or("?");
            let mut refs = References::default();
            collect_references(r, id, &mut refs);
            for (at, name) in refs.names.iter().filter(|(_, n)| WEBHOOK_SECRETS.contains(&n.as_str())) {
                assert_eq!(id, "WebhookConnection", "{at} refers to {name}");
            }
        }
    }
    // Each auth type puts its values where EventBridge expects them.
    for (name, overrides) in webhook_setups().into_iter().take(3) {
        let params = parameter_values(&t, &overrides);
        let d = deploy(&t, &params);
        let c = props(&d.resources["WebhookConnection"]);
        assert_eq!(describe(&c["AuthorizationType"]), "Ref:WebhookAuthType");
        let auth = c["AuthParameters"].as_mapping().expect("AuthParameters");
        let (kind, fields) = match params["WebhookAuthType"].as_str() {
            "API_KEY" => (
                "ApiKeyAuthParameters",
                vec![("ApiKeyName", "WebhookApiKeyName"), ("ApiKeyValue", "WebhookApiKeyValue")],
            ),
            "BASIC" => ("BasicAuthParameters", vec![("Username", "WebhookUsername"), ("Password", "WebhookPassword")]),
            _ => ("OAuthParameters", vec![("AuthorizationEndpoint", "WebhookOAuthTokenUrl")]),
        };
        assert_eq!(keys(auth), BTreeSet::from([kind.to_owned()]), "{name}: one kind of auth");
        for (field, param) in fields {
            assert_eq!(describe(&auth[kind][field]), format!("Ref:{param}"), "{name}: {kind}.{field}");
        }
        if kind == "OAuthParameters" {
            let client = &auth[kind]["ClientParameters"];
            assert_eq!(describe(&client["ClientSecret"]), "Ref:WebhookOAuthClientSecret");
            let body = one_or_many(&auth[kind]["OAuthHttpParameters"]["BodyParameters"]);
            assert!(
                body.iter().any(|b| str_at(b, &["Key"]) == Some("grant_type")
                    && str_at(b, &["Value"]) == Some("client_credentials"))
            );
        }
    }
}

/// What EventBridge cannot deliver lands in an encrypted queue that only the
/// webhook rules may write to, over TLS, and an alarm watches it.
#[test]
fn undelivered_webhook_events_go_to_an_alarmed_dead_letter_queue() {
    let t = template();
    let d = deploy(&t, &parameter_values(&t, &webhook_setups()[5].1));
    let q = props(&d.resources["WebhookDeadLetterQueue"]);
    assert_eq!(resource_type(&d.resources["WebhookDeadLetterQueue"]), "AWS::SQS::Queue");
    assert!(
        q.get("SqsManagedSseEnabled").and_then(Value::as_bool) == Some(true) || q.get("KmsMasterKeyId").is_some(),
        "the dead-letter queue holds contact data: encrypted at rest"
    );
    assert_eq!(q["MessageRetentionPeriod"].as_u64(), Some(1_209_600), "kept 14 days, as the other queues");

    let policy = props(&d.resources["WebhookDeadLetterQueuePolicy"]);
    assert_eq!(strings(policy.get("Queues")), ["Ref:WebhookDeadLetterQueue"]);
    let mut statements = Vec::new();
    statements_of(&policy["PolicyDocument"], "WebhookDeadLetterQueuePolicy", &mut statements);
    let allows: Vec<_> = statements.iter().filter(|s| str_at(s.body, &["Effect"]) == Some("Allow")).collect();
    assert_eq!(allows.len(), 1, "one Allow");
    let s = allows[0].body;
    assert_eq!(strings(s["Principal"].get("Service")), ["events.amazonaws.com"]);
    assert_eq!(strings(s.get("Action")), ["sqs:SendMessage"]);
    assert_eq!(strings(s.get("Resource")), ["Arn:WebhookDeadLetterQueue"]);
    let sources: BTreeSet<String> = strings(s["Condition"]["ArnEquals"].get("aws:SourceArn")).into_iter().collect();
    let rules: BTreeSet<String> = d.bus_rules().iter().map(|(id, _)| format!("Arn:{id}")).collect();
    assert_eq!(sources, rules, "only the webhook rules may dead-letter into it");
    assert!(
        statements.iter().any(|s| str_at(s.body, &["Effect"]) == Some("Deny")
            && s.body["Condition"]["Bool"]["aws:SecureTransport"].as_str() == Some("false")),
        "the queue refuses requests without TLS"
    );

    let alarm = props(&d.resources["WebhookDeadLetterAlarm"]);
    assert_eq!(str_at(alarm, &["Namespace"]), Some("AWS/SQS"));
    assert_eq!(str_at(alarm, &["MetricName"]), Some("ApproximateNumberOfMessagesVisible"));
    assert_eq!(get_att(&alarm["Dimensions"][0]["Value"]).as_deref(), Some("WebhookDeadLetterQueue.QueueName"));
    assert_eq!(alarm["Threshold"].as_u64(), Some(1), "one undelivered event is enough");
    let template_alarm = props(resource(&t, "WebhookDeadLetterAlarm"));
    assert_eq!(describe(&template_alarm["AlarmActions"]), "If:<complex>", "notifies AlarmTopic with AlarmEmail");

    for output in ["WebhookDestinationArn", "WebhookDeleteDestinationArn", "WebhookDeadLetterQueueUrl"] {
        assert!(d.outputs.contains_key(output), "output {output}");
    }
}

/// A JSON path of an input transformer (`$.a.b`) in an event.
fn json_path<'a>(event: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let rest = path.strip_prefix("$.")?;
    rest.split('.').try_fold(event, |v, k| v.get(k))
}

/// An input transformer applied to an event as EventBridge applies it: each
/// placeholder inside quotes becomes the string, any other its JSON.
fn transform(transformer: &Value, event: &serde_json::Value) -> String {
    let mut out = str_at(transformer, &["InputTemplate"]).expect("InputTemplate").to_owned();
    let paths = transformer.get("InputPathsMap").and_then(Value::as_mapping).expect("InputPathsMap");
    for (name, path) in paths {
        let (name, path) = (name.as_str().unwrap(), path.as_str().unwrap());
        let v = json_path(event, path).unwrap_or_else(|| panic!("{path} is not in the event"));
        let quoted = format!("\"<{name}>\"");
        let json = serde_json::to_string(v).unwrap();
        out = out.replace(&quoted, &json);
        let inner = json.trim_matches('"').to_owned();
        out = out.replace(&format!("<{name}>"), &inner);
    }
    out
}

fn sample_event(detail_type: &str) -> serde_json::Value {
    let file = format!("events/eventbridge-{}.json", detail_type.to_lowercase().replace(' ', "-"));
    serde_json::from_str(&read(&repo_root().join(&file))).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The presets' transformers, applied to the sample events, give the JSON
/// each system's call takes, with the sample's values; the deletion calls
/// get identifiers only; and docs/events.md shows exactly these transformers.
#[test]
fn webhook_presets_turn_the_sample_events_into_each_systems_calls() {
    let t = template();
    let created = sample_event("PSC Contact Created");
    let deleted = sample_event("PSC Contact Deleted");
    let guid = created["detail"]["customerGuid"].as_str().unwrap();
    let contact = &created["detail"]["contact"];
    let docs = documented_transformers();

    for (name, overrides) in webhook_setups().into_iter().skip(5) {
        let d = deploy(&t, &parameter_values(&t, &overrides));
        let upsert = &props(&d.resources["WebhookRule"])["Targets"][0];
        let body: serde_json::Value = serde_json::from_str(&transform(&upsert["InputTransformer"], &created))
            .unwrap_or_else(|e| panic!("{name}: the upsert body is not JSON: {e}"));
        let delete = &props(&d.resources["WebhookDeleteRule"])["Targets"][0];
        let (email, given) = (contact["email"].clone(), contact["givenName"].as_str().unwrap());
        if name.starts_with("zendesk") {
            let user = &body["user"];
            assert_eq!(user["external_id"], guid, "{name}");
            assert_eq!(user["email"], email, "{name}");
            assert_eq!(user["phone"], contact["telephoneNumber"], "{name}");
            assert!(user["name"].as_str().is_some_and(|n| n.starts_with(given)), "{name}: {user}");
            // Deletion: the bulk delete by external id, the guid from the event.
            let query = &delete["HttpParameters"]["QueryStringParameters"];
            let path = str_at(query, &["external_ids"]).expect("external_ids");
            assert_eq!(json_path(&deleted, path).and_then(serde_json::Value::as_str), Some(guid));
            assert_eq!(props(&d.resources["WebhookDeleteDestination"])["HttpMethod"].as_str(), Some("DELETE"));
        } else {
            let input = &body["inputs"][0];
            assert_eq!((input["idProperty"].as_str(), input["id"].as_str()), (Some("psc_customer_guid"), Some(guid)));
            assert_eq!(input["properties"]["email"], email, "{name}");
            assert_eq!(input["properties"]["firstname"], given, "{name}");
            let gdpr: serde_json::Value =
                serde_json::from_str(&transform(&delete["InputTransformer"], &deleted)).unwrap();
            assert_eq!(gdpr, serde_json::json!({"objectId": guid, "idProperty": "psc_customer_guid"}));
            assert_eq!(props(&d.resources["WebhookDeleteDestination"])["HttpMethod"].as_str(), Some("POST"));
        }
        // The delete call carries no contact field: the Deleted event has none.
        let delete_paths: Vec<String> = delete
            .get("InputTransformer")
            .and_then(|x| x.get("InputPathsMap"))
            .and_then(Value::as_mapping)
            .map(|m| m.values().map(scalar).collect())
            .unwrap_or_default();
        assert!(delete_paths.iter().all(|p| !p.contains(".contact.")), "{name}: {delete_paths:?}");

        for transformer in [upsert.get("InputTransformer"), delete.get("InputTransformer")].into_iter().flatten() {
            let shown = docs.iter().any(|(paths, template)| {
                let ours = transformer["InputPathsMap"].as_mapping().unwrap();
                paths.len() == ours.len()
                    && ours.iter().all(|(k, v)| paths.get(k.as_str().unwrap()).map(String::as_str) == v.as_str())
                    && collapse(template) == collapse(str_at(transformer, &["InputTemplate"]).unwrap())
            });
            assert!(shown, "{name}: docs/events.md does not show the template's transformer {transformer:?}");
        }
    }
}

/// Whitespace-insensitive form of an input template.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("")
}

/// The input transformers docs/events.md shows: each ```json block with an
/// `InputPathsMap` and an `InputTemplate`.
fn documented_transformers() -> Vec<(BTreeMap<String, String>, String)> {
    let doc = read(&repo_root().join("docs/events.md"));
    let mut out = Vec::new();
    for block in doc.split("```json").skip(1) {
        let Some(end) = block.find("```") else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&block[..end]) else { continue };
        let (Some(paths), Some(template)) = (v.get("InputPathsMap"), v.get("InputTemplate").and_then(|t| t.as_str()))
        else {
            continue;
        };
        let paths = paths
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
            .unwrap_or_default();
        out.push((paths, template.to_owned()));
    }
    assert!(!out.is_empty(), "docs/events.md shows no input transformer");
    out
}

/// ingest-feeds reads and writes its own items (`FEED#...` keys) and
/// nothing else of the table: no contact, no delete, no scan.
#[test]
fn ingest_feeds_holds_only_the_dynamodb_calls_it_makes_on_its_own_items() {
    let t = template();
    let table = "Arn:ContactsTable";
    let feeds = Some(("ForAllValues:StringLike", "FEED#*"));
    let expected: BTreeMap<String, Grant> = [
        ("dynamodb:DescribeTable", grant(table, None)),
        ("dynamodb:GetItem", grant(table, feeds)),
        ("dynamodb:PutItem", grant(table, feeds)),
        ("dynamodb:UpdateItem", grant(table, feeds)),
        ("dynamodb:Query", grant(table, feeds)),
        ("dynamodb:BatchGetItem", grant(table, feeds)),
        ("dynamodb:BatchWriteItem", grant(table, feeds)),
    ]
    .into_iter()
    .map(|(a, g)| (a.to_owned(), g))
    .collect();
    assert_eq!(dynamodb_grants(&t, "IngestFeedsFunction"), expected);
}

/// By default the stack creates the delivery set AWS's set-up creates, open
/// to the AWS Marketplace reports service for this account only, over TLS;
/// with an existing bucket it creates none of it and reads that bucket.
#[test]
fn the_data_feeds_delivery_set_admits_the_reports_service_of_this_account_only() {
    let t = template();
    let created = deploy(&t, &parameter_values(&t, &[]));
    for id in
        ["DataFeedsBucket", "DataFeedsKey", "DataFeedsTopic", "IngestFeedsTopicSubscription", "IngestFeedsKeyPolicy"]
    {
        assert!(created.resources.contains_key(id), "no {id} by default");
    }
    for output in ["DataFeedsBucketArn", "DataFeedsKmsKeyArn", "DataFeedsTopicArn"] {
        assert!(created.outputs.contains_key(output), "no output {output}");
    }
    for policy in ["DataFeedsBucketPolicy", "DataFeedsTopicPolicy"] {
        let statements = one_or_many(&props(&created.resources[policy])["PolicyDocument"]["Statement"]);
        let service = statements
            .iter()
            .find(|s| str_at(s, &["Principal", "Service"]) == Some("reports.marketplace.amazonaws.com"))
            .unwrap_or_else(|| panic!("{policy}: no statement for the reports service"));
        assert_eq!(str_at(service, &["Effect"]), Some("Allow"));
        assert_eq!(
            describe(&service["Condition"]["StringEquals"]["aws:SourceAccount"]),
            "Ref:AWS::AccountId",
            "{policy}: the reports service acts for this account only"
        );
        assert!(
            statements.iter().any(|s| str_at(s, &["Effect"]) == Some("Deny")
                && str_at(s, &["Condition", "Bool", "aws:SecureTransport"]) == Some("false")),
            "{policy}: TLS only"
        );
    }
    let encryption = &props(&created.resources["DataFeedsBucket"])["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        [0]["ServerSideEncryptionByDefault"];
    assert_eq!(str_at(encryption, &["SSEAlgorithm"]), Some("aws:kms"));

    let existing =
        deploy(&t, &parameter_values(&t, &[("DataFeedsBucketName", "sellers-feeds"), ("DataFeedsTopicArn", "")]));
    for id in
        ["DataFeedsBucket", "DataFeedsKey", "DataFeedsTopic", "IngestFeedsTopicSubscription", "IngestFeedsKeyPolicy"]
    {
        assert!(!existing.resources.contains_key(id), "{id} created beside an existing bucket");
    }
    let env = &props(&existing.resources["IngestFeedsFunction"])["Environment"]["Variables"];
    assert_eq!(describe(&env["FEEDS_BUCKET"]), "Ref:DataFeedsBucketName");
}

/// A Lambda event filter pattern matched against a record's JSON, as the
/// event source mapping matches it: every key of the pattern present and
/// matching, a list matching when one of its values does (an exact string,
/// or `{"prefix": ...}`, the only operators the template uses).
fn filter_matches(pattern: &serde_json::Value, record: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match pattern {
        J::Object(fields) => fields.iter().all(|(k, p)| record.get(k).is_some_and(|r| filter_matches(p, r))),
        J::Array(options) => options.iter().any(|o| match o {
            J::String(s) => record.as_str() == Some(s.as_str()),
            J::Object(op) if op.len() == 1 && op.get("prefix").is_some_and(J::is_string) => {
                record.as_str().is_some_and(|r| r.starts_with(op["prefix"].as_str().unwrap()))
            }
            other => panic!("a filter operator this test does not know: {other}"),
        }),
        other => panic!("a filter pattern this test does not know: {other}"),
    }
}

/// contact-events is invoked for the records that can be an event, every
/// kind of them (a contact's INSERT, MODIFY to a deletion marker and
/// REMOVE, an export record, a data-feeds agreement item), and not for the
/// sync state or any other data-feeds item (docs/data-model.md lists them):
/// a backfill of the feeds writes millions of usage days.
#[test]
fn contact_events_stream_filter_passes_only_records_that_can_be_events() {
    let t = template();
    let f = props(resource(&t, "ContactEventsFunction"));
    let p = &f["Events"]["TableStream"]["Properties"];
    let patterns: Vec<serde_json::Value> = one_or_many(&p["FilterCriteria"]["Filters"])
        .into_iter()
        .map(|f| serde_json::from_str(str_at(f, &["Pattern"]).expect("a Pattern string")).expect("a JSON pattern"))
        .collect();
    assert!(!patterns.is_empty() && patterns.len() <= 5, "1 to 5 filters (Lambda's default limit): {patterns:?}");
    let passes = |record: &serde_json::Value| patterns.iter().any(|p| filter_matches(p, record));
    let record = |name: &str, pk: &str, sk: &str, old: bool, new: bool| {
        let keys = serde_json::json!({"pk": {"S": pk}, "sk": {"S": sk}});
        let mut image = keys.as_object().unwrap().clone();
        image.insert("kind".into(), serde_json::json!({"S": "ANY"}));
        let mut ddb = serde_json::json!({"Keys": keys, "SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES"});
        if old {
            ddb["OldImage"] = serde_json::Value::Object(image.clone());
        }
        if new {
            ddb["NewImage"] = serde_json::Value::Object(image);
        }
        serde_json::json!({"eventID": "1", "eventName": name, "eventSource": "aws:dynamodb", "dynamodb": ddb})
    };
    let guid = "CONTACT#ba1d75cc-d984-4f07-bb14-ae04b952afbc";
    let events = [
        ("a new contact", record("INSERT", guid, "CONTACT", false, true)),
        ("a contact changed or deleted (a DELETE row)", record("MODIFY", guid, "CONTACT", true, true)),
        ("a contact's item removed", record("REMOVE", guid, "CONTACT", true, false)),
        ("an export record", record("MODIFY", "EXPORT#c3c84ee0-5aba-11e6-8d9c-235dc080841d", "EXPORT", true, true)),
        ("a new agreement", record("INSERT", "FEED#ACCOUNT#Qw3rTy7u", "AGREEMENT#agmt-aaaa1111", false, true)),
        ("an agreement changed", record("MODIFY", "FEED#ACCOUNT#Qw3rTy7u", "AGREEMENT#agmt-aaaa1111", true, true)),
        ("an agreement removed", record("REMOVE", "FEED#ACCOUNT#Qw3rTy7u", "AGREEMENT#agmt-aaaa1111", true, false)),
    ];
    for (what, r) in &events {
        assert!(passes(r), "{what} must invoke contact-events");
    }
    let none = [
        ("the sync state", "SYNC", "STATE"),
        ("a usage day", "FEED#ACCOUNT#Qw3rTy7u", "ACTIVITY#2025-06-01#prod-x7bdfpkk4mtnq"),
        ("a feed account (the bridge)", "FEED#ACCOUNT#Qw3rTy7u", "ACCOUNT"),
        ("a product", "FEED#PRODUCTS", "prod-x7bdfpkk4mtnq"),
        ("an offer product", "FEED#OFFER#offer-abcd1234efgh5", "PRODUCT#prod-x7bdfpkk4mtnq"),
        ("a month object state", "FEED#OBJECT", "AgreementFeed_V1/year=2025/month=03/data.csv"),
        ("a feeds run", "FEED#RUN", "2026-12-01T00:00:00.000Z-req"),
        ("the feeds' lease", "FEED#STATE", "LEASE"),
        ("the feeds' asOf", "FEED#STATE", "AS_OF"),
    ];
    for (what, pk, sk) in none {
        for (name, old, new) in [("INSERT", false, true), ("MODIFY", true, true), ("REMOVE", true, false)] {
            assert!(!passes(&record(name, pk, sk, old, new)), "{what} ({name}) must not invoke contact-events");
        }
    }
}

/// contact-events reads the table for two things only: the backfill's Scan
/// of the contacts, and the subscription events' lookups (BatchGetItem and
/// Query) on the data feeds' items (`FEED#...` keys). It writes nothing.
#[test]
fn contact_events_reads_only_what_its_events_need() {
    let t = template();
    let table = "Arn:ContactsTable";
    let feeds = Some(("ForAllValues:StringLike", "FEED#*"));
    let expected: BTreeMap<String, Grant> = [
        ("dynamodb:Scan", grant(table, None)),
        ("dynamodb:Query", grant(table, feeds)),
        ("dynamodb:BatchGetItem", grant(table, feeds)),
    ]
    .into_iter()
    .map(|(a, g)| (a.to_owned(), g))
    .collect();
    assert_eq!(dynamodb_grants(&t, "ContactEventsFunction"), expected);
}

/// The webhook is for contacts: whatever the setup, no rule of the stack
/// sends a subscription event to it (a seller routes them with a rule of
/// its own, docs/events.md), and the contact events still reach it as
/// before.
#[test]
fn the_webhook_leaves_the_subscription_events_out() {
    let t = template();
    for (name, overrides) in webhook_setups() {
        let d = deploy(&t, &parameter_values(&t, &overrides));
        for ty in SUBSCRIPTION_DETAIL_TYPES {
            assert_eq!(d.rules_matching(ty), Vec::<&str>::new(), "{name}: {ty}");
        }
        assert_eq!(d.rules_matching("PSC Contact Created"), ["WebhookRule"], "{name}");
    }
    // The samples are what a rule of the seller's own receives.
    for ty in SUBSCRIPTION_DETAIL_TYPES {
        let sample = sample_event(ty);
        assert_eq!((sample["source"].as_str(), sample["detail-type"].as_str()), (Some("psc-bridge"), Some(ty)));
    }
}
