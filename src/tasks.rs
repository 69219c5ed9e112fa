//! Evaluation tasks from every annotation format the subnet uses, as one [`Task`] type: the
//! reference's task JSON, ActivityNet Captions, QVHighlights (jsonl) and Charades-STA (txt).
//!
//! A task is one query on one video with all its ground-truth intervals (seconds from the start
//! of the video the URL names).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub video_url: String,
    pub query: String,
    pub ground_truths: Vec<Interval>,
    /// Video duration in seconds, when the annotation states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// The split the annotation puts it in (`validation`, `test`, ...), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
}

/// What is wrong inside an annotation file.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("line {line}: {source}")]
    JsonLine { line: usize, source: serde_json::Error },
    #[error("{context}: bad interval [{start}, {end}]")]
    BadInterval { context: String, start: f64, end: f64 },
    #[error("{video}: {timestamps} timestamps for {sentences} sentences")]
    TimestampCount { video: String, timestamps: usize, sentences: usize },
    #[error("line {line}: vid '{vid}' is not <id>_<start>_<end>")]
    BadVid { line: usize, vid: String },
    #[error("line {line}: expected '<id> <start> <end>##<sentence>'")]
    BadLine { line: usize },
    #[error("line {line}: bad time '{value}'")]
    BadTime { line: usize, value: String },
    #[error("cannot tell the annotation format from the name; pass a format")]
    UnknownFormat,
    #[error("no annotation file for split '{0}' in this folder")]
    NoSplitFile(String),
    #[error("no tasks in split '{0}'")]
    EmptySplit(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{path}: {source}")]
    Parse { path: String, source: ParseError },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}: no tasks")]
    Empty(String),
}

/// The annotation formats, picked by file name or by `--task-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFormat {
    /// `{"tasks": [{"task_id", "video_url", "query", "ground_truths": [{"start", "end"}]}]}`.
    Reference,
    /// `{"v_<youtube id>": {"duration", "timestamps": [[s, e]], "sentences": [...]}}`.
    ActivityNet,
    /// One JSON object per line: `qid`, `query`, `vid` (`<youtube id>_<start>_<end>`),
    /// `relevant_windows` (relative to the clip start).
    QvHighlights,
    /// `<video id> <start> <end>##<sentence>` per line.
    CharadesSta,
}

impl TaskFormat {
    /// The names `--task-format` lists (`FromStr` also takes `tasks` and `charades-sta`).
    pub const NAMES: &'static [&'static str] = &["reference", "activitynet", "qvhighlights", "charades"];

    /// Guesses from the file name and, for `.json`, the top-level shape.
    pub fn detect(path: &Path, text: &str) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".jsonl") {
            return Some(Self::QvHighlights);
        }
        if name.ends_with(".txt") {
            return Some(Self::CharadesSta);
        }
        if name.ends_with(".json") {
            // The reference's files hold {"tasks": [...]}; ActivityNet's are keyed by video id.
            let top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
            return Some(if top.contains_key("tasks") { Self::Reference } else { Self::ActivityNet });
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task format '{0}' (reference, activitynet, qvhighlights, charades)")]
pub struct UnknownTaskFormat(pub String);

impl std::str::FromStr for TaskFormat {
    type Err = UnknownTaskFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reference" | "tasks" => Ok(Self::Reference),
            "activitynet" => Ok(Self::ActivityNet),
            "qvhighlights" => Ok(Self::QvHighlights),
            "charades" | "charades-sta" => Ok(Self::CharadesSta),
            other => Err(UnknownTaskFormat(other.to_string())),
        }
    }
}

/// Options that only some formats need.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Charades videos have no public URL: `{id}` in this template is replaced by the video id.
    pub charades_url_template: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { charades_url_template: "Charades_v1_480/{id}.mp4".into() }
    }
}

