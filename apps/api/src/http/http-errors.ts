import { GdsErrorCode, GdsException } from '@gds/common';

import { toClientCode, type ClientErrorCode } from '../graphql/graphql-errors.js';
import { NOT_A_MODEL } from '../query/model-upload.service.js';

/** The HTTP status of each domain error; adding a code without a case here fails to compile. */
export function toHttpStatus(code: GdsErrorCode): number {
  switch (code) {
    case GdsErrorCode.UNAUTHENTICATED:
      return 401;
    case GdsErrorCode.FORBIDDEN:
      return 403;
    case GdsErrorCode.INVALID_INPUT:
      return 400;
    case GdsErrorCode.NOT_FOUND:
      return 404;
    case GdsErrorCode.ALREADY_EXISTS:
      return 409;
    case GdsErrorCode.PRECONDITION_FAILED:
      return 409;
    case GdsErrorCode.TOO_LARGE:
      return 413;
    case GdsErrorCode.UNAVAILABLE:
      return 503;
    case GdsErrorCode.INTERNAL:
      return 500;
    default:
      return assertNever(code);
  }
}

export interface HttpFailure {
  status: number;
  /** The same codes as GraphQL's extensions.code. */
  code: ClientErrorCode;
  message: string;
}

/** A domain error as an HTTP answer. A well-formed body that is no PyTorch model is 422 Unprocessable Content. */
export function toHttpFailure(error: GdsException): HttpFailure {
  const status = error.details.reason === NOT_A_MODEL ? 422 : toHttpStatus(error.code);

  return { status, code: toClientCode(error.code), message: error.message };
}

function assertNever(value: never): never {
  throw new Error(`unmapped error code ${String(value)}`);
}
