//! The function's configuration, read once from the environment at start (docs/contract.md §6):
//! ours ([`Config`]), and the few variables Lambda and the AWS SDK define that the function
//! also acts on ([`Logging`], [`Config::sdk_retries_set`], [`Config::custom_endpoint`],
//! [`Config::function_name`]). No other module reads the environment.

use shared::layout::Prefix;
use shared::signature::{Secret, SecretError};

/// Default `MAX_BODY_BYTES`: Lambda's 6 MiB synchronous payload limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6_291_456;
/// Default `MAX_CONCURRENCY`: a 50-file delivery's file objects in one round trip
/// (docs/performance.md, "Requests in flight").
pub const DEFAULT_MAX_CONCURRENCY: usize = 50;
/// Default `ACK_DEADLINE_MS`.
pub const DEFAULT_ACK_DEADLINE_MS: usize = 5_000;
/// Default `SECRET_REFRESH_INTERVAL_MS`: the least time between two reads of the secret.
pub const DEFAULT_SECRET_REFRESH_INTERVAL_MS: usize = 30_000;

/// A configuration problem; the function refuses to start and logs this one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable's value is not acceptable.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong with it (never the value itself).
        reason: &'static str,
    },
    /// Both ways of giving the secret are set.
    #[error("EXTRACTA_WEBHOOK_SECRET and EXTRACTA_WEBHOOK_SECRET_ARN are both set; set only one")]
    BothSecrets,
    /// No secret, and unsigned deliveries were not explicitly allowed.
    #[error("EXTRACTA_WEBHOOK_SECRET (or EXTRACTA_WEBHOOK_SECRET_ARN) is required; set ALLOW_UNSIGNED=true only for local development")]
    NoSecret,
}

/// Where the webhook secrets come from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// `EXTRACTA_WEBHOOK_SECRET`, parsed.
    Inline(Vec<Secret>),
    /// `EXTRACTA_WEBHOOK_SECRET_ARN`: read from Secrets Manager at start, and again after
    /// a signature mismatch at most once per `secret_refresh_interval`.
    SecretsManager(String),
    /// No secret and `ALLOW_UNSIGNED=true`.
    Unsigned,
}

/// Everything the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `RESULTS_BUCKET`
    pub bucket: String,
    /// `RESULTS_PREFIX`
    pub prefix: Prefix,
    /// `CONFIRMED_TOPIC_ARN`
    pub confirmed_topic_arn: String,
    /// `FAILED_TOPIC_ARN`
    pub failed_topic_arn: String,
    /// The secret, or how to get it.
    pub secret: SecretSource,
    /// `ALLOW_UNSIGNED` was true while a secret is set: ignored, worth a warning.
    pub allow_unsigned_ignored: bool,
    /// `MAX_BODY_BYTES`
    pub max_body_bytes: usize,
    /// `MAX_CONCURRENCY`
    pub max_concurrency: usize,
    /// `REDRIVE_QUEUE_URL`: automatic completion is on when set.
    pub redrive_queue_url: Option<String>,
    /// `ACK_DEADLINE_MS`
    pub ack_deadline: std::time::Duration,
    /// `SECRET_REFRESH_INTERVAL_MS`
    pub secret_refresh_interval: std::time::Duration,
    /// `EVENT_BUS_NAME`: a bus name or ARN; every delivery also goes there when set
    /// (docs/contract.md §10).
    pub event_bus: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the metrics lines' `FunctionName`.
    pub function_name: String,
    /// `AWS_RETRY_MODE` or `AWS_MAX_ATTEMPTS` is set: the SDK's own retry settings win
    /// over the function's default.
    pub sdk_retries_set: bool,
    /// `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3` is set: a local endpoint (moto,
    /// MinIO), which needs path-style S3 addressing.
    pub custom_endpoint: bool,
}

