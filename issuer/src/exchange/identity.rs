//! From a verified ID token's flat claims to the CI job's identity (docs/protocol.md, "CI OIDC exchange").
//!
//! GitHub: `sub = job://github/<repository>/<workflow file>`, the file name taken from
//! `workflow_ref` (`octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main`);
//! `src = {type: github_actions, repo: repository, workflow: file name, run_id, sha}`.
//! GitLab: `sub = job://gitlab/<project_path>`;
//! `src = {type: gitlab_ci, repo: project_path, workflow: ref, run_id: pipeline_id, sha}`.
//! `env` is the job's `environment`. Names outside the subject alphabet are escaped (see
//! [`super::subject`]).

use super::config::ProviderKind;
use super::subject;
use oathmesh_core::SourceRequest;
use serde_json::{Map, Value};

/// The CI job an ID token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiIdentity {
    pub subject: String,
    /// `repository` (GitHub) or `project_path` (GitLab), as the provider wrote it.
    pub repository: String,
    /// The immutable owner id: GitHub `repository_owner_id`, GitLab `namespace_id`.
    pub owner_id: Option<String>,
    /// The immutable repository id: GitHub `repository_id`, GitLab `project_id`.
    pub repository_id: Option<String>,
    /// GitHub only: the workflow file name, as the provider wrote it.
    pub workflow: Option<String>,
    /// The full ref (`refs/heads/main`), what rules match `refs` against.
    pub full_ref: String,
    pub environment: Option<String>,
    pub src: SourceRequest,
}

/// Why a verified token cannot become an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// A claim the mapping needs is absent or not a string: 401 `id_token_invalid`.
    Claim(String),
    /// The names cannot form a valid, unambiguous subject: 422 `identity_unmappable`.
    Unmappable(String),
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, MappingError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            MappingError::Claim(format!(
                "missing claim: `{name}` must be a non-empty string"
            ))
        })
}

/// Optional string; providers send ids as strings, but an integer is read as its decimal.
fn optional(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

pub fn map(kind: ProviderKind, claims: &Map<String, Value>) -> Result<CiIdentity, MappingError> {
    match kind {
        ProviderKind::Github => github(claims),
        ProviderKind::Gitlab => gitlab(claims),
    }
}

/// The workflow file name inside `workflow_ref`.
pub fn workflow_file<'a>(
    workflow_ref: &'a str,
    repository: &str,
    git_ref: &str,
) -> Result<&'a str, MappingError> {
    let unmappable = || {
        MappingError::Unmappable(format!(
            "workflow_ref `{workflow_ref}` is not <repository>/.github/workflows/<file>@<ref>"
        ))
    };
    let rest = workflow_ref
        .strip_prefix(repository)
        .and_then(|r| r.strip_prefix("/.github/workflows/"))
        .ok_or_else(unmappable)?;
    // The ref after `@` is normally the job's own ref; a file name may itself hold `@`, so
    // strip the known ref first and split on `@` only when exactly one is left to split on.
    let file = match rest.strip_suffix(git_ref).and_then(|r| r.strip_suffix('@')) {
        Some(file) => file,
        None => match rest.split_once('@') {
            Some((file, r)) if !r.contains('@') => file,
            _ => return Err(unmappable()),
        },
    };
    if file.is_empty() || file.contains('/') {
        return Err(unmappable());
    }
    Ok(file)
}

