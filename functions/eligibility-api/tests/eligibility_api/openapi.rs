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