/// How the function logs: lambda_http's conventions, read before anything else so that
/// a configuration error is logged in the format asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logging {
    /// `AWS_LAMBDA_LOG_LEVEL`, else the level of `RUST_LOG` when it is a bare level.
    pub level: Option<String>,
    /// `RUST_LOG`, as `tracing` directives (`webhook=debug,info`).
    pub directives: String,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON` (any case).
    pub json: bool,
}

impl Logging {
    /// Reads the process environment.
    pub fn from_env() -> Logging {
        Logging::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the logging settings through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Logging {
        let rust_log = lookup("RUST_LOG");
        Logging {
            level: lookup("AWS_LAMBDA_LOG_LEVEL").or_else(|| rust_log.clone()),
            directives: rust_log.unwrap_or_default(),
            json: lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // An empty value counts as unset, except for RESULTS_PREFIX.
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let any_set = |names: &[&str]| names.iter().any(|name| get(name).is_some());

        let allow_unsigned = match get("ALLOW_UNSIGNED") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "ALLOW_UNSIGNED",
                    reason: "must be true or false",
                })
            }
        };
        let secret = match (get("EXTRACTA_WEBHOOK_SECRET"), get("EXTRACTA_WEBHOOK_SECRET_ARN")) {
            (Some(_), Some(_)) => return Err(ConfigError::BothSecrets),
            (Some(text), None) => SecretSource::Inline(Secret::parse_list(&text).map_err(|e| match e {
                SecretError::Empty => ConfigError::Invalid {
                    var: "EXTRACTA_WEBHOOK_SECRET",
                    reason: "contains an empty secret (check for a stray comma)",
                },
            })?),
            (None, Some(arn)) => SecretSource::SecretsManager(arn),
            (None, None) if allow_unsigned => SecretSource::Unsigned,
            (None, None) => return Err(ConfigError::NoSecret),
        };
        Ok(Config {
            bucket: required("RESULTS_BUCKET")?,
            prefix: lookup("RESULTS_PREFIX").map_or_else(Prefix::default, |p| Prefix::new(&p)),
            confirmed_topic_arn: required("CONFIRMED_TOPIC_ARN")?,
            failed_topic_arn: required("FAILED_TOPIC_ARN")?,
            allow_unsigned_ignored: allow_unsigned && !matches!(secret, SecretSource::Unsigned),
            secret,
            max_body_bytes: positive(get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            max_concurrency: positive(get("MAX_CONCURRENCY"), "MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY)?,
            redrive_queue_url: match get("REDRIVE_QUEUE_URL") {
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => Some(url),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        var: "REDRIVE_QUEUE_URL",
                        reason: "must be an absolute http(s) URL of an SQS queue",
                    })
                }
                None => None,
            },
            ack_deadline: millis(get("ACK_DEADLINE_MS"), "ACK_DEADLINE_MS", DEFAULT_ACK_DEADLINE_MS)?,
            secret_refresh_interval: millis(
                get("SECRET_REFRESH_INTERVAL_MS"),
                "SECRET_REFRESH_INTERVAL_MS",
                DEFAULT_SECRET_REFRESH_INTERVAL_MS,
            )?,
            event_bus: get("EVENT_BUS_NAME").map(event_bus).transpose()?,
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
            sdk_retries_set: any_set(&["AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"]),
            custom_endpoint: any_set(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]),
        })
    }
}

/// An EventBridge bus as `PutEvents` takes it: a name (1-256 of `A-Z a-z 0-9 . - _ /`)
/// or an ARN `arn:<partition>:events:<region>:<account>:event-bus/<name>`.
fn event_bus(value: String) -> Result<String, ConfigError> {
    let name = match value.strip_prefix("arn:") {
        Some(rest) => match rest.split_once(":event-bus/") {
            Some((head, name)) if head.split(':').nth(1) == Some("events") => name,
            _ => return Err(ConfigError::Invalid {
                var: "EVENT_BUS_NAME",
                reason:
                    "an ARN must be an EventBridge event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)",
            }),
        },
        None => value.as_str(),
    };
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/');
    if name.is_empty() || name.len() > 256 || !name.chars().all(fits) {
        return Err(ConfigError::Invalid {
            var: "EVENT_BUS_NAME",
            reason: "must be a bus name (1-256 of A-Z a-z 0-9 . - _ /) or an event bus ARN",
        });
    }
    Ok(value)
}

fn millis(value: Option<String>, var: &'static str, default: usize) -> Result<std::time::Duration, ConfigError> {
    let ms = positive(value, var, default)?;
    Ok(std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
}

fn positive(value: Option<String>, var: &'static str, default: usize) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid {
                var,
                reason: "must be a positive integer",
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let base = [
            ("RESULTS_BUCKET", "bucket"),
            ("CONFIRMED_TOPIC_ARN", "arn:aws:sns:us-east-1:1:c"),
            ("FAILED_TOPIC_ARN", "arn:aws:sns:us-east-1:1:f"),
            ("EXTRACTA_WEBHOOK_SECRET", "E_AI_K_test-secret-not-real"),
        ];
        let mut map: HashMap<String, String> = base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.prefix.as_str(), "extracta/");
        assert_eq!(c.max_body_bytes, 6_291_456);
        assert_eq!(c.max_concurrency, 50);
        assert!(matches!(c.secret, SecretSource::Inline(ref s) if s.len() == 1));
        assert!(!c.allow_unsigned_ignored);
        assert_eq!(c.redrive_queue_url, None);
        assert_eq!(c.ack_deadline, std::time::Duration::from_secs(5));
        assert_eq!(c.secret_refresh_interval, std::time::Duration::from_secs(30));
    }

    #[test]
    fn lambda_and_sdk_variables() {
        let c = config(&[]).unwrap();
        assert_eq!(
            (c.function_name.as_str(), c.sdk_retries_set, c.custom_endpoint),
            ("", false, false)
        );
        let c = config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "receiver"),
            ("AWS_MAX_ATTEMPTS", "5"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(
            (c.function_name.as_str(), c.sdk_retries_set, c.custom_endpoint),
            ("receiver", true, true)
        );
        // Empty counts as unset, as for every other variable.
        let c = config(&[("AWS_RETRY_MODE", ""), ("AWS_ENDPOINT_URL", "")]).unwrap();
        assert_eq!((c.sdk_retries_set, c.custom_endpoint), (false, false));
    }

    #[test]
    fn logging_follows_lambda_conventions() {
        let logging = |vars: &[(&str, &str)]| {
            let map: HashMap<&str, &str> = vars.iter().copied().collect();
            Logging::from_lookup(|k| map.get(k).map(|v| v.to_string()))
        };
        assert_eq!(logging(&[]), Logging::default());
        let l = logging(&[("AWS_LAMBDA_LOG_FORMAT", "json"), ("RUST_LOG", "webhook=debug")]);
        assert_eq!(
            (l.level.as_deref(), l.directives.as_str(), l.json),
            (Some("webhook=debug"), "webhook=debug", true)
        );
        let l = logging(&[
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "debug"),
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
        ]);
        assert_eq!((l.level.as_deref(), l.json), (Some("WARN"), false));
    }

    #[test]
    fn redrive_settings() {
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/redrive";
        let c = config(&[("REDRIVE_QUEUE_URL", url), ("ACK_DEADLINE_MS", "250")]).unwrap();
        assert_eq!(c.redrive_queue_url.as_deref(), Some(url));
        assert_eq!(c.ack_deadline, std::time::Duration::from_millis(250));
        assert_eq!(config(&[("REDRIVE_QUEUE_URL", "")]).unwrap().redrive_queue_url, None);
        for (var, bad) in [
            ("REDRIVE_QUEUE_URL", "redrive"),
            ("ACK_DEADLINE_MS", "0"),
            ("ACK_DEADLINE_MS", "5s"),
            ("SECRET_REFRESH_INTERVAL_MS", "-1"),
        ] {
            let err = config(&[(var, bad)]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { var: v, .. } if v == var),
                "{var}={bad}"
            );
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn event_bus_is_optional_a_name_or_an_arn() {
        assert_eq!(config(&[]).unwrap().event_bus, None);
        assert_eq!(config(&[("EVENT_BUS_NAME", "")]).unwrap().event_bus, None);
        for good in [
            "extracta",
            "default",
            "a.b-c_d/e",
            "arn:aws:events:us-east-1:123456789012:event-bus/extracta",
            "arn:aws-cn:events:cn-north-1:123456789012:event-bus/x",
        ] {
            assert_eq!(
                config(&[("EVENT_BUS_NAME", good)]).unwrap().event_bus.as_deref(),
                Some(good)
            );
        }
        let long = "b".repeat(257);
        for bad in [
            "has space",
            "émoji",
            long.as_str(),
            "arn:aws:sns:us-east-1:123456789012:topic",
            "arn:aws:events:us-east-1:123456789012:rule/x",
            "arn:aws:events:us-east-1:123456789012:event-bus/",
        ] {
            let err = config(&[("EVENT_BUS_NAME", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        var: "EVENT_BUS_NAME",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for var in ["RESULTS_BUCKET", "CONFIRMED_TOPIC_ARN", "FAILED_TOPIC_ARN"] {
            // An empty value counts as unset.
            let err = config(&[(var, "")]).unwrap_err();
            assert_eq!(err, ConfigError::Missing(var));
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn prefix_may_be_empty_and_gets_a_slash() {
        assert_eq!(config(&[("RESULTS_PREFIX", "")]).unwrap().prefix.as_str(), "");
        assert_eq!(config(&[("RESULTS_PREFIX", "x")]).unwrap().prefix.as_str(), "x/");
    }

    #[test]
    fn secrets() {
        let rotation = config(&[("EXTRACTA_WEBHOOK_SECRET", "new , old")]).unwrap();
        assert!(matches!(rotation.secret, SecretSource::Inline(ref s) if s.len() == 2));
        let err = config(&[("EXTRACTA_WEBHOOK_SECRET", "a,")]).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                var: "EXTRACTA_WEBHOOK_SECRET",
                ..
            }
        ));
        assert!(!err.to_string().contains("test-secret"));
        assert_eq!(
            config(&[("EXTRACTA_WEBHOOK_SECRET_ARN", "arn:x")]).unwrap_err(),
            ConfigError::BothSecrets
        );
        let arn = config(&[
            ("EXTRACTA_WEBHOOK_SECRET", ""),
            ("EXTRACTA_WEBHOOK_SECRET_ARN", "arn:x"),
        ])
        .unwrap();
        assert!(matches!(arn.secret, SecretSource::SecretsManager(ref a) if a == "arn:x"));
    }

    #[test]
    fn unsigned_only_when_explicitly_allowed_and_no_secret() {
        assert_eq!(
            config(&[("EXTRACTA_WEBHOOK_SECRET", "")]).unwrap_err(),
            ConfigError::NoSecret
        );
        let dev = config(&[("EXTRACTA_WEBHOOK_SECRET", ""), ("ALLOW_UNSIGNED", "TRUE")]).unwrap();
        assert!(matches!(dev.secret, SecretSource::Unsigned));
        // With a secret configured, signatures are checked whatever ALLOW_UNSIGNED says.
        let checked = config(&[("ALLOW_UNSIGNED", "true")]).unwrap();
        assert!(matches!(checked.secret, SecretSource::Inline(_)));
        assert!(checked.allow_unsigned_ignored);
        assert!(config(&[("ALLOW_UNSIGNED", "False")]).is_ok());
        let err = config(&[("ALLOW_UNSIGNED", "yes")]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid {
                var: "ALLOW_UNSIGNED",
                reason: "must be true or false"
            }
        );
    }

    #[test]
    fn limits_are_positive_integers() {
        assert_eq!(config(&[("MAX_BODY_BYTES", "10")]).unwrap().max_body_bytes, 10);
        assert_eq!(config(&[("MAX_CONCURRENCY", "1")]).unwrap().max_concurrency, 1);
        for bad in ["0", "-1", "1.5", "many", "99999999999999999999999"] {
            for var in ["MAX_BODY_BYTES", "MAX_CONCURRENCY"] {
                let err = config(&[(var, bad)]).unwrap_err();
                assert!(
                    matches!(err, ConfigError::Invalid { var: v, .. } if v == var),
                    "{var}={bad}"
                );
            }
        }
    }
}
