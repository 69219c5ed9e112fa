//! Remixed tasks: a new video cut from annotated source videos, so the answer to a task cannot
//! be looked up.
//!
//! A miner that holds the public annotations answers every dataset task by video id and
//! sentence without watching anything. A remix takes 3 to 6 annotated moments from one or
//! several source videos the validator has fetched, cuts each with a random margin around it
//! (or a random window inside a long one), puts them in random order behind a short random
//! lead-in, and re-encodes the whole with random size, crop, frame rate and quality. The query
//! is the sentence of one included moment; its ground truth is where that moment (and every
//! other annotated moment with the same sentence that the cuts include) lands in the new
//! timeline. Nothing of the original timeline survives: the look-up answer is wrong.
//!
//! [`RemixPlan::draw`] is pure (a plan from sources and a generator, testable without video);
//! [`render`] runs the `ffmpeg` program on a plan. The program, not ffmpeg-next: a multi-input
//! trim + scale + concat graph with an encoder is one command line, where the library would
//! need a hand-built filter graph, encoder and muxer (hundreds of lines) for the same result;
//! `synth` renders its scenes the same way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;

use crate::protocol::round_ms;
use crate::tasks::Interval;

/// One annotated moment of a source video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moment {
    pub query: String,
    pub start: f64,
    pub end: f64,
}

/// A source video the validator holds as a local file, with its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceVideo {
    /// Where the dataset points (its URL or path): what the moments were annotated on.
    pub origin: String,
    pub path: PathBuf,
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub has_audio: bool,
    pub moments: Vec<Moment>,
}

/// How remixes are drawn.
#[derive(Debug, Clone)]
pub struct RemixOptions {
    /// Annotated cuts per remix (inclusive range).
    pub min_cuts: usize,
    pub max_cuts: usize,
    /// A cut never exceeds this; a longer moment is cut to a random window inside it.
    pub max_cut_s: f64,
    /// Shortest cut (a short moment gets a margin to reach it).
    pub min_cut_s: f64,
    /// The margin around a moment is up to this fraction of its length (split at random
    /// between before and after).
    pub max_margin: f64,
    /// Lead-in before the first cut, seconds (range).
    pub lead_in_s: (f64, f64),
    /// Output heights to draw from (clamped to what the sources can fill).
    pub heights: Vec<u32>,
    pub frame_rates: Vec<u32>,
    /// x264 constant rate factor (range, inclusive).
    pub crf: (u8, u8),
    /// Crop per side, fraction of the picture (range).
    pub crop: (f64, f64),
    /// A ground truth shorter than this (a sliver at a cut's edge) is not counted.
    pub min_ground_truth_s: f64,
    /// A plan is redrawn (up to `attempts` times) while the look-up answer (the moments'
    /// original intervals) overlaps a ground truth by this IoU or more.
    pub max_lookup_iou: f64,
    pub attempts: usize,
}

impl Default for RemixOptions {
    fn default() -> Self {
        Self {
            min_cuts: 3,
            max_cuts: 6,
            max_cut_s: 45.0,
            min_cut_s: 3.0,
            max_margin: 0.6,
            lead_in_s: (1.5, 6.0),
            heights: vec![144, 180, 240, 270, 360, 432, 480, 540, 720],
            frame_rates: vec![24, 25, 30],
            crf: (22, 31),
            crop: (0.0, 0.04),
            min_ground_truth_s: 0.5,
            max_lookup_iou: 0.3,
            attempts: 32,
        }
    }
}

/// One piece of a remix: `[src_start, src_end]` of a source, placed at `at` in the new
/// timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cut {
    pub source: usize,
    pub src_start: f64,
    pub src_end: f64,
    pub at: f64,
    /// The moment this cut was drawn around (`None` for the lead-in).
    pub anchor: Option<Moment>,
}

impl Cut {
    pub fn len(&self) -> f64 {
        self.src_end - self.src_start
    }
    pub fn is_empty(&self) -> bool {
        self.len() <= 0.0
    }
    /// The span of this cut in the new timeline.
    pub fn span(&self) -> [f64; 2] {
        [self.at, self.at + self.len()]
    }
}

/// Randomised encoding parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Encoding {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub crf: u8,
    pub preset: &'static str,
    pub gop: u32,
    /// Crop: fraction of the width and height removed, and where the window sits (0..1).
    pub crop: f64,
    pub crop_x: f64,
    pub crop_y: f64,
    pub audio_kbps: u32,
}

