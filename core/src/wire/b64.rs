//! Strict base64url (RFC 4648 §5, no padding), the only encoding an Oath Token uses.
//!
//! Strict means one byte string has exactly one accepted encoding: padding, whitespace,
//! characters outside the alphabet and non-zero trailing bits are all rejected. Without the
//! last rule two different token strings could carry the same signature, which breaks any
//! cache or log keyed on the token text.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

/// Decodes unpadded, canonical base64url; `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    STRICT.decode(text).ok()
}

/// True when every byte is in the base64url alphabet (the cheap check of step 01).
pub fn is_alphabet(text: &str) -> bool {
    // A lookup table: this runs over every byte of every token.
    const TABLE: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            table[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            i += 1;
        }
        table
    };
    text.bytes().all(|b| TABLE[usize::from(b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn rejects_padding_whitespace_and_other_alphabets() {
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert!(decode("YQ==").is_none());
        assert!(decode("Y Q").is_none());
        assert!(decode("YQ\n").is_none());
        assert!(
            decode("+/8").is_none(),
            "standard alphabet is not base64url"
        );
        assert!(decode("-_8").is_some());
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "YQ" is the canonical encoding of "a"; "YR" has the same 8 data bits plus a stray 1 bit.
        assert!(decode("YR").is_none());
        // A single leftover character can never encode a whole byte.
        assert!(decode("Y").is_none());
    }

    #[test]
    fn alphabet_check() {
        assert!(is_alphabet("abcXYZ019-_"));
        assert!(!is_alphabet("a=b"));
        assert!(!is_alphabet("a+b"));
        assert!(!is_alphabet("é"));
    }
}
