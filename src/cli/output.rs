//! Terminal output: tracing logs on stderr that do not tear progress bars, one progress bar
//! per long task, and the error report with its exit code.

use std::io::Write;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use super::global::GlobalOpts;

use super::CliError;

#[derive(Clone)]
pub struct Output {
    multi: MultiProgress,
    pub json: bool,
    pub quiet: bool,
    /// Standard output is a terminal that takes colour and bold (`NO_COLOR` unset).
    pub styled: bool,
}

/// Writes log lines above the progress bars instead of through them.
#[derive(Clone)]
struct SuspendingStderr(MultiProgress);

impl Write for SuspendingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for SuspendingStderr {
    type Writer = SuspendingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Where the log filter comes from, strongest first: `-q`/`-v` flags, `RUST_LOG` (a full
/// `tracing` filter), `LOG_LEVEL` (the reference's variable: a level name as Python's logging
/// spells it), else warnings and errors. An empty variable counts as unset; an unparsable one
/// is an error, never a silent "log nothing".
pub fn log_filter(
    quiet: bool,
    verbose: u8,
    rust_log: Option<&str>,
    log_level: Option<&str>,
) -> Result<String, CliError> {
    const QUIET_DEPS: &str = "lance=warn,lancedb=warn,datafusion=warn";
    let level = match (quiet, verbose) {
        (true, _) => Some("error"),
        (false, 0) => None,
        (false, 1) => Some("info"),
        (false, 2) => Some("debug"),
        _ => Some("trace"),
    };
    if let Some(level) = level {
        return Ok(format!("{level},{QUIET_DEPS}"));
    }
    if let Some(f) = rust_log.map(str::trim).filter(|f| !f.is_empty()) {
        EnvFilter::try_new(f).map_err(|e| {
            CliError::new(
                chronoseek::protocol::ErrorCode::InvalidRequest,
                format!("RUST_LOG={f:?} is not a log filter: {e}"),
            )
        })?;
        return Ok(f.to_string());
    }
    if let Some(l) = log_level.map(str::trim).filter(|l| !l.is_empty()) {
        let level = match l.to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" => "debug",
            "info" => "info",
            "warn" | "warning" => "warn",
            "error" | "critical" | "fatal" => "error",
            "off" | "none" => "off",
            _ => {
                return Err(CliError::new(
                    chronoseek::protocol::ErrorCode::InvalidRequest,
                    format!("LOG_LEVEL={l:?} is not a level (trace, debug, info, warning, error, critical, off)"),
                ));
            }
        };
        return Ok(format!("{level},{QUIET_DEPS}"));
    }
    Ok(format!("warn,{QUIET_DEPS}"))
}

/// `1 frame`, `2 frames`: a count with its noun, for people.
pub fn count(n: impl TryInto<u64>, noun: &str) -> String {
    let n = n.try_into().unwrap_or(u64::MAX);
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org).
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

impl Output {
    pub fn init(g: &GlobalOpts) -> Result<Self, CliError> {
        let multi = MultiProgress::new();
        if g.json || g.quiet {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let env = |k: &str| std::env::var(k).ok();
        let filter = log_filter(g.quiet, g.verbose, env("RUST_LOG").as_deref(), env("LOG_LEVEL").as_deref())?;
        let colour = use_colour(std::io::IsTerminal::is_terminal(&std::io::stderr()), env("NO_COLOR").as_deref());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_writer(SuspendingStderr(multi.clone()))
            .with_ansi(colour)
            .with_target(false)
            .try_init();
        let styled = use_colour(std::io::IsTerminal::is_terminal(&std::io::stdout()), env("NO_COLOR").as_deref());
        Ok(Self { multi, json: g.json, quiet: g.quiet, styled })
    }

    /// A bar for one video's frames (length set once the duration is known).
    pub fn frames_bar(&self, label: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} frames {per_sec} eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(short_label(label));
        bar
    }