/// Loads tasks from a file in any supported format (detected unless `format` is given).
pub fn load_tasks(path: &Path, format: Option<TaskFormat>, opts: &LoadOptions) -> Result<Vec<Task>, TaskError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TaskError::Io { path: p.clone(), source })?;
    let format = format
        .or_else(|| TaskFormat::detect(path, &text))
        .ok_or_else(|| TaskError::Parse { path: p.clone(), source: ParseError::UnknownFormat })?;
    let tasks = match format {
        TaskFormat::Reference => parse_reference(&text),
        TaskFormat::ActivityNet => parse_activitynet(&text),
        TaskFormat::QvHighlights => parse_qvhighlights(&text),
        TaskFormat::CharadesSta => parse_charades(&text, &opts.charades_url_template),
    }
    .map_err(|source| TaskError::Parse { path: p.clone(), source })?;
    if tasks.is_empty() {
        return Err(TaskError::Empty(p));
    }
    Ok(tasks)
}

fn check(iv: Interval, ctx: &str) -> Result<Interval, ParseError> {
    if !(iv.start.is_finite() && iv.end.is_finite() && iv.start >= 0.0 && iv.end >= iv.start) {
        return Err(ParseError::BadInterval { context: ctx.to_string(), start: iv.start, end: iv.end });
    }
    Ok(iv)
}

pub fn parse_reference(text: &str) -> Result<Vec<Task>, ParseError> {
    #[derive(Deserialize)]
    struct File {
        tasks: Vec<Task>,
    }
    let f: File = serde_json::from_str(text)?;
    for t in &f.tasks {
        for g in &t.ground_truths {
            check(*g, &t.task_id)?;
        }
    }
    Ok(f.tasks)
}

/// The public page of a YouTube video id.
pub fn youtube_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

pub fn parse_activitynet(text: &str) -> Result<Vec<Task>, ParseError> {
    #[derive(Deserialize)]
    struct Video {
        duration: f64,
        timestamps: Vec<[f64; 2]>,
        sentences: Vec<String>,
    }
    let videos: BTreeMap<String, Video> = serde_json::from_str(text)?;
    let mut tasks = Vec::new();
    for (key, v) in videos {
        if v.timestamps.len() != v.sentences.len() {
            return Err(ParseError::TimestampCount {
                video: key,
                timestamps: v.timestamps.len(),
                sentences: v.sentences.len(),
            });
        }
        let id = key.strip_prefix("v_").unwrap_or(&key);
        // One task per distinct sentence, with every interval that sentence annotates.
        let mut by_sentence: Vec<(String, Vec<Interval>)> = Vec::new();
        for (ts, s) in v.timestamps.iter().zip(&v.sentences) {
            let s = s.trim().to_string();
            if s.is_empty() {
                continue;
            }
            // Annotations sometimes run past the stated duration; clip to it.
            let iv = Interval { start: ts[0].max(0.0), end: ts[1].min(v.duration.max(ts[0])) };
            let iv = check(Interval { start: iv.start.min(iv.end), end: iv.end }, &key)?;
            match by_sentence.iter_mut().find(|(q, _)| *q == s) {
                Some((_, gts)) => gts.push(iv),
                None => by_sentence.push((s, vec![iv])),
            }
        }
        for (i, (query, ground_truths)) in by_sentence.into_iter().enumerate() {
            tasks.push(Task {
                split: None,
                task_id: format!("{key}#{i}"),
                video_url: youtube_url(id),
                query,
                ground_truths,
                duration: Some(v.duration),
            });
        }
    }
    Ok(tasks)
}

