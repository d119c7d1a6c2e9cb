//! The calls `psc` makes: the eligibility API, the Lambda Invoke of
//! start-export and contact-events, CloudFormation's `DescribeStacks`, and S3 for a rejects
//! report. API, Lambda and CloudFormation requests go through
//! `psc_bridge::aws::signed` (aws-sigv4 over the SDK's HTTP connector) with
//! the credentials of aws-config's full default chain.

use std::fmt;
use std::time::Duration;

use aws_config::SdkConfig;
use psc_bridge::api::{ErrorBody, ErrorDetail};
use psc_bridge::aws::error::{AwsError, Failure};
use psc_bridge::aws::signed::{Request, SignedHttp, Signing, encode_component};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::exit;
use crate::target::{Auth, Function, Invoke, StackOutputs, Target, parse_stack_outputs};

/// How long one call may take before `psc` gives up on it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP answer of the API, whatever its status.
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
    /// `Content-Type` (`text/csv` for the subscriber report's CSV).
    pub content_type: Option<String>,
    /// `X-Next-Cursor`: the next page of a CSV report (its JSON has
    /// `nextCursor` in the body instead).
    pub next_cursor: Option<String>,
}

impl ApiAnswer {
    /// The body as `T`, one of the API's answers ([`psc_bridge::api`]).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_slice(&self.body).map_err(|e| contract_error(self.status, &e))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The API's own error, `{"error": {"code", "message", "field"?, "requestId"?}}`.
    fn error(&self) -> Option<ErrorDetail> {
        serde_json::from_slice::<ErrorBody>(&self.body).ok().map(|b| b.error)
    }
}

/// An answer that is not what the contract says. serde's message may quote
/// a value (contact data), so only a missing member is named.
fn contract_error(status: u16, e: &serde_json::Error) -> CallError {
    let what = match e.classify() {
        serde_json::error::Category::Data => {
            let m = e.to_string();
            match m.strip_prefix("missing field ") {
                Some(field) => format!("it lacks {}", field.split(" at line").next().unwrap_or(field)),
                None => format!("a member has another type or value (line {}, column {})", e.line(), e.column()),
            }
        }
        _ => "it is not JSON".to_owned(),
    };
    CallError::Server(format!(
        "the API's answer (HTTP {status}) is not what this psc expects: {what}. Is psc older or newer than the API?"
    ))
}

/// Why a call gave no usable answer; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// A bad argument, or a 400 from the API.
    Usage(String),
    /// 401 / 403: authentication or authorization.
    Refused { status: u16, what: String },
    /// Nothing answered at the URL.
    Unreachable { url: String, detail: String },
    /// The API or a service failed (5xx), or answered something unreadable.
    Server(String),
    /// No credentials, or something else on this side.
    Local(String),
}

impl CallError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            _ => exit::TROUBLE,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Server(m) | Self::Local(m) => f.write_str(m),
            Self::Refused { what, .. } => f.write_str(what),
            Self::Unreachable { url, detail } => write!(
                f,
                "could not reach {url} ({detail}). Check the URL (--api-url, PSC_API_URL or --stack); \
                 for a local run, is `make local` running?"
            ),
        }
    }
}

impl std::error::Error for CallError {}

fn from_aws(e: AwsError, url: &str) -> CallError {
    match e.failure {
        Failure::Unreachable | Failure::Timeout => {
            CallError::Unreachable { url: url.to_owned(), detail: e.message.clone().unwrap_or_else(|| e.summary()) }
        }
        Failure::BadRequest => CallError::Local(format!(
            "{} (configure AWS credentials: `aws configure`, `aws sso login --profile <p>` with AWS_PROFILE, \
             or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
            e.message.clone().unwrap_or_else(|| e.summary())
        )),
        _ => CallError::Server(e.to_string()),
    }
}

/// The API, Lambda and CloudFormation, for one [`Target`].
pub struct Client {
    pub target: Target,
    http: SignedHttp,
    sdk: SdkConfig,
}

impl Client {
    pub fn new(sdk: &SdkConfig, target: Target) -> Self {
        let http = SignedHttp::new(sdk, Duration::from_secs(5), CALL_TIMEOUT, "psc", "request");
        Self { target, http, sdk: sdk.clone() }
    }

    /// `GET <api>/<path_and_query>`: the answer whatever its status; only a
    /// failure to get one is an error.
    pub async fn get(&self, path_and_query: &str) -> Result<ApiAnswer, CallError> {
        self.get_accepting(path_and_query, "application/json").await
    }

