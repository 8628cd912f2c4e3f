//! The guest's stderr: kept (up to a cap) for the failure message when the
//! guest panics, and never allowed to fail a write. wasmtime's own
//! `MemoryOutputPipe` traps the guest once it is full, which would turn a
//! chatty but correct component into a failed task.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Keeps the first `capacity` bytes written and accepts (and drops) the
/// rest. Clones share the buffer.
#[derive(Debug, Clone)]
pub(crate) struct StderrCapture {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl StderrCapture {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::default(),
        }
    }

    /// What was kept, as text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl IsTerminal for StderrCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrCapture {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for StderrCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn keeps_the_start_and_accepts_everything() {
        let capture = StderrCapture::new(8);
        let mut writer = capture.clone();
        writer.write_all(b"hello ").await.unwrap();
        writer.write_all(b"world, and much more").await.unwrap();
        assert_eq!(capture.text(), "hello wo");
    }
}
