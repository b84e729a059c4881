//! A tiny Lambda function on the real `lambda_runtime` client, for the harness's
//! self-tests: it echoes events back, fails or panics on request, and exits on demand.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    println!(
        "{}",
        json!({"level": "INFO", "echo": "invoked", "requestId": ctx.request_id})
    );
    match payload.get("do").and_then(Value::as_str) {
        Some("fail") => Err("asked to fail".into()),
        Some("panic") => panic!("asked to panic"),
        Some("env") => Ok(json!(std::env::vars().collect::<std::collections::BTreeMap<_, _>>())),
        _ => Ok(json!({"echo": payload, "requestId": ctx.request_id, "deadline": ctx.deadline})),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    eprintln!("{}", json!({"level": "INFO", "echo": "starting"}));
    if let Ok(code) = std::env::var("ECHO_EXIT_WITH") {
        eprintln!("{}", json!({"level": "ERROR", "message": "ECHO_EXIT_WITH is set"}));
        std::process::exit(code.parse().unwrap_or(1));
    }
    lambda_runtime::run(service_fn(handle)).await
}
