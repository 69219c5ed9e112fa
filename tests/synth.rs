//! Generated scenes and videos: deterministic for a seed, ground truth that matches what the
//! decoder sees, and a trainer that is deterministic too.

mod common;

use chronoseek::ingest::{SamplerOptions, sample_frames};
use chronoseek::model::tiny::TinySpec;
use chronoseek::model::train::{Example, TrainOptions, train};
use chronoseek::synth::dataset::{SetSpec, generate, tasks_json};
use chronoseek::synth::scene::{Rng, Scene};

fn small(seed: u64) -> SetSpec {
    SetSpec {
        videos: 2,
        seed,
        min_scenes: 3,
        max_scenes: 4,
        min_scene_s: 3.0,
        max_scene_s: 5.0,
        width: 64,
        height: 48,
        fps: 8,
    }
}

#[test]
fn captions_follow_the_grammar() {
    let mut rng = Rng::new(5);
    for _ in 0..200 {
        let s = Scene::random(&mut rng, 3.0, 60.0);
        let c = s.caption();
        assert!(c.starts_with("a ") && c.ends_with(" background"), "{c}");
        assert!((3.0..=60.0).contains(&s.duration));
        assert_ne!(s.colour, s.background);
    }
}

#[test]
fn generation_is_deterministic_and_ground_truth_matches_the_pixels() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let va = generate(a.path(), &small(11), |_| {}).unwrap();
    let vb = generate(b.path(), &small(11), |_| {}).unwrap();
    assert_eq!(tasks_json(&va, 11), tasks_json(&vb, 11));
    let other = tempfile::tempdir().unwrap();
    assert_ne!(tasks_json(&generate(other.path(), &small(12), |_| {}).unwrap(), 12), tasks_json(&va, 11));

    // Every second of every video decodes to a frame.
    for v in &va {
        let path = a.path().join(&v.file);
        let mut frames = Vec::new();
        sample_frames(&path, &SamplerOptions { size: 16, ..SamplerOptions::default() }, |f| {
            frames.push(f);
            true
        })
        .unwrap();
        let total: f64 = v.scenes.last().unwrap().end;
        assert!((frames.len() as f64 - total).abs() <= 1.5, "{} frames for {total} s", frames.len());
        for s in &v.scenes {
            assert!(s.end > s.start);
        }
    }
    let tasks = tasks_json(&va, 11);
    let n = tasks["tasks"].as_array().unwrap().len();
    assert!(n >= 6, "{n} tasks");
    for t in tasks["tasks"].as_array().unwrap() {
        assert!(t["video_url"].as_str().unwrap().ends_with(".mp4"));
        assert!(!t["ground_truths"].as_array().unwrap().is_empty());
    }
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let spec = TinySpec::square(32, 1, 4, 32, 16, 16);
    let captions: Vec<String> = [
        "a red circle on a blue background",
        "a green square on a white background",
        "a cyan cross on a black background",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let examples: Vec<Example> = (0..12)
        .map(|i| Example {
            pixels: (0..3 * 32 * 32).map(|k| ((k * (i % 3 + 1)) % 17) as f32 / 17.0 - 0.5).collect(),
            caption: i % 3,
        })
        .collect();
    let opts = TrainOptions { spec, seed: 3, max_steps: 6, max_seconds: 60.0, batch: 3, lr: 1e-2 };
    let mut l1 = Vec::new();
    let mut l2 = Vec::new();
    let a = train(&examples, &captions, &opts, |_, l| l1.push(l)).unwrap();
    train(&examples, &captions, &opts, |_, l| l2.push(l)).unwrap();
    assert_eq!(l1, l2);
    assert_eq!(a.steps, 6);
    assert!(l1.last().unwrap() < l1.first().unwrap(), "loss should fall: {l1:?}");
}
