import { GdsErrorCode, GdsException } from '@gds/common';

/** The sidecar is down, restarting or failed mid-check: a retry of the job can succeed. */
export function sidecarUnavailable(message: string, details: Record<string, unknown> = {}): GdsException {
  return new GdsException(GdsErrorCode.UNAVAILABLE, message, details);
}

/** The sidecar refused the call itself (the worker broke the contract): a retry would fail the same way. */
export function sidecarRefused(message: string, details: Record<string, unknown> = {}): GdsException {
  return new GdsException(GdsErrorCode.INTERNAL, message, details);
}

/** Whether a retry of the job may succeed: the sidecar, the database or Redis may be back by then. */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof GdsException) || error.code === GdsErrorCode.UNAVAILABLE;
}
