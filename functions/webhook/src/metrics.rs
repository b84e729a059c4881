//! CloudWatch metrics as Embedded Metric Format lines on stdout: no extra AWS calls.
//!
//! One line per request, namespace [`NAMESPACE`], published twice: per `FunctionName`
//! and `Event`, and per `FunctionName` alone. `Event` is one of the four routed names,
//! `other` (an authenticated delivery of any other event or shape) or `rejected`
//! (405/413/400/401), so a sender cannot mint new metric streams.

use serde_json::json;
use shared::delivery::EventKind;

/// The CloudWatch namespace of every metric the function emits.
pub const NAMESPACE: &str = "ExtractaWebhook";

/// What one request amounted to, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestMetrics {
    /// The routed event, if the delivery was one of the four.
    pub event: Option<EventKind>,
    /// Authenticated (reached classification).
    pub authenticated: bool,
    /// File entries routed.
    pub files: usize,
    /// Messages published.
    pub published: usize,
    /// 401: missing or wrong signature.
    pub signature_failure: bool,
    /// 400/405/413.
    pub bad_request: bool,
    /// 502: S3 or SNS failed.
    pub downstream_failure: bool,
    /// Wall time of the request in milliseconds.
    pub latency_ms: u64,
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
        let count = |name: &str| json!({ "Name": name, "Unit": "Count" });
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName", "Event"], ["FunctionName"]],
                    "Metrics": [
                        count("Deliveries"),
                        count("Files"),
                        count("Published"),
                        count("SignatureFailures"),
                        count("BadRequests"),
                        count("DownstreamFailures"),
                        { "Name": "Latency", "Unit": "Milliseconds" },
                    ],
                }],
            },
            "FunctionName": function,
            "Event": self.dimension(),
            "Deliveries": u8::from(self.authenticated && !self.downstream_failure),
            "Files": self.files,
            "Published": self.published,
            "SignatureFailures": u8::from(self.signature_failure),
            "BadRequests": u8::from(self.bad_request),
            "DownstreamFailures": u8::from(self.downstream_failure),
            "Latency": self.latency_ms,
        })
        .to_string()
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
            latency_ms: 12,
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
            ..RequestMetrics::default()
        };
        let v: serde_json::Value = serde_json::from_str(&failed.emf_line("fn", 0)).unwrap();
        assert_eq!(
            (v["Deliveries"].as_u64(), v["DownstreamFailures"].as_u64()),
            (Some(0), Some(1))
        );
    }
}
