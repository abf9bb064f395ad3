"""The consistency sidecar: a long-lived gRPC server the worker starts, health-checks and restarts.

Contract: libs/proto/gooddata/sidecar/v1/consistency.proto. A Check streams in a header, the model and the results;
each blob goes to a file in a folder of its own check, and as soon as a blob is complete a pipeline thread reads it
(the model's structure, or a result checked and compared with the anchor) while the next one is still arriving. The
folder is deleted when the check ends, whatever the outcome; a sidecar killed mid-check leaves it to the worker,
which deletes the sidecar's work folder when it restarts it.
"""
import ctypes
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, NoReturn, Optional, Union

import grpc
import torch

from gds_ml.consistency.engine import ConsistencyEngine, ResultInput
from gds_ml.consistency.proto import pb
from gds_ml.consistency.schemas import CheckOutcome, Tolerance
from gds_ml.consistency.settings import MAX_MESSAGE_BYTES, SidecarSettings, load_settings
from gds_ml.logs import setup_logging

__all__ = ['ConsistencySidecar', 'serve', 'main']

SERVICE = 'gooddata.sidecar.v1.ConsistencySidecar'
_CHUNK_TAG = 0x1A  # field 3 (chunk), wire type 2 (length-delimited)
_MAX_CHUNK_BYTES = 3 * 1024 * 1024
_PR_SET_PDEATHSIG = 1

log = logging.getLogger('gds_ml.sidecar')
CheckMessage = Union[memoryview, Any]


class ContractError(Exception):
    """The stream breaks the contract; the call ends with `code`."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class _CheckLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the check's ids to every line, keeping the fields of each call too."""

    def process(self, msg: str, kwargs: Any) -> tuple[str, Any]:
        kwargs['extra'] = {**(self.extra or {}), **kwargs.get('extra', {})}
        return msg, kwargs


def decode_check_request(data: bytes) -> CheckMessage:
    """CheckRequest decoder that hands chunk messages over as a view of the received bytes.

    The generated decoder copies every 3 MiB chunk twice (into the message, then into a new bytes object on access),
    which costs a third of the sidecar's receive rate. A message that is exactly one `chunk` field is decoded here
    without a copy; anything else goes to the generated code.
    """
    if data[:1] == bytes([_CHUNK_TAG]):
        length, offset = _varint(data, 1)
        if length is not None and offset + length == len(data):
            return memoryview(data)[offset:]
    return pb.CheckRequest.FromString(data)


def _varint(data: bytes, offset: int) -> tuple[Optional[int], int]:
    value, shift = 0, 0
    for position in range(offset, min(offset + 10, len(data))):
        byte = data[position]
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position + 1
    return None, offset


class _BlobFile:
    """One blob being written to disk, with its size (and optionally SHA-256) checked."""

    def __init__(self, path: str, label: str, size: int, sha256: str, verify: bool) -> None:
        self.path, self.label, self.size, self.sha256 = path, label, size, sha256
        self.received = 0
        self._hash = hashlib.sha256() if verify else None
        self._file = open(path, 'wb', buffering=0)

    @property
    def is_complete(self) -> bool:
        return self.received == self.size

    def write(self, data: memoryview) -> None:
        if self.received + len(data) > self.size:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, f'{self.label} carries more than {self.size} bytes')
        try:
            self._file.write(data)
        except OSError as error:
            raise ContractError(grpc.StatusCode.RESOURCE_EXHAUSTED, f'cannot store {self.label}: {error}') from None
        if self._hash is not None:
            self._hash.update(data)
        self.received += len(data)

    def close(self) -> str:
        """Closes the file; returns the SHA-256 checked (or the declared one when not verifying)."""
        self._file.close()
        if self._hash is None:
            return self.sha256
        actual = self._hash.hexdigest()
        if actual != self.sha256:
            raise ContractError(grpc.StatusCode.DATA_LOSS, f'{self.label} hashes to {actual}, not {self.sha256}')
        return actual

    def discard(self) -> None:
        self._file.close()


