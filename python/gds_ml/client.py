"""The Query Customer's SDK: submit a model, follow the query, download the verified result."""
import hashlib
import os
import time
from typing import Any, BinaryIO, Iterator, Optional, Union

import grpc

from gds_ml.proto import pb, pb_grpc

CHUNK_SIZE = 1 << 20
MAX_MESSAGE_BYTES = 8 << 20
FINAL_STATUSES = (pb.QUERY_STATUS_COMPLETED, pb.QUERY_STATUS_FAILED, pb.QUERY_STATUS_CANCELLED)
_FORMATS = {'torch_save': pb.MODEL_FORMAT_TORCH_SAVE, 'pickle': pb.MODEL_FORMAT_PICKLE,
            'torchscript': pb.MODEL_FORMAT_TORCHSCRIPT}

ModelInput = Union[bytes, str, 'os.PathLike[str]']


class ResultIntegrityError(Exception):
    """The downloaded result does not match the size or SHA-256 GDS announced for it."""


class GdsProtocolError(Exception):
    """GDS answered with a stream this client does not understand."""


class QueryTimeoutError(Exception):
    """The query did not reach a final status in time."""


class GdsClient:
    """A Query Customer's connection to GDS over gRPC, authenticated with an API token."""

    def __init__(self, address: str = '127.0.0.1:50051', token: str = '',
                 credentials: Optional[grpc.ChannelCredentials] = None) -> None:
        options = [('grpc.max_send_message_length', MAX_MESSAGE_BYTES),
                   ('grpc.max_receive_message_length', MAX_MESSAGE_BYTES)]
        if credentials is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            self._channel = grpc.secure_channel(address, credentials, options=options)
        self._stub = pb_grpc.GoodDataServiceStub(self._channel)
        self._metadata = (('authorization', f'Bearer {token}'),)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> 'GdsClient':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit_query(self, model: ModelInput, dataset: str, replication: int = 3, tolerance: float = 1e-5,
                     training: Optional[dict[str, Any]] = None, model_format: Optional[str] = None,
                     deadline_seconds: int = 3600, name: str = '') -> Any:
        """Streams the model (header, then 1 MiB chunks read lazily) and returns the SubmitQueryResponse."""
        size, digest = _measure(model)
        header = pb.SubmitQueryHeader(
            dataset=dataset, replication=replication, tolerance=tolerance, training=_training_spec(training or {}),
            model_format=_FORMATS[model_format] if model_format else pb.MODEL_FORMAT_UNSPECIFIED,
            model_size=size, model_sha256=digest, deadline_seconds=deadline_seconds, name=name)

        def requests() -> Iterator[Any]:
            yield pb.SubmitQueryRequest(header=header)
            for chunk in _chunks(model):
                yield pb.SubmitQueryRequest(chunk=chunk)

        return self._stub.SubmitQuery(requests(), metadata=self._metadata)

    def get_info(self, query_id: str) -> Any:
        """The query's QueryExecutionInfo (status, executions, verdict) without any result bytes."""
        request = pb.GetQueryExecutionInfoRequest(query_id=query_id)
        for response in self._stub.GetQueryExecutionInfo(request, metadata=self._metadata):
            if response.WhichOneof('payload') == 'info':
                return response.info
        raise GdsProtocolError('GetQueryExecutionInfo returned no info')

    def wait(self, query_id: str, timeout: float = 3600.0, poll_seconds: float = 1.0) -> Any:
        """Polls until the query is COMPLETED, FAILED or CANCELLED; raises QueryTimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.get_info(query_id)
            if info.status in FINAL_STATUSES:
                return info
            if time.monotonic() >= deadline:
                raise QueryTimeoutError(f'query {query_id} still {pb.QueryStatus.Name(info.status)} after {timeout}s')
            time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))

    def download_result(self, query_id: str, execution_id: str, out_path: str) -> Any:
        """Streams a result to out_path and checks its size and SHA-256; returns the info.

        With an empty execution_id it is the verified (canonical) result, which exists once the query is COMPLETED.
        """
        request = pb.GetQueryExecutionInfoRequest(query_id=query_id, result_execution_id=execution_id,
                                                  include_verified_result=not execution_id)
        partial = f'{out_path}.part'
        try:
            with open(partial, 'wb') as file:
                info, digest, size = _receive(self._stub.GetQueryExecutionInfo(request, metadata=self._metadata), file)
            _verify(info, digest, size)
            os.replace(partial, out_path)
            return info
        finally:
            if os.path.exists(partial):
                os.remove(partial)


def _receive(responses: Iterator[Any], file: BinaryIO) -> tuple[Any, str, int]:
    info, digest, size = None, hashlib.sha256(), 0
    for response in responses:
        if response.WhichOneof('payload') == 'info':
            info = response.info
            continue
        file.write(response.chunk)
        digest.update(response.chunk)
        size += len(response.chunk)
    return info, digest.hexdigest(), size


def _verify(info: Any, digest: str, size: int) -> None:
    if info is None or not info.HasField('result'):
        raise ResultIntegrityError('GDS sent no result descriptor for this execution')
    if info.result.size != size or info.result.sha256 != digest:
        expected = f'{info.result.size} bytes sha256 {info.result.sha256}'
        raise ResultIntegrityError(f'result mismatch: expected {expected}, got {size} bytes sha256 {digest}')


def _training_spec(training: dict[str, Any]) -> Any:
    keys = {'batchSize': 'batch_size', 'learningRate': 'learning_rate'}
    return pb.TrainingSpec(**{keys.get(key, key): value for key, value in training.items()})


def _measure(model: ModelInput) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in _chunks(model):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _chunks(model: ModelInput) -> Iterator[bytes]:
    if isinstance(model, (bytes, bytearray)):
        for offset in range(0, len(model), CHUNK_SIZE):
            yield bytes(model[offset:offset + CHUNK_SIZE])
        return
    with open(model, 'rb') as file:
        yield from iter(lambda: file.read(CHUNK_SIZE), b'')
