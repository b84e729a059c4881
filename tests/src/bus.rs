//! An EventBridge bus on moto with rules to SQS queues: what a user's rules and their
//! targets receive from the function (docs/contract.md §10).

use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};

use crate::aws::{Queue, Received, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use crate::{schema, Stack};

/// A bus with two rules: every `extracta.ai` event to `all`, and the `classification.`
/// namespace (a prefix on `detail-type`) to `classification`.
pub struct EventBus {
    /// The bus name, as `EVENT_BUS_NAME`.
    pub name: String,
    /// The target queue of the rule matching every event.
    pub all: Queue,
    /// The target queue of the rule matching `classification.*`.
    pub classification: Queue,
}

/// An EventBridge client for moto at `endpoint`.
pub fn client(endpoint: &str) -> aws_sdk_eventbridge::Client {
    let creds = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "e2e");
    let conf = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_eventbridge::Client::from_conf(conf)
}

impl EventBus {
    /// Creates the bus, its two queues and rules on `stack`'s moto.
    pub async fn create(stack: &Stack) -> EventBus {
        let events = client(&stack.endpoint);
        let name = crate::unique_name("bus");
        events.create_event_bus().name(&name).send().await.expect("create bus");
        let all = stack.aws.create_queue(&format!("{name}-all")).await;
        let classification = stack.aws.create_queue(&format!("{name}-cls")).await;
        for (rule, pattern, queue) in [
            ("all", json!({"source": ["extracta.ai"]}), &all),
            (
                "classification",
                json!({"source": ["extracta.ai"], "detail-type": [{"prefix": "classification."}]}),
                &classification,
            ),
        ] {
            events
                .put_rule()
                .name(rule)
                .event_bus_name(&name)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .expect("put rule");
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue.arn)
                .build()
                .expect("target");
            events
                .put_targets()
                .rule(rule)
                .event_bus_name(&name)
                .targets(target)
                .send()
                .await
                .expect("put targets");
        }
        EventBus {
            name,
            all,
            classification,
        }
    }

    /// Every event this bus's rule `queue` received so far (see [`events`]).
    pub async fn events(&self, stack: &Stack, queue: &Queue) -> Vec<Value> {
        events(stack, queue).await
    }
}

/// Every event a rule's target `queue` received so far (removes them), each checked
/// against the schemas, in arrival order.
pub async fn events(stack: &Stack, queue: &Queue) -> Vec<Value> {
    checked_events(&stack.aws.drain(queue).await)
}

/// The EventBridge events in `received` (a rule target's messages), each checked against
/// the schemas, in order.
pub fn checked_events(received: &[Received]) -> Vec<Value> {
    received
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_str(&m.body).expect("an EventBridge event");
            assert_eq!(event["source"], "extracta.ai", "{event}");
            schema::event(&event);
            event
        })
        .collect()
}
