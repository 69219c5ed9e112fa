//! `--task-mode remix`: turns a sampled dataset task into a remixed task the validator serves
//! itself, and (at `--consistency-rate`) a second request for the same moment in its original
//! video, whose answer must agree with the remix's after the known time shift.
//!
//! Each step: the sampled task's video joins the source cache (fetched once), up to
//! `max_sources - 1` other cached videos are drawn beside it, a [`RemixPlan`] is drawn over
//! their annotated moments, rendered into the media folder and published under a fresh token
//! for the step's deadline. Miners receive `<public base>/media/<token>`: the same shape as a
//! proxied organic video.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;

use super::media::{MediaError, MediaRegistry, Published, Token};
use super::remix::{Moment, RemixOptions, RemixPlan, RenderError, RenderStats, SourceVideo, render, render_budget};
use super::sources::{CachedSource, SourceCache, SourceError};
use crate::protocol::{SearchResult, VideoUrl};
use crate::tasks::Task;

/// The consistency rule (README, next to `ranked`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Consistency {
    /// Fraction of remix steps that also send the moment's original video.
    pub rate: f64,
    /// Least IoU, in the original timeline, between the two top windows for them to agree.
    pub tolerance: f64,
    /// Fraction of the step score lost when they disagree.
    pub penalty: f64,
}

impl Default for Consistency {
    fn default() -> Self {
        Self { rate: 0.1, tolerance: 0.5, penalty: 0.5 }
    }
}

impl Consistency {
    /// Whether a miner's top window on the remix (`remix`) and on the original video
    /// (`original`) name the same moment. The remix window must lie mostly (half or more)
    /// inside one cut of the query moment's source video; it is clipped to that cut and mapped
    /// back to the source's timeline. The original window is clipped to the same source range
    /// (the remix cannot show anything outside it). They agree when their IoU reaches
    /// `tolerance`. A missing answer on either side disagrees.
    pub fn agrees(&self, plan: &RemixPlan, remix: Option<&SearchResult>, original: Option<&SearchResult>) -> bool {
        let (Some(r), Some(o)) = (remix, original) else { return false };
        let source = plan.cuts[plan.query_cut].source;
        let overlap = |c: &super::remix::Cut| {
            let [at, end] = c.span();
            (r.end.min(end) - r.start.max(at)).max(0.0)
        };
        let Some(cut) =
            plan.cuts.iter().filter(|c| c.source == source).max_by(|a, b| overlap(a).total_cmp(&overlap(b)))
        else {
            return false;
        };
        let [at, end] = cut.span();
        let (rs, re) = (r.start.max(at), r.end.min(end));
        if re.partial_cmp(&rs) != Some(std::cmp::Ordering::Greater) || (re - rs) < 0.5 * (r.end - r.start) {
            return false;
        }
        let mapped = [cut.src_start + rs - at, cut.src_start + re - at];
        let clipped = [o.start.max(cut.src_start), o.end.min(cut.src_end)];
        if clipped[1].partial_cmp(&clipped[0]) != Some(std::cmp::Ordering::Greater) {
            return false;
        }
        crate::eval::metrics::iou(mapped, clipped) >= self.tolerance
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemixError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("rendering the remix took longer than {0:?}")]
    RenderTimeout(Duration),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("no cached source video has an annotated moment")]
    NoMoments,
    #[error("the media URL {0} is not an http(s) URL miners can fetch")]
    BadPublicUrl(String),
}

/// What a step reports about its remix.
#[derive(Debug, Clone, Serialize)]
pub struct RemixSummary {
    pub sources: usize,
    pub cuts: usize,
    pub duration_s: f64,
    pub render_s: f64,
    pub bytes: u64,
    pub consistency_probe: bool,
}

/// A remixed task ready to send.
#[derive(Debug)]
pub struct PreparedRemix {
    pub plan: RemixPlan,
    pub url: VideoUrl,
    pub published: Published,
    pub render: RenderStats,
    /// The moment's original video, served under its own token (a consistency probe).
    pub original: Option<(VideoUrl, Published)>,
    pub sources: usize,
}

impl PreparedRemix {
    pub fn summary(&self) -> RemixSummary {
        RemixSummary {
            sources: self.sources,
            cuts: self.plan.cuts.len(),
            duration_s: self.plan.duration,
            render_s: self.render.seconds,
            bytes: self.render.bytes,
            consistency_probe: self.original.is_some(),
        }
    }
}

