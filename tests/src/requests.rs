//! Signed Extracta deliveries and the API Gateway / Function URL / ALB events that carry
//! them, plus the HTTP response read back from the function's answer.
use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// The test secret: fake, obviously not real, with Extracta's `E_AI_K_` prefix.
pub const SECRET: &str = "E_AI_K_test-secret-not-real";

/// The signature header's name as Extracta sends it.
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";

/// `base64(HMAC-SHA256(key, data))` with `key` used as is.
pub fn sign_with_key(key: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    B64.encode(mac.finalize().into_bytes())
}

/// Extracta's signature: the key is `secret` with one leading `E_AI_K_` removed.
pub fn sign(secret: &str, data: &[u8]) -> String {
    let key = secret.strip_prefix("E_AI_K_").unwrap_or(secret);
    sign_with_key(key.as_bytes(), data)
}

/// A delivery body `{"event": .., "result": [..]}` assembled from raw JSON text, so a
/// test controls every byte (key order, number spelling) of what is stored and signed.
#[derive(Clone, Debug)]
pub struct Delivery {
    event: Option<String>,
    result: Option<String>,
    entries: Vec<String>,
}

impl Delivery {
    /// A delivery of `event` with no entries yet.
    pub fn new(event: &str) -> Self {
        Delivery {
            event: Some(Value::String(event.to_owned()).to_string()),
            result: None,
            entries: Vec::new(),
        }
    }

    /// A delivery whose `event` member is the raw JSON `text` (e.g. `5`, `null`).
    pub fn with_raw_event(text: &str) -> Self {
        Delivery {
            event: Some(text.to_owned()),
            result: None,
            entries: Vec::new(),
        }
    }

    /// A delivery with no `event` member at all.
    pub fn without_event() -> Self {
        Delivery {
            event: None,
            result: None,
            entries: Vec::new(),
        }
    }

    /// Adds a file entry, serialized compactly by serde_json (keys sorted).
    pub fn entry(self, entry: Value) -> Self {
        self.raw_entry(&entry.to_string())
    }

    /// Adds a file entry given as raw JSON text, kept byte for byte.
    pub fn raw_entry(mut self, text: &str) -> Self {
        self.entries.push(text.to_owned());
        self
    }

    /// Replaces the whole `result` member with raw JSON text (entries are ignored).
    pub fn raw_result(mut self, text: &str) -> Self {
        self.result = Some(text.to_owned());
        self
    }

    /// The raw entries, in order.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// The `result` member's exact text.
    pub fn result_text(&self) -> String {
        match &self.result {
            Some(r) => r.clone(),
            None => format!("[{}]", self.entries.join(",")),
        }
    }

    /// The body's exact bytes.
    pub fn body(&self) -> Vec<u8> {
        let mut members = Vec::new();
        if let Some(e) = &self.event {
            members.push(format!("\"event\":{e}"));
        }
        members.push(format!("\"result\":{}", self.result_text()));
        format!("{{{}}}", members.join(",")).into_bytes()
    }

    /// The signature Extracta would send with `secret`.
    pub fn signature(&self, secret: &str) -> String {
        sign(secret, self.result_text().as_bytes())
    }

    /// A POST (HTTP API v2) carrying this body, signed with `secret`.
    pub fn signed(&self, secret: &str) -> Request {
        Request::post(self.body()).signature(&self.signature(secret))
    }

    /// A POST (HTTP API v2) carrying this body, signed with [`SECRET`].
    pub fn request(&self) -> Request {
        self.signed(SECRET)
    }

    /// A POST (HTTP API v2) carrying this body without a signature header.
    pub fn unsigned(&self) -> Request {
        Request::post(self.body())
    }
}

/// A file entry as Extracta sends it (keys in Extracta's order), with `result` given as
/// raw JSON text so its bytes survive.
pub fn entry_text(extraction_id: &str, batch_id: &str, file_id: &str, status: &str, result: &str) -> String {
    let s = |v: &str| Value::String(v.to_owned()).to_string();
    format!(
        "{{\"extractionId\":{},\"batchId\":{},\"fileId\":{},\"fileName\":{},\"status\":{},\"result\":{},\"url\":{}}}",
        s(extraction_id),
        s(batch_id),
        s(file_id),
        s(&format!("{file_id}.pdf")),
        s(status),
        result,
        s(&format!("https://files.example.invalid/{file_id}.pdf")),
    )
}

