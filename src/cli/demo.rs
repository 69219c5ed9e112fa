//! `chronoseek demo`: the offline walk-through the README's first command runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::eval::metrics::iou;
use chronoseek::index::Store;
use chronoseek::ingest::Fetcher;
use chronoseek::library::{Library, LibraryQuery, LibraryTopK, RefreshOptions};
use chronoseek::model::tiny::{TinySpec, write_random_clip};
use chronoseek::model::{ClipEmbedder, ModelFiles, ModelSource};
use chronoseek::protocol::TopK;
use chronoseek::query::Engine;

use super::library::format_clock;
use super::{CliError, output::Output};

/// Where the project's bundled model lives once trained (data/fixtures/models/).
const BUNDLED_MODEL: &str = "data/fixtures/models/chronoseek-tiny-clip";

/// A top result counts as finding its scene at this IoU with the truth (R1@0.5's bar).
const FOUND_IOU: f64 = 0.5;

/// What a line's top result did: found the scene or missed it.
fn mark(iou: f64) -> &'static str {
    if iou >= FOUND_IOU { "found" } else { "MISSED" }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder with the fixture videos and their scenes.json.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
}

fn project_path(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join(rel) }
}

/// The bundled model if present; otherwise a seeded random tiny CLIP generated once into the
/// user's cache (honest about meaning nothing).
fn demo_model(g: &GlobalOpts, out: &Output) -> Result<ModelSource, CliError> {
    if let Some(dir) = &g.model_dir {
        return Ok(ModelSource::Dir(dir.clone()));
    }
    let bundled = project_path(BUNDLED_MODEL);
    if bundled.join("config.json").is_file() {
        return Ok(ModelSource::Dir(bundled));
    }
    let dir = dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("chronoseek")
        .join("models")
        .join("random-tiny-clip-seed7");
    if ModelFiles::in_dir(&dir).is_err() {
        write_random_clip(&dir, TinySpec::default(), 7)?;
    }
    out.say(format!(
        "note: no trained bundled model at {BUNDLED_MODEL}; using a seeded random tiny CLIP from {} \
         (the pipeline is real, the rankings are not meaningful)",
        dir.display()
    ));
    Ok(ModelSource::Dir(dir))
}

#[derive(serde::Deserialize)]
struct FixtureInfo {
    #[serde(default)]
    scenes: Vec<Scene>,
    #[serde(default)]
    broken: Option<String>,
}

#[derive(serde::Deserialize)]
struct Scene {
    start: f64,
    end: f64,
    colour: String,
}

