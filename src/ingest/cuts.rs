//! Hard cuts at frame precision, found while the sampler decodes.
//!
//! The frame embeddings say *between which two samples* the picture changes (at 1 fps, within
//! a second), and a moment snapped to that change used to start midway between the two
//! samples: up to half a second inside the previous shot, where a player opened at the
//! moment's start shows the wrong scene first. The sampler decodes every frame anyway (a
//! sequential pass), so it also measures how much each decoded frame differs from the one
//! before; a difference that towers over its neighbours' is a hard cut, known to the frame.
//! The query side (`Timeline::boundary` in `query::segment`) puts a shot boundary on
//! such a cut when one lies between the two samples, and midway otherwise (a dissolve or a
//! fade has no single frame to put it on).
//!
//! A frame's signature is the mean of each plane (luma and both chroma planes, so a change
//! of colour at equal brightness counts) over a 16 x 9 grid of cells, each cell read at 8 x 8
//! points: 27,648 reads of the decoded planes whatever the resolution, no scaling, small beside
//! decoding. Fewer points (4 x 4) let sensor and compression noise through: in moving, noisy
//! footage at CRF 35 neighbouring frames then differed by ~7 levels, hiding a cut of 15
//! between two similar patterns (8 x 8: ~3).
//! Formats other than the common 8-, 10- and 12-bit YUV and grey layouts give no signature,
//! and such a video simply has no frame-precise cuts.
//!
//! Why not a scene-detection crate: `av-scenechange` (rav1e's detector) answers an encoder's
//! question — where to place keyframes — from motion-compensated block costs over whole
//! frames, with its own frame types to fill, at a cost per frame far above a few thousand
//! reads. Here the embeddings already say which interval between two samples holds the
//! change; a jump in cell means is all it takes to find the frame.

use ffmpeg::format::Pixel;
use ffmpeg::util::frame::video::Video as VideoFrame;
use ffmpeg_next as ffmpeg;

const GRID_W: usize = 16;
const GRID_H: usize = 9;
/// Points read per cell along each axis (see the module's note on noise).
const TAPS: usize = 8;
/// Frames on each side whose differences a cut's must tower over.
const NEIGHBOURS: usize = 6;
/// A cut's difference is at least this many times the median of its neighbours'.
const RATIO: f32 = 3.0;
/// ... and at least this large (mean absolute difference of cell means, 0-255 scale): two
/// shots of one static scene differ by a few levels of noise, cuts between different scenes
/// by tens.
const MIN_DIFF: f32 = 10.0;
/// A jump that frames at most [`FLASH_FRAMES`] later undo (one of them is this close to the
/// frame before the jump, relative to the jump) is a flash — a photographer's flash, a
/// lightning strike, a frame or three of white — not a cut; nor is its way back.
const FLASH_RETURN: f32 = 0.3;
/// The longest flash, in frames.
const FLASH_FRAMES: usize = 3;

/// How one decoded frame differs from its predecessors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameChange {
    /// When the frame is shown, in microseconds: frames of 29.97 or 23.976 fps do not fall on
    /// milliseconds, and a moment must start on its shot's first frame, not the one before.
    pub t_us: i64,
    /// Mean absolute difference from the previous decoded frame's signature.
    pub diff: f32,
    /// The same from the frames 2, 3, ... `FLASH_FRAMES + 1` back (`None` where there is none
    /// to compare).
    pub back: [Option<f32>; FLASH_FRAMES],
}

/// Watches every decoded frame and finds the hard cuts among them as it goes: whether a frame
/// starts a shot depends only on the [`NEIGHBOURS`] frames on either side of it, so the watch
/// holds a few signatures and [`WINDOW`] changes whatever the video's length or frame rate
/// (a hostile file of 1,000 frames a second within the sampler's duration limit would
/// otherwise make it hold a record for each of 14 million frames).
#[derive(Default)]
pub(super) struct CutWatch {
    /// Signatures of the last `FLASH_FRAMES + 1` frames, newest first.
    recent: std::collections::VecDeque<Vec<f32>>,
    finder: CutFinder,
}

