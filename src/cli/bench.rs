//! `chronoseek bench`: cold and cached latency and pipeline throughput on one video.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::index::Store;
use chronoseek::ingest::{Fetcher, IngestOutcome, VideoSource};
use chronoseek::model::ClipEmbedder;
use chronoseek::protocol::TopK;
use chronoseek::query::{Engine, EngineOptions};

use super::{CliError, output::Output};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The video (path or URL).
    #[arg(long, value_name = "VIDEO")]
    pub video: String,
    /// The query.
    #[arg(long, value_name = "QUERY")]
    pub query: String,
    /// Cached searches to time.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub runs: usize,
    /// Cold searches to time (each on a fresh store: fetch, decode, embed, write, search).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub cold_runs: usize,
    /// Load a running miner instead (e.g. http://127.0.0.1:8000): signed `/search` requests
    /// for --video (an http(s) URL the miner can fetch) at --concurrency, --requests in all.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Requests in flight at once (with --endpoint).
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
    /// Requests to send (with --endpoint).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub requests: usize,
    /// A new sentence for every request, so the miner embeds each one (with --endpoint);
    /// otherwise one sentence, answered from the miner's caches.
    #[arg(long)]
    pub new_queries: bool,
    /// Seconds each request may take (with --endpoint).
    #[arg(long, default_value_t = 150, value_name = "SECONDS")]
    pub timeout: u64,
    #[command(flatten)]
    pub wallet: super::connect::WalletOpts,
    #[command(flatten)]
    pub audio: super::audio::AudioOpts,
}

/// CPU time this process has used (all threads, user + system), from /proc/self/stat in
/// USER_HZ ticks (100 per second on Linux); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[rank.min(s.len() - 1)]
}