/// Makes remixed tasks.
#[derive(Debug)]
pub struct Remixer {
    media: std::sync::Arc<MediaRegistry>,
    public_base: url::Url,
    sources: tokio::sync::Mutex<SourceCache>,
    /// Annotated moments per dataset video (its URL or path as the tasks name it).
    moments: BTreeMap<String, Vec<Moment>>,
    pub options: RemixOptions,
    pub consistency: Consistency,
    /// Videos one remix draws from, at most.
    pub max_sources: usize,
}

impl Remixer {
    /// `public_base` is the address miners reach this validator's `/media` at
    /// (`http://203.0.113.7:8010`).
    pub fn new(
        media: std::sync::Arc<MediaRegistry>,
        public_base: url::Url,
        sources: SourceCache,
        tasks: &[Task],
        options: RemixOptions,
        consistency: Consistency,
    ) -> Result<Self, RemixError> {
        let check = media_url(&public_base, &Token::parse(&"A".repeat(43)).expect("43 base64url characters"));
        check.map_err(|_| RemixError::BadPublicUrl(public_base.to_string()))?;
        Ok(Self {
            media,
            public_base,
            sources: tokio::sync::Mutex::new(sources),
            moments: moments_by_video(tasks),
            options,
            consistency,
            max_sources: 3,
        })
    }

    pub fn media(&self) -> &std::sync::Arc<MediaRegistry> {
        &self.media
    }

    pub fn media_url(&self, token: &Token) -> VideoUrl {
        media_url(&self.public_base, token).expect("checked when the remixer was made")
    }

    /// A remix around `task`'s video (fetched into the source cache if new) and up to
    /// `max_sources - 1` cached others, published for `ttl`.
    pub async fn prepare(&self, task: &Task, rng: &mut impl Rng, ttl: Duration) -> Result<PreparedRemix, RemixError> {
        let mut cache = self.sources.lock().await;
        let anchor = match cache.ensure(&task.video_url).await {
            Ok(s) => Some(s),
            Err(e) => {
                // The cache may still hold enough to remix from.
                tracing::warn!(error = %e, "task video could not be cached; remixing from the cached ones");
                None
            }
        };
        let mut others: Vec<_> = cache
            .all()
            .filter(|s| Some(&s.origin) != anchor.as_ref().map(|a| &a.origin))
            .filter(|s| self.moments.get(&s.origin).is_some_and(|m| !m.is_empty()))
            .cloned()
            .collect();
        let mut chosen: Vec<_> = anchor.into_iter().collect();
        let want = rng.random_range(1..=self.max_sources.max(1));
        while chosen.len() < want && !others.is_empty() {
            chosen.push(others.swap_remove(rng.random_range(0..others.len())));
        }
        let sources: Vec<SourceVideo> = chosen.iter().map(|s| source_video(&cache, s, &self.moments)).collect();
        cache.touch(&chosen.iter().map(|s| s.origin.as_str()).collect::<Vec<_>>());
        drop(cache);
        let plan = RemixPlan::draw(&sources, &self.options, rng).ok_or(RemixError::NoMoments)?;
        let part = self.media.scratch_path("mp4");
        let budget = render_budget(&plan);
        let rendered = tokio::time::timeout(budget, render(&plan, &sources, &part)).await;
        let stats = match rendered {
            Ok(r) => r.inspect_err(|_| {
                let _ = std::fs::remove_file(&part);
            })?,
            Err(_) => {
                let _ = std::fs::remove_file(&part);
                return Err(RemixError::RenderTimeout(budget));
            }
        };
        let published = self.media.publish(&part, false, ttl)?;
        let original = if rng.random_bool(self.consistency.rate.clamp(0.0, 1.0)) {
            let src = &sources[plan.cuts[plan.query_cut].source];
            let p = self.media.publish(&src.path, true, ttl)?;
            Some((self.media_url(&p.token), p))
        } else {
            None
        };
        tracing::info!(
            cuts = plan.cuts.len(),
            sources = sources.len(),
            duration_s = plan.duration,
            render_s = stats.seconds,
            bytes = stats.bytes,
            probe = original.is_some(),
            "remix rendered"
        );
        Ok(PreparedRemix {
            url: self.media_url(&published.token),
            plan,
            published,
            render: stats,
            original,
            sources: sources.len(),
        })
    }
}

