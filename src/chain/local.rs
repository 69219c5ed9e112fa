//! The file-backed local chain: a metagraph JSON file that can be edited while processes run
//! (it is re-read whenever its modification time changes).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::{Chain, ChainError, Metagraph};

pub struct LocalChain {
    path: PathBuf,
    cache: Mutex<Option<(SystemTime, Metagraph)>>,
}

impl LocalChain {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), cache: Mutex::new(None) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a metagraph file (used by `chain init-local` and tests).
    pub fn write(path: &Path, metagraph: &Metagraph) -> Result<(), ChainError> {
        let err = |message: String| ChainError::File { path: path.display().to_string(), message };
        let text = serde_json::to_string_pretty(metagraph).map_err(|e| err(e.to_string()))?;
        // Write-then-rename so readers never see half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }

    fn load(&self) -> Result<Metagraph, ChainError> {
        let err = |message: String| ChainError::File { path: self.path.display().to_string(), message };
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).map_err(|e| err(e.to_string()))?;
        if let Some((t, m)) = self.cache.lock().as_ref()
            && *t == mtime
        {
            return Ok(m.clone());
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| err(e.to_string()))?;
        let metagraph: Metagraph = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        *self.cache.lock() = Some((mtime, metagraph.clone()));
        Ok(metagraph)
    }
}

impl Chain for LocalChain {
    fn metagraph(&self) -> BoxFuture<'_, Result<Metagraph, ChainError>> {
        Box::pin(async move { self.load() })
    }
}
