//! Building and pushing a service's images (`mcp build`, and `mcp sync` for images
//! the registry lacks): each `[build.images]` entry is built from
//! `<workspace>/<path>/<Dockerfile>` with `--build-arg VERSION=<tag>`, tagged with
//! the matching component's image reference, and pushed. Every image is built before
//! any is pushed, so a failed build pushes nothing.

use std::path::{Path, PathBuf};

use mcp_model::ErrorKind;
use mcp_model::spec::{Conventions, ServiceDefinition};
use mcp_platform::images::{ImageRef, RegistrySettings};
use mcp_platform::podman::{PodmanCommand, PodmanError};

use crate::fleet::Fleet;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No build workspace is configured.
    #[error("no build workspace: set [build] workspace in the CLI configuration")]
    NoWorkspace,
    /// The service has nothing to build.
    #[error("service {0} has no [build.images]")]
    NothingToBuild(String),
    /// The source tree or a Dockerfile is missing.
    #[error("{what} {} does not exist", path.display())]
    Missing {
        /// What is missing (`source tree`, `Dockerfile`).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A `[build.images]` key names no component image.
    #[error("build image {key:?} of {service} matches no component image")]
    NoComponent {
        /// The service.
        service: String,
        /// The key.
        key: String,
    },
    /// Podman failed to build an image; nothing was pushed.
    #[error("building {image} failed (nothing was pushed): {source}")]
    Build {
        /// The image.
        image: String,
        /// Podman's error and last output.
        #[source]
        source: PodmanError,
    },
    /// Podman failed to push an image.
    #[error("pushing {image} failed: {source}")]
    Push {
        /// The image.
        image: String,
        /// Podman's error and last output.
        #[source]
        source: PodmanError,
    },
    /// Preparing credentials or certificates for Podman failed.
    #[error("preparing the push: {0}")]
    Prepare(#[source] std::io::Error),
    /// The build's worker thread died.
    #[error("the build task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl BuildError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::NoWorkspace => ErrorKind::NotConfigured,
            BuildError::NothingToBuild(_) | BuildError::NoComponent { .. } => {
                ErrorKind::InvalidInput
            }
            BuildError::Missing { .. } => ErrorKind::NotFound,
            BuildError::Build { .. } => ErrorKind::InvalidInput,
            // Podman classified its own failure; a push that was not refused
            // credentials failed on the way to the registry.
            BuildError::Push { source, .. } => match source.kind() {
                ErrorKind::Unauthenticated => ErrorKind::Unauthenticated,
                _ => ErrorKind::Unavailable,
            },
            BuildError::Prepare(_) => ErrorKind::Io,
            BuildError::Task(_) => ErrorKind::Internal,
        }
    }
}

/// One image to build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildItem {
    /// The `[build.images]` key.
    pub key: String,
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// The build context (the service's source tree).
    pub context: PathBuf,
    /// The image reference it is tagged and pushed as.
    pub image: String,
    /// The version (tag), passed as `--build-arg VERSION`.
    pub version: String,
}

/// The images of `def` to build, from `workspace`; checks that the source tree and
/// every Dockerfile exist and every key names a component image.
pub fn plan(
    def: &ServiceDefinition,
    workspace: &Path,
    conventions: &Conventions,
) -> Result<Vec<BuildItem>, BuildError> {
    if def.build_images.is_empty() {
        return Err(BuildError::NothingToBuild(def.name.clone()));
    }
    let context = mcp_model::config::expand_home(workspace).join(def.source_path());
    if !context.is_dir() {
        return Err(BuildError::Missing {
            what: "source tree",
            path: context,
        });
    }
    let resolved = def.resolve(conventions);
    let mut items = Vec::new();
    for (key, dockerfile) in &def.build_images {
        let component = resolved
            .components
            .iter()
            .find(|c| ImageRef::parse(&c.image).is_ok_and(|r| r.name() == key))
            .ok_or_else(|| BuildError::NoComponent {
                service: def.name.clone(),
                key: key.clone(),
            })?;
        let dockerfile = context.join(dockerfile);
        if !dockerfile.is_file() {
            return Err(BuildError::Missing {
                what: "Dockerfile",
                path: dockerfile,
            });
        }
        items.push(BuildItem {
            key: key.clone(),
            dockerfile,
            context: context.clone(),
            image: component.image.clone(),
            version: component.version.clone(),
        });
    }
    Ok(items)
}

/// What happened to one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Building.
    Build,
    /// Pushing.
    Push,
}

impl Stage {
    /// Its one spelling: `build`, `push`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Push => "push",
        }
    }
}