/// Every annotated moment of each dataset video (keyed by the URL or path the tasks name).
pub fn moments_by_video(tasks: &[Task]) -> BTreeMap<String, Vec<Moment>> {
    let mut moments: BTreeMap<String, Vec<Moment>> = BTreeMap::new();
    for t in tasks {
        let list = moments.entry(t.video_url.clone()).or_default();
        for g in t.ground_truths.iter().filter(|g| g.end > g.start) {
            let m = Moment { query: t.query.clone(), start: g.start, end: g.end };
            if !list.contains(&m) {
                list.push(m);
            }
        }
    }
    moments
}

/// A cached video with its annotations, ready to cut.
pub fn source_video(cache: &SourceCache, s: &CachedSource, moments: &BTreeMap<String, Vec<Moment>>) -> SourceVideo {
    SourceVideo {
        origin: s.origin.clone(),
        path: cache.path_of(s),
        duration: s.duration,
        width: s.width,
        height: s.height,
        has_audio: s.has_audio,
        moments: moments.get(&s.origin).cloned().unwrap_or_default(),
    }
}

/// `<base>/media/<token>` as a URL miners accept.
pub fn media_url(base: &url::Url, token: &Token) -> Result<VideoUrl, crate::protocol::VideoUrlError> {
    let base = base.as_str().trim_end_matches('/');
    VideoUrl::parse(&format!("{base}/media/{token}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::remix::{Cut, Encoding};

    fn plan() -> RemixPlan {
        let cut = |source, src_start, src_end, at| Cut { source, src_start, src_end, at, anchor: None };
        RemixPlan {
            // The query's moment is cut 1: source 20..35 shown at 4..19.
            cuts: vec![cut(0, 0.0, 4.0, 0.0), cut(0, 20.0, 35.0, 4.0), cut(1, 0.0, 5.0, 19.0)],
            encoding: Encoding {
                width: 320,
                height: 240,
                fps: 25,
                crf: 28,
                preset: "veryfast",
                gop: 50,
                crop: 0.0,
                crop_x: 0.0,
                crop_y: 0.0,
                audio_kbps: 96,
            },
            query: "q".into(),
            query_cut: 1,
            ground_truths: vec![],
            duration: 24.0,
        }
    }

    fn w(start: f64, end: f64) -> SearchResult {
        SearchResult { start, end, confidence: 0.5 }
    }

    #[test]
    fn the_rule_maps_the_remix_window_back_and_compares_in_the_original_timeline() {
        let c = Consistency::default();
        let p = plan();
        // Remix 6..14 is source 22..30; the original answer 22..30: the same moment.
        assert!(c.agrees(&p, Some(&w(6.0, 14.0)), Some(&w(22.0, 30.0))));
        // The original answer runs past the cut (source 35): clipped, still agrees.
        assert!(c.agrees(&p, Some(&w(6.0, 19.0)), Some(&w(22.0, 50.0))));
        // A look-up miner: original times in the remix (22..30 is cut 2 and past the end).
        assert!(!c.agrees(&p, Some(&w(22.0, 30.0)), Some(&w(22.0, 30.0))));
        // The same source's other cut (source 0..4 at 0..4) agrees with an answer there.
        assert!(c.agrees(&p, Some(&w(0.5, 3.5)), Some(&w(0.5, 3.5))));
        // Mostly outside the query's cut, and inside the other source's.
        assert!(!c.agrees(&p, Some(&w(0.0, 6.0)), Some(&w(20.0, 22.0))));
        assert!(!c.agrees(&p, Some(&w(19.0, 24.0)), Some(&w(0.0, 5.0))));
        // Far apart inside the cut.
        assert!(!c.agrees(&p, Some(&w(4.0, 7.0)), Some(&w(30.0, 35.0))));
        assert!(!c.agrees(&p, None, Some(&w(22.0, 30.0))));
        assert!(!c.agrees(&p, Some(&w(6.0, 14.0)), None));
    }

    #[test]
    fn media_urls_carry_only_the_token() {
        let t = Token::parse(&"b".repeat(43)).unwrap();
        let base = url::Url::parse("http://203.0.113.7:8010/").unwrap();
        assert_eq!(media_url(&base, &t).unwrap().as_str(), format!("http://203.0.113.7:8010/media/{}", "b".repeat(43)));
        assert!(media_url(&url::Url::parse("ftp://x/").unwrap(), &t).is_err());
    }
}
