//! QVHighlights-format files: ground truth (`qid`, `relevant_windows`) and predictions (`qid`,
//! `pred_relevant_windows` as `[start, end, score]`), one JSON object per line.

use std::path::Path;

use super::metrics::{GroundTruth, Prediction};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    pub path: String,
    pub message: String,
}

fn qid_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lines(path: &Path) -> Result<Vec<serde_json::Value>, FileError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| FileError { path: p.clone(), message: e.to_string() })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| FileError { path: p.clone(), message: format!("line {}: {e}", n + 1) })
        })
        .collect()
}

/// `key` as a list of windows of exactly `N` numbers each.
fn windows<const N: usize>(v: &serde_json::Value, key: &str) -> Option<Vec<[f64; N]>> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.get(key)?.clone()).ok()?;
    rows.into_iter().map(|r| <[f64; N]>::try_from(r).ok()).collect()
}

/// One line of a window file: its `qid` and its windows.
type QidWindows<const N: usize> = (String, Vec<[f64; N]>);

/// Every line's `qid` and its windows of `N` numbers under `key`.
fn load_windows<const N: usize>(path: &Path, key: &str, shape: &str) -> Result<Vec<QidWindows<N>>, FileError> {
    let p = path.display().to_string();
    lines(path)?
        .iter()
        .enumerate()
        .map(|(n, v)| {
            let err = |message: String| FileError { path: p.clone(), message: format!("line {}: {message}", n + 1) };
            let qid = v.get("qid").map(qid_string).ok_or_else(|| err("no qid".into()))?;
            let windows = windows::<N>(v, key).ok_or_else(|| err(format!("{key} must be {shape}")))?;
            Ok((qid, windows))
        })
        .collect()
}

pub fn load_ground_truth(path: &Path) -> Result<Vec<GroundTruth>, FileError> {
    Ok(load_windows::<2>(path, "relevant_windows", "[[start, end], ...]")?
        .into_iter()
        .map(|(qid, windows)| GroundTruth { qid, windows })
        .collect())
}

pub fn load_predictions(path: &Path) -> Result<Vec<Prediction>, FileError> {
    Ok(load_windows::<3>(path, "pred_relevant_windows", "[[start, end, score], ...]")?
        .into_iter()
        .map(|(qid, windows)| Prediction { qid, windows })
        .collect())
}
