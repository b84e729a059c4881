//! `webhook-cli`: send signed test webhooks, show what landed, replay archived deliveries,
//! erase an extraction, batch or file.
#![forbid(unsafe_code)]

mod aws;
mod erase;
mod replay;
mod send;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tools for the Extracta.ai webhook receiver, locally or against a deployed stack.
#[derive(Debug, Parser)]
#[command(name = "webhook-cli", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// POST a delivery signed exactly as Extracta signs it.
    Send(SendArgs),
    /// Print the signature of a delivery body (read from a file or stdin).
    Sign {
        /// The webhook secret (`E_AI_K_...`); or set EXTRACTA_WEBHOOK_SECRET.
        #[arg(long, env = "EXTRACTA_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// The body file; `-` or nothing reads stdin.
        body: Option<PathBuf>,
    },
    /// List the objects in the results bucket and drain the SQS queues subscribed to the topics.
    Show(show::ShowArgs),
    /// Re-drive archived deliveries (`{prefix}_deliveries/...`) through the function's routing.
    Replay(replay::ReplayArgs),
    /// Erase an extraction, a batch or one file: file objects deleted, archive copies redacted.
    Erase(erase::EraseArgs),
}

/// Arguments of `send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The webhook URL (local stack, API Gateway, Function URL).
    #[arg(long)]
    url: String,
    /// The event name, e.g. extraction.confirmed.
    #[arg(long, default_value = "extraction.confirmed")]
    event: String,
    /// The webhook secret (`E_AI_K_...`); or set EXTRACTA_WEBHOOK_SECRET.
    #[arg(long, env = "EXTRACTA_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// A file entry (JSON object) to send; repeat for several. Overrides --files.
    #[arg(long = "file")]
    files_from: Vec<PathBuf>,
    /// How many made-up file entries to send when no --file is given.
    #[arg(long = "files", default_value_t = 1)]
    count: usize,
    /// Approximate size in bytes of each made-up entry.
    #[arg(long, default_value_t = 2_000)]
    entry_size: usize,
    /// Send the body pretty-printed (exercises the signature's re-serialization rule).
    #[arg(long)]
    pretty: bool,
    /// Print the body and signature instead of sending.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("webhook-cli: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Send(args) => send::run(args).await,
            Command::Sign { secret, body } => send::sign(&secret, body.as_deref()),
            Command::Show(args) => show::run(args).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Erase(args) => erase::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("webhook-cli: {e}");
            ExitCode::FAILURE
        }
    }
}
