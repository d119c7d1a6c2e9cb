//! `docs/openapi.yaml` describes exactly the routes the router serves
//! (`eligibility_api::ROUTES`, the table the router matches against), with
//! their path and query parameters; `template.yaml` wires exactly those
//! routes to the function. A route in one and not the other fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use eligibility_api::{ROUTES, RouteMatch, match_route};
use serde_norway::Value;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml(rel: &str) -> Value {
    let path = repo_root().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

fn served() -> BTreeSet<(String, String)> {
    ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect()
}

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let path = r.strip_prefix("#/").unwrap_or_else(|| panic!("only local refs: {r}"));
            path.split('/').fold(doc, |v, k| v.get(k).unwrap_or_else(|| panic!("dangling $ref {r}")))
        }
        None => v,
    }
}

#[test]
fn openapi_paths_and_methods_are_the_routes_served() {
    let doc = yaml("docs/openapi.yaml");
    assert!(doc.get("openapi").and_then(Value::as_str).is_some_and(|v| v.starts_with("3.")), "an OpenAPI 3 document");
    let paths = doc.get("paths").and_then(Value::as_mapping).expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().unwrap();
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if METHODS.contains(&method) {
                documented.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    let served = served();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in docs/openapi.yaml: {undocumented:?}; in docs/openapi.yaml but not served: {unserved:?}"
    );
}

#[test]
fn openapi_parameters_are_the_ones_the_router_reads() {
    let doc = yaml("docs/openapi.yaml");
    for route in ROUTES {
        let op = doc["paths"][route.path][route.method.to_lowercase().as_str()].clone();
        let params: Vec<Value> = op
            .get("parameters")
            .and_then(Value::as_sequence)
            .map(|s| s.iter().map(|p| resolve(&doc, p).clone()).collect())
            .unwrap_or_default();
        let of = |kind: &str| -> BTreeSet<String> {
            params
                .iter()
                .filter(|p| p["in"].as_str() == Some(kind))
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let template_params: BTreeSet<String> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(of("path"), template_params, "{}: path parameters", route.key());
        let query: BTreeSet<String> = route.query.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(of("query"), query, "{}: query parameters", route.key());
        for p in &params {
            if p["in"] == "path" {
                assert_eq!(p["required"], Value::Bool(true), "{}: path parameters are required", route.key());
            }
        }
        assert!(op["responses"].get("200").is_some(), "{}: a 200 response", route.key());
        assert!(op["responses"].get("400").is_some(), "{}: a 400 response", route.key());
        assert!(op["responses"].get("500").is_some(), "{}: a 500 response", route.key());
    }
}

#[test]
fn every_documented_example_path_is_routed() {
    // Each documented path, with its parameters filled in, reaches its route.
    for route in ROUTES {
        let concrete = route
            .path
            .replace("{awsAccountId}", "000011112222")
            .replace("{productCode}", "4gzp2symm0v9zidfrn9f854w6")
            .replace("{customerGuid}", "ba1d75cc-d984-4f07-bb14-ae04b952afbc");
        match match_route(route.method, &concrete) {
            RouteMatch::Found(r, _) => assert_eq!(r, route),
            other => panic!("{concrete}: {other:?}"),
        }
    }
}

/// CloudFormation short tags (`!Ref`) parse as tagged values: fine here, we
/// only read plain strings.
#[test]
fn template_wires_exactly_the_routes_served_to_the_function() {
    let t = yaml("template.yaml");
    let f = &t["Resources"]["EligibilityApiFunction"];
    assert_eq!(f["Properties"]["CodeUri"].as_str(), Some("functions/eligibility-api"));
    let events = f["Properties"]["Events"].as_mapping().expect("EligibilityApiFunction has Events");
    let mut wired = BTreeSet::new();
    for (name, ev) in events {
        assert_eq!(ev["Type"].as_str(), Some("HttpApi"), "{name:?}: an HttpApi event");
        let p = &ev["Properties"];
        assert_eq!(p["PayloadFormatVersion"].as_str(), Some("2.0"), "{name:?}: payload format 2.0");
        wired.insert((
            p["Method"].as_str().expect("Method").to_uppercase(),
            p["Path"].as_str().expect("Path").to_owned(),
        ));
    }
    assert_eq!(wired, served(), "template.yaml events vs the routes served");
    // The API's own definition body lists the same paths (for their auth settings).
    if let Some(paths) = t["Resources"]["EligibilityHttpApi"]["Properties"]["DefinitionBody"]["paths"].as_mapping() {
        let mut defined = BTreeSet::new();
        for (path, item) in paths {
            for (method, _) in item.as_mapping().unwrap() {
                if METHODS.contains(&method.as_str().unwrap()) {
                    defined.insert((method.as_str().unwrap().to_uppercase(), path.as_str().unwrap().to_owned()));
                }
            }
        }
        assert_eq!(defined, served(), "EligibilityHttpApi DefinitionBody paths vs the routes served");
    }
}

/// `SupportRequiresUsageWithinDays`'s `AllowedPattern` lets through exactly
/// the values the function accepts (a value CloudFormation lets through
/// must not fail the function's init).
#[test]
fn the_usage_rule_parameter_admits_what_the_function_accepts() {
    let t = yaml("template.yaml");
    let pattern = t["Parameters"]["SupportRequiresUsageWithinDays"]["AllowedPattern"].as_str().expect("AllowedPattern");
    let pattern = regex::Regex::new(pattern).expect("a valid pattern");
    let mut values: Vec<String> = (0..=4000).map(|n| n.to_string()).collect();
    values.extend(["", "01", "0010", "-1", "1.5", "abc", "36500", "1e3"].map(str::to_owned));
    for v in &values {
        let parsed = eligibility_api::usage_within_days(v);
        assert_eq!(pattern.is_match(v), parsed.is_ok() && !v.starts_with('0'), "{v:?}: {parsed:?}");
    }
    assert_eq!(eligibility_api::usage_within_days("").unwrap(), None);
    assert_eq!(eligibility_api::usage_within_days("3650").unwrap(), Some(3650));
    let e = eligibility_api::usage_within_days("0").unwrap_err().to_string();
    assert!(e.contains("SUPPORT_REQUIRES_USAGE_WITHIN_DAYS"), "the error names the variable: {e}");
}

// ------------------------------------------- the schemas against the types

/// The OpenAPI document as JSON, to walk beside the answers.
fn openapi_json() -> serde_json::Value {
    serde_json::to_value(yaml("docs/openapi.yaml")).expect("docs/openapi.yaml as JSON")
}

/// `schema` with its `$ref` (or `allOf: [{$ref}]`) followed.
fn schema_of<'a>(doc: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    let target = schema.get("$ref").or_else(|| schema.get("allOf").and_then(|all| all.get(0)?.get("$ref")));
    match target.and_then(serde_json::Value::as_str) {
        Some(r) => {
            let path = r.strip_prefix("#/").unwrap_or_else(|| panic!("only local refs: {r}"));
            let found = path.split('/').fold(doc, |v, k| v.get(k).unwrap_or_else(|| panic!("dangling $ref {r}")));
            schema_of(doc, found)
        }
        None => schema,
    }
}

