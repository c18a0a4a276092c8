//! The audit HMAC chain (PROTOCOL §8): every line written by a chained output carries
//! `seq` (1, 2, ...), `prev_hash` (hex SHA-256 of the previous line's bytes, 64 zeros for the
//! first) and `hmac` (hex HMAC-SHA256 under the audit key). Altering a line breaks its
//! `hmac`; removing or reordering lines breaks `seq` and `prev_hash`.
//!
//! The MAC covers the exact bytes of the line up to (not including) `,"hmac":`, so checking
//! never depends on how a JSON library would re-serialise the event.
//!
//! A chain outlives one file and one process: when a writer continues a chain (a restart, a
//! rotation, a truncated or quarantined file) it first writes a *segment header*, an
//! ordinary chained line with `"event":"oathmesh.audit_segment"`, whose `seq` and
//! `prev_hash` link it to the last line of the previous segment. See docs/audit.md for
//! what this proves and what it does not.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Smallest accepted key.
pub const MIN_KEY_BYTES: usize = 16;
/// `prev_hash` of the first line of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// `,"hmac":"` + 64 hex digits + `"}`.
const HMAC_SUFFIX_LEN: usize = 9 + 64 + 2;
/// The `event` of a segment header line.
pub const SEGMENT_EVENT: &str = "oathmesh.audit_segment";
/// The `event` of a line that records events lost before it (queue full, write failed).
pub const GAP_EVENT: &str = "oathmesh.audit_gap";
/// No audit line is longer than this: every audited field is bounded (see `sinks`), so a
/// longer line is damage, never an event.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a line's bytes: the next line's `prev_hash`.
pub fn line_hash(line: &str) -> String {
    hex(&Sha256::digest(line.as_bytes()))
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

/// Reads a key file: its bytes, less one trailing newline (editors add one). A key file that
/// its group or other users can read is refused (anyone who reads the key can forge the log),
/// with the `chmod` that fixes it.
pub fn read_key_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    read_key_file_checked(path, false)
}

/// [`read_key_file`]; `allow_readable` skips the permission check (an explicit setting).
pub fn read_key_file_checked(
    path: &std::path::Path,
    allow_readable: bool,
) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    #[cfg(unix)]
    if !allow_readable {
        use std::os::unix::fs::PermissionsExt;
        // The mode of the file actually opened (a symlinked secret is checked at its target).
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "the key file is readable by its group or other users (mode {mode:04o}); run `chmod 600 {}`",
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = allow_readable;
    let mut key = Vec::new();
    file.read_to_end(&mut key)?;
    if key.ends_with(b"\n") {
        key.pop();
        if key.ends_with(b"\r") {
            key.pop();
        }
    }
    Ok(key)
}

/// A line that verified: its `seq`, its `prev_hash` and its parsed JSON.
#[derive(Debug, Clone)]
pub struct CheckedLine {
    pub seq: u64,
    pub prev_hash: String,
    pub value: serde_json::Value,
}

impl CheckedLine {
    /// The `event` member (`oathmesh.verify`, a segment header, ...).
    pub fn event(&self) -> &str {
        self.value
            .get("event")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    }

    pub fn is_segment_header(&self) -> bool {
        self.event() == SEGMENT_EVENT
    }
}

/// Checks one line's HMAC and shape, nothing about its neighbours.
pub fn check_line(key: &[u8], line: &str) -> Result<CheckedLine, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "the line is longer than {MAX_LINE_BYTES} bytes: damaged, not an audit event"
        ));
    }
    if line.len() < HMAC_SUFFIX_LEN + 2 || !line.is_char_boundary(line.len() - HMAC_SUFFIX_LEN) {
        return Err("not a chained audit event (no hmac)".into());
    }
    let (unsigned, suffix) = line.split_at(line.len() - HMAC_SUFFIX_LEN);
    let Some(tag_hex) = suffix
        .strip_prefix(",\"hmac\":\"")
        .and_then(|s| s.strip_suffix("\"}"))
    else {
        return Err("not a chained audit event (no hmac)".into());
    };
    let Some(tag) = unhex(tag_hex) else {
        return Err("the hmac is not 64 hex digits".into());
    };
    let mut m = mac(key);
    m.update(unsigned.as_bytes());
    if m.verify_slice(&tag).is_err() {
        return Err("hmac mismatch: the line was altered (or the key is wrong)".into());
    }
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|_| "the line is not valid JSON".to_owned())?;
    let seq = value
        .get("seq")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| "the line has no `seq`".to_owned())?;
    let prev_hash = value
        .get("prev_hash")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "the line has no `prev_hash`".to_owned())?
        .to_owned();
    Ok(CheckedLine {
        seq,
        prev_hash,
        value,
    })
}

