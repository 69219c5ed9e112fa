//! Image preprocessing that matches Hugging Face's `CLIPImageProcessor` (the PIL path):
//! shortest side to the model's size with Pillow's bicubic filter, centre crop, `/255`, then
//! CLIP's mean and standard deviation.
//!
//! Pillow's resampler is reproduced exactly — two separable passes with 22-bit fixed-point
//! coefficients and an 8-bit intermediate image — because small filter differences are visible in
//! the features of a model and would break parity with Python miners.

/// CLIP's per-channel normalisation constants (OpenAI's values, also in every HF config),
/// written as published so they can be compared with the configs digit for digit.
#[allow(clippy::excessive_precision)]
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Wraps raw pixels; `None` if the buffer does not hold exactly `width * height` pixels.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        (width > 0 && height > 0 && data.len() == width * height * 3).then_some(Self { width, height, data })
    }
}

/// Output size of "shortest edge to `size`", as transformers computes it (long side truncated).
pub fn shortest_edge_size(width: usize, height: usize, size: usize) -> (usize, usize) {
    if width <= height {
        let long = (size as f64 * height as f64 / width as f64) as usize;
        (size, long.max(size))
    } else {
        let long = (size as f64 * width as f64 / height as f64) as usize;
        (long.max(size), size)
    }
}

/// The full CLIP preprocessing of one image into a `3 x size x size` CHW tensor buffer.
pub fn clip_preprocess(img: &RgbImage, size: usize) -> Vec<f32> {
    let (nw, nh) = shortest_edge_size(img.width, img.height, size);
    let resized = resize_bicubic(img, nw, nh);
    normalize_center_crop(&resized, size)
}

/// Centre-crops a `size x size` square (transformers' offsets) and normalises it to CHW floats.
/// Images smaller than `size` on a side are padded with zeros, as transformers does.
pub fn normalize_center_crop(img: &RgbImage, size: usize) -> Vec<f32> {
    let top = (img.height as isize - size as isize) / 2;
    let left = (img.width as isize - size as isize) / 2;
    let plane = size * size;
    let mut out = vec![0f32; 3 * plane];
    for c in 0..3 {
        // Pixels outside the source (when smaller than the crop) become 0 before normalising.
        for y in 0..size {
            let sy = y as isize + top;
            for x in 0..size {
                let sx = x as isize + left;
                let v = if sy >= 0 && sx >= 0 && (sy as usize) < img.height && (sx as usize) < img.width {
                    img.data[(sy as usize * img.width + sx as usize) * 3 + c]
                } else {
                    0
                };
                out[c * plane + y * size + x] = (v as f32 * (1.0 / 255.0) - CLIP_MEAN[c]) / CLIP_STD[c];
            }
        }
    }
    out
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic_filter(x: f64) -> f64 {
    // Pillow's bicubic, a = -0.5.
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output pixel: first input index and fixed-point weights (Pillow's `precompute_coeffs`
/// followed by `normalize_coeffs_8bpc`).
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as isize).max(0) as usize;
            let xmax = ((center + support + 0.5) as isize).min(in_size as isize) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut w: Vec<f64> =
                (0..n).map(|x| bicubic_filter((x as f64 + xmin as f64 - center + 0.5) * ss)).collect();
            let total: f64 = w.iter().sum();
            if total != 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            let fixed = w
                .iter()
                .map(|&v| {
                    let s = v * (1u32 << PRECISION_BITS) as f64;
                    if v < 0.0 { (s - 0.5) as i32 } else { (s + 0.5) as i32 }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's `Image.resize(..., BICUBIC)` for 8-bit RGB, bit for bit.
pub fn resize_bicubic(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    let half = 1i32 << (PRECISION_BITS - 1);
    // Horizontal pass.
    let horizontal = if out_w != img.width {
        let coeffs = coefficients(img.width, out_w);
        let mut data = vec![0u8; out_w * img.height * 3];
        for y in 0..img.height {
            let row = &img.data[y * img.width * 3..(y + 1) * img.width * 3];
            for (x, (xmin, k)) in coeffs.iter().enumerate() {
                for c in 0..3 {
                    let mut ss = half;
                    for (i, &w) in k.iter().enumerate() {
                        ss += row[(xmin + i) * 3 + c] as i32 * w;
                    }
                    data[(y * out_w + x) * 3 + c] = clip8(ss);
                }
            }
        }
        RgbImage { width: out_w, height: img.height, data }
    } else {
        img.clone()
    };
    if out_h == horizontal.height {
        return horizontal;
    }
    // Vertical pass.
    let coeffs = coefficients(horizontal.height, out_h);
    let w = horizontal.width;
    let mut data = vec![0u8; w * out_h * 3];
    for (y, (ymin, k)) in coeffs.iter().enumerate() {
        for x in 0..w {
            for c in 0..3 {
                let mut ss = half;
                for (i, &wt) in k.iter().enumerate() {
                    ss += horizontal.data[((ymin + i) * w + x) * 3 + c] as i32 * wt;
                }
                data[(y * w + x) * 3 + c] = clip8(ss);
            }
        }
    }
    RgbImage { width: w, height: out_h, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_edge_truncates_like_transformers() {
        assert_eq!(shortest_edge_size(320, 180, 224), (398, 224));
        assert_eq!(shortest_edge_size(97, 211, 224), (224, 487));
        assert_eq!(shortest_edge_size(224, 224, 224), (224, 224));
    }

    #[test]
    fn resize_of_constant_image_is_constant() {
        let img = RgbImage::new(37, 23, vec![77; 37 * 23 * 3]).unwrap();
        let out = resize_bicubic(&img, 11, 50);
        assert_eq!((out.width, out.height), (11, 50));
        assert!(out.data.iter().all(|&v| v == 77));
    }

    #[test]
    fn crop_pads_small_images_with_zero_pixels() {
        let img = RgbImage::new(2, 2, vec![255; 12]).unwrap();
        let out = normalize_center_crop(&img, 4);
        // Corner (0,0) is outside the 2x2 source: the value of a zero pixel.
        assert!((out[0] - (-CLIP_MEAN[0] / CLIP_STD[0])).abs() < 1e-6);
        // Centre is inside: white.
        assert!((out[4 + 1] - ((1.0 - CLIP_MEAN[0]) / CLIP_STD[0])).abs() < 1e-6);
    }
}
