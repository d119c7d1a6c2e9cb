//! Where `psc` points, and how it authenticates.
//!
//! * `--api-url URL` / `PSC_API_URL`: the API's base URL (the stack output
//!   `ApiUrl`). Requests are SigV4-signed for `execute-api` in the region of
//!   the URL (`<id>.execute-api.<region>.amazonaws.com`), else the region
//!   of aws-config's chain.
//! * `--stack NAME`: reads `ApiUrl`, `StartExportFunctionName`,
//!   `ContactEventsFunctionName` and `ExportBucketName` from the stack's
//!   outputs (CloudFormation `DescribeStacks`).
//! * `PSC_START_EXPORT_FUNCTION` / `PSC_CONTACT_EVENTS_FUNCTION`: the
//!   functions' names without `--stack`.
//! * `--local`: `make local`'s endpoints: the API and the Lambda Invoke API
//!   (start-export, contact-events) of `cargo lambda watch` on 127.0.0.1:9000 (`PSC_LOCAL_PORT` for another
//!   port), and moto's S3 from `target/local-run/functions.env` (found from
//!   the current directory up, or in `PSC_LOCAL_DIR`). Unsigned: the local
//!   function URL checks no authorization.
//! * `--token T` / `PSC_TOKEN`: with `ApiAuth=JWT`, sent as a bearer token
//!   instead of a signature.

use std::path::{Path, PathBuf};

/// How API requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// SigV4 for `execute-api` in this region.
    SigV4 { region: String },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// Nothing: a local run (`cargo lambda watch` checks no authorization).
    None,
}

/// The functions `psc` invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `psc export`.
    StartExport,
    /// `psc backfill`.
    ContactEvents,
}

impl Function {
    /// The binary's name (and `cargo lambda watch`'s function name).
    pub fn name(self) -> &'static str {
        match self {
            Self::StartExport => "start-export",
            Self::ContactEvents => "contact-events",
        }
    }

    /// The stack output that names the deployed function.
    pub fn output(self) -> &'static str {
        match self {
            Self::StartExport => "StartExportFunctionName",
            Self::ContactEvents => "ContactEventsFunctionName",
        }
    }

    /// The variable that names it without `--stack`.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::StartExport => "PSC_START_EXPORT_FUNCTION",
            Self::ContactEvents => "PSC_CONTACT_EVENTS_FUNCTION",
        }
    }
}

/// How a function is invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoke {
    /// The Lambda Invoke API of AWS (signed for `lambda`).
    Aws { function: String, region: String, endpoint: String },
    /// `cargo lambda watch`'s Invoke API, unsigned.
    Local { url: String },
    /// Not known: the error says how to name it.
    Unknown,
}

/// Everything a command needs to reach the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The API's base URL, without a trailing slash.
    pub api_url: String,
    pub auth: Auth,
    /// start-export (`psc export`).
    pub start_export: Invoke,
    /// contact-events (`psc backfill`).
    pub contact_events: Invoke,
    /// The S3 endpoint for the rejects reports (`None`: AWS's own).
    pub s3_endpoint: Option<String>,
    /// Where the target came from, for error messages.
    pub origin: String,
}

impl Target {
    /// How `function` is invoked from now on.
    pub fn set_invoke(&mut self, function: Function, invoke: Invoke) {
        match function {
            Function::StartExport => self.start_export = invoke,
            Function::ContactEvents => self.contact_events = invoke,
        }
    }
}

/// The default port of `make local`'s `cargo lambda watch`.
pub const LOCAL_PORT: u16 = 9000;