/// The writer's side of the chain.
#[derive(Clone)]
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
    /// The line must verify under `key`: a forged or damaged last line is never trusted.
    pub fn resume(key: Vec<u8>, last_line: &str) -> Result<HmacChain, String> {
        let checked = check_line(&key, last_line).map_err(|reason| {
            if serde_json::from_str::<serde_json::Value>(last_line)
                .is_ok_and(|v| v.get("hmac").is_none())
            {
                "the last line has no `hmac`: the log is not HMAC-chained".to_owned()
            } else {
                format!("the last line does not verify: {reason}")
            }
        })?;
        Ok(HmacChain {
            key,
            next_seq: checked.seq + 1,
            prev_hash: line_hash(last_line),
        })
    }

    /// Continues after a line known by its `seq` and hash (the writer's own record).
    pub fn continue_from(key: Vec<u8>, seq: u64, hash: String) -> HmacChain {
        HmacChain {
            key,
            next_seq: seq + 1,
            prev_hash: hash,
        }
    }

    /// The `seq` the next line gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The `prev_hash` the next line gets.
    pub fn prev_hash(&self) -> &str {
        &self.prev_hash
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
        self.prev_hash = line_hash(&sealed);
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

/// One segment of a checked log: where it starts and what it links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// 1-based line number of its first line.
    pub line: usize,
    /// `seq` of its first line.
    pub first_seq: u64,
    /// `genesis` (the chain's first line), or the header's `reason` (`restart`, `rotate`, `reopen`, `truncated`,
    /// `quarantine`, `start`).
    pub reason: String,
    /// The `prev_hash` it links to (the previous segment's last line).
    pub links_to: String,
    /// False when the segment begins a new chain that is not linked to anything before it
    /// (standard output at a process start, a quarantine that found no good line).
    pub linked: bool,
    /// The header's `detail`, if any.
    pub detail: Option<String>,
}

/// What a checked log contains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogReport {
    /// Lines that are events (verifications and ops events), not segment headers or gaps.
    pub events: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Hash of the last line: the `prev_hash` the next line must carry.
    pub last_hash: String,
    pub segments: Vec<Segment>,
    /// Events the writer recorded as lost (gap lines), and the line of each gap.
    pub lost: u64,
    pub gap_lines: Vec<usize>,
    /// The final line had no newline: a partial write (crash, full disk). It is not
    /// counted and not trusted.
    pub partial_last_line: bool,
}

/// How a log is compared with an outside record.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// The log must end at this `seq`.
    pub last_seq: Option<u64>,
    /// A checkpoint (`seq`, optionally the hash of that line) the log must continue from:
    /// the line is in the log, or the log's first line links to it.
    pub since: Option<(u64, Option<String>)>,
    /// The chain state the first line must link to (the previous file's last line).
    pub links_from: Option<(u64, String)>,
}

