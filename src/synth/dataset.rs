//! Benchmark and training sets of generated videos.

use std::path::Path;

use serde_json::json;

use super::scene::Rng;
use super::video::{PlacedScene, VideoSpec};
use crate::protocol::round_ms;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SetSpec {
    pub videos: usize,
    pub seed: u64,
    pub min_scenes: usize,
    pub max_scenes: usize,
    pub min_scene_s: f64,
    pub max_scene_s: f64,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
}

impl SetSpec {
    /// The benchmark: 40 videos of 4 to 7 scenes of 3 to 60 s.
    pub fn benchmark(seed: u64) -> Self {
        Self {
            videos: 40,
            seed,
            min_scenes: 4,
            max_scenes: 7,
            min_scene_s: 3.0,
            max_scene_s: 60.0,
            width: 128,
            height: 96,
            fps: 8,
        }
    }
    /// Training material: many short scenes.
    pub fn training(seed: u64) -> Self {
        Self {
            videos: 120,
            seed,
            min_scenes: 6,
            max_scenes: 10,
            min_scene_s: 2.0,
            max_scene_s: 6.0,
            width: 128,
            height: 96,
            fps: 8,
        }
    }
}

/// One generated video and its scenes.
#[derive(Debug, Clone)]
pub struct GeneratedVideo {
    pub file: String,
    pub duration: f64,
    pub scenes: Vec<PlacedScene>,
}

/// Generates the videos into `dir` (`v000.mp4`, ...). `on_video` is told after each one.
pub fn generate(dir: &Path, spec: &SetSpec, mut on_video: impl FnMut(usize)) -> std::io::Result<Vec<GeneratedVideo>> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(spec.seed);
    let mut out = Vec::with_capacity(spec.videos);
    for i in 0..spec.videos {
        let n = spec.min_scenes + rng.below(spec.max_scenes - spec.min_scenes + 1);
        let v = VideoSpec::random(&mut rng, n, spec.min_scene_s, spec.max_scene_s, spec.width, spec.height, spec.fps);
        let file = format!("v{i:03}.mp4");
        let scenes = v.encode(&dir.join(&file), spec.seed.wrapping_mul(1000).wrapping_add(i as u64))?;
        out.push(GeneratedVideo { file, duration: v.duration(), scenes });
        on_video(i + 1);
    }
    Ok(out)
}

/// The reference task JSON for a generated set: one task per distinct caption of a video, with
/// every interval of that caption as ground truth. Video paths are relative to the file.
pub fn tasks_json(videos: &[GeneratedVideo], seed: u64) -> serde_json::Value {
    let mut tasks = Vec::new();
    for v in videos {
        let mut seen: Vec<&str> = Vec::new();
        for s in &v.scenes {
            if seen.contains(&s.caption.as_str()) {
                continue;
            }
            seen.push(&s.caption);
            let gts: Vec<_> = v
                .scenes
                .iter()
                .filter(|o| o.caption == s.caption)
                .map(|o| json!({"start": round_ms(o.start), "end": round_ms(o.end)}))
                .collect();
            tasks.push(json!({
                "task_id": format!("synth-{seed}-{}-{}", v.file.trim_end_matches(".mp4"), tasks.len()),
                "split": "synthetic",
                "video_url": v.file,
                "query": s.caption,
                "ground_truths": gts,
                "duration": round_ms(v.duration),
            }));
        }
    }
    json!({"tasks": tasks})
}
