//! Claim presence and format rules (PROTOCOL §1, step 11). The issuer runs the same rules
//! before signing, so an OathMesh issuer cannot mint what an OathMesh verifier would refuse.

use crate::verify::error::{Step, VerifyError};
use crate::wire::token::Claims;

/// The lifetime cap: `exp - iat` may not exceed it, at the issuer or the verifier.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Accepted subject schemes.
pub const SUBJECT_SCHEMES: [&str; 5] = ["agent", "svc", "job", "tool", "user"];
const MAX_SUBJECT_PATH: usize = 256;
const MAX_ACT_CHARS: usize = 128;
const MAX_JTI_CHARS: usize = 128;
const MAX_REASON_CHARS: usize = 512;

/// A claim that breaks a format rule: which claim, and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatViolation {
    pub claim: &'static str,
    pub message: &'static str,
}

impl FormatViolation {
    fn new(claim: &'static str, message: &'static str) -> Self {
        FormatViolation { claim, message }
    }

    pub(crate) fn into_verify_error(self) -> VerifyError {
        VerifyError::claim_invalid(self.claim, Step::Claims11, self.message)
    }
}

/// `^(agent|svc|job|tool|user)://[A-Za-z0-9/_.-]{1,256}$`
pub fn is_valid_subject(sub: &str) -> bool {
    let Some((scheme, path)) = sub.split_once("://") else {
        return false;
    };
    SUBJECT_SCHEMES.contains(&scheme)
        && (1..=MAX_SUBJECT_PATH).contains(&path.len())
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'))
}

