//! Extracta's webhook signature: base64 HMAC-SHA256 over `JSON.stringify(body.result)`.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The prefix of Extracta API keys; one leading occurrence is not part of the HMAC key.
pub const KEY_PREFIX: &str = "E_AI_K_";

/// The signature header (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";

/// At most this many signature candidates are tried per request (repeated headers and
/// comma-joined values together), so a request cannot buy unbounded HMAC work.
pub const MAX_SIGNATURE_CANDIDATES: usize = 8;

/// Why a configured secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret at all, or an empty item in a comma-separated list.
    #[error("empty secret (check for a stray comma)")]
    Empty,
}

/// One webhook secret, kept as the HMAC key it yields. Prints as `[redacted]`.
#[derive(Clone)]
pub struct Secret {
    key: hmac::Key,
}

impl Secret {
    /// A secret from its text: surrounding whitespace ignored, one leading `E_AI_K_` removed.
    pub fn new(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let key = text.strip_prefix(KEY_PREFIX).unwrap_or(text);
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        })
    }

    /// Several secrets from comma-separated text (rotation: any one may sign).
    pub fn parse_list(text: &str) -> Result<Vec<Secret>, SecretError> {
        text.split(',').map(Secret::new).collect()
    }

    /// The signature Extracta would send for these exact `result` bytes.
    pub fn sign(&self, result: &[u8]) -> String {
        STANDARD.encode(hmac::sign(&self.key, result))
    }

    /// Constant-time check of `tag` against the HMAC of `message`.
    fn matches(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.key, message, tag).is_ok()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Why a delivery is not authentic. All of them answer `401`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `x-webhook-signature` header.
    #[error("missing x-webhook-signature header")]
    MissingSignature,
    /// The header is not the base64 of a 32-byte HMAC-SHA256.
    #[error("x-webhook-signature is not a base64 HMAC-SHA256")]
    MalformedSignature,
    /// The body has no `result` member, so nothing was signed.
    #[error("body has no result member to check the signature against")]
    MissingResult,
    /// No configured secret produces this signature under either rule.
    #[error("x-webhook-signature does not match")]
    InvalidSignature,
}

/// How the function authenticates deliveries.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// Check every delivery against these secrets (at least one).
    Secrets(Vec<Secret>),
    /// Accept everything unchecked (`ALLOW_UNSIGNED=true` with no secret; development only).
    Unsigned,
}

impl Verifier {
    /// Checks one signature value against the `result` member's exact text
    /// ([`Verifier::verify_header`] with at most one header value).
    pub fn verify(&self, header: Option<&[u8]>, result: Option<&[u8]>) -> Result<(), SignatureError> {
        self.verify_header(header, result)
    }

    /// Checks the values of a request's `x-webhook-signature` headers against the
    /// `result` member's exact text: every value may carry several comma-separated
    /// signatures (a proxy may join repeated headers), the first
    /// [`MAX_SIGNATURE_CANDIDATES`] of them are tried, and any one that matches is enough.
    ///
    /// Rule (a) tries the bytes as they stand; rule (b) the ECMAScript `JSON.stringify`
    /// of the parsed value (computed once, and only when rule (a) found no match), for
    /// bodies re-formatted on the way.
    pub fn verify_header<'h>(
        &self,
        values: impl IntoIterator<Item = &'h [u8]>,
        result: Option<&[u8]>,
    ) -> Result<(), SignatureError> {
        let secrets = match self {
            Verifier::Unsigned => return Ok(()),
            Verifier::Secrets(secrets) => secrets,
        };
        let mut candidates = values
            .into_iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .take(MAX_SIGNATURE_CANDIDATES)
            .peekable();
        if candidates.peek().is_none() {
            return Err(SignatureError::MissingSignature);
        }
        let tags: Vec<[u8; 32]> = candidates.filter_map(decode_tag).collect();
        if tags.is_empty() {
            return Err(SignatureError::MalformedSignature);
        }
        let result = result.ok_or(SignatureError::MissingResult)?;
        let matches = |message: &[u8]| secrets.iter().any(|s| tags.iter().any(|tag| s.matches(message, tag)));
        if matches(result) {
            return Ok(());
        }
        match crate::ecma::stringify(result) {
            Ok(compact) if compact != result && matches(&compact) => Ok(()),
            _ => Err(SignatureError::InvalidSignature),
        }
    }
}

