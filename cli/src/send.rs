//! `send` and `sign`: deliveries signed exactly as Extracta signs them.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shared::json::{self, Kind};
use shared::sample;
use shared::signature::Secret;

use crate::SendArgs;

/// What went wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file or stdin could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Input is not what the command needs.
    #[error("{0}")]
    Invalid(String),
    /// The HTTP request failed.
    #[error("request failed: {0}")]
    Http(String),
    /// An AWS call failed.
    #[error("{0}")]
    Aws(String),
}

fn read(path: Option<&Path>) -> Result<Vec<u8>, CliError> {
    let io = |source, p: &str| CliError::Io {
        path: p.to_owned(),
        source,
    };
    match path {
        None => read_stdin(),
        Some(p) if p == Path::new("-") => read_stdin(),
        Some(p) => std::fs::read(p).map_err(|e| io(e, &p.display().to_string())),
    }
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).map_err(|source| CliError::Io {
        path: "stdin".into(),
        source,
    })?;
    Ok(buf)
}

fn secret(text: &str) -> Result<Secret, CliError> {
    Secret::new(text).map_err(|e| CliError::Invalid(format!("--secret: {e}")))
}

/// `sign`: the signature of a body's `result` member.
pub fn sign(secret_text: &str, path: Option<&Path>) -> Result<ExitCode, CliError> {
    let body = read(path)?;
    let delivery = shared::delivery::Delivery::parse(&body).map_err(|e| CliError::Invalid(e.to_string()))?;
    let result = delivery
        .result_bytes()
        .ok_or_else(|| CliError::Invalid("the body has no result member".into()))?;
    // Extracta signs JSON.stringify(result): the compact form, whatever this file looks like.
    let compact = shared::ecma::stringify(result).map_err(|e| CliError::Invalid(e.to_string()))?;
    println!("{}", secret(secret_text)?.sign(&compact));
    Ok(ExitCode::SUCCESS)
}

/// The body and its signature for `send`'s arguments.
pub fn delivery(args: &SendArgs) -> Result<(String, String), CliError> {
    let entries: Vec<String> = if args.files_from.is_empty() {
        (0..args.count)
            .map(|i| sample::entry(&args.event, i, args.entry_size))
            .collect()
    } else {
        args.files_from
            .iter()
            .map(|p| {
                let text = read(Some(p))?;
                let name = p.display();
                match json::validate(&text) {
                    Ok(v) if v.kind() == Kind::Object => {}
                    Ok(_) => return Err(CliError::Invalid(format!("{name}: a file entry must be a JSON object"))),
                    Err(e) => return Err(CliError::Invalid(format!("{name}: {e}"))),
                }
                let compact = shared::ecma::stringify(&text).map_err(|e| CliError::Invalid(format!("{name}: {e}")))?;
                String::from_utf8(compact).map_err(|_| CliError::Invalid(format!("{name}: not UTF-8")))
            })
            .collect::<Result<_, _>>()?
    };
    let mut event = Vec::new();
    json::write_string(&mut event, args.event.as_bytes());
    let event = String::from_utf8_lossy(&event);
    let result = format!("[{}]", entries.join(","));
    let signature = secret(&args.secret)?.sign(result.as_bytes());
    let body = format!(r#"{{"event":{event},"result":{result}}}"#);
    if !args.pretty {
        return Ok((body, signature));
    }
    Ok((sample::indent(&body), signature))
}

/// `send`: POSTs the delivery and prints the answer; fails unless it is a 2xx.
pub async fn run(args: SendArgs) -> Result<ExitCode, CliError> {
    let (body, signature) = delivery(&args)?;
    if args.dry_run {
        println!("x-webhook-signature: {signature}\n{body}");
        return Ok(ExitCode::SUCCESS);
    }
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| CliError::Http(format!("no TLS root certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let request = Request::post(&args.url)
        .header("content-type", "application/json")
        .header("x-webhook-signature", &signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| CliError::Invalid(format!("--url: {e}")))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| CliError::Http(format!("{}: {e:?}", args.url)))?;
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map_err(|e| CliError::Http(e.to_string()))?
        .to_bytes();
    println!("HTTP {status}\n{}", String::from_utf8_lossy(&answer));
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::delivery::{Delivery, Route};
    use shared::signature::Verifier;

    fn args(extra: &[&str]) -> SendArgs {
        use clap::Parser as _;
        let mut argv = vec![
            "webhook-cli",
            "send",
            "--url",
            "http://127.0.0.1:1/webhook",
            "--secret",
            "E_AI_K_cli-test-not-real",
        ];
        argv.extend_from_slice(extra);
        match crate::Cli::parse_from(argv).command {
            crate::Command::Send(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn made_up_deliveries_verify_and_route() {
        for pretty in [false, true] {
            let mut extra = vec!["--event", "extraction.failed", "--files", "3"];
            if pretty {
                extra.push("--pretty");
            }
            let (body, sig) = delivery(&args(&extra)).unwrap();
            let d = Delivery::parse(body.as_bytes()).unwrap();
            let verifier = Verifier::Secrets(vec![Secret::new("E_AI_K_cli-test-not-real").unwrap()]);
            assert_eq!(
                verifier.verify(Some(sig.as_bytes()), d.result_bytes()),
                Ok(()),
                "pretty={pretty}"
            );
            assert!(matches!(d.route(), Route::Files(_, e) if e.len() == 3));
        }
    }

    #[test]
    fn entry_files_must_be_objects() {
        let dir = std::env::temp_dir().join(format!("webhook-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, "{ \"fileId\": \"a\",\n \"result\": {\"n\": 1.0} }").unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "[1]").unwrap();
        let (body, _) = delivery(&args(&["--file", good.to_str().unwrap()])).unwrap();
        // Compacted exactly as JSON.stringify would.
        assert_eq!(
            body,
            r#"{"event":"extraction.confirmed","result":[{"fileId":"a","result":{"n":1}}]}"#
        );
        let err = delivery(&args(&["--file", bad.to_str().unwrap()])).unwrap_err();
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
