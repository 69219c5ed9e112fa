//! The similarity timeline: cosine similarity of the query with every stored frame (one
//! matrix-vector product over L2-normalised rows), then min-max normalised over the video as
//! the reference does.

use crate::index::FrameMatrix;

/// `frames · query` for every frame. Rows and query are L2-normalised, so this is the cosine.
pub fn cosine_timeline(frames: &FrameMatrix, query: &[f32]) -> Vec<f32> {
    debug_assert_eq!(frames.dim, query.len());
    frames.data.chunks_exact(frames.dim).map(|row| row.iter().zip(query).map(|(a, b)| a * b).sum()).collect()
}

/// `1 - cos` between each frame and the next (rows are L2-normalised): large at shot cuts.
pub fn frame_changes(frames: &FrameMatrix) -> Vec<f64> {
    (1..frames.len())
        .map(|i| 1.0 - frames.row(i - 1).iter().zip(frames.row(i)).map(|(a, b)| a * b).sum::<f32>() as f64)
        .collect()
}

/// Min-max normalisation to [0, 1]; a flat curve becomes 0.5 everywhere (reference behaviour).
pub fn min_max_normalize(scores: &[f32]) -> Vec<f64> {
    let (lo, hi) = scores.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = (hi - lo) as f64;
    if !range.is_finite() || range <= 1e-12 {
        return vec![0.5; scores.len()];
    }
    scores.iter().map(|&v| (v - lo) as f64 / range).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_is_dot_product_per_row() {
        let frames = FrameMatrix {
            dim: 2,
            timestamps_ms: vec![0, 1000, 2000],
            data: vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8],
            cuts_us: None,
        };
        let t = cosine_timeline(&frames, &[0.6, 0.8]);
        assert_eq!(t.len(), 3);
        assert!((t[0] - 0.6).abs() < 1e-6 && (t[1] - 0.8).abs() < 1e-6 && (t[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn min_max_maps_to_unit_interval_and_flat_to_half() {
        assert_eq!(min_max_normalize(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(min_max_normalize(&[0.3, 0.3]), vec![0.5, 0.5]);
        assert!(min_max_normalize(&[]).is_empty());
    }
}
