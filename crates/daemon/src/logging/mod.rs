//! The daemon's log, as upstream 4.1 writes it (docs/logging.md): plain lines in a Python
//! `%(field)s` format (Patroni's `2024-01-01 12:00:00,123 INFO: message` by default) or JSON
//! lines, to stderr or to `<log.dir>/patroni.log` rotated at `log.file_size` keeping
//! `log.file_num` files; `log.loggers` levels per module; heartbeats shown only when they
//! change with `log.deduplicate_heartbeat_logs`. A reload applies a changed `log:` section.

mod format;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use patroni_core::config::{JsonField, LogConfig, LogLevel, LogType};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

use format::{is_heartbeat, json_fields, parse, render_json, render_plain, Piece, Record};

/// The crates whose lines `log.level` governs; any other logs at WARNING and above only.
const OUR_TARGETS: &[&str] = &[
    "patroni",
    "patroni_core",
    "patroni_postgres",
    "patroni_dcs",
    "patroni_dcs_etcd",
    "patroni_dcs_etcd2",
    "patroni_dcs_zookeeper",
    "patroni_rest_client",
];

/// Where lines go.
enum Sink {
    Stderr,
    /// `patroni.log` with its size so far (rotation happens before a line that would pass
    /// `file_size`, as Python's `RotatingFileHandler` does).
    File {
        file: Box<FileRotate<AppendCount>>,
        size: usize,
        limit: usize,
    },
}

/// The logger's settings in force and what it remembers between lines.
struct Writer {
    config: LogConfig,
    pieces: Vec<Piece>,
    fields: Vec<JsonField>,
    sink: Sink,
    last_heartbeat: Option<String>,
}

static WRITER: OnceLock<Mutex<Writer>> = OnceLock::new();

thread_local! {
    /// This thread is inside the writer: a line logged from there (the panic hook, say) goes
    /// straight to stderr instead of waiting for the lock this thread holds.
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears [`WRITING`] when the write ends, panic or not.
struct Writing;

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(false));
    }
}
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();
static STARTED: OnceLock<Instant> = OnceLock::new();

fn lock() -> Option<std::sync::MutexGuard<'static, Writer>> {
    // A poisoned lock only means a panic while writing one line: the writer is still whole.
    WRITER
        .get()
        .map(|w| w.lock().unwrap_or_else(|e| e.into_inner()))
}

fn tracing_level(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warning => "warn",
        LogLevel::Error | LogLevel::Critical => "error",
    }
}

/// `log.level` for our crates, WARNING for the libraries, then `log.loggers` (a Python module
/// name such as `patroni.ha` is our module `patroni::ha`).
fn filter(config: &LogConfig) -> EnvFilter {
    let mut filter = EnvFilter::new("warn");
    let ours = tracing_level(config.level);
    let loggers = config
        .loggers
        .iter()
        .map(|(module, level)| (module.replace('.', "::"), tracing_level(*level)));
    for (target, level) in OUR_TARGETS
        .iter()
        .map(|t| ((*t).to_string(), ours))
        .chain(loggers)
    {
        match format!("{target}={level}").parse() {
            Ok(directive) => filter = filter.add_directive(directive),
            Err(e) => eprintln!("log.loggers: cannot use {target:?}: {e}"),
        }
    }
    filter
}

fn open_sink(config: &LogConfig) -> Result<Sink, String> {
    let Some(dir) = &config.dir else {
        return Ok(Sink::Stderr);
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("log.dir {}: {e}", dir.display()))?;
    let path: PathBuf = dir.join("patroni.log");
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true);
    if let Some(mode) = config.mode {
        options.mode(mode);
    }
    // Opened here first: the rotating writer would drop lines silently if it cannot.
    let size = options
        .open(&path)
        .and_then(|f| f.metadata())
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?
        .len();
    let file = FileRotate::new(
        &path,
        AppendCount::new(config.file_num),
        ContentLimit::None,
        Compression::None,
        Some(options),
    );
    Ok(Sink::File {
        file: Box::new(file),
        size: usize::try_from(size).unwrap_or(usize::MAX),
        limit: config.file_size,
    })
}

fn writer(config: &LogConfig) -> Result<Writer, String> {
    let format = match &config.format {
        patroni_core::config::LogFormat::Percent(f) => f.clone(),
        patroni_core::config::LogFormat::Fields(_) => String::new(),
    };
    Ok(Writer {
        pieces: parse(&format),
        fields: json_fields(&config.format),
        sink: open_sink(config)?,
        config: config.clone(),
        last_heartbeat: None,
    })
}

