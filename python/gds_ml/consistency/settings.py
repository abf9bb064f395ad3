"""The sidecar's settings: command-line flags, each with a GDS_SIDECAR_* environment fallback."""
import argparse
import os
import tempfile
from dataclasses import dataclass
from typing import Optional

PREFIX = 'GDS_SIDECAR_'
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SidecarSettings:
    # unix:/path or host:port; port 0 picks a free one, reported in the sidecar.listening line on stdout.
    address: str
    # Where each check keeps its blobs (a folder per check, deleted after it); emptied at start.
    work_dir: str
    # gRPC handler threads: checks and health calls in progress at once.
    max_workers: int
    log_level: str
    # Exit when stdin reaches EOF: the parent (the worker) died, whatever killed it.
    exit_on_stdin_eof: bool


def load_settings(argv: Optional[list[str]] = None) -> SidecarSettings:
    parser = argparse.ArgumentParser(prog='python -m gds_ml.sidecar', description='The GDS consistency sidecar.')
    parser.add_argument('--address', default=_env('ADDRESS', ''))
    parser.add_argument('--work-dir', default=_env('WORK_DIR', ''))
    parser.add_argument('--max-workers', type=int, default=int(_env('MAX_WORKERS', '8')))
    parser.add_argument('--log-level', default=_env('LOG_LEVEL', 'INFO'))
    parser.add_argument('--exit-on-stdin-eof', action='store_true', default=_env('EXIT_ON_STDIN_EOF', '') == '1')
    args = parser.parse_args(argv)

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='gds-sidecar-')
    address = args.address or f'unix:{os.path.join(work_dir, "sidecar.sock")}'
    if args.max_workers < 2:
        parser.error('--max-workers must be at least 2: health calls must be answered during a check')
    return SidecarSettings(address, work_dir, args.max_workers, args.log_level.upper(), args.exit_on_stdin_eof)


def _env(name: str, default: str) -> str:
    return os.environ.get(PREFIX + name, default)
