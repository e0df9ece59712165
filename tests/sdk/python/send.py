"""Sends the same spans and logs to oculus-collector over gRPC, HTTP/protobuf and HTTP/JSON,
each plain and gzipped, with the OpenTelemetry Python SDK, one service per transport, then
prints as JSON what the SDK recorded, read from in-memory exporters beside the OTLP ones.
tests/it/sdk_python.rs compares that with what `oculus-collector export` gives back.

Usage: python send.py GRPC_ADDR HTTP_ADDR
"""

import json
import logging
import sys

import grpc

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression as ProtoCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as ProtoSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, LogRecordLimits
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode


# Low limits, which some records of `handle_order` go past.
SPAN_LIMITS = SpanLimits(
    max_span_attributes=10, max_events=2, max_links=2, max_event_attributes=4, max_link_attributes=4
)
LOG_LIMITS = LogRecordLimits(max_log_record_attributes=5)
FIVE_ATTRIBUTES = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}


def exporters(protocol, gzip, grpc_addr, http_addr):
    if protocol == "grpc":
        url = f"http://{grpc_addr}"
        compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        return (
            GrpcSpanExporter(endpoint=url, insecure=True, compression=compression),
            GrpcLogExporter(endpoint=url, insecure=True, compression=compression),
        )
    traces, logs = f"http://{http_addr}/v1/traces", f"http://{http_addr}/v1/logs"
    if protocol == "http-protobuf":
        compression = ProtoCompression.Gzip if gzip else ProtoCompression.NoCompression
        return (
            ProtoSpanExporter(endpoint=traces, compression=compression),
            ProtoLogExporter(endpoint=logs, compression=compression),
        )
    compression = JsonCompression.GZIP if gzip else JsonCompression.NONE
    return (
        JsonSpanExporter(endpoint=traces, compression=compression),
        JsonLogExporter(endpoint=logs, compression=compression),
    )


def handle_order(tracer, logger, app_log):
    """What an instrumented order service does: every span kind, every attribute type, an
    event, an exception, links, both statuses, and logs inside and outside spans, through
    the Logs API and through Python's `logging`; one span and one log go past the limits
    (`SPAN_LIMITS`, `LOG_LIMITS`), so that they carry dropped counts."""
    with tracer.start_as_current_span("enqueue order", kind=SpanKind.PRODUCER) as enqueue:
        pass
    attributes = {
        "http.request.method": "GET",
        "order.id": 42,
        "order.total": 12.5,
        "order.paid": True,
        "order.items": ["book", "pen"],
        "order.quantities": [1, 3],
        "order.weights": [0.25, 1.5],
        "order.gift": [False, True],
    }
    with tracer.start_as_current_span("GET /orders/{id}", kind=SpanKind.SERVER, attributes=attributes) as root:
        root.add_event("cache miss", {"cache.key": "order:42", "cache.attempt": 1})
        logger.emit(
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body="loading order",
            attributes={"user.id": "ada", "retries": 2, "ratio": 0.5, "cached": False, "tags": ["a", "b"]},
        )
        link = Link(enqueue.get_span_context(), {"link.reason": "paid order"})
        with tracer.start_as_current_span(
            "charge card", kind=SpanKind.CLIENT, attributes={"amount": 12.5}, links=[link]
        ) as charge:
            charge.record_exception(ValueError("card declined"))
            charge.set_status(Status(StatusCode.ERROR, "card declined"))
            app_log.warning("card declined, retrying", extra={"attempt": 2})
        render_links = [Link(enqueue.get_span_context(), FIVE_ATTRIBUTES) for _ in range(3)]
        with tracer.start_as_current_span("render receipt", links=render_links) as render:
            for i in range(12):
                render.set_attribute(f"receipt.line.{i}", i)
            for frame in range(3):
                render.add_event(f"frame {frame}", FIVE_ATTRIBUTES)
        links = [Link(enqueue.get_span_context()), Link(render.get_span_context(), {"link.count": 2})]
        root.set_status(Status(StatusCode.OK))
    with tracer.start_as_current_span("send receipt", kind=SpanKind.CONSUMER, links=links):
        pass
    logger.emit(
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body={"order": 42, "state": "stopped"},
        attributes={"exit.code": 3, **FIVE_ATTRIBUTES, "exit.signal": "TERM"},
        event_name="worker.stopped",
    )


