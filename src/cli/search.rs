//! `chronoseek search`.

use clap::Args;

use super::global::GlobalOpts;
use chronoseek::ingest::VideoInput;
use chronoseek::protocol::{ErrorCode, TopK, VideoSearchResponse};

use super::{CliError, FLUSH_LIMIT, build_engine_with, output::Output};

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The video: a path, a file:// or http(s):// URL, or the fingerprint of a stored video.
    #[arg(value_name = "VIDEO")]
    pub video: String,
    /// What to find, in words.
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Number of intervals to return (1 to 20).
    #[arg(long, short = 'k', default_value_t = 5, value_name = "N")]
    pub top_k: u32,
    #[command(flatten)]
    pub audio: super::audio::AudioOpts,
}

pub async fn run(g: &GlobalOpts, args: SearchArgs, out: &Output) -> Result<(), CliError> {
    let top_k = TopK::new(args.top_k).ok_or_else(|| {
        CliError::new(ErrorCode::InvalidRequest, format!("--top-k must be 1..=20, got {}", args.top_k))
    })?;
    chronoseek::query::Engine::check_query(&args.query)?;
    let engine = build_engine_with(g, None, args.audio.listener(g.device).await?).await?;
    let video = VideoInput::from_cli(&args.video)?;
    let bar = out.frames_bar(&args.video);
    let answer = engine.search(&video, &args.query, top_k, &super::output::progress(&bar)).await;
    bar.finish_and_clear();
    engine.flush(FLUSH_LIMIT).await;
    let answer = answer?;
    let meta = answer.metadata(engine.model().name(), engine.options().segmenter);
    if out.json {
        out.json_line(&VideoSearchResponse::completed(None, answer.results.clone(), Some(meta)));
        return Ok(());
    }
    out.say(format!(
        "{} ({:.1} s, {} frames, {}) — \"{}\"",
        answer.video.fingerprint,
        answer.video.duration_s,
        answer.video.frame_count,
        if answer.video_cached { "cached" } else { "ingested now" },
        args.query
    ));
    if answer.counters.audio_fused_searches > 0 {
        out.say("speech fused into the timeline (chronoseek transcript shows it)");
    }
    out.say(format!("{:>4}  {:>9}  {:>9}  {:>10}", "rank", "start", "end", "confidence"));
    for (i, r) in answer.results.iter().enumerate() {
        out.say(format!("{:>4}  {:>8.2}s  {:>8.2}s  {:>10.4}", i + 1, r.start, r.end, r.confidence));
    }
    // Where else in the video the words match (the intervals above are only the top k).
    let curve = engine.curve(&answer.video, &args.query, SPARKLINE_WIDTH).await?;
    out.say(format!("{:>4}  {} {:.0} s", "0 s", curve.sparkline(), answer.video.duration_s));
    out.say(format!("{:.1} ms", answer.timings.total_ms));
    Ok(())
}

/// Characters of the relevance line under the results (fits an 80-column terminal).
const SPARKLINE_WIDTH: usize = 64;