impl CutWatch {
    /// Records a decoded frame shown at `t_us`. A frame without a signature (an unusual pixel
    /// format) breaks the chain: nothing is compared across it.
    pub fn observe(&mut self, t_us: i64, frame: &VideoFrame) {
        let Some(sig) = signature(frame) else {
            self.recent.clear();
            return;
        };
        if let Some(diff) = self.recent.front().and_then(|prev| difference(prev, &sig)) {
            let back = std::array::from_fn(|i| self.recent.get(i + 1).and_then(|b| difference(b, &sig)));
            self.finder.push(FrameChange { t_us, diff, back });
        }
        self.recent.push_front(sig);
        self.recent.truncate(FLASH_FRAMES + 1);
    }

    /// The times of the first frames of new shots (µs), increasing.
    pub fn finish(self) -> Vec<i64> {
        self.finder.finish()
    }
}

/// Changes a decision needs: the frame's own and [`NEIGHBOURS`] on each side (which also
/// covers the [`FLASH_FRAMES`] after it that can undo it).
const WINDOW: usize = 2 * NEIGHBOURS + 1;
const _: () = assert!(NEIGHBOURS >= FLASH_FRAMES, "a flash's way back must lie inside the window");

/// [`hard_cuts`] over a stream of changes, holding at most [`WINDOW`] of them.
#[derive(Default)]
pub struct CutFinder {
    /// The changes around the next one to decide, oldest first.
    window: std::collections::VecDeque<FrameChange>,
    /// Where in `window` the next change to decide is.
    next: usize,
    cuts: Vec<i64>,
}

impl CutFinder {
    /// Takes the change of the next decoded frame, deciding the frame [`NEIGHBOURS`] before it.
    pub fn push(&mut self, change: FrameChange) {
        self.window.push_back(change);
        if self.window.len() - self.next > NEIGHBOURS {
            self.decide_next();
            if self.next > NEIGHBOURS {
                self.window.pop_front();
                self.next -= 1;
            }
        }
        debug_assert!(self.window.len() <= WINDOW);
    }

    /// Changes held between frames (fewer than [`WINDOW`]).
    pub fn held(&self) -> usize {
        self.window.len()
    }

    /// Decides the frames still waiting for their successors. The times come out increasing: a
    /// file whose timestamps jump back (a broken or concatenated stream) still gives a sorted
    /// list, which the store and the query side rely on.
    pub fn finish(mut self) -> Vec<i64> {
        while self.next < self.window.len() {
            self.decide_next();
        }
        self.cuts.sort_unstable();
        self.cuts.dedup();
        self.cuts
    }

    fn decide_next(&mut self) {
        let k = self.next;
        if is_cut(self.window.make_contiguous(), k) {
            self.cuts.push(self.window[k].t_us);
        }
        self.next += 1;
    }
}

/// The frames where a hard cut lands (`changes` in decoding order, one per frame after the
/// first), in order of time.
pub fn hard_cuts(changes: &[FrameChange]) -> Vec<i64> {
    let mut finder = CutFinder::default();
    changes.iter().for_each(|&c| finder.push(c));
    finder.finish()
}

/// Whether `changes[k]` is a hard cut: a difference that is large in itself, towers over the
/// median of its neighbours' (so steady motion, which makes every difference large, is no
/// cut), and is neither end of a flash (frames that those soon after undo). Reads only
/// `changes[k - NEIGHBOURS..=k + NEIGHBOURS]`, so a window of them gives the answer the whole
/// list would.
fn is_cut(changes: &[FrameChange], k: usize) -> bool {
    let n = changes.len();
    let c = changes[k];
    if c.diff < MIN_DIFF {
        return false;
    }
    let mut around: Vec<f32> = (k.saturating_sub(NEIGHBOURS)..(k + NEIGHBOURS + 1).min(n))
        .filter(|&j| j != k)
        .map(|j| changes[j].diff)
        .collect();
    if !around.is_empty() {
        around.sort_by(f32::total_cmp);
        let median = around[around.len() / 2];
        if c.diff < RATIO * median {
            return false;
        }
    }
    let undone = |b: Option<f32>| b.is_some_and(|b| b < FLASH_RETURN * c.diff);
    // This frame goes back to one from before the frames just shown: they were a flash.
    let ends_flash = c.back.iter().any(|&b| undone(b));
    // A frame soon after goes back to the one before this: this jump starts a flash
    // (frame k + i compared with frame k - 1, i + 1 back from it).
    let starts_flash = (1..=FLASH_FRAMES).any(|i| changes.get(k + i).is_some_and(|n| undone(n.back[i - 1])));
    !ends_flash && !starts_flash
}

