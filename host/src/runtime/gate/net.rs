//! Name resolution and connection setup for the gate, both injectable so
//! that tests can map names to addresses and refuse to dial anything but
//! loopback on their own, whatever the gate decided.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;

/// A boxed future, as the trait objects below return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Resolves a host name to addresses.
pub trait Resolver: Send + Sync + 'static {
    /// All addresses of `name`. An unknown name is an error of kind
    /// `NotFound`.
    fn resolve(&self, name: &str) -> BoxFuture<io::Result<Vec<IpAddr>>>;
}

/// Opens a TCP connection to an address the gate has checked.
pub trait Connector: Send + Sync + 'static {
    /// Connects to `addr`.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<TcpStream>>;
}

/// The system resolver (getaddrinfo on a blocking thread).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, name: &str) -> BoxFuture<io::Result<Vec<IpAddr>>> {
        let name = name.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A fixed table of names, for tests and the demo: unknown names do not
/// resolve, and nothing is ever asked of a real DNS server.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `name` (case-insensitive) to `addrs`.
    pub fn with(mut self, name: &str, addrs: &[IpAddr]) -> Self {
        self.table.insert(name.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve(&self, name: &str) -> BoxFuture<io::Result<Vec<IpAddr>>> {
        let found = self.table.get(&name.to_ascii_lowercase()).cloned();
        let name = name.to_string();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("`{name}` is not in the table"),
                )
            })
        })
    }
}

/// Plain `TcpStream::connect` to the checked address.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }
}

/// A connector for tests: dials only 127.0.0.0/8 and ::1 and refuses
/// anything else without touching the network, so that a bug in the gate
/// fails a test instead of sending a packet off the machine. Counts the
/// connections it made and the ones it refused.
#[derive(Debug, Default, Clone)]
pub struct LoopbackOnlyConnector {
    counts: Arc<[AtomicUsize; 2]>,
}

impl LoopbackOnlyConnector {
    /// A connector with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections opened so far.
    pub fn connected(&self) -> usize {
        self.counts[0].load(Ordering::SeqCst)
    }

    /// Destinations refused so far (each one a gate bug).
    pub fn refused(&self) -> usize {
        self.counts[1].load(Ordering::SeqCst)
    }
}

impl Connector for LoopbackOnlyConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<TcpStream>> {
        let loopback = match addr.ip() {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback(),
        };
        if !loopback {
            self.counts[1].fetch_add(1, Ordering::SeqCst);
            return Box::pin(async move {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("test connector refuses non-loopback {addr}"),
                ))
            });
        }
        self.counts[0].fetch_add(1, Ordering::SeqCst);
        Box::pin(TcpStream::connect(addr))
    }
}

/// Everything the gate needs to reach the network.
#[derive(Clone)]
pub struct Network {
    /// Turns names into addresses.
    pub resolver: Arc<dyn Resolver>,
    /// Dials checked addresses.
    pub connector: Arc<dyn Connector>,
    /// TLS settings for https (web PKI roots by default).
    pub tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

impl Network {
    /// The production network: system resolver, plain TCP, web PKI roots.
    pub fn system() -> Self {
        Self::new(Arc::new(SystemResolver), Arc::new(TcpConnector))
    }

    /// A network with the given resolver and connector and the web PKI
    /// roots for TLS.
    pub fn new(resolver: Arc<dyn Resolver>, connector: Arc<dyn Connector>) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .expect("ring supports the default TLS versions");
        Self {
            resolver,
            connector,
            tls: Arc::new(tls),
        }
    }
}