/// Installs the logger. Fails when `log.dir` cannot be written.
pub fn init(config: &LogConfig) -> Result<(), String> {
    let _ = STARTED.set(Instant::now()); // Set once; a second init keeps the first start.
    let writer = writer(config)?;
    if WRITER.set(Mutex::new(writer)).is_err() {
        return Ok(());
    }
    let (filter, handle) = reload::Layer::new(filter(config));
    let _ = FILTER.set(handle); // Only the first init gets here.
                                // Fails only when a logger is already installed (a test's own), which then gets the lines.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(PatroniLayer)
        .try_init();
    Ok(())
}

/// Applies a reloaded `log:` section; an unchanged one changes nothing, a `log.dir` that
/// cannot be written keeps the old one (and says so).
pub fn reconfigure(config: &LogConfig) {
    let Some(mut current) = lock() else { return };
    if current.config == *config {
        return;
    }
    match writer(config) {
        Ok(new) => *current = new,
        Err(e) => {
            drop(current);
            tracing::error!("Failed to apply the new log settings: {e}");
            return;
        }
    }
    drop(current);
    if let Some(handle) = FILTER.get() {
        if let Err(e) = handle.reload(filter(config)) {
            tracing::error!("Failed to apply the new log levels: {e}");
        }
    }
}

/// Collects an event's message and any other fields (`key=value` after it).
#[derive(Default)]
struct Message(String, String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.1.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        } else {
            self.1.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

struct PatroniLayer;

impl<S: Subscriber> Layer<S> for PatroniLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        let text = message.0 + &message.1;
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warning,
            Level::INFO => LogLevel::Info,
            _ => LogLevel::Debug,
        };
        let thread = std::thread::current();
        let record = Record {
            created: chrono::Local::now(),
            level,
            message: &text,
            target: meta.target(),
            file: meta.file(),
            line: meta.line(),
            process: std::process::id(),
            thread: (
                nix::unistd::gettid().as_raw() as u64,
                thread.name().unwrap_or("Thread"),
            ),
            relative_ms: STARTED
                .get()
                .map_or(0.0, |s| s.elapsed().as_secs_f64() * 1e3),
        };
        if WRITING.with(|w| w.replace(true)) {
            // Re-entered from inside the writer: never wait for our own lock.
            let _ = writeln!(std::io::stderr(), "{}", record.message); // Nowhere else to report.
            return;
        }
        let _writing = Writing;
        if let Some(mut w) = lock() {
            w.write(&record);
        }
    }
}

impl Writer {
    fn write(&mut self, record: &Record<'_>) {
        // As upstream: only at INFO, where heartbeats are what the log is mostly made of.
        if self.config.deduplicate_heartbeat_logs && self.config.level == LogLevel::Info {
            if is_heartbeat(record.level, record.message) {
                if self.last_heartbeat.as_deref() == Some(record.message) {
                    return;
                }
                self.last_heartbeat = Some(record.message.to_string());
            } else {
                self.last_heartbeat = None;
            }
        }
        let dateformat = self.config.dateformat.as_deref();
        let mut line = match self.config.kind {
            LogType::Plain => render_plain(&self.pieces, record, dateformat),
            LogType::Json => {
                render_json(&self.fields, &self.config.static_fields, record, dateformat)
            }
        };
        line.push('\n');
        match &mut self.sink {
            Sink::Stderr => {
                // Nowhere left to report a failed write to stderr.
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::File { file, size, limit } => {
                // file-rotate asserts that the rotated files it listed at start still exist: an
                // operator deleting one must cost a reopened log, not a panicking daemon.
                let limit = *limit;
                let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    write_rotating(file, size, limit, &line)
                }));
                if written.is_err() {
                    let _ = write!(std::io::stderr(), "{line}"); // Nowhere else to report.
                    self.sink = open_sink(&self.config).unwrap_or(Sink::Stderr);
                }
            }
        }
    }
}

