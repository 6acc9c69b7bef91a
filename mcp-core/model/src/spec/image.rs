//! Image references (`registry/repository:tag@digest`) and the pinned-version rule.

use serde::Serialize;

/// A parsed container image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    /// Registry host (with port), when the reference names one.
    pub registry: Option<String>,
    /// Repository path within the registry, for example `myservice` or `team/app`.
    pub repository: String,
    /// Tag, when present.
    pub tag: Option<String>,
    /// Digest (`sha256:…`), when present.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference. Errors say what is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("image reference is empty".into());
        }
        if text.chars().any(char::is_whitespace) {
            return Err(format!("image reference {text:?} contains whitespace"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => {
                let valid = d.split_once(':').is_some_and(|(alg, hex)| {
                    !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
                });
                if !valid {
                    return Err(format!("digest {d:?} is not of the form sha256:<hex>"));
                }
                (r, Some(d.to_owned()))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|s| i > s) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(format!("tag {tag:?} is not a valid image tag"));
            }
        }
        let mut segments: Vec<&str> = name.split('/').collect();
        let registry = if segments.len() > 1
            && (segments[0].contains(['.', ':']) || segments[0] == "localhost")
        {
            Some(segments.remove(0).to_owned())
        } else {
            None
        };
        for seg in &segments {
            let ok = !seg.is_empty()
                && seg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && seg.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                });
            if !ok {
                return Err(format!(
                    "repository {name:?} is not valid: path parts are lowercase letters, digits, '.', '_' and '-'"
                ));
            }
        }
        Ok(ImageRef {
            registry,
            repository: segments.join("/"),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The last part of the repository path: what `[build.images]` keys name
    /// (`mcr.example:8443/team/app:v1.0.0` → `app`).
    pub fn name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The same repository pinned to `digest` (`sha256:…`), with no tag: what
    /// names one image's content whatever its tags come to mean.
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// The same reference with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Whether `version` is a pinned semver version as the platform tags images:
/// `vMAJOR.MINOR.PATCH` with an optional `-prerelease`, no leading zeros.
pub fn is_pinned_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let numbers_ok = numbers.len() == 3
        && numbers.iter().all(|n| {
            !n.is_empty()
                && n.chars().all(|c| c.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        });
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    });
    numbers_ok && pre_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_platform_references() {
        let r =
            ImageRef::parse("mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0").expect("parse");
        assert_eq!(
            r.registry.as_deref(),
            Some("mcr.svc.mcp.metacircular.net:8443")
        );
        assert_eq!(r.repository, "myservice");
        assert_eq!(r.tag.as_deref(), Some("v1.0.0"));
        assert_eq!(r.name(), "myservice");
        assert_eq!(
            r.to_string(),
            "mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0"
        );

        let r = ImageRef::parse("localhost/team/app").expect("parse");
        assert_eq!(r.registry.as_deref(), Some("localhost"));
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag, None);
        assert_eq!(r.name(), "app");

        let r =
            ImageRef::parse("app:v1.2.3@sha256:0123456789abcdef0123456789abcdef").expect("parse");
        assert_eq!(r.registry, None);
        assert_eq!(r.tag.as_deref(), Some("v1.2.3"));
        assert!(r.digest.is_some());
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "Upper/app:v1.0.0",
            "app:",
            "app:-x",
            "a b",
            "app@sha256:xyz",
            "reg:5000//app",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn pinned_versions() {
        for ok in ["v1.0.0", "v0.10.6", "v1.2.3-rc.1", "v10.20.30"] {
            assert!(is_pinned_version(ok), "{ok}");
        }
        for bad in [
            "latest", "1.0.0", "v1.0", "v1.0.0.0", "v01.0.0", "v1.0.0-", "v1.x.0", "",
        ] {
            assert!(!is_pinned_version(bad), "{bad}");
        }
    }
}
