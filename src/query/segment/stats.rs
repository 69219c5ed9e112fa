//! Small numeric helpers with NumPy's semantics, so the baseline matches the Python reference.

/// `np.percentile(v, q)` with linear interpolation.
pub fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let pos = (q / 100.0).clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
}

/// Population standard deviation (`np.std`, ddof = 0).
pub fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    if v.is_empty() { 0.0 } else { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt() }
}

/// `np.convolve(v, [0.2, 0.6, 0.2], mode="same")` (zero padding at the ends).
pub fn smooth(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n)
        .map(|i| {
            let left = if i > 0 { v[i - 1] } else { 0.0 };
            let right = if i + 1 < n { v[i + 1] } else { 0.0 };
            0.2 * left + 0.6 * v[i] + 0.2 * right
        })
        .collect()
}

pub fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

/// Temporal IoU; intervals of non-positive length have IoU 0.
pub fn iou(a: (f64, f64), b: (f64, f64)) -> f64 {
    if a.1 <= a.0 || b.1 <= b.0 {
        return 0.0;
    }
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    let union = (a.1 - a.0) + (b.1 - b.0) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&v, 75.0) - 3.25).abs() < 1e-12);
        assert!((percentile(&v, 30.0) - 1.9).abs() < 1e-12);
        assert_eq!(percentile(&[5.0], 85.0), 5.0);
    }

    #[test]
    fn smooth_uses_zero_padding() {
        let s = smooth(&[1.0, 1.0, 1.0]);
        assert!((s[0] - 0.8).abs() < 1e-12 && (s[1] - 1.0).abs() < 1e-12 && (s[2] - 0.8).abs() < 1e-12);
    }

    #[test]
    fn iou_basics() {
        assert_eq!(iou((0.0, 10.0), (0.0, 10.0)), 1.0);
        assert_eq!(iou((0.0, 10.0), (10.0, 20.0)), 0.0);
        assert!((iou((0.0, 10.0), (5.0, 15.0)) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(iou((5.0, 5.0), (0.0, 10.0)), 0.0);
    }
}
