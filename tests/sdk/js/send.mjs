// Sends the same spans and logs to oculus-collector over gRPC, HTTP/protobuf and HTTP/JSON,
// each plain and gzipped, with the OpenTelemetry JavaScript SDK, one service per transport,
// then prints as JSON what the SDK recorded, read from in-memory exporters beside the OTLP
// ones.
// tests/it/sdk_javascript.rs compares that with what `oculus-collector export` gives back.
//
// Usage: node send.mjs GRPC_ADDR HTTP_ADDR

import { context, diag, DiagConsoleLogger, DiagLogLevel, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { OTLPLogExporter as GrpcLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as JsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

const [grpcAddr, httpAddr] = process.argv.slice(2);
if (!grpcAddr || !httpAddr) {
  console.error("usage: node send.mjs GRPC_ADDR HTTP_ADDR");
  process.exit(2);
}
// A failed export is reported on stderr; by default the SDK says nothing.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

// Low limits, which some records of `handleOrder` go past.
const LIMITS = {
  spanLimits: {
    attributeCountLimit: 10,
    eventCountLimit: 2,
    linkCountLimit: 2,
    attributePerEventCountLimit: 4,
    attributePerLinkCountLimit: 4,
  },
  logRecordLimits: { attributeCountLimit: 5 },
};
const fiveAttributes = { a: 1, b: 2, c: 3, d: 4, e: 5 };

const PROTOCOLS = {
  grpc: (compression) => [
    new GrpcTraceExporter({ url: `http://${grpcAddr}`, compression }),
    new GrpcLogExporter({ url: `http://${grpcAddr}`, compression }),
  ],
  "http-protobuf": (compression) => [
    new ProtoTraceExporter({ url: `http://${httpAddr}/v1/traces`, compression }),
    new ProtoLogExporter({ url: `http://${httpAddr}/v1/logs`, compression }),
  ],
  "http-json": (compression) => [
    new JsonTraceExporter({ url: `http://${httpAddr}/v1/traces`, compression }),
    new JsonLogExporter({ url: `http://${httpAddr}/v1/logs`, compression }),
  ],
};
// Each protocol plain and gzipped, named as the services end.
const TRANSPORTS = Object.entries(PROTOCOLS).flatMap(([protocol, exporters]) => [
  [protocol, () => exporters("none")],
  [`${protocol}-gzip`, () => exporters("gzip")],
]);

// What an instrumented order service does: every span kind, every attribute type, an
// event, an exception, links, both statuses, and logs inside and outside spans; one span
// and one log go past the limits (`LIMITS`), so that they carry dropped counts.
function handleOrder(tracer, logger) {
  const enqueue = tracer.startSpan("enqueue order", { kind: SpanKind.PRODUCER });
  enqueue.end();

  const root = tracer.startSpan("GET /orders/{id}", {
    kind: SpanKind.SERVER,
    attributes: {
      "http.request.method": "GET",
      "order.id": 42,
      "order.total": 12.5,
      "order.paid": true,
      "order.items": ["book", "pen"],
      "order.quantities": [1, 3],
      "order.weights": [0.25, 1.5],
      "order.gift": [false, true],
    },
  });
  const inRoot = trace.setSpan(context.active(), root);
  root.addEvent("cache miss", { "cache.key": "order:42", "cache.attempt": 1 });
  logger.emit({
    context: inRoot,
    severityNumber: SeverityNumber.INFO,
    severityText: "INFO",
    body: "loading order",
    attributes: { "user.id": "ada", retries: 2, ratio: 0.5, cached: false, tags: ["a", "b"] },
  });

  const paid = { context: enqueue.spanContext(), attributes: { "link.reason": "paid order" } };
  const charge = tracer.startSpan(
    "charge card",
    { kind: SpanKind.CLIENT, attributes: { amount: 12.5 }, links: [paid] },
    inRoot,
  );
  const inCharge = trace.setSpan(context.active(), charge);
  charge.recordException(new Error("card declined"));
  charge.setStatus({ code: SpanStatusCode.ERROR, message: "card declined" });
  logger.emit({
    context: inCharge,
    severityNumber: SeverityNumber.WARN,
    severityText: "WARN",
    body: "card declined, retrying",
    attributes: { attempt: 2 },
  });
  charge.end();

  const renderLinks = [0, 1, 2].map(() => ({ context: enqueue.spanContext(), attributes: fiveAttributes }));
  const render = tracer.startSpan("render receipt", { links: renderLinks }, inRoot);
  for (let i = 0; i < 12; i++) render.setAttribute(`receipt.line.${i}`, i);
  for (let frame = 0; frame < 3; frame++) render.addEvent(`frame ${frame}`, fiveAttributes);
  render.end();
  const consume = tracer.startSpan("send receipt", {
    kind: SpanKind.CONSUMER,
    links: [{ context: enqueue.spanContext() }, { context: render.spanContext(), attributes: { "link.count": 2 } }],
  });
  consume.end();

  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  logger.emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: "ERROR",
    body: { order: 42, state: "stopped" },
    attributes: { "exit.code": 3, ...fiveAttributes, "exit.signal": "TERM" },
    eventName: "worker.stopped",
  });
}

