//! Package URLs (purl): parsing, per-type normalization and the canonical string form.
//!
//! Our own parser rather than the `packageurl` crate: packageurl 0.7 predates the current
//! purl-spec test suite (it knows none of the newer per-type rules — `git` names with slashes,
//! `mlflow`, `huggingface`, `vcpkg`, `chrome-extension`, required namespaces — and percent-encodes
//! `:` where the spec now forbids it), so canonical strings would disagree with other tools.
//! The algorithm follows the spec's "How to parse a purl string" section, right to left.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::Ecosystem;

/// Why a string is not a valid purl.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid purl: {0}")]
pub struct PurlError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PurlError> {
    Err(PurlError(msg.into()))
}

/// A parsed, normalized package URL. `Display` writes the canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purl {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
}

/// Parse `s` and write it back in canonical form.
pub fn canonicalize(s: &str) -> Result<String, PurlError> {
    Ok(Purl::parse(s)?.to_string())
}

impl std::str::FromStr for Purl {
    type Err = PurlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Purl {
    /// Parse a purl string and normalize it per its type.
    pub fn parse(input: &str) -> Result<Self, PurlError> {
        let s = input.trim();
        let (rest, subpath) = match s.rsplit_once('#') {
            Some((r, sp)) => (r, Some(sp)),
            None => (s, None),
        };
        let (rest, qualifiers) = match rest.rsplit_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let Some((scheme, rest)) = rest.split_once(':') else {
            return err("missing the `pkg:` scheme");
        };
        if !scheme.eq_ignore_ascii_case("pkg") {
            return err(format!("scheme must be `pkg`, not `{scheme}`"));
        }
        let rest = rest.trim_start_matches('/');
        let Some((ty, rest)) = rest.split_once('/') else {
            return err("missing a type (`pkg:<type>/<name>`)");
        };
        let rest = rest.trim_end_matches('/');
        // The version is after the last `@` of the last segment (`pkg:npm/@babel/core` has none).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (rest, version) = match rest.rfind('@').filter(|&i| i >= last_slash) {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                Some(decode(rest.get(i + 1..).unwrap_or_default())?),
            ),
            None => (rest, None),
        };
        let (namespace, name) = match rest.rsplit_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, rest),
        };
        let namespace = match namespace {
            Some(ns) => {
                let segs = ns
                    .split('/')
                    .filter(|x| !x.is_empty())
                    .map(decode)
                    .collect::<Result<Vec<_>, _>>()?;
                if segs.is_empty() {
                    None
                } else {
                    Some(segs.join("/"))
                }
            }
            None => None,
        };
        let mut quals = BTreeMap::new();
        if let Some(q) = qualifiers {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = k.to_ascii_lowercase();
                let v = decode(v)?;
                if v.is_empty() {
                    continue;
                }
                check_qualifier_key(&k)?;
                if quals.insert(k.clone(), v).is_some() {
                    return err(format!("qualifier `{k}` appears twice"));
                }
            }
        }
        let subpath = match subpath {
            Some(sp) => normalize_subpath(&decode_segments(sp)?),
            None => None,
        };
        Self::new_checked(
            ty,
            namespace.as_deref(),
            &decode(name)?,
            version.as_deref(),
            quals,
            subpath.as_deref(),
        )
    }

    /// Build from parts (decoded values), validating and normalizing as [`Purl::parse`] does.
    pub fn from_parts(
        ty: &str,
        namespace: Option<&str>,
        name: &str,
        version: Option<&str>,
        qualifiers: BTreeMap<String, String>,
        subpath: Option<&str>,
    ) -> Result<Self, PurlError> {
        let mut quals = BTreeMap::new();
        for (k, v) in qualifiers {
            let k = k.to_ascii_lowercase();
            check_qualifier_key(&k)?;
            if !v.is_empty() {
                quals.insert(k, v);
            }
        }
        let namespace = namespace.map(|ns| {
            ns.split('/')
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join("/")
        });
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let subpath = subpath.and_then(normalize_subpath);
        Self::new_checked(
            ty,
            namespace.as_deref(),
            name,
            version,
            quals,
            subpath.as_deref(),
        )
    }

    /// A purl for a package a scanner named without giving a purl.
    ///
    /// For Maven a `group:artifact` name is split into namespace and name when no namespace is
    /// given; for npm a `@scope/name` likewise.
    pub fn from_package(
        ecosystem: &Ecosystem,
        namespace: Option<&str>,
        name: &str,
        version: Option<&str>,
    ) -> Result<Self, PurlError> {
        let (ns, nm) = match (ecosystem, namespace) {
            (Ecosystem::Maven, None) => match name.split_once(':') {
                Some((g, a)) => (Some(g), a),
                None => (None, name),
            },
            (
                Ecosystem::Npm | Ecosystem::Golang | Ecosystem::Composer | Ecosystem::Github,
                None,
            ) => match name.rsplit_once('/') {
                Some((s, n)) => (Some(s), n),
                None => (None, name),
            },
            (_, ns) => (ns, name),
        };
        Self::from_parts(ecosystem.as_str(), ns, nm, version, BTreeMap::new(), None)
    }

    fn new_checked(
        ty: &str,
        namespace: Option<&str>,
        name: &str,
        version: Option<&str>,
        qualifiers: BTreeMap<String, String>,
        subpath: Option<&str>,
    ) -> Result<Self, PurlError> {
        let ty = ty.to_ascii_lowercase();
        check_type(&ty)?;
        let mut p = Purl {
            ty,
            namespace: namespace.filter(|s| !s.is_empty()).map(str::to_string),
            name: name.to_string(),
            version: version.filter(|s| !s.is_empty()).map(str::to_string),
            qualifiers,
            subpath: subpath.filter(|s| !s.is_empty()).map(str::to_string),
        };
        p.normalize_for_type()?;
        if p.name.is_empty() {
            return err("a name is required");
        }
        Ok(p)
    }

    /// The per-type rules of the purl-spec type definitions.
    fn normalize_for_type(&mut self) -> Result<(), PurlError> {
        let lower = |s: &mut String| *s = s.to_lowercase();
        match self.ty.as_str() {
            "alpm" | "apk" | "bitbucket" | "composer" | "deb" | "github" | "hex" | "brew" => {
                if let Some(ns) = &mut self.namespace {
                    lower(ns);
                }
                lower(&mut self.name);
            }
            "git" => {
                // A git purl is host plus repository path: the first segment is the namespace.
                let full = match &self.namespace {
                    Some(ns) => format!("{ns}/{}", self.name),
                    None => self.name.clone(),
                };
                let full = full.to_lowercase();
                match full.split_once('/') {
                    Some((host, path)) => {
                        self.namespace = Some(host.to_string());
                        self.name = path.to_string();
                    }
                    None => {
                        self.namespace = None;
                        self.name = full;
                    }
                }
            }
            "pypi" => {
                self.name = self.name.to_lowercase().replace('_', "-");
            }
            "bitnami" | "oci" => {
                lower(&mut self.name);
            }
            "pub" => {
                lower(&mut self.name);
            }
            "rpm" | "qpkg" => {
                if let Some(ns) = &mut self.namespace {
                    lower(ns);
                }
            }
            "huggingface" => {
                if let Some(v) = &mut self.version {
                    lower(v);
                }
            }
            "mlflow" => {
                let databricks = self
                    .qualifiers
                    .get("repository_url")
                    .is_some_and(|u| u.to_ascii_lowercase().contains("databricks"));
                if databricks {
                    lower(&mut self.name);
                }
            }
            _ => {}
        }
        if self.name.is_empty() {
            return err("a name is required");
        }
        match self.ty.as_str() {
            "maven" | "swift" | "vscode-extension" if self.namespace.is_none() => {
                return err(format!("a `{}` purl requires a namespace", self.ty));
            }
            "vcpkg" | "otp" | "oci" | "bitnami" | "julia" if self.namespace.is_some() => {
                return err(format!("a `{}` purl has no namespace", self.ty));
            }
            "cran" | "hackage" if self.version.is_none() => {
                return err(format!("a `{}` purl requires a version", self.ty));
            }
            "julia" if !self.qualifiers.contains_key("uuid") => {
                return err("a `julia` purl requires the `uuid` qualifier");
            }
            "swid" if !self.qualifiers.contains_key("tag_id") => {
                return err("a `swid` purl requires the `tag_id` qualifier");
            }
            "cpan" if self.name.contains("::") => {
                return err("a `cpan` purl names a distribution, not a module (`::`)");
            }
            "chrome-extension" => check_chrome(&self.name, self.version.as_deref())?,
            _ => {}
        }
        Ok(())
    }

    /// The purl type, lower-case (`maven`, `npm`, ...).
    pub fn ty(&self) -> &str {
        &self.ty
    }
    /// The namespace, decoded, segments joined with `/`.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
    /// Qualifiers with lower-case keys, sorted, decoded values; empty values are dropped.
    pub fn qualifiers(&self) -> &BTreeMap<String, String> {
        &self.qualifiers
    }
    pub fn subpath(&self) -> Option<&str> {
        self.subpath.as_deref()
    }
    /// The ecosystem of the purl type.
    pub fn ecosystem(&self) -> Ecosystem {
        Ecosystem::from_purl_type(&self.ty)
    }

    /// The package name as OSV and most scanners write it: Maven `group:artifact`, npm
    /// `@scope/name`, Go and Composer `namespace/name`, otherwise the name alone.
    pub fn package_name(&self) -> String {
        match (self.ty.as_str(), &self.namespace) {
            ("maven", Some(ns)) => format!("{ns}:{}", self.name),
            ("npm" | "golang" | "composer" | "swift" | "github" | "huggingface", Some(ns)) => {
                format!("{ns}/{}", self.name)
            }
            _ => self.name.clone(),
        }
    }

    /// The same purl without version, qualifiers and subpath.
    pub fn without_version(&self) -> Purl {
        Purl {
            version: None,
            qualifiers: BTreeMap::new(),
            subpath: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for seg in ns.split('/') {
                write!(f, "{}/", encode(seg))?;
            }
        }
        if self.ty == "git" {
            // git names are repository paths; their slashes are structure.
            let segs: Vec<String> = self.name.split('/').map(encode).collect();
            f.write_str(&segs.join("/"))?;
        } else {
            f.write_str(&encode(&self.name))?;
        }
        if let Some(v) = &self.version {
            write!(f, "@{}", encode(v))?;
        }
        let mut sep = '?';
        for (k, v) in &self.qualifiers {
            write!(f, "{sep}{k}={}", encode(v))?;
            sep = '&';
        }
        if let Some(sp) = &self.subpath {
            let segs: Vec<String> = sp.split('/').map(encode).collect();
            write!(f, "#{}", segs.join("/"))?;
        }
        Ok(())
    }
}

