import { once } from 'node:events';

import * as grpc from '@grpc/grpc-js';
import { MAX_GRPC_MESSAGE_BYTES } from '@gds/common';

import {
  sidecarClientClass,
  type CheckMessage,
  type CheckResponse__Output,
  type ConsistencySidecarClient,
  type HealthResponse__Output,
} from './sidecar.contract.js';
import { sidecarRefused, sidecarUnavailable } from './sidecar.exception.js';

// Statuses that mean "this sidecar process could not finish", not "this request is wrong".
const RETRYABLE = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.DATA_LOSS,
]);

/**
 * Every call to one sidecar process goes through here: deadlines, backpressure and the mapping of gRPC statuses to
 * retryable (UNAVAILABLE) and permanent (INTERNAL) domain errors.
 */
export class SidecarClient {
  private readonly client: ConsistencySidecarClient;

  constructor(readonly address: string) {
    const Service = sidecarClientClass();
    this.client = new Service(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE_BYTES,
    }) as unknown as ConsistencySidecarClient;
  }

  health(timeoutMs: number): Promise<HealthResponse__Output> {
    return new Promise((resolve, reject) => {
      this.client.Health({}, { deadline: Date.now() + timeoutMs }, (error, response) =>
        error ? reject(mapError('Health', error)) : resolve(response!),
      );
    });
  }

  /** Streams the messages with backpressure and resolves with the verdict. Stops reading them if the call ends. */
  check(messages: AsyncIterable<CheckMessage>, timeoutMs: number): Promise<CheckResponse__Output> {
    return new Promise((resolve, reject) => {
      const call = this.client.Check({ deadline: Date.now() + timeoutMs }, (error, response) =>
        error ? reject(mapError('Check', error)) : resolve(response!),
      ) as unknown as grpc.ClientWritableStream<CheckMessage>;
      // events.once rejects when 'error' comes first; either way the call is over and the callback has the error.
      const ended = once(call, 'status').then(
        () => 'ended' as const,
        () => 'ended' as const,
      );

      pump(call, messages, ended).catch((error: unknown) => {
        call.cancel();
        reject(error);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

async function pump(
  call: grpc.ClientWritableStream<CheckMessage>,
  messages: AsyncIterable<CheckMessage>,
  ended: Promise<'ended'>,
): Promise<void> {
  for await (const message of messages) {
    if (!call.write(message)) {
      const drained = once(call, 'drain').then(
        () => 'drained' as const,
        () => 'ended' as const,
      );
      const woken = await Promise.race([drained, ended]);
      if (woken === 'ended') return;
    }
  }
  call.end();
}

function mapError(method: string, error: grpc.ServiceError): Error {
  const details = { method, status: grpc.status[error.code], details: error.details };
  if (RETRYABLE.has(error.code)) {
    return sidecarUnavailable(`sidecar ${method} failed: ${error.details || grpc.status[error.code]}`, details);
  }

  return sidecarRefused(`sidecar refused ${method}: ${error.details}`, details);
}