/// `make local`'s endpoints. `port`: `cargo lambda watch`'s; `env_file`:
/// local-run's `functions.env` (for moto's S3 endpoint), when found.
pub fn local(port: u16, env_file: Option<&Path>) -> Target {
    let base = format!("http://127.0.0.1:{port}");
    let s3_endpoint = env_file.and_then(|f| std::fs::read_to_string(f).ok()).and_then(|text| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix("AWS_ENDPOINT_URL_S3=")?;
            Some(v.trim().trim_matches('"').to_owned())
        })
    });
    Target {
        api_url: format!("{base}/lambda-url/eligibility-api"),
        auth: Auth::None,
        start_export: Invoke::Local { url: format!("{base}/2015-03-31/functions/start-export/invocations") },
        contact_events: Invoke::Local { url: format!("{base}/2015-03-31/functions/contact-events/invocations") },
        s3_endpoint,
        origin: format!("--local ({base}, `make local`)"),
    }
}

/// local-run's `functions.env`: `target/local-run/functions.env` in the
/// current directory or one of its parents (the repository).
pub fn find_local_env_file(start: &Path) -> Option<PathBuf> {
    start.ancestors().map(|d| d.join("target/local-run/functions.env")).find(|p| p.is_file())
}

/// True for a URL on this machine.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// The region in an API Gateway URL (`https://<id>.execute-api.<region>.amazonaws.com/...`).
pub fn region_of_api_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', ':', '?']).next()?;
    let mut labels = host.split('.');
    labels.next()?;
    if labels.next()? != "execute-api" {
        return None;
    }
    labels.next().filter(|r| !r.is_empty()).map(str::to_owned)
}

/// A target for `api_url`: signed for `execute-api` (region from the URL,
/// else `default_region`), or a bearer token when one is given. (Only
/// `--local` is unsigned.)
pub fn for_api_url(api_url: &str, token: Option<&str>, default_region: Option<&str>, origin: &str) -> Target {
    let api_url = api_url.trim().trim_end_matches('/').to_owned();
    let auth = match token {
        Some(t) => Auth::Bearer(t.to_owned()),
        None => Auth::SigV4 {
            region: region_of_api_url(&api_url)
                .or_else(|| default_region.map(str::to_owned))
                .unwrap_or_else(|| psc_bridge::aws::endpoint::DEFAULT_REGION.to_owned()),
        },
    };
    Target {
        api_url,
        auth,
        start_export: Invoke::Unknown,
        contact_events: Invoke::Unknown,
        s3_endpoint: None,
        origin: origin.to_owned(),
    }
}

/// The outputs of a psc-bridge stack that `psc` uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    pub api_url: Option<String>,
    pub start_export_function: Option<String>,
    pub contact_events_function: Option<String>,
    pub export_bucket: Option<String>,
}

impl StackOutputs {
    /// The deployed name of `function`.
    pub fn function(&self, function: Function) -> Option<String> {
        match function {
            Function::StartExport => self.start_export_function.clone(),
            Function::ContactEvents => self.contact_events_function.clone(),
        }
    }
}

