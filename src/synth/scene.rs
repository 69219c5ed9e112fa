//! Procedural scenes with captions from a small grammar: a coloured shape on a (possibly
//! textured) background, still or moving.

use serde::{Deserialize, Serialize};

/// The seeded generator of scenes: the model crate's, so training and generation agree on
/// what a seed means.
pub use crate::model::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Colour {
    Red,
    Green,
    Blue,
    Yellow,
    Purple,
    Cyan,
    Orange,
    White,
    Black,
    Gray,
}

pub const COLOURS: [Colour; 10] = [
    Colour::Red,
    Colour::Green,
    Colour::Blue,
    Colour::Yellow,
    Colour::Purple,
    Colour::Cyan,
    Colour::Orange,
    Colour::White,
    Colour::Black,
    Colour::Gray,
];

impl Colour {
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Self::Red => [220, 30, 30],
            Self::Green => [30, 180, 40],
            Self::Blue => [30, 60, 220],
            Self::Yellow => [240, 220, 30],
            Self::Purple => [140, 40, 180],
            Self::Cyan => [40, 210, 220],
            Self::Orange => [250, 140, 20],
            Self::White => [245, 245, 245],
            Self::Black => [15, 15, 15],
            Self::Gray => [128, 128, 128],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Green => "green",
            Self::Blue => "blue",
            Self::Yellow => "yellow",
            Self::Purple => "purple",
            Self::Cyan => "cyan",
            Self::Orange => "orange",
            Self::White => "white",
            Self::Black => "black",
            Self::Gray => "gray",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Cross,
}

pub const SHAPES: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Cross];

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Self::Circle => "circle",
            Self::Square => "square",
            Self::Triangle => "triangle",
            Self::Cross => "cross",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Texture {
    Plain,
    Striped,
    Checkered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Motion {
    Still,
    Left,
    Right,
    Up,
    Down,
}

impl Motion {
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::Still => None,
            Self::Left => Some("left"),
            Self::Right => Some("right"),
            Self::Up => Some("up"),
            Self::Down => Some("down"),
        }
    }
}

/// One scene: what is drawn, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub background: Colour,
    pub texture: Texture,
    pub shape: Shape,
    pub colour: Colour,
    pub motion: Motion,
    pub duration: f64,
    /// Centre of a still shape, as a fraction of width and height.
    pub x: f64,
    pub y: f64,
}

impl Scene {
    /// A random scene (shape colour differs from the background).
    pub fn random(rng: &mut Rng, min_s: f64, max_s: f64) -> Self {
        let background = *rng.pick(&COLOURS);
        let colour = loop {
            let c = *rng.pick(&COLOURS);
            if c != background {
                break c;
            }
        };
        let texture = *rng.pick(&[Texture::Plain, Texture::Plain, Texture::Striped, Texture::Checkered]);
        let motion = *rng.pick(&[Motion::Still, Motion::Still, Motion::Left, Motion::Right, Motion::Up, Motion::Down]);
        Self {
            background,
            texture,
            shape: *rng.pick(&SHAPES),
            colour,
            motion,
            duration: min_s + (max_s - min_s) * rng.unit(),
            x: 0.3 + 0.4 * rng.unit(),
            y: 0.3 + 0.4 * rng.unit(),
        }
    }

    /// The caption, from the grammar
    /// `a <colour> <shape> [moving <dir>] on a [striped|checkered] <colour> background`.
    pub fn caption(&self) -> String {
        let texture = match self.texture {
            Texture::Plain => "",
            Texture::Striped => "striped ",
            Texture::Checkered => "checkered ",
        };
        let motion = self.motion.name().map(|d| format!(" moving {d}")).unwrap_or_default();
        format!(
            "a {} {}{motion} on a {texture}{} background",
            self.colour.name(),
            self.shape.name(),
            self.background.name()
        )
    }
}