// An attribute value tagged with its OTLP type: the SDK encodes a JavaScript number as an
// int when it is an integer and as a double otherwise.
function tagged(value) {
  if (Array.isArray(value)) return { array: value.map(tagged) };
  switch (typeof value) {
    case "string":
      return { string: value };
    case "boolean":
      return { bool: value };
    case "number":
      return Number.isInteger(value) ? { int: value } : { double: value };
    case "object":
      return { map: attributes(value) };
    default:
      throw new Error(`no OTLP type for ${typeof value}`);
  }
}

function attributes(map) {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, tagged(v)]));
}

// An SDK time, `[seconds, nanoseconds]`, as nanoseconds since the epoch, in a string (more
// than a double holds exactly).
function nanos([seconds, nanoseconds]) {
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
}

function origin(record) {
  return {
    resource: attributes(record.resource.attributes),
    scope: { name: record.instrumentationScope.name, version: record.instrumentationScope.version ?? "" },
  };
}

function span(s) {
  return {
    ...origin(s),
    name: s.name,
    kind: SpanKind[s.kind],
    trace_id: s.spanContext().traceId,
    span_id: s.spanContext().spanId,
    parent_span_id: s.parentSpanContext?.spanId ?? "",
    start: nanos(s.startTime),
    end: nanos(s.endTime),
    attributes: attributes(s.attributes),
    events: s.events.map((e) => ({
      name: e.name,
      time: nanos(e.time),
      attributes: attributes(e.attributes),
      dropped_attributes: e.droppedAttributesCount ?? 0,
    })),
    links: s.links.map((l) => ({
      trace_id: l.context.traceId,
      span_id: l.context.spanId,
      attributes: attributes(l.attributes),
      dropped_attributes: l.droppedAttributesCount ?? 0,
    })),
    dropped_attributes: s.droppedAttributesCount,
    dropped_events: s.droppedEventsCount,
    dropped_links: s.droppedLinksCount,
    status: { code: SpanStatusCode[s.status.code], message: s.status.message ?? "" },
  };
}

function log(r) {
  return {
    ...origin(r),
    time: nanos(r.hrTime),
    observed_time: nanos(r.hrTimeObserved),
    severity_number: r.severityNumber,
    severity_text: r.severityText,
    body: tagged(r.body),
    attributes: attributes(r.attributes),
    dropped_attributes: r.droppedAttributesCount,
    event_name: r.eventName ?? "",
    trace_id: r.spanContext?.traceId ?? "",
    span_id: r.spanContext?.spanId ?? "",
  };
}

const sent = { spans: [], logs: [] };
for (const [transport, exporters] of TRANSPORTS) {
  const [traceExporter, logExporter] = exporters();
  const resource = resourceFromAttributes({
    "service.name": `sdk-js-${transport}`,
    "service.version": "1.0.0",
    "deployment.environment.name": "test",
  });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanLimits: LIMITS.spanLimits,
    spanProcessors: [new BatchSpanProcessor(traceExporter, { scheduledDelayMillis: 50 }), new SimpleSpanProcessor(spans)],
  });
  const logs = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({
    resource,
    logRecordLimits: LIMITS.logRecordLimits,
    processors: [
      new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: 50 }),
      new SimpleLogRecordProcessor({ exporter: logs }),
    ],
  });
  handleOrder(tracerProvider.getTracer("oculus.sdk-test", "1.2.3"), loggerProvider.getLogger("oculus.sdk-test.logs", "4.5.6"));
  // Read before the shutdown, which empties the in-memory exporters.
  sent.spans.push(...spans.getFinishedSpans().map(span));
  sent.logs.push(...logs.getFinishedLogRecords().map(log));
  // Shutting down flushes the batches and waits for their exports.
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
}
process.stdout.write(JSON.stringify(sent) + "\n");
