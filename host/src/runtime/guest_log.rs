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
    fn write(&mut self, level: Level, message: &str) {
        if self.written >= self.max_lines {
            self.dropped += 1;
            return;
        }
        self.written += 1;
        let mut line = self.redactor.redact(message);
        truncate(&mut line, self.max_line_bytes);

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
    fn truncates_on_char_boundaries() {
        let mut text = "ab€cd".to_string();
        truncate(&mut text, 3);
        assert_eq!(text, "ab [truncated]");
        let mut short = "ok".to_string();
        truncate(&mut short, 3);
        assert_eq!(short, "ok");
    }
}
