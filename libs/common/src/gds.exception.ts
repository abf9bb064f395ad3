/** Every failure a GDS service can report. Each transport maps all of them (see grpc/grpc-status.ts). */
export enum GdsErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  INVALID_INPUT = 'INVALID_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  ALREADY_EXISTS = 'ALREADY_EXISTS',
  PRECONDITION_FAILED = 'PRECONDITION_FAILED',
  TOO_LARGE = 'TOO_LARGE',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

/** A domain failure: a code, a message for developers, and whatever fields help to find it in the logs. */
export class GdsException extends Error {
  constructor(
    readonly code: GdsErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GdsException';
  }
}

export const unauthenticated = (message: string) => new GdsException(GdsErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message: string) => new GdsException(GdsErrorCode.FORBIDDEN, message);
export const invalidInput = (message: string) => new GdsException(GdsErrorCode.INVALID_INPUT, message);
export const notFound = (message: string) => new GdsException(GdsErrorCode.NOT_FOUND, message);
export const preconditionFailed = (message: string) => new GdsException(GdsErrorCode.PRECONDITION_FAILED, message);
