//! Log lines into the host's log, tagged by the host with the component,
//! action and task. The host caps lines per call and redacts secrets, but
//! components should still never log credentials or request bodies.

use crate::bindings::riposte::component::log::{Level, write};

/// Logs `message` at debug level.
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Logs `message` at info level.
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    write(Level::Error, message);
}
