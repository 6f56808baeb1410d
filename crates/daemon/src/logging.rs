//! Log lines in Patroni's default format: `2024-01-01 12:00:00,123 INFO: message`, so log
//! scrapers written for Patroni keep matching.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct PatroniFormat;

impl<S, N> FormatEvent<S, N> for PatroniFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            _ => "DEBUG",
        };
        write!(
            writer,
            "{} {level}: ",
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f")
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the logger at Patroni's `log.level` (only our crates log below WARNING).
pub fn init(level: &str) {
    let level = match level {
        "DEBUG" => "debug",
        "WARN" | "WARNING" => "warn",
        "ERROR" | "FATAL" | "CRITICAL" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,patroni={level},patroni_core={level},patroni_postgres={level},patroni_dcs_etcd={level},patroni_dcs_etcd2={level},patroni_dcs_zookeeper={level}"
    ));
    // Fails only when a logger is already installed (a test's own), which then gets the lines.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(PatroniFormat)
        .try_init();
}
