//! The module graph of ARCHITECTURE.md, checked: every `crate::<module>` a library file names
//! must sit below it in the layering, and nothing outside `cli/` uses the command-line crates.
//! A new import that points up fails here, not in review.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lower ranks sit below higher ones (ARCHITECTURE.md, "Module graph").
const RANKS: &[(&str, u32)] = &[
    ("clock", 0),
    ("counters", 0),
    ("progress", 0),
    ("fingerprint", 0),
    // Runs the ffmpeg program: used by library (clips) and validator (remixes).
    ("ffmpeg_tool", 0),
    ("tasks", 0),
    ("protocol", 1),
    // crates/model, re-exported as `crate::model`: it depends on nothing in this crate.
    ("model", 1),
    ("chain", 2),
    ("synth", 2),
    ("index", 3),
    ("ingest", 4),
    ("query", 5),
    ("library", 6),
    ("eval", 7),
    ("validator", 8),
    ("server", 9),
];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/ingest/fetch.rs` -> `ingest`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn imports_point_down_the_module_graph() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if matches!(module.as_str(), "cli" | "main" | "lib") {
            continue;
        }
        let Some(own) = rank(&module) else {
            unknown.push(module.clone());
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let name: String =
                text[i + "crate::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name == module {
                continue;
            }
            match rank(&name) {
                Some(r) if r < own => {}
                Some(_) => upward
                    .entry(format!("{} ({module})", file.strip_prefix(&src).unwrap().display()))
                    .or_default()
                    .push(name),
                None => unknown.push(name),
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "modules missing from the layering (add them to RANKS and ARCHITECTURE.md): {unknown:?}"
    );
    assert!(upward.is_empty(), "imports that point up or sideways: {upward:#?}");
}

#[test]
fn command_line_crates_stay_in_the_binary() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        if matches!(module_of(&src, file).as_str(), "cli" | "main") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for needle in ["clap::", "use clap", "indicatif", "rpassword"] {
            if text.contains(needle) {
                found.push(format!("{}: {needle}", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
