//! Deterministic, realistic OTLP trace and log data.
//!
//! The shape of this data decides the compression figures of a benchmark, so
//! it mimics what real SDKs send: semantic-convention attributes, random
//! (incompressible) ids, parent links inside traces, templated SQL and log
//! bodies with variables filled in, and timestamps with nanosecond noise.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::{
    collector::{logs::v1::ExportLogsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber},
    resource::v1::Resource,
    trace::v1::{
        ResourceSpans, ScopeSpans, Span, Status,
        span::{Event, SpanKind},
        status::StatusCode,
    },
};
use rand::{Rng, SeedableRng, rngs::StdRng};

const MICRO: u64 = 1_000;
const MILLI: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;

/// Mean gap between trace starts, and between log records.
const TRACE_GAP_NS: f64 = 1.5 * MILLI as f64;
const LOG_GAP_NS: f64 = 300.0 * MICRO as f64;
/// Traces hold 1-20 spans, uniformly.
const MEAN_SPANS_PER_TRACE: f64 = 10.5;

/// Roughly how much simulated time `records` spans or logs cover, so a
/// caller can start the clock early and have the data end near "now".
pub fn simulated_ns(logs: bool, records: u64) -> u64 {
    let per_record = if logs {
        LOG_GAP_NS
    } else {
        TRACE_GAP_NS / MEAN_SPANS_PER_TRACE
    };
    (records as f64 * per_record) as u64
}

/// W3C "sampled" plus the OTLP bit saying whether the parent is remote is known.
const SPAN_FLAGS: u32 = 0x101;

/// One kind of service that emits telemetry.
struct Service {
    name: &'static str,
    version: &'static str,
    language: &'static str,
    sdk_version: &'static str,
    span_scope: (&'static str, &'static str),
    log_scope: (&'static str, &'static str),
    /// Rust services emit tracing-opentelemetry timing attributes.
    rust: bool,
    routes: &'static [(&'static str, &'static str)],
    internals: &'static [&'static str],
    /// Call sites: file, function, line.
    code: &'static [(&'static str, &'static str, i64)],
}

