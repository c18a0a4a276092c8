//! Policy (PROTOCOL §5): an ordered list of rules; the first rule whose `match` fits the
//! token decides; no match denies with the rule name `default`.
//!
//! Loading is strict: an unknown key, a wrong type or a missing field is an error naming the
//! rule index and key. A typo such as `"sbu"` must never silently widen a rule.

use crate::error::ConfigError;
use crate::policy::glob;
use crate::wire::strict_json;
use crate::wire::token::Claims;
use serde_json::{Map, Value};
use std::path::Path;

/// The largest policy document accepted.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// A loaded, validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    name: String,
    allow: bool,
    matcher: Matcher,
}

/// Every present field must match; absent fields match anything. A pattern never matches an
/// absent claim (`"env": "*"` requires the token to carry some `env`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Matcher {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<String>,
    act: Option<String>,
    env: Option<String>,
    tenant: Option<String>,
    scope: Option<Vec<String>>,
    src_type: Option<String>,
    src_repo: Option<String>,
    src_workflow: Option<String>,
}

/// The outcome of evaluating a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allow: bool,
    /// The deciding rule, or `default` when none matched.
    pub rule: &'a str,
}

/// The rule name reported when no rule matched.
pub const DEFAULT_RULE: &str = "default";

impl Policy {
    /// Parses a policy JSON document.
    pub fn from_json(bytes: &[u8]) -> Result<Policy, ConfigError> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(ConfigError::new("policy: document larger than 1 MiB"));
        }
        let doc = strict_json::parse(bytes)
            .map_err(|e| ConfigError::new(format!("policy: not valid JSON ({e})")))?;
        Policy::from_value(&doc)
    }

    /// Reads and parses a policy file (JSON; `.pkl` files are evaluated by the Pkl layer).
    pub fn from_file(path: &Path) -> Result<Policy, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ConfigError::new(format!("policy: cannot read {}: {e}", path.display()))
        })?;
        Policy::from_json(&bytes)
    }

    /// Validates a parsed JSON document.
    pub fn from_value(doc: &Value) -> Result<Policy, ConfigError> {
        let obj = doc
            .as_object()
            .ok_or_else(|| ConfigError::new("policy: expected a JSON object"))?;
        check_keys(obj, &["version", "rules"], "policy")?;
        match obj.get("version") {
            Some(v) if v.as_i64() == Some(1) => {}
            Some(_) => {
                return Err(ConfigError::new(
                    "policy.version: only version 1 is supported",
                ));
            }
            None => return Err(ConfigError::new("policy.version: required")),
        }
        let rules = obj
            .get("rules")
            .and_then(Value::as_array)
            .ok_or_else(|| ConfigError::new("policy.rules: required, an array of rules"))?;
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| parse_rule(rule, &format!("policy.rules[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { rules })
    }

    /// First match wins; no match denies with rule `default`.
    pub fn evaluate(&self, claims: &Claims) -> Decision<'_> {
        self.rules
            .iter()
            .find(|rule| rule.matcher.matches(claims))
            .map_or(
                Decision {
                    allow: false,
                    rule: DEFAULT_RULE,
                },
                |rule| Decision {
                    allow: rule.allow,
                    rule: &rule.name,
                },
            )
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), ConfigError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ConfigError::new(format!(
            "{path}.{unknown}: unknown key (allowed: {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn parse_rule(rule: &Value, path: &str) -> Result<Rule, ConfigError> {
    let obj = rule
        .as_object()
        .ok_or_else(|| ConfigError::new(format!("{path}: expected an object")))?;
    check_keys(obj, &["name", "allow", "match", "description"], path)?;
    let name = match obj.get("name") {
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        _ => {
            return Err(ConfigError::new(format!(
                "{path}.name: required, a non-empty string"
            )));
        }
    };
    let allow = obj
        .get("allow")
        .and_then(Value::as_bool)
        .ok_or_else(|| ConfigError::new(format!("{path}.allow: required, true or false")))?;
    if obj.get("description").is_some_and(|d| !d.is_string()) {
        return Err(ConfigError::new(format!(
            "{path}.description: must be a string"
        )));
    }
    let matcher = match obj.get("match") {
        None | Some(Value::Null) => Matcher::default(),
        Some(Value::Object(m)) => parse_matcher(m, &format!("{path}.match"))?,
        Some(_) => {
            return Err(ConfigError::new(format!(
                "{path}.match: expected an object"
            )));
        }
    };
    Ok(Rule {
        name,
        allow,
        matcher,
    })
}

fn pattern(value: &Value, path: &str) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::new(format!("{path}: expected a string pattern")))
}