fn names(o: &serde_json::Map<String, serde_json::Value>) -> BTreeSet<String> {
    o.keys().cloned().collect()
}

fn required(schema: &serde_json::Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(|r| r.as_array())
        .map_or_else(BTreeSet::new, |r| r.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
}

/// Checks `value` against `schema`: an object has exactly the documented
/// properties (`all_members`: every optional one present) or exactly the
/// required ones (`!all_members`); each value has the documented type, a
/// `null` only where `nullable`, an enum member only from the enum.
fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    all_members: bool,
    at: &str,
) {
    use serde_json::Value as J;
    let nullable = schema.get("nullable") == Some(&J::Bool(true));
    let s = schema_of(doc, schema);
    if value.is_null() {
        assert!(nullable, "{at}: null, and the schema does not say nullable");
        return;
    }
    let ty = s.get("type").and_then(J::as_str);
    let ok = match (ty, value) {
        (Some("string"), J::String(_)) | (Some("boolean"), J::Bool(_)) | (Some("array"), J::Array(_)) => true,
        (Some("integer"), J::Number(n)) => n.is_i64() || n.is_u64(),
        (Some("number"), J::Number(_)) => true,
        (Some("object") | None, J::Object(_)) => s.get("properties").is_some(),
        _ => false,
    };
    assert!(ok, "{at}: {value} is not of the documented type {ty:?}");
    if let Some(members) = s.get("enum").and_then(J::as_array) {
        assert!(members.contains(value), "{at}: {value} is not one of the documented {members:?}");
    }
    match value {
        J::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(doc, &s["items"], item, all_members, &format!("{at}[{i}]"));
            }
        }
        J::Object(o) => {
            let props = s["properties"].as_object().unwrap_or_else(|| panic!("{at}: properties"));
            let expected = if all_members { names(props) } else { required(s) };
            assert_eq!(
                names(o),
                expected,
                "{at}: the type's members vs the schema's {}",
                if all_members { "properties" } else { "required members" }
            );
            for (k, v) in o {
                conforms(doc, &props[k], v, all_members, &format!("{at}.{k}"));
            }
        }
        _ => {}
    }
}

