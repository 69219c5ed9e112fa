//! One still frame of a local video as a small PNG: the thumbnails of `chronoseek serve`'s
//! result cards. A seek to the key frame before `t`, then decoding forward to the first frame
//! at or after `t` (or the last one, past the end), scaled to a bounded width with its rotation
//! applied.

use std::path::Path;

use ffmpeg::{format::Pixel, software::scaling, util::frame::video::Video as VideoFrame};
use ffmpeg_next as ffmpeg;

use super::sampler::{DecodeError, MediaTrust, VideoStream, open, rotate, seconds, video_stream};
use crate::model::preprocess::RgbImage;

/// The frame at `t` seconds of the local file `path`, as PNG bytes at most `max_width` wide.
pub fn thumbnail_png(path: &Path, t: f64, max_width: u32) -> Result<Vec<u8>, DecodeError> {
    let mut ictx = open(path, MediaTrust::Local)?;
    let VideoStream { index, time_base: tb, start_ts, info, codec } = video_stream(&ictx)?;
    let mut decoder = codec.decoder().video().map_err(DecodeError::video_codec)?;
    let t = t.max(0.0);
    if t > 0.0 {
        // Container-level seek in AV_TIME_BASE units to the key frame at or before t; a file
        // that cannot seek is decoded from the start.
        let target = (t * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
        let _ = ictx.seek(target, ..target);
    }
    let mut frame = VideoFrame::empty();
    let mut last: Option<VideoFrame> = None;
    let mut packet = ffmpeg::Packet::empty();
    let at_or_after =
        |f: &VideoFrame| f.timestamp().or(f.pts()).is_some_and(|ts| seconds(ts - start_ts, tb) + 0.001 >= t);
    'read: loop {
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) => continue,
            Err(e) => return Err(DecodeError::Read(e)),
        }
        if packet.stream() != index || decoder.send_packet(&packet).is_err() {
            continue;
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            let done = at_or_after(&frame);
            last = Some(frame.clone());
            if done {
                break 'read;
            }
        }
    }
    if last.as_ref().is_none_or(|f| !at_or_after(f)) {
        let _ = decoder.send_eof();
        while decoder.receive_frame(&mut frame).is_ok() {
            let done = at_or_after(&frame);
            last = Some(frame.clone());
            if done {
                break;
            }
        }
    }
    let frame = last.ok_or(DecodeError::NoFrames)?;
    let (fw, fh) = (frame.width(), frame.height());
    let rw = if info.rotation % 180 == 90 { fh } else { fw };
    let scale = (f64::from(max_width.max(16)) / f64::from(rw.max(1))).min(1.0);
    // The scale is chosen on the displayed width; swscale works before rotation.
    let (tw, th) = (((f64::from(fw) * scale) as u32).max(2), ((f64::from(fh) * scale) as u32).max(2));
    let mut scaler = scaling::Context::get(frame.format(), fw, fh, Pixel::RGB24, tw, th, scaling::Flags::BILINEAR)
        .map_err(|source| DecodeError::PixelFormat { from: frame.format(), source })?;
    let mut rgb = VideoFrame::empty();
    scaler.run(&frame, &mut rgb).map_err(DecodeError::Scale)?;
    let stride = rgb.stride(0);
    let plane = rgb.data(0);
    let mut data = Vec::with_capacity((tw * th * 3) as usize);
    for y in 0..th as usize {
        data.extend_from_slice(&plane[y * stride..y * stride + tw as usize * 3]);
    }
    let img = rotate(RgbImage { width: tw as usize, height: th as usize, data }, info.rotation);
    encode_png(&img)
}

fn encode_png(img: &RgbImage) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(DecodeError::Png)?;
    w.write_image_data(&img.data).map_err(DecodeError::Png)?;
    w.finish().map_err(DecodeError::Png)?;
    Ok(out)
}
