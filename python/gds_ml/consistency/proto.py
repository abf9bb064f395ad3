"""The sidecar contract's generated stubs (python/gds_ml/_gen, made by `node scripts/gen.mjs python`)."""
import os
import sys

_GEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '_gen')
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)  # the generated code imports itself as `gooddata.sidecar.v1`

from gooddata.sidecar.v1 import consistency_pb2 as pb  # noqa: E402
from gooddata.sidecar.v1 import consistency_pb2_grpc as pb_grpc  # noqa: E402

__all__ = ['pb', 'pb_grpc']
