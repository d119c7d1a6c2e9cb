//! The contact write's connections against a real HTTP/1.1 server (hyper's),
//! plain and TLS (tests/fixtures/tls: a test CA and a `localhost` certificate).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use super::{Conns, Error};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// A server that answers every request with its `x-amz-target` and body,
/// counting the connections it accepted.
struct Server {
    origin: http::Uri,
    connections: Arc<AtomicUsize>,
}

/// Starts a server on a free port: TLS with the fixture certificate when
/// `tls`; closing every connection after one answer unless `keep_alive`.
async fn serve(tls: bool, keep_alive: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.then(|| tokio_rustls::TlsAcceptor::from(Arc::new(server_tls())));
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let target = req.headers().get("x-amz-target").map(|v| v.to_str().unwrap().to_owned());
                    let body = req.into_body().collect().await?.to_bytes();
                    let answer = format!("{} {}", target.unwrap_or_default(), String::from_utf8_lossy(&body));
                    Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::from(answer))))
                });
                let mut server = hyper::server::conn::http1::Builder::new();
                server.keep_alive(keep_alive);
                let _ = match acceptor {
                    Some(a) => match a.accept(tcp).await {
                        Ok(tls) => server.serve_connection(TokioIo::new(tls), service).await,
                        Err(_) => return,
                    },
                    None => server.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    let scheme = if tls { "https" } else { "http" };
    // The certificate names `localhost`: TLS checks the name the client dials.
    Server { origin: format!("{scheme}://localhost:{port}/").parse().unwrap(), connections }
}

fn server_tls() -> rustls::ServerConfig {
    let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key")).unwrap();
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

fn test_ca() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(format!("{FIXTURES}/ca.pem")).unwrap()).unwrap();
    roots
}

fn request(target: &str, body: &str) -> http::Request<Full<Bytes>> {
    http::Request::post("/")
        .header("host", "localhost")
        .header("x-amz-target", target)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

async fn send(conns: &Conns, body: impl AsRef<str>) -> Result<String, Error> {
    let (parts, bytes) = conns.send(request("T.PutItem", body.as_ref())).await?;
    assert_eq!(parts.status, 200);
    Ok(String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn writes_in_turn_share_one_connection() {
    let server = serve(false, true).await;
    let conns = Conns::new(server.origin.clone(), (None, None), None).unwrap();
    for n in 0..5 {
        assert_eq!(send(&conns, format!("row {n}")).await.unwrap(), format!("T.PutItem row {n}"));
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn writes_at_once_open_one_connection_each_then_reuse_them() {
    let server = serve(false, true).await;
    let conns = Conns::new(server.origin.clone(), (None, None), None).unwrap();
    for round in 0..3 {
        let (a, b, c, d) = tokio::join!(
            send(&conns, format!("{round}.0")),
            send(&conns, format!("{round}.1")),
            send(&conns, format!("{round}.2")),
            send(&conns, format!("{round}.3")),
        );
        for (n, answer) in [a, b, c, d].into_iter().enumerate() {
            assert_eq!(answer.unwrap(), format!("T.PutItem {round}.{n}"));
        }
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_not_reused_and_every_write_goes_through() {
    let server = serve(false, false).await;
    let conns = Conns::new(server.origin.clone(), (None, None), None).unwrap();
    for n in 0..3 {
        assert_eq!(send(&conns, format!("row {n}")).await.unwrap(), format!("T.PutItem row {n}"));
        // Whether or not the close has reached the client yet, the next write goes through.
        if n == 1 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn tls_to_a_server_whose_certificate_chains_to_a_trusted_root() {
    let server = serve(true, true).await;
    let conns = Conns::new(server.origin.clone(), (None, None), Some(test_ca())).unwrap();
    assert_eq!(send(&conns, "over TLS").await.unwrap(), "T.PutItem over TLS");
    assert_eq!(send(&conns, "again").await.unwrap(), "T.PutItem again");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tls_refuses_a_certificate_no_trusted_root_vouches_for() {
    let server = serve(true, true).await;
    let conns = Conns::new(server.origin.clone(), (None, None), Some(rustls::RootCertStore::empty())).unwrap();
    let err = send(&conns, "secret").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(text.contains(&server.origin.to_string()) && text.contains("UnknownIssuer"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

/// A server that reads one request and never answers: it closes the
/// connection at once, or holds it open for `hold`. Its origin.
async fn mute_server(hold: Option<Duration>) -> http::Uri {
    use tokio::io::AsyncReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port()).parse().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        if let Some(hold) = hold {
            tokio::time::sleep(hold).await;
        }
    });
    origin
}

#[tokio::test]
async fn a_connection_lost_before_the_answer_is_an_exchange_error() {
    let conns = Conns::new(mute_server(None).await, (None, None), None).unwrap();
    let err = send(&conns, "secret row").await.unwrap_err();
    assert!(matches!(err, Error::Exchange(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn an_answer_slower_than_the_read_timeout_is_a_read_timeout() {
    let limit = Duration::from_millis(200);
    let origin = mute_server(Some(Duration::from_secs(30))).await;
    let conns = Conns::new(origin, (None, Some(limit)), None).unwrap();
    let err = send(&conns, "row").await.unwrap_err();
    assert!(matches!(err, Error::ReadTimeout(l) if l == limit), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_naming_the_endpoint() {
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin: http::Uri = format!("http://127.0.0.1:{}/", free.local_addr().unwrap().port()).parse().unwrap();
    drop(free);
    let conns = Conns::new(origin.clone(), (Some(Duration::from_secs(2)), None), None).unwrap();
    let err = send(&conns, "row").await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("connecting to {origin}: ")), "{err}");
}