class _Pipeline:
    """Runs engine steps in order on one thread while the stream keeps arriving."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix='check')
        self._pending: list[Future[None]] = []

    def submit(self, step: Callable[[], None]) -> None:
        self._raise_failed()
        self._pending.append(self._executor.submit(step))

    def finish(self, last: Callable[[], CheckOutcome]) -> CheckOutcome:
        for step in self._pending:
            step.result()
        return self._executor.submit(last).result()

    def stop(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _raise_failed(self) -> None:
        for step in self._pending:
            if step.done() and step.exception() is not None:
                step.result()


class CheckSession:
    """One Check call: receives the blobs in the declared order and runs the engine on them as they complete."""

    def __init__(self, header: Any, checks_dir: str) -> None:
        self._header = header
        self._log = _CheckLog(log, {'queryId': header.query_id, 'jobId': header.job_id, 'attempt': header.attempt})
        self._dir = tempfile.mkdtemp(prefix='check-', dir=checks_dir)
        self._tolerance = Tolerance.resolve(header.tolerance.max_abs_diff, header.tolerance.relative_l2)
        self._engine = ConsistencyEngine([ResultInput(r.execution_id, r.sha256) for r in header.results],
                                         self._tolerance, header.quorum, self._log)
        self._pipeline = _Pipeline()
        self._expected = [('', header.model.size, header.model.sha256)] + \
            [(r.execution_id, r.size, r.sha256) for r in header.results]
        self._next_blob = 0
        self._blob: Optional[_BlobFile] = None
        self._first_byte_at: Optional[float] = None
        self._sha256s: dict[int, str] = {}

    def run(self, messages: Iterator[CheckMessage]) -> Any:
        started = time.perf_counter()
        _reset_peak_rss()
        self._log.info('check.started', extra={'results': len(self._header.results), 'quorum': self._header.quorum,
                                               'bytes': sum(size for _, size, _ in self._expected)})
        try:
            for message in messages:
                self._receive(message)
            self._end_of_stream()
            received = time.perf_counter()
            outcome = self._pipeline.finish(self._engine.finish)
        finally:
            self._close()

        return self._response(outcome, started, received)

    def _receive(self, message: CheckMessage) -> None:
        if isinstance(message, memoryview):
            self._write(message)
            return
        kind = message.WhichOneof('payload')
        if kind == 'chunk':
            self._write(memoryview(message.chunk))
        elif kind == 'blob':
            self._start_blob(message.blob.execution_id)
        else:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, f'unexpected {kind or "empty"} message mid-stream')

    def _start_blob(self, execution_id: str) -> None:
        if self._blob is not None:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT,
                                f'{self._blob.label} ended after {self._blob.received} of {self._blob.size} bytes')
        if self._next_blob >= len(self._expected) or self._expected[self._next_blob][0] != execution_id:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, f'blob {execution_id or "(model)"} out of order')

        index = self._next_blob
        _, size, sha256 = self._expected[index]
        label = f'result {execution_id}' if index else 'the model'
        self._blob = _BlobFile(os.path.join(self._dir, f'{index}.bin'), label, size, sha256,
                               self._header.verify_sha256)
        self._next_blob += 1
        if size == 0:
            self._complete_blob()

    def _write(self, data: memoryview) -> None:
        if self._blob is None:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, 'a chunk before any BlobStart')
        if len(data) > _MAX_CHUNK_BYTES:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, f'a chunk of {len(data)} bytes exceeds 3 MiB')
        if self._first_byte_at is None:
            self._first_byte_at = time.perf_counter()
        self._blob.write(data)
        if self._blob.is_complete:
            self._complete_blob()

    def _complete_blob(self) -> None:
        assert self._blob is not None
        blob, self._blob = self._blob, None
        index = self._next_blob - 1
        self._sha256s[index] = blob.close()
        self._log.debug('check.blob_received', extra={'blob': blob.label, 'bytes': blob.size})

        if index == 0:
            self._pipeline.submit(lambda: self._engine.set_model(blob.path))
        else:
            self._pipeline.submit(lambda: self._engine.add_result(index - 1, blob.path))

    def _end_of_stream(self) -> None:
        if self._blob is not None or self._next_blob != len(self._expected):
            missing = len(self._expected) - self._next_blob + (1 if self._blob is not None else 0)
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, f'the stream ended with {missing} blob(s) missing')

    def _close(self) -> None:
        if self._blob is not None:
            self._blob.discard()
        self._pipeline.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _response(self, outcome: CheckOutcome, started: float, received: float) -> Any:
        finished = time.perf_counter()
        first_byte = self._first_byte_at or received
        timings = pb.CheckTimings(receive_seconds=received - first_byte, check_seconds=outcome.stats.busy_seconds,
                                  after_receive_seconds=finished - received, total_seconds=finished - started,
                                  loads=outcome.stats.loads, comparisons=outcome.stats.comparisons)
        results = [pb.ResultOutcome(execution_id=r.execution_id, accepted=r.accepted, rule=f'RULE_{r.rule.value}',
                                    reason=r.reason, max_abs_diff=r.max_abs_diff, relative_l2=r.relative_l2,
                                    sha256=self._sha256s.get(index + 1, r.sha256))
                   for index, r in enumerate(outcome.results)]
        response = pb.CheckResponse(
            verdict=f'VERDICT_{outcome.verdict.value}', canonical_execution_id=outcome.canonical_execution_id,
            results=results, quorum=outcome.quorum, largest_group=outcome.largest_group,
            model_format=outcome.model_format, timings=timings, peak_rss_bytes=_peak_rss(),
            tolerance=pb.Tolerance(max_abs_diff=outcome.tolerance.max_abs_diff,
                                   relative_l2=outcome.tolerance.relative_l2))
        self._log.info('check.finished', extra={
            'verdict': outcome.verdict.value, 'canonicalExecutionId': outcome.canonical_execution_id,
            'largestGroup': outcome.largest_group, 'rejected': sum(not r.accepted for r in outcome.results),
            'receiveSeconds': round(timings.receive_seconds, 3), 'checkSeconds': round(timings.check_seconds, 3),
            'afterReceiveSeconds': round(timings.after_receive_seconds, 3), 'loads': timings.loads,
            'comparisons': timings.comparisons, 'peakRssBytes': response.peak_rss_bytes})
        return response


class ConsistencySidecar:
    """The service's handlers."""

    def __init__(self, settings: SidecarSettings) -> None:
        self._checks_dir = os.path.join(settings.work_dir, 'checks')
        self._running = 0
        self._lock = threading.Lock()

    def health(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.HealthResponse(pid=os.getpid(), torch_version=torch.__version__, checks_running=self._running)

    def check(self, messages: Iterator[CheckMessage], context: grpc.ServicerContext) -> Any:
        self._count(+1)
        try:
            return CheckSession(self._header(messages), self._checks_dir).run(messages)
        except ContractError as error:
            log.warning('check.refused', extra={'code': error.code.name, 'reason': str(error)})
            context.abort(error.code, str(error))
        except Exception:  # noqa: BLE001 - the boundary: log once with the stack, answer INTERNAL
            if not context.is_active():
                # The worker cancelled the call (it stopped, or its deadline passed): nobody waits for an answer.
                log.info('check.cancelled')
                return pb.CheckResponse()
            log.exception('check.crashed')
            context.abort(grpc.StatusCode.INTERNAL, 'internal error in the consistency check')
        finally:
            self._count(-1)

    def _header(self, messages: Iterator[CheckMessage]) -> Any:
        first = next(messages, None)
        if first is None or isinstance(first, memoryview) or first.WhichOneof('payload') != 'header':
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, 'a Check starts with a CheckHeader')
        header = first.header
        ids = [result.execution_id for result in header.results]
        if header.quorum < 1 or not ids or len(set(ids)) != len(ids) or '' in ids:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT,
                                'a Check needs a quorum >= 1 and results with distinct, non-empty execution ids')
        if header.tolerance.max_abs_diff < 0 or header.tolerance.relative_l2 < 0:
            raise ContractError(grpc.StatusCode.INVALID_ARGUMENT, 'tolerances cannot be negative')
        return header

    def _count(self, delta: int) -> None:
        with self._lock:
            self._running += delta

    def handlers(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(SERVICE, {
            'Health': grpc.unary_unary_rpc_method_handler(
                self.health, request_deserializer=pb.HealthRequest.FromString,
                response_serializer=pb.HealthResponse.SerializeToString),
            'Check': grpc.stream_unary_rpc_method_handler(
                self.check, request_deserializer=decode_check_request,
                response_serializer=pb.CheckResponse.SerializeToString),
        })


def _reset_peak_rss() -> None:
    """Resets VmHWM so that each check reports its own peak (Linux; ignored elsewhere)."""
    try:
        with open('/proc/self/clear_refs', 'w') as file:
            file.write('5')
    except OSError:
        pass


def _peak_rss() -> int:
    try:
        with open('/proc/self/status') as file:
            for line in file:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _die_with_parent() -> None:
    """Linux: SIGTERM when the parent dies, even by SIGKILL, so that no sidecar outlives its worker."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def serve(settings: SidecarSettings, on_listening: Callable[[str], None]) -> Callable[[], None]:
    """Starts the server; returns a function that stops it and removes what it left on disk."""
    checks_dir = os.path.join(settings.work_dir, 'checks')
    shutil.rmtree(checks_dir, ignore_errors=True)  # left by a predecessor killed mid-check
    os.makedirs(checks_dir, exist_ok=True)

    options = [('grpc.max_receive_message_length', MAX_MESSAGE_BYTES),
               ('grpc.max_send_message_length', MAX_MESSAGE_BYTES)]
    server = grpc.server(ThreadPoolExecutor(settings.max_workers, thread_name_prefix='grpc'), options=options,
                         handlers=[ConsistencySidecar(settings).handlers()])
    port = server.add_insecure_port(settings.address)
    if port == 0:
        raise RuntimeError(f'cannot listen on {settings.address}')
    server.start()
    on_listening(settings.address if settings.address.startswith('unix:') else
                 f'{settings.address.rsplit(":", 1)[0]}:{port}')

    def stop() -> None:
        server.stop(grace=1).wait()
        shutil.rmtree(checks_dir, ignore_errors=True)
        if settings.address.startswith('unix:'):
            _remove(settings.address[len('unix:'):])
        _remove_if_empty(settings.work_dir)

    return stop


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _remove_if_empty(folder: str) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _watch_stdin(stopping: threading.Event) -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        log.warning('sidecar.parent_gone')
        stopping.set()

    threading.Thread(target=watch, name='stdin-watch', daemon=True).start()


def main(argv: Optional[list[str]] = None) -> NoReturn:
    settings = load_settings(argv)
    setup_logging(getattr(logging, settings.log_level, logging.INFO), service='gds-sidecar')
    _die_with_parent()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stopping.set())
    if settings.exit_on_stdin_eof:
        _watch_stdin(stopping)

    def announce(address: str) -> None:
        sys.stdout.write(json.dumps({'event': 'sidecar.listening', 'address': address, 'pid': os.getpid()}) + '\n')
        sys.stdout.flush()
        log.info('sidecar.listening', extra={'address': address, 'torchVersion': torch.__version__})

    stop = serve(settings, announce)
    while not stopping.wait(timeout=1.0):
        pass
    log.info('sidecar.stopping')
    stop()
    logging.shutdown()
    # Skips interpreter finalization, which would wait on the stdin watcher's blocking read.
    os._exit(0)


if __name__ == '__main__':
    main()
