//! The webhook secrets in use, and their re-reading after a rotation (docs/contract.md §2).
//!
//! With `EXTRACTA_WEBHOOK_SECRET_ARN`, a signature that matches none of the loaded secrets
//! may have been made with a secret the process has not read yet. The handler then asks
//! [`Keys::reread`], which reads the secret again only when the last read is at least the
//! refresh interval old (30 s by default): however many forged requests arrive, a process
//! reads Secrets Manager at most once per interval.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use shared::signature::{Secret, Verifier};
use tracing::{info, warn};

/// Reads the secret's current text (Secrets Manager's `SecretString` in production).
pub type ReadSecret = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// The verifier in use, and how to refresh it.
pub struct Keys {
    verifier: RwLock<Arc<Verifier>>,
    refresh: Option<Refresh>,
}

struct Refresh {
    read: ReadSecret,
    interval: Duration,
    state: Mutex<State>,
}

/// The last read: when, and what it said (to tell whether a new read changed anything).
struct State {
    at: Instant,
    text: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("verifier", &self.current())
            .field("refreshes", &self.refresh.as_ref().map(|r| r.interval))
            .finish()
    }
}

impl Keys {
    /// Secrets that never change (`EXTRACTA_WEBHOOK_SECRET`, or unsigned development).
    pub fn fixed(verifier: Verifier) -> Keys {
        Keys {
            verifier: RwLock::new(Arc::new(verifier)),
            refresh: None,
        }
    }

    /// Secrets read just now as `text`, read again through `read` at most once per
    /// `interval` after a mismatch.
    pub fn rereadable(text: String, read: ReadSecret, interval: Duration) -> Result<Keys, String> {
        let secrets = parse(&text)?;
        Ok(Keys {
            verifier: RwLock::new(Arc::new(Verifier::Secrets(secrets))),
            refresh: Some(Refresh {
                read,
                interval,
                state: Mutex::new(State {
                    at: Instant::now(),
                    text,
                }),
            }),
        })
    }

    /// The verifier to check a request with.
    pub fn current(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// After a mismatch: reads the secret again if the last read is at least an interval
    /// old, and returns the new verifier if the secret changed. A failed read keeps the
    /// current secrets (and still counts as a read).
    pub async fn reread(&self) -> Option<Arc<Verifier>> {
        let refresh = self.refresh.as_ref()?;
        {
            let mut state = refresh.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.at.elapsed() < refresh.interval {
                return None;
            }
            state.at = Instant::now();
        }
        let text = match (refresh.read)().await {
            Ok(text) => text,
            Err(e) => {
                warn!(error = %e, "re-reading the webhook secret failed; the loaded secrets stay in use");
                return None;
            }
        };
        let secrets = {
            let mut state = refresh.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.text == text {
                return None;
            }
            let secrets = match parse(&text) {
                Ok(secrets) => secrets,
                Err(e) => {
                    warn!(error = %e, "the webhook secret read again is unusable; the loaded secrets stay in use");
                    return None;
                }
            };
            state.text = text;
            secrets
        };
        info!(
            secrets = secrets.len(),
            "the webhook secret changed; now using the new one"
        );
        let verifier = Arc::new(Verifier::Secrets(secrets));
        *self.verifier.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&verifier);
        Some(verifier)
    }
}

fn parse(text: &str) -> Result<Vec<Secret>, String> {
    Secret::parse_list(text).map_err(|_| "its SecretString contains an empty secret".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A secret store whose text the test changes, counting reads.
    fn store(text: &Arc<Mutex<String>>, reads: &Arc<AtomicUsize>) -> ReadSecret {
        let (text, reads) = (Arc::clone(text), Arc::clone(reads));
        Box::new(move || {
            reads.fetch_add(1, Ordering::SeqCst);
            let now = text.lock().unwrap().clone();
            Box::pin(async move { Ok(now) })
        })
    }

    fn accepts(v: &Verifier, secret: &str) -> bool {
        let sig = Secret::new(secret).unwrap().sign(b"[]");
        v.verify(Some(sig.as_bytes()), Some(b"[]")).is_ok()
    }

    #[tokio::test]
    async fn a_rotated_secret_is_picked_up_at_most_once_per_interval() {
        let text = Arc::new(Mutex::new("old".to_owned()));
        let reads = Arc::new(AtomicUsize::new(0));
        let interval = Duration::from_millis(200);
        let keys = Keys::rereadable("old".into(), store(&text, &reads), interval).unwrap();
        *text.lock().unwrap() = "new,old".into();
        // Within the interval of the start-up read, a mismatch reads nothing.
        for _ in 0..100 {
            assert!(keys.reread().await.is_none());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        tokio::time::sleep(interval).await;
        let v = keys.reread().await.expect("the new secret");
        assert!(accepts(&v, "new") && accepts(&v, "old"));
        assert!(accepts(&keys.current(), "new"));
        // A flood right after: no further read until the next interval.
        for _ in 0..100 {
            assert!(keys.reread().await.is_none());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // An unchanged secret read again changes nothing.
        tokio::time::sleep(interval).await;
        assert!(keys.reread().await.is_none());
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failed_or_unusable_reads_keep_the_loaded_secrets() {
        let text = Arc::new(Mutex::new("a,,b".to_owned()));
        let reads = Arc::new(AtomicUsize::new(0));
        let keys = Keys::rereadable("old".into(), store(&text, &reads), Duration::ZERO).unwrap();
        assert!(keys.reread().await.is_none());
        assert!(accepts(&keys.current(), "old"));
        let failing: ReadSecret = Box::new(|| Box::pin(async { Err("unreachable".to_owned()) }));
        let keys = Keys::rereadable("old".into(), failing, Duration::ZERO).unwrap();
        assert!(keys.reread().await.is_none());
        assert!(accepts(&keys.current(), "old"));
        assert!(Keys::fixed(Verifier::Unsigned).reread().await.is_none());
        assert!(!format!("{keys:?}").contains("old"));
    }
}