const SERVICES: &[Service] = &[
    Service {
        name: "checkout",
        version: "1.14.2",
        language: "rust",
        sdk_version: "0.33.1",
        span_scope: ("tracing-opentelemetry", "0.34.0"),
        log_scope: ("opentelemetry-appender-tracing", "0.33.1"),
        rust: true,
        routes: &[
            ("POST", "/api/v1/checkout"),
            ("GET", "/api/v1/orders/{id}"),
            ("GET", "/api/v1/orders"),
            ("POST", "/api/v1/orders/{id}/cancel"),
        ],
        internals: &[
            "checkout::validate_cart",
            "checkout::compute_totals",
            "checkout::reserve_stock",
            "orders::load_order",
            "orders::render_response",
        ],
        code: &[
            (
                "src/handlers/checkout.rs",
                "checkout::handlers::checkout::place_order",
                87,
            ),
            (
                "src/handlers/orders.rs",
                "checkout::handlers::orders::get_order",
                42,
            ),
            (
                "src/handlers/orders.rs",
                "checkout::handlers::orders::list_orders",
                118,
            ),
            ("src/pricing.rs", "checkout::pricing::compute_totals", 203),
            ("src/db/orders.rs", "checkout::db::orders::insert_order", 64),
            ("src/stock.rs", "checkout::stock::reserve", 31),
        ],
    },
    Service {
        name: "cart",
        version: "0.9.7",
        language: "rust",
        sdk_version: "0.33.1",
        span_scope: ("opentelemetry-instrumentation-axum", "0.5.0"),
        log_scope: ("opentelemetry-appender-tracing", "0.33.1"),
        rust: true,
        routes: &[
            ("GET", "/api/v1/carts/{id}"),
            ("POST", "/api/v1/carts/{id}/items"),
            ("DELETE", "/api/v1/carts/{id}/items/{item_id}"),
        ],
        internals: &[
            "cart::load_cart",
            "cart::apply_promotions",
            "cart::serialize",
            "session::refresh",
        ],
        code: &[
            ("src/routes/cart.rs", "cart::routes::cart::get_cart", 55),
            ("src/routes/items.rs", "cart::routes::items::add_item", 77),
            (
                "src/routes/items.rs",
                "cart::routes::items::remove_item",
                131,
            ),
            ("src/promo.rs", "cart::promo::apply", 19),
            ("src/session.rs", "cart::session::refresh", 240),
        ],
    },
    Service {
        name: "payments",
        version: "2.3.0",
        language: "go",
        sdk_version: "1.38.0",
        span_scope: (
            "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
            "0.63.0",
        ),
        log_scope: ("go.opentelemetry.io/contrib/bridges/otelslog", "0.13.0"),
        rust: false,
        routes: &[
            ("POST", "/api/v1/payments"),
            ("GET", "/api/v1/payments/{id}"),
            ("POST", "/api/v1/payments/{id}/refund"),
        ],
        internals: &[
            "payments.Authorize",
            "payments.Capture",
            "fraud.Score",
            "ledger.Append",
        ],
        code: &[
            (
                "internal/api/payments.go",
                "payments/internal/api.(*Server).CreatePayment",
                96,
            ),
            (
                "internal/api/payments.go",
                "payments/internal/api.(*Server).GetPayment",
                151,
            ),
            (
                "internal/fraud/score.go",
                "payments/internal/fraud.Score",
                44,
            ),
            (
                "internal/ledger/append.go",
                "payments/internal/ledger.(*Ledger).Append",
                72,
            ),
            (
                "internal/psp/client.go",
                "payments/internal/psp.(*Client).Charge",
                188,
            ),
        ],
    },
    Service {
        name: "frontend",
        version: "5.1.0",
        language: "nodejs",
        sdk_version: "2.0.1",
        span_scope: ("@opentelemetry/instrumentation-http", "0.203.0"),
        log_scope: ("@opentelemetry/instrumentation-pino", "0.50.0"),
        rust: false,
        routes: &[
            ("GET", "/"),
            ("GET", "/products/{id}"),
            ("GET", "/cart"),
            ("POST", "/cart/items"),
            ("GET", "/account/orders/{id}"),
        ],
        internals: &[
            "render ProductPage",
            "render CartPage",
            "fetchRecommendations",
            "middleware - session",
        ],
        code: &[
            ("src/server/routes/products.ts", "getProduct", 38),
            ("src/server/routes/cart.ts", "addToCart", 61),
            ("src/server/render.ts", "renderPage", 112),
            ("src/server/middleware/session.ts", "sessionMiddleware", 23),
            (
                "src/server/clients/recommendations.ts",
                "fetchRecommendations",
                47,
            ),
        ],
    },
    Service {
        name: "inventory",
        version: "3.8.1",
        language: "python",
        sdk_version: "1.36.0",
        span_scope: ("opentelemetry.instrumentation.flask", "0.57b0"),
        log_scope: ("inventory.views", ""),
        rust: false,
        routes: &[
            ("GET", "/api/v1/stock/{sku}"),
            ("PUT", "/api/v1/stock/{sku}"),
            ("POST", "/api/v1/reservations"),
        ],
        internals: &["stock.lookup", "stock.reserve", "reservations.expire"],
        code: &[
            (
                "inventory/views/stock.py",
                "inventory.views.stock.get_stock",
                29,
            ),
            (
                "inventory/views/stock.py",
                "inventory.views.stock.put_stock",
                58,
            ),
            (
                "inventory/views/reservations.py",
                "inventory.views.reservations.create",
                41,
            ),
            ("inventory/models.py", "inventory.models.Stock.reserve", 133),
            (
                "inventory/tasks.py",
                "inventory.tasks.expire_reservations",
                17,
            ),
        ],
    },
];

