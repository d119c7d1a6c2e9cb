//! Amazon EC2's `ConfirmProductInstance` in the EC2 Query protocol: parameters, the instance
//! model, the answer and EC2's XML errors.

use serde::{Deserialize, Serialize};

/// SigV4 signing name of EC2 (the service part of the credential scope).
pub const EC2_SIGNING_NAME: &str = "ec2";
/// The XML namespace of EC2's answers.
pub const EC2_NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
/// Content type of a Query request body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Content type of EC2's answers.
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=UTF-8";
/// The one emulated action.
pub const CONFIRM_PRODUCT_INSTANCE: &str = "ConfirmProductInstance";

/// An instance's state (`instanceState.name` in EC2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

/// An EC2 instance as far as `ConfirmProductInstance` sees it. An instance lives in one region:
/// requests signed for another region do not find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// `i-` and 8 or 17 lowercase hexadecimal digits.
    pub instance_id: String,
    /// The AWS account that owns the instance (`ownerId` of the answer).
    pub owner_id: String,
    pub region: String,
    pub state: InstanceState,
    /// The product codes attached to the instance (through its AMI).
    #[serde(default)]
    pub product_codes: Vec<String>,
}

impl Instance {
    pub fn new(
        instance_id: impl Into<String>,
        owner_id: impl Into<String>,
        region: impl Into<String>,
        state: InstanceState,
        product_codes: &[&str],
    ) -> Self {
        Instance {
            instance_id: instance_id.into(),
            owner_id: owner_id.into(),
            region: region.into(),
            state,
            product_codes: product_codes.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// An EC2 error: HTTP status and `<Code>`/`<Message>` of EC2's XML error document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{code} ({status}): {message}")]
pub struct Ec2Error {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Ec2Error {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Ec2Error { status, code: code.into(), message: message.into() }
    }

    /// The HTTP status EC2 answers an error code with, for injected errors without an explicit
    /// status: `RequestLimitExceeded`/`Unavailable` 503, `InternalError` 500,
    /// `UnauthorizedOperation` 403, `AuthFailure` 401, others 400.
    pub fn default_status(code: &str) -> u16 {
        match code {
            "RequestLimitExceeded" | "Unavailable" | "ServiceUnavailable" => 503,
            "InternalError" | "InternalFailure" => 500,
            "UnauthorizedOperation" | "Blocked" => 403,
            "AuthFailure" => 401,
            _ => 400,
        }
    }

    /// 401 `AuthFailure` (what EC2 answers for a missing or malformed signature).
    pub fn auth_failure(message: impl Into<String>) -> Self {
        Self::new(401, "AuthFailure", message)
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(400, "MissingParameter", format!("The request must contain the parameter {name}"))
    }

    pub fn malformed_instance_id(id: &str) -> Self {
        Self::new(400, "InvalidInstanceID.Malformed", format!("Invalid id: \"{id}\""))
    }

    pub fn instance_not_found(id: &str) -> Self {
        Self::new(400, "InvalidInstanceID.NotFound", format!("The instance ID '{id}' does not exist"))
    }

    /// EC2's error document:
    /// `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
    pub fn xml(&self, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
            xml_escape(&self.code),
            xml_escape(&self.message),
            xml_escape(request_id)
        )
    }
}

/// Escapes text for XML element content.
pub fn xml_escape(s: &str) -> String {
    let escapes = [('&', "&amp;"), ('<', "&lt;"), ('>', "&gt;"), ('"', "&quot;"), ('\'', "&apos;")];
    escapes.iter().fold(s.to_string(), |s, (c, e)| s.replace(*c, e))
}

/// Whether a Content-Type is the Query protocol's (`application/x-www-form-urlencoded`, any
/// parameters such as `; charset=utf-8`).
pub fn is_form_content_type(content_type: Option<&str>) -> bool {
    content_type.and_then(|c| c.split(';').next()).is_some_and(|c| c.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

/// The parameters of a form-encoded request body.
pub fn parse_params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of a parameter (empty values count as missing, as in EC2).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
}

/// `i-` followed by 8 or 17 lowercase hexadecimal digits.
pub fn is_valid_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A validated `ConfirmProductInstance` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmProductInstance {
    pub instance_id: String,
    pub product_code: String,
}

/// Validates the parameters of a Query request to this stand-in: `Action` must be
/// `ConfirmProductInstance` (else `MissingAction` / `InvalidAction`), `InstanceId` and
/// `ProductCode` must be there (`MissingParameter`), the instance id well formed
/// (`InvalidInstanceID.Malformed`).
pub fn parse_confirm_product_instance(params: &[(String, String)]) -> Result<ConfirmProductInstance, Ec2Error> {
    match param(params, "Action") {
        None => return Err(Ec2Error::new(400, "MissingAction", "The request must contain the parameter Action")),
        Some(CONFIRM_PRODUCT_INSTANCE) => {}
        Some(other) => {
            return Err(Ec2Error::new(
                400,
                "InvalidAction",
                format!("The action {other} is not valid for this web service."),
            ));
        }
    }
    let instance_id = param(params, "InstanceId").ok_or_else(|| Ec2Error::missing_parameter("InstanceId"))?;
    let product_code = param(params, "ProductCode").ok_or_else(|| Ec2Error::missing_parameter("ProductCode"))?;
    if !is_valid_instance_id(instance_id) {
        return Err(Ec2Error::malformed_instance_id(instance_id));
    }
    Ok(ConfirmProductInstance { instance_id: instance_id.to_string(), product_code: product_code.to_string() })
}

/// What `ConfirmProductInstance` answers for a found instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmation {
    /// True when the product code is attached to the instance and the instance is running.
    #[serde(rename = "return")]
    pub result: bool,
    pub owner_id: String,
}

/// Answers the request from the instances of `region` (the credential scope's): not found there
/// → `InvalidInstanceID.NotFound`.
pub fn confirm<'a>(
    instances: impl IntoIterator<Item = &'a Instance>,
    region: &str,
    request: &ConfirmProductInstance,
) -> Result<Confirmation, Ec2Error> {
    let instance = instances
        .into_iter()
        .find(|i| i.instance_id == request.instance_id && i.region == region)
        .ok_or_else(|| Ec2Error::instance_not_found(&request.instance_id))?;
    let attached = instance.product_codes.iter().any(|c| c == &request.product_code);
    Ok(Confirmation {
        result: attached && instance.state == InstanceState::Running,
        owner_id: instance.owner_id.clone(),
    })
}

/// The success document.
pub fn confirm_xml(request_id: &str, confirmation: &Confirmation) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ConfirmProductInstanceResponse xmlns=\"{EC2_NAMESPACE}\"><requestId>{}</requestId><return>{}</return><ownerId>{}</ownerId></ConfirmProductInstanceResponse>",
        xml_escape(request_id),
        confirmation.result,
        xml_escape(&confirmation.owner_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Vec<(String, String)> {
        parse_params(s.as_bytes())
    }

    #[test]
    fn instance_id_format() {
        assert!(is_valid_instance_id("i-0a1b2c3d4e5f60718"));
        assert!(is_valid_instance_id("i-1234abcd"));
        for bad in ["i-0a1b2c3d4e5f6071", "i-0A1B2C3D", "i-1234abcg", "0a1b2c3d4e5f60718", "i-", "i-123456789"] {
            assert!(!is_valid_instance_id(bad), "{bad}");
        }
    }

    #[test]
    fn params_from_the_body() {
        let p = params("Action=ConfirmProductInstance&Version=2016-11-15&InstanceId=i-1234abcd&ProductCode=a%2Bb+c");
        assert_eq!(param(&p, "Action"), Some("ConfirmProductInstance"));
        assert_eq!(param(&p, "ProductCode"), Some("a+b c"));
        assert_eq!(param(&p, "Missing"), None);
        assert!(is_form_content_type(Some("application/x-www-form-urlencoded; charset=utf-8")));
        assert!(!is_form_content_type(Some("application/json")));
        assert!(!is_form_content_type(None));
    }

    #[test]
    fn request_validation() {
        let ok = parse_confirm_product_instance(&params(
            "Action=ConfirmProductInstance&Version=2016-11-15&InstanceId=i-1234abcd&ProductCode=pc",
        ))
        .unwrap();
        assert_eq!((ok.instance_id.as_str(), ok.product_code.as_str()), ("i-1234abcd", "pc"));
        for (body, code) in [
            ("Version=2016-11-15", "MissingAction"),
            ("Action=DescribeInstances", "InvalidAction"),
            ("Action=ConfirmProductInstance&ProductCode=pc", "MissingParameter"),
            ("Action=ConfirmProductInstance&InstanceId=i-1234abcd", "MissingParameter"),
            ("Action=ConfirmProductInstance&InstanceId=i-1234abcd&ProductCode=", "MissingParameter"),
            ("Action=ConfirmProductInstance&InstanceId=i-xyz&ProductCode=pc", "InvalidInstanceID.Malformed"),
        ] {
            let e = parse_confirm_product_instance(&params(body)).unwrap_err();
            assert_eq!((e.code.as_str(), e.status), (code, 400), "{body}");
        }
    }

    #[test]
    fn confirmation_semantics() {
        let instances = [
            Instance::new("i-1111aaaa", "000011112222", "us-east-1", InstanceState::Running, &["pc"]),
            Instance::new("i-2222bbbb", "111122223333", "us-east-1", InstanceState::Stopped, &["pc"]),
        ];
        let req = |id: &str, pc: &str| ConfirmProductInstance { instance_id: id.into(), product_code: pc.into() };
        let c = confirm(&instances, "us-east-1", &req("i-1111aaaa", "pc")).unwrap();
        assert_eq!((c.result, c.owner_id.as_str()), (true, "000011112222"));
        assert!(!confirm(&instances, "us-east-1", &req("i-1111aaaa", "other")).unwrap().result);
        let stopped = confirm(&instances, "us-east-1", &req("i-2222bbbb", "pc")).unwrap();
        assert_eq!((stopped.result, stopped.owner_id.as_str()), (false, "111122223333"));
        let e = confirm(&instances, "eu-west-1", &req("i-1111aaaa", "pc")).unwrap_err();
        assert_eq!(e.code, "InvalidInstanceID.NotFound");
    }

    #[test]
    fn xml_documents() {
        let xml = confirm_xml("r-1", &Confirmation { result: true, owner_id: "000011112222".into() });
        assert!(xml.contains("<ConfirmProductInstanceResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"));
        assert!(xml.contains("<requestId>r-1</requestId><return>true</return><ownerId>000011112222</ownerId>"));
        let e = Ec2Error::malformed_instance_id("i-<x>").xml("r-2");
        assert!(e.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{e}");
        assert!(e.contains("<Response><Errors><Error><Code>InvalidInstanceID.Malformed</Code><Message>Invalid id: &quot;i-&lt;x&gt;&quot;</Message></Error></Errors><RequestID>r-2</RequestID></Response>"), "{e}");
        assert_eq!(Ec2Error::default_status("RequestLimitExceeded"), 503);
        assert_eq!(Ec2Error::default_status("UnauthorizedOperation"), 403);
    }
}