fn check_type(ty: &str) -> Result<(), PurlError> {
    let Some(first) = ty.chars().next() else {
        return err("a type is required");
    };
    if !first.is_ascii_alphabetic() {
        return err(format!("type `{ty}` must start with a letter"));
    }
    if let Some(c) = ty
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')))
    {
        return err(format!("type `{ty}` has the invalid character `{c}`"));
    }
    Ok(())
}

fn check_qualifier_key(k: &str) -> Result<(), PurlError> {
    let Some(first) = k.chars().next() else {
        return err("empty qualifier key");
    };
    if first.is_ascii_digit() {
        return err(format!("qualifier key `{k}` must not start with a digit"));
    }
    if let Some(c) = k
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return err(format!(
            "qualifier key `{k}` has the invalid character `{c}`"
        ));
    }
    Ok(())
}

fn check_chrome(name: &str, version: Option<&str>) -> Result<(), PurlError> {
    if name.len() != 32 || !name.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
        return err("a chrome-extension id is 32 letters a-p");
    }
    if let Some(v) = version {
        let parts: Vec<&str> = v.split('.').collect();
        let ok = (1..=4).contains(&parts.len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return err("a chrome-extension version is 1 to 4 dot-separated numbers");
        }
    }
    Ok(())
}

/// Subpath segments: empty, `.` and `..` segments are dropped.
fn normalize_subpath(sp: &str) -> Option<String> {
    let segs: Vec<&str> = sp
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    if segs.is_empty() {
        None
    } else {
        Some(segs.join("/"))
    }
}

