//! Where model weights come from: a Hugging Face hub id (through the hub cache, honouring
//! `HF_HOME`, `HF_ENDPOINT` and `HF_TOKEN`), or a local directory in the Hugging Face layout
//! (`config.json` + `model.safetensors`). Both end as the same [`ModelFiles`], so test models,
//! the bundled model and downloaded checkpoints are loaded by one code path.

use std::path::{Path, PathBuf};

use super::ModelError;

/// The default checkpoint, as in the reference miner.
pub const DEFAULT_MODEL_ID: &str = "openai/clip-vit-base-patch32";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// `owner/name`, optionally `owner/name@revision`.
    Hub { id: String, revision: Option<String> },
    /// A directory holding `config.json` and `model.safetensors`.
    Dir(PathBuf),
}

impl ModelSource {
    /// `--model-dir` wins over `--model`; a `--model` that names an existing directory is a
    /// directory, anything else a hub id.
    pub fn from_flags(model: Option<&str>, model_dir: Option<&Path>) -> Self {
        if let Some(dir) = model_dir {
            return Self::Dir(dir.to_path_buf());
        }
        let id = model.unwrap_or(DEFAULT_MODEL_ID);
        let path = Path::new(id);
        if path.is_dir() {
            return Self::Dir(path.to_path_buf());
        }
        match id.split_once('@') {
            Some((id, rev)) => Self::Hub { id: id.to_string(), revision: Some(rev.to_string()) },
            None => Self::Hub { id: id.to_string(), revision: None },
        }
    }

    /// Short human name used in logs and stored with embeddings.
    pub fn display_name(&self) -> String {
        match self {
            Self::Hub { id, revision: Some(r) } => format!("{id}@{r}"),
            Self::Hub { id, revision: None } => id.clone(),
            Self::Dir(p) => {
                p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
            }
        }
    }

    /// Resolves to files on disk, downloading into the hub cache if needed.
    pub async fn resolve(&self) -> Result<ModelFiles, ModelError> {
        self.resolve_with(Download::Allowed).await
    }

    /// Resolves to files on disk; with [`Download::Never`] a hub checkpoint must already be in
    /// the cache (`ModelError::NotCached` otherwise).
    pub async fn resolve_with(&self, download: Download) -> Result<ModelFiles, ModelError> {
        match self {
            Self::Dir(dir) => ModelFiles::in_dir(dir),
            Self::Hub { id, revision } => resolve_hub(id, revision.as_deref(), download).await,
        }
    }

    /// The first of `names` the checkpoint has beside its config (a tokenizer vocabulary, a
    /// filter bank): in the directory, in the hub cache, or downloaded when allowed. `None`
    /// when it has none of them.
    pub async fn companion_file(&self, names: &[&str], download: Download) -> Option<PathBuf> {
        match self {
            Self::Dir(dir) => names.iter().map(|n| dir.join(n)).find(|p| p.is_file()),
            Self::Hub { id, revision } => {
                let repo = hub_repo(id, revision.as_deref());
                let cached = hf_hub::Cache::from_env().repo(repo.clone());
                if let Some(p) = names.iter().find_map(|n| cached.get(n)) {
                    return Some(p);
                }
                if download == Download::Never || offline() {
                    return None;
                }
                let api = hub_api().ok()?.repo(repo);
                for name in names {
                    if let Ok(p) = api.get(name).await {
                        return Some(p);
                    }
                }
                None
            }
        }
    }
}

/// Whether a hub checkpoint may be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    Allowed,
    /// Only what the hub cache already holds.
    Never,
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn hub_repo(id: &str, revision: Option<&str>) -> hf_hub::Repo {
    use hf_hub::{Repo, RepoType};
    match revision {
        Some(r) => Repo::with_revision(id.to_string(), RepoType::Model, r.to_string()),
        None => Repo::new(id.to_string(), RepoType::Model),
    }
}

fn hub_api() -> Result<hf_hub::api::tokio::Api, hf_hub::api::tokio::ApiError> {
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    hf_hub::api::tokio::ApiBuilder::from_env().with_token(token).with_progress(false).build()
}

/// Paths of one checkpoint in the Hugging Face layout.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub config: PathBuf,
    pub weights: PathBuf,
}

impl ModelFiles {
    pub fn in_dir(dir: &Path) -> Result<Self, ModelError> {
        let config = dir.join("config.json");
        let weights = dir.join("model.safetensors");
        for p in [&config, &weights] {
            if !p.is_file() {
                return Err(ModelError::MissingFile { path: p.clone() });
            }
        }
        Ok(Self { config, weights })
    }
}

async fn resolve_hub(id: &str, revision: Option<&str>, download: Download) -> Result<ModelFiles, ModelError> {
    use hf_hub::Cache;
    let repo = hub_repo(id, revision);
    // A cached checkpoint needs no network at all (and works with HF_HUB_OFFLINE=1).
    let cache = Cache::from_env();
    let cached = cache.repo(repo.clone());
    if let (Some(config), Some(weights)) = (cached.get("config.json"), cached.get("model.safetensors")) {
        return Ok(ModelFiles { config, weights });
    }
    if offline() || download == Download::Never {
        return Err(ModelError::NotCached { id: id.to_string(), cache: cache.path().clone() });
    }
    let api =
        hub_api().map_err(|source| ModelError::Download { id: id.to_string(), file: "", source: Box::new(source) })?;
    let api_repo = api.repo(repo);
    let mut paths = Vec::with_capacity(2);
    for file in ["config.json", "model.safetensors"] {
        let path = api_repo.get(file).await.map_err(|source| ModelError::Download {
            id: id.to_string(),
            file,
            source: Box::new(source),
        })?;
        paths.push(path);
    }
    let weights = paths.pop().unwrap_or_default();
    let config = paths.pop().unwrap_or_default();
    Ok(ModelFiles { config, weights })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_pick_the_source() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ModelSource::from_flags(None, None),
            ModelSource::Hub { id: DEFAULT_MODEL_ID.into(), revision: None }
        );
        assert_eq!(
            ModelSource::from_flags(Some("a/b@main"), None),
            ModelSource::Hub { id: "a/b".into(), revision: Some("main".into()) }
        );
        assert_eq!(
            ModelSource::from_flags(Some(dir.path().to_str().unwrap()), None),
            ModelSource::Dir(dir.path().to_path_buf())
        );
        assert_eq!(ModelSource::from_flags(Some("x/y"), Some(dir.path())), ModelSource::Dir(dir.path().to_path_buf()));
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = ModelFiles::in_dir(dir.path()).unwrap_err();
        assert!(matches!(&e, ModelError::MissingFile { path } if path.ends_with("config.json")), "{e:?}");
        assert!(e.to_string().contains("config.json"));
    }
}