pub async fn run(g: &GlobalOpts, args: DemoArgs, out: &Output) -> Result<(), CliError> {
    let fixtures = args.fixtures.unwrap_or_else(|| project_path("data/fixtures/videos"));
    let manifest = fixtures.join("scenes.json");
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| CliError::internal(format!("{}: {e}", manifest.display())))?;
    let videos: std::collections::BTreeMap<String, FixtureInfo> =
        serde_json::from_str(&text).map_err(|e| CliError::internal(format!("{}: {e}", manifest.display())))?;

    let source = demo_model(g, out)?;
    let model = Arc::new(ClipEmbedder::load(&source, g.model_options()).await?);
    // A fresh store unless one is named, so "cold" really is cold.
    let temp = tempfile::tempdir().map_err(CliError::internal)?;
    let store_uri = g.store.clone().unwrap_or_else(|| temp.path().join("store").display().to_string());
    let store = Store::open(&store_uri).await?;
    let engine = Arc::new(Engine::new(
        store,
        model.clone(),
        Fetcher::new(g.pipeline.fetch_options())?,
        g.pipeline.engine_options(),
    ));
    out.say(format!("model {} ({}), store {}", model.name(), model.key(), store_uri));

    let top_k = TopK::new(3).unwrap_or_default();
    let mut rows = Vec::new();
    let mut found = 0usize;
    for (name, info) in videos.iter().filter(|(_, i)| i.broken.is_none() && !i.scenes.is_empty()) {
        let path = chronoseek::ingest::VideoInput::Source(chronoseek::ingest::VideoSource::File(fixtures.join(name)));
        for (i, scene) in info.scenes.iter().enumerate() {
            let article = if scene.colour.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            let query = format!("{article} {} screen", scene.colour);
            let bar = out.frames_bar(name);
            let t = Instant::now();
            let first = engine.search(&path, &query, top_k, &super::output::progress(&bar)).await?;
            let first_ms = t.elapsed().as_secs_f64() * 1000.0;
            bar.finish_and_clear();
            let t = Instant::now();
            let again = engine.search(&path, &query, top_k, &super::output::progress(&bar)).await?;
            let again_ms = t.elapsed().as_secs_f64() * 1000.0;
            let top = first.results.first().copied();
            let top_iou = top.map(|r| iou([r.start, r.end], [scene.start, scene.end])).unwrap_or(0.0);
            found += usize::from(top_iou >= FOUND_IOU);
            out.say(format!(
                "{name:<12} \"{query}\" (truth {:.0}-{:.0} s): top {} | {} {:.1} ms, repeat {:.1} ms (decodes {}, image embeddings {})",
                scene.start,
                scene.end,
                top.map(|r| format!("{:.1}-{:.1} s ({:.2}) IoU {top_iou:.2} {}", r.start, r.end, r.confidence, mark(top_iou)))
                    .unwrap_or_else(|| "-".into()),
                if i == 0 { "cold (ingest)" } else { "cached video" },
                first_ms,
                again_ms,
                again.counters.videos_decoded,
                again.counters.image_embeddings,
            ));
            rows.push(json!({"video": name, "query": query, "truth": [scene.start, scene.end],
                "results": first.results, "top_iou": top_iou, "first_ms": first_ms, "first_was_cold": i == 0, "repeat_ms": again_ms,
                "repeat_counters": again.counters}));
        }
    }

    // The same videos as one library: where in all of them does it happen?
    let library = Library::new(engine.clone(), &temp.path().join("library"));
    library.refresh(&RefreshOptions::default(), &chronoseek::progress::silent()).await?;
    let mut across = Vec::new();
    let mut found_across = 0usize;
    for colour in ["red", "purple", "yellow"] {
        let query = format!("a {colour} screen");
        let scenes: Vec<(&String, &Scene)> = videos
            .iter()
            .flat_map(|(name, info)| info.scenes.iter().filter(|s| s.colour == colour).map(move |s| (name, s)))
            .collect();
        let truth: Vec<String> =
            scenes.iter().map(|(name, s)| format!("{name} {:.0}-{:.0} s", s.start, s.end)).collect();
        let answer =
            library.search(&LibraryQuery::new(query.as_str(), LibraryTopK::new(3).unwrap_or_default())).await?;
        let names: Vec<String> = answer
            .hits
            .iter()
            .map(|h| Path::new(&h.source).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect();
        let hits: Vec<String> = answer
            .hits
            .iter()
            .zip(&names)
            .map(|(h, name)| format!("{name} {}–{} ({:.2})", format_clock(h.start), format_clock(h.end), h.score))
            .collect();
        // Rank 1 is right when it is in a video holding the scene and overlaps it enough.
        let top_iou = answer
            .hits
            .first()
            .zip(names.first())
            .map(|(h, name)| {
                scenes
                    .iter()
                    .filter(|(v, _)| *v == name)
                    .map(|(_, s)| iou([h.start, h.end], [s.start, s.end]))
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0);
        found_across += usize::from(top_iou >= FOUND_IOU);
        out.say(format!(
            "library      \"{query}\" (truth {}): {} {} | {:.1} ms",
            truth.join(", "),
            hits.join(", "),
            mark(top_iou),
            answer.stats.total_ms
        ));
        across.push(json!({"query": query, "truth": truth, "results": answer.hits, "top_iou": top_iou}));
    }
    engine.flush(super::FLUSH_LIMIT).await;
    let c = engine.counters();
    out.say(format!(
        "found at rank 1 (IoU >= {FOUND_IOU}): {found} of {} scenes, {found_across} of {} library searches",
        rows.len(),
        across.len()
    ));
    out.say(format!(
        "totals: {} videos decoded, {} frames embedded, {} query embeddings, {} result-cache hits",
        c.videos_decoded, c.image_embeddings, c.text_embeddings, c.result_cache_hits
    ));
    out.json_line(&json!({"model": model.key(), "store": store_uri, "searches": rows, "library": across,
        "found": {"iou": FOUND_IOU, "scenes": found, "of_scenes": rows.len(), "library": found_across,
                  "of_library": across.len()},
        "counters": c}));
    Ok(())
}
