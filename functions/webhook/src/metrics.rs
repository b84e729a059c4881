//! CloudWatch metrics as Embedded Metric Format lines on stdout: no extra AWS calls
//! (docs/contract.md §7).
//!
//! One line per live request and one per redrive record, namespace [`NAMESPACE`],
//! published twice: per `FunctionName` and `Event`, and per `FunctionName` alone. `Event`
//! is one of the four routed names, `other` (an authenticated delivery of any other event
//! or shape) or `rejected` (405/413/400/401, or a refused redrive record), so a sender
//! cannot mint new metric streams.

use serde_json::{json, Map, Value};
use shared::delivery::EventKind;

/// The CloudWatch namespace of every metric the function emits.
pub const NAMESPACE: &str = "ExtractaWebhook";

/// What one request or redrive record amounted to, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestMetrics {
    /// The routed event, if the delivery was one of the four.
    pub event: Option<EventKind>,
    /// Authenticated (live), or read back from the archive (redrive).
    pub authenticated: bool,
    /// File entries routed by a live request.
    pub files: usize,
    /// File objects superseded: their key held a newer delivery (docs/contract.md §9).
    pub superseded: usize,
    /// Messages published.
    pub published: usize,
    /// EventBridge entries put (docs/contract.md §10).
    pub events: usize,
    /// EventBridge entries that failed to be put (a failed call counts all of its own).
    pub events_failed: usize,
    /// A live delivery answered 200.
    pub delivered: bool,
    /// A live delivery answered 202 and queued for completion.
    pub queued: bool,
    /// 401: missing or wrong signature.
    pub signature_failure: bool,
    /// 400/405/413.
    pub bad_request: bool,
    /// A live 502: not durable, or not complete without a queue.
    pub downstream_failure: bool,
    /// A redrive record completed.
    pub redriven: bool,
    /// A redrive record listed in `batchItemFailures`.
    pub redrive_failure: bool,
    /// Wall time of a live request in milliseconds (none for a redrive record).
    pub latency_ms: Option<u64>,
}

impl RequestMetrics {
    fn dimension(&self) -> &'static str {
        match (self.event, self.authenticated) {
            (Some(kind), true) => kind.name(),
            (None, true) => "other",
            _ => "rejected",
        }
    }

    /// The EMF JSON line for this request, stamped `timestamp_ms`.
    pub fn emf_line(&self, function: &str, timestamp_ms: i64) -> String {
        let counts = [
            ("Deliveries", u64::from(self.delivered)),
            ("Queued", u64::from(self.queued)),
            ("Files", self.files as u64),
            ("Superseded", self.superseded as u64),
            ("Published", self.published as u64),
            ("EventsPut", self.events as u64),
            ("EventsFailed", self.events_failed as u64),
            ("SignatureFailures", u64::from(self.signature_failure)),
            ("BadRequests", u64::from(self.bad_request)),
            ("DownstreamFailures", u64::from(self.downstream_failure)),
            ("Redriven", u64::from(self.redriven)),
            ("RedriveFailures", u64::from(self.redrive_failure)),
        ];
        let mut declared: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
            .collect();
        let mut line = Map::new();
        line.insert("FunctionName".into(), json!(function));
        line.insert("Event".into(), json!(self.dimension()));
        for (name, value) in counts {
            line.insert(name.into(), json!(value));
        }
        if let Some(latency) = self.latency_ms {
            declared.push(json!({ "Name": "Latency", "Unit": "Milliseconds" }));
            line.insert("Latency".into(), json!(latency));
        }
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName", "Event"], ["FunctionName"]],
                    "Metrics": declared,
                }],
            }),
        );
        Value::Object(line).to_string()
    }

    /// Writes the line to stdout, where Lambda's log capture turns it into metrics.
    pub fn emit(&self) {
        let now = time::OffsetDateTime::now_utc();
        let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        static FUNCTION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let function = FUNCTION.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default());
        println!("{}", self.emf_line(function, ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_every_metric_it_carries() {
        let m = RequestMetrics {
            event: Some(EventKind::Confirmed),
            authenticated: true,
            files: 3,
            published: 3,
            delivered: true,
            latency_ms: Some(12),
            ..RequestMetrics::default()
        };
        let v: serde_json::Value = serde_json::from_str(&m.emf_line("fn", 1_700_000_000_000)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(
            (v["Event"].as_str(), v["Deliveries"].as_u64(), v["Files"].as_u64()),
            (Some("extraction.confirmed"), Some(1), Some(3))
        );
    }

    #[test]
    fn dimensions_are_bounded() {
        let other = RequestMetrics {
            authenticated: true,
            ..RequestMetrics::default()
        };
        assert_eq!(other.dimension(), "other");
        let rejected = RequestMetrics {
            signature_failure: true,
            ..RequestMetrics::default()
        };
        assert_eq!(rejected.dimension(), "rejected");
        let failed = RequestMetrics {
            authenticated: true,
            downstream_failure: true,
            event: Some(EventKind::Failed),
            latency_ms: Some(1),
            ..RequestMetrics::default()
        };
        let v: serde_json::Value = serde_json::from_str(&failed.emf_line("fn", 0)).unwrap();
        assert_eq!(
            (v["Deliveries"].as_u64(), v["DownstreamFailures"].as_u64()),
            (Some(0), Some(1))
        );
        // A redrive record has no latency, and declares none.
        let redriven = RequestMetrics {
            authenticated: true,
            redriven: true,
            published: 2,
            ..RequestMetrics::default()
        };
        let v: serde_json::Value = serde_json::from_str(&redriven.emf_line("fn", 0)).unwrap();
        assert_eq!((v["Redriven"].as_u64(), v["Queued"].as_u64()), (Some(1), Some(0)));
        assert!(v.get("Latency").is_none());
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
        assert!(!declared.iter().any(|m| m["Name"] == "Latency"));
    }
}
