import type { IncomingMessage, ServerResponse } from 'node:http';

import { GdsException, unauthenticated } from '@gds/common';

import type { CredentialHeaders, Viewer } from '../account/viewer.js';

/** What every resolver gets as its context, over HTTP and over graphql-ws alike. */
export interface GqlContext {
  requestId: string;
  transport: 'http' | 'ws';
  /** Kept under `req` because Nest's Apollo driver looks for it there. */
  req: IncomingMessage;
  /** HTTP only: where the session cookie is set. */
  res?: ServerResponse;
  headers: CredentialHeaders;
  viewer: Viewer | null;
  /** Credentials were sent but were bad (a revoked token): every use of `viewer` reports this. */
  authError: GdsException | null;
  startedAt: number;
}

/** The signed-in customer; UNAUTHENTICATED without one. */
export function requireViewer(context: GqlContext): Viewer {
  if (context.authError) {
    throw context.authError;
  }
  if (!context.viewer) {
    throw unauthenticated('sign in, or send Authorization: Bearer <API token>');
  }

  return context.viewer;
}

/** The signed-in customer or null; bad credentials are still an error. */
export function optionalViewer(context: GqlContext): Viewer | null {
  if (context.authError) {
    throw context.authError;
  }

  return context.viewer;
}

/** Resolves the caller, keeping an authentication failure for the resolvers that need a caller. */
export async function identify(
  headers: CredentialHeaders,
  identifyHeaders: (headers: CredentialHeaders) => Promise<Viewer | null>,
): Promise<{ viewer: Viewer | null; authError: GdsException | null }> {
  try {
    return { viewer: await identifyHeaders(headers), authError: null };
  } catch (error) {
    if (error instanceof GdsException) {
      return { viewer: null, authError: error };
    }
    throw error;
  }
}

export function credentialHeaders(request: IncomingMessage, authorization?: unknown): CredentialHeaders {
  return {
    authorization: typeof authorization === 'string' ? authorization : request.headers.authorization,
    cookie: request.headers.cookie,
  };
}