/// `value` with only the members `schema` requires, at every level.
fn only_required(doc: &serde_json::Value, schema: &serde_json::Value, value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    let s = schema_of(doc, schema);
    match value {
        J::Array(items) => J::Array(items.iter().map(|i| only_required(doc, &s["items"], i)).collect()),
        J::Object(o) => {
            let keep = required(s);
            J::Object(
                o.iter()
                    .filter(|(k, _)| keep.contains(*k))
                    .map(|(k, v)| (k.clone(), only_required(doc, &s["properties"][k], v)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// One answer type against its schema: the complete example has every
/// documented property and nothing else; the same answer cut down to the
/// required members still reads as the type, and writes back exactly the
/// required members (the others are the type's optional ones).
fn check_answer<T: serde::Serialize + serde::de::DeserializeOwned>(doc: &serde_json::Value, name: &str, complete: T) {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "docs/openapi.yaml has no schema {name}");
    let full = serde_json::to_value(&complete).unwrap();
    conforms(doc, schema, &full, true, name);
    let cut = only_required(doc, schema, &full);
    let read: T = serde_json::from_value(cut.clone())
        .unwrap_or_else(|e| panic!("{name}: its required members alone do not read as the type: {e}\n{cut}"));
    conforms(doc, schema, &serde_json::to_value(&read).unwrap(), false, name);
}

#[test]
fn openapi_schemas_are_the_contracts_types() {
    use psc_bridge::api::{ErrorBody, examples};
    let doc = openapi_json();
    check_answer(&doc, "AccountView", examples::account());
    check_answer(&doc, "AccountProductView", examples::account_product());
    check_answer(&doc, "InstanceView", examples::instance());
    check_answer(&doc, "ContactsView", examples::contacts());
    check_answer(&doc, "ContactView", examples::contact_view());
    check_answer(&doc, "SyncView", examples::sync());
    check_answer(&doc, "SubscribersView", examples::subscribers());
    check_answer(&doc, "DataFeedsSource", examples::data_feeds());
    check_answer(&doc, "Error", ErrorBody { freshness: None, ..examples::error() });
    let mut not_found = examples::error();
    (not_found.error.field, not_found.error.request_id) = (None, None);
    check_answer(&doc, "NotFound", not_found);
    // Each 200 answers the schema its route's answer type is checked against.
    for (route, schema) in [
        ("/accounts/{awsAccountId}", "AccountView"),
        ("/accounts/{awsAccountId}/products/{productCode}", "AccountProductView"),
        ("/accounts/{awsAccountId}/instances/{instanceId}", "InstanceView"),
        ("/contacts", "ContactsView"),
        ("/contacts/{customerGuid}", "ContactView"),
        ("/sync", "SyncView"),
        ("/products/{productCode}/subscribers", "SubscribersView"),
    ] {
        let answer = &doc["paths"][route]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(answer.as_str(), Some(format!("#/components/schemas/{schema}").as_str()), "{route}");
    }
}

#[test]
fn every_route_has_its_lookup_in_the_contract() {
    use eligibility_api::params::Query;
    let lookups = psc_bridge::api::examples::lookups();
    for lookup in &lookups {
        let path_and_query = lookup.path_and_query();
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query.as_str(), None),
        };
        match match_route("GET", &format!("/{path}")) {
            RouteMatch::Found(route, _) => {
                assert_eq!(route.path, lookup.route(), "{path_and_query}");
                if let Err(e) = Query::parse(query, route.query) {
                    panic!("{path_and_query}: the route refuses {}: {}", e.field, e.message);
                }
            }
            other => panic!("{path_and_query}: {other:?}"),
        }
    }
    let asked: BTreeSet<&str> = lookups.iter().map(|l| l.route()).collect();
    let served: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    assert_eq!(asked, served, "a Lookup per route");
}
