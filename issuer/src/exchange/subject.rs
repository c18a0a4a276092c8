//! Turning CI names into subject path segments (`[A-Za-z0-9_.-]`), injectively.
//!
//! A segment that is already made of allowed characters is kept as it is (so
//! `deploy.yml` stays `deploy.yml`). Anything else is *escaped*: each run of other characters
//! becomes one `_`, and `-_` plus the first 16 hex digits of the SHA-256 of the original
//! segment is appended (`deploy prod.yml` -> `deploy_prod.yml-_3b5d...`). A clean segment that
//! happens to end like an escaped one (`-_` and 16 hex digits) is escaped too, so an escaped
//! form can never equal a clean one; two different originals share an escaped form only if
//! their hashes collide in 64 bits. Empty, `.` and `..` segments are refused: they do not
//! occur in real repository, project or workflow names and read like paths.

use sha2::{Digest, Sha256};

/// Hex digits of the hash suffix.
const HASH_HEX: usize = 16;
const MARKER: &str = "-_";

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn looks_escaped(segment: &str) -> bool {
    segment.len() > MARKER.len() + HASH_HEX && {
        let (head, hash) = segment.split_at(segment.len() - HASH_HEX);
        head.ends_with(MARKER) && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// One path segment (no `/` inside the result). `None` for a segment that must be refused.
pub fn segment(original: &str) -> Option<String> {
    if original.is_empty() || original == "." || original == ".." {
        return None;
    }
    if original.chars().all(allowed) && !looks_escaped(original) {
        return Some(original.to_owned());
    }
    let mut out = String::with_capacity(original.len() + MARKER.len() + HASH_HEX);
    let mut in_run = false;
    for c in original.chars() {
        if allowed(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    let digest = Sha256::digest(original.as_bytes());
    out.push_str(MARKER);
    for b in &digest[..HASH_HEX / 2] {
        out.push_str(&format!("{b:02x}"));
    }
    Some(out)
}

/// A `/`-separated path (a GitLab project path, a GitHub `owner/repo`), segment by segment.
pub fn path(original: &str) -> Option<String> {
    let parts: Option<Vec<String>> = original.split('/').map(segment).collect();
    Some(parts?.join("/"))
}

/// `job://<provider>/<parts...>`, or `None` when it would not be a valid subject (too long).
pub fn job_subject(provider: &str, parts: &[&str]) -> Option<String> {
    let sub = format!("job://{provider}/{}", parts.join("/"));
    oathmesh_core::claims::is_valid_subject(&sub).then_some(sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names_are_kept() {
        for name in ["deploy.yml", "release_v2.yaml", "a-b.c", "ci", "x-_short"] {
            assert_eq!(segment(name).as_deref(), Some(name));
        }
    }

    #[test]
    fn unusual_names_are_escaped_injectively() {
        let spaced = segment("deploy prod.yml").unwrap();
        assert!(spaced.starts_with("deploy_prod.yml-_"), "{spaced}");
        assert_eq!(spaced.len(), "deploy_prod.yml-_".len() + 16);
        // Different originals with the same replacement shape stay distinct.
        let tabbed = segment("deploy\tprod.yml").unwrap();
        let runs = segment("deploy  prod.yml").unwrap();
        assert_ne!(spaced, tabbed);
        assert_ne!(spaced, runs);
        // The literal name with `_` is clean and differs from the escaped one.
        assert_eq!(segment("deploy_prod.yml").unwrap(), "deploy_prod.yml");
        // Unicode.
        let accented = segment("déploiement 🚀.yml").unwrap();
        assert!(accented.starts_with("d_ploiement_.yml-_"), "{accented}");
        // A clean name that looks escaped is escaped again, so it cannot impersonate.
        let lookalike = spaced.clone();
        let escaped_again = segment(&lookalike).unwrap();
        assert_ne!(escaped_again, spaced);
        assert!(escaped_again.starts_with(&spaced));
        for s in [&spaced, &tabbed, &accented, &escaped_again] {
            assert!(s.chars().all(allowed), "{s}");
        }
    }

    #[test]
    fn refuses_path_like_and_overlong() {
        for bad in ["", ".", ".."] {
            assert_eq!(segment(bad), None);
        }
        assert_eq!(path("group//project"), None);
        assert_eq!(path("group/../project"), None);
        assert_eq!(
            path("group/sub/project").as_deref(),
            Some("group/sub/project")
        );
        let long = "a".repeat(250);
        assert!(job_subject("gitlab", &[&long]).is_none());
        assert_eq!(
            job_subject("github", &["octo-org/octo-repo", "deploy.yml"]).as_deref(),
            Some("job://github/octo-org/octo-repo/deploy.yml")
        );
    }
}