/// Checks a chained log (one or more files' bytes, already concatenated is not allowed: see
/// [`verify_files`]). Strict: a line that is not UTF-8 is an error, never decoded lossily.
pub fn verify_bytes(
    key: &[u8],
    bytes: &[u8],
    expect: &Expectations,
) -> Result<LogReport, ChainBreak> {
    let mut report = LogReport::default();
    if bytes.is_empty() {
        return Err(ChainBreak {
            line: 0,
            reason: "the log is empty: an empty log proves nothing".into(),
        });
    }
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    } else {
        // The final line was cut short: checked for being a partial write, not trusted.
        lines.pop();
        report.partial_last_line = true;
    }
    let mut prev: Option<(u64, String)> = expect.links_from.clone();
    let mut since_seen = false;
    for (index, raw) in lines.iter().enumerate() {
        let number = index + 1;
        let at = |reason: String| ChainBreak {
            line: number,
            reason,
        };
        let line = std::str::from_utf8(raw).map_err(|e| {
            at(format!(
                "the line is not UTF-8 (byte {}): altered",
                e.valid_up_to() + 1
            ))
        })?;
        let checked = check_line(key, line).map_err(at)?;
        let header = checked.is_segment_header();
        let reason = |c: &CheckedLine| {
            c.value
                .get("reason")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("header")
                .to_owned()
        };
        let detail = checked
            .value
            .get("detail")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        match &prev {
            None => {
                let reason = if checked.seq == 1 && checked.prev_hash == GENESIS {
                    if header {
                        reason(&checked)
                    } else {
                        "genesis".into()
                    }
                } else if header {
                    reason(&checked)
                } else {
                    // Writers start every file after the first with a header, so a log
                    // that begins mid-chain without one lost its first lines.
                    return Err(at(format!(
                        "the log starts at seq {} without a segment header: lines before this one were removed",
                        checked.seq
                    )));
                };
                report.first_seq = checked.seq;
                report.segments.push(Segment {
                    line: number,
                    first_seq: checked.seq,
                    reason,
                    links_to: checked.prev_hash.clone(),
                    linked: checked.seq > 1,
                    detail,
                });
            }
            Some((prev_seq, prev_hash)) => {
                let new_chain = header && checked.seq == 1 && checked.prev_hash == GENESIS;
                if new_chain {
                    // A new, unlinked chain (standard output at a process start): reported,
                    // never silently joined to the one before.
                    report.segments.push(Segment {
                        line: number,
                        first_seq: 1,
                        reason: reason(&checked),
                        links_to: GENESIS.into(),
                        linked: false,
                        detail,
                    });
                } else {
                    if checked.seq != prev_seq + 1 {
                        return Err(at(format!(
                            "seq is {} where {} was expected: lines are missing or reordered before this one",
                            checked.seq,
                            prev_seq + 1
                        )));
                    }
                    if &checked.prev_hash != prev_hash {
                        return Err(at(
                            "prev_hash does not match the previous line: a line before this one was replaced"
                                .into(),
                        ));
                    }
                    if header {
                        report.segments.push(Segment {
                            line: number,
                            first_seq: checked.seq,
                            reason: reason(&checked),
                            links_to: checked.prev_hash.clone(),
                            linked: true,
                            detail,
                        });
                    }
                }
            }
        }
        if let Some((since_seq, since_hash)) = &expect.since {
            let links_here = checked.seq == since_seq + 1
                && since_hash.as_ref().is_none_or(|h| *h == checked.prev_hash)
                && index == 0;
            let is_here = checked.seq == *since_seq
                && since_hash.as_ref().is_none_or(|h| *h == line_hash(line));
            if links_here || is_here {
                since_seen = true;
            }
        }
        if checked.event() == GAP_EVENT {
            report.lost += checked
                .value
                .get("lost")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            report.gap_lines.push(number);
        } else if !header {
            report.events += 1;
        }
        report.last_seq = checked.seq;
        report.last_hash = line_hash(line);
        prev = Some((checked.seq, report.last_hash.clone()));
    }
    if lines.is_empty() {
        return Err(ChainBreak {
            line: 1,
            reason: "the log holds only a partial line: no event verifies".into(),
        });
    }
    let end = lines.len();
    if let Some((since_seq, since_hash)) = &expect.since
        && !since_seen
    {
        return Err(ChainBreak {
            line: end,
            reason: format!(
                "the checkpoint seq {since_seq}{} is not in this log: the log was replaced or cut before it",
                since_hash
                    .as_ref()
                    .map_or(String::new(), |h| format!(" (hash {h})"))
            ),
        });
    }
    if let Some(expected) = expect.last_seq
        && expected != report.last_seq
    {
        return Err(ChainBreak {
            line: end,
            reason: if report.last_seq < expected {
                format!(
                    "the log ends at seq {} where {expected} was expected: lines were cut from the end",
                    report.last_seq
                )
            } else {
                format!(
                    "the log ends at seq {} where {expected} was expected: it holds more lines than the outside record",
                    report.last_seq
                )
            },
        });
    }
    Ok(report)
}

