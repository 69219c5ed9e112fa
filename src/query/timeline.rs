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

/// Where, between each sample and the next, the picture passes from the one to the other,
/// estimated from the embeddings (`len - 1` times, in seconds). Each of the two samples is
/// placed on the line from the sample before them to the sample after them (how far it has
/// turned from the old picture to the new, 0 to 1), and the boundary is where that line
/// crosses one half between them. A cut between two steady shots gives 0 and 1: midway, as
/// before. In a dissolve a sample caught mid-way (0.3 of the new picture, say) moves the
/// boundary towards the dissolve's middle, which the sampling alone misses by up to half a
/// sample. Where the two samples show no clear turn (less than 0.2 apart), midway.
pub fn turning_points(frames: &FrameMatrix, times_s: &[f64]) -> Vec<f64> {
    let n = frames.len();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum::<f64>();
    (0..n.saturating_sub(1))
        .map(|i| {
            let (t0, t1) = (times_s[i], times_s[i + 1]);
            let middle = (t0 + t1) / 2.0;
            let (a, b) = (frames.row(i.saturating_sub(1)), frames.row((i + 2).min(n - 1)));
            let d: Vec<f32> = b.iter().zip(a).map(|(y, x)| y - x).collect();
            let dd = dot(&d, &d);
            if dd < 1e-6 {
                return middle;
            }
            let turned = |x: &[f32]| {
                let ax: Vec<f32> = x.iter().zip(a).map(|(p, q)| p - q).collect();
                (dot(&ax, &d) / dd).clamp(0.0, 1.0)
            };
            let (f0, f1) = (turned(frames.row(i)), turned(frames.row(i + 1)));
            if f1 - f0 < 0.2 {
                return middle;
            }
            t0 + ((0.5 - f0) / (f1 - f0)).clamp(0.0, 1.0) * (t1 - t0)
        })
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
    fn a_dissolve_moves_the_turning_point_off_the_middle_and_a_cut_keeps_it() {
        let mut frames = FrameMatrix::new(2);
        // Samples at 0..6 s: picture A, A, A, a dissolve caught 0.3 of the way to B, B, B.
        for row in [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.7, 0.3], [0.0, 1.0], [0.0, 1.0]] {
            frames.push(frames.len() as i64 * 1000, &row);
        }
        let t = turning_points(&frames, &frames.times_s());
        assert_eq!(t.len(), 5);
        assert_eq!((t[0], t[1], t[4]), (0.5, 1.5, 4.5), "no turn: midway");
        assert_eq!(t[2], 3.0, "half way to B only after the mixed sample: {t:?}");
        assert!((t[3] - (3.0 + 0.2 / 0.7)).abs() < 1e-6, "0.3 at 3 s, 1 at 4 s: 0.5 at 3.29 s: {t:?}");
        // A cut between steady shots: midway.
        let mut cut = FrameMatrix::new(2);
        for row in [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]] {
            cut.push(cut.len() as i64 * 1000, &row);
        }
        assert_eq!(turning_points(&cut, &cut.times_s())[1], 1.5);
    }

    #[test]
    fn min_max_maps_to_unit_interval_and_flat_to_half() {
        assert_eq!(min_max_normalize(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(min_max_normalize(&[0.3, 0.3]), vec![0.5, 0.5]);
        assert!(min_max_normalize(&[]).is_empty());
    }
}
