//! Sends one checked request: resolve, check, connect to the checked
//! address, speak HTTP/1.1 (over TLS for https), cap the response body.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::net::{BoxFuture, Network};
use super::{EgressPolicy, Host, Origin, Refusal};
use crate::runtime::guest_log::{escape_controls, truncate};
use crate::runtime::secrets::Redactor;

/// The gate's view of one call: what it may reach, with what budget, and
/// what it has done so far.
pub(crate) struct GateCall {
    pub policy: EgressPolicy,
    pub network: Network,
    /// The call's deadline; every wait below is capped by it.
    pub deadline: Instant,
    pub request_body_limit: usize,
    pub response_body_limit: usize,
    pub max_requests: usize,
    pub requests: AtomicUsize,
    /// Refusal reasons, in order, for the call's report; at most
    /// [`KEPT_REFUSALS`] of them, each cut to [`REFUSAL_BYTES`].
    pub refusals: Mutex<Vec<String>>,
    /// Every refusal, kept or not.
    pub refused: AtomicUsize,
    pub component: String,
    pub action: String,
    pub task_id: String,
    /// Hides known secret values in what the gate logs and reports.
    pub redactor: Redactor,
}

/// Refusals kept (and logged) per call. A guest can provoke refusals as
/// fast as it can loop; the first few say what it tried.
pub(crate) const KEPT_REFUSALS: usize = 32;

/// Longest refusal text kept; the host name in it is the guest's choice.
const REFUSAL_BYTES: usize = 256;

impl GateCall {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn refuse(&self, origin: &str, refusal: Refusal) -> Error {
        if self.refused.fetch_add(1, Ordering::SeqCst) >= KEPT_REFUSALS {
            return Error::HttpRequestDenied;
        }
        // The guest chose the host name and it is quoted in the reason: a
        // secret smuggled into a name must not reach the log, nor a newline
        // forge a log line.
        let mut origin = escape_controls(&self.redactor.redact(origin));
        truncate(&mut origin, REFUSAL_BYTES);
        let mut refusal = escape_controls(&self.redactor.redact(refusal.reason()));
        truncate(&mut refusal, REFUSAL_BYTES);
        tracing::info!(
            component = %self.component,
            action = %self.action,
            task_id = %self.task_id,
            host = %origin,
            reason = %refusal,
            "egress refused"
        );
        if let Ok(mut refusals) = self.refusals.lock() {
            refusals.push(format!("{origin}: {refusal}"));
        }
        Error::HttpRequestDenied
    }

