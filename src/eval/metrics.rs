//! Moment-retrieval metrics exactly as the standard QVHighlights evaluation computes them
//! (moment_detr `standalone_eval/eval.py`): R1 takes the first submitted window against its
//! best-matching ground truth; mAP takes the first 10 windows in list order, sorts them by score
//! (stable), matches greedily per IoU threshold with each ground truth used once, and averages
//! interpolated precision; percentages are rounded to two decimals at the end; length buckets
//! keep the ground-truth windows whose length lies in (min, max].

use std::collections::{BTreeMap, HashMap, HashSet};

/// One query's ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    pub qid: String,
    /// `[start, end]` windows in seconds.
    pub windows: Vec<[f64; 2]>,
}

/// One query's ranked predictions `[start, end, score]`, in submission order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub qid: String,
    pub windows: Vec<[f64; 3]>,
}

/// The IoU thresholds of mAP: 0.5, 0.55, ..., 0.95.
pub fn map_thresholds() -> Vec<f64> {
    (0..10).map(|i| round2(0.5 + 0.05 * i as f64)).collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `float(f"{100 * v:.2f}")`.
pub fn percent(v: f64) -> f64 {
    format!("{:.2}", 100.0 * v).parse().unwrap_or(f64::NAN)
}

/// IoU of two windows; zero when the union is empty.
pub fn iou(a: [f64; 2], b: [f64; 2]) -> f64 {
    let inter = (a[1].min(b[1]) - a[0].max(b[0])).max(0.0);
    let union = (a[1] - a[0]) + (b[1] - b[0]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The paired IoU of the R1 computation (its "union" is the hull, equal to the union whenever
/// the windows overlap).
fn iou_hull(a: [f64; 2], b: [f64; 2]) -> f64 {
    let inter = (a[1].min(b[1]) - a[0].max(b[0])).max(0.0);
    let hull = a[1].max(b[1]) - a[0].min(b[0]);
    if hull != 0.0 { inter / hull } else { 0.0 }
}

/// `interpolated_precision_recall` of the ActivityNet toolkit.
fn interpolated_ap(precision: &[f64], recall: &[f64]) -> f64 {
    let mut mprec = Vec::with_capacity(precision.len() + 2);
    mprec.push(0.0);
    mprec.extend_from_slice(precision);
    mprec.push(0.0);
    let mut mrec = Vec::with_capacity(recall.len() + 2);
    mrec.push(0.0);
    mrec.extend_from_slice(recall);
    mrec.push(1.0);
    for i in (0..mprec.len() - 1).rev() {
        mprec[i] = mprec[i].max(mprec[i + 1]);
    }
    let mut ap = 0.0;
    for i in 1..mrec.len() {
        if mrec[i] != mrec[i - 1] {
            ap += (mrec[i] - mrec[i - 1]) * mprec[i];
        }
    }
    ap
}

/// Average precision of one query at each threshold (`compute_average_precision_detection`).
pub fn average_precision(gts: &[[f64; 2]], preds: &[[f64; 3]], thresholds: &[f64]) -> Vec<f64> {
    let mut ap = vec![0.0; thresholds.len()];
    if preds.is_empty() {
        return ap;
    }
    // Stable sort by decreasing score (Python's list.sort).
    let mut order: Vec<usize> = (0..preds.len()).collect();
    order.sort_by(|&a, &b| preds[b][2].total_cmp(&preds[a][2]));
    let n = preds.len();
    let mut tp = vec![vec![0.0; n]; thresholds.len()];
    let mut fp = vec![vec![0.0; n]; thresholds.len()];
    let mut locked = vec![vec![false; gts.len()]; thresholds.len()];
    for (idx, &p) in order.iter().enumerate() {
        if gts.is_empty() {
            for f in fp.iter_mut() {
                f[idx] = 1.0;
            }
            continue;
        }
        let w = [preds[p][0], preds[p][1]];
        let ious: Vec<f64> = gts.iter().map(|g| iou(w, *g)).collect();
        // numpy: argsort ascending (stable for these sizes), then reversed.
        let mut by_iou: Vec<usize> = (0..gts.len()).collect();
        by_iou.sort_by(|&a, &b| ious[a].total_cmp(&ious[b]));
        by_iou.reverse();
        for (t, &thr) in thresholds.iter().enumerate() {
            for &j in &by_iou {
                if ious[j] < thr {
                    fp[t][idx] = 1.0;
                    break;
                }
                if locked[t][j] {
                    continue;
                }
                tp[t][idx] = 1.0;
                locked[t][j] = true;
                break;
            }
            if fp[t][idx] == 0.0 && tp[t][idx] == 0.0 {
                fp[t][idx] = 1.0;
            }
        }
    }
    let positives = gts.len() as f64;
    for t in 0..thresholds.len() {
        let (mut ctp, mut cfp) = (0.0, 0.0);
        let mut precision = Vec::with_capacity(n);
        let mut recall = Vec::with_capacity(n);
        for i in 0..n {
            ctp += tp[t][i];
            cfp += fp[t][i];
            recall.push(ctp / positives);
            precision.push(ctp / (ctp + cfp));
        }
        ap[t] = interpolated_ap(&precision, &recall);
    }
    ap
}

/// `compute_mr_ap`: per threshold (as `"0.5"`, ...) and `"average"`, in percent. Only queries
/// with predictions count, as in the original.
pub fn mr_ap(preds: &[Prediction], gts: &[GroundTruth], max_pred_windows: usize) -> BTreeMap<String, f64> {
    let thresholds = map_thresholds();
    let gt_by_qid: HashMap<&str, &GroundTruth> = gts.iter().map(|g| (g.qid.as_str(), g)).collect();
    let mut sums = vec![0.0; thresholds.len()];
    let mut count = 0usize;
    let mut seen = HashSet::new();
    for p in preds {
        if !seen.insert(p.qid.as_str()) {
            continue;
        }
        let windows: Vec<[f64; 3]> = p.windows.iter().take(max_pred_windows).copied().collect();
        let gt_windows = gt_by_qid.get(p.qid.as_str()).map(|g| g.windows.as_slice()).unwrap_or(&[]);
        for (s, a) in sums.iter_mut().zip(average_precision(gt_windows, &windows, &thresholds)) {
            *s += a;
        }
        count += 1;
    }
    let per: Vec<f64> = sums.iter().map(|s| if count > 0 { s / count as f64 } else { 0.0 }).collect();
    let mut out: BTreeMap<String, f64> =
        thresholds.iter().zip(&per).map(|(t, v)| (format_threshold(*t), percent(*v))).collect();
    let avg = if per.is_empty() { 0.0 } else { per.iter().sum::<f64>() / per.len() as f64 };
    out.insert("average".into(), percent(avg));
    out
}

/// Python's `str(float)` of a threshold: `0.5`, `0.55`, `0.7`.
pub fn format_threshold(t: f64) -> String {
    let s = format!("{t}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// The top-1 window of each query's predictions against its best-matching ground truth, and
/// that pair's IoU (used by R1 and by mIoU).
pub fn top1_ious(preds: &[Prediction], gts: &[GroundTruth]) -> Vec<f64> {
    let pred_by_qid: HashMap<&str, [f64; 2]> =
        preds.iter().filter_map(|p| p.windows.first().map(|w| (p.qid.as_str(), [w[0], w[1]]))).collect();
    let mut out = Vec::new();
    for g in gts {
        let Some(&pw) = pred_by_qid.get(g.qid.as_str()) else { continue };
        let Some(first) = g.windows.first() else { continue };
        // np.argmax: the first maximum.
        let mut best = *first;
        let mut best_iou = iou(pw, *first);
        for w in &g.windows[1..] {
            let v = iou(pw, *w);
            if v > best_iou {
                best = *w;
                best_iou = v;
            }
        }
        out.push(iou_hull(pw, best));
    }
    out
}

/// `compute_mr_r1` at the given thresholds, in percent.
pub fn mr_r1(preds: &[Prediction], gts: &[GroundTruth], thresholds: &[f64]) -> BTreeMap<String, f64> {
    let ious = top1_ious(preds, gts);
    thresholds
        .iter()
        .map(|&t| {
            let hits = ious.iter().filter(|&&v| v >= t).count();
            let frac = if ious.is_empty() { 0.0 } else { hits as f64 / ious.len() as f64 };
            (format_threshold(t), percent(frac))
        })
        .collect()
}

/// Keeps the ground-truth windows whose length is in `(min, max]`, the queries that still have
/// one, and their predictions (`get_data_by_range`).
pub fn by_length(preds: &[Prediction], gts: &[GroundTruth], min: f64, max: f64) -> (Vec<Prediction>, Vec<GroundTruth>) {
    let gts: Vec<GroundTruth> = gts
        .iter()
        .filter_map(|g| {
            let windows: Vec<[f64; 2]> =
                g.windows.iter().copied().filter(|w| min < w[1] - w[0] && w[1] - w[0] <= max).collect();
            (!windows.is_empty()).then(|| GroundTruth { qid: g.qid.clone(), windows })
        })
        .collect();
    let keep: HashSet<&str> = gts.iter().map(|g| g.qid.as_str()).collect();
    let preds = preds.iter().filter(|p| keep.contains(p.qid.as_str())).cloned().collect();
    (preds, gts)
}

/// The keys the standard evaluation prints for moment retrieval.
pub fn qvhighlights_brief(preds: &[Prediction], gts: &[GroundTruth]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let full_ap = mr_ap(preds, gts, 10);
    let full_r1 = mr_r1(preds, gts, &map_thresholds());
    out.insert("MR-full-mAP".into(), full_ap["average"]);
    out.insert("MR-full-mAP@0.5".into(), full_ap["0.5"]);
    out.insert("MR-full-mAP@0.75".into(), full_ap["0.75"]);
    out.insert("MR-full-R1@0.5".into(), full_r1["0.5"]);
    out.insert("MR-full-R1@0.7".into(), full_r1["0.7"]);
    for (name, lo, hi) in [("short", 0.0, 10.0), ("middle", 10.0, 30.0), ("long", 30.0, 150.0)] {
        let (p, g) = by_length(preds, gts, lo, hi);
        let v = if g.is_empty() { 0.0 } else { mr_ap(&p, &g, 10)["average"] };
        out.insert(format!("MR-{name}-mAP"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt(qid: &str, w: &[[f64; 2]]) -> GroundTruth {
        GroundTruth { qid: qid.into(), windows: w.to_vec() }
    }
    fn pred(qid: &str, w: &[[f64; 3]]) -> Prediction {
        Prediction { qid: qid.into(), windows: w.to_vec() }
    }

    #[test]
    fn perfect_predictions_score_100() {
        let g = vec![gt("1", &[[0.0, 10.0]]), gt("2", &[[5.0, 20.0], [30.0, 40.0]])];
        let p = vec![pred("1", &[[0.0, 10.0, 0.9]]), pred("2", &[[5.0, 20.0, 0.9], [30.0, 40.0, 0.8]])];
        let b = qvhighlights_brief(&p, &g);
        assert_eq!(b["MR-full-mAP"], 100.0);
        assert_eq!(b["MR-full-R1@0.7"], 100.0);
    }

    #[test]
    fn ap_uses_score_order_and_each_gt_once() {
        // Two predictions on the same GT: the higher-scored one is the TP, the other an FP.
        let ap = average_precision(&[[0.0, 10.0]], &[[0.0, 10.0, 0.1], [0.0, 10.0, 0.9]], &[0.5]);
        assert!((ap[0] - 1.0).abs() < 1e-12);
        // A wrong prediction ranked first halves precision at the first recall point.
        let ap = average_precision(&[[0.0, 10.0]], &[[50.0, 60.0, 0.9], [0.0, 10.0, 0.5]], &[0.5]);
        assert!((ap[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn r1_uses_the_first_window_as_submitted() {
        let g = vec![gt("1", &[[0.0, 10.0], [20.0, 30.0]])];
        // Highest score is second in the list; R1 still takes the first.
        let p = vec![pred("1", &[[20.0, 30.0, 0.1], [0.0, 10.0, 0.9]])];
        assert_eq!(mr_r1(&p, &g, &[0.5])["0.5"], 100.0);
        let p = vec![pred("1", &[[40.0, 50.0, 0.9], [0.0, 10.0, 0.1]])];
        assert_eq!(mr_r1(&p, &g, &[0.5])["0.5"], 0.0);
    }

    #[test]
    fn length_buckets_are_left_open() {
        let g = vec![gt("a", &[[0.0, 10.0]]), gt("b", &[[0.0, 10.5]]), gt("c", &[[0.0, 30.0], [40.0, 45.0]])];
        let (_, short) = by_length(&[], &g, 0.0, 10.0);
        assert_eq!(short.iter().map(|g| g.qid.as_str()).collect::<Vec<_>>(), vec!["a", "c"]);
        let (_, middle) = by_length(&[], &g, 10.0, 30.0);
        assert_eq!(middle.iter().map(|g| g.qid.as_str()).collect::<Vec<_>>(), vec!["b", "c"]);
        assert_eq!(middle[1].windows, vec![[0.0, 30.0]]);
    }

    #[test]
    fn thresholds_print_like_python() {
        assert_eq!(
            map_thresholds().iter().map(|t| format_threshold(*t)).collect::<Vec<_>>(),
            vec!["0.5", "0.55", "0.6", "0.65", "0.7", "0.75", "0.8", "0.85", "0.9", "0.95"]
        );
    }
}
