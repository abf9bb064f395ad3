"""The Query Customer's command line.

  python -m gds_ml.qc [--address HOST:PORT] [--token T | env GDS_TOKEN] submit --model F --dataset D [--replication 3]
      [--tolerance 1e-5] [--training JSON] [--format torch_save|pickle|torchscript] [--deadline-seconds 3600]
  python -m gds_ml.qc status QUERY_ID
  python -m gds_ml.qc download QUERY_ID [--execution-id E] --out F   (default: the verified result)
  python -m gds_ml.qc demo --dataset D [--replication 3] [--timeout 600]   (the seed notebook's flow, end to end)

Output: one JSON object on stdout (demo also prints both state_dicts). Exit 0 success, 1 failure.
"""
import argparse
import json
import os
import sys
import time
from typing import Any, Optional

import grpc
from google.protobuf.json_format import MessageToDict

from gds_ml.client import GdsClient
from gds_ml.proto import pb

import torch
import torch.nn as nn


# A Toy Model, exactly as in the seed notebook; running as `python -m gds_ml.qc` it pickles as `__main__.Net`.
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(5, 1)

    def forward(self, x):
        x = self.fc1(x)
        x = torch.sigmoid(x)
        return x


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m gds_ml.qc', description='GoodData System Query Customer client.')
    parser.add_argument('--address', default='127.0.0.1:50051')
    parser.add_argument('--token', default=os.environ.get('GDS_TOKEN', ''))
    commands = parser.add_subparsers(dest='command', required=True)

    submit = commands.add_parser('submit', help='upload a model file and start a query')
    submit.add_argument('--model', required=True)
    _add_query_options(submit)
    submit.add_argument('--format', choices=('torch_save', 'pickle', 'torchscript'))

    status = commands.add_parser('status', help='print the query execution info')
    status.add_argument('query_id')

    download = commands.add_parser('download', help='download a result (the canonical one by default)')
    download.add_argument('query_id')
    download.add_argument('--execution-id', default='')
    download.add_argument('--out', required=True)

    demo = commands.add_parser('demo', help="run the seed notebook's flow against a live GDS")
    _add_query_options(demo)
    demo.add_argument('--timeout', type=float, default=600.0)
    return parser


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--dataset', required=True)
    parser.add_argument('--replication', type=int, default=3)
    parser.add_argument('--tolerance', type=float, default=1e-5)
    parser.add_argument('--training', default='{}', help='TrainingSpec JSON, camelCase keys')
    parser.add_argument('--deadline-seconds', type=int, default=3600)


def _print(message: Any) -> None:
    print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=2))


def _submit(client: GdsClient, args: argparse.Namespace) -> int:
    response = client.submit_query(args.model, args.dataset, args.replication, args.tolerance,
                                   json.loads(args.training), args.format, args.deadline_seconds)
    _print(response)
    return 0


def _download(client: GdsClient, args: argparse.Namespace) -> int:
    """Downloads the verified result, or with --execution-id one Data Owner's (verified or not)."""
    _print(client.download_result(args.query_id, args.execution_id, args.out))
    return 0


def _demo(client: GdsClient, args: argparse.Namespace) -> int:
    model = Net()
    filename_start = './model_uuid_start' + str(time.time()) + '.pt'
    torch.save(model, filename_start, pickle_protocol=2)
    try:
        query = client.submit_query(filename_start, args.dataset, args.replication, args.tolerance,
                                    json.loads(args.training), 'torch_save', args.deadline_seconds)
    finally:
        os.remove(filename_start)
    print(f'submitted query {query.query_id}', flush=True)

    info = client.wait(query.query_id, args.timeout)
    if info.status != pb.QUERY_STATUS_COMPLETED:
        _print(info)
        return 1
    print(f'verdict {pb.Verdict.Name(info.report.verdict)}; canonical result from execution '
          f'{info.report.canonical_execution_id}', flush=True)
    return _load_result(client, query.query_id, '', model)


def _load_result(client: GdsClient, query_id: str, execution_id: str, model: nn.Module) -> int:
    filename_completed = './model_uuid_completed' + str(time.time()) + '.pt'
    try:
        client.download_result(query_id, execution_id, filename_completed)
        model_new_completed = Net()
        print(model_new_completed.load_state_dict(torch.load(filename_completed, weights_only=True)))
    finally:
        if os.path.exists(filename_completed):
            os.remove(filename_completed)
    print(model.state_dict())
    print(model_new_completed.state_dict())
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    commands = {'submit': _submit, 'download': _download, 'demo': _demo,
                'status': lambda client, a: _print(client.get_info(a.query_id)) or 0}
    try:
        with GdsClient(args.address, args.token) as client:
            return commands[args.command](client, args)
    except grpc.RpcError as error:
        print(json.dumps({'error': error.code().name, 'message': error.details()}))  # type: ignore[attr-defined]
        return 1


if __name__ == '__main__':
    sys.exit(main())
