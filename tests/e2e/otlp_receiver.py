"""A real OTLP trace receiver on 127.0.0.1, over gRPC or HTTP/protobuf, built on the official
`opentelemetry-proto` messages: it decodes every export request the gateway sends and keeps the
spans, flattened into dicts, for the tests to assert on.
"""

from __future__ import annotations

import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def _value(any_value: common_pb2.AnyValue):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attributes(key_values) -> dict:
    return {attribute.key: _value(attribute.value) for attribute in key_values}


class OtlpReceiver:
    """Collects spans sent with `protocol` ("grpc" or "http/protobuf")."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.spans: list[dict] = []
        self._lock = threading.Lock()
        if protocol == "grpc":
            self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_GrpcTraceService(self), self._server)
            self.port = self._server.add_insecure_port("127.0.0.1:0")
        elif protocol == "http/protobuf":
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(self))
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        else:
            raise ValueError(f"unknown OTLP protocol {protocol}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def receive(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(_flatten(span, resource))

    def named(self, name: str) -> list[dict]:
        with self._lock:
            return [span for span in self.spans if span["name"] == name]

    def __enter__(self) -> "OtlpReceiver":
        if self.protocol == "grpc":
            self._server.start()
        else:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.protocol == "grpc":
            self._server.stop(grace=None)
        else:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)


def _flatten(span: trace_pb2.Span, resource: dict) -> dict:
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "kind": trace_pb2.Span.SpanKind.Name(span.kind),
        "status": trace_pb2.Status.StatusCode.Name(span.status.code),
        "attributes": _attributes(span.attributes),
        "links": [(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
        "resource": resource,
    }


class _GrpcTraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    def Export(self, request, context):  # noqa: N802 (the generated method name)
        self.receiver.receive(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def _http_handler(receiver: OtlpReceiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path != "/v1/traces" or self.headers.get("content-type") != "application/x-protobuf":
                self.send_response(404)
                self.end_headers()
                return
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            receiver.receive(request)
            payload = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
