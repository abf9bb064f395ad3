"""The consistency sidecar the worker runs: `python -m gds_ml.sidecar [--address ADDR] [--work-dir DIR]`.

See gds_ml.consistency.server and libs/proto/gooddata/sidecar/v1/consistency.proto.
"""
from gds_ml.consistency.server import main

if __name__ == '__main__':
    main()
