//! The guest's `log` import: lines become tracing events on target
//! `riposte::guest`, tagged with component, action and task, capped in
//! number and length, with secret values redacted.

use super::bindings::riposte::component::log::{Host, Level};
use super::secrets::Redactor;
use super::state::CallState;

/// The log of one call.
#[derive(Debug)]
pub(crate) struct GuestLog {
    pub component: String,
    pub action: String,
    pub task_id: String,
    pub redactor: Redactor,
    pub max_lines: usize,
    pub max_line_bytes: usize,
    pub written: usize,
    pub dropped: usize,
}

impl GuestLog {
    /// Logs a line the host writes about the guest's behaviour (a refused
    /// secret, say) when it quotes guest-chosen text: it counts against the
    /// same cap and is cleaned the same way as the guest's own lines.
    pub fn note(&mut self, message: &str) {
        self.write(Level::Info, message);
    }

    fn write(&mut self, level: Level, message: &str) {
        if self.written >= self.max_lines {
            self.dropped += 1;
            return;
        }
        self.written += 1;
        let line = self.clean(message);

        let (component, action, task_id) = (&self.component, &self.action, &self.task_id);
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "riposte::guest",
                    $level,
                    component = %component,
                    action = %action,
                    task_id = %task_id,
                    "{line}"
                )
            };
        }
        match level {
            Level::Trace => emit!(tracing::Level::TRACE),
            Level::Debug => emit!(tracing::Level::DEBUG),
            Level::Info => emit!(tracing::Level::INFO),
            Level::Warn => emit!(tracing::Level::WARN),
            Level::Error => emit!(tracing::Level::ERROR),
        }
    }

    /// Guest text made safe for the log: secrets redacted first (so that a
    /// cut can never leave half a secret), control characters escaped (so
    /// that a newline cannot forge a whole, unattributed log line), then cut
    /// to the line limit.
    pub fn clean(&self, text: &str) -> String {
        let mut line = escape_controls(&self.redactor.redact(text));
        truncate(&mut line, self.max_line_bytes);
        line
    }

    /// Reports lines dropped over the cap, once, at the end of the call.
    pub fn finish(&self) {
        if self.dropped > 0 {
            tracing::warn!(
                target: "riposte::guest",
                component = %self.component,
                action = %self.action,
                task_id = %self.task_id,
                dropped = self.dropped,
                limit = self.max_lines,
                "guest log lines over the per-call limit were dropped"
            );
        }
    }
}

/// Replaces control characters with visible escapes (`\n`, `\u{1b}`).
pub(crate) fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut.
pub(crate) fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(" [truncated]");
}

impl Host for CallState {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log.write(level, &message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(
            escape_controls("a\nb\rc\td\u{1b}[31m"),
            "a\\nb\\rc\\td\\u{1b}[31m"
        );
        assert_eq!(escape_controls("plain €"), "plain €");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        let mut text = "ab€cd".to_string();
        truncate(&mut text, 3);
        assert_eq!(text, "ab [truncated]");
        let mut short = "ok".to_string();
        truncate(&mut short, 3);
        assert_eq!(short, "ok");
    }
}