/// Decode each `/`-separated segment on its own, so an encoded `%2F` stays inside its segment.
fn decode_segments(s: &str) -> Result<String, PurlError> {
    let segs = s.split('/').map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(segs.join("/"))
}

fn decode(s: &str) -> Result<String, PurlError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => return err(format!("invalid percent-encoding in `{s}`")),
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| PurlError(format!("`{s}` does not decode to UTF-8")))
}

/// Percent-encode everything but the unreserved characters and `:` (which the spec leaves
/// unencoded everywhere).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let c = |s: &str| canonicalize(s).unwrap();
        assert_eq!(
            c("pkg:PYPI/Django_package@1.11.1.dev1"),
            "pkg:pypi/django-package@1.11.1.dev1"
        );
        assert_eq!(
            c("pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?type=zip&classifier=dist&x="),
            "pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1?classifier=dist&type=zip"
        );
        assert_eq!(
            c("pkg:npm/@babel/core@7.0.0"),
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(
            c("pkg:deb/debian/attr@1:2.4.47-2+b1?arch=amd64"),
            "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64"
        );
        assert_eq!(
            c("pkg:golang/google.golang.org/genproto#/googleapis/../api/"),
            "pkg:golang/google.golang.org/genproto#googleapis/api"
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "EnterpriseLibrary.Common@6.0.1304",
            "pkg:EnterpriseLibrary.Common@6.0.1304",
            "pkg:3nginx/nginx@0.8.9",
            "pkg:maven/@1.3.4",
            "pkg:npm/x?in%20production=true",
            "pkg:npm/x@%zz",
            "pkg%3Amaven/org.apache.commons/io",
        ] {
            assert!(Purl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builder_and_accessors() {
        let p = Purl::from_package(
            &Ecosystem::Maven,
            None,
            "org.apache.logging.log4j:log4j-core",
            Some("2.14.1"),
        )
        .unwrap();
        assert_eq!(
            p.to_string(),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        assert_eq!(p.package_name(), "org.apache.logging.log4j:log4j-core");
        assert_eq!(p.ecosystem(), Ecosystem::Maven);
        let p = Purl::parse("pkg:npm/%40angular/core@1.0.0").unwrap();
        assert_eq!(p.namespace(), Some("@angular"));
        assert_eq!(p.package_name(), "@angular/core");
    }
}
