// newHeads over a WebSocket, only to wake a subscriber. Reconnects forever with backoff; quiet while it does.
import WebSocket from 'ws';

import type { Logger } from '@gds/common';

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

/**
 * Calls `onHead` for every new block header. Written on `ws` rather than viem's WebSocket transport: viem gives up
 * after a fixed number of reconnect attempts (dropping the subscription) and prints each failed one with
 * console.error; a subscriber must keep trying quietly, since its data never depends on this socket.
 */
export class NewHeadsWatcher {
  private socket: WebSocket | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private isClosed = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly onHead: (blockNumber: bigint) => void,
  ) {}

  start(): void {
    this.connect();
  }

  close(): void {
    this.isClosed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.terminate();
    this.socket = null;
  }

  private connect(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;

    socket.on('open', () => {
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
    });
    socket.on('message', (data) => this.onMessage(data.toString()));
    socket.on('error', () => {
      // 'close' follows and reconnects.
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onMessage(text: string): void {
    let message: { id?: number; result?: unknown; error?: { message?: string }; params?: { result?: { number?: string } } };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }

    if (message.id === 1) {
      if (message.error) this.logger.warn({ event: 'chain.heads.subscribe_failed', url: this.url, reason: message.error.message });
      else if (this.failures > 0) this.logger.info({ event: 'chain.heads.reconnected', url: this.url, failures: this.failures });
      if (!message.error) this.failures = 0;
      return;
    }

    const number = message.params?.result?.number;
    if (typeof number === 'string') this.onHead(BigInt(number));
  }

  private onClose(socket: WebSocket): void {
    if (this.isClosed || socket !== this.socket) return;

    this.failures += 1;
    if (this.failures === 1) this.logger.warn({ event: 'chain.heads.disconnected', url: this.url });
    const delayMs = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (this.failures - 1));
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
    this.retryTimer.unref();
  }
}