fn difference(a: &[f32], b: &[f32]) -> Option<f32> {
    (a.len() == b.len() && !a.is_empty())
        .then(|| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32)
}

/// How a pixel format lays its planes out, for the formats a signature is read from.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Separate planes (`planes` of them: 1 for grey, 3 for YUV) of `bits`-bit samples; more
    /// than 8 bits are stored little-endian in two bytes.
    Planar { planes: usize, bits: u32 },
    /// Luma, then one plane of interleaved chroma pairs (NV12, NV21).
    SemiPlanar,
}

fn layout(format: Pixel) -> Option<Layout> {
    use Pixel as P;
    Some(match format {
        P::YUV420P
        | P::YUVJ420P
        | P::YUV422P
        | P::YUVJ422P
        | P::YUV444P
        | P::YUVJ444P
        | P::YUV440P
        | P::YUVJ440P
        | P::YUV411P
        | P::YUV410P => Layout::Planar { planes: 3, bits: 8 },
        P::GRAY8 => Layout::Planar { planes: 1, bits: 8 },
        P::YUV420P10LE | P::YUV422P10LE | P::YUV444P10LE => Layout::Planar { planes: 3, bits: 10 },
        P::YUV420P12LE | P::YUV422P12LE | P::YUV444P12LE => Layout::Planar { planes: 3, bits: 12 },
        P::NV12 | P::NV21 => Layout::SemiPlanar,
        _ => return None,
    })
}

/// The frame's cell means, plane after plane, on a 0-255 scale.
fn signature(frame: &VideoFrame) -> Option<Vec<f32>> {
    let layout = layout(frame.format())?;
    let mut sig = Vec::with_capacity(3 * GRID_W * GRID_H);
    match layout {
        Layout::Planar { planes, bits } => {
            for p in 0..planes {
                cell_means(frame, p, 1, 0, bits, &mut sig)?;
            }
        }
        Layout::SemiPlanar => {
            cell_means(frame, 0, 1, 0, 8, &mut sig)?;
            cell_means(frame, 1, 2, 0, 8, &mut sig)?;
            cell_means(frame, 1, 2, 1, 8, &mut sig)?;
        }
    }
    Some(sig)
}