/// 1..=128 characters, none of them whitespace or control characters.
pub fn is_valid_action(act: &str) -> bool {
    let count = act.chars().count();
    (1..=MAX_ACT_CHARS).contains(&count)
        && !act.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// 1..=128 characters.
pub fn is_valid_jti(jti: &str) -> bool {
    (1..=MAX_JTI_CHARS).contains(&jti.chars().count())
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_valid_rqh(rqh: &str) -> bool {
    rqh.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

const MAX_LABEL_CHARS: usize = 256;
const LABEL_RULE: &str = "must be 1 to 256 characters without control characters";

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// `env`, `tenant` and the `src` members: 1..=256 characters, no control characters.
pub fn is_valid_label(text: &str) -> bool {
    (1..=MAX_LABEL_CHARS).contains(&text.chars().count()) && !has_control(text)
}

/// Claims whose presence is required, in the order the first absent one is reported.
pub const REQUIRED: [&str; 7] = ["iss", "sub", "aud", "act", "iat", "exp", "jti"];

fn non_empty(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !s.is_empty())
}

/// The first required claim that is absent (an empty string counts as absent).
pub fn first_missing(claims: &Claims) -> Option<&'static str> {
    let present = [
        non_empty(&claims.iss),
        non_empty(&claims.sub),
        non_empty(&claims.aud),
        non_empty(&claims.act),
        claims.iat.is_some(),
        claims.exp.is_some(),
        non_empty(&claims.jti),
    ];
    REQUIRED
        .iter()
        .zip(present)
        .find(|(_, present)| !present)
        .map(|(name, _)| *name)
}

/// Format rules, in claim order. Assumes [`first_missing`] returned `None`.
pub fn check_formats(claims: &Claims) -> Result<(), FormatViolation> {
    if !claims.sub.as_deref().is_some_and(is_valid_subject) {
        return Err(FormatViolation::new(
            "sub",
            "the subject must look like svc://name (schemes agent, svc, job, tool, user; path of letters, digits and / _ . -, at most 256)",
        ));
    }
    if !claims.act.as_deref().is_some_and(is_valid_action) {
        return Err(FormatViolation::new(
            "act",
            "the action must be 1 to 128 characters without whitespace or control characters",
        ));
    }
    let (iat, exp) = (claims.iat.unwrap_or(0), claims.exp.unwrap_or(0));
    if exp <= iat {
        return Err(FormatViolation::new(
            "exp",
            "`exp` must be later than `iat`",
        ));
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME_SECS {
        return Err(FormatViolation::new(
            "exp",
            "the token lifetime `exp - iat` exceeds 300 seconds",
        ));
    }
    if !claims.jti.as_deref().is_some_and(is_valid_jti) {
        return Err(FormatViolation::new(
            "jti",
            "`jti` must be 1 to 128 characters",
        ));
    }
    if claims
        .reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS || has_control(r))
    {
        return Err(FormatViolation::new(
            "reason",
            "`reason` must be at most 512 characters without control characters",
        ));
    }
    // Scopes travel space-separated (the gateway's X-OathMesh-Scope), so a scope is one
    // word: the same shape as an action.
    if claims
        .scope
        .as_deref()
        .is_some_and(|scopes| !scopes.iter().all(|s| is_valid_action(s)))
    {
        return Err(FormatViolation::new(
            "scope",
            "each scope must be 1 to 128 characters without whitespace or control characters",
        ));
    }
    // Receivers copy these into headers and logs: a control character (CR, LF) there is
    // header or log injection.
    if claims.env.as_deref().is_some_and(|v| !is_valid_label(v)) {
        return Err(FormatViolation::new("env", LABEL_RULE));
    }
    if claims.tenant.as_deref().is_some_and(|v| !is_valid_label(v)) {
        return Err(FormatViolation::new("tenant", LABEL_RULE));
    }
    if claims.src.as_ref().is_some_and(|src| {
        [&src.kind, &src.repo, &src.workflow, &src.run_id, &src.sha]
            .into_iter()
            .flatten()
            .any(|v| !is_valid_label(v))
    }) {
        return Err(FormatViolation::new("src", LABEL_RULE));
    }
    if claims
        .delegated_by
        .as_deref()
        .is_some_and(|d| !(d.starts_with("user://") && is_valid_subject(d)))
    {
        return Err(FormatViolation::new(
            "delegated_by",
            "`delegated_by` must be a user:// subject",
        ));
    }
    if claims.rqh.as_deref().is_some_and(|r| !is_valid_rqh(r)) {
        return Err(FormatViolation::new(
            "rqh",
            "`rqh` must be sha256: followed by 64 lowercase hex digits",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        for ok in [
            "svc://billing",
            "job://github/acme/app/deploy.yml",
            "user://a",
            "agent://A-b_c.d",
        ] {
            assert!(is_valid_subject(ok), "{ok}");
        }
        let long = format!("svc://{}", "a".repeat(257));
        for bad in [
            "svc:/x",
            "root://x",
            "svc://",
            "svc://a b",
            "svc://é",
            "SVC://a",
            "svc://a?b",
            &long,
        ] {
            assert!(!is_valid_subject(bad), "{bad}");
        }
        assert!(is_valid_subject(&format!("svc://{}", "a".repeat(256))));
    }

    #[test]
    fn actions_jtis_rqh() {
        assert!(is_valid_action("deploy"));
        assert!(is_valid_action(&"é".repeat(128)));
        assert!(!is_valid_action(&"a".repeat(129)));
        assert!(!is_valid_action("de ploy"));
        assert!(!is_valid_action("de\u{7}"));
        assert!(!is_valid_action(""));
        assert!(is_valid_jti(&"j".repeat(128)));
        assert!(!is_valid_jti(&"j".repeat(129)));
        assert!(is_valid_rqh(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_valid_rqh(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_valid_rqh(&format!("sha512:{}", "a".repeat(64))));
    }

    fn full() -> Claims {
        Claims {
            iss: Some("https://i".into()),
            sub: Some("svc://a".into()),
            aud: Some("https://a".into()),
            act: Some("read".into()),
            iat: Some(100),
            exp: Some(400),
            jti: Some("j".into()),
            ..Claims::default()
        }
    }

    #[test]
    fn presence_in_order() {
        assert_eq!(first_missing(&full()), None);
        let mut c = full();
        c.act = Some(String::new());
        c.jti = None;
        assert_eq!(first_missing(&c), Some("act"));
    }

    #[test]
    fn lifetime_cap() {
        let mut c = full();
        assert!(check_formats(&c).is_ok());
        c.exp = Some(401);
        assert_eq!(check_formats(&c).unwrap_err().claim, "exp");
        c.exp = Some(100);
        assert_eq!(check_formats(&c).unwrap_err().claim, "exp");
        c.exp = Some(i64::MAX);
        c.iat = Some(i64::MIN);
        assert_eq!(check_formats(&c).unwrap_err().claim, "exp");
    }

    #[test]
    fn optional_formats() {
        let mut c = full();
        c.delegated_by = Some("svc://x".into());
        assert_eq!(check_formats(&c).unwrap_err().claim, "delegated_by");
        c.delegated_by = Some("user://alice".into());
        c.reason = Some("r".repeat(513));
        assert_eq!(check_formats(&c).unwrap_err().claim, "reason");
        c.reason = Some("line\nbreak".into());
        assert_eq!(check_formats(&c).unwrap_err().claim, "reason");
        c.reason = Some("nightly settlement, ünïcode ok".into());
        assert!(check_formats(&c).is_ok());
        c.scope = Some(vec!["payments:write".into(), "two words".into()]);
        assert_eq!(check_formats(&c).unwrap_err().claim, "scope");
        c.scope = Some(vec![String::new()]);
        assert_eq!(check_formats(&c).unwrap_err().claim, "scope");
        c.scope = Some(vec!["payments:write".into()]);
        c.env = Some("prod\r\nX-Evil: 1".into());
        assert_eq!(check_formats(&c).unwrap_err().claim, "env");
        c.env = Some(String::new());
        assert_eq!(check_formats(&c).unwrap_err().claim, "env");
        c.env = Some("prod".into());
        c.tenant = Some("t\u{0}".into());
        assert_eq!(check_formats(&c).unwrap_err().claim, "tenant");
        c.tenant = Some("acme".into());
        c.src = Some(crate::wire::token::Source {
            repo: Some("acme/app\n".into()),
            ..Default::default()
        });
        assert_eq!(check_formats(&c).unwrap_err().claim, "src");
        c.src = None;
        assert!(check_formats(&c).is_ok());
    }
}