/// Reads the outputs from a CloudFormation `DescribeStacks` answer (XML).
pub fn parse_stack_outputs(xml: &str) -> Result<StackOutputs, String> {
    use aws_smithy_xml::decode::{Document, try_data};
    let mut doc = Document::new(xml);
    let mut root = doc.root_element().map_err(|_| "the DescribeStacks answer is not XML".to_owned())?;
    let mut out = StackOutputs::default();
    let mut found_stack = false;
    // DescribeStacksResponse / DescribeStacksResult / Stacks / member / Outputs / member / {OutputKey, OutputValue}
    while let Some(mut result) = root.next_tag() {
        while let Some(mut stacks) = result.next_tag() {
            if !stacks.start_el().matches("Stacks") {
                continue;
            }
            while let Some(mut stack) = stacks.next_tag() {
                found_stack = true;
                while let Some(mut field) = stack.next_tag() {
                    if !field.start_el().matches("Outputs") {
                        continue;
                    }
                    while let Some(mut output) = field.next_tag() {
                        let (mut key, mut value) = (None, None);
                        while let Some(mut kv) = output.next_tag() {
                            let text = try_data(&mut kv).map(|s| s.trim().to_owned()).unwrap_or_default();
                            if kv.start_el().matches("OutputKey") {
                                key = Some(text);
                            } else if kv.start_el().matches("OutputValue") {
                                value = Some(text);
                            }
                        }
                        match (key.as_deref(), value) {
                            (Some("ApiUrl"), v) => out.api_url = v,
                            (Some("StartExportFunctionName"), v) => out.start_export_function = v,
                            (Some("ContactEventsFunctionName"), v) => out.contact_events_function = v,
                            (Some("ExportBucketName"), v) => out.export_bucket = v,
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    if !found_stack {
        return Err("DescribeStacks returned no stack".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_give_their_region_and_loopback_is_recognised() {
        let t = for_api_url("https://abc123.execute-api.eu-west-1.amazonaws.com/", None, Some("us-east-1"), "x");
        assert_eq!(t.api_url, "https://abc123.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(t.auth, Auth::SigV4 { region: "eu-west-1".into() });
        let t = for_api_url("https://api.example.com/psc", None, Some("ap-south-1"), "x");
        assert_eq!(t.auth, Auth::SigV4 { region: "ap-south-1".into() }, "a custom domain: the chain's region");
        let t = for_api_url("https://api.example.com", Some("tok"), None, "x");
        assert_eq!(t.auth, Auth::Bearer("tok".into()));
        for local in
            ["http://127.0.0.1:9000/lambda-url/eligibility-api", "http://localhost:9000", "http://[::1]:9000/x"]
        {
            assert!(is_loopback(local), "{local}");
        }
        assert!(!is_loopback("https://127.0.0.1.example.com/"));
    }

    #[test]
    fn local_reads_moto_from_functions_env() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("target/local-run/functions.env");
        std::fs::create_dir_all(env.parent().unwrap()).unwrap();
        std::fs::write(&env, "TABLE_NAME=\"t\"\nAWS_ENDPOINT_URL_S3=\"http://127.0.0.1:4566\"\n").unwrap();
        let found = find_local_env_file(&dir.path().join("target")).unwrap();
        let t = local(9100, Some(&found));
        assert_eq!(t.api_url, "http://127.0.0.1:9100/lambda-url/eligibility-api");
        assert_eq!(t.s3_endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(
            t.start_export,
            Invoke::Local { url: "http://127.0.0.1:9100/2015-03-31/functions/start-export/invocations".into() }
        );
        assert_eq!(
            t.contact_events,
            Invoke::Local { url: "http://127.0.0.1:9100/2015-03-31/functions/contact-events/invocations".into() }
        );
    }

    #[test]
    fn stack_outputs_are_read_from_describe_stacks() {
        let xml = r#"<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult><Stacks><member>
    <StackName>psc-bridge</StackName>
    <Outputs>
      <member><OutputKey>ApiUrl</OutputKey><OutputValue>https://abc.execute-api.us-east-1.amazonaws.com/</OutputValue></member>
      <member><OutputKey>StartExportFunctionName</OutputKey><OutputValue>psc-bridge-StartExportFunction-X</OutputValue></member>
      <member><OutputKey>ExportBucketName</OutputKey><OutputValue>psc-bridge-exportbucket-y</OutputValue></member>
      <member><OutputKey>ContactEventsFunctionName</OutputKey><OutputValue>psc-bridge-ContactEventsFunction-W</OutputValue></member>
      <member><OutputKey>Other</OutputKey><OutputValue>z</OutputValue></member>
    </Outputs>
  </member></Stacks></DescribeStacksResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeStacksResponse>"#;
        let o = parse_stack_outputs(xml).unwrap();
        assert_eq!(o.api_url.as_deref(), Some("https://abc.execute-api.us-east-1.amazonaws.com/"));
        assert_eq!(o.start_export_function.as_deref(), Some("psc-bridge-StartExportFunction-X"));
        assert_eq!(o.export_bucket.as_deref(), Some("psc-bridge-exportbucket-y"));
        assert_eq!(o.function(Function::ContactEvents).as_deref(), Some("psc-bridge-ContactEventsFunction-W"));
        assert!(parse_stack_outputs("<DescribeStacksResponse><DescribeStacksResult><Stacks/></DescribeStacksResult></DescribeStacksResponse>").is_err());
    }
}
