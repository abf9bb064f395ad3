import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from gds_ml.demo_data import write_demo_data

PYTHON = '/usr/bin/python3' if Path('/usr/bin/python3').exists() else sys.executable
SPEC = '{"epochs":2,"batchSize":32,"optimizer":"sgd","learningRate":0.1,"loss":"bce","seed":0,"momentum":0}'


def _run(module: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, '-m', module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _train_cli(cwd: Path, env: dict[str, str], model: str, *extra: str, spec: str = SPEC) -> tuple[int, list[dict]]:
    args = ['--query-id', 'q-1', '--model', model, '--data', 'data.csv', '--features', 'x1,x2,x3,x4,x5',
            '--label', 'y', '--spec', spec, '--out', 'result.pt', *extra]
    result = _run('gds_ml.train', args, cwd, env)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def _setup(tmp_path: Path, make_model: Callable[..., Path], kind: str) -> str:
    write_demo_data(str(tmp_path / 'data.csv'), rows=128)
    return make_model(kind).name


def _files(path: Path) -> set[str]:
    return {entry.name for entry in path.iterdir()}


def test_train_cli_emits_the_protocol_and_leaves_only_the_result(tmp_path: Path, make_model: Callable[..., Path],
                                                                 cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'torch_save')
    before = _files(tmp_path)

    alias = '__main__=gds_ml.demo_models'
    code, events = _train_cli(tmp_path, cli_env, model, '--allow-pickle', '--module-alias', alias, '--threads', '1')

    assert code == 0
    assert [event['event'] for event in events] == ['train.started', 'train.epoch', 'train.epoch', 'train.done']
    assert events[0] == {'event': 'train.started', 'queryId': 'q-1', 'format': 'torch_save'}
    assert events[1]['epoch'] == 1 and events[1]['totalEpochs'] == 2 and isinstance(events[1]['loss'], float)
    assert events[3]['size'] == (tmp_path / 'result.pt').stat().st_size
    assert events[3]['startedAtNs'] <= events[3]['finishedAtNs']
    assert _files(tmp_path) == before | {'result.pt'}
    assert set(torch.load(tmp_path / 'result.pt', weights_only=True)) == {'fc1.weight', 'fc1.bias'}


def test_train_cli_result_bytes_are_identical_across_runs(tmp_path: Path, make_model: Callable[..., Path],
                                                          cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'torchscript')

    first = _train_cli(tmp_path, cli_env, model)[1][-1]
    second = _train_cli(tmp_path, cli_env, model)[1][-1]

    assert first['sha256'] == second['sha256']


def test_train_cli_failure_reports_code_exits_2_and_leaves_no_files(tmp_path: Path, make_model: Callable[..., Path],
                                                                    cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'malicious')
    before = _files(tmp_path)

    code, events = _train_cli(tmp_path, cli_env, model, '--allow-pickle')

    assert code == 2
    assert events[-1]['event'] == 'train.failed' and events[-1]['code'] == 'FORBIDDEN_GLOBAL'
    assert _files(tmp_path) == before


def test_train_cli_refuses_pickle_without_allow_pickle(tmp_path: Path, make_model: Callable[..., Path],
                                                       cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'pickle')

    code, events = _train_cli(tmp_path, cli_env, model, '--module-alias', '__main__=gds_ml.demo_models')

    assert (code, events[-1]['code']) == (2, 'PICKLE_NOT_ALLOWED')


def test_train_cli_rejects_a_bad_spec_with_bad_spec(tmp_path: Path, make_model: Callable[..., Path],
                                                    cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'torchscript')

    for spec in ('{"loss":"hinge"}', 'not json'):
        code, events = _train_cli(tmp_path, cli_env, model, spec=spec)
        assert (code, len(events), events[0]['code']) == (2, 1, 'BAD_SPEC')


def test_train_cli_reports_missing_columns_as_dataset_unavailable(tmp_path: Path, make_model: Callable[..., Path],
                                                                  cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'torchscript')
    (tmp_path / 'data.csv').write_text('a,b\n1,2\n')

    code, events = _train_cli(tmp_path, cli_env, model)

    assert (code, events[-1]['code']) == (2, 'DATASET_UNAVAILABLE')


def test_train_cli_logs_json_lines_to_stderr(tmp_path: Path, make_model: Callable[..., Path],
                                             cli_env: dict[str, str]) -> None:
    model = _setup(tmp_path, make_model, 'torchscript')
    args = ['--query-id', 'q-1', '--model', model, '--data', 'data.csv', '--features', 'x1,x2,x3,x4,x5',
            '--label', 'y', '--out', 'result.pt']

    stderr = _run('gds_ml.train', args, tmp_path, cli_env).stderr

    assert all(json.loads(line)['queryId'] == 'q-1' for line in stderr.splitlines())


def test_fixtures_cli_writes_main_net_pickles(tmp_path: Path, cli_env: dict[str, str]) -> None:
    for kind in ('torch_save', 'pickle'):
        assert _run('gds_ml.fixtures', ['--kind', kind, '--out', f'{kind}.bin'], tmp_path, cli_env).returncode == 0
        assert b'__main__\nNet' in (tmp_path / f'{kind}.bin').read_bytes()


def test_demo_data_is_deterministic_for_a_seed(tmp_path: Path, cli_env: dict[str, str]) -> None:
    for name in ('a.csv', 'b.csv'):
        _run('gds_ml.demo_data', ['--out', name, '--rows', '64', '--seed', '7'], tmp_path, cli_env)

    assert (tmp_path / 'a.csv').read_bytes() == (tmp_path / 'b.csv').read_bytes()
    assert (tmp_path / 'a.csv').read_text().splitlines()[0] == 'x1,x2,x3,x4,x5,y'


def test_compare_cli_exits_0_for_equal_and_1_listing_differing_keys(tmp_path: Path, cli_env: dict[str, str]) -> None:
    weights: dict[str, Any] = {'w': torch.ones(2), 'b': torch.zeros(1)}
    torch.save(weights, tmp_path / 'a.pt')
    torch.save(dict(weights), tmp_path / 'b.pt')
    torch.save({**weights, 'w': torch.tensor([1.0, 1.0000001])}, tmp_path / 'c.pt')

    assert _run('gds_ml.compare', ['a.pt', 'b.pt'], tmp_path, cli_env).returncode == 0
    different = _run('gds_ml.compare', ['a.pt', 'c.pt'], tmp_path, cli_env)
    assert (different.returncode, different.stdout.split()) == (1, ['w'])