    /// [`Client::get`] with this `Accept` (`text/csv` for a CSV report).
    pub async fn get_accepting(&self, path_and_query: &str, accept: &str) -> Result<ApiAnswer, CallError> {
        let url = format!("{}/{}", self.target.api_url, path_and_query.trim_start_matches('/'));
        let mut headers = vec![("accept", accept.to_owned())];
        let signing = match &self.target.auth {
            Auth::SigV4 { region } => Signing::SigV4 { service: "execute-api", region },
            Auth::Bearer(token) => {
                headers.push(("authorization", format!("Bearer {token}")));
                Signing::None
            }
            Auth::None => Signing::None,
        };
        let answer = self
            .http
            .send(Request { method: "GET", url: &url, headers, body: Vec::new(), signing })
            .await
            // The API's base URL, not the request's: a lookup by email has
            // the address in its query, and errors never carry contact data.
            .map_err(|e| from_aws(e, &self.target.api_url))?;
        let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (retry_after, content_type) = (header("retry-after"), header("content-type"));
        let next_cursor = header("x-next-cursor").filter(|c| !c.is_empty());
        Ok(ApiAnswer { status: answer.status, body: answer.body, retry_after, content_type, next_cursor })
    }

    /// `GET`, then: 200 and 404 are answers; 400 a usage error; 401, 403 and
    /// 5xx errors that say what to do.
    pub async fn lookup(&self, path_and_query: &str) -> Result<ApiAnswer, CallError> {
        let a = self.get(path_and_query).await?;
        check(&self.target, a)
    }

    /// [`Client::lookup`] of a CSV report (`Accept: text/csv`).
    pub async fn lookup_csv(&self, path_and_query: &str) -> Result<ApiAnswer, CallError> {
        let a = self.get_accepting(path_and_query, "text/csv").await?;
        check(&self.target, a)
    }

    /// Invokes start-export with `payload`; its answer.
    pub async fn invoke_start_export(&self, payload: &Value) -> Result<Value, CallError> {
        self.invoke(Function::StartExport, payload).await
    }

    /// Invokes `function` (synchronously) with `payload`; its answer.
    pub async fn invoke(&self, function: Function, payload: &Value) -> Result<Value, CallError> {
        let name = function.name();
        let invoke = match function {
            Function::StartExport => &self.target.start_export,
            Function::ContactEvents => &self.target.contact_events,
        };
        let (url, signing) = match invoke {
            Invoke::Local { url } => (url.clone(), None),
            Invoke::Aws { function, region, endpoint } => {
                (format!("{endpoint}/2015-03-31/functions/{function}/invocations"), Some(region.clone()))
            }
            Invoke::Unknown => {
                return Err(CallError::Usage(format!(
                    "which function is {name}? Give --stack <name> (its output {}), --local, or {}=<function name>",
                    function.output(),
                    function.env_var()
                )));
            }
        };
        let signing = match &signing {
            Some(region) => Signing::SigV4 { service: "lambda", region },
            None => Signing::None,
        };
        let answer = self
            .http
            .send(Request {
                method: "POST",
                url: &url,
                headers: vec![("content-type", "application/json".to_owned())],
                body: payload.to_string().into_bytes(),
                signing,
            })
            .await
            .map_err(|e| from_aws(e, &url))?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        match answer.status {
            200 if answer.headers.contains_key("x-amz-function-error") => {
                let kind = body.get("errorType").and_then(Value::as_str).unwrap_or("error");
                let message = body.get("errorMessage").and_then(Value::as_str).unwrap_or("");
                Err(CallError::Server(format!("{name} failed: {kind}: {message}")))
            }
            200..=299 => Ok(body),
            401 | 403 => Err(CallError::Refused {
                status: answer.status,
                what: format!(
                    "Lambda refused the invoke (HTTP {}): your credentials need lambda:InvokeFunction on the \
                     {name} function",
                    answer.status
                ),
            }),
            s => Err(CallError::Server(format!(
                "invoking {name} failed (HTTP {s}): {}",
                String::from_utf8_lossy(&answer.body).chars().take(300).collect::<String>()
            ))),
        }
    }

    /// The rejects report at `s3://bucket/key`.
    pub async fn read_s3(&self, location: &str) -> Result<Vec<u8>, CallError> {
        let (bucket, key) = location
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .ok_or_else(|| CallError::Server(format!("not an s3:// location: {location}")))?;
        let mut conf = aws_sdk_s3::config::Builder::from(&self.sdk);
        if let Some(endpoint) = &self.target.s3_endpoint {
            conf = conf.endpoint_url(endpoint).force_path_style(true);
        }
        let s3 = aws_sdk_s3::Client::from_conf(conf.build());
        let out = s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| {
            let e = AwsError::from_sdk("S3", "GetObject", &e);
            match e.code() {
                Some("AccessDenied") => CallError::Refused {
                    status: 403,
                    what: format!(
                        "S3 refused to read {location}: your credentials need s3:GetObject on the export bucket"
                    ),
                },
                Some("NoSuchKey") => CallError::Server(format!(
                    "{location} is gone (the bucket's lifecycle rule expires reports after ExportRetentionDays)"
                )),
                _ => from_aws(e, location),
            }
        })?;
        let bytes = out.body.collect().await.map_err(|e| CallError::Server(format!("reading {location}: {e}")))?;
        Ok(bytes.into_bytes().to_vec())
    }
}

