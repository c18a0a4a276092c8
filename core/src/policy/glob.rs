//! Policy string patterns: `*` matches any run of characters (including none); every other
//! character is literal. No regex, so a policy author cannot write a pattern that surprises.

/// True when `text` matches `pattern`. Linear-time in practice (greedy with single
/// backtrack point), never exponential.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more byte and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("svc://a", "svc://a", true),
            ("svc://a", "svc://ab", false),
            (
                "job://github/acme/*",
                "job://github/acme/app/deploy.yml",
                true,
            ),
            ("job://github/acme/*", "job://github/acmecorp/app", false),
            ("*deploy*", "pre-deploy-prod", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("a.c", "abc", false),
            ("a?c", "abc", false),
            ("[ab]", "a", false),
            ("**", "x", true),
            ("é*", "éa", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn no_catastrophic_backtracking() {
        let text = "a".repeat(10_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!matches(&pattern, &text));
    }
}
