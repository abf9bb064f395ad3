import { unwrapResolverError } from '@apollo/server/errors';
import { GdsErrorCode, GdsException } from '@gds/common';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** What clients switch on: `extensions.code` of every GraphQL error, and `error.code` of the HTTP endpoints. */
export type ClientErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FAILED_PRECONDITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

/** The client code of each domain error; adding a code without a case here fails to compile. */
export function toClientCode(code: GdsErrorCode): ClientErrorCode {
  switch (code) {
    case GdsErrorCode.UNAUTHENTICATED:
      return 'UNAUTHENTICATED';
    case GdsErrorCode.FORBIDDEN:
      return 'FORBIDDEN';
    case GdsErrorCode.INVALID_INPUT:
      return 'BAD_USER_INPUT';
    case GdsErrorCode.NOT_FOUND:
      return 'NOT_FOUND';
    case GdsErrorCode.ALREADY_EXISTS:
      return 'CONFLICT';
    case GdsErrorCode.PRECONDITION_FAILED:
      // Valid input at the wrong moment (cancelling a finished query, too few Data Owners): not BAD_USER_INPUT,
      // which would tell the caller to change the request rather than wait or give up.
      return 'FAILED_PRECONDITION';
    case GdsErrorCode.TOO_LARGE:
      return 'PAYLOAD_TOO_LARGE';
    case GdsErrorCode.UNAVAILABLE:
      return 'SERVICE_UNAVAILABLE';
    case GdsErrorCode.INTERNAL:
      return 'INTERNAL_SERVER_ERROR';
    default:
      return assertNever(code);
  }
}

/** Sub-codes in `extensions.reason` of BAD_USER_INPUT errors for operations over the limits. */
export const LIMIT_REASONS = ['QUERY_TOO_DEEP', 'QUERY_TOO_COSTLY'] as const;

/** Errors Apollo and graphql-js raise themselves about the request; their messages are safe to show. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

export interface ClassifiedError {
  code: string;
  /** Unexpected: a bug or an outage. Logged once with its stack; the client sees only a generic message. */
  isUnexpected: boolean;
}

export function classifyGraphqlError(error: unknown): ClassifiedError {
  const original = unwrapResolverError(error);
  if (original instanceof GdsException) {
    return { code: toClientCode(original.code), isUnexpected: original.code === GdsErrorCode.INTERNAL };
  }
  if (!(error instanceof GraphQLError)) {
    return { code: 'INTERNAL_SERVER_ERROR', isUnexpected: true };
  }
  if (LIMIT_REASONS.includes(error.extensions.reason as (typeof LIMIT_REASONS)[number])) {
    return { code: 'BAD_USER_INPUT', isUnexpected: false };
  }
  // GraphQL's own complaints about the request carry no cause, or a GraphQLError as theirs; anything else thrown
  // (a database error, a bug) is wrapped with its cause, and its message must not reach the client.
  const isAboutRequest = !error.originalError || error.originalError instanceof GraphQLError;
  // graphql-ws reports validation errors without a code; Apollo adds one.
  const code = typeof error.extensions.code === 'string' ? error.extensions.code : 'GRAPHQL_VALIDATION_FAILED';
  if (isAboutRequest && !error.path && REQUEST_ERROR_CODES.has(code)) {
    return { code, isUnexpected: false };
  }

  return { code: 'INTERNAL_SERVER_ERROR', isUnexpected: true };
}

/** The one place GraphQL errors take their shape (Apollo's formatError and graphql-ws both use it). */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const { code, isUnexpected } = classifyGraphqlError(error);
  const original = unwrapResolverError(error);
  const base = { locations: formatted.locations, path: formatted.path };
  if (isUnexpected) {
    return { ...base, message: 'internal error', extensions: { code } };
  }
  if (original instanceof GdsException) {
    const reason = typeof original.details.reason === 'string' ? { reason: original.details.reason } : {};
    return { ...base, message: original.message, extensions: { code, ...reason } };
  }
  const { reason } = formatted.extensions ?? {};

  return { ...base, message: formatted.message, extensions: { code, ...(reason ? { reason } : {}) } };
}

function assertNever(value: never): never {
  throw new Error(`unmapped error code ${String(value)}`);
}
