// The built API as a child process with its HTTP server on a free port, and clients for GraphQL, graphql-ws and
// the upload and download endpoints, as the portal and integrators use them.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';

import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

import { startApi } from '../../support/stack.js';

export const PORTAL_ORIGIN = 'http://localhost:3000';

export interface HttpApi {
  /** host:port of the gRPC server. */
  grpcAddress: string;
  /** http://127.0.0.1:<port> */
  url: string;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** The API with both servers on free ports, allowing the portal's origin; resolves once both listen. */
export async function startHttpApi(databaseUrl: string, env: Record<string, string> = {}): Promise<HttpApi> {
  const api = await startApi(databaseUrl, { GDS_PORTAL_ORIGINS: PORTAL_ORIGIN, ...env });

  return { grpcAddress: api.address, url: `http://127.0.0.1:${api.httpPort}`, logs: api.logs, stop: api.stop };
}

export interface GraphqlError {
  message: string;
  path?: string[];
  extensions: { code: string; reason?: string; requestId?: string };
}

export interface GraphqlResponse<T> {
  status: number;
  data: T | null;
  errors?: GraphqlError[];
  headers: Headers;
}

/** A GraphQL caller that keeps the session cookie like a browser, or sends a bearer token like an integrator. */
export class GraphqlClient {
  cookie: string | undefined;

  constructor(
    readonly url: string,
    public token?: string,
  ) {}

  async request<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<GraphqlResponse<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.credentials() },
      body: JSON.stringify({ query, variables }),
    });
    this.keepCookie(response);
    const body = (await response.json()) as { data?: T; errors?: GraphqlError[] };

    return { status: response.status, data: body.data ?? null, errors: body.errors, headers: response.headers };
  }

  /** The data, or a thrown error naming the GraphQL errors. */
  async data<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const { data, errors } = await this.request<T>(query, variables);
    if (errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(errors)}`);

    return data!;
  }

  /** The errors of a call that must fail. */
  async errors(query: string, variables: Record<string, unknown> = {}): Promise<GraphqlError[]> {
    const { errors } = await this.request(query, variables);
    if (!errors?.length) throw new Error('the operation succeeded');

    return errors;
  }

  credentials(): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.cookie) headers.cookie = `gds_session=${this.cookie}`;

    return headers;
  }

  subscriptions(options: { origin?: string } = {}): Client {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = `gds_session=${this.cookie}`;
    if (options.origin) headers.origin = options.origin;
    const token = this.token;
    class CredentialedWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    }

    return createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: CredentialedWebSocket,
      connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
      retryAttempts: 0,
      lazy: true,
    });
  }

  private keepCookie(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const match = line.match(/^gds_session=([^;]*)/);
      if (match) this.cookie = match[1] || undefined;
    }
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes the API accepts as a model container (a zip header); it never looks further. */
export function fakeModel(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  for (let at = 0, x = seed; at < size; at++) bytes[at] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  bytes.write('PK\x03\x04', 0, 'latin1');

  return bytes;
}

export interface UploadResult {
  status: number;
  body: any;
}

/** POST /uploads with the body's real hash unless headers say otherwise. */
export async function upload(
  api: { url: string },
  credentials: Record<string, string>,
  bytes: Buffer,
  headers: Record<string, string> = {},
): Promise<UploadResult> {
  const response = await fetch(`${api.url}/uploads`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'x-content-sha256': sha256(bytes), ...credentials, ...headers },
    body: bytes,
  });

  return { status: response.status, body: await response.json() };
}

/**
 * Sends the headers and `sentBytes` of a body declared as `declaredBytes` long, then, unless the server answered
 * already, cuts the connection: a browser tab closed mid-upload.
 */
export function abortedUpload(
  api: { url: string },
  credentials: Record<string, string>,
  declared: Buffer,
  sentBytes: number,
): Promise<{ status?: number }> {
  return new Promise((resolve) => {
    const url = new URL(`${api.url}/uploads`);
    const request = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': declared.length,
        'x-content-sha256': sha256(declared),
        ...credentials,
      },
    });
    request.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode });
    });
    request.on('error', () => resolve({}));
    request.write(declared.subarray(0, sentBytes), () => setTimeout(() => {
      request.destroy();
      resolve({});
    }, 300));
  });
}

/** GET /queries/:id/result */
export async function download(api: { url: string }, credentials: Record<string, string>, queryId: string) {
  const response = await fetch(`${api.url}/queries/${queryId}/result`, { headers: credentials });
  const bytes = Buffer.from(await response.arrayBuffer());

  return { status: response.status, headers: response.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

/** Waits until `check` passes or the time is up. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
