import { status } from '@grpc/grpc-js';

import { GdsErrorCode } from '@gds/common';

/** The gRPC status of each domain error; adding a code without a case here fails to compile. */
export function toGrpcStatus(code: GdsErrorCode): status {
  switch (code) {
    case GdsErrorCode.UNAUTHENTICATED:
      return status.UNAUTHENTICATED;
    case GdsErrorCode.FORBIDDEN:
      return status.PERMISSION_DENIED;
    case GdsErrorCode.INVALID_INPUT:
      return status.INVALID_ARGUMENT;
    case GdsErrorCode.NOT_FOUND:
      return status.NOT_FOUND;
    case GdsErrorCode.ALREADY_EXISTS:
      return status.ALREADY_EXISTS;
    case GdsErrorCode.PRECONDITION_FAILED:
      return status.FAILED_PRECONDITION;
    case GdsErrorCode.TOO_LARGE:
      return status.RESOURCE_EXHAUSTED;
    case GdsErrorCode.UNAVAILABLE:
      return status.UNAVAILABLE;
    case GdsErrorCode.INTERNAL:
      return status.INTERNAL;
    default:
      return assertNever(code);
  }
}

function assertNever(value: never): never {
  throw new Error(`unmapped error code ${String(value)}`);
}
