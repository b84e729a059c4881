//! Translation between Lambda's HTTP events (API Gateway REST v1 and HTTP v2, Function
//! URLs, ALB) and the handler's method, headers, body bytes and [`Reply`].
//!
//! lambda_http's own conversion panics on a body marked base64 that does not decode, and
//! copies the body; here the body is taken out of the event first and decoded once, so
//! a bad body is a `400` and the bytes are never copied again.

use lambda_http::aws_lambda_events::alb::AlbTargetGroupResponse;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::http::header::{HeaderMap, HeaderValue, ALLOW, CONTENT_TYPE};
use lambda_http::http::Method;
use lambda_http::request::LambdaRequest;
use serde::Serialize;

use crate::answer::Reply;
use crate::handler::IncomingBody;

/// The parts of an HTTP event the handler needs.
#[derive(Debug)]
pub struct Incoming {
    /// Which integration sent it, for the shape of the answer.
    pub origin: Origin,
    /// The HTTP method.
    pub method: Method,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body bytes, base64 decoded.
    pub body: IncomingBody,
}

/// The integration an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// API Gateway REST API (payload 1.0).
    RestV1,
    /// API Gateway HTTP API (payload 2.0) or a Lambda Function URL.
    HttpV2,
    /// Application Load Balancer.
    Alb,
}

/// The answer in the shape the integration expects.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LambdaReply {
    /// For REST v1.
    RestV1(ApiGatewayProxyResponse),
    /// For HTTP v2 and Function URLs.
    HttpV2(ApiGatewayV2httpResponse),
    /// For ALB.
    Alb(AlbTargetGroupResponse),
}

/// Splits an event into origin, method, headers and body.
pub fn incoming(mut request: LambdaRequest) -> Incoming {
    let (origin, body, base64) = match &mut request {
        LambdaRequest::ApiGatewayV1(r) => (Origin::RestV1, r.body.take(), std::mem::take(&mut r.is_base64_encoded)),
        LambdaRequest::ApiGatewayV2(r) => (Origin::HttpV2, r.body.take(), std::mem::take(&mut r.is_base64_encoded)),
        LambdaRequest::Alb(r) => (Origin::Alb, r.body.take(), std::mem::take(&mut r.is_base64_encoded)),
        // No other source is compiled in (lambda_http features); an empty body answers 400.
        _ => (Origin::HttpV2, None, false),
    };
    let (parts, _) = lambda_http::http::Request::<Body>::from(request).into_parts();
    Incoming {
        origin,
        method: parts.method,
        headers: parts.headers,
        body: IncomingBody::from_event(body, base64),
    }
}

/// Shapes a reply for the integration the request came from.
pub fn outgoing(origin: Origin, reply: Reply) -> LambdaReply {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(allow) = reply.allow {
        headers.insert(ALLOW, HeaderValue::from_static(allow));
    }
    let status_code = i64::from(reply.status.as_u16());
    let body = Some(Body::Text(reply.body));
    match origin {
        Origin::RestV1 => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = status_code;
            r.body = body;
            // REST APIs merge `headers` into `multiValueHeaders`: give them only once.
            r.multi_value_headers = headers;
            LambdaReply::RestV1(r)
        }
        Origin::HttpV2 => {
            let mut r = ApiGatewayV2httpResponse::default();
            r.status_code = status_code;
            r.body = body;
            r.headers = headers;
            LambdaReply::HttpV2(r)
        }
        Origin::Alb => {
            let mut r = AlbTargetGroupResponse::default();
            r.status_code = status_code;
            r.status_description = Some(format!(
                "{} {}",
                reply.status.as_u16(),
                reply.status.canonical_reason().unwrap_or_default()
            ));
            r.body = body;
            // A target group uses one or the other, depending on its multi-value setting.
            r.headers = headers.clone();
            r.multi_value_headers = headers;
            LambdaReply::Alb(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use lambda_http::http::StatusCode;
    use serde_json::json;

    fn event(v: serde_json::Value) -> Incoming {
        incoming(serde_json::from_value::<LambdaRequest>(v).unwrap())
    }

    fn bytes(body: &IncomingBody) -> &[u8] {
        match body {
            IncomingBody::Bytes(b) => b,
            IncomingBody::BadBase64 { .. } => panic!("bad base64"),
        }
    }

    fn v2(body: &str, base64: bool) -> serde_json::Value {
        json!({
            "version": "2.0", "routeKey": "POST /webhook", "rawPath": "/webhook", "rawQueryString": "",
            "headers": {"x-webhook-signature": "c2ln", "content-type": "text/plain"},
            "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                "domainPrefix": "api", "http": {"method": "POST", "path": "/webhook", "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1", "userAgent": "test"}, "requestId": "id", "routeKey": "POST /webhook",
                "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
            "body": body, "isBase64Encoded": base64
        })
    }

    #[test]
    fn http_api_v2_plain_and_base64() {
        let plain = event(v2("{\"a\":1}", false));
        assert_eq!((plain.origin, &plain.method), (Origin::HttpV2, &Method::POST));
        assert_eq!(bytes(&plain.body), b"{\"a\":1}");
        assert_eq!(plain.headers["X-Webhook-Signature"], "c2ln");
        let encoded = event(v2(&STANDARD.encode(b"{\"a\":1}"), true));
        assert_eq!(bytes(&encoded.body), b"{\"a\":1}");
        let broken = event(v2("!!!!not base64", true));
        assert!(matches!(broken.body, IncomingBody::BadBase64 { decoded_len: 9 }));
    }

    #[test]
    fn rest_v1_and_alb() {
        let v1 = event(json!({
            "resource": "/webhook", "path": "/prod/webhook", "httpMethod": "GET",
            "headers": {"X-Webhook-Signature": "c2ln"}, "multiValueHeaders": {"X-Webhook-Signature": ["c2ln"]},
            "requestContext": {"accountId": "123456789012", "resourceId": "r", "stage": "prod", "requestId": "id",
                "identity": {"sourceIp": "192.0.2.1"}, "resourcePath": "/webhook", "httpMethod": "GET", "apiId": "api"},
            "body": null, "isBase64Encoded": false
        }));
        assert_eq!((v1.origin, &v1.method), (Origin::RestV1, &Method::GET));
        assert_eq!(bytes(&v1.body), b"");
        let alb = event(json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
            "httpMethod": "POST", "path": "/webhook", "headers": {"x-webhook-signature": "c2ln"},
            "body": STANDARD.encode("{}"), "isBase64Encoded": true
        }));
        assert_eq!(alb.origin, Origin::Alb);
        assert_eq!(bytes(&alb.body), b"{}");
    }

    #[test]
    fn replies_in_each_shape() {
        let reply = || Reply {
            status: StatusCode::METHOD_NOT_ALLOWED,
            allow: Some("POST"),
            body: "{}".into(),
        };
        let v2 = serde_json::to_value(outgoing(Origin::HttpV2, reply())).unwrap();
        assert_eq!(v2["statusCode"], 405);
        assert_eq!(v2["headers"]["allow"], "POST");
        assert_eq!(v2["headers"]["content-type"], "application/json");
        assert_eq!(v2["body"], "{}");
        assert_eq!(v2["isBase64Encoded"], false);
        let v1 = serde_json::to_value(outgoing(Origin::RestV1, reply())).unwrap();
        assert_eq!(v1["multiValueHeaders"]["allow"], json!(["POST"]));
        let alb = serde_json::to_value(outgoing(Origin::Alb, reply())).unwrap();
        assert_eq!(alb["statusDescription"], "405 Method Not Allowed");
        assert_eq!(alb["headers"]["allow"], "POST");
    }
}
