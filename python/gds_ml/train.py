"""The Data Owner's training command. One JSON event per line on stdout, logs as JSON lines on stderr.

  python -m gds_ml.train --query-id Q --model MODEL --data CSV --features x1,x2 --label y --spec JSON --out RESULT
      [--allow-pickle] [--module-alias __main__=gds_ml.demo_models ...] [--threads N]

Events: train.started {queryId, format}, train.epoch {epoch, totalEpochs, loss} per epoch,
train.done {out, sha256, size, startedAtNs, finishedAtNs}, or train.failed {code, message}.
Exit codes: 0 done, 2 an expected failure (code from gds_ml.errors.ErrorCode), 3 an internal error (TRAINING_FAILED).
"""
import argparse
import hashlib
import json
import logging
import os
import sys
import time
from typing import Any, NoReturn, Optional

import torch

from gds_ml.errors import ErrorCode, GdsMlError
from gds_ml.loading import sniff_format
from gds_ml.logs import setup_logging
from gds_ml.training import parse_spec, train

EXIT_FAILED = 2
EXIT_INTERNAL = 3
log = logging.getLogger('gds_ml.train')


def emit(event: str, **fields: Any) -> None:
    """Writes one protocol event to stdout and flushes, so the agent sees progress as it happens."""
    sys.stdout.write(json.dumps({'event': event, **fields}) + '\n')
    sys.stdout.flush()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        emit('train.failed', code=ErrorCode.BAD_ARGUMENTS.value, message=message)
        sys.exit(EXIT_FAILED)


def _parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = _Parser(prog='python -m gds_ml.train', description='Train a query model on a local CSV dataset.')
    parser.add_argument('--query-id', required=True)
    parser.add_argument('--model', required=True, help='model file as received (format sniffed from its bytes)')
    parser.add_argument('--data', required=True, help='CSV with a header row')
    parser.add_argument('--features', required=True, help='comma-separated feature columns')
    parser.add_argument('--label', required=True)
    parser.add_argument('--spec', default='{}', help='TrainingSpec JSON with camelCase keys')
    parser.add_argument('--out', required=True, help='where the trained state_dict is written (torch.save)')
    parser.add_argument('--allow-pickle', action='store_true', help='accept full pickled models (restricted)')
    parser.add_argument('--module-alias', action='append', default=[], metavar='PICKLED=IMPORTABLE')
    parser.add_argument('--threads', type=int, default=None)
    return parser.parse_args(argv)


def _aliases(pairs: list[str]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for pair in pairs:
        pickled, sep, importable = pair.partition('=')
        if not sep or not pickled or not importable:
            raise GdsMlError(ErrorCode.BAD_ARGUMENTS, f'--module-alias must be PICKLED=IMPORTABLE, got {pair!r}')
        aliases[pickled] = importable
    return aliases


def _spec(text: str) -> Any:
    try:
        return parse_spec(json.loads(text))
    except json.JSONDecodeError as error:
        raise GdsMlError(ErrorCode.BAD_SPEC, f'--spec is not JSON: {error}') from None


def run(args: argparse.Namespace) -> None:
    spec = _spec(args.spec)
    aliases = _aliases(args.module_alias)
    features = [name.strip() for name in args.features.split(',') if name.strip()]
    emit('train.started', queryId=args.query_id, format=sniff_format(args.model).value)

    state_dict, info = train(args.model, args.data, features, args.label, spec, args.allow_pickle, aliases,
                             args.threads, on_epoch=_on_epoch)
    digest, size = save_atomically(state_dict, args.out, args.query_id)

    log.info('train.done', extra={'sha256': digest, 'size': size, 'format': info['format']})
    emit('train.done', out=args.out, sha256=digest, size=size, startedAtNs=info['startedAtNs'],
         finishedAtNs=info['finishedAtNs'])


def _on_epoch(epoch: int, total_epochs: int, loss: float) -> None:
    emit('train.epoch', epoch=epoch, totalEpochs=total_epochs, loss=loss)


def save_atomically(state_dict: dict[str, torch.Tensor], out: str, query_id: str) -> tuple[str, int]:
    """torch.save to a temp file beside out, then rename: a crash never leaves a half-written result."""
    directory = os.path.dirname(os.path.abspath(out))
    temp = os.path.join(directory, f'.model_{_safe(query_id)}_completed{time.time()}.pt.tmp')
    try:
        # A file object, not a path: torch.save names the zip's top folder after a path, which would put the
        # temp name (and its timestamp) into the bytes and make equal results hash differently.
        with open(temp, 'wb') as file:
            torch.save(state_dict, file)
        digest, size = _sha256(temp)
        os.replace(temp, out)
        return digest, size
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _safe(query_id: str) -> str:
    return ''.join(char if char.isalnum() or char in '-_' else '_' for char in query_id)[:64]


def _sha256(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def main(argv: Optional[list[str]] = None) -> int:
    args = _parse_args(argv)
    setup_logging(queryId=args.query_id)
    try:
        run(args)
        return 0
    except GdsMlError as error:
        log.warning('train.failed', extra={'code': error.code.value, 'reason': error.message})
        emit('train.failed', code=error.code.value, message=error.message)
        return EXIT_FAILED
    except Exception:  # noqa: BLE001 - the boundary: log once with the stack, report a generic failure
        log.exception('train.crashed')
        emit('train.failed', code=ErrorCode.TRAINING_FAILED.value, message='internal error while training')
        return EXIT_INTERNAL


if __name__ == '__main__':
    sys.exit(main())
