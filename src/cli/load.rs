//! `chronoseek bench --endpoint URL`: load on a running miner, the way validators call it
//! (Epistula-signed `POST /search`, many at once), with latency percentiles and throughput.
//! Cached queries (one sentence again and again) and new queries (a new sentence each time, so
//! the text tower runs) are measured separately because they cost very different things.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use chronoseek::protocol::epistula::Signer;
use chronoseek::protocol::{ErrorCode, TopK, VideoSearchRequest, VideoUrl};
use chronoseek::validator::client::{MinerCallError, MinerClient};

use super::connect::WalletOpts;
use super::{CliError, output::Output};

pub struct LoadSpec<'a> {
    pub endpoint: &'a str,
    pub video: &'a str,
    pub query: &'a str,
    pub concurrency: usize,
    pub requests: usize,
    pub new_queries: bool,
    pub timeout: Duration,
    pub wallet: &'a WalletOpts,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((q / 100.0) * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

pub async fn run(spec: LoadSpec<'_>, out: &Output) -> Result<(), CliError> {
    let key = spec.wallet.hotkey().map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let client = MinerClient::new(Arc::new(Signer::new(key))).map_err(CliError::internal)?;
    let url = VideoUrl::parse(spec.video).map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let call = |query: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let req = VideoSearchRequest::new(url, query, TopK::default());
            let t = Instant::now();
            let r = client.search(spec.endpoint, &req, spec.timeout).await;
            (t.elapsed().as_secs_f64() * 1000.0, r)
        }
    };
    // Warm-up: the video (and the repeated query) are in the miner's store and caches.
    let (_, first) = call(spec.query.to_string()).await;
    first.map_err(|e| match &e {
        MinerCallError::Transport { .. } => CliError::unavailable(e),
        _ => CliError::new(e.code(), e.to_string()),
    })?;
    let bar = out.items_bar(spec.requests as u64, "requests");
    let started = Instant::now();
    let results: Vec<(f64, Result<_, MinerCallError>)> = futures::stream::iter(0..spec.requests)
        .map(|i| {
            let q = if spec.new_queries { format!("{} {i}", spec.query) } else { spec.query.to_string() };
            let bar = bar.clone();
            let fut = call(q);
            async move {
                let r = fut.await;
                bar.inc(1);
                r
            }
        })
        .buffer_unordered(spec.concurrency.max(1))
        .collect()
        .await;
    let wall = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut ok: Vec<f64> = Vec::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for (ms, r) in &results {
        match r {
            Ok(_) => ok.push(*ms),
            Err(MinerCallError::Protocol { status, code, .. }) => {
                *errors.entry(format!("{status} {code}")).or_default() += 1
            }
            Err(e) => *errors.entry(format!("{:?}", e.code())).or_default() += 1,
        }
    }
    ok.sort_by(|a, b| a.total_cmp(b));
    let rps = ok.len() as f64 / wall.max(1e-9);
    let kind = if spec.new_queries { "new queries" } else { "cached query" };
    let report = json!({
        "endpoint": spec.endpoint, "video": spec.video, "mode": kind,
        "concurrency": spec.concurrency, "requests": spec.requests, "ok": ok.len(), "errors": errors,
        "wall_s": wall, "requests_per_s": rps,
        "latency_ms": {"p50": percentile(&ok, 50.0), "p95": percentile(&ok, 95.0), "p99": percentile(&ok, 99.0),
                       "max": ok.last().copied().unwrap_or(f64::NAN)},
    });
    out.say(format!(
        "{kind}: {} of {} ok in {wall:.2} s = {rps:.0} requests/s at concurrency {}",
        ok.len(),
        spec.requests,
        spec.concurrency
    ));
    out.say(format!(
        "latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; errors {errors:?}",
        percentile(&ok, 50.0),
        percentile(&ok, 95.0),
        percentile(&ok, 99.0)
    ));
    out.json_line(&report);
    Ok(())
}