/// Checks a whole chained log held as text; returns the number of events. An empty log is
/// an error. (Kept for callers of the first version; [`verify_bytes`] reports more.)
pub fn verify_log(key: &[u8], text: &str) -> Result<u64, ChainBreak> {
    verify_bytes(key, text.as_bytes(), &Expectations::default()).map(|r| r.events)
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
        let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(v["seq"], 2);
        assert_eq!(v["i"], 1);
        let report = verify_bytes(KEY, text(&lines).as_bytes(), &Expectations::default()).unwrap();
        assert_eq!((report.first_seq, report.last_seq), (1, 5));
        assert_eq!(report.segments.len(), 1);
        assert_eq!(report.segments[0].reason, "genesis");
        assert_eq!(report.last_hash, line_hash(&lines[4]));
    }

    #[test]
    fn an_empty_log_is_not_ok() {
        let err = verify_log(KEY, "").unwrap_err();
        assert!(err.reason.contains("empty"), "{}", err.reason);
    }

    #[test]
    fn non_utf8_bytes_are_an_error_not_lossy() {
        let lines = log(2);
        let mut bytes = text(&lines).into_bytes();
        // Replace one byte of the first line's `event` with an invalid UTF-8 byte.
        let at = bytes.iter().position(|b| *b == b'v').unwrap();
        bytes[at] = 0xff;
        let err = verify_bytes(KEY, &bytes, &Expectations::default()).unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.reason.contains("not UTF-8"), "{}", err.reason);
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

    #[test]
    fn resuming_refuses_a_last_line_that_does_not_verify() {
        // The old resume trusted the last line's `seq` without its HMAC: an attacker could
        // append `{"seq":5}`-shaped junk and have the writer continue from it.
        let lines = log(2);
        let forged = lines[1].replace("\"i\":1", "\"i\":7");
        let err = HmacChain::resume(KEY.to_vec(), &forged).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        assert!(HmacChain::resume(b"some other key 123".to_vec(), &lines[1]).is_err());
    }

    #[test]
    fn expectations_catch_a_cut_tail_and_a_replaced_log() {
        let lines = log(5);
        // Events 4-5 dropped: the chain itself is intact, the outside record is not.
        let cut = text(&lines[..3]);
        let expect = Expectations {
            last_seq: Some(5),
            ..Expectations::default()
        };
        let err = verify_bytes(KEY, cut.as_bytes(), &expect).unwrap_err();
        assert!(err.reason.contains("cut from the end"), "{}", err.reason);
        // A checkpoint taken at seq 2 is found in the original, not in another run's log.
        let since = Expectations {
            since: Some((2, Some(line_hash(&lines[1])))),
            ..Expectations::default()
        };
        assert!(verify_bytes(KEY, text(&lines).as_bytes(), &since).is_ok());
        let other = log(5)
            .iter()
            .map(|l| l.replace("\"i\":", "\"j\":"))
            .collect::<Vec<_>>();
        let mut other_chain = HmacChain::new(KEY.to_vec());
        let other: Vec<String> = other
            .iter()
            .map(|l| {
                let body = &l[..l.find(",\"seq\"").unwrap()];
                other_chain.seal(&format!("{body}}}"))
            })
            .collect();
        let err = verify_bytes(KEY, text(&other).as_bytes(), &since).unwrap_err();
        assert!(err.reason.contains("checkpoint"), "{}", err.reason);
    }

    #[test]
    fn a_partial_last_line_is_reported_not_called_tampering() {
        let lines = log(3);
        let mut bytes = text(&lines).into_bytes();
        bytes.extend_from_slice(&lines[0].as_bytes()[..40]);
        let report = verify_bytes(KEY, &bytes, &Expectations::default()).unwrap();
        assert!(report.partial_last_line);
        assert_eq!(report.events, 3);
    }

    #[test]
    fn segment_headers_link_and_are_not_counted_as_events() {
        let mut chain = HmacChain::new(KEY.to_vec());
        let mut lines: Vec<String> = (0..2)
            .map(|i| chain.seal(&format!("{{\"event\":\"oathmesh.verify\",\"i\":{i}}}")))
            .collect();
        lines.push(chain.seal(&format!(
            "{{\"event\":\"{SEGMENT_EVENT}\",\"reason\":\"restart\"}}"
        )));
        lines.push(chain.seal("{\"event\":\"oathmesh.verify\",\"i\":2}"));
        let report = verify_bytes(KEY, text(&lines).as_bytes(), &Expectations::default()).unwrap();
        assert_eq!(report.events, 3);
        assert_eq!(report.segments.len(), 2);
        assert_eq!(report.segments[1].reason, "restart");
        assert_eq!(report.segments[1].first_seq, 3);
        assert_eq!(report.segments[1].links_to, line_hash(&lines[1]));
        // The second file alone starts mid-chain; given the first file's end it links.
        let second = text(&lines[2..]);
        let alone = verify_bytes(KEY, second.as_bytes(), &Expectations::default()).unwrap();
        assert_eq!(alone.first_seq, 3);
        let linked = Expectations {
            links_from: Some((2, line_hash(&lines[1]))),
            ..Expectations::default()
        };
        assert!(verify_bytes(KEY, second.as_bytes(), &linked).is_ok());
        let wrong = Expectations {
            links_from: Some((2, line_hash(&lines[0]))),
            ..Expectations::default()
        };
        assert!(verify_bytes(KEY, second.as_bytes(), &wrong).is_err());
    }
}