/// Appends the grid's cell means of plane `p`, whose samples are `step` apart in a row
/// starting at `offset` (interleaved chroma), to `out`. The lattice's byte offsets are worked
/// out once per plane, so the reads are loads and integer sums (this runs on the decoding
/// thread, for every frame).
fn cell_means(frame: &VideoFrame, p: usize, step: usize, offset: usize, bits: u32, out: &mut Vec<f32>) -> Option<()> {
    let (w, h) = (frame.plane_width(p) as usize, frame.plane_height(p) as usize);
    if w == 0 || h == 0 {
        return None;
    }
    let stride = frame.stride(p);
    let data = frame.data(p);
    let bytes = if bits > 8 { 2 } else { 1 };
    // Points at the centres of a (GRID * TAPS)-square lattice over the plane.
    let (cols, rows) = (GRID_W * TAPS, GRID_H * TAPS);
    let xs: [usize; GRID_W * TAPS] = std::array::from_fn(|i| ((i * 2 + 1) * w / (2 * cols) * step + offset) * bytes);
    let ys: [usize; GRID_H * TAPS] = std::array::from_fn(|i| ((i * 2 + 1) * h / (2 * rows)) * stride);
    // The farthest read must lie inside the plane's data (then every read does).
    if ys[rows - 1] + xs[cols - 1] + bytes > data.len() {
        return None;
    }
    let scale = 255.0 / ((1u32 << bits) - 1) as f32 / (TAPS * TAPS) as f32;
    for row in ys.chunks_exact(TAPS) {
        for cell in xs.chunks_exact(TAPS) {
            let mut sum = 0u32;
            for &y in row {
                let line = &data[y..];
                if bytes == 1 {
                    sum += cell.iter().map(|&x| u32::from(line[x])).sum::<u32>();
                } else {
                    sum += cell.iter().map(|&x| u32::from(u16::from_le_bytes([line[x], line[x + 1]]))).sum::<u32>();
                }
            }
            out.push(sum as f32 * scale);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The changes of frames at 25 fps whose signatures are one number each, with a little
    /// alternating noise on top (`level(i)`: frame i's picture).
    fn changes(n: usize, level: impl Fn(usize) -> f32) -> Vec<FrameChange> {
        let l: Vec<f32> = (0..n).map(|i| level(i) + if i % 2 == 0 { 0.4 } else { -0.4 }).collect();
        (1..n)
            .map(|k| FrameChange {
                t_us: k as i64 * 40_000,
                diff: (l[k] - l[k - 1]).abs(),
                back: std::array::from_fn(|i| (k >= i + 2).then(|| (l[k] - l[k - i - 2]).abs())),
            })
            .collect()
    }

    #[test]
    fn a_jump_over_quiet_frames_is_a_cut() {
        let c = changes(100, |i| match i {
            0..37 => 20.0,
            37..80 => 65.0,
            _ => 35.0,
        });
        assert_eq!(hard_cuts(&c), vec![37 * 40_000, 80 * 40_000]);
    }

    #[test]
    fn steady_motion_and_small_changes_are_not_cuts() {
        // A pan: every frame differs by ~12; one step a little larger.
        let c = changes(100, |i| 12.0 * i as f32 + if i >= 50 { 8.0 } else { 0.0 });
        assert!(hard_cuts(&c).is_empty(), "{:?}", hard_cuts(&c));
        // A quiet shot whose largest change is below the floor.
        let c = changes(100, |i| if i >= 50 { 28.0 } else { 20.0 });
        assert!(hard_cuts(&c).is_empty(), "{:?}", hard_cuts(&c));
    }

    #[test]
    fn a_cut_during_motion_still_counts() {
        // Frames drift by 5 a frame; at frame 50 the picture jumps by 40 more.
        let c = changes(100, |i| 5.0 * (i % 2) as f32 + if i >= 50 { 45.0 } else { 0.0 });
        assert_eq!(hard_cuts(&c), vec![2_000_000]);
    }

    #[test]
    fn a_flash_of_one_to_three_frames_is_not_a_cut() {
        for frames in 1..=FLASH_FRAMES {
            // Frames 40.. flash white; then the scene again.
            let c = changes(100, |i| if (40..40 + frames).contains(&i) { 250.0 } else { 30.0 });
            assert!(hard_cuts(&c).is_empty(), "{frames}: {:?}", hard_cuts(&c));
        }
        // Four frames of something else are a shot of their own.
        let c = changes(100, |i| if (40..44).contains(&i) { 250.0 } else { 30.0 });
        assert_eq!(hard_cuts(&c), vec![1_600_000, 1_760_000]);
    }

    #[test]
    fn two_cuts_close_together_are_both_found() {
        // A three-frame shot between two others.
        let c = changes(100, |i| match i {
            0..40 => 20.0,
            40..43 => 80.0,
            _ => 140.0,
        });
        assert_eq!(hard_cuts(&c), vec![1_600_000, 1_720_000]);
    }

    /// A 64 x 36 picture in `format` whose left half is (Y, U, V) = (200, 90, 160) and right
    /// half (40, 140, 100), at the format's bit depth.
    fn picture(format: Pixel) -> VideoFrame {
        let mut f = VideoFrame::new(format, 64, 36);
        let (left, right) = ([200u16, 90, 160], [40u16, 140, 100]);
        let fill = |f: &mut VideoFrame, p: usize, bits: u32, step: usize, pick: &dyn Fn(usize) -> usize| {
            let (pw, ph, stride) = (f.plane_width(p) as usize, f.plane_height(p) as usize, f.stride(p));
            let data = f.data_mut(p);
            for y in 0..ph {
                for x in 0..pw {
                    for k in 0..step {
                        let c = pick(k);
                        let v = if x < pw / 2 { left[c] } else { right[c] } << (bits - 8);
                        let bytes = if bits > 8 { 2 } else { 1 };
                        let at = y * stride + (x * step + k) * bytes;
                        if bits > 8 {
                            data[at..at + 2].copy_from_slice(&v.to_le_bytes());
                        } else {
                            data[at] = v as u8;
                        }
                    }
                }
            }
        };
        match layout(format).unwrap() {
            Layout::Planar { planes, bits } => (0..planes).for_each(|p| fill(&mut f, p, bits, 1, &|_| p)),
            Layout::SemiPlanar => {
                fill(&mut f, 0, 8, 1, &|_| 0);
                fill(&mut f, 1, 8, 2, &|k| 1 + k);
            }
        }
        f
    }

    #[test]
    fn every_layout_reads_the_same_picture_alike() {
        let reference = signature(&picture(Pixel::YUV420P)).unwrap();
        assert_eq!(reference.len(), 3 * GRID_W * GRID_H);
        // Luma cells: left half 200, right half 40; then U, then V.
        assert_eq!((reference[0], reference[GRID_W - 1]), (200.0, 40.0));
        assert_eq!((reference[GRID_W * GRID_H], reference[2 * GRID_W * GRID_H]), (90.0, 160.0));
        for format in [Pixel::YUV444P, Pixel::YUVJ422P, Pixel::NV12, Pixel::YUV420P10LE, Pixel::YUV444P12LE] {
            let sig = signature(&picture(format)).unwrap();
            let worst = sig.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(sig.len() == reference.len() && worst <= 1.0, "{format:?}: off by {worst}");
        }
        let grey = signature(&picture(Pixel::GRAY8)).unwrap();
        assert_eq!(grey, reference[..GRID_W * GRID_H]);
        // Packed RGB (no decoder this project meets gives it): no signature, so no cuts.
        assert_eq!(signature(&VideoFrame::new(Pixel::RGB24, 64, 36)), None);
    }

    #[test]
    fn cuts_come_out_sorted_when_timestamps_jump_back() {
        let mut c = changes(100, |i| match i {
            0..30 => 20.0,
            30..70 => 90.0,
            _ => 160.0,
        });
        // The stream's clock restarts at frame 50: frames 50.. are stamped from 0 again.
        c.iter_mut().filter(|f| f.t_us >= 2_000_000).for_each(|f| f.t_us -= 2_000_000);
        assert_eq!(hard_cuts(&c), vec![800_000, 1_200_000]);
    }

    /// Pictures that hold for a few frames, jump, flash and drift: many cuts, flashes and
    /// near-misses, from a seeded generator.
    fn eventful(n: usize, seed: u64) -> Vec<FrameChange> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut level = 50.0f32;
        let levels: Vec<f32> = (0..n)
            .map(|_| {
                match next() % 16 {
                    0 => level = (next() % 200) as f32,
                    1 => return 250.0,
                    _ => level += (next() % 5) as f32 - 2.0,
                }
                level
            })
            .collect();
        changes(n, |i| levels[i])
    }

    #[test]
    fn the_stream_decides_as_the_whole_list_would() {
        for seed in 1..=20 {
            let c = eventful(400, seed);
            let whole: Vec<i64> = (0..c.len()).filter(|&k| is_cut(&c, k)).map(|k| c[k].t_us).collect();
            assert!(whole.len() > 5, "seed {seed}: too few cuts to compare ({})", whole.len());
            assert_eq!(hard_cuts(&c), whole, "seed {seed}");
        }
    }

    #[test]
    fn the_stream_holds_a_window_not_the_video() {
        let mut finder = CutFinder::default();
        let mut most = 0;
        for c in eventful(100_000, 7) {
            finder.push(c);
            most = most.max(finder.held());
        }
        // Between frames: the NEIGHBOURS decided changes before the next to decide, it and
        // the NEIGHBOURS - 1 after it (the next frame's change completes its window).
        assert_eq!(most, WINDOW - 1);
        assert!(finder.finish().len() > 1_000);
    }

    #[test]
    fn differences_need_equal_signatures() {
        assert_eq!(difference(&[0.0, 10.0], &[4.0, 6.0]), Some(4.0));
        assert_eq!(difference(&[0.0], &[1.0, 2.0]), None);
        assert_eq!(difference(&[], &[]), None);
    }
}
