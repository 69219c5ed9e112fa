//! Procedurally generated scenes and videos with known ground truth: the offline material for
//! training the bundled tiny CLIP and for measuring retrieval quality.

pub mod dataset;
pub mod render;
pub mod scene;
pub mod screens;
pub mod video;
