"""The generated gRPC stubs (python/gds_ml/_gen, made by `node scripts/gen.mjs python`), importable as pb / pb_grpc."""
import os
import sys

_GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_gen')
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)  # the generated code imports itself as `gooddata.v1`

from gooddata.v1 import gooddata_pb2 as pb  # noqa: E402
from gooddata.v1 import gooddata_pb2_grpc as pb_grpc  # noqa: E402

__all__ = ['pb', 'pb_grpc']
