//! Which stored videos a user's argument names: the way they named them to ingest — a
//! fingerprint, a path, a folder, a URL. Used by `store remove` and by `library search
//! --video`.
//!
//! A path is matched two ways: by the path/URL mappings the store recorded at ingest (which
//! outlive the file, so a deleted file or folder can still be named, and a folder names
//! everything ingested from under it) and, when the file is still there, by its content (the
//! same video ingested from another path is the same video).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::LibraryError;
use crate::fingerprint::Fingerprint;
use crate::index::{SourceRecord, Store, StoreError};
use crate::ingest::{VideoInput, VideoSource, file_validator, hash_file};

/// The fingerprints an argument names (empty: nothing in the store matches it).
pub async fn named(store: &Store, input: &VideoInput) -> Result<BTreeSet<Fingerprint>, LibraryError> {
    let source = match input {
        VideoInput::Stored(fp) => return Ok(BTreeSet::from([*fp])),
        VideoInput::Source(s) => s,
    };
    let mut out = BTreeSet::new();
    match source {
        VideoSource::File(path) => {
            let key = file_key(path);
            let under = format!("{key}/");
            for s in store.sources().await? {
                if s.source == key || s.source.starts_with(&under) {
                    out.insert(s.fingerprint);
                }
            }
            if path.is_file() {
                out.insert(hash_file(path, u64::MAX).await?.fingerprint);
            }
        }
        VideoSource::Http(_) | VideoSource::Platform(_) => {
            if let Some(s) = store.source(&source.cache_key()).await? {
                out.insert(s.fingerprint);
            }
        }
    }
    Ok(out)
}

/// The source-cache key of a path, as ingest recorded it (`file://` and the canonical path),
/// also for a path that no longer exists: its nearest existing ancestor is canonicalised.
pub fn file_key(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let resolved = loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            break rest.iter().rev().fold(c, |p: PathBuf, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break absolute.clone(),
        }
    };
    format!("file://{}", resolved.display())
}

/// Local files of stored videos whose size and modification time still match what was
/// fingerprinted (the first such path per video): the files `serve` plays and `clip` cuts.
pub async fn local_files(store: &Store) -> Result<HashMap<Fingerprint, PathBuf>, StoreError> {
    Ok(still_valid(&store.sources().await?))
}

/// [`local_files`] for some videos only: reads their sources and checks only their files, so
/// a page of results or one thumbnail costs the same in a library of ten videos or of
/// ten thousand on a network share.
pub async fn local_files_of(
    store: &Store,
    videos: &[Fingerprint],
) -> Result<HashMap<Fingerprint, PathBuf>, StoreError> {
    Ok(still_valid(&store.sources_of(videos).await?))
}

/// The `file://` sources among `sources` whose files still hold the bytes fingerprinted (the
/// first such path per video).
pub(super) fn still_valid(sources: &[SourceRecord]) -> HashMap<Fingerprint, PathBuf> {
    let mut out = HashMap::new();
    for s in sources {
        // Local files are cached as `file://` + their canonical path (`VideoSource::cache_key`).
        let Some(path) = s.source.strip_prefix("file://") else { continue };
        let path = PathBuf::from(path);
        if path.is_absolute() && file_validator(&path).is_ok_and(|v| v == s.validator) {
            out.entry(s.fingerprint).or_insert(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_match_what_ingest_records_also_for_deleted_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.mp4");
        std::fs::write(&file, b"x").unwrap();
        let recorded = VideoSource::File(file.clone()).cache_key();
        assert_eq!(file_key(&file), recorded);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(file_key(&file), recorded, "a deleted file keeps its key");
        // Through a symbolic link to the folder, and for a deleted folder's file.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert_eq!(file_key(&link.join("a.mp4")), recorded);
        let gone = dir.path().join("gone/deeper/b.mp4");
        let canonical_dir = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(file_key(&gone), format!("file://{}", canonical_dir.join("gone/deeper/b.mp4").display()));
    }

    #[tokio::test]
    async fn a_path_names_its_files_content_also_when_ingested_from_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store").to_str().unwrap()).await.unwrap();
        let file = dir.path().join("v.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&file, &bytes).unwrap();
        let named = named(&store, &VideoInput::Source(VideoSource::File(file))).await.unwrap();
        assert_eq!(named, BTreeSet::from([Fingerprint::of(&bytes)]));
    }

    #[tokio::test]
    async fn local_files_of_some_videos_reads_and_checks_only_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store").to_str().unwrap()).await.unwrap();
        let mut fps = Vec::new();
        for name in ["a.mp4", "b.mp4", "c.mp4"] {
            let path = dir.path().join(name);
            std::fs::write(&path, name.as_bytes()).unwrap();
            let fp = Fingerprint::of(name.as_bytes());
            let source = VideoSource::File(path.clone()).cache_key();
            store
                .put_source(&SourceRecord { source, validator: file_validator(&path).unwrap(), fingerprint: fp })
                .await
                .unwrap();
            fps.push((fp, std::fs::canonicalize(&path).unwrap()));
        }
        let (a, b, c) = (&fps[0], &fps[1], &fps[2]);
        let some = local_files_of(&store, &[a.0, c.0]).await.unwrap();
        assert_eq!(some, HashMap::from([a.clone(), c.clone()]));
        assert_eq!(local_files(&store).await.unwrap(), HashMap::from([a.clone(), b.clone(), c.clone()]));
        assert!(local_files_of(&store, &[]).await.unwrap().is_empty());
        // A file changed since it was fingerprinted is no longer that video's file.
        std::fs::write(&c.1, b"changed content").unwrap();
        assert_eq!(local_files_of(&store, &[a.0, c.0]).await.unwrap(), HashMap::from([a.clone()]));
        assert!(local_files_of(&store, &[Fingerprint::of(b"never stored")]).await.unwrap().is_empty());
    }
}