fn set_once(slot: &mut Option<String>, value: String, path: &str) -> Result<(), ConfigError> {
    if slot.replace(value).is_some() {
        return Err(ConfigError::new(format!(
            "{path}: given twice (as `src.{{..}}` and as a dotted key)"
        )));
    }
    Ok(())
}

fn parse_matcher(obj: &Map<String, Value>, path: &str) -> Result<Matcher, ConfigError> {
    let mut m = Matcher::default();
    for (key, value) in obj {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "iss" => m.iss = Some(pattern(value, &at)?),
            "sub" => m.sub = Some(pattern(value, &at)?),
            "aud" => m.aud = Some(pattern(value, &at)?),
            "act" => m.act = Some(pattern(value, &at)?),
            "env" => m.env = Some(pattern(value, &at)?),
            "tenant" => m.tenant = Some(pattern(value, &at)?),
            "scope" => {
                let items = value.as_array().ok_or_else(|| {
                    ConfigError::new(format!("{at}: expected an array of scopes"))
                })?;
                let scopes = items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| pattern(s, &format!("{at}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                m.scope = Some(scopes);
            }
            "src.type" => set_once(&mut m.src_type, pattern(value, &at)?, &at)?,
            "src.repo" => set_once(&mut m.src_repo, pattern(value, &at)?, &at)?,
            "src.workflow" => set_once(&mut m.src_workflow, pattern(value, &at)?, &at)?,
            "src" => {
                let src = value
                    .as_object()
                    .ok_or_else(|| ConfigError::new(format!("{at}: expected an object")))?;
                check_keys(src, &["type", "repo", "workflow"], &at)?;
                for (field, v) in src {
                    let sub_at = format!("{at}.{field}");
                    let slot = match field.as_str() {
                        "type" => &mut m.src_type,
                        "repo" => &mut m.src_repo,
                        _ => &mut m.src_workflow,
                    };
                    set_once(slot, pattern(v, &sub_at)?, &sub_at)?;
                }
            }
            _ => {
                return Err(ConfigError::new(format!(
                    "{at}: unknown key (allowed: iss, sub, aud, act, env, tenant, scope, src.type, src.repo, src.workflow)"
                )));
            }
        }
    }
    Ok(m)
}

fn field_matches(pattern: &Option<String>, value: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(p) => value.is_some_and(|v| glob::matches(p, v)),
    }
}

