//! What a library search looks for: words, a picture, or a moment already in the library.
//!
//! CLIP puts sentences and images in one space, so any of the three becomes one unit-length
//! query vector and the rest of the search (graph candidates, exact timelines, segmenter,
//! cross-video ranking) is the same path. Words go through the text tower (and its cache); a
//! picture through the image tower with the reference's preprocessing; a stored moment needs no
//! tower at all: its frame's embedding is already in the store.
//!
//! Pictures are decoded by the `image` crate's pure-Rust decoders, not FFmpeg: the web page
//! uploads them, and bytes from a browser should not reach a demuxer that can open further
//! files (see [`crate::ingest::MediaTrust`]). Decoding is bounded ([`MAX_PICTURE_SIDE`],
//! [`MAX_PICTURE_ALLOC`]) before any pixel buffer is allocated, and the EXIF orientation a phone
//! writes is applied, so a portrait photo is searched upright.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::fingerprint::Fingerprint;
use crate::model::preprocess::RgbImage;

/// Widest or tallest picture accepted, in pixels.
pub const MAX_PICTURE_SIDE: u32 = 16_384;
/// Most memory a picture's decoder may allocate, in bytes.
pub const MAX_PICTURE_ALLOC: u64 = 512 * 1024 * 1024;
/// Formats a picture may be in (the `image` features this build has).
pub const PICTURE_FORMATS: &str = "PNG, JPEG, WebP, GIF (first frame), BMP";

/// What to look for.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A sentence, through the text tower; also matched against what is said in videos that
    /// were listened to.
    Text(String),
    /// A picture, through the image tower: moments that look like it.
    Picture(Picture),
    /// The stored frame of `video` nearest `at_s` seconds: moments like that one. The moment
    /// itself (the interval of `video` that contains `at_s`) is left out of the answer.
    Moment { video: Fingerprint, at_s: f64 },
    /// Words someone said: matched against the transcripts of listened videos, word for word
    /// ([`super::said`]); no vector, no model.
    Said(String),
}

impl From<String> for Probe {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Probe {
    fn from(text: &str) -> Self {
        Self::Text(text.to_string())
    }
}

impl Probe {
    /// What the query vector is compared with besides frames: only words are matched against
    /// transcripts (whose segments the text tower embedded).
    pub fn matches_speech(&self) -> bool {
        matches!(self, Self::Text(_))
    }
}

/// A decoded, upright query picture.
#[derive(Debug, Clone)]
pub struct Picture {
    pub image: RgbImage,
    /// The format it was decoded from (e.g. "Png").
    pub format: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("cannot read picture {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("not a picture this build reads ({PICTURE_FORMATS})")]
    UnknownFormat,
    #[error("picture could not be decoded: {0}")]
    Decode(#[source] image::ImageError),
    #[error("picture is {width}x{height}; the most accepted is {MAX_PICTURE_SIDE} pixels on a side")]
    TooLarge { width: u32, height: u32 },
}

impl Picture {
    /// Decodes a picture file (format from its bytes, not its name).
    pub fn open(path: &Path) -> Result<Self, PictureError> {
        let bytes = std::fs::read(path).map_err(|source| PictureError::Read { path: path.to_path_buf(), source })?;
        Self::decode(&bytes)
    }

    /// Decodes picture bytes (format from the bytes), applying their EXIF orientation.
    pub fn decode(bytes: &[u8]) -> Result<Self, PictureError> {
        let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| {
            // Guessing reads from memory; it cannot fail, but keep the error if it does.
            PictureError::Decode(image::ImageError::IoError(e))
        })?;
        let format = reader.format().ok_or(PictureError::UnknownFormat)?;
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_PICTURE_ALLOC);
        reader.limits(limits);
        let mut decoder = reader.into_decoder().map_err(classify)?;
        let (width, height) = decoder.dimensions();
        if width > MAX_PICTURE_SIDE || height > MAX_PICTURE_SIDE {
            return Err(PictureError::TooLarge { width, height });
        }
        let orientation = decoder.orientation().map_err(classify)?;
        let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
        img.apply_orientation(orientation);
        let rgb = img.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let image = RgbImage::new(w, h, rgb.into_raw()).ok_or(PictureError::UnknownFormat)?;
        Ok(Self { image, format: format!("{format:?}") })
    }
}

fn classify(e: image::ImageError) -> PictureError {
    match e {
        image::ImageError::Unsupported(_) => PictureError::UnknownFormat,
        other => PictureError::Decode(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder;

    fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb(pixel(x, y)));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn decodes_by_content_not_name_and_keeps_pixels() {
        let p = Picture::decode(&png(3, 2, |x, y| [x as u8 * 10, y as u8 * 100, 7])).unwrap();
        assert_eq!((p.image.width, p.image.height, p.format.as_str()), (3, 2, "Png"));
        // Pixel (2, 1): row 1, column 2.
        let i = (3 + 2) * 3;
        assert_eq!(&p.image.data[i..i + 3], &[20, 100, 7]);
    }

    #[test]
    fn refuses_what_is_not_a_picture_and_what_is_cut_short() {
        assert!(matches!(Picture::decode(b"this is plain text, not an image"), Err(PictureError::UnknownFormat)));
        assert!(matches!(Picture::decode(b""), Err(PictureError::UnknownFormat)));
        let whole = png(64, 64, |x, y| [x as u8, y as u8, 0]);
        assert!(matches!(Picture::decode(&whole[..whole.len() / 2]), Err(PictureError::Decode(_))));
        let missing = Path::new("/nonexistent/picture.png");
        assert!(matches!(Picture::open(missing), Err(PictureError::Read { .. })));
    }

    #[test]
    fn a_picture_claiming_huge_dimensions_is_refused_before_decoding() {
        // 20,000 x 1 (a few kB compressed): refused from the header's dimensions.
        let bytes = png(20_000, 1, |_, _| [0, 0, 0]);
        assert!(matches!(Picture::decode(&bytes), Err(PictureError::TooLarge { width: 20_000, height: 1 })));
    }

    #[test]
    fn exif_orientation_turns_the_picture_upright() {
        // A 4x2 JPEG with an EXIF block saying "rotate 90° clockwise" (orientation 6) decodes
        // as 2x4.
        let img = image::RgbImage::from_fn(
            4,
            2,
            |x, _| if x < 2 { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) },
        );
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
        enc.set_exif_metadata(exif_orientation(6)).unwrap();
        enc.encode_image(&img).unwrap();
        let p = Picture::decode(&jpeg).unwrap();
        assert_eq!((p.image.width, p.image.height, p.format.as_str()), (2, 4, "Jpeg"));
        // Rotated clockwise, the left (red) half becomes the top.
        assert!(p.image.data[0] > 200 && p.image.data[2] < 60, "top-left {:?}", &p.image.data[..3]);
        let last = p.image.data.len() - 3;
        assert!(p.image.data[last + 2] > 200 && p.image.data[last] < 60, "bottom-right {:?}", &p.image.data[last..]);
    }

    /// A minimal big-endian TIFF/EXIF block with one Orientation (0x0112) entry.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut b = b"MM\0\x2a\0\0\0\x08".to_vec();
        b.extend_from_slice(&1u16.to_be_bytes()); // one entry
        b.extend_from_slice(&0x0112u16.to_be_bytes());
        b.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        b.extend_from_slice(&1u32.to_be_bytes()); // count
        b.extend_from_slice(&value.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        b
    }
}
