//! docs/contract.md §6: configuration that stops the start: non-zero exit (or an init error),
//! one JSON log line naming the variable, and no event ever asked for.
use std::time::Duration;

use e2e::function::run_to_exit;
use e2e::{FunctionConfig, Stack};
use serde_json::Value;

/// Starts the binary with `tweak`ed configuration and asserts it refuses to start,
/// naming `var`.
async fn refuses(tweak: impl FnOnce(FunctionConfig) -> FunctionConfig, var: &str) {
    let stack = Stack::new().await;
    let config = tweak(stack.config());
    let json_logs = config
        .get("AWS_LAMBDA_LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let r = run_to_exit(config, Duration::from_secs(20)).await;
    assert!(
        !r.asked_for_event,
        "{var}: it must stop before asking for an event: {r:?}"
    );
    assert!(
        r.failed() || !r.init_errors.is_empty(),
        "{var}: exit non-zero or report /runtime/init/error: {r:?}"
    );
    let lines = r.lines();
    for l in lines.iter().filter(|_| json_logs) {
        assert!(
            matches!(serde_json::from_str::<Value>(l), Ok(Value::Object(_))),
            "{var}: with AWS_LAMBDA_LOG_FORMAT=JSON every line is a JSON object: {l}"
        );
    }
    let naming: Vec<_> = lines.iter().filter(|l| l.contains(var)).collect();
    assert!(
        !naming.is_empty() || r.init_errors.iter().any(|e| e.to_string().contains(var)),
        "{var}: one line names the variable: {r:?}"
    );
    assert!(naming.len() <= 2, "{var}: one line, not a cascade: {lines:?}");
}

#[tokio::test]
async fn missing_results_bucket() {
    refuses(|c| c.unset("RESULTS_BUCKET"), "RESULTS_BUCKET").await;
    refuses(|c| c.set("RESULTS_BUCKET", ""), "RESULTS_BUCKET").await;
}

#[tokio::test]
async fn refusal_with_text_logs_names_the_variable_too() {
    refuses(
        |c| c.unset("AWS_LAMBDA_LOG_FORMAT").unset("FAILED_TOPIC_ARN"),
        "FAILED_TOPIC_ARN",
    )
    .await;
}

#[tokio::test]
async fn missing_confirmed_topic() {
    refuses(|c| c.unset("CONFIRMED_TOPIC_ARN"), "CONFIRMED_TOPIC_ARN").await;
    refuses(|c| c.set("CONFIRMED_TOPIC_ARN", ""), "CONFIRMED_TOPIC_ARN").await;
}

#[tokio::test]
async fn missing_failed_topic() {
    refuses(|c| c.unset("FAILED_TOPIC_ARN"), "FAILED_TOPIC_ARN").await;
    refuses(|c| c.set("FAILED_TOPIC_ARN", ""), "FAILED_TOPIC_ARN").await;
}

#[tokio::test]
async fn both_secret_variables() {
    refuses(
        |c| {
            c.set(
                "EXTRACTA_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:e2e",
            )
        },
        "EXTRACTA_WEBHOOK_SECRET",
    )
    .await;
}

#[tokio::test]
async fn no_secret_and_no_allow_unsigned() {
    refuses(|c| c.unset("EXTRACTA_WEBHOOK_SECRET"), "EXTRACTA_WEBHOOK_SECRET").await;
    refuses(|c| c.set("EXTRACTA_WEBHOOK_SECRET", ""), "EXTRACTA_WEBHOOK_SECRET").await;
    refuses(
        |c| c.unset("EXTRACTA_WEBHOOK_SECRET").set("ALLOW_UNSIGNED", "false"),
        "EXTRACTA_WEBHOOK_SECRET",
    )
    .await;
    // Whitespace and commas only: no secret at all.
    refuses(|c| c.set("EXTRACTA_WEBHOOK_SECRET", " , "), "EXTRACTA_WEBHOOK_SECRET").await;
}

#[tokio::test]
async fn unreadable_secrets_manager_secret() {
    refuses(
        |c| {
            c.unset("EXTRACTA_WEBHOOK_SECRET").set(
                "EXTRACTA_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:e2e-does-not-exist",
            )
        },
        "EXTRACTA_WEBHOOK_SECRET_ARN",
    )
    .await;
}

#[tokio::test]
async fn invalid_max_body_bytes() {
    for v in ["0", "-1", "abc", "1.5", "6MB"] {
        refuses(|c| c.set("MAX_BODY_BYTES", v), "MAX_BODY_BYTES").await;
    }
}

#[tokio::test]
async fn invalid_max_concurrency() {
    for v in ["0", "-4", "many", "2.0"] {
        refuses(|c| c.set("MAX_CONCURRENCY", v), "MAX_CONCURRENCY").await;
    }
}

#[tokio::test]
async fn invalid_allow_unsigned() {
    for v in ["yes", "1", "on"] {
        refuses(
            |c| c.unset("EXTRACTA_WEBHOOK_SECRET").set("ALLOW_UNSIGNED", v),
            "ALLOW_UNSIGNED",
        )
        .await;
        // Invalid even when a secret makes it irrelevant.
        refuses(|c| c.set("ALLOW_UNSIGNED", v), "ALLOW_UNSIGNED").await;
    }
}

#[tokio::test]
async fn valid_edge_values_start() {
    // The counterpart of the refusals: these must start and ask for an event.
    let stack = Stack::new().await;
    for tweak in [
        (|c: FunctionConfig| c.set("RESULTS_PREFIX", "")) as fn(FunctionConfig) -> FunctionConfig,
        |c| c.set("MAX_BODY_BYTES", "1").set("MAX_CONCURRENCY", "1"),
        |c| c.set("ALLOW_UNSIGNED", "False"),
        |c| c.unset("EXTRACTA_WEBHOOK_SECRET").set("ALLOW_UNSIGNED", "tRuE"),
        |c| c.set("EXTRACTA_WEBHOOK_SECRET_ARN", ""),
    ] {
        let r = run_to_exit(tweak(stack.config()), Duration::from_secs(20)).await;
        assert!(r.asked_for_event, "it should have started: {r:?}");
    }
}
