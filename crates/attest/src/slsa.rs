//! Facts of SLSA provenance v0.2 and v1 predicates.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::intoto::{Statement, Subject};

pub const PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// A material (v0.2) or resolved dependency (v1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Material {
    pub uri: String,
    pub digest: BTreeMap<String, String>,
}

/// What a SLSA provenance statement says about a build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProvenanceFacts {
    /// `v0.2` or `v1`.
    pub slsa_version: String,
    pub builder_id: Option<String>,
    pub build_type: Option<String>,
    /// The source as written (`git+https://github.com/o/r@refs/tags/v1`).
    pub source_uri: Option<String>,
    /// The repository part of the source, without `git+` and `@ref`.
    pub source_repository: Option<String>,
    pub source_ref: Option<String>,
    /// The commit (`gitCommit` or `sha1` digest of the source).
    pub source_commit: Option<String>,
    /// The workflow or config file that ran.
    pub entry_point: Option<String>,
    /// Names of the top-level parameters (v0.2 `invocation.parameters`, v1
    /// `externalParameters`), values left out.
    pub parameters: Vec<String>,
    pub materials: Vec<Material>,
    pub subjects: Vec<Subject>,
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn digests(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn materials(v: Option<&Value>) -> Vec<Material> {
    v.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    Some(Material {
                        uri: m.get("uri")?.as_str()?.to_owned(),
                        digest: digests(m.get("digest")),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn keys_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn commit_of(digest: &BTreeMap<String, String>) -> Option<String> {
    digest
        .get("gitCommit")
        .or_else(|| digest.get("sha1"))
        .cloned()
}

/// `git+https://host/o/r@refs/x` → (`https://host/o/r`, `refs/x`); an `@` before the path
/// (`ssh://git@host/...`) is not a ref.
fn split_source(uri: &str) -> (String, Option<String>) {
    let bare = uri.strip_prefix("git+").unwrap_or(uri);
    let authority = bare.find("://").map_or(0, |i| i + 3);
    let path_start = bare
        .get(authority..)
        .and_then(|rest| rest.find('/'))
        .map_or(bare.len(), |i| authority + i);
    let at = bare
        .get(path_start..)
        .and_then(|path| path.rfind('@'))
        .map(|i| path_start + i);
    match at.and_then(|i| Some((bare.get(..i)?, bare.get(i + 1..)?))) {
        Some((repo, r)) if !r.is_empty() => (repo.to_owned(), Some(r.to_owned())),
        _ => (bare.to_owned(), None),
    }
}

impl ProvenanceFacts {
    /// The facts of a SLSA provenance statement; `None` for another predicate type.
    pub fn of(statement: &Statement) -> Option<Self> {
        let p = &statement.predicate;
        let mut facts = ProvenanceFacts {
            slsa_version: String::new(),
            builder_id: None,
            build_type: None,
            source_uri: None,
            source_repository: None,
            source_ref: None,
            source_commit: None,
            entry_point: None,
            parameters: Vec::new(),
            materials: Vec::new(),
            subjects: statement.subjects.clone(),
        };
        match statement.predicate_type.as_str() {
            PROVENANCE_V02 => {
                facts.slsa_version = "v0.2".into();
                facts.builder_id = str_at(p, "/builder/id").map(str::to_owned);
                facts.build_type = str_at(p, "/buildType").map(str::to_owned);
                facts.materials = materials(p.get("materials"));
                facts.parameters = keys_of(p.pointer("/invocation/parameters"));
                facts.entry_point =
                    str_at(p, "/invocation/configSource/entryPoint").map(str::to_owned);
                let source = str_at(p, "/invocation/configSource/uri")
                    .map(|u| {
                        (
                            u.to_owned(),
                            digests(p.pointer("/invocation/configSource/digest")),
                        )
                    })
                    .or_else(|| {
                        facts
                            .materials
                            .first()
                            .map(|m| (m.uri.clone(), m.digest.clone()))
                    });
                if let Some((uri, digest)) = source {
                    facts.set_source(&uri, commit_of(&digest));
                }
            }
            PROVENANCE_V1 => {
                facts.slsa_version = "v1".into();
                facts.builder_id = str_at(p, "/runDetails/builder/id").map(str::to_owned);
                facts.build_type = str_at(p, "/buildDefinition/buildType").map(str::to_owned);
                facts.materials = materials(p.pointer("/buildDefinition/resolvedDependencies"));
                let external = p.pointer("/buildDefinition/externalParameters");
                facts.parameters = keys_of(external);
                let external = external.unwrap_or(&Value::Null);
                if let Some(uri) = str_at(external, "/source/uri") {
                    // Container-based builds: `source: {uri, digest}`.
                    let commit = commit_of(&digests(external.pointer("/source/digest")));
                    facts.set_source(uri, commit);
                    facts.entry_point = str_at(external, "/configPath").map(str::to_owned);
                } else if let Some(repo) = str_at(external, "/workflow/repository") {
                    // GitHub Actions workflow build type: `workflow: {ref, repository, path}`.
                    facts.source_uri = Some(repo.to_owned());
                    facts.source_repository = Some(repo.to_owned());
                    facts.source_ref = str_at(external, "/workflow/ref").map(str::to_owned);
                    facts.entry_point = str_at(external, "/workflow/path").map(str::to_owned);
                }
                if facts.source_commit.is_none() {
                    facts.source_commit = facts.source_repository.as_deref().and_then(|repo| {
                        facts
                            .materials
                            .iter()
                            .filter(|m| split_source(&m.uri).0 == repo)
                            .find_map(|m| commit_of(&m.digest))
                    });
                }
            }
            _ => return None,
        }
        Some(facts)
    }

    fn set_source(&mut self, uri: &str, commit: Option<String>) {
        let (repo, r) = split_source(uri);
        self.source_uri = Some(uri.to_owned());
        self.source_repository = Some(repo);
        self.source_ref = r;
        self.source_commit = commit;
    }
}