/// Which AWS front end delivered the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// API Gateway HTTP API, payload format 2.0 (the template's default).
    HttpApiV2,
    /// API Gateway REST API (payload format 1.0).
    RestV1,
    /// A Lambda Function URL (2.0 shape, `lambda-url` domain).
    FunctionUrl,
    /// An Application Load Balancer target group.
    Alb,
}

/// An HTTP request to be wrapped in a Lambda event.
#[derive(Clone, Debug)]
pub struct Request {
    /// The front end.
    pub source: Source,
    /// The HTTP method.
    pub method: String,
    /// Headers, in order, names as given.
    pub headers: Vec<(String, String)>,
    /// The body bytes (before any base64 encoding).
    pub body: Option<Vec<u8>>,
    /// Send the body base64-encoded with `isBase64Encoded: true`.
    pub base64: bool,
    /// A raw `body` string used as is (overrides `body`; for invalid base64).
    pub raw_body: Option<String>,
}

impl Request {
    /// `POST /webhook` with `Content-Type: application/json`.
    pub fn post(body: impl Into<Vec<u8>>) -> Self {
        Request {
            source: Source::HttpApiV2,
            method: "POST".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body.into()),
            base64: false,
            raw_body: None,
        }
    }

    /// Sets the method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = method.to_owned();
        self
    }

    /// Sets the front end.
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes every header called `name` (any case).
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces the signature header.
    pub fn signature(self, sig: &str) -> Self {
        self.without_header(SIGNATURE_HEADER).header(SIGNATURE_HEADER, sig)
    }

    /// Sends the body base64-encoded.
    pub fn base64(mut self) -> Self {
        self.base64 = true;
        self
    }

    /// Uses `text` verbatim as the event's `body` string, with `isBase64Encoded: true`.
    pub fn raw_base64_body(mut self, text: &str) -> Self {
        self.raw_body = Some(text.to_owned());
        self.base64 = true;
        self
    }

    /// Sends no body at all.
    pub fn no_body(mut self) -> Self {
        self.body = None;
        self
    }

    fn body_value(&self) -> Value {
        if let Some(raw) = &self.raw_body {
            return Value::String(raw.clone());
        }
        match &self.body {
            None => Value::Null,
            Some(b) if self.base64 => Value::String(B64.encode(b)),
            Some(b) => Value::String(
                String::from_utf8(b.clone()).expect("a body that is not UTF-8 must be sent with .base64()"),
            ),
        }
    }

    fn single_headers(&self) -> Map<String, Value> {
        // API Gateway and the ALB join repeated headers with a comma in the
        // single-value map.
        let mut joined: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.headers {
            match joined.iter_mut().find(|(jk, _)| jk.eq_ignore_ascii_case(k)) {
                Some((_, jv)) => {
                    jv.push(',');
                    jv.push_str(v);
                }
                None => joined.push((k.clone(), v.clone())),
            }
        }
        joined.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
    }

    fn multi_headers(&self) -> Map<String, Value> {
        let mut m: Map<String, Value> = Map::new();
        for (k, v) in &self.headers {
            let slot = m.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = slot {
                a.push(Value::String(v.clone()));
            }
        }
        m
    }

    /// The Lambda event for this request, shaped like the `aws_lambda_events` fixtures.
    pub fn event(&self) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let body = self.body_value();
        match self.source {
            Source::HttpApiV2 | Source::FunctionUrl => {
                let (domain, prefix, api) = if self.source == Source::FunctionUrl {
                    (
                        "e2efnurl0000000000000000000.lambda-url.us-east-1.on.aws",
                        "e2efnurl0000000000000000000",
                        "e2efnurl0000000000000000000",
                    )
                } else {
                    (
                        "e2eapi0001.execute-api.us-east-1.amazonaws.com",
                        "e2eapi0001",
                        "e2eapi0001",
                    )
                };
                json!({
                    "version": "2.0",
                    "routeKey": "$default",
                    "rawPath": "/webhook",
                    "rawQueryString": "",
                    "headers": self.single_headers(),
                    "requestContext": {
                        "accountId": "123456789012",
                        "apiId": api,
                        "domainName": domain,
                        "domainPrefix": prefix,
                        "http": {
                            "method": self.method,
                            "path": "/webhook",
                            "protocol": "HTTP/1.1",
                            "sourceIp": "192.0.2.10",
                            "userAgent": "e2e-test"
                        },
                        "requestId": "e2e-request-id",
                        "routeKey": "$default",
                        "stage": "$default",
                        "time": "01/Jan/2025:00:00:00 +0000",
                        "timeEpoch": now
                    },
                    "body": body,
                    "isBase64Encoded": self.base64
                })
            }
            Source::RestV1 => json!({
                "resource": "/{proxy+}",
                "path": "/webhook",
                "httpMethod": self.method,
                "headers": self.single_headers(),
                "multiValueHeaders": self.multi_headers(),
                "queryStringParameters": null,
                "multiValueQueryStringParameters": null,
                "pathParameters": {"proxy": "webhook"},
                "stageVariables": null,
                "requestContext": {
                    "accountId": "123456789012",
                    "resourceId": "e2eres",
                    "stage": "prod",
                    "requestId": "e2e-request-id",
                    "identity": {"sourceIp": "192.0.2.10", "userAgent": "e2e-test"},
                    "resourcePath": "/{proxy+}",
                    "httpMethod": self.method,
                    "apiId": "e2eapi0002",
                    "path": "/prod/webhook",
                    "protocol": "HTTP/1.1",
                    "domainName": "e2eapi0002.execute-api.us-east-1.amazonaws.com",
                    "domainPrefix": "e2eapi0002",
                    "requestTimeEpoch": now
                },
                "body": body,
                "isBase64Encoded": self.base64
            }),
            Source::Alb => json!({
                "requestContext": {
                    "elb": {
                        "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/e2e-target/0123456789abcdef"
                    }
                },
                "httpMethod": self.method,
                "path": "/webhook",
                "queryStringParameters": {},
                "headers": self.single_headers(),
                "body": body,
                "isBase64Encoded": self.base64
            }),
        }
    }
}

