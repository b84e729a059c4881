//! Hex digits, the one table for every hex the crate writes: lowercase for digests and
//! JSON `\uXXXX` escapes, uppercase for `%XX` in key components.

/// Lowercase hex digits.
pub const LOWER: &[u8; 16] = b"0123456789abcdef";
/// Uppercase hex digits.
pub const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The two digits of `byte` from `digits` (one of [`LOWER`], [`UPPER`]).
#[inline]
pub fn digits(byte: u8, digits: &[u8; 16]) -> [u8; 2] {
    [digits[usize::from(byte >> 4)], digits[usize::from(byte & 0xF)]]
}

/// Lowercase hex of bytes (SHA-256 digests, event ids).
pub fn lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        let [hi, lo] = digits(b, LOWER);
        out.push(char::from(hi));
        out.push(char::from(lo));
    }
    out
}

/// Whether `text` is `len` lowercase hex digits.
pub fn is_lower(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| LOWER.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_and_upper() {
        assert_eq!(lower(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(digits(0xe9, UPPER), *b"E9");
        assert!(is_lower("00abff", 6));
        assert!(!is_lower("00ABFF", 6));
        assert!(!is_lower("00abf", 6));
    }
}
