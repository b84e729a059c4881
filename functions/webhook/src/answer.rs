//! The function's answers to a live request (docs/contract.md §5, §8): every JSON body it
//! answers with, every way a request ends early, and how a request ended, from which its
//! [`Report`] derives the reply, the log lines and the metrics.

use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use shared::delivery::MalformedBody;
use shared::pipeline::{Incomplete, Stop};
use shared::ports::DownstreamError;
use shared::signature::SignatureError;
use tracing::warn;

use crate::report::{events_failed, Class, End, Report};

/// The function's answer, before it is shaped for API Gateway, a Function URL or ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// `Allow`, for a 405.
    pub allow: Option<&'static str>,
    /// The JSON body.
    pub body: String,
}

impl Reply {
    /// The answer to a request that panicked.
    pub fn internal_error() -> Reply {
        Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", false)
    }

    fn error(status: StatusCode, error: &str, retryable: bool) -> Reply {
        Reply::json(status, &Body::Error { error, retryable })
    }

    fn json(status: StatusCode, body: &Body<'_>) -> Reply {
        Reply {
            status,
            allow: None,
            // Strings, numbers and JSON text already validated: serializing cannot fail.
            body: serde_json::to_string(body).unwrap_or_default(),
        }
    }
}

/// Every JSON body the function answers with (docs/contract.md §5), members in this order.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Delivered {
        event: &'a RawValue,
        files: usize,
        stored: &'a [String],
        archived: &'a str,
        published: usize,
    },
    Queued {
        event: &'a RawValue,
        files: usize,
        archived: &'a str,
        queued: bool,
    },
    Error {
        error: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        retryable: bool,
    },
}

/// What ended a request early, each with its fixed answer.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// 405: not a POST.
    #[error("method not allowed")]
    Method,
    /// 413: over `MAX_BODY_BYTES`.
    #[error("body of {0} bytes is over MAX_BODY_BYTES")]
    TooLarge(usize),
    /// 400: marked base64, not decodable.
    #[error("body is marked base64 but does not decode")]
    BadBase64,
    /// 400: not a JSON object.
    #[error(transparent)]
    Malformed(#[from] MalformedBody),
    /// 401: no signature matches.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// Not durable, or (without a redrive queue) not complete.
    #[error(transparent)]
    Incomplete(Incomplete),
    /// Durable, but the redrive queue did not take the message.
    #[error("the delivery is archived but could not be queued for completion: {error}")]
    Queue {
        /// The step that stopped the delivery.
        stop: Stop,
        /// Why the queue did not take it.
        error: DownstreamError,
    },
}

impl Rejection {
    fn status(&self) -> StatusCode {
        match self {
            Rejection::Method => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BadBase64 | Rejection::Malformed(_) => StatusCode::BAD_REQUEST,
            Rejection::Signature(_) => StatusCode::UNAUTHORIZED,
            Rejection::Incomplete(_) | Rejection::Queue { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The fixed answer: what went wrong in a few words, never a detail of the delivery
    /// or of the downstream error (those are in the log line).
    fn reply(&self) -> Reply {
        let error = match self {
            Rejection::Method => "method not allowed: use POST",
            Rejection::TooLarge(_) => "body too large",
            Rejection::BadBase64 => "body is not valid base64",
            Rejection::Malformed(_) => "body is not a JSON object",
            Rejection::Signature(SignatureError::MissingSignature) => "missing x-webhook-signature",
            Rejection::Signature(_) => "invalid signature",
            Rejection::Incomplete(_) | Rejection::Queue { .. } => "storage or notification failed; retry the delivery",
        };
        let retryable = self.status() == StatusCode::BAD_GATEWAY;
        Reply {
            allow: matches!(self, Rejection::Method).then_some("POST"),
            ..Reply::error(self.status(), error, retryable)
        }
    }

    fn class(&self) -> Class {
        match self {
            Rejection::Method | Rejection::TooLarge(_) | Rejection::BadBase64 | Rejection::Malformed(_) => {
                Class::BadRequest
            }
            Rejection::Signature(_) => Class::SignatureFailure,
            Rejection::Incomplete(_) | Rejection::Queue { .. } => Class::DownstreamFailure,
        }
    }
}

/// How a live request ended; its [`Report`] gives the reply, the log lines and the metrics.
#[derive(Debug)]
pub enum LiveEnd {
    /// 200: stored, published and put.
    Delivered {
        /// `event` exactly as sent (its JSON text), `null` when absent.
        event: Box<RawValue>,
        /// The file objects' keys, in entry order.
        stored: Vec<String>,
        /// The archive copy's key.
        archived: String,
    },
    /// 202: durable, and queued for completion because a later step stopped.
    Queued {
        /// `event` exactly as sent, `null` when absent.
        event: Box<RawValue>,
        /// The archive copy's key.
        archived: String,
        /// The step that stopped.
        stop: Stop,
    },
    /// Ended early, with the rejection's fixed answer.
    Rejected(Rejection),
}

impl End for LiveEnd {
    fn class(&self) -> Class {
        match self {
            LiveEnd::Delivered { .. } => Class::Delivered,
            LiveEnd::Queued { .. } => Class::Queued,
            LiveEnd::Rejected(r) => r.class(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            LiveEnd::Delivered { .. } => StatusCode::OK,
            LiveEnd::Queued { .. } => StatusCode::ACCEPTED,
            LiveEnd::Rejected(r) => r.status(),
        }
    }

    fn events_failed(&self) -> usize {
        match self {
            LiveEnd::Queued { stop, .. }
            | LiveEnd::Rejected(Rejection::Incomplete(Incomplete::Durable(stop)) | Rejection::Queue { stop, .. }) => {
                events_failed(stop)
            }
            _ => 0,
        }
    }

    fn message_id(&self) -> Option<&str> {
        None
    }

    fn warn(&self) {
        match self {
            LiveEnd::Delivered { .. } => {}
            LiveEnd::Queued { stop, .. } => {
                warn!(reason = stop.reason(), error = %stop, "delivery stored in the archive and queued for completion")
            }
            LiveEnd::Rejected(r @ (Rejection::Incomplete(_) | Rejection::Queue { .. })) => {
                warn!(error = %r, "delivery not completed; the sender should retry")
            }
            LiveEnd::Rejected(r) => warn!(reason = %r, "delivery rejected"),
        }
    }
}

impl Report<LiveEnd> {
    /// The HTTP answer (docs/contract.md §5).
    pub fn reply(&self) -> Reply {
        let (status, files) = (self.end.status(), self.counts.files);
        match &self.end {
            LiveEnd::Delivered {
                event,
                stored,
                archived,
            } => Reply::json(
                status,
                &Body::Delivered {
                    event,
                    files,
                    stored,
                    archived,
                    published: self.counts.published,
                },
            ),
            LiveEnd::Queued { event, archived, .. } => Reply::json(
                status,
                &Body::Queued {
                    event,
                    files,
                    archived,
                    queued: true,
                },
            ),
            LiveEnd::Rejected(r) => r.reply(),
        }
    }
}