def tagged(value):
    """An attribute value tagged with its OTLP type."""
    # bool before int: Python's bool is an int.
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"double": value}
    if isinstance(value, str):
        return {"string": value}
    if isinstance(value, (list, tuple)):
        return {"array": [tagged(v) for v in value]}
    if isinstance(value, dict):
        return {"map": {k: tagged(v) for k, v in value.items()}}
    raise TypeError(f"no OTLP type for {value!r}")


def attributes(mapping):
    return {k: tagged(v) for k, v in (mapping or {}).items()}


def origin(resource, scope):
    return {
        "resource": attributes(resource.attributes),
        "scope": {"name": scope.name, "version": scope.version or ""},
    }


def span(s):
    return {
        **origin(s.resource, s.instrumentation_scope),
        "name": s.name,
        "kind": s.kind.name,
        "trace_id": trace.format_trace_id(s.context.trace_id),
        "span_id": trace.format_span_id(s.context.span_id),
        "parent_span_id": trace.format_span_id(s.parent.span_id) if s.parent else "",
        # Times in nanoseconds, in strings as OTLP JSON has them.
        "start": str(s.start_time),
        "end": str(s.end_time),
        "attributes": attributes(s.attributes),
        "events": [
            {
                "name": e.name,
                "time": str(e.timestamp),
                "attributes": attributes(e.attributes),
                "dropped_attributes": e.dropped_attributes,
            }
            for e in s.events
        ],
        "links": [
            {
                "trace_id": trace.format_trace_id(link.context.trace_id),
                "span_id": trace.format_span_id(link.context.span_id),
                "attributes": attributes(link.attributes),
                "dropped_attributes": link.dropped_attributes,
            }
            for link in s.links
        ],
        "dropped_attributes": s.dropped_attributes,
        "dropped_events": s.dropped_events,
        "dropped_links": s.dropped_links,
        "status": {"code": s.status.status_code.name, "message": s.status.description or ""},
    }


def log(readable):
    r = readable.log_record
    return {
        **origin(readable.resource, readable.instrumentation_scope),
        # The Logs API leaves a time it was not given unset, which OTLP sends as 0.
        "time": str(r.timestamp or 0),
        "observed_time": str(r.observed_timestamp),
        "severity_number": r.severity_number.value,
        "severity_text": r.severity_text,
        "body": tagged(r.body),
        "attributes": attributes(r.attributes),
        "dropped_attributes": readable.dropped_attributes,
        "event_name": r.event_name or "",
        "trace_id": trace.format_trace_id(r.trace_id) if r.trace_id else "",
        "span_id": trace.format_span_id(r.span_id) if r.span_id else "",
    }


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python send.py GRPC_ADDR HTTP_ADDR")
    grpc_addr, http_addr = sys.argv[1:]
    # The exporters' own warnings (a failed export) go to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sent = {"spans": [], "logs": []}
    transports = [(protocol, gzip) for protocol in ["grpc", "http-protobuf", "http-json"] for gzip in [False, True]]
    for protocol, gzip in transports:
        span_exporter, log_exporter = exporters(protocol, gzip, grpc_addr, http_addr)
        transport = f"{protocol}-gzip" if gzip else protocol
        resource = Resource.create(
            {"service.name": f"sdk-python-{transport}", "service.version": "1.0.0", "deployment.environment.name": "test"}
        )
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider(resource=resource, span_limits=SPAN_LIMITS)
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=50))
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        logs = InMemoryLogRecordExporter()
        logger_provider = LoggerProvider(resource=resource, log_record_limits=LOG_LIMITS)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter, schedule_delay_millis=50))
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        # Only this logger feeds the SDK, so that the exporters' own logging does not.
        app_log = logging.getLogger(f"orders.{transport}")
        app_log.propagate = False
        app_log.addHandler(LoggingHandler(logger_provider=logger_provider))

        handle_order(
            tracer_provider.get_tracer("oculus.sdk-test", "1.2.3"),
            logger_provider.get_logger("oculus.sdk-test.logs", "4.5.6"),
            app_log,
        )
        sent["spans"] += [span(s) for s in spans.get_finished_spans()]
        sent["logs"] += [log(r) for r in logs.get_finished_logs()]
        # Shutting down flushes the batches and waits for their exports.
        tracer_provider.shutdown()
        logger_provider.shutdown()
    json.dump(sent, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