    /// A wait of at most `wanted` (the guest's option, if any) and never past
    /// the call's deadline. wasi-http's own default of 600 s is never used.
    fn budget(&self, wanted: Option<Duration>) -> Duration {
        let remaining = self.remaining();
        wanted.map_or(remaining, |wanted| wanted.min(remaining))
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The response and the future that drives the connection to its end.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Checks and sends `request` for `call`.
pub(crate) async fn send(
    call: Arc<GateCall>,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, Error> {
    let uri = request.uri().clone();
    let shown = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("?"),
        uri.authority().map_or("", |a| a.as_str())
    );
    // Every attempt counts, even one whose URL is refused below.
    if call.requests.fetch_add(1, Ordering::SeqCst) >= call.max_requests {
        let refusal = Refusal::new(format!(
            "more than {} requests in one call",
            call.max_requests
        ));
        return Err(call.refuse(&shown, refusal));
    }
    // The body is read whole before connecting, so an oversized one never
    // reaches the wire (provider API calls are small), and before the
    // origin is checked: a refused request then fails through its response
    // future, where every client looks, instead of closing the body under
    // the guest (StarlingMonkey's `fetch`, in JavaScript components, traps
    // on a closed body).
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, call.request_body_limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => match err.downcast::<Error>() {
            Ok(err) => return Err(*err),
            Err(_) => {
                let limit = call.request_body_limit;
                let refusal = Refusal::new(format!("request body over {limit} bytes"));
                call.refuse(&shown, refusal);
                return Err(Error::HttpRequestBodySize(Some(limit as u64)));
            }
        },
    };

    let authority = uri.authority().map_or("", |a| a.as_str());
    let origin = Origin::parse(uri.scheme_str().unwrap_or(""), authority)
        .map_err(|refusal| call.refuse(&shown, refusal))?;
    call.policy
        .check_origin(&origin)
        .map_err(|refusal| call.refuse(&shown, refusal))?;

    let addresses = resolve(&call, &origin).await?;
    let addresses = call
        .policy
        .check_addresses(&origin, &addresses)
        .map_err(|refusal| call.refuse(&shown, refusal))?;

    let options = options.unwrap_or_default();
    let connect_budget = call.budget(options.connect_timeout);
    let stream = connect(&call, &origin, &addresses, connect_budget).await?;

    let (mut sender, conn) = tokio::time::timeout(
        connect_budget,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // Origin-form request target: the authority travels in `Host` only.
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    parts.uri = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = http::Request::from_parts(parts, Full::new(body));

    let first_byte = call.budget(options.first_byte_timeout);
    let mut conn = Box::pin(conn);
    let mut conn_done = false;
    let response = tokio::time::timeout(first_byte, sender.send_request(request));
    tokio::pin!(response);
    let response = loop {
        tokio::select! {
            result = &mut response => break result,
            result = &mut conn, if !conn_done => {
                conn_done = true;
                result?;
            }
        }
    };
    let response = response.map_err(|_| Error::ConnectionReadTimeout)??;

    let between_bytes = call.budget(options.between_bytes_timeout);
    let limit = call.response_body_limit;
    let response = response.map(|incoming| {
        CappedBody {
            inner: incoming,
            remaining: limit,
            limit,
            idle: between_bytes,
            timer: Box::pin(tokio::time::sleep(between_bytes)),
            deadline: Box::pin(tokio::time::sleep_until(call.deadline)),
        }
        .boxed_unsync()
    });
    let io = async move {
        if !conn_done {
            conn.await?;
        }
        Ok(())
    };
    Ok((response, Box::new(io)))
}

async fn resolve(call: &GateCall, origin: &Origin) -> Result<Vec<IpAddr>, Error> {
    let name = match &origin.host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Name(name) => name,
    };
    match tokio::time::timeout(call.remaining(), call.network.resolver.resolve(name)).await {
        Err(_) => Err(Error::DnsTimeout),
        Ok(Err(err)) => {
            let (host, error) = (
                call.redactor.redact(name),
                call.redactor.redact(&err.to_string()),
            );
            tracing::info!(
                task_id = %call.task_id,
                host = %host,
                error = %error,
                "dns lookup failed"
            );
            Err(Error::DnsError {
                rcode: Some("NXDOMAIN".into()),
                info_code: None,
            })
        }
        Ok(Ok(addresses)) => Ok(addresses),
    }
}

/// Connects to the first checked address that answers, then wraps the
/// stream in TLS for https, verifying the certificate against the name.
async fn connect(
    call: &GateCall,
    origin: &Origin,
    addresses: &[IpAddr],
    budget: Duration,
) -> Result<Box<dyn Stream>, Error> {
    let mut last_error = None;
    let mut tcp = None;
    for &ip in addresses {
        let addr = SocketAddr::new(ip, origin.port);
        match tokio::time::timeout(budget, call.network.connector.connect(addr)).await {
            Err(_) => return Err(Error::ConnectionTimeout),
            Ok(Ok(stream)) => {
                tcp = Some(stream);
                break;
            }
            Ok(Err(err)) => last_error = Some(err),
        }
    }
    let tcp = match (tcp, last_error) {
        (Some(tcp), _) => tcp,
        (None, Some(err)) => return Err(Error::Connect(err)),
        (None, None) => return Err(Error::DestinationNotFound),
    };
    if origin.scheme == super::Scheme::Http {
        return Ok(Box::new(tcp));
    }

    let server_name = match &origin.host {
        Host::Ip(ip) => rustls::pki_types::ServerName::from(*ip),
        Host::Name(name) => rustls::pki_types::ServerName::try_from(name.clone())?,
    };
    let connector = tokio_rustls::TlsConnector::from(call.network.tls.clone());
    let tls = tokio::time::timeout(budget, connector.connect(server_name, tcp))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Tls)?;
    Ok(Box::new(tls))
}

/// A response body that fails once it exceeds its size limit, when no
/// frame arrives within the idle timeout, or at the call's deadline.
struct CappedBody {
    inner: Incoming,
    remaining: usize,
    limit: usize,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if data.len() > this.remaining {
                        let limit = this.limit as u64;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(limit)))));
                    }
                    this.remaining -= data.len();
                }
                let next = Instant::now() + this.idle;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Error::HttpResponseTimeout)));
                }
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Boxes the future returned by [`send`] as the hook signature wants.
pub(crate) fn boxed(
    call: Arc<GateCall>,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> BoxFuture<Result<Sent, Error>> {
    Box::pin(send(call, request, options))
}
