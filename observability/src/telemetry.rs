//! Logs (tracing, JSON or plain) and Prometheus metrics per route and status.

use std::fmt::Display;
use std::io::{IsTerminal, stdout};
use std::process::ExitCode;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

/// Installs the global subscriber once; later calls (tests) are no-ops. Colours only on
/// a terminal: log files get plain text, and the escape codes cost the router a tenth of
/// its CPU time per forwarded request (every request logs a line).
pub fn init_tracing(json: bool) {
    let _ = if json {
        json_lines(stdout).try_init()
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_ansi(stdout().is_terminal())
            .try_init()
    };
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// One JSON object a line (what the CloudWatch agent ships), the open spans (the
/// request's id, method and path) listed once, in `spans`. The default also repeated the
/// innermost as `span`: a `served` line took 335 bytes, and logs are paid by the byte.
fn json_lines<W>(writer: W) -> SubscriberBuilder<JsonFields, Format<Json>, EnvFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .json()
        .with_current_span(false)
        .with_writer(writer)
}

/// How a service's `main` ends. A failed start is reported as one line that gives the
/// error and its causes (`{:#}`), last in the log. A backtrace says nothing about a port
/// in use or a database that does not answer, and it pushes that line out of the log
/// tails that up.sh and the test harness show.
pub fn exit_code<E: Display>(service: &str, result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Before the configuration is read there is no subscriber yet.
            if tracing::dispatcher::has_been_set() {
                tracing::error!(error = format!("{err:#}"), "{service} stopped");
            } else {
                eprintln!("{service} stopped: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The process-wide Prometheus recorder. Tests build several apps in one process, so the
/// first one installs it and later ones share it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours just stays unused.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// A method as a metrics label: the standard ones by name, any other as "other", so a
/// client inventing methods cannot create new series.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Counts requests and records their latency, labelled by route pattern (not raw path,
/// which would explode the label set) and status.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route).record(elapsed);
    tracing::info!(status = res.status().as_u16(), elapsed_ms = (elapsed * 100_000.0).round() / 100.0, "served");
    Ok(res)
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;

    /// A JSON log line as the services write it: the request's span once, its id where
    /// CloudWatch Logs Insights finds it (`spans.0.request_id`).
    #[test]
    fn json_lines_name_the_request_once() {
        #[derive(Clone, Default)]
        struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = super::json_lines(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "01M98AKC34XDXSPMYKG1FY4V24",
                method = "GET",
                path = "/v1/regions/001/catalogue"
            );
            let _entered = span.enter();
            tracing::info!(status = 200, elapsed_ms = 2.5, "served");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["spans"][0]["request_id"], "01M98AKC34XDXSPMYKG1FY4V24", "{text}");
        assert_eq!(line["fields"]["message"], "served", "{text}");
        assert!(line.get("span").is_none(), "the span once: {text}");
        assert_eq!(text.matches("01M98AKC34XDXSPMYKG1FY4V24").count(), 1, "{text}");
        println!("a served line: {} bytes", text.trim().len());
    }

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(super::method_label(&Method::PATCH), "PATCH");
        for invented in ["FOO", "GETX", "PROPFIND"] {
            assert_eq!(super::method_label(&Method::from_bytes(invented.as_bytes()).unwrap()), "other");
        }
    }
}