/// The outputs of `stack` (CloudFormation `DescribeStacks`, signed with the
/// user's credentials), from `AWS_ENDPOINT_URL_CLOUDFORMATION` /
/// `AWS_ENDPOINT_URL` when set.
pub async fn describe_stack(sdk: &SdkConfig, stack: &str, region: &str) -> Result<StackOutputs, CallError> {
    let url = format!("{}/", psc_bridge::aws::endpoint::endpoint(sdk, "CLOUDFORMATION", "cloudformation", region));
    let http = SignedHttp::new(sdk, Duration::from_secs(5), CALL_TIMEOUT, "CloudFormation", "DescribeStacks");
    let body = format!("Action=DescribeStacks&Version=2010-05-15&StackName={}", encode_component(stack));
    let answer = http
        .send(Request {
            method: "POST",
            url: &url,
            headers: vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8".to_owned())],
            body: body.into_bytes(),
            signing: Signing::SigV4 { service: "cloudformation", region },
        })
        .await
        .map_err(|e| from_aws(e, &url))?;
    let text = String::from_utf8_lossy(&answer.body);
    match answer.status {
        200 => parse_stack_outputs(&text).map_err(CallError::Server),
        400 if text.contains("does not exist") => {
            Err(CallError::Usage(format!("stack {stack} does not exist in {region} (set AWS_REGION or --api-url)")))
        }
        401 | 403 => Err(CallError::Refused {
            status: answer.status,
            what: format!(
                "CloudFormation refused DescribeStacks (HTTP {}): your credentials need \
                 cloudformation:DescribeStacks on {stack}, or give --api-url instead",
                answer.status
            ),
        }),
        s => Err(CallError::Server(format!("DescribeStacks failed (HTTP {s})"))),
    }
}

/// 200 and 404 are answers; anything else an error that says what to do.
pub fn check(target: &Target, a: ApiAnswer) -> Result<ApiAnswer, CallError> {
    match a.status {
        200 | 404 => Ok(a),
        400 => {
            let error = a.error();
            let field = error.as_ref().and_then(|e| e.field.clone());
            let message = error.map_or_else(|| a.text(), |e| e.message);
            Err(CallError::Usage(match field {
                Some(f) => format!("the API refused {f}: {message}"),
                None => format!("the API refused the request: {message}"),
            }))
        }
        401 => Err(CallError::Refused {
            status: 401,
            what: "the API refused the token (HTTP 401): it is missing, expired, or not from the issuer and \
                   audience the stack expects (ApiAuth=JWT); get a fresh one and pass --token or PSC_TOKEN"
                .to_owned(),
        }),
        403 => Err(CallError::Refused {
            status: 403,
            what: match &target.auth {
                Auth::SigV4 { region } => format!(
                    "API Gateway refused the request (HTTP 403): your credentials lack execute-api:Invoke on \
                     this API, or the API is not in {region}. Check who you are with `aws sts get-caller-identity`; \
                     with ApiAuth=JWT, pass --token instead"
                ),
                Auth::Bearer(_) => "API Gateway refused the token (HTTP 403): the token lacks the scopes the \
                                    route requires, or the API expects SigV4 (ApiAuth=IAM): drop --token"
                    .to_owned(),
                Auth::None => "the API refused the request (HTTP 403); it expects signed requests: use the API \
                               Gateway URL (stack output ApiUrl), not a local one"
                    .to_owned(),
            },
        }),
        503 => Err(CallError::Server(format!(
            "the API is unavailable for now (HTTP 503): {}; retry in {} s",
            a.error().map(|e| e.message).unwrap_or_default(),
            a.retry_after.as_deref().unwrap_or("a few")
        ))),
        s => {
            let id = a.error().and_then(|e| e.request_id);
            Err(CallError::Server(match id {
                Some(id) => format!("the API failed (HTTP {s}); quote requestId {id} to the operators"),
                None => format!("the API failed (HTTP {s}): {}", a.text().chars().take(300).collect::<String>()),
            }))
        }
    }
}