/// A drawn remix: the cuts, how it is encoded, the query and its ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemixPlan {
    pub cuts: Vec<Cut>,
    pub encoding: Encoding,
    pub query: String,
    /// The cut whose anchor is the query's moment.
    pub query_cut: usize,
    pub ground_truths: Vec<Interval>,
    pub duration: f64,
}

/// Sentences compare equal when they differ only in case and spacing.
pub fn same_sentence(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>();
    norm(a) == norm(b)
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

impl RemixPlan {
    /// Draws a remix from `sources` (each needs a duration and at least one moment inside
    /// it). `None` when no source has a usable moment. Plans where the annotation's own
    /// interval would still be a good answer (look-up IoU ≥ `max_lookup_iou`: short sources
    /// with evenly long moments make that happen by chance) are redrawn; after `attempts`, the
    /// plan with the lowest look-up IoU is taken.
    pub fn draw(sources: &[SourceVideo], opts: &RemixOptions, rng: &mut impl Rng) -> Option<Self> {
        let mut best: Option<(f64, Self)> = None;
        for _ in 0..opts.attempts.max(1) {
            let plan = Self::draw_once(sources, opts, rng)?;
            let lookup = plan.lookup_iou(sources);
            if lookup < opts.max_lookup_iou {
                return Some(plan);
            }
            if best.as_ref().is_none_or(|(b, _)| lookup < *b) {
                best = Some((lookup, plan));
            }
        }
        best.map(|(_, p)| p)
    }

    /// The best IoU a look-up answer gets: any annotated interval of the query's sentence in
    /// the sources, read as a time in the remix, against any ground truth.
    pub fn lookup_iou(&self, sources: &[SourceVideo]) -> f64 {
        let originals: Vec<[f64; 2]> = sources
            .iter()
            .flat_map(|s| s.moments.iter())
            .filter(|m| same_sentence(&m.query, &self.query))
            .map(|m| [m.start, m.end])
            .collect();
        self.ground_truths
            .iter()
            .flat_map(|g| originals.iter().map(move |o| crate::eval::metrics::iou([g.start, g.end], *o)))
            .fold(0.0, f64::max)
    }

    fn draw_once(sources: &[SourceVideo], opts: &RemixOptions, rng: &mut impl Rng) -> Option<Self> {
        let usable: Vec<(usize, &Moment)> = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.duration > 0.0)
            .flat_map(|(i, s)| {
                s.moments.iter().filter(move |m| m.end > m.start && m.start < s.duration).map(move |m| (i, m))
            })
            .collect();
        if usable.is_empty() {
            return None;
        }
        let want = rng.random_range(opts.min_cuts.max(1)..=opts.max_cuts.max(opts.min_cuts.max(1)));
        // Distinct moments first, in random order; repeats only when there are too few.
        let mut order: Vec<usize> = (0..usable.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let picks: Vec<usize> = (0..want.max(1)).map(|k| order[k % order.len()]).collect();

        let mut cuts = Vec::with_capacity(picks.len() + 1);
        // The lead-in: a random stretch of a random source, so nothing starts where its
        // original did.
        let lead_src = rng.random_range(0..sources.len());
        let lead_len = rng.random_range(opts.lead_in_s.0..=opts.lead_in_s.1.max(opts.lead_in_s.0));
        let lead_dur = sources[lead_src].duration;
        if lead_dur > 0.5 {
            let len = lead_len.min(lead_dur);
            let start = rng.random_range(0.0..=(lead_dur - len).max(0.0));
            cuts.push(Cut {
                source: lead_src,
                src_start: round_ms(start),
                src_end: round_ms(start + len),
                at: 0.0,
                anchor: None,
            });
        }
        for &p in &picks {
            let (si, m) = usable[p];
            let dur = sources[si].duration;
            let (m_start, m_end) = (m.start.max(0.0), m.end.min(dur));
            let m_len = m_end - m_start;
            let (start, end) = if m_len >= opts.max_cut_s {
                let len = opts.max_cut_s * rng.random_range(0.6..=1.0);
                let s = rng.random_range(m_start..=(m_end - len));
                (s, s + len)
            } else {
                let margin = (m_len * rng.random_range(0.1..=opts.max_margin.max(0.1)))
                    .max(opts.min_cut_s - m_len)
                    .min(opts.max_cut_s - m_len);
                let before = margin * rng.random_range(0.0..=1.0);
                ((m_start - before).max(0.0), (m_end + margin - before).min(dur))
            };
            cuts.push(Cut {
                source: si,
                src_start: round_ms(start),
                src_end: round_ms(end),
                at: 0.0,
                anchor: Some(m.clone()),
            });
        }
        let mut at = 0.0;
        for c in &mut cuts {
            c.at = round_ms(at);
            at += c.len();
        }
        let anchored: Vec<usize> = (0..cuts.len()).filter(|&k| cuts[k].anchor.is_some()).collect();
        let query_cut = anchored[rng.random_range(0..anchored.len())];
        let query = cuts[query_cut].anchor.as_ref().map(|m| m.query.clone()).unwrap_or_default();
        let ground_truths = ground_truths(&cuts, sources, &query, opts.min_ground_truth_s);

        let max_h = sources.iter().map(|s| s.height).max().unwrap_or(240) as f64;
        let heights: Vec<u32> = opts
            .heights
            .iter()
            .copied()
            .filter(|&h| f64::from(h) <= max_h * 1.5 && f64::from(h) >= max_h * 0.5)
            .collect();
        let height = match heights.len() {
            0 => even(max_h),
            n => heights[rng.random_range(0..n)],
        };
        let first = &sources[cuts.first().map_or(0, |c| c.source)];
        let native = if first.height > 0 { f64::from(first.width) / f64::from(first.height) } else { 16.0 / 9.0 };
        let aspect = [native, native, 16.0 / 9.0, 4.0 / 3.0][rng.random_range(0..4)];
        let fps = opts.frame_rates.get(rng.random_range(0..opts.frame_rates.len().max(1))).copied().unwrap_or(25);
        let encoding = Encoding {
            width: even(f64::from(height) * aspect),
            height: even(f64::from(height)),
            fps,
            crf: rng.random_range(opts.crf.0..=opts.crf.1.max(opts.crf.0)),
            preset: ["veryfast", "faster", "fast"][rng.random_range(0..3)],
            gop: fps * rng.random_range(2..=10),
            crop: rng.random_range(opts.crop.0..=opts.crop.1.max(opts.crop.0)),
            crop_x: rng.random_range(0.0..=1.0),
            crop_y: rng.random_range(0.0..=1.0),
            audio_kbps: [96, 128, 160][rng.random_range(0..3)],
        };
        Some(Self { duration: round_ms(at), cuts, encoding, query, query_cut, ground_truths })
    }

    /// Maps a source time of cut `cut` into the new timeline (`None` outside the cut).
    pub fn to_remix(&self, cut: usize, source_t: f64) -> Option<f64> {
        let c = self.cuts.get(cut)?;
        (c.src_start..=c.src_end).contains(&source_t).then_some(c.at + source_t - c.src_start)
    }
}

/// Where every annotated moment with sentence `query` lands in the new timeline: each cut's
/// overlap with such a moment, adjacent pieces merged, slivers under `min_len` dropped.
pub fn ground_truths(cuts: &[Cut], sources: &[SourceVideo], query: &str, min_len: f64) -> Vec<Interval> {
    let mut pieces: Vec<[f64; 2]> = Vec::new();
    for c in cuts {
        for m in sources[c.source].moments.iter().filter(|m| same_sentence(&m.query, query)) {
            let (s, e) = (m.start.max(c.src_start), m.end.min(c.src_end));
            if e - s >= min_len.min(m.end - m.start) && e > s {
                pieces.push([c.at + s - c.src_start, c.at + e - c.src_start]);
            }
        }
    }
    pieces.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut merged: Vec<[f64; 2]> = Vec::new();
    for p in pieces {
        match merged.last_mut() {
            Some(last) if p[0] <= last[1] + 0.05 => last[1] = last[1].max(p[1]),
            _ => merged.push(p),
        }
    }
    merged.into_iter().map(|[s, e]| Interval { start: round_ms(s), end: round_ms(e) }).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("ffmpeg (the command-line tool) is needed to render remixes: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("ffmpeg failed to render the remix ({status}): {stderr}")]
    Failed { status: std::process::ExitStatus, stderr: String },
    #[error("reading the rendered remix: {0}")]
    Io(#[source] std::io::Error),
}

impl From<crate::ffmpeg_tool::ToolError> for RenderError {
    fn from(e: crate::ffmpeg_tool::ToolError) -> Self {
        match e {
            crate::ffmpeg_tool::ToolError::Spawn(e) => Self::Spawn(e),
            crate::ffmpeg_tool::ToolError::Failed { status, stderr } => Self::Failed { status, stderr },
        }
    }
}

/// What rendering took.
#[derive(Debug, Clone, Serialize)]
pub struct RenderStats {
    pub seconds: f64,
    pub bytes: u64,
}

/// The ffmpeg arguments that render `plan` to `out` (MP4: H.264 + AAC).
pub fn ffmpeg_args(plan: &RemixPlan, sources: &[SourceVideo], out: &Path) -> Vec<String> {
    let e = &plan.encoding;
    let mut args: Vec<String> = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"].map(String::from).to_vec();
    for c in &plan.cuts {
        args.extend(["-ss".into(), format!("{:.3}", c.src_start), "-t".into(), format!("{:.3}", c.len())]);
        args.extend(["-i".into(), sources[c.source].path.display().to_string()]);
    }
    let keep = 1.0 - 2.0 * e.crop;
    let mut graph = String::new();
    let mut concat = String::new();
    for (k, c) in plan.cuts.iter().enumerate() {
        let d = format!("{:.3}", c.len());
        graph.push_str(&format!(
            "[{k}:v]crop=iw*{keep:.4}:ih*{keep:.4}:(iw-ow)*{x:.3}:(ih-oh)*{y:.3},\
             scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,\
             fps={fps},format=yuv420p,trim=duration={d},setpts=PTS-STARTPTS[v{k}];",
            x = e.crop_x,
            y = e.crop_y,
            w = e.width,
            h = e.height,
            fps = e.fps,
        ));
        // Silence where a source has no sound, so every remix has an audio track.
        if sources[c.source].has_audio {
            graph.push_str(&format!(
                "[{k}:a]aresample=44100,aformat=sample_fmts=fltp:channel_layouts=stereo,apad,atrim=duration={d},asetpts=PTS-STARTPTS[a{k}];"
            ));
        } else {
            graph.push_str(&format!(
                "anullsrc=r=44100:cl=stereo,aformat=sample_fmts=fltp,atrim=duration={d},asetpts=PTS-STARTPTS[a{k}];"
            ));
        }
        concat.push_str(&format!("[v{k}][a{k}]"));
    }
    graph.push_str(&format!("{concat}concat=n={}:v=1:a=1[v][a]", plan.cuts.len()));
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[v]".into(), "-map".into(), "[a]".into()]);
    args.extend(["-c:v", "libx264", "-preset", e.preset].map(String::from));
    args.extend([
        "-crf".into(),
        e.crf.to_string(),
        "-g".into(),
        e.gop.to_string(),
        "-pix_fmt".into(),
        "yuv420p".into(),
    ]);
    args.extend(["-c:a".into(), "aac".into(), "-b:a".into(), format!("{}k", e.audio_kbps)]);
    // Nothing in the file says when or with which settings it was made: no container
    // metadata or muxer version, and no x264 settings message (SEI NAL units, which would
    // print the CRF and preset drawn for this task).
    args.extend(["-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact"].map(String::from));
    args.extend(
        ["-flags:a", "+bitexact", "-bsf:v", "filter_units=remove_types=6", "-movflags", "+faststart"].map(String::from),
    );
    args.extend(["-f".into(), "mp4".into(), out.display().to_string()]);
    args
}

/// Whether the `ffmpeg` program runs (remix mode checks at start, not at the first step).
pub async fn check_ffmpeg() -> Result<(), RenderError> {
    Ok(crate::ffmpeg_tool::check().await?)
}

/// Renders `plan` to `out` with the `ffmpeg` program. The child is killed if this future is
/// dropped (a cancelled step leaves no encoder running) and dies with a killed validator.
pub async fn render(plan: &RemixPlan, sources: &[SourceVideo], out: &Path) -> Result<RenderStats, RenderError> {
    let started = Instant::now();
    crate::ffmpeg_tool::run(&ffmpeg_args(plan, sources, out), out).await?;
    let bytes = std::fs::metadata(out).map_err(RenderError::Io)?.len();
    Ok(RenderStats { seconds: started.elapsed().as_secs_f64(), bytes })
}

/// How long a plan's render is allowed before it is abandoned.
pub fn render_budget(plan: &RemixPlan) -> Duration {
    Duration::from_secs_f64(60.0 + plan.duration * 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn source(origin: &str, duration: f64, moments: &[(&str, f64, f64)]) -> SourceVideo {
        SourceVideo {
            origin: origin.into(),
            path: PathBuf::from(origin),
            duration,
            width: 320,
            height: 240,
            has_audio: false,
            moments: moments.iter().map(|&(q, s, e)| Moment { query: q.into(), start: s, end: e }).collect(),
        }
    }

    fn sources() -> Vec<SourceVideo> {
        vec![
            source(
                "a",
                30.0,
                &[("a red screen", 0.0, 10.0), ("a green screen", 10.0, 20.0), ("a blue screen", 20.0, 30.0)],
            ),
            source(
                "b",
                12.0,
                &[("a yellow screen", 0.0, 4.0), ("a magenta screen", 4.0, 8.0), ("a cyan screen", 8.0, 12.0)],
            ),
        ]
    }

    #[test]
    fn cuts_tile_the_new_timeline_and_the_query_moment_is_in_its_ground_truth() {
        let src = sources();
        for seed in 0..200 {
            let plan = RemixPlan::draw(&src, &RemixOptions::default(), &mut StdRng::seed_from_u64(seed)).unwrap();
            let anchored = plan.cuts.iter().filter(|c| c.anchor.is_some()).count();
            assert!((3..=6).contains(&anchored), "{anchored}");
            assert!(plan.cuts[0].anchor.is_none(), "a lead-in comes first");
            let mut at = 0.0;
            for c in &plan.cuts {
                assert!((c.at - at).abs() < 0.002, "{plan:?}");
                assert!(c.len() > 0.0 && c.src_start >= 0.0 && c.src_end <= src[c.source].duration + 1e-9);
                at += c.len();
            }
            assert!((plan.duration - at).abs() < 0.002);
            // The query cut's moment is inside its cut and its new place is a ground truth.
            let q = &plan.cuts[plan.query_cut];
            let m = q.anchor.as_ref().unwrap();
            assert_eq!(m.query, plan.query);
            let (s, e) = (m.start.max(q.src_start), m.end.min(q.src_end));
            let (ns, ne) = (plan.to_remix(plan.query_cut, s).unwrap(), plan.to_remix(plan.query_cut, e).unwrap());
            assert!(
                plan.ground_truths.iter().any(|g| g.start <= ns + 0.002 && g.end >= ne - 0.002),
                "{:?} vs [{ns}, {ne}]",
                plan.ground_truths
            );
            assert!(plan.encoding.width.is_multiple_of(2) && plan.encoding.height.is_multiple_of(2));
        }
    }

    #[test]
    fn ground_truths_cover_every_cut_of_the_sentence_and_merge_adjacent_pieces() {
        let src = sources();
        let cuts = vec![
            // Ends with 2 s of green, then the green moment itself: one interval [8, 15].
            Cut { source: 0, src_start: 2.0, src_end: 12.0, at: 0.0, anchor: None },
            Cut { source: 0, src_start: 10.0, src_end: 15.0, at: 10.0, anchor: None },
            Cut { source: 1, src_start: 0.0, src_end: 4.0, at: 15.0, anchor: None },
            // A 0.2 s sliver of green at the start of this cut is not counted.
            Cut { source: 0, src_start: 19.8, src_end: 25.0, at: 19.0, anchor: None },
            // Green again, later.
            Cut { source: 0, src_start: 12.0, src_end: 14.0, at: 24.2, anchor: None },
        ];
        let gt = ground_truths(&cuts, &src, "A  Green screen", 0.5);
        assert_eq!(gt, vec![Interval { start: 8.0, end: 15.0 }, Interval { start: 24.2, end: 26.2 }]);
        assert!(ground_truths(&cuts, &src, "a purple screen", 0.5).is_empty());
    }

    #[test]
    fn the_same_seed_draws_the_same_plan_and_another_seed_another() {
        let src = sources();
        let o = RemixOptions::default();
        let a = RemixPlan::draw(&src, &o, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(a, RemixPlan::draw(&src, &o, &mut StdRng::seed_from_u64(1)).unwrap());
        assert_ne!(a, RemixPlan::draw(&src, &o, &mut StdRng::seed_from_u64(2)).unwrap());
        assert!(RemixPlan::draw(&[source("c", 10.0, &[])], &o, &mut StdRng::seed_from_u64(1)).is_none());
    }

    #[test]
    fn the_look_up_answer_is_never_a_good_one() {
        let src = sources();
        let o = RemixOptions::default();
        for seed in 0..300 {
            let plan = RemixPlan::draw(&src, &o, &mut StdRng::seed_from_u64(seed)).unwrap();
            assert!(plan.lookup_iou(&src) < o.max_lookup_iou, "seed {seed}: {plan:?}");
        }
    }

    #[test]
    fn a_long_moment_is_cut_to_a_window_inside_it() {
        let src = vec![source("long", 600.0, &[("someone talks", 10.0, 400.0)])];
        let plan = RemixPlan::draw(&src, &RemixOptions::default(), &mut StdRng::seed_from_u64(3)).unwrap();
        for c in plan.cuts.iter().filter(|c| c.anchor.is_some()) {
            assert!(c.len() <= 45.0 + 1e-9 && c.src_start >= 10.0 && c.src_end <= 400.0, "{c:?}");
        }
    }
}
