// Errors the portal shows: every failure (GraphQL, upload, network) becomes an ApiError with a code from the
// contract, and the code decides the words a person reads.

/** Codes from the contract's extensions.code and the HTTP endpoints' {"error":{"code"}}, plus the portal's own. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FAILED_PRECONDITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'NETWORK_ERROR'
  | 'ABORTED'
  | string;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { status?: number; reason?: string; requestId?: string } = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Words for a person; the server's own message where it is meant for users (bad input, conflicts). */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return error instanceof Error ? error.message : 'Something went wrong.';
  }
  const suffix = error.details.requestId ? ` (request ${error.details.requestId})` : '';

  switch (error.code) {
    case 'UNAUTHENTICATED':
      return 'Your session has ended. Please sign in again.';
    case 'FORBIDDEN':
      return 'You are not allowed to do that.';
    case 'NOT_FOUND':
      return 'Not found. It may not exist, or it belongs to another account.';
    case 'BAD_USER_INPUT':
    case 'CONFLICT':
    case 'FAILED_PRECONDITION':
      return error.message || 'The server did not accept this input.';
    case 'PAYLOAD_TOO_LARGE':
      return `The server refused the file as too large${error.message ? ` (${error.message})` : ''}.`;
    case 'SERVICE_UNAVAILABLE':
      return `The service is busy or restarting; please try again in a moment${suffix}.`;
    case 'NETWORK_ERROR':
      return error.message;
    case 'ABORTED':
      return 'Cancelled.';
    default:
      return `Something went wrong on the server; please try again${suffix}.`;
  }
}
