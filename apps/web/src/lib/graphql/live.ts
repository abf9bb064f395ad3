// One graphql-ws connection per browser tab and session: the cookie authenticates the WebSocket handshake, so a
// sign-in or sign-out replaces the connection rather than reusing one opened as somebody else.
import { type Client, createClient } from 'graphql-ws/client';

type ConnectionListener = (isConnected: boolean) => void;

interface LiveConnection {
  key: string;
  client: Client;
  isConnected: boolean;
  listeners: Set<ConnectionListener>;
}

let current: LiveConnection | undefined;

const isAuthClose = (event: unknown) =>
  Boolean(event && typeof event === 'object' && 'code' in event && [4401, 4403].includes((event as CloseEvent).code));

/** The tab's live connection for this ws URL and session (`sessionKey` = the customer's id). */
export function liveConnection(wsUrl: string, sessionKey: string): LiveConnection {
  const key = `${wsUrl} ${sessionKey}`;
  if (current?.key === key) return current;

  closeLiveClient();
  const client = createClient({
    url: wsUrl,
    lazy: true,
    lazyCloseTimeout: 3_000,
    retryAttempts: Infinity,
    // Keep retrying through API restarts; an auth failure closes with 4401/4403 and is reported, not retried.
    shouldRetry: (event) => !isAuthClose(event),
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** retries))),
  });
  const connection: LiveConnection = { key, client, isConnected: false, listeners: new Set() };
  const announce = (isConnected: boolean) => {
    connection.isConnected = isConnected;
    connection.listeners.forEach((listener) => listener(isConnected));
  };
  client.on('connected', () => announce(true));
  client.on('closed', () => announce(false));
  current = connection;

  return connection;
}

/** Calls `listener` now and on every change of the connection state; returns the unsubscribe function. */
export function watchConnection(connection: LiveConnection, listener: ConnectionListener): () => void {
  connection.listeners.add(listener);
  listener(connection.isConnected);

  return () => connection.listeners.delete(listener);
}

/** Closes the live connection (on sign-out). */
export function closeLiveClient(): void {
  void current?.client.dispose();
  current = undefined;
}