    /// The bar over a whole batch of videos (`ingest FOLDER`): bytes of the local files done,
    /// which gives an ETA that long and short videos do not skew; the message counts videos.
    pub fn batch_bar(&self, total_bytes: u64) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(total_bytes));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {msg} · {bytes}/{total_bytes} · {elapsed} elapsed, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    }

    /// A spinner for one long step whose progress cannot be counted (an ffmpeg render).
    pub fn spinner(&self, message: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// A bar over a list of items (videos, tasks, runs).
    pub fn items_bar(&self, len: u64, what: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} {{elapsed}} {{msg}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    }

    /// Whether [`Output::say`] prints (neither --json nor --quiet).
    pub fn says(&self) -> bool {
        !self.json && !self.quiet
    }

    /// A human line on stdout (suppressed by --json and --quiet).
    pub fn say(&self, line: impl AsRef<str>) {
        if self.says() {
            self.multi.suspend(|| print_line(line.as_ref()));
        }
    }

    /// Text that is the command's product (a completion script) on stdout, whatever --json and
    /// --quiet say.
    pub fn document(&self, text: &str) {
        print_line(text.strip_suffix('\n').unwrap_or(text));
    }

    /// A JSON document on stdout (only with --json).
    pub fn json_line(&self, value: &impl serde::Serialize) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(s) => print_line(&s),
                Err(e) => eprintln!("error: cannot serialise output: {e}"),
            }
        }
    }

    pub fn error(&self, e: &CliError) {
        if self.json {
            self.json_line(&e.envelope());
        }
        self.multi.suspend(|| eprintln!("error: {e}"));
    }
}

/// An indicatif bar as the library's progress sink.
struct BarProgress(ProgressBar);

impl chronoseek::progress::Progress for BarProgress {
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }
    fn inc(&self, delta: u64) {
        self.0.inc(delta);
    }
    fn set_message(&self, message: &str) {
        self.0.set_message(message.to_string());
    }
}

/// The handle the library reports progress through, drawing on `bar`.
pub fn progress(bar: &ProgressBar) -> chronoseek::progress::ProgressHandle {
    std::sync::Arc::new(BarProgress(bar.clone()))
}

/// One line on stdout. A reader that went away (`chronoseek store list | head`) ends the
/// command quietly with success, as other Unix tools do, instead of a panic.
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
    }
}

fn short_label(label: &str) -> String {
    let name = label.rsplit('/').next().unwrap_or(label);
    if name.chars().count() > 28 {
        let tail: String = name.chars().rev().take(27).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{tail}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_show_by_default_and_bad_levels_are_errors() {
        let f = |q, v, r: Option<&str>, l: Option<&str>| log_filter(q, v, r, l).map_err(|e| e.message);
        assert!(f(false, 0, None, None).unwrap().starts_with("warn,"));
        assert!(f(false, 0, Some(""), Some("")).unwrap().starts_with("warn,"));
        assert!(f(false, 0, None, Some("INFO")).unwrap().starts_with("info,"));
        assert!(f(false, 0, None, Some("WARNING")).unwrap().starts_with("warn,"));
        assert!(f(false, 0, None, Some("CRITICAL")).unwrap().starts_with("error,"));
        assert_eq!(f(false, 0, Some("chronoseek=debug"), Some("INFO")).unwrap(), "chronoseek=debug");
        assert!(f(false, 2, Some("error"), None).unwrap().starts_with("debug,"));
        assert!(f(true, 0, None, Some("debug")).unwrap().starts_with("error,"));
        assert!(f(false, 0, None, Some("loud")).unwrap_err().contains("LOG_LEVEL"));
        assert!(f(false, 0, Some("=[bad"), None).unwrap_err().contains("RUST_LOG"));
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some("")));
        assert!(!use_colour(true, Some("1")));
        assert!(!use_colour(false, None));
    }
}
