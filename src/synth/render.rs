//! Rasterising scenes to RGB frames.

use super::scene::{Motion, Rng, Scene, Shape, Texture};

/// Draws `scene` at `progress` (0..1 through the scene) into a `w x h` RGB buffer, with a little
/// per-frame noise so no two frames are identical.
pub fn render(scene: &Scene, progress: f64, w: usize, h: usize, noise: &mut Rng) -> Vec<u8> {
    let bg = scene.background.rgb();
    let fg = scene.colour.rgb();
    let alt = [bg[0] / 2 + 64, bg[1] / 2 + 64, bg[2] / 2 + 64];
    let (cx, cy) = match scene.motion {
        Motion::Still => (scene.x, scene.y),
        Motion::Left => (0.85 - 0.7 * progress, scene.y),
        Motion::Right => (0.15 + 0.7 * progress, scene.y),
        Motion::Up => (scene.x, 0.85 - 0.7 * progress),
        Motion::Down => (scene.x, 0.15 + 0.7 * progress),
    };
    let (cx, cy) = (cx * w as f64, cy * h as f64);
    let r = h.min(w) as f64 * 0.22;
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let base = match scene.texture {
                Texture::Plain => bg,
                Texture::Striped => {
                    if (x / 6) % 2 == 0 {
                        bg
                    } else {
                        alt
                    }
                }
                Texture::Checkered => {
                    if ((x / 8) + (y / 8)) % 2 == 0 {
                        bg
                    } else {
                        alt
                    }
                }
            };
            let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
            let inside = match scene.shape {
                Shape::Circle => dx * dx + dy * dy <= r * r,
                Shape::Square => dx.abs() <= r * 0.85 && dy.abs() <= r * 0.85,
                Shape::Triangle => dy <= r * 0.8 && dy >= -r && dx.abs() <= (dy + r) * 0.6,
                Shape::Cross => (dx.abs() <= r * 0.3 && dy.abs() <= r) || (dy.abs() <= r * 0.3 && dx.abs() <= r),
            };
            let c = if inside { fg } else { base };
            let i = (y * w + x) * 3;
            for k in 0..3 {
                let n = (noise.next_u64() % 9) as i16 - 4;
                out[i + k] = (c[k] as i16 + n).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// `a * (1 - t) + b * t`, per byte.
pub fn blend(a: &[u8], b: &[u8], t: f64) -> Vec<u8> {
    a.iter().zip(b).map(|(&x, &y)| (x as f64 * (1.0 - t) + y as f64 * t).round() as u8).collect()
}