/// The HTTP response the function returned through Lambda.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// `statusCode`.
    pub status: u16,
    /// Header names in lower case; repeated values kept in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body (base64-decoded when `isBase64Encoded`).
    pub body: Vec<u8>,
    /// The raw Lambda response object.
    pub raw: Value,
}

impl HttpResponse {
    /// Reads the Lambda response object of any of the four front ends.
    pub fn from_lambda(v: &Value) -> Self {
        let status = v
            .get("statusCode")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("response has no statusCode: {v}")) as u16;
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(Value::Object(m)) = v.get("multiValueHeaders") {
            for (k, vals) in m {
                for val in vals.as_array().into_iter().flatten() {
                    if let Some(s) = val.as_str() {
                        headers.entry(k.to_ascii_lowercase()).or_default().push(s.to_owned());
                    }
                }
            }
        }
        if let Some(Value::Object(m)) = v.get("headers") {
            for (k, val) in m {
                if let Some(s) = val.as_str() {
                    let slot = headers.entry(k.to_ascii_lowercase()).or_default();
                    if !slot.iter().any(|x| x == s) {
                        slot.push(s.to_owned());
                    }
                }
            }
        }
        let text = v.get("body").and_then(Value::as_str).unwrap_or("");
        let body = if v.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            B64.decode(text)
                .unwrap_or_else(|e| panic!("response body is bad base64: {e}"))
        } else {
            text.as_bytes().to_vec()
        };
        HttpResponse {
            status,
            headers,
            body,
            raw: v.clone(),
        }
    }

    /// One header's value(s) joined with `, ` (name in any case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(&name.to_ascii_lowercase()).map(|v| v.join(", "))
    }

    /// The body as JSON (panics otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status, printing the response when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; response: {}", self.raw);
        self
    }

    /// Asserts an error response: `status`, JSON `{"error": "<non-empty>", ..}`, and
    /// for 502 `"retryable": true`. Returns the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16) -> Value {
        self.assert_status(status);
        let body = self.json();
        let msg = body.get("error").and_then(Value::as_str);
        assert!(
            msg.is_some_and(|m| !m.is_empty()),
            "error body must be {{\"error\": \"..\"}}: {body}"
        );
        if status == 502 {
            assert_eq!(
                body.get("retryable"),
                Some(&Value::Bool(true)),
                "502 body must say retryable: {body}"
            );
        }
        body
    }
}
