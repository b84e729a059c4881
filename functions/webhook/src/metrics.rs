//! CloudWatch metrics as Embedded Metric Format lines on stdout: no extra AWS calls
//! (docs/contract.md §7).
//!
//! One line per live request and one per redrive record, derived from its [`Report`],
//! namespace [`NAMESPACE`], published twice: per `FunctionName` and `Event`, and per
//! `FunctionName` alone. `Event` is one of the four routed names, `other` (an
//! authenticated delivery of any other event or shape) or `rejected` (405/413/400/401, or
//! a refused redrive record), so a sender cannot mint new metric streams.

use serde_json::{json, Map, Value};

use crate::report::{Class, End, Report};

/// The CloudWatch namespace of every metric the function emits.
pub const NAMESPACE: &str = "ExtractaWebhook";

impl<E: End> Report<E> {
    fn dimension(&self) -> &'static str {
        match (self.counts.kind, self.counts.authenticated) {
            (Some(kind), true) => kind.name(),
            (None, true) => "other",
            _ => "rejected",
        }
    }

    /// The EMF JSON line for this report, stamped `timestamp_ms`.
    pub fn emf_line(&self, function: &str, timestamp_ms: i64) -> String {
        let (c, class) = (&self.counts, self.end.class());
        let one = |of: Class| u64::from(class == of);
        let counts = [
            ("Deliveries", one(Class::Delivered)),
            ("Queued", one(Class::Queued)),
            // Each delivery's files once, when it arrives (docs/contract.md §7).
            ("Files", if class.is_live() { c.files as u64 } else { 0 }),
            ("Superseded", c.superseded as u64),
            ("Published", c.published as u64),
            ("EventsPut", c.bus_entries as u64),
            ("EventsFailed", self.end.events_failed() as u64),
            ("SignatureFailures", one(Class::SignatureFailure)),
            ("BadRequests", one(Class::BadRequest)),
            ("DownstreamFailures", one(Class::DownstreamFailure)),
            ("Redriven", one(Class::Redriven)),
            ("RedriveFailures", one(Class::RedriveFailure)),
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
        // A redrive record has no latency a sender waited for.
        if class.is_live() {
            declared.push(json!({ "Name": "Latency", "Unit": "Milliseconds" }));
            line.insert("Latency".into(), json!(self.duration_ms));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Counts;
    use http::StatusCode;
    use shared::delivery::EventKind;

    /// An end that is only its class (and a failed entry count).
    struct Ended(Class, usize);

    impl End for Ended {
        fn class(&self) -> Class {
            self.0
        }
        fn status(&self) -> StatusCode {
            StatusCode::OK
        }
        fn events_failed(&self) -> usize {
            self.1
        }
        fn message_id(&self) -> Option<&str> {
            None
        }
        fn warn(&self) {}
    }

    fn report(counts: Counts, class: Class) -> Report<Ended> {
        Report {
            counts,
            duration_ms: 12,
            end: Ended(class, 0),
        }
    }

    fn line(report: &Report<Ended>) -> Value {
        serde_json::from_str(&report.emf_line("fn", 0)).unwrap()
    }

    #[test]
    fn emf_line_declares_every_metric_it_carries() {
        let m = report(
            Counts {
                kind: Some(EventKind::Confirmed),
                authenticated: true,
                files: 3,
                published: 3,
                ..Counts::default()
            },
            Class::Delivered,
        );
        let v: Value = serde_json::from_str(&m.emf_line("fn", 1_700_000_000_000)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(
            (
                v["Event"].as_str(),
                v["Deliveries"].as_u64(),
                v["Files"].as_u64(),
                v["Latency"].as_u64()
            ),
            (Some("extraction.confirmed"), Some(1), Some(3), Some(12))
        );
    }

    #[test]
    fn each_report_counts_in_exactly_one_outcome() {
        let outcomes = [
            (Class::Delivered, "Deliveries"),
            (Class::Queued, "Queued"),
            (Class::SignatureFailure, "SignatureFailures"),
            (Class::BadRequest, "BadRequests"),
            (Class::DownstreamFailure, "DownstreamFailures"),
            (Class::Redriven, "Redriven"),
            (Class::RedriveFailure, "RedriveFailures"),
        ];
        for (class, metric) in outcomes {
            let v = line(&report(Counts::default(), class));
            for (_, other) in outcomes {
                assert_eq!(
                    v[other].as_u64(),
                    Some(u64::from(other == metric)),
                    "{class:?}: {other}"
                );
            }
        }
    }

    #[test]
    fn dimensions_are_bounded() {
        let other = Counts {
            authenticated: true,
            ..Counts::default()
        };
        assert_eq!(report(other, Class::Delivered).dimension(), "other");
        assert_eq!(
            report(Counts::default(), Class::SignatureFailure).dimension(),
            "rejected"
        );
        // An event that is not authenticated does not name the dimension.
        let unchecked = Counts {
            kind: Some(EventKind::Failed),
            ..Counts::default()
        };
        assert_eq!(report(unchecked, Class::BadRequest).dimension(), "rejected");
    }

    #[test]
    fn a_redrive_record_counts_no_files_and_declares_no_latency() {
        let redriven = Report {
            counts: Counts {
                kind: Some(EventKind::Confirmed),
                authenticated: true,
                // The redriven delivery has files: they were counted when it arrived.
                files: 4,
                published: 2,
                ..Counts::default()
            },
            duration_ms: 40,
            end: Ended(Class::Redriven, 3),
        };
        let v = line(&redriven);
        assert_eq!(
            (
                v["Redriven"].as_u64(),
                v["EventsFailed"].as_u64(),
                v["Published"].as_u64(),
                v["Files"].as_u64()
            ),
            (Some(1), Some(3), Some(2), Some(0))
        );
        // A failed redrive record with files counts none either.
        let failed = Report {
            end: Ended(Class::RedriveFailure, 0),
            ..redriven
        };
        assert_eq!(line(&failed)["Files"].as_u64(), Some(0));
        assert!(v.get("Latency").is_none());
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
        assert!(!declared.iter().any(|m| m["Name"] == "Latency"));
    }
}
