//! The server's log: one line per record on standard output, at the level `LABGATE_LOG` sets,
//! and [`escape`] for every value a request can influence before it reaches a line.
//!
//! Rocket's own records are dropped below `error`: its per-request lines carry the query string
//! (where a confused client may put a token), so the front server writes the request line
//! itself ([`crate::server`]), at `debug`, without the query.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;

/// How much the server writes, from `LABGATE_LOG` (or `--log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum LogLevel {
    /// Only failures.
    Error,
    /// Failures and things an operator should look at.
    Warn,
    /// Also what the server does (the default).
    Info,
    /// Also one line per request (method, path without query, status, duration, client).
    Debug,
}

impl LogLevel {
    fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
        }
    }
}

/// Whether a character could break a log line or change how it reads: control characters
/// (line breaks included), the Unicode line and paragraph separators, and bidi controls.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'
                ..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` made safe for one log line: control and bidi characters become `\n`, `\r`, `\t` or
/// `\u{..}`, and a backslash becomes `\\` so the result reads back unambiguously. Text that
/// needs nothing is borrowed as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The logger [`init`] installs.
struct Logger {
    level: log::LevelFilter,
}

impl Logger {
    /// labgate's own records pass at the configured level; everything else (Rocket, hyper)
    /// only at `error`. Rocket's generated code logs from our modules under targets ending in
    /// `::_` (guard failures, with the failed values): those count as Rocket's. Rocket's
    /// records about single requests (`rocket::server`) are dropped at every level, since they
    /// quote the whole URI, query string included; the front logs failed answers itself.
    fn passes(&self, meta: &log::Metadata<'_>) -> bool {
        let target = meta.target();
        if target.starts_with("rocket::server") {
            return false;
        }
        let ours = target.starts_with("labgate") && !target.ends_with("::_");
        meta.level()
            <= if ours {
                self.level
            } else {
                log::LevelFilter::Error
            }
    }
}

impl log::Log for Logger {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        self.passes(meta)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.passes(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        // A line that still holds a line break was written without `escape` somewhere; it is
        // escaped whole here, so no record can start a line of its own.
        let message = if message.chars().any(needs_escape) {
            escape(&message).into_owned()
        } else {
            message
        };
        let when = time::OffsetDateTime::now_utc();
        let stamp = when
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let line = format!("{stamp} {:<5} {message}\n", record.level());
        // A closed or full stdout must never stop the server.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Installs the server's logger at `level`. Call before building the Rocket, which then keeps
/// its own logger out; a second call changes nothing.
pub fn init(level: LogLevel) {
    let filter = level.filter();
    if log::set_boxed_logger(Box::new(Logger { level: filter })).is_ok() {
        log::set_max_level(filter.max(log::LevelFilter::Error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(escape("/admin/x-1 ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn line_breaks_and_bidi_cannot_start_or_reorder_a_line() {
        assert_eq!(escape("x\nFORGED"), "x\\nFORGED");
        assert_eq!(escape("a\r\n\tb"), "a\\r\\n\\tb");
        assert_eq!(escape("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(
            escape("a\u{2028}b\u{85}c\u{1b}[31m"),
            "a\\u{2028}b\\u{85}c\\u{1b}[31m"
        );
        // The escape character itself is escaped, so "\n" typed by a client reads as typed.
        assert_eq!(escape("a\\nb"), "a\\\\nb");
        assert!(!escape("é ü 字").contains('\\'));
    }
}