/// The 32 bytes of a base64 signature (padding optional, whitespace around ignored).
fn decode_tag(header: &[u8]) -> Option<[u8; 32]> {
    let text = header.trim_ascii();
    let text = text.strip_suffix(b"=").unwrap_or(text);
    let mut tag = [0u8; 32];
    match base64::engine::general_purpose::STANDARD_NO_PAD.decode_slice(text, &mut tag) {
        Ok(32) => Some(tag),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(list: &str) -> Verifier {
        Verifier::Secrets(Secret::parse_list(list).unwrap())
    }

    #[test]
    fn strips_one_leading_prefix_only() {
        let plain = Secret::new("abc").unwrap();
        assert_eq!(Secret::new("E_AI_K_abc").unwrap().sign(b"[]"), plain.sign(b"[]"));
        assert_eq!(Secret::new("  E_AI_K_abc \n").unwrap().sign(b"[]"), plain.sign(b"[]"));
        // Only a leading prefix, and only once: the rest is key.
        use ::hmac::{Hmac, KeyInit, Mac};
        let raw_key = |key: &str| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(b"[]");
            STANDARD.encode(mac.finalize().into_bytes())
        };
        assert_eq!(plain.sign(b"[]"), raw_key("abc"));
        assert_eq!(
            Secret::new("E_AI_K_E_AI_K_abc").unwrap().sign(b"[]"),
            raw_key("E_AI_K_abc")
        );
        assert_eq!(Secret::new("xE_AI_K_abc").unwrap().sign(b"[]"), raw_key("xE_AI_K_abc"));
    }

    #[test]
    fn rejects_empty_secrets() {
        assert_eq!(Secret::new("").unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::new("E_AI_K_").unwrap_err(), SecretError::Empty);
        assert!(Secret::parse_list("a,,b").is_err());
        assert_eq!(Secret::parse_list(" a , b ").unwrap().len(), 2);
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("E_AI_K_planted-marker").unwrap();
        let shown = format!("{s:?} {:?}", verifier("planted-marker"));
        assert!(!shown.contains("planted-marker"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn rule_a_exact_bytes() {
        let result = br#"[ {"a": 1.0} ]"#;
        let sig = Secret::new("k").unwrap().sign(result);
        assert_eq!(verifier("k").verify(Some(sig.as_bytes()), Some(result)), Ok(()));
    }

    #[test]
    fn rule_b_json_stringify_of_parsed_result() {
        // GIVEN Extracta signed the compact form, WHEN a proxy re-indented the body
        let sig = Secret::new("k").unwrap().sign(br#"[{"a":1}]"#);
        // THEN the re-serialization matches even though the bytes differ.
        assert_eq!(
            verifier("k").verify(Some(sig.as_bytes()), Some(b"[ {\n  \"a\": 1.0\n} ]")),
            Ok(())
        );
    }

    #[test]
    fn rotation_any_secret_matches() {
        let sig = Secret::new("old").unwrap().sign(b"[]");
        assert_eq!(verifier("new, old").verify(Some(sig.as_bytes()), Some(b"[]")), Ok(()));
        assert_eq!(
            verifier("new").verify(Some(sig.as_bytes()), Some(b"[]")),
            Err(SignatureError::InvalidSignature)
        );
    }

    #[test]
    fn one_error_per_failure_mode() {
        let v = verifier("k");
        let good = Secret::new("k").unwrap().sign(b"[]");
        assert_eq!(v.verify(None, Some(b"[]")), Err(SignatureError::MissingSignature));
        assert_eq!(
            v.verify(Some(b"not base64!"), Some(b"[]")),
            Err(SignatureError::MalformedSignature)
        );
        assert_eq!(
            v.verify(Some(b"c2hvcnQ="), Some(b"[]")),
            Err(SignatureError::MalformedSignature)
        );
        assert_eq!(
            v.verify(Some(good.as_bytes()), None),
            Err(SignatureError::MissingResult)
        );
        assert_eq!(
            v.verify(Some(good.as_bytes()), Some(b"[1]")),
            Err(SignatureError::InvalidSignature)
        );
        // A signature for other bytes, truncated, or with one bit flipped.
        let other = Secret::new("k").unwrap().sign(b"[2]");
        assert_eq!(
            v.verify(Some(other.as_bytes()), Some(b"[]")),
            Err(SignatureError::InvalidSignature)
        );
        assert_eq!(
            v.verify(Some(&good.as_bytes()[..40]), Some(b"[]")),
            Err(SignatureError::MalformedSignature)
        );
        let mut flipped = STANDARD.decode(&good).unwrap();
        flipped[31] ^= 1;
        let flipped = STANDARD.encode(flipped);
        assert_eq!(
            v.verify(Some(flipped.as_bytes()), Some(b"[]")),
            Err(SignatureError::InvalidSignature)
        );
        // Unpadded and whitespace-wrapped forms of the right tag are still the right tag.
        assert_eq!(
            v.verify(
                Some(format!(" {} ", good.trim_end_matches('=')).as_bytes()),
                Some(b"[]")
            ),
            Ok(())
        );
    }

    #[test]
    fn header_policy_splits_values_and_bounds_candidates() {
        let v = verifier("k");
        let good = Secret::new("k").unwrap().sign(b"[]");
        let bad = Secret::new("other").unwrap().sign(b"[]");
        // Repeated headers, and values joined with commas (spaces around are ignored).
        assert_eq!(v.verify_header([bad.as_bytes(), good.as_bytes()], Some(b"[]")), Ok(()));
        let joined = format!("{bad}, {good}");
        assert_eq!(v.verify_header([joined.as_bytes()], Some(b"[]")), Ok(()));
        // Rule (b) holds for any candidate too.
        let pretty: &[u8] = b"[ ]";
        assert_eq!(v.verify_header([bad.as_bytes(), good.as_bytes()], Some(pretty)), Ok(()));
        // The ninth candidate is never tried.
        let eight_bad = [bad.as_str(); MAX_SIGNATURE_CANDIDATES].join(",");
        assert_eq!(
            v.verify_header([eight_bad.as_bytes(), good.as_bytes()], Some(b"[]")),
            Err(SignatureError::InvalidSignature)
        );
        let seven_bad = [bad.as_str(); MAX_SIGNATURE_CANDIDATES - 1].join(",");
        assert_eq!(
            v.verify_header([seven_bad.as_bytes(), good.as_bytes()], Some(b"[]")),
            Ok(())
        );
        // No value at all is a missing signature; only unusable values are malformed.
        assert_eq!(
            v.verify_header(std::iter::empty(), Some(b"[]")),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            v.verify_header([&b""[..], b"x,y"], Some(b"[]")),
            Err(SignatureError::MalformedSignature)
        );
        assert_eq!(
            v.verify_header([&b"x"[..], bad.as_bytes()], Some(b"[]")),
            Err(SignatureError::InvalidSignature)
        );
    }

    #[test]
    fn unsigned_accepts_anything() {
        assert_eq!(Verifier::Unsigned.verify(None, None), Ok(()));
    }
}