/// Database statements as instrumentations record them: operation, table, text.
const QUERIES: &[(&str, &str, &str)] = &[
    (
        "SELECT",
        "orders",
        "SELECT id, status, total_cents, created_at FROM orders WHERE id = $1",
    ),
    (
        "SELECT",
        "orders",
        "SELECT id, status, total_cents FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
    ),
    (
        "INSERT",
        "orders",
        "INSERT INTO orders (user_id, status, total_cents, currency) VALUES ($1, $2, $3, $4) RETURNING id",
    ),
    (
        "UPDATE",
        "orders",
        "UPDATE orders SET status = $1, updated_at = now() WHERE id = $2",
    ),
    (
        "SELECT",
        "order_items",
        "SELECT sku, quantity, price_cents FROM order_items WHERE order_id = $1",
    ),
    (
        "INSERT",
        "order_items",
        "INSERT INTO order_items (order_id, sku, quantity, price_cents) VALUES ($1, $2, $3, $4)",
    ),
    (
        "SELECT",
        "carts",
        "SELECT id, user_id, updated_at FROM carts WHERE id = $1",
    ),
    (
        "SELECT",
        "cart_items",
        "SELECT sku, quantity FROM cart_items WHERE cart_id = $1",
    ),
    (
        "INSERT",
        "cart_items",
        "INSERT INTO cart_items (cart_id, sku, quantity) VALUES ($1, $2, $3) ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = cart_items.quantity + $3",
    ),
    (
        "DELETE",
        "cart_items",
        "DELETE FROM cart_items WHERE cart_id = $1 AND id = $2",
    ),
    (
        "SELECT",
        "users",
        "SELECT id, email, display_name FROM users WHERE id = $1",
    ),
    (
        "SELECT",
        "sessions",
        "SELECT user_id, expires_at FROM sessions WHERE token = $1",
    ),
    (
        "UPDATE",
        "sessions",
        "UPDATE sessions SET expires_at = $1 WHERE token = $2",
    ),
    (
        "SELECT",
        "products",
        "SELECT id, name, price_cents, currency FROM products WHERE id = ANY($1)",
    ),
    (
        "SELECT",
        "stock",
        "SELECT sku, available, reserved FROM stock WHERE sku = $1 FOR UPDATE",
    ),
    (
        "UPDATE",
        "stock",
        "UPDATE stock SET reserved = reserved + $1 WHERE sku = $2 AND available - reserved >= $1",
    ),
    (
        "INSERT",
        "payments",
        "INSERT INTO payments (order_id, amount_cents, currency, psp_ref) VALUES ($1, $2, $3, $4)",
    ),
    (
        "SELECT",
        "payments",
        "SELECT id, status, amount_cents FROM payments WHERE order_id = $1",
    ),
    (
        "INSERT",
        "ledger_entries",
        "INSERT INTO ledger_entries (account_id, amount_cents, kind, ref) VALUES ($1, $2, $3, $4)",
    ),
    (
        "SELECT",
        "promotions",
        "SELECT code, percent_off FROM promotions WHERE code = $1 AND valid_until > now()",
    ),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
];

const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "sqlx::Error",
        "error returned from database: deadlock detected",
    ),
    ("std::io::Error", "Connection reset by peer (os error 104)"),
    ("tokio::time::error::Elapsed", "deadline has elapsed"),
    ("hyper::Error", "connection closed before message completed"),
    (
        "serde_json::Error",
        "missing field `quantity` at line 1 column 48",
    ),
    ("PaymentDeclined", "card_declined: insufficient_funds"),
];

/// Log body templates by severity; `{name}` markers are filled in per record.
const INFO_LOGS: &[&str] = &[
    "order {order} placed by user {user} total={amount} items={n}",
    "GET {path} completed status=200 duration={ms}ms",
    "POST {path} completed status=201 duration={ms}ms",
    "cache hit for key product:{sku}",
    "user {user} logged in from {ip}",
    "payment {uuid} authorized amount={amount} currency=EUR",
    "reserved {n} units of {sku} for order {order}",
    "flushed {n} metrics to exporter in {ms}ms",
    "connection pool stats: idle={n} active={n} waiting=0",
    "session {uuid} refreshed for user {user}",
    "shipment created for order {order} carrier=dhl",
    "applied promo code SPRING{n} to cart {cart}",
    "email notification queued for user {user}",
];
const DEBUG_LOGS: &[&str] = &[
    "executing query: SELECT id, status, total_cents FROM orders WHERE user_id = $1 (user_id={user})",
    "cache miss for key product:{sku}, loading from db",
    "acquired db connection in {us}us",
    "parsed request body bytes={n}",
    "deserialized cart {cart} with {n} items",
    "retry budget remaining={n}",
];
const WARN_LOGS: &[&str] = &[
    "slow query took {ms}ms: UPDATE stock SET reserved = reserved + $1 WHERE sku = $2",
    "retrying request to payments.internal attempt={n} after {ms}ms",
    "rate limit approaching for user {user}: {n} requests in last minute",
    "stock for {sku} below threshold: {n} left",
    "request {path} took {ms}ms, above 500ms budget",
];
const ERROR_LOGS: &[&str] = &[
    "failed to charge card for order {order}: card_declined",
    "upstream inventory returned 503 for {path}",
    "database error: deadlock detected while updating order {order}",
    "timeout after {ms}ms waiting for payments.internal",
    "failed to deserialize request body: missing field `quantity` at line 1 column {n}",
];