impl Matcher {
    fn matches(&self, c: &Claims) -> bool {
        let src = c.src.as_ref();
        field_matches(&self.sub, c.sub.as_deref())
            && field_matches(&self.act, c.act.as_deref())
            && field_matches(&self.aud, c.aud.as_deref())
            && field_matches(&self.iss, c.iss.as_deref())
            && field_matches(&self.env, c.env.as_deref())
            && field_matches(&self.tenant, c.tenant.as_deref())
            && field_matches(&self.src_type, src.and_then(|s| s.kind.as_deref()))
            && field_matches(&self.src_repo, src.and_then(|s| s.repo.as_deref()))
            && field_matches(&self.src_workflow, src.and_then(|s| s.workflow.as_deref()))
            && self.scope.as_ref().is_none_or(|required| {
                // Scopes are literal: the token must hold every listed scope exactly.
                let held = c.scope.as_deref().unwrap_or_default();
                required.iter().all(|r| held.iter().any(|h| h == r))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::token::Source;

    fn claims() -> Claims {
        Claims {
            iss: Some("https://issuer.internal".into()),
            sub: Some("job://github/acme/app/deploy.yml".into()),
            aud: Some("https://api.internal".into()),
            act: Some("deploy".into()),
            env: Some("prod".into()),
            tenant: Some("t1".into()),
            scope: Some(vec!["deploy".into(), "read".into()]),
            src: Some(Source {
                kind: Some("github_actions".into()),
                repo: Some("acme/app".into()),
                workflow: Some("deploy.yml".into()),
                ..Source::default()
            }),
            ..Claims::default()
        }
    }

    fn decide(matcher: &str) -> bool {
        let doc =
            format!(r#"{{"version":1,"rules":[{{"name":"r","allow":true,"match":{matcher}}}]}}"#);
        Policy::from_json(doc.as_bytes())
            .unwrap()
            .evaluate(&claims())
            .allow
    }

    #[test]
    fn each_match_key() {
        let table = [
            (r#"{"iss":"https://issuer.*"}"#, true),
            (r#"{"iss":"https://other"}"#, false),
            (r#"{"sub":"job://github/acme/*"}"#, true),
            (r#"{"sub":"job://github/evil/*"}"#, false),
            (r#"{"aud":"https://api.internal"}"#, true),
            (r#"{"aud":"https://api"}"#, false),
            (r#"{"act":"deploy"}"#, true),
            (r#"{"act":"dep"}"#, false),
            (r#"{"env":"prod"}"#, true),
            (r#"{"env":"staging"}"#, false),
            (r#"{"tenant":"t*"}"#, true),
            (r#"{"tenant":"u*"}"#, false),
            (r#"{"scope":["deploy"]}"#, true),
            (r#"{"scope":["deploy","read"]}"#, true),
            (r#"{"scope":["deploy","admin"]}"#, false),
            (r#"{"scope":["dep*"]}"#, false),
            (r#"{"scope":[]}"#, true),
            (r#"{"src":{"type":"github_actions","repo":"acme/*"}}"#, true),
            (r#"{"src":{"repo":"other/*"}}"#, false),
            (r#"{"src.type":"gitlab_ci"}"#, false),
            (r#"{"src.workflow":"deploy.yml"}"#, true),
            (
                r#"{"src.repo":"acme/app","act":"deploy","env":"prod"}"#,
                true,
            ),
            (r#"{"src.repo":"acme/app","act":"read"}"#, false),
            (r#"{}"#, true),
        ];
        for (matcher, want) in table {
            assert_eq!(decide(matcher), want, "{matcher}");
        }
    }

    #[test]
    fn absent_claims_never_match_a_pattern() {
        let doc = br#"{"version":1,"rules":[{"name":"r","allow":true,"match":{"env":"*"}}]}"#;
        let p = Policy::from_json(doc).unwrap();
        let mut c = claims();
        assert!(p.evaluate(&c).allow);
        c.env = None;
        assert_eq!(
            p.evaluate(&c),
            Decision {
                allow: false,
                rule: "default"
            }
        );
    }

    #[test]
    fn first_match_wins_and_default_denies() {
        let doc = br#"{"version":1,"rules":[
            {"name":"block-evil","allow":false,"match":{"sub":"job://github/acme/*","act":"deploy"}},
            {"name":"allow-acme","allow":true,"match":{"sub":"job://github/acme/*"}}]}"#;
        let p = Policy::from_json(doc).unwrap();
        assert_eq!(
            p.evaluate(&claims()),
            Decision {
                allow: false,
                rule: "block-evil"
            }
        );
        let mut c = claims();
        c.act = Some("read".into());
        assert_eq!(
            p.evaluate(&c),
            Decision {
                allow: true,
                rule: "allow-acme"
            }
        );
        c.sub = Some("svc://other".into());
        assert_eq!(
            p.evaluate(&c),
            Decision {
                allow: false,
                rule: "default"
            }
        );
        let empty = Policy::from_json(br#"{"version":1,"rules":[]}"#).unwrap();
        assert_eq!(empty.evaluate(&c).rule, "default");
    }

    #[test]
    fn load_errors_name_the_rule_and_key() {
        let cases = [
            (r#"{"rules":[]}"#, "policy.version: required"),
            (r#"{"version":2,"rules":[]}"#, "policy.version"),
            (r#"{"version":1}"#, "policy.rules"),
            (
                r#"{"version":1,"rules":[],"extra":1}"#,
                "policy.extra: unknown key",
            ),
            (
                r#"{"version":1,"rules":[{"allow":true}]}"#,
                "policy.rules[0].name",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":true},{"name":"b"}]}"#,
                "policy.rules[1].allow",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":"yes"}]}"#,
                "policy.rules[0].allow",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":true,"match":{"sbu":"x"}}]}"#,
                "policy.rules[0].match.sbu: unknown key",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":true,"match":{"scope":"x"}}]}"#,
                "policy.rules[0].match.scope",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":true,"match":{"src":{"branch":"x"}}}]}"#,
                "policy.rules[0].match.src.branch: unknown key",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":true,"match":{"src":{"repo":"x"},"src.repo":"y"}}]}"#,
                "given twice",
            ),
            (
                r#"{"version":1,"rules":[{"name":"a","allow":true,"match":{"sub":5}}]}"#,
                "policy.rules[0].match.sub",
            ),
            (r#"{"version":1,"version":1,"rules":[]}"#, "duplicate"),
        ];
        for (doc, want) in cases {
            let err = Policy::from_json(doc.as_bytes()).unwrap_err();
            assert!(err.message().contains(want), "{doc}: {err}");
        }
    }
}