fn github(claims: &Map<String, Value>) -> Result<CiIdentity, MappingError> {
    let repository = text(claims, "repository")?;
    let owner = text(claims, "repository_owner")?;
    let git_ref = text(claims, "ref")?;
    let workflow_ref = text(claims, "workflow_ref")?;
    if repository.split_once('/').map(|(o, _)| o) != Some(owner) {
        return Err(MappingError::Claim(
            "inconsistent claims: `repository` is not under `repository_owner`".into(),
        ));
    }
    let file = workflow_file(workflow_ref, repository, git_ref)?;
    let repo_path = subject::path(repository).ok_or_else(|| {
        MappingError::Unmappable(format!(
            "repository `{repository}` has an empty or dot segment"
        ))
    })?;
    let file_segment = subject::segment(file).ok_or_else(|| {
        MappingError::Unmappable(format!(
            "workflow file `{file}` cannot be a subject segment"
        ))
    })?;
    let subject =
        subject::job_subject("github", &[&repo_path, &file_segment]).ok_or_else(|| {
            MappingError::Unmappable(format!(
                "job://github/{repo_path}/{file_segment} is longer than a subject may be (256)"
            ))
        })?;
    Ok(CiIdentity {
        subject,
        repository: repository.to_owned(),
        owner_id: optional(claims, "repository_owner_id"),
        repository_id: optional(claims, "repository_id"),
        workflow: Some(file.to_owned()),
        full_ref: git_ref.to_owned(),
        environment: optional(claims, "environment"),
        src: SourceRequest {
            kind: Some("github_actions".into()),
            repo: Some(repository.to_owned()),
            workflow: Some(file.to_owned()),
            run_id: optional(claims, "run_id"),
            sha: optional(claims, "sha"),
        },
    })
}

fn gitlab(claims: &Map<String, Value>) -> Result<CiIdentity, MappingError> {
    let project = text(claims, "project_path")?;
    let git_ref = text(claims, "ref")?;
    // Rules match full refs on both providers; GitLab's `ref` is the bare name.
    let full_ref = match (
        optional(claims, "ref_path"),
        optional(claims, "ref_type").as_deref(),
    ) {
        (Some(path), _) => path,
        (None, Some("branch")) => format!("refs/heads/{git_ref}"),
        (None, Some("tag")) => format!("refs/tags/{git_ref}"),
        (None, _) => git_ref.to_owned(),
    };
    let project_path = subject::path(project).ok_or_else(|| {
        MappingError::Unmappable(format!(
            "project_path `{project}` has an empty or dot segment"
        ))
    })?;
    let subject = subject::job_subject("gitlab", &[&project_path]).ok_or_else(|| {
        MappingError::Unmappable(format!(
            "job://gitlab/{project_path} is longer than a subject may be (256)"
        ))
    })?;
    Ok(CiIdentity {
        subject,
        repository: project.to_owned(),
        owner_id: optional(claims, "namespace_id"),
        repository_id: optional(claims, "project_id"),
        workflow: None,
        full_ref,
        environment: optional(claims, "environment"),
        src: SourceRequest {
            kind: Some("gitlab_ci".into()),
            repo: Some(project.to_owned()),
            workflow: Some(git_ref.to_owned()),
            run_id: optional(claims, "pipeline_id"),
            sha: optional(claims, "sha"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_file_names_come_from_workflow_ref() {
        let repo = "octo-org/octo-repo";
        for (workflow_ref, git_ref, want) in [
            (
                "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
                "refs/heads/main",
                "deploy.yml",
            ),
            (
                "octo-org/octo-repo/.github/workflows/ci.yml@refs/pull/7/merge",
                "refs/pull/7/merge",
                "ci.yml",
            ),
            (
                "octo-org/octo-repo/.github/workflows/a@b.yml@refs/heads/main",
                "refs/heads/main",
                "a@b.yml",
            ),
            (
                "octo-org/octo-repo/.github/workflows/x.yml@refs/heads/other",
                "refs/heads/main",
                "x.yml",
            ),
        ] {
            assert_eq!(workflow_file(workflow_ref, repo, git_ref).unwrap(), want);
        }
        for bad in [
            "other/repo/.github/workflows/deploy.yml@refs/heads/main",
            "octo-org/octo-repo/workflows/deploy.yml@refs/heads/main",
            "octo-org/octo-repo/.github/workflows/sub/deploy.yml@refs/heads/main",
            "octo-org/octo-repo/.github/workflows/deploy.yml",
            "octo-org/octo-repo/.github/workflows/a@b@refs/heads/x",
            "octo-org/octo-repo/.github/workflows/@refs/heads/main",
        ] {
            assert!(
                workflow_file(bad, repo, "refs/heads/main").is_err(),
                "{bad}"
            );
        }
    }
}