/// Writes `line` to the log file, rotating first when it would take the file past `limit`
/// (Python's `RotatingFileHandler`); failures go to stderr with the line.
fn write_rotating(file: &mut FileRotate<AppendCount>, size: &mut usize, limit: usize, line: &str) {
    if *size > 0 && size.saturating_add(line.len()) > limit {
        if let Err(e) = file.rotate() {
            // Nowhere else to report it.
            let _ = writeln!(std::io::stderr(), "cannot rotate the log: {e}");
        }
        *size = 0;
    }
    match file.write_all(line.as_bytes()) {
        Ok(()) => *size = size.saturating_add(line.len()),
        Err(e) => {
            // The line goes to stderr rather than nowhere (nothing left if that fails too).
            let _ = write!(std::io::stderr(), "cannot write the log ({e}): {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: LogLevel, message: &str) -> Record<'_> {
        Record {
            created: chrono::Local::now(),
            level,
            message,
            target: "patroni::ha",
            file: None,
            line: None,
            process: 1,
            thread: (1, "main"),
            relative_ms: 0.0,
        }
    }

    /// A writer of bare messages into `dir/patroni.log`.
    fn file_writer(
        dir: &std::path::Path,
        file_num: usize,
        file_size: usize,
        dedup: bool,
    ) -> Writer {
        let config = LogConfig {
            format: patroni_core::config::LogFormat::Percent("%(message)s".into()),
            dir: Some(dir.to_path_buf()),
            file_num,
            file_size,
            deduplicate_heartbeat_logs: dedup,
            ..LogConfig::default()
        };
        writer(&config).expect("writer")
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("patroni-log-{name}-{}", std::process::id()));
        // Absent on a first run; a leftover is replaced.
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn repeated_heartbeats_are_written_once_until_something_else_happens() {
        let dir = temp_dir("dedup");
        let mut w = file_writer(&dir, 2, 1_000_000, true);
        for (level, m) in [
            (
                LogLevel::Info,
                "no action. I am (pg0), the leader with the lock",
            ),
            (
                LogLevel::Info,
                "no action. I am (pg0), the leader with the lock",
            ),
            (LogLevel::Warning, "Loop time exceeded"),
            (
                LogLevel::Info,
                "no action. I am (pg0), the leader with the lock",
            ),
            (
                LogLevel::Info,
                "no action. I am (pg0), the leader with the lock",
            ),
            (
                LogLevel::Info,
                "PAUSE: no action. I am (pg0), the leader with the lock",
            ),
        ] {
            w.write(&record(level, m));
        }
        drop(w);
        let text = std::fs::read_to_string(dir.join("patroni.log")).expect("log");
        assert_eq!(
            text,
            "no action. I am (pg0), the leader with the lock\nLoop time exceeded\n\
             no action. I am (pg0), the leader with the lock\n\
             PAUSE: no action. I am (pg0), the leader with the lock\n"
        );
        let _ = std::fs::remove_dir_all(&dir); // Clutter only if it stays.
    }

    #[test]
    fn a_rotated_file_deleted_by_hand_costs_a_reopened_log_not_a_panic() {
        let dir = temp_dir("deleted");
        let mut w = file_writer(&dir, 3, 25, false);
        for m in [
            "line 0001",
            "line 0002",
            "line 0003",
            "line 0004",
            "line 0005",
        ] {
            w.write(&record(LogLevel::Info, m));
        }
        // An operator frees disk space: file-rotate still lists .2 and asserts it exists.
        std::fs::remove_file(dir.join("patroni.log.2")).expect("remove .2");
        for m in ["line 0006", "line 0007", "line 0008", "line 0009"] {
            w.write(&record(LogLevel::Info, m));
        }
        drop(w);
        let text = std::fs::read_to_string(dir.join("patroni.log")).expect("log");
        assert!(text.ends_with("line 0009\n"), "{text}");
        let _ = std::fs::remove_dir_all(&dir); // Clutter only if it stays.
    }

    #[test]
    fn a_file_is_rotated_before_a_line_would_pass_file_size() {
        let dir = temp_dir("rotate");
        let mut w = file_writer(&dir, 2, 25, false);
        // 10 bytes a line: two fit in 25, the third goes to a new file.
        for m in [
            "line 0001",
            "line 0002",
            "line 0003",
            "line 0004",
            "line 0005",
            "line 0006",
            "line 0007",
        ] {
            w.write(&record(LogLevel::Info, m));
        }
        drop(w);
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).ok();
        assert_eq!(read("patroni.log").as_deref(), Some("line 0007\n"));
        assert_eq!(
            read("patroni.log.1").as_deref(),
            Some("line 0005\nline 0006\n")
        );
        assert_eq!(
            read("patroni.log.2").as_deref(),
            Some("line 0003\nline 0004\n")
        );
        assert_eq!(
            read("patroni.log.3"),
            None,
            "file_num 2 keeps two old files"
        );
        let _ = std::fs::remove_dir_all(&dir); // Clutter only if it stays.
    }
}
