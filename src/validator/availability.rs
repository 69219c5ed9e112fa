//! Which task videos can be fetched right now, so a step is not wasted on a dead link: a HEAD
//! request for direct URLs (a ranged GET when the server refuses HEAD), a yt-dlp metadata
//! look-up for platform pages, an existence check for local files. Results are cached in two
//! JSON files (accessible and inaccessible, `{url: checked_at_unix_seconds}`, the reference's
//! `ACCESSIBLE_VIDEO_CACHE_PATH` / `INACCESSIBLE_VIDEO_CACHE_PATH`) and trusted for a TTL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::ingest::VideoSource;
use crate::ingest::platform::YtDlpOptions;

use super::state::write_atomic;
use super::tasks::Task;

#[derive(Debug, Clone)]
pub struct AvailabilityOptions {
    pub accessible_path: PathBuf,
    pub inaccessible_path: PathBuf,
    pub ttl: Duration,
    /// Per-check timeout.
    pub timeout: Duration,
    /// Tasks drawn before a step gives up.
    pub max_attempts: usize,
    /// When false, every task counts as reachable (no checks at all).
    pub required: bool,
    pub yt_dlp: YtDlpOptions,
}

type UrlTimes = BTreeMap<String, u64>;

pub struct Availability {
    opts: AvailabilityOptions,
    http: reqwest::Client,
    accessible: UrlTimes,
    inaccessible: UrlTimes,
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn load(path: &PathBuf) -> UrlTimes {
    // A missing or damaged cache only costs re-checks.
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

impl Availability {
    pub fn new(opts: AvailabilityOptions) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(opts.timeout)
            .timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        let accessible = load(&opts.accessible_path);
        let inaccessible = load(&opts.inaccessible_path);
        Ok(Self { opts, http, accessible, inaccessible })
    }

    /// Cached verdict for a URL, if it is still fresh.
    fn cached(&self, url: &str, now: u64) -> Option<bool> {
        let fresh = |t: &u64| now.saturating_sub(*t) < self.opts.ttl.as_secs();
        if self.accessible.get(url).is_some_and(fresh) {
            return Some(true);
        }
        if self.inaccessible.get(url).is_some_and(fresh) {
            return Some(false);
        }
        None
    }

    fn record(&mut self, url: &str, ok: bool, now: u64) {
        let (add, remove) = if ok {
            (&mut self.accessible, &mut self.inaccessible)
        } else {
            (&mut self.inaccessible, &mut self.accessible)
        };
        remove.remove(url);
        add.insert(url.to_string(), now);
        let (a, i) = (serde_json::to_vec_pretty(&self.accessible), serde_json::to_vec_pretty(&self.inaccessible));
        for (path, bytes) in [(&self.opts.accessible_path, a), (&self.opts.inaccessible_path, i)] {
            if let Ok(bytes) = bytes
                && let Err(e) = write_atomic(path, &bytes)
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot save the availability cache");
            }
        }
    }

    /// Checks one video now (no cache).
    pub async fn check(&self, url: &str) -> bool {
        match VideoSource::parse(url) {
            Ok(VideoSource::File(p)) => p.is_file(),
            Ok(VideoSource::Http(u)) => self.check_http(u.as_str()).await,
            Ok(VideoSource::Platform(p)) => self.check_platform(p.url.as_str()).await,
            Err(_) => false,
        }
    }

    async fn check_http(&self, url: &str) -> bool {
        match self.http.head(url).send().await {
            Ok(r) if r.status().is_success() => true,
            // Some servers refuse HEAD: ask for one byte instead.
            Ok(r) if r.status().as_u16() == 405 || r.status().as_u16() == 403 => self
                .http
                .get(url)
                .header(reqwest::header::RANGE, "bytes=0-0")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            _ => false,
        }
    }

    async fn check_platform(&self, url: &str) -> bool {
        let mut cmd = tokio::process::Command::new(&self.opts.yt_dlp.program);
        cmd.args(["--simulate", "--quiet", "--no-warnings", "--no-playlist", "--print", "id", "--", url])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(c) = &self.opts.yt_dlp.cookies {
            cmd.arg("--cookies").arg(c);
        }
        match tokio::time::timeout(self.opts.timeout, cmd.status()).await {
            Ok(Ok(status)) => status.success(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "yt-dlp cannot run: platform videos count as unreachable");
                false
            }
            Err(_) => false,
        }
    }

    /// Whether a task's video is reachable, from the cache while fresh.
    pub async fn is_available(&mut self, url: &str) -> bool {
        if !self.opts.required {
            return true;
        }
        let now = now_s();
        if let Some(v) = self.cached(url, now) {
            return v;
        }
        let ok = self.check(url).await;
        tracing::debug!(url, ok, "video availability checked");
        self.record(url, ok, now);
        ok
    }

    /// Draws tasks at random until one's video is reachable (at most `max_attempts` draws).
    /// When none is, the entries found unreachable are checked again regardless of their TTL
    /// (the network may have been down), and the first that now works is used.
    pub async fn sample<'t>(&mut self, tasks: &'t [Task], rng: &mut impl Rng) -> Option<&'t Task> {
        for _ in 0..self.opts.max_attempts.max(1) {
            let task = tasks.choose(rng)?;
            if self.is_available(&task.video_url).await {
                return Some(task);
            }
        }
        let mut stale: Vec<(u64, String)> = self.inaccessible.iter().map(|(u, t)| (*t, u.clone())).collect();
        stale.sort();
        for (_, url) in stale.into_iter().take(self.opts.max_attempts.max(1)) {
            let ok = self.check(&url).await;
            self.record(&url, ok, now_s());
            if ok && let Some(task) = tasks.iter().find(|t| t.video_url == url) {
                return Some(task);
            }
        }
        None
    }
}
