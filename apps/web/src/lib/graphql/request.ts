// GraphQL over HTTP to the API, with the session cookie (the API allows credentials from the portal's origin).
import { ApiError } from '../errors';

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; reason?: string; requestId?: string };
}

/** Sends one query or mutation; resolves with `data` or throws an ApiError carrying the first error's code. */
export async function graphqlRequest<T>(
  apiUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${apiUrl}/graphql`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw new ApiError('ABORTED', 'cancelled');
    throw new ApiError('NETWORK_ERROR', `Cannot reach the GDS API at ${apiUrl}. Check that it is running.`, {
      reason: error instanceof Error ? error.message : undefined,
    });
  }

  const requestId = response.headers.get('x-request-id') ?? undefined;
  let body: { data?: T; errors?: GraphQLErrorBody[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError('INTERNAL_SERVER_ERROR', `The API answered ${response.status} without JSON.`, {
      status: response.status,
      requestId,
    });
  }

  const first = body.errors?.[0];
  if (first) {
    const code = first.extensions?.code ?? (response.status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT');
    throw new ApiError(code, first.message, {
      status: response.status,
      reason: first.extensions?.reason,
      requestId: first.extensions?.requestId ?? requestId,
    });
  }
  if (!response.ok || body.data === undefined) {
    throw new ApiError('INTERNAL_SERVER_ERROR', `The API answered ${response.status}.`, {
      status: response.status,
      requestId,
    });
  }

  return body.data;
}

/** The ApiError a graphql-ws `error` callback carries: an array of GraphQL errors, a CloseEvent or an Error. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (Array.isArray(error) && error.length > 0) {
    const first = error[0] as GraphQLErrorBody;

    return new ApiError(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR', first.message, {
      reason: first.extensions?.reason,
    });
  }
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) {
    const close = error as { code: number; reason: string };
    if (close.code === 4401 || close.code === 4403) return new ApiError('UNAUTHENTICATED', close.reason);

    return new ApiError('NETWORK_ERROR', `The live connection closed (${close.code} ${close.reason}).`.trim());
  }

  return new ApiError('NETWORK_ERROR', error instanceof Error ? error.message : 'The live connection failed.');
}