/// One running copy of a service: its resource never changes.
struct Instance {
    service: &'static Service,
    resource: Resource,
    /// Spans of a trace that did not fit into the previous batch.
    pending: Vec<Span>,
}

/// What a run of consecutive log records shares: they come from one request.
struct LogContext {
    ids: Option<([u8; 16], [u8; 8])>,
    request_id: String,
    user_id: String,
    left: u32,
}

/// Deterministic generator of OTLP export requests.
pub struct Generator {
    rng: StdRng,
    instances: Vec<Instance>,
    clock_ns: u64,
    log_ctx: LogContext,
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Generator {
    /// A generator whose timestamps start at the current time.
    pub fn new(seed: u64) -> Self {
        Self::with_start(seed, now_ns())
    }

    /// A generator whose timestamps start at `start_ns`; fully deterministic.
    pub fn with_start(seed: u64, start_ns: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut instances = Vec::new();
        for service in SERVICES {
            for _ in 0..2 {
                let resource = make_resource(&mut rng, service);
                instances.push(Instance {
                    service,
                    resource,
                    pending: Vec::new(),
                });
            }
        }
        Self {
            rng,
            instances,
            clock_ns: start_ns,
            log_ctx: LogContext {
                ids: None,
                request_id: String::new(),
                user_id: String::new(),
                left: 0,
            },
        }
    }

    /// One export request holding exactly `spans` spans from one service instance.
    pub fn traces_request(&mut self, spans: usize) -> ExportTraceServiceRequest {
        let inst = self.rng.random_range(0..self.instances.len());
        let mut batch = std::mem::take(&mut self.instances[inst].pending);
        while batch.len() < spans {
            let trace = self.trace(inst);
            batch.extend(trace);
        }
        // Like an SDK batch processor, a trace may straddle two batches.
        self.instances[inst].pending = batch.split_off(spans);
        let instance = &self.instances[inst];
        let (scope_name, scope_version) = instance.service.span_scope;
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(instance.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope(scope_name, scope_version)),
                    spans: batch,
                    schema_url: String::new(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.34.0".to_owned(),
            }],
        }
    }

    /// One export request holding exactly `records` log records from one service instance.
    pub fn logs_request(&mut self, records: usize) -> ExportLogsServiceRequest {
        let inst = self.rng.random_range(0..self.instances.len());
        let service = self.instances[inst].service;
        let log_records = (0..records).map(|_| self.log_record(service)).collect();
        let (scope_name, scope_version) = service.log_scope;
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.instances[inst].resource.clone()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope(scope_name, scope_version)),
                    log_records,
                    schema_url: String::new(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.34.0".to_owned(),
            }],
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    /// Ids are fully random, as SDKs make them; they do not compress.
    fn id16(&mut self) -> [u8; 16] {
        let mut id: [u8; 16] = self.rng.random();
        id[0] |= 1;
        id
    }

    fn id8(&mut self) -> [u8; 8] {
        let mut id: [u8; 8] = self.rng.random();
        id[0] |= 1;
        id
    }

    /// Log-normal duration around `median_ns`, clamped to 50µs..2s.
    fn duration(&mut self, median_ns: f64, sigma: f64) -> u64 {
        // Box-Muller: rand 0.9 has no normal distribution without rand_distr.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let ns = median_ns * (sigma * z).exp();
        (ns as u64).clamp(50 * MICRO, 2 * SECOND)
    }

    /// Exponential gap with the given mean, for arrival times.
    fn gap(&mut self, mean_ns: f64) -> u64 {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        (-mean_ns * u.ln()) as u64
    }

    fn fill_route(&mut self, route: &str) -> String {
        let mut out = String::with_capacity(route.len() + 8);
        let mut rest = route;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            let var = &rest[open..close];
            if var == "{sku}" {
                let n = self.rng.random_range(10_000..99_999);
                out.push_str(&format!("SKU-{n}"));
            } else {
                let n = self.rng.random_range(1_000..9_999_999);
                out.push_str(&n.to_string());
            }
            rest = &rest[close..];
        }
        out.push_str(rest);
        out
    }

    fn ip(&mut self) -> String {
        let (a, b, c) = (
            self.rng.random_range(0..16),
            self.rng.random_range(0..=255),
            self.rng.random_range(1..255),
        );
        format!("10.{a}.{b}.{c}")
    }

    fn code_attrs(&mut self, service: &Service, attrs: &mut Vec<KeyValue>) {
        let (file, function, line) = self.pick(service.code);
        attrs.push(kv_str("code.file.path", file));
        attrs.push(kv_int("code.line.number", line));
        attrs.push(kv_str("code.function.name", function));
    }

    /// A whole trace of 1-20 spans, ordered by end time like SDKs export them.
    fn trace(&mut self, inst: usize) -> Vec<Span> {
        let service = self.instances[inst].service;
        let count = self.rng.random_range(1..=20usize);
        let trace_id = self.id16().to_vec();
        self.clock_ns += self.gap(TRACE_GAP_NS);
        let start = self.clock_ns;
        let end = start + self.duration(12.0 * MILLI as f64, 1.3);

        let (method, route) = self.pick(service.routes);
        let roll = self.rng.random_range(0..100);
        let status_code: i64 = match roll {
            0..=4 => 404,
            5..=7 => 500,
            8 => 503,
            _ if method == "POST" => 201,
            _ => 200,
        };
        let failed = status_code >= 500;
        let exception = self.pick(EXCEPTIONS);

        let mut attrs = vec![
            kv_str("http.request.method", method),
            kv_str("http.route", route),
            kv_str("url.path", self.fill_route(route)),
            kv_str("url.scheme", "http"),
            kv_str("server.address", format!("{}.internal", service.name)),
            kv_int("server.port", 8080),
            kv_str("network.protocol.version", "1.1"),
            kv_str("user_agent.original", self.pick(USER_AGENTS)),
            kv_int("http.response.status_code", status_code),
            kv_str("client.address", self.ip()),
        ];
        if failed {
            attrs.push(kv_str("error.type", status_code.to_string()));
        }
        if self.chance(0.5) {
            self.code_attrs(service, &mut attrs);
        }
        let root = Span {
            trace_id: trace_id.clone(),
            span_id: self.id8().to_vec(),
            flags: SPAN_FLAGS,
            name: format!("{method} {route}"),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attrs,
            ..Default::default()
        };

        // Spans that can have children; clients and db calls are leaves.
        let mut spans = vec![root];
        let mut depth = vec![0u32];
        let mut containers = vec![0usize];
        for _ in 1..count {
            let parent = containers[self.rng.random_range(0..containers.len())];
            let (p_start, p_end) = (
                spans[parent].start_time_unix_nano,
                spans[parent].end_time_unix_nano,
            );
            let p_dur = p_end - p_start;
            let child_start = p_start + (p_dur as f64 * self.rng.random_range(0.0..0.7)) as u64;
            let remaining = p_end - child_start;
            let roll = self.rng.random_range(0..100);
            let median = (if roll < 45 { 0.8 } else { 3.0 }) * MILLI as f64;
            let wanted = self.duration(median, 1.0);
            let dur = wanted.min(remaining).max(remaining.min(50 * MICRO)).max(1);
            let mut span = Span {
                trace_id: trace_id.clone(),
                span_id: self.id8().to_vec(),
                parent_span_id: spans[parent].span_id.clone(),
                flags: SPAN_FLAGS,
                start_time_unix_nano: child_start,
                end_time_unix_nano: child_start + dur,
                ..Default::default()
            };
            if roll < 45 {
                self.db_span(&mut span);
            } else if roll < 60 {
                self.client_span(&mut span);
            } else {
                self.internal_span(service, &mut span);
                containers.push(spans.len());
            }
            if self.chance(0.5) {
                self.code_attrs(service, &mut span.attributes);
            }
            depth.push(depth[parent] + 1);
            spans.push(span);
        }

        if failed {
            let (ty, message) = exception;
            // The failing leaf and the server span both carry the error.
            let culprit = if spans.len() > 1 {
                self.rng.random_range(1..spans.len())
            } else {
                0
            };
            for idx in [culprit, 0] {
                let span = &mut spans[idx];
                if span.status.is_some() {
                    continue;
                }
                span.status = Some(Status {
                    message: message.to_owned(),
                    code: StatusCode::Error as i32,
                });
                if idx == culprit {
                    span.events.push(Event {
                        time_unix_nano: span.end_time_unix_nano.saturating_sub(7 * MICRO),
                        name: "exception".to_owned(),
                        attributes: vec![
                            kv_str("exception.type", ty),
                            kv_str("exception.message", message),
                        ],
                        dropped_attributes_count: 0,
                    });
                }
            }
        }

        // A child may end exactly with its parent; deeper spans still go first.
        let mut keyed: Vec<(u64, std::cmp::Reverse<u32>, Span)> = spans
            .into_iter()
            .zip(depth)
            .map(|(s, d)| (s.end_time_unix_nano, std::cmp::Reverse(d), s))
            .collect();
        keyed.sort_by_key(|(end, d, _)| (*end, *d));
        keyed.into_iter().map(|(_, _, s)| s).collect()
    }

    fn db_span(&mut self, span: &mut Span) {
        let (op, table, text) = self.pick(QUERIES);
        span.name = format!("{op} {table}");
        span.kind = SpanKind::Client as i32;
        span.attributes.extend([
            kv_str("db.system.name", "postgresql"),
            kv_str("db.namespace", "shop"),
            kv_str("db.operation.name", op),
            kv_str("db.collection.name", table),
            kv_str("db.query.text", text),
            kv_str("server.address", "pg-primary.internal"),
            kv_int("server.port", 5432),
        ]);
        if op == "SELECT" {
            let rows = self.rng.random_range(0..200);
            span.attributes
                .push(kv_int("db.response.returned_rows", rows));
        }
    }

    fn client_span(&mut self, span: &mut Span) {
        let target = &SERVICES[self.rng.random_range(0..SERVICES.len())];
        let (method, route) = self.pick(target.routes);
        let path = self.fill_route(route);
        let status: i64 = if self.chance(0.97) { 200 } else { 503 };
        span.name = method.to_owned();
        span.kind = SpanKind::Client as i32;
        span.attributes.extend([
            kv_str("http.request.method", method),
            kv_str(
                "url.full",
                format!("http://{}.internal:8080{path}", target.name),
            ),
            kv_str("server.address", format!("{}.internal", target.name)),
            kv_int("server.port", 8080),
            kv_int("http.response.status_code", status),
        ]);
    }

    fn internal_span(&mut self, service: &Service, span: &mut Span) {
        span.name = self.pick(service.internals).to_owned();
        span.kind = SpanKind::Internal as i32;
        if service.rust {
            // tracing-opentelemetry records busy/idle time and the thread.
            let dur = span.end_time_unix_nano - span.start_time_unix_nano;
            let busy = (dur as f64 * self.rng.random_range(0.05..0.9)) as i64;
            let thread = self.rng.random_range(1..=8);
            span.attributes.extend([
                kv_int("busy_ns", busy),
                kv_int("idle_ns", dur as i64 - busy),
                kv_int("thread.id", thread),
                kv_str("thread.name", format!("tokio-runtime-worker-{thread}")),
            ]);
        } else if self.chance(0.5) {
            let items = self.rng.random_range(1..30);
            span.attributes.push(kv_int("app.items.count", items));
        }
    }

    fn log_record(&mut self, service: &Service) -> LogRecord {
        self.clock_ns += self.gap(LOG_GAP_NS);
        let time = self.clock_ns;
        let observed = time + self.rng.random_range(2 * MICRO..3 * MILLI);

        let roll = self.rng.random_range(0..100);
        let (severity, text, templates) = match roll {
            0..=14 => (SeverityNumber::Debug, "DEBUG", DEBUG_LOGS),
            15..=84 => (SeverityNumber::Info, "INFO", INFO_LOGS),
            85..=94 => (SeverityNumber::Warn, "WARN", WARN_LOGS),
            _ => (SeverityNumber::Error, "ERROR", ERROR_LOGS),
        };
        // Requests log a few lines each, so context comes in runs.
        if self.log_ctx.left == 0 {
            let ids = if self.chance(0.7) {
                Some((self.id16(), self.id8()))
            } else {
                None
            };
            let request: u64 = self.rng.random();
            let user = self.rng.random_range(1_000..999_999);
            self.log_ctx = LogContext {
                ids,
                request_id: format!("{request:016x}"),
                user_id: format!("u-{user}"),
                left: self.rng.random_range(1..=6),
            };
        }
        self.log_ctx.left -= 1;

        let template = self.pick(templates);
        let body = self.fill_log(service, template);

        let (file, function, line) = self.pick(service.code);
        let mut attributes = vec![
            kv_str("code.file.path", file),
            kv_int("code.line.number", line),
        ];
        if self.chance(0.5) {
            attributes.push(kv_str("code.function.name", function));
        }
        if self.chance(0.6) {
            attributes.push(kv_str("request.id", self.log_ctx.request_id.clone()));
        }
        if self.chance(0.5) {
            attributes.push(kv_str("user.id", self.log_ctx.user_id.clone()));
        }
        let (trace_id, span_id, flags) = match self.log_ctx.ids {
            Some((t, s)) => (t.to_vec(), s.to_vec(), 1),
            None => (Vec::new(), Vec::new(), 0),
        };

        LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            severity_number: severity as i32,
            severity_text: text.to_owned(),
            body: Some(AnyValue {
                value: Some(Value::StringValue(body)),
            }),
            attributes,
            flags,
            trace_id,
            span_id,
            ..Default::default()
        }
    }

    fn fill_log(&mut self, service: &Service, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 24);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(len) = rest[open..].find('}') else {
                break;
            };
            let var = &rest[open + 1..open + len];
            let value = match var {
                "user" => self.log_ctx.user_id.clone(),
                "order" => self.rng.random_range(1_000_000..9_999_999).to_string(),
                "cart" => self.rng.random_range(100_000..999_999).to_string(),
                "amount" => format!(
                    "{}.{:02}",
                    self.rng.random_range(1..900),
                    self.rng.random_range(0..100)
                ),
                "n" => self.rng.random_range(1..50).to_string(),
                "ms" => self
                    .duration(40.0 * MILLI as f64, 1.0)
                    .div_ceil(MILLI)
                    .to_string(),
                "us" => self.rng.random_range(10..5_000).to_string(),
                "path" => {
                    let (_, route) = self.pick(service.routes);
                    self.fill_route(route)
                }
                "ip" => self.ip(),
                "sku" => format!("SKU-{}", self.rng.random_range(10_000..99_999)),
                "uuid" => uuid(&mut self.rng),
                other => other.to_owned(),
            };
            out.push_str(&value);
            rest = &rest[open + len + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn uuid(rng: &mut StdRng) -> String {
    let v: u128 = rng.random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn scope(name: &str, version: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        version: version.to_owned(),
        ..Default::default()
    }
}

fn make_resource(rng: &mut StdRng, service: &Service) -> Resource {
    let pod: u32 = rng.random();
    let suffix: u32 = rng.random_range(0..0x10_0000);
    Resource {
        attributes: vec![
            kv_str("service.name", service.name),
            kv_str("service.version", service.version),
            kv_str("service.instance.id", uuid(rng)),
            kv_str(
                "host.name",
                format!("{}-{pod:08x}-{suffix:05x}", service.name),
            ),
            kv_str("deployment.environment.name", "staging"),
            kv_str("telemetry.sdk.name", "opentelemetry"),
            kv_str("telemetry.sdk.language", service.language),
            kv_str("telemetry.sdk.version", service.sdk_version),
        ],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use prost::Message;

    use super::*;

    fn spans_of(req: &ExportTraceServiceRequest) -> &[Span] {
        &req.resource_spans[0].scope_spans[0].spans
    }

    #[test]
    fn span_batches_have_exact_size_and_realistic_bytes() {
        let mut g = Generator::with_start(7, 1_700_000_000 * SECOND);
        let mut bytes = 0;
        let mut spans = 0;
        for _ in 0..200 {
            let req = g.traces_request(512);
            assert_eq!(spans_of(&req).len(), 512);
            bytes += req.encoded_len();
            spans += 512;
        }
        let avg = bytes as f64 / spans as f64;
        assert!((250.0..450.0).contains(&avg), "average span size {avg}");
    }

    #[test]
    fn ids_have_otlp_lengths_and_parents_resolve() {
        let mut g = Generator::with_start(3, 1_700_000_000 * SECOND);
        for _ in 0..50 {
            let trace = g.trace(0);
            assert!((1..=20).contains(&trace.len()));
            let ids: HashMap<&[u8], &Span> =
                trace.iter().map(|s| (s.span_id.as_slice(), s)).collect();
            let roots = trace.iter().filter(|s| s.parent_span_id.is_empty()).count();
            assert_eq!(roots, 1);
            for span in &trace {
                assert_eq!(span.trace_id.len(), 16);
                assert_eq!(span.span_id.len(), 8);
                assert_eq!(span.trace_id, trace[0].trace_id);
                assert!(span.end_time_unix_nano > span.start_time_unix_nano);
                if !span.parent_span_id.is_empty() {
                    let parent = ids.get(span.parent_span_id.as_slice());
                    let parent = parent.expect("parent in same trace");
                    assert!(span.start_time_unix_nano >= parent.start_time_unix_nano);
                    assert!(span.end_time_unix_nano <= parent.end_time_unix_nano);
                }
            }
            // Children end first, so the root is exported last.
            let last = trace.last().expect("non-empty trace");
            assert!(last.parent_span_id.is_empty());
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = Generator::with_start(9, 5)
            .traces_request(64)
            .encode_to_vec();
        let b = Generator::with_start(9, 5)
            .traces_request(64)
            .encode_to_vec();
        let c = Generator::with_start(10, 5)
            .traces_request(64)
            .encode_to_vec();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn logs_look_real() {
        let mut g = Generator::with_start(11, 1_700_000_000 * SECOND);
        let mut with_ctx = 0;
        let mut total = 0;
        let mut bodies = HashSet::new();
        let mut bytes = 0;
        for _ in 0..20 {
            let req = g.logs_request(500);
            bytes += req.encoded_len();
            let records = &req.resource_logs[0].scope_logs[0].log_records;
            assert_eq!(records.len(), 500);
            for r in records {
                total += 1;
                assert!((2..=5).contains(&r.attributes.len()));
                assert!(r.observed_time_unix_nano > r.time_unix_nano);
                assert!(!r.severity_text.is_empty());
                if !r.trace_id.is_empty() {
                    with_ctx += 1;
                    assert_eq!(r.trace_id.len(), 16);
                    assert_eq!(r.span_id.len(), 8);
                }
                if let Some(AnyValue {
                    value: Some(Value::StringValue(body)),
                }) = &r.body
                {
                    assert!(!body.contains('{'), "unfilled template: {body}");
                    bodies.insert(body.clone());
                }
            }
        }
        let share = with_ctx as f64 / total as f64;
        assert!((0.6..0.8).contains(&share), "trace context share {share}");
        assert!(bodies.len() > total / 2);
        let avg = bytes as f64 / total as f64;
        assert!((120.0..400.0).contains(&avg), "average log size {avg}");
    }
}
