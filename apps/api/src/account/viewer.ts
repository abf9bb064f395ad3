import type { CustomerCaller } from '../auth/caller.js';

/**
 * A customer calling over HTTP or graphql-ws. `tokenId` names the credential: the ApiToken row for a bearer token,
 * the Session row for the portal cookie.
 */
export type Viewer = CustomerCaller & { credential: 'api-token' | 'session' };

/** The request headers that carry credentials. */
export interface CredentialHeaders {
  authorization?: string;
  cookie?: string;
}
