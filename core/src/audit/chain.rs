//! The audit HMAC chain (PROTOCOL §8): every line written by a chained output carries
//! `seq` (1, 2, ...), `prev_hash` (hex SHA-256 of the previous line's bytes, 64 zeros for the
//! first) and `hmac` (hex HMAC-SHA256 under the audit key). Altering a line breaks its
//! `hmac`; removing or reordering lines breaks `seq` and `prev_hash`.
//!
//! The MAC covers the exact bytes of the line up to (not including) `,"hmac":`, so checking
//! never depends on how a JSON library would re-serialise the event.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Smallest accepted key.
pub const MIN_KEY_BYTES: usize = 16;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// `,"hmac":"` + 64 hex digits + `"}`.
const HMAC_SUFFIX_LEN: usize = 9 + 64 + 2;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Checks an audit key.
pub fn check_key(key: &[u8]) -> Result<(), String> {
    if key.len() < MIN_KEY_BYTES {
        return Err(format!(
            "the audit HMAC key must be at least {MIN_KEY_BYTES} bytes"
        ));
    }
    Ok(())
}

/// Reads a key file: its bytes, less one trailing newline (editors add one).
pub fn read_key_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut key = std::fs::read(path)?;
    if key.ends_with(b"\n") {
        key.pop();
        if key.ends_with(b"\r") {
            key.pop();
        }
    }
    Ok(key)
}

/// The writer's side of the chain.
pub struct HmacChain {
    key: Vec<u8>,
    next_seq: u64,
    prev_hash: String,
}

impl std::fmt::Debug for HmacChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("HmacChain")
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl HmacChain {
    /// A new chain.
    pub fn new(key: Vec<u8>) -> HmacChain {
        HmacChain {
            key,
            next_seq: 1,
            prev_hash: GENESIS.to_owned(),
        }
    }

    /// Continues the chain whose last line is `last_line` (appending to an existing log).
    pub fn resume(key: Vec<u8>, last_line: &str) -> Result<HmacChain, String> {
        let value: serde_json::Value =
            serde_json::from_str(last_line).map_err(|_| "the last line is not JSON".to_owned())?;
        let seq = value
            .get("seq")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| "the last line has no `seq`: the log is not HMAC-chained".to_owned())?;
        Ok(HmacChain {
            key,
            next_seq: seq + 1,
            prev_hash: hex(&Sha256::digest(last_line.as_bytes())),
        })
    }

    /// Seals one JSON object line (`{...}`, no newline) into the next chained line.
    pub fn seal(&mut self, object_line: &str) -> String {
        let body = object_line
            .strip_suffix('}')
            .expect("audit lines are JSON objects");
        let separator = if body.ends_with('{') { "" } else { "," };
        let unsigned = format!(
            "{body}{separator}\"seq\":{},\"prev_hash\":\"{}\"",
            self.next_seq, self.prev_hash
        );
        let mut m = mac(&self.key);
        m.update(unsigned.as_bytes());
        let sealed = format!(
            "{unsigned},\"hmac\":\"{}\"}}",
            hex(&m.finalize().into_bytes())
        );
        self.next_seq += 1;
        self.prev_hash = hex(&Sha256::digest(sealed.as_bytes()));
        sealed
    }
}

/// Where and why a log fails verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// 1-based line number in the file.
    pub line: usize,
    pub reason: String,
}

/// Checks a whole chained log. Returns the number of events on success.
pub fn verify_log(key: &[u8], text: &str) -> Result<u64, ChainBreak> {
    let mut expected_seq = 1u64;
    let mut prev_hash = GENESIS.to_owned();
    if text.is_empty() {
        return Ok(0);
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let count = if text.ends_with('\n') {
        lines.len() - 1
    } else {
        lines.len()
    };
    for (index, line) in lines.iter().take(count).enumerate() {
        let at = |reason: String| ChainBreak {
            line: index + 1,
            reason,
        };
        if line.len() < HMAC_SUFFIX_LEN + 2 || !line.is_char_boundary(line.len() - HMAC_SUFFIX_LEN)
        {
            return Err(at("not a chained audit event (no hmac)".into()));
        }
        let (unsigned, suffix) = line.split_at(line.len() - HMAC_SUFFIX_LEN);
        let Some(tag_hex) = suffix
            .strip_prefix(",\"hmac\":\"")
            .and_then(|s| s.strip_suffix("\"}"))
        else {
            return Err(at("not a chained audit event (no hmac)".into()));
        };
        let Some(tag) = unhex(tag_hex) else {
            return Err(at("the hmac is not 64 hex digits".into()));
        };
        let mut m = mac(key);
        m.update(unsigned.as_bytes());
        if m.verify_slice(&tag).is_err() {
            return Err(at(
                "hmac mismatch: the line was altered (or the key is wrong)".into(),
            ));
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|_| at("the line is not valid JSON".into()))?;
        let seq = value.get("seq").and_then(serde_json::Value::as_u64);
        if seq != Some(expected_seq) {
            return Err(at(format!(
                "seq is {} where {expected_seq} was expected: lines are missing or reordered before this one",
                seq.map_or("absent".to_owned(), |s| s.to_string())
            )));
        }
        if value.get("prev_hash").and_then(serde_json::Value::as_str) != Some(prev_hash.as_str()) {
            return Err(at(
                "prev_hash does not match the previous line: a line before this one was replaced"
                    .into(),
            ));
        }
        prev_hash = hex(&Sha256::digest(line.as_bytes()));
        expected_seq += 1;
    }
    Ok(expected_seq - 1)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123";

    fn log(n: usize) -> Vec<String> {
        let mut chain = HmacChain::new(KEY.to_vec());
        (0..n)
            .map(|i| chain.seal(&format!("{{\"event\":\"oathmesh.verify\",\"i\":{i}}}")))
            .collect()
    }

    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn an_intact_log_verifies() {
        let lines = log(5);
        assert_eq!(verify_log(KEY, &text(&lines)), Ok(5));
        assert_eq!(verify_log(KEY, ""), Ok(0));
        let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(v["seq"], 2);
        assert_eq!(v["i"], 1);
    }

    #[test]
    fn tampering_is_found_at_the_first_bad_line() {
        let lines = log(5);
        let mut altered = lines.clone();
        altered[2] = altered[2].replace("\"i\":2", "\"i\":9");
        assert_eq!(verify_log(KEY, &text(&altered)).unwrap_err().line, 3);

        let mut missing = lines.clone();
        missing.remove(3);
        let err = verify_log(KEY, &text(&missing)).unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.reason.contains("missing"), "{}", err.reason);

        let mut swapped = lines.clone();
        swapped.swap(0, 1);
        assert_eq!(verify_log(KEY, &text(&swapped)).unwrap_err().line, 1);

        assert_eq!(
            verify_log(b"another key of 16+ bytes", &text(&lines))
                .unwrap_err()
                .line,
            1
        );
        let mut junk = lines.clone();
        junk.insert(1, "not json".into());
        assert_eq!(verify_log(KEY, &text(&junk)).unwrap_err().line, 2);
    }

    #[test]
    fn resuming_continues_the_same_chain() {
        let lines = log(2);
        let mut chain = HmacChain::resume(KEY.to_vec(), &lines[1]).unwrap();
        let mut all = lines.clone();
        all.push(chain.seal("{\"event\":\"x\"}"));
        assert_eq!(verify_log(KEY, &text(&all)), Ok(3));
        assert!(HmacChain::resume(KEY.to_vec(), "{\"event\":\"x\"}").is_err());
    }
}