pub fn parse_qvhighlights(text: &str) -> Result<Vec<Task>, ParseError> {
    #[derive(Deserialize)]
    struct Line {
        qid: serde_json::Value,
        query: String,
        vid: String,
        #[serde(default)]
        duration: Option<f64>,
        #[serde(default)]
        relevant_windows: Vec<[f64; 2]>,
    }
    let mut tasks = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let l: Line = serde_json::from_str(line).map_err(|source| ParseError::JsonLine { line: n + 1, source })?;
        // vid = <youtube id>_<clip start>_<clip end>; ids may contain '_'.
        let mut parts = l.vid.rsplitn(3, '_');
        let (end, start, id) = (parts.next(), parts.next(), parts.next());
        let (Some(id), Some(start), Some(_)) = (id, start.and_then(|s| s.parse::<f64>().ok()), end) else {
            return Err(ParseError::BadVid { line: n + 1, vid: l.vid });
        };
        let qid = match &l.qid {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let ground_truths = l
            .relevant_windows
            .iter()
            .map(|w| check(Interval { start: start + w[0], end: start + w[1] }, &qid))
            .collect::<Result<Vec<_>, _>>()?;
        tasks.push(Task {
            split: None,
            task_id: qid,
            video_url: format!("{}&t={}", youtube_url(id), start as u64),
            query: l.query.trim().to_string(),
            ground_truths,
            duration: l.duration.map(|d| start + d),
        });
    }
    Ok(tasks)
}

pub fn parse_charades(text: &str, url_template: &str) -> Result<Vec<Task>, ParseError> {
    let mut grouped: Vec<(String, String, Vec<Interval>)> = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (head, sentence) = line.split_once("##").ok_or(ParseError::BadLine { line: n + 1 })?;
        let mut f = head.split_whitespace();
        let (Some(id), Some(s), Some(e)) = (f.next(), f.next(), f.next()) else {
            return Err(ParseError::BadLine { line: n + 1 });
        };
        let parse = |v: &str| v.parse::<f64>().map_err(|_| ParseError::BadTime { line: n + 1, value: v.to_string() });
        let iv = check(Interval { start: parse(s)?, end: parse(e)? }, id)?;
        let q = sentence.trim().to_string();
        match grouped.iter_mut().find(|(vid, query, _)| vid == id && *query == q) {
            Some((_, _, gts)) => gts.push(iv),
            None => grouped.push((id.to_string(), q, vec![iv])),
        }
    }
    Ok(grouped
        .into_iter()
        .enumerate()
        .map(|(i, (id, query, ground_truths))| Task {
            split: None,
            task_id: format!("{id}#{i}"),
            video_url: url_template.replace("{id}", &id),
            query,
            ground_truths,
            duration: None,
        })
        .collect())
}

/// Makes the tasks' relative video paths relative to `dataset` (the file that names them), as
/// a generated set's `tasks.json` writes them. URLs and absolute paths are left alone.
pub fn resolve_relative_paths(tasks: &mut [Task], dataset: &Path) {
    let base = dataset.parent().unwrap_or(Path::new("."));
    for t in tasks {
        let url = t.video_url.trim();
        if !url.is_empty() && !url.contains("://") && Path::new(url).is_relative() {
            t.video_url = base.join(url).display().to_string();
        }
    }
}

/// Picks the annotation file for a split when `path` is a folder (`validation` matches names
/// with `val`, `test` with `test`, `train` with `train`), and keeps only that split's tasks
/// when the file labels them.
pub fn load_split(
    path: &Path,
    split: &str,
    format: Option<TaskFormat>,
    opts: &LoadOptions,
) -> Result<Vec<Task>, TaskError> {
    let p = path.display().to_string();
    let file = if path.is_dir() {
        let needle = match split {
            "validation" | "val" => "val",
            other => other,
        };
        let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(path)
            .map_err(|source| TaskError::Io { path: p.clone(), source })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.is_file() && f.file_name().is_some_and(|n| n.to_string_lossy().to_lowercase().contains(needle))
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .next()
            .ok_or_else(|| TaskError::Parse { path: p.clone(), source: ParseError::NoSplitFile(split.to_string()) })?
    } else {
        path.to_path_buf()
    };
    let mut tasks = load_tasks(&file, format, opts)?;
    tasks.retain(|t| t.split.as_deref().is_none_or(|s| s == split));
    if tasks.is_empty() {
        return Err(TaskError::Parse {
            path: file.display().to_string(),
            source: ParseError::EmptySplit(split.to_string()),
        });
    }
    Ok(tasks)
}
