//! Logs of every OathMesh binary: one `OATHMESH_LOG` variable with the `tracing` EnvFilter
//! syntax (`info`, `oathmesh_gateway=debug,warn`, ...), text or JSON lines on stderr, and ANSI
//! colours only when stderr is a terminal (never in a log file or the journal).

use serde::Deserialize;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the filter.
pub const LOG_ENV: &str = "OATHMESH_LOG";

/// `log_format` in the server configuration files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`), for log shippers.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("`{other}` is not text or json")),
        }
    }
}

/// The filter from `OATHMESH_LOG`, or `default_directive` (e.g. `info`) when it is unset.
/// Parts of the variable that do not parse are skipped (and reported once on stderr) rather
/// than silencing every log.
pub fn env_filter(default_directive: &str) -> EnvFilter {
    match std::env::var(LOG_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).unwrap_or_else(|error| {
                eprintln!(
                    "{LOG_ENV}={value:?} is not a valid filter ({error}); using {default_directive}"
                );
                EnvFilter::new(default_directive)
            })
        }
        _ => EnvFilter::new(default_directive),
    }
}

/// Installs the process-wide subscriber writing to stderr; a no-op when the embedding program
/// already installed one.
pub fn init(format: LogFormat, default_directive: &str) {
    let filter = env_filter(default_directive);
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(false).try_init(),
    };
}
