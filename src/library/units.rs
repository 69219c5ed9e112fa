//! What the approximate stage indexes: every stored frame, or one vector per shot (the mean of
//! the frames between two cuts, as the `snap` segmenter finds them, re-normalised). Shots are
//! fewer vectors and do not flood the candidate list with one video's near-identical frames;
//! frames keep every moment reachable. README ("Search your library") has the measured
//! comparison; frames are the default.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::index::FrameMatrix;
use crate::query::segment::contrast::shot_cuts;
use crate::query::timeline::frame_changes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexUnit {
    #[default]
    Frame,
    Shot,
}

impl IndexUnit {
    pub const NAMES: &'static [&'static str] = &["frame", "shot"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Frame => "frame",
            Self::Shot => "shot",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown index unit '{0}' (available: frame, shot)")]
pub struct UnknownIndexUnit(pub String);

impl FromStr for IndexUnit {
    type Err = UnknownIndexUnit;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "frame" => Ok(Self::Frame),
            "shot" => Ok(Self::Shot),
            other => Err(UnknownIndexUnit(other.to_string())),
        }
    }
}

/// The vectors one video contributes, row-major (`dim` floats each), all L2-normalised.
/// Frames that repeat the previous row exactly (near-duplicates share one embedding, see
/// `ingest::dedup`) are left out: a graph gains nothing from copies of a point.
pub fn unit_vectors(unit: IndexUnit, frames: &FrameMatrix) -> Vec<f32> {
    let dim = frames.dim;
    match unit {
        IndexUnit::Frame => {
            let mut out = Vec::with_capacity(frames.data.len());
            for i in 0..frames.len() {
                let row = frames.row(i);
                if i > 0 && row == frames.row(i - 1) {
                    continue;
                }
                out.extend_from_slice(row);
            }
            out
        }
        IndexUnit::Shot => {
            let n = frames.len();
            if n == 0 {
                return Vec::new();
            }
            let mut bounds: Vec<usize> = shot_cuts(&frame_changes(frames)).into_iter().map(|c| c + 1).collect();
            bounds.insert(0, 0);
            bounds.push(n);
            let mut out = Vec::with_capacity((bounds.len() - 1) * dim);
            for w in bounds.windows(2) {
                let mut mean = vec![0f32; dim];
                for i in w[0]..w[1] {
                    mean.iter_mut().zip(frames.row(i)).for_each(|(m, v)| *m += v);
                }
                let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    mean.iter_mut().for_each(|x| *x /= norm);
                    out.extend_from_slice(&mean);
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[[f32; 2]]) -> FrameMatrix {
        let mut m = FrameMatrix::new(2);
        for (i, r) in rows.iter().enumerate() {
            m.push(i as i64 * 1000, r);
        }
        m
    }

    #[test]
    fn frames_drop_exact_repeats_only() {
        let m = matrix(&[[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [1.0, 0.0]]);
        assert_eq!(unit_vectors(IndexUnit::Frame, &m), vec![1.0, 0.0, 0.6, 0.8, 1.0, 0.0]);
    }

    #[test]
    fn shots_are_normalised_means_between_cuts() {
        // Ten frames of one direction, then ten of another: one cut, two shots.
        let mut rows = vec![[1.0, 0.0]; 10];
        rows.extend(vec![[0.0, 1.0]; 10]);
        let v = unit_vectors(IndexUnit::Shot, &matrix(&rows));
        assert_eq!(v.len(), 4, "{v:?}");
        assert!((v[0] - 1.0).abs() < 1e-6 && v[1].abs() < 1e-6 && v[2].abs() < 1e-6 && (v[3] - 1.0).abs() < 1e-6);
    }
}
