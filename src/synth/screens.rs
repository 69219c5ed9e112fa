//! Plain screens: frames of one colour, or of two colours in halves, with the captions people
//! type for them ("a red screen", "a red and blue screen").
//!
//! Why: the scene grammar always draws a shape on a background, so a model trained on scenes
//! alone has never seen a frame of one colour — yet that is what test cards, title screens,
//! fades and the project's own fixture videos (the ones `make demo` searches) show. Training
//! the bundled model on these too is what lets the demo find "a blue screen" where it is.
//!
//! Colours are drawn around several anchors each (FFmpeg's and CSS's named values, and the
//! scene palette's), with jitter, so a name covers the shades decoders and encoders produce
//! rather than one exact triple. Frames are drawn at the model's input size directly: a screen
//! of one or two flat colours looks the same at every scale.

use crate::model::preprocess::RgbImage;
use crate::model::rng::Rng;

/// A colour name and the RGB values it is drawn around.
#[derive(Debug, Clone, Copy)]
pub struct ScreenColour {
    pub name: &'static str,
    pub anchors: &'static [[u8; 3]],
}

/// Every name a screen can have: the scene palette's ten plus magenta, pink and brown.
pub const SCREEN_COLOURS: [ScreenColour; 13] = [
    ScreenColour { name: "red", anchors: &[[255, 0, 0], [220, 30, 30]] },
    ScreenColour { name: "green", anchors: &[[0, 128, 0], [0, 255, 0], [30, 180, 40]] },
    ScreenColour { name: "blue", anchors: &[[0, 0, 255], [30, 60, 220]] },
    ScreenColour { name: "yellow", anchors: &[[255, 255, 0], [240, 220, 30]] },
    ScreenColour { name: "purple", anchors: &[[128, 0, 128], [140, 40, 180]] },
    ScreenColour { name: "cyan", anchors: &[[0, 255, 255], [40, 210, 220]] },
    ScreenColour { name: "orange", anchors: &[[255, 165, 0], [250, 140, 20]] },
    ScreenColour { name: "white", anchors: &[[255, 255, 255], [245, 245, 245]] },
    ScreenColour { name: "black", anchors: &[[0, 0, 0], [15, 15, 15]] },
    ScreenColour { name: "gray", anchors: &[[128, 128, 128]] },
    ScreenColour { name: "magenta", anchors: &[[255, 0, 255], [220, 40, 200]] },
    ScreenColour { name: "pink", anchors: &[[255, 192, 203], [255, 105, 180]] },
    ScreenColour { name: "brown", anchors: &[[139, 69, 19], [150, 90, 40]] },
];

/// What a screen shows: one colour, or two in halves (the first named on top, or on the left:
/// "a red and blue screen" and "a blue and red screen" are different pictures). Naming each
/// unordered pair once instead (either way round) was tried and trained a model that found the
/// right video less often in the library benchmark (57.47% against 64.71%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Plain(usize),
    Split { first: usize, second: usize },
}

impl Screen {
    /// Every screen: each colour alone, then each ordered pair of two different colours.
    pub fn all() -> Vec<Screen> {
        let n = SCREEN_COLOURS.len();
        let plain = (0..n).map(Screen::Plain);
        let split = (0..n)
            .flat_map(|first| (0..n).filter(move |&s| s != first).map(move |second| Screen::Split { first, second }));
        plain.chain(split).collect()
    }

    /// The caption: "a red screen", "a red and blue screen".
    pub fn caption(self) -> String {
        match self {
            Self::Plain(c) => format!("a {} screen", SCREEN_COLOURS[c].name),
            Self::Split { first, second } => {
                format!("a {} and {} screen", SCREEN_COLOURS[first].name, SCREEN_COLOURS[second].name)
            }
        }
    }

    /// One `size x size` frame of this screen: each colour a jittered shade of its name, a split
    /// horizontal or vertical at random, a little noise on every pixel.
    pub fn frame(self, rng: &mut Rng, size: usize) -> RgbImage {
        let (a, b, vertical) = match self {
            Self::Plain(c) => (c, c, false),
            Self::Split { first, second } => (first, second, rng.below(2) == 0),
        };
        let (ca, cb) = (shade(rng, a), shade(rng, b));
        let mut data = Vec::with_capacity(size * size * 3);
        for y in 0..size {
            for x in 0..size {
                let second_half = if vertical { x >= size / 2 } else { y >= size / 2 };
                let c = if second_half { cb } else { ca };
                for v in c {
                    let noise = rng.below(7) as i32 - 3;
                    data.push((v as i32 + noise).clamp(0, 255) as u8);
                }
            }
        }
        RgbImage { width: size, height: size, data }
    }
}

/// A shade of colour `c`: a random point between two of its anchors, each channel moved by up
/// to 12 levels.
fn shade(rng: &mut Rng, c: usize) -> [u8; 3] {
    let anchors = SCREEN_COLOURS[c].anchors;
    let (p, q) = (*rng.pick(anchors), *rng.pick(anchors));
    let t = rng.unit();
    let mut out = [0u8; 3];
    for i in 0..3 {
        let mixed = p[i] as f64 + (q[i] as f64 - p[i] as f64) * t;
        let jitter = rng.below(25) as f64 - 12.0;
        out[i] = (mixed + jitter).round().clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_has_its_own_caption() {
        let all = Screen::all();
        assert_eq!(all.len(), 13 + 13 * 12);
        let mut captions: Vec<String> = all.iter().map(|s| s.caption()).collect();
        assert_eq!(captions[0], "a red screen");
        assert!(captions.contains(&"a red and blue screen".to_string()));
        captions.sort();
        captions.dedup();
        assert_eq!(captions.len(), all.len(), "two screens share a caption");
    }

    #[test]
    fn a_split_screen_shows_its_first_colour_first() {
        let mut rng = Rng::new(7);
        let red_blue = Screen::Split { first: 0, second: 2 };
        let mut splits = std::collections::HashSet::new();
        for _ in 0..32 {
            let f = red_blue.frame(&mut rng, 16);
            assert_eq!((f.width, f.height, f.data.len()), (16, 16, 16 * 16 * 3));
            let red = |x: usize, y: usize| {
                let p = &f.data[(y * 16 + x) * 3..(y * 16 + x) * 3 + 3];
                match (p[0] > 180 && p[2] < 60, p[2] > 180 && p[0] < 60) {
                    (true, false) => true,
                    (false, true) => false,
                    _ => panic!("{p:?} is neither red nor blue"),
                }
            };
            // Red (named first) at the top-left corner, blue at the bottom-right, whichever split.
            assert!(red(0, 0) && !red(15, 15));
            splits.insert(red(15, 0));
        }
        assert_eq!(splits.len(), 2, "both top/bottom and left/right splits are drawn");
    }

    #[test]
    fn shades_stay_near_their_name_and_vary() {
        let mut rng = Rng::new(3);
        let magenta = 10;
        assert_eq!(SCREEN_COLOURS[magenta].name, "magenta");
        let shades: Vec<[u8; 3]> = (0..50).map(|_| shade(&mut rng, magenta)).collect();
        for s in &shades {
            assert!(s[0] >= 208 && s[1] <= 52 && s[2] >= 188, "{s:?} is not magenta");
        }
        let distinct = shades.iter().collect::<std::collections::HashSet<_>>().len();
        assert!(distinct > 40, "only {distinct} shades in 50 draws");
    }
}
