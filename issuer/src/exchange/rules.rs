//! Exchange rules: a CI job may exchange when one rule matches every field. Fields are
//! checked in a fixed order (repository/project, workflow, ref, environment, aud, act); a
//! refusal names the field where the closest rule (the one that got furthest) failed, and
//! the job's value for it, never another rule's patterns.

use super::config::{ProviderKind, RuleConfig};
use super::identity::CiIdentity;
use oathmesh_core::glob;

/// Which field refused the exchange, with a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub field: &'static str,
    pub message: String,
}

fn any(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| glob::matches(p, value))
}

/// `Ok(())` when some rule allows `job` to exchange for `aud` and `act`.
pub fn check(
    kind: ProviderKind,
    rules: &[RuleConfig],
    job: &CiIdentity,
    aud: &str,
    act: &str,
) -> Result<(), Denied> {
    // (index of the failing field, field name, the job's value).
    let mut closest: Option<(usize, &'static str, String)> = None;
    for rule in rules {
        let failed = first_failure(kind, rule, job, aud, act);
        let Some(failed) = failed else {
            return Ok(());
        };
        if closest.as_ref().is_none_or(|(at, _, _)| failed.0 > *at) {
            closest = Some(failed);
        }
    }
    let (_, field, value) = closest.unwrap_or((0, kind.repository_field(), job.repository.clone()));
    Err(Denied {
        field,
        message: format!(
            "no exchange rule allows {field} `{value}` for {job} (rules are checked on {order})",
            job = job.subject,
            order = "repository/project, workflow, ref, environment, aud, act"
        ),
    })
}

fn first_failure(
    kind: ProviderKind,
    rule: &RuleConfig,
    job: &CiIdentity,
    aud: &str,
    act: &str,
) -> Option<(usize, &'static str, String)> {
    if !glob::matches(rule.repository_pattern(), &job.repository) {
        return Some((0, kind.repository_field(), job.repository.clone()));
    }
    // The immutable ids: a re-registered name carries other ids.
    let (owner_field, repository_field) = kind.id_fields();
    for (field, wanted, got) in [
        (owner_field, rule.owner_id(kind), &job.owner_id),
        (
            repository_field,
            rule.repository_id(kind),
            &job.repository_id,
        ),
    ] {
        if let Some(wanted) = wanted
            && got.as_deref() != Some(wanted)
        {
            let value = got.clone().unwrap_or_else(|| "(none)".into());
            return Some((0, field, value));
        }
    }
    if let (Some(patterns), Some(workflow)) = (&rule.workflows, &job.workflow)
        && !any(patterns, workflow)
    {
        return Some((1, "workflow", workflow.clone()));
    }
    if !any(&rule.refs, &job.full_ref) {
        return Some((2, "ref", job.full_ref.clone()));
    }
    if let Some(patterns) = &rule.environments {
        match &job.environment {
            Some(env) if any(patterns, env) => {}
            Some(env) => return Some((3, "environment", env.clone())),
            None => return Some((3, "environment", "(none)".into())),
        }
    }
    if !any(&rule.aud, aud) {
        return Some((4, "aud", aud.to_owned()));
    }
    if !any(&rule.act, act) {
        return Some((5, "act", act.to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use oathmesh_core::SourceRequest;

    fn rule(repo: &str, refs: &[&str], envs: Option<&[&str]>) -> RuleConfig {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        RuleConfig {
            repository: Some(repo.into()),
            project: None,
            repository_owner_id: None,
            repository_id: None,
            namespace_id: None,
            project_id: None,
            allow_mutable_names: true,
            workflows: None,
            refs: list(refs),
            environments: envs.map(list),
            aud: list(&["https://*.internal"]),
            act: list(&["deploy"]),
        }
    }

    fn job(env: Option<&str>, git_ref: &str) -> CiIdentity {
        CiIdentity {
            subject: "job://github/acme/api/deploy.yml".into(),
            repository: "acme/api".into(),
            owner_id: Some("65".into()),
            repository_id: Some("74".into()),
            workflow: Some("deploy.yml".into()),
            full_ref: git_ref.into(),
            environment: env.map(str::to_owned),
            src: SourceRequest::default(),
        }
    }

    #[test]
    fn a_re_registered_name_does_not_inherit_the_rule() {
        let k = ProviderKind::Github;
        let mut pinned = rule("acme/*", &["*"], None);
        pinned.repository_owner_id = Some("65".into());
        pinned.allow_mutable_names = false;
        let ok = job(None, "refs/heads/main");
        assert!(
            check(
                k,
                &[pinned.clone()],
                &ok,
                "https://deploy.internal",
                "deploy"
            )
            .is_ok()
        );
        let mut squatter = ok.clone();
        squatter.owner_id = Some("9999".into());
        let denied =
            check(k, &[pinned], &squatter, "https://deploy.internal", "deploy").unwrap_err();
        assert_eq!(denied.field, "repository_owner_id");
        assert!(denied.message.contains("9999"), "{}", denied.message);
    }

    #[test]
    fn names_the_field_of_the_closest_rule() {
        let k = ProviderKind::Github;
        let rules = [
            rule("other/*", &["*"], None),
            rule("acme/*", &["refs/heads/main"], Some(&["prod"])),
        ];
        let ok = job(Some("prod"), "refs/heads/main");
        assert!(check(k, &rules, &ok, "https://deploy.internal", "deploy").is_ok());
        let field =
            |j: &CiIdentity, aud: &str, act: &str| check(k, &rules, j, aud, act).unwrap_err().field;
        assert_eq!(
            field(
                &job(Some("prod"), "refs/heads/dev"),
                "https://a.internal",
                "deploy"
            ),
            "ref"
        );
        assert_eq!(
            field(
                &job(Some("staging"), "refs/heads/main"),
                "https://a.internal",
                "deploy"
            ),
            "environment"
        );
        assert_eq!(
            field(
                &job(None, "refs/heads/main"),
                "https://a.internal",
                "deploy"
            ),
            "environment"
        );
        assert_eq!(field(&ok, "https://a.example.com", "deploy"), "aud");
        assert_eq!(field(&ok, "https://a.internal", "drop-tables"), "act");
        let mut stranger = ok.clone();
        stranger.repository = "evil/api".into();
        let denied = check(k, &rules, &stranger, "https://a.internal", "deploy").unwrap_err();
        assert_eq!(denied.field, "repository");
        assert!(denied.message.contains("evil/api"));
    }
}