pub async fn run(g: &GlobalOpts, args: BenchArgs, out: &Output) -> Result<(), CliError> {
    if let Some(endpoint) = &args.endpoint {
        let spec = super::load::LoadSpec {
            endpoint,
            video: &args.video,
            query: &args.query,
            concurrency: args.concurrency,
            requests: args.requests,
            new_queries: args.new_queries,
            timeout: std::time::Duration::from_secs(args.timeout.max(1)),
            wallet: &args.wallet,
        };
        return super::load::run(spec, out).await;
    }
    let model = Arc::new(ClipEmbedder::load(&g.model_source(), g.model_options()).await?);
    let source = VideoSource::parse(&args.video)?;
    let video = chronoseek::ingest::VideoInput::Source(source.clone());
    let top_k = TopK::default();
    let temp = tempfile::tempdir().map_err(CliError::internal)?;
    let fetcher = Fetcher::new(g.pipeline.fetch_options())?;
    let listener = args.audio.listener(g.device).await?;
    let (mut listen_secs, mut audio_secs, mut segments) = (Vec::new(), 0.0, None);
    let (mut windows, mut tokens) = (0u64, 0u64);

    // Cold: a new store each time, so nothing is cached but the loaded model.
    let mut cold = Vec::new();
    let (mut decode_fps, mut embed_fps, mut decoded_fps) = (Vec::new(), Vec::new(), Vec::new());
    let (mut embedded, mut reused) = (0u64, 0u64);
    let (mut cold_cpu, mut cold_wall) = (0.0, 0.0);
    let bar = out.items_bar(args.cold_runs as u64, "cold runs");
    let mut engine = None;
    for i in 0..args.cold_runs.max(1) {
        let store = Store::open(&temp.path().join(format!("cold-{i}")).display().to_string()).await?;
        let mut opts = EngineOptions { result_cache_capacity: 0, ..g.pipeline.engine_options() };
        opts.ingest.audio = listener.clone();
        let e = Engine::new(store, model.clone(), fetcher.clone(), opts);
        let (t, cpu0) = (Instant::now(), cpu_seconds());
        let outcome = e.ingest(&source, &chronoseek::progress::silent()).await?;
        e.search(&video, &args.query, top_k, &chronoseek::progress::silent()).await?;
        cold.push(t.elapsed().as_secs_f64() * 1000.0);
        if let (Some(a), Some(b)) = (cpu0, cpu_seconds()) {
            cold_cpu += b - a;
            cold_wall += t.elapsed().as_secs_f64();
        }
        if let IngestOutcome::Ingested(_, s) = outcome {
            embedded = s.frames_embedded;
            reused = s.frames_reused;
            decode_fps.push(s.frames_embedded as f64 / s.decode_secs.max(1e-9));
            decoded_fps.push(s.frames_decoded as f64 / s.decode_secs.max(1e-9));
            embed_fps.push(s.frames_embedded as f64 / s.embed_secs.max(1e-9));
            if s.speech_segments.is_some() {
                let c = e.counters();
                (windows, tokens) = (c.whisper_windows, c.whisper_tokens);
                listen_secs.push(s.listen_secs);
                audio_secs = s.audio_secs;
                segments = s.speech_segments;
            }
        }
        bar.inc(1);
        engine = Some(e);
    }
    bar.finish_and_clear();
    let Some(engine) = engine else { return Err(CliError::internal("no cold run")) };

    // Cached: frames in the store, query embedding cached, result cache off.
    let mut cached = Vec::new();
    let bar = out.items_bar(args.runs as u64, "cached runs");
    for _ in 0..args.runs.max(1) {
        let t = Instant::now();
        let a = engine.search(&video, &args.query, top_k, &chronoseek::progress::silent()).await?;
        cached.push(t.elapsed().as_secs_f64() * 1000.0);
        let c = a.counters;
        if c.videos_decoded + c.image_embeddings + c.downloads + c.audio_decodes + c.whisper_windows > 0 {
            return Err(CliError::internal("a cached search decoded, embedded or listened"));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let busy_cores = if cold_wall > 0.0 { cold_cpu / cold_wall } else { f64::NAN };
    let report = json!({
        "video": args.video, "query": args.query, "model": model.key(),
        "cold_ms": {"p50": percentile(&cold, 50.0), "p95": percentile(&cold, 95.0), "runs": cold.len()},
        "cached_ms": {"p50": percentile(&cached, 50.0), "p95": percentile(&cached, 95.0), "runs": cached.len()},
        "decode": {"kept_frames_per_s": mean(&decode_fps), "decoded_frames_per_s": mean(&decoded_fps)},
        "embed": {"frames_per_s": mean(&embed_fps), "frames_embedded": embedded, "frames_reused": reused},
        "cold_cpu": {"busy_cores": busy_cores, "cores": cores},
        "audio": listener.as_ref().map(|l| json!({"model": l.name(), "listen_s": mean(&listen_secs),
            "audio_s": audio_secs, "audio_s_per_s": audio_secs / mean(&listen_secs).max(1e-9), "segments": segments,
            "windows": windows, "tokens": tokens})),
    });
    out.say(format!("model {}; video {}", model.key(), args.video));
    out.say(format!(
        "cold   (fetch+decode+embed+store+search): p50 {:8.1} ms  p95 {:8.1} ms  ({} runs)",
        percentile(&cold, 50.0),
        percentile(&cold, 95.0),
        cold.len()
    ));
    out.say(format!(
        "cached (load frames+score+segment):       p50 {:8.2} ms  p95 {:8.2} ms  ({} runs)",
        percentile(&cached, 50.0),
        percentile(&cached, 95.0),
        cached.len()
    ));
    out.say(format!(
        "decode: {:.1} sampled frames/s ({:.1} decoded frames/s); embed: {:.1} frames/s",
        mean(&decode_fps),
        mean(&decoded_fps),
        mean(&embed_fps)
    ));
    out.say(format!(
        "frames: {embedded} embedded, {reused} near-duplicates reused; cold runs kept {busy_cores:.2} of {cores} cores busy"
    ));
    if let Some(l) = &listener {
        out.say(format!(
            "audio ({}): {:.1} s of audio listened to in {:.2} s = {:.1} s of audio per second; \
             {windows} windows, {tokens} tokens decoded, {} segments",
            l.name(),
            audio_secs,
            mean(&listen_secs),
            audio_secs / mean(&listen_secs).max(1e-9),
            segments.unwrap_or(0)
        ));
    } else {
        out.say("audio: off");
    }
    out.json_line(&report);
    Ok(())
}
