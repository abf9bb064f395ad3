import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import grpc
import pytest
import torch

from gds_ml.consistency.fixtures import write_fault
from gds_ml.consistency.proto import pb, pb_grpc
from gds_ml.consistency.server import decode_check_request, serve
from gds_ml.consistency.settings import SidecarSettings
from gds_ml.demo_models import Net

CHUNK = 3 * 1024 * 1024


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    settings = SidecarSettings(f'unix:{work_dir}/s.sock', str(work_dir), 4, 'INFO', False)
    addresses: list[str] = []
    stop = serve(settings, addresses.append)
    channel = grpc.insecure_channel(addresses[0])
    yield pb_grpc.ConsistencySidecarStub(channel), work_dir / 'checks'
    channel.close()
    stop()


@pytest.fixture
def files(tmp_path: Path, make_model: Callable[..., Path], marker: Path) -> dict[str, Path]:
    torch.manual_seed(1)
    honest = tmp_path / 'honest.pt'
    torch.save(Net().state_dict(), honest)
    found = {'model': make_model('torch_save', 3), 'honest': honest}
    for kind in ('noise', 'malicious'):
        found[kind] = tmp_path / f'{kind}.pt'
        write_fault(kind, str(honest), str(found[kind]), seed=2, marker=str(marker))
    return found


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _messages(model: Path, results: list[tuple[str, Path]], quorum: int = 2, verify: bool = True,
              tamper: Callable[[list[Any]], None] = lambda messages: None) -> Iterator[Any]:
    header = pb.CheckHeader(
        query_id='q1', job_id='j1', attempt=1, quorum=quorum, verify_sha256=verify,
        tolerance=pb.Tolerance(max_abs_diff=1e-5),
        model=pb.BlobDescriptor(size=model.stat().st_size, sha256=_sha(model)),
        results=[pb.ResultDescriptor(execution_id=name, size=path.stat().st_size, sha256=_sha(path))
                 for name, path in results])
    messages: list[Any] = [pb.CheckRequest(header=header)]
    for name, path in [('', model), *results]:
        messages.append(pb.CheckRequest(blob=pb.BlobStart(execution_id=name)))
        data = path.read_bytes()
        messages.extend(pb.CheckRequest(chunk=data[at:at + CHUNK]) for at in range(0, len(data), CHUNK))
    tamper(messages)
    return iter(messages)


def test_health_answers_with_the_pid(sidecar: tuple[Any, Path]) -> None:
    stub, _ = sidecar

    response = stub.Health(pb.HealthRequest(), timeout=5)

    assert response.pid == os.getpid() and response.checks_running == 0


def test_check_names_the_culprit_and_leaves_no_file_behind(sidecar: tuple[Any, Path], files: dict[str, Path],
                                                           marker: Path) -> None:
    stub, checks = sidecar
    results = [('a', files['honest']), ('b', files['noise']), ('c', files['honest']), ('d', files['malicious'])]

    response = stub.Check(_messages(files['model'], results), timeout=60)

    assert pb.Verdict.Name(response.verdict) == 'VERDICT_CONSISTENT'
    assert response.canonical_execution_id == 'a'
    assert [pb.Rule.Name(r.rule) for r in response.results] == \
        ['RULE_UNSPECIFIED', 'RULE_OUT_OF_TOLERANCE', 'RULE_UNSPECIFIED', 'RULE_UNREADABLE']
    assert response.results[1].reason.startswith('fc1.')
    assert response.results[3].sha256 == _sha(files['malicious'])
    assert response.model_format == 'torch_save' and response.peak_rss_bytes > 0
    assert response.tolerance.relative_l2 == pytest.approx(1e-4)
    assert list(checks.iterdir()) == []
    assert not marker.exists()


@pytest.mark.parametrize('tamper,code,detail', [
    (lambda m: m.pop(0), 'INVALID_ARGUMENT', 'starts with a CheckHeader'),
    (lambda m: m.pop(), 'INVALID_ARGUMENT', 'blob(s) missing'),
    (lambda m: m.insert(2, pb.CheckRequest(chunk=b'x')), 'INVALID_ARGUMENT', 'more than'),
    (lambda m: m.pop(1), 'INVALID_ARGUMENT', 'before any BlobStart'),
    (lambda m: m.__setitem__(2, pb.CheckRequest(chunk=b'Z' + m[2].chunk[1:])), 'DATA_LOSS', 'hashes to'),
])
def test_a_stream_that_breaks_the_contract_fails_and_leaves_no_file(sidecar: tuple[Any, Path],
                                                                   files: dict[str, Path], tamper: Any, code: str,
                                                                   detail: str) -> None:
    stub, checks = sidecar

    with pytest.raises(grpc.RpcError) as caught:
        stub.Check(_messages(files['model'], [('a', files['honest'])], quorum=1, tamper=tamper), timeout=60)

    assert caught.value.code().name == code
    assert detail in caught.value.details()
    assert list(checks.iterdir()) == []


def test_the_chunk_decoder_agrees_with_the_generated_one() -> None:
    for payload in (b'', b'x', os.urandom(300), os.urandom(CHUNK)):
        encoded = pb.CheckRequest(chunk=payload).SerializeToString()
        decoded = decode_check_request(encoded)
        assert bytes(decoded if isinstance(decoded, memoryview) else decoded.chunk) == payload

    header = pb.CheckRequest(header=pb.CheckHeader(query_id='q'))
    assert decode_check_request(header.SerializeToString()) == header
    both = pb.CheckRequest(chunk=b'abc').SerializeToString() + header.SerializeToString()
    assert decode_check_request(both) == pb.CheckRequest.FromString(both)


def test_a_check_cancelled_mid_stream_leaves_no_file_and_the_sidecar_serving(sidecar: tuple[Any, Path],
                                                                            files: dict[str, Path]) -> None:
    stub, checks = sidecar
    gate = threading.Event()

    def stalled() -> Iterator[Any]:
        messages = list(_messages(files['model'], [('a', files['honest'])], quorum=1))
        yield from messages[:3]
        gate.wait(timeout=30)  # the rest never comes: the worker went away

    call = stub.Check.future(stalled(), timeout=60)
    _wait_for(lambda: any(checks.iterdir()))
    call.cancel()
    gate.set()

    _wait_for(lambda: not any(checks.iterdir()))
    assert stub.Health(pb.HealthRequest(), timeout=5).checks_running == 0


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not met in time'
        time.sleep(0.05)
