//! The gate as wasi-http sees it: the `send_request` hook and friends.

use std::sync::Arc;

use http::uri::Scheme;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::send::{self, GateCall};

/// The wasi-http hooks of one call. Every outgoing request of the guest
/// passes through [`WasiHttpHooks::send_request`] here, and nowhere else.
pub struct GateHooks {
    pub(crate) call: Arc<GateCall>,
}

impl WasiHttpHooks for GateHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<send::Sent, Error>> + Send> {
        Box::new(send::boxed(self.call.clone(), request, options))
    }

    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS
    }

    // Every outgoing body queues up to (buffer + 1) chunks in host memory
    // until the gate reads it, outside the guest's memory limit; with
    // wasi-http's defaults (1 MiB chunks) unsent requests let one call hold
    // gigabytes. With these, `resources` bodies hold at most 32 KiB each.
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        16 * 1024
    }
}
