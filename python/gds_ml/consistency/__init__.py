"""The consistency check: do the Data Owners' results have the model's structure, and do they agree?

structure  derives {key: shape, dtype} from the submitted model without running its code, and reads a result's
           declared structure the same way before any tensor is loaded;
tensors    loads results weights-only and measures them (norms, finiteness, distances), chunk by chunk;
grouping   decides which results agree, using bounds where it can and exact comparisons where it must;
engine     runs a check over files, holding at most two results in memory;
server     the long-lived gRPC sidecar the worker talks to (libs/proto/gooddata/sidecar/v1/consistency.proto).
"""
