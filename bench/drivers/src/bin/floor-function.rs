//! The least a Lambda function on the real `lambda_runtime` client can do with an event:
//! read it, check it is JSON, answer a fixed `200`. `invocation-bench` measures it beside
//! the webhook as the fixed cost of an invocation.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::de::IgnoredAny;
use serde_json::{json, Value};

async fn handle(_event: LambdaEvent<IgnoredAny>) -> Result<Value, Error> {
    Ok(json!({"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