/// Builds every item, then pushes every item. `progress` gets each line of Podman's
/// output with the item and stage.
pub fn build_and_push(
    items: &[BuildItem],
    podman: &PodmanCommand,
    registry: &RegistrySettings,
    progress: &mut dyn FnMut(&BuildItem, Stage, &str),
) -> Result<(), BuildError> {
    for item in items {
        let version_arg = format!("VERSION={}", item.version);
        let dockerfile = item.dockerfile.display().to_string();
        let context = item.context.display().to_string();
        let args = [
            "build",
            "--build-arg",
            &version_arg,
            "-t",
            &item.image,
            "-f",
            &dockerfile,
            &context,
        ];
        podman
            .run_streaming("build", &item.image, &args, &mut |l| {
                progress(item, Stage::Build, l)
            })
            .map_err(|source| BuildError::Build {
                image: item.image.clone(),
                source,
            })?;
    }
    let scratch = mcp_platform::images::ScratchDir::new().map_err(BuildError::Prepare)?;
    for item in items {
        let flags = mcp_platform::images::podman_flags(&item.image, registry, scratch.path())
            .map_err(BuildError::Prepare)?;
        let mut args: Vec<&str> = vec!["push"];
        args.extend(flags.iter().map(String::as_str));
        args.push(&item.image);
        podman
            .run_streaming("push", &item.image, &args, &mut |l| {
                progress(item, Stage::Push, l)
            })
            .map_err(|source| BuildError::Push {
                image: item.image.clone(),
                source,
            })?;
    }
    Ok(())
}

/// One image built and pushed by [`Fleet::build`], as its registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuiltImage {
    /// What was built.
    #[serde(flatten)]
    pub item: BuildItem,
    /// The pushed manifest's digest and size.
    #[serde(flatten)]
    pub summary: mcp_platform::images::ImageSummary,
    /// `ok`: built and pushed.
    pub status: String,
}

/// Receives each line of Podman's output while building or pushing an item.
pub type BuildProgress = Box<dyn FnMut(&BuildItem, Stage, &str) + Send>;

impl Fleet {
    /// Builds the images of `def` from the configured workspace and pushes them
    /// (every build before any push, so a failed build pushes nothing), then reads
    /// each back from its registry.
    pub async fn build(
        &self,
        def: &ServiceDefinition,
        progress: BuildProgress,
    ) -> Result<Vec<BuiltImage>, crate::Error> {
        let workspace = self
            .config()
            .build
            .workspace
            .as_deref()
            .ok_or(BuildError::NoWorkspace)?;
        let items = plan(def, workspace, &self.config().conventions)?;
        let settings = self.registry_settings()?;
        let registry = mcp_platform::images::ImageRegistry::new(settings.clone());
        let items = run_build(items, settings, progress).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let summary = registry.summary(&item.image).await?;
            out.push(BuiltImage {
                item,
                summary,
                status: "ok".to_owned(),
            });
        }
        Ok(out)
    }
}

/// [`crate::builder::build_and_push`] off the async threads.
pub(crate) async fn run_build(
    items: Vec<BuildItem>,
    settings: mcp_platform::images::RegistrySettings,
    mut progress: BuildProgress,
) -> Result<Vec<BuildItem>, BuildError> {
    tokio::task::spawn_blocking(move || {
        build_and_push(
            &items,
            &mcp_platform::podman::PodmanCommand::default(),
            &settings,
            &mut *progress,
        )
        .map(|()| items)
    })
    .await
    .map_err(BuildError::Task)?
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: &str = r#"name = "svc"
node = "rift"

[build.images]
svc = "Dockerfile"
svc-web = "deploy/Dockerfile.web"

[[components]]
name = "api"
image = "mcr.example:8443/svc:v1.2.3"

[[components]]
name = "web"
image = "mcr.example:8443/svc-web:v1.2.3"
"#;

    fn def() -> ServiceDefinition {
        ServiceDefinition::parse(DEF, None).expect("valid")
    }

    #[test]
    fn plans_every_image_from_the_source_tree() {
        let ws = tempfile::tempdir().expect("tmp");
        let src = ws.path().join("svc");
        std::fs::create_dir_all(src.join("deploy")).expect("mkdir");
        let conventions = Conventions::default();
        // A missing Dockerfile names its path.
        std::fs::write(src.join("Dockerfile"), "FROM scratch\n").expect("write");
        let err = plan(&def(), ws.path(), &conventions).expect_err("no web Dockerfile");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("deploy/Dockerfile.web"), "{err}");
        std::fs::write(src.join("deploy/Dockerfile.web"), "FROM scratch\n").expect("write");
        let items = plan(&def(), ws.path(), &conventions).expect("plan");
        let summary: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|i| (i.key.as_str(), i.image.as_str(), i.version.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("svc", "mcr.example:8443/svc:v1.2.3", "v1.2.3"),
                ("svc-web", "mcr.example:8443/svc-web:v1.2.3", "v1.2.3"),
            ]
        );
        assert!(items.iter().all(|i| i.context == src));
    }

    #[test]
    fn missing_tree_and_nothing_to_build_are_their_own_errors() {
        let ws = tempfile::tempdir().expect("tmp");
        let err = plan(&def(), ws.path(), &Conventions::default()).expect_err("no tree");
        assert!(
            matches!(
                err,
                BuildError::Missing {
                    what: "source tree",
                    ..
                }
            ),
            "{err}"
        );
        let bare = ServiceDefinition::parse(
            "name = \"bare\"\nnode = \"rift\"\n\n[[components]]\nname = \"api\"\nimage = \"mcr.example:8443/bare:v1.0.0\"\n",
            None,
        )
        .expect("valid");
        let err = plan(&bare, ws.path(), &Conventions::default()).expect_err("nothing");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}
