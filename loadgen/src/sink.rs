//! A minimal OTLP receiver that accepts everything, to test and calibrate
//! the load generator without a real collector.

use std::convert::Infallible;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::{
    logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse,
        logs_service_server::{LogsService, LogsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use prost::Message;
use tokio::net::TcpListener;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{CompressionEncoding, Service};

/// Large batches are fine for a test sink; tonic's default is 4 MiB.
const MAX_MESSAGE: usize = 64 << 20;

/// Appends every request, re-encoded, to one file per signal when a data dir is given.
#[derive(Clone, Default)]
struct Store {
    traces: Option<Arc<Mutex<File>>>,
    logs: Option<Arc<Mutex<File>>>,
}

impl Store {
    fn open(dir: Option<PathBuf>) -> Result<Self> {
        let Some(dir) = dir else {
            return Ok(Self::default());
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let open = |name: &str| -> Result<Option<Arc<Mutex<File>>>> {
            let path = dir.join(name);
            let file = File::options()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            Ok(Some(Arc::new(Mutex::new(file))))
        };
        Ok(Self {
            traces: open("traces.pb")?,
            logs: open("logs.pb")?,
        })
    }

    fn append(file: &Option<Arc<Mutex<File>>>, bytes: &[u8]) -> Result<(), tonic::Status> {
        let Some(file) = file else {
            return Ok(());
        };
        let mut f = file
            .lock()
            .map_err(|_| tonic::Status::internal("store lock poisoned"))?;
        f.write_all(bytes)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

#[tonic::async_trait]
impl TraceService for Store {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.traces.is_some() {
            Self::append(&self.traces, &request.get_ref().encode_to_vec())?;
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Store {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        if self.logs.is_some() {
            Self::append(&self.logs, &request.get_ref().encode_to_vec())?;
        }
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// Routes gRPC calls by service path; avoids needing tonic's `router` feature.
#[derive(Clone)]
struct Dispatch {
    traces: TraceServiceServer<Store>,
    logs: LogsServiceServer<Store>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<tonic::body::Body>> for Dispatch {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<tonic::body::Body>) -> Self::Future {
        if req
            .uri()
            .path()
            .starts_with("/opentelemetry.proto.collector.logs.v1.LogsService/")
        {
            let mut logs = self.logs.clone();
            Box::pin(async move { logs.call(req).await })
        } else {
            // The trace server answers UNIMPLEMENTED for anything it does not know.
            let mut traces = self.traces.clone();
            Box::pin(async move { traces.call(req).await })
        }
    }
}

/// Serves OTLP/gRPC on `grpc` and OTLP/HTTP on `http` until SIGTERM or Ctrl-C.
pub async fn run(grpc: SocketAddr, http: SocketAddr, data_dir: Option<PathBuf>) -> Result<()> {
    let store = Store::open(data_dir)?;
    let dispatch = Dispatch {
        traces: TraceServiceServer::new(store.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE),
        logs: LogsServiceServer::new(store.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE),
    };
    let grpc_server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .serve(grpc, dispatch);
    let http_listener = TcpListener::bind(http)
        .await
        .with_context(|| format!("binding {http}"))?;
    let http_server = serve_http(http_listener, store);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = grpc_server => r.context("gRPC server failed")?,
        r = http_server => r?,
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn serve_http(listener: TcpListener, store: Store) -> Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let store = store.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle_http(req, store.clone()));
            // A client hanging up mid-request is not the sink's problem.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle_http(
    req: Request<hyper::body::Incoming>,
    store: Store,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let gzipped = req
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let reply = |status: u16, body: Vec<u8>| {
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-protobuf"),
        );
        resp
    };
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(400, Vec::new())),
    };
    let body = if gzipped {
        let mut out = Vec::new();
        let mut dec = flate2::read::GzDecoder::new(&body[..]);
        if std::io::Read::read_to_end(&mut dec, &mut out).is_err() {
            return Ok(reply(400, Vec::new()));
        }
        Bytes::from(out)
    } else {
        body
    };
    let result = match path.as_str() {
        "/v1/traces" => ExportTraceServiceRequest::decode(body.clone())
            .map_err(|_| 400)
            .and_then(|_| Store::append(&store.traces, &body).map_err(|_| 500))
            .map(|()| ExportTraceServiceResponse::default().encode_to_vec()),
        "/v1/logs" => ExportLogsServiceRequest::decode(body.clone())
            .map_err(|_| 400)
            .and_then(|_| Store::append(&store.logs, &body).map_err(|_| 500))
            .map(|()| ExportLogsServiceResponse::default().encode_to_vec()),
        _ => Err(404),
    };
    Ok(match result {
        Ok(bytes) => reply(200, bytes),
        Err(status) => reply(status, Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::{self, Compression, Job, Protocol, RunOptions, Signal, Source, Target};
    use oculus_loadgen::data::Generator;

    fn jobs(n: usize) -> Vec<Job> {
        let mut g = Generator::with_start(5, 1_700_000_000_000_000_000);
        (0..n)
            .map(|i| {
                let (signal, body) = if i % 2 == 0 {
                    (Signal::Traces, g.traces_request(50).encode_to_vec())
                } else {
                    (Signal::Logs, g.logs_request(50).encode_to_vec())
                };
                Job {
                    signal,
                    body: Bytes::from(body),
                    records: 50,
                }
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_over_grpc_and_http() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let [g, h] = crate::bench::free_ports::<2>()?;
        let grpc = SocketAddr::from(([127, 0, 0, 1], g));
        let http = SocketAddr::from(([127, 0, 0, 1], h));
        let server = tokio::spawn(run(grpc, http, Some(dir.path().to_path_buf())));
        // Wait for both listeners.
        for addr in [grpc, http] {
            for _ in 0..100 {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        let mut expected_bytes = 0;
        for (protocol, compression, addr) in [
            (Protocol::Grpc, Compression::None, grpc),
            (Protocol::Grpc, Compression::Gzip, grpc),
            (Protocol::Http, Compression::None, http),
            (Protocol::Http, Compression::Gzip, http),
        ] {
            let jobs = jobs(10);
            expected_bytes += jobs.iter().map(|j| j.body.len() as u64).sum::<u64>();
            let target = Target {
                protocol,
                endpoint: format!("http://{addr}"),
                compression,
                connections: 2,
            };
            let opts = RunOptions {
                concurrency: 3,
                duration: None,
                label: "test".to_owned(),
                total_records: None,
                request_timeout: Duration::from_secs(10),
            };
            let stats = client::run(&target, Arc::new(Source::fixed(jobs)), &opts).await?;
            assert!(stats.errors.is_empty(), "{protocol:?}: {:?}", stats.errors);
            assert_eq!(stats.traces.records, 250);
            assert_eq!(stats.logs.records, 250);
            assert_eq!(stats.traces.latencies_ns.len(), 5);
        }
        server.abort();

        // The sink stores what it got byte for byte, so nothing was altered on the way.
        let stored = std::fs::metadata(dir.path().join("traces.pb"))?.len()
            + std::fs::metadata(dir.path().join("logs.pb"))?.len();
        assert_eq!(stored, expected_bytes);
        Ok(())
    }
}
