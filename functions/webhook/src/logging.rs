//! The function's log lines: lambda_http's conventions (`AWS_LAMBDA_LOG_FORMAT`,
//! `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`), with two rules of docs/contract.md §7: the
//! runtime's TRACE line carrying the whole raw event (body and signature header) is never
//! enabled, and in JSON every summary line carries `event`, `null` when there is none.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

use crate::config::Logging;

/// Installs the global subscriber with `settings` (`Logging::from_env`); call once, first
/// thing.
pub fn init(settings: &Logging) {
    let level = settings
        .level
        .as_deref()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(&settings.directives)
        .add_directive(
            "lambda_runtime::layers::api_response=debug"
                .parse()
                .unwrap_or_else(|_| level.into()),
        );
    let fmt = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    if settings.json {
        let format = tracing_subscriber::fmt::format()
            .json()
            .with_target(false)
            .without_time();
        fmt.json().event_format(NullEvent(format)).init();
    } else {
        fmt.init();
    }
}

/// A JSON event format that adds `"event": null` to a summary line (one with a
/// `durationMs` field) that has no `event`: tracing records nothing for a `None`.
struct NullEvent<F>(F);

impl<S, N, F> FormatEvent<S, N> for NullEvent<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        if event.metadata().fields().field("durationMs").is_none() {
            return self.0.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        writer.write_str(&with_null_event(line))
    }
}

/// `line` (one JSON object and a newline) with `fields.event` set to `null` if missing.
fn with_null_event(line: String) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&line) else {
        return line;
    };
    match value.get_mut("fields").and_then(serde_json::Value::as_object_mut) {
        Some(fields) if !fields.contains_key("event") => {
            fields.insert("event".into(), serde_json::Value::Null);
            format!("{value}\n")
        }
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_event_becomes_null_and_a_present_one_stays() {
        let line = with_null_event("{\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"status\":401}}\n".into());
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["fields"]["event"], serde_json::Value::Null);
        assert!(v["fields"].as_object().unwrap().contains_key("event"));
        assert!(line.ends_with('\n'));
        let kept = "{\"fields\":{\"event\":\"extraction.failed\"}}\n";
        assert_eq!(with_null_event(kept.into()), kept);
        assert_eq!(with_null_event("not json\n".into()), "not json\n");
    }
}
