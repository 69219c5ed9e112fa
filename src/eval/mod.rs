//! Measuring retrieval quality: the standard moment-retrieval metrics and the QVHighlights file
//! formats.

pub mod files;
pub mod library;
pub mod metrics;
pub mod run;
