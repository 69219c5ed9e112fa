//! Composing scenes into videos with hard cuts and cross-fades, encoded by the ffmpeg program,
//! with the ground-truth interval of every scene.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::render::{blend, render};
use super::scene::{Rng, Scene};

/// A scene's place in a composed video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedScene {
    pub caption: String,
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone)]
pub struct VideoSpec {
    pub scenes: Vec<Scene>,
    /// Per boundary (scenes.len() - 1): cross-fade length in seconds, 0 for a hard cut.
    pub fades: Vec<f64>,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
}

impl VideoSpec {
    /// `n` random scenes of `min_s..max_s` seconds, about a third of the boundaries faded.
    pub fn random(rng: &mut Rng, n: usize, min_s: f64, max_s: f64, width: usize, height: usize, fps: u32) -> Self {
        let scenes: Vec<Scene> = (0..n).map(|_| Scene::random(rng, min_s, max_s)).collect();
        let fades = (1..n).map(|_| if rng.below(3) == 0 { 1.0 } else { 0.0 }).collect();
        Self { scenes, fades, width, height, fps }
    }

    /// Scene intervals; a fade's midpoint is the boundary.
    pub fn placed(&self) -> Vec<PlacedScene> {
        let mut t = 0.0;
        self.scenes
            .iter()
            .map(|s| {
                let p = PlacedScene { caption: s.caption(), start: t, end: t + s.duration };
                t += s.duration;
                p
            })
            .collect()
    }

    pub fn duration(&self) -> f64 {
        self.scenes.iter().map(|s| s.duration).sum()
    }

    /// The frame at time `t`.
    fn frame(&self, t: f64, placed: &[PlacedScene], noise: &mut Rng) -> Vec<u8> {
        let i = placed.iter().position(|p| t < p.end).unwrap_or(placed.len() - 1);
        let at = |k: usize, noise: &mut Rng| {
            let s = &self.scenes[k];
            let progress = ((t - placed[k].start) / s.duration).clamp(0.0, 1.0);
            render(s, progress, self.width, self.height, noise)
        };
        // Inside a fade around the boundary before or after scene i?
        if i > 0 && self.fades[i - 1] > 0.0 && t < placed[i].start + self.fades[i - 1] / 2.0 {
            let f = self.fades[i - 1];
            let w = (t - (placed[i].start - f / 2.0)) / f;
            return blend(&at(i - 1, noise), &at(i, noise), w.clamp(0.0, 1.0));
        }
        if i + 1 < self.scenes.len() && self.fades[i] > 0.0 && t >= placed[i].end - self.fades[i] / 2.0 {
            let f = self.fades[i];
            let w = (t - (placed[i].end - f / 2.0)) / f;
            return blend(&at(i, noise), &at(i + 1, noise), w.clamp(0.0, 1.0));
        }
        at(i, noise)
    }

    /// Renders and encodes to `path` (H.264 in MP4) with the ffmpeg command-line tool.
    pub fn encode(&self, path: &Path, seed: u64) -> std::io::Result<Vec<PlacedScene>> {
        let placed = self.placed();
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
            .arg(format!("{}x{}", self.width, self.height))
            .args(["-r", &self.fps.to_string(), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "30"])
            .args(["-g", &(self.fps * 4).to_string(), "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("ffmpeg (the command-line tool) is needed: {e}")))?;
        let mut noise = Rng::new(seed);
        let frames = (self.duration() * self.fps as f64).round() as usize;
        {
            let stdin = child.stdin.as_mut().ok_or_else(|| std::io::Error::other("no ffmpeg stdin"))?;
            let mut stdin = std::io::BufWriter::new(stdin);
            for k in 0..frames {
                let t = (k as f64 + 0.5) / self.fps as f64;
                stdin.write_all(&self.frame(t, &placed, &mut noise))?;
            }
            stdin.flush()?;
        }
        drop(child.stdin.take());
        let status = child.wait()?;
        if !status.success() {
            return Err(std::io::Error::other(format!("ffmpeg failed: {status}")));
        }
        Ok(placed)
    }
}
