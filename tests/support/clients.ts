// gRPC clients as a Query Customer and a Data Owner would use them, with hooks to misbehave on purpose.
import { createHash, type KeyObject } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';
import {
  generateSigningKeyPem,
  keyIdOf,
  loadSigningKey,
  MAX_CHUNK_BYTES,
  GRPC_CLIENT_OPTIONS,
  rawPublicKey,
  signCall,
} from '@gds/common';
import {
  loadGoodData,
  methodPath,
  type Assignment__Output,
  type GoodDataServiceClient,
  type QueryCompletedResponse__Output,
  type QueryExecutionInfo__Output,
  type QueryInfo__Output,
  type RegisterDataOwnerResponse__Output,
  type SubmitQueryHeader,
  type SubmitQueryResponse__Output,
} from '@gds/proto';

const clients = new Map<string, GoodDataServiceClient>();

export function clientFor(address: string): GoodDataServiceClient {
  let client = clients.get(address);
  if (!client) {
    const Service = loadGoodData().gooddata.v1.GoodDataService;
    client = new Service(address, grpc.credentials.createInsecure(), {
      ...GRPC_CLIENT_OPTIONS,
    });
    clients.set(address, client);
  }

  return client;
}

export function closeClients(): void {
  clients.forEach((client) => client.close());
  clients.clear();
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toMetadata(entries: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
}

export function bearer(token: string): grpc.Metadata {
  return toMetadata({ authorization: `Bearer ${token}` });
}

export function chunksOf(bytes: Buffer, size = MAX_CHUNK_BYTES): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

/** Writes messages with backpressure, then half-closes, unless `cancelAfter` messages were sent. */
async function writeAll(call: grpc.ClientWritableStream<unknown>, messages: object[], cancelAfter?: number): Promise<void> {
  let sent = 0;
  for (const message of messages) {
    if (cancelAfter !== undefined && sent === cancelAfter) {
      call.cancel();
      return;
    }
    if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
    sent++;
  }
  call.end();
}

export interface SubmitOptions {
  /** Fields to change in the header that would otherwise be derived from the bytes. */
  header?: Partial<SubmitQueryHeader>;
  /** Cancel the call after this many messages (header included). */
  cancelAfter?: number;
  /** Send these messages instead of the derived ones. */
  messages?: object[];
}

/** SubmitQuery as a customer: a header describing the bytes, then the bytes in chunks. */
export function submitQuery(address: string, token: string, model: Buffer, options: SubmitOptions = {}): Promise<SubmitQueryResponse__Output> {
  const header: SubmitQueryHeader = {
    dataset: 'demo',
    replication: 3,
    training: { epochs: 3, batchSize: 32, optimizer: 'sgd', learningRate: 0.05, loss: 'mse', seed: 7 },
    modelSize: model.length,
    modelSha256: sha256(model),
    ...options.header,
  };
  const messages = options.messages ?? [{ header }, ...chunksOf(model).map((chunk) => ({ chunk }))];

  return new Promise((resolve, reject) => {
    const call = clientFor(address).SubmitQuery(bearer(token), (error, response) => (error ? reject(error) : resolve(response!)));
    void writeAll(call, messages, options.cancelAfter);
  });
}

/** GetQueryExecutionInfo: the info message, then the result bytes when one was asked for. */
export function getExecutionInfo(
  address: string,
  token: string,
  queryId: string,
  resultExecutionId = '',
): Promise<{ info: QueryExecutionInfo__Output; result: Buffer }> {
  return new Promise((resolve, reject) => {
    const call = clientFor(address).GetQueryExecutionInfo({ queryId, resultExecutionId }, bearer(token));
    let info: QueryExecutionInfo__Output | undefined;
    const chunks: Buffer[] = [];
    call.on('data', (message) => (message.info ? (info = message.info) : chunks.push(message.chunk)));
    call.on('error', reject);
    call.on('end', () => resolve({ info: info!, result: Buffer.concat(chunks) }));
  });
}

/** Waits until the query reaches one of the given statuses. */
export async function waitForStatus(
  address: string,
  token: string,
  queryId: string,
  statuses: string[],
  timeoutMs = 120_000,
): Promise<QueryExecutionInfo__Output> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { info } = await getExecutionInfo(address, token, queryId);
    if (statuses.includes(info.status)) return info;
    if (Date.now() > deadline) throw new Error(`query ${queryId} still ${info.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface DatasetDeclaration {
  name: string;
  contentHash: string;
  rowCount?: number;
  schemaJson?: string;
}

/** A Data Owner with its own key, speaking the signed protocol directly. */
export class TestDataOwner {
  readonly key: KeyObject;
  readonly keyId: string;
  dataOwnerId = '';

  constructor(readonly address: string) {
    this.key = loadSigningKey(generateSigningKeyPem());
    this.keyId = keyIdOf(rawPublicKey(this.key));
  }

  /** Signed metadata for one call; `tamper` may change any entry before it is sent. */
  metadata(method: string, queryId = '', tamper?: (entries: Record<string, string>) => void, includePublicKey = false) {
    const entries = signCall(this.key, methodPath(method), queryId, { includePublicKey });
    tamper?.(entries);
    return toMetadata(entries);
  }

  async register(datasets: DatasetDeclaration[], name = 'test-do', tamper?: (e: Record<string, string>) => void) {
    const request = {
      name,
      datasets: datasets.map((d) => ({ rowCount: 100, schemaJson: '{"features":["x1"],"label":"y"}', ...d })),
    };
    const response = await new Promise<RegisterDataOwnerResponse__Output>((resolve, reject) =>
      clientFor(this.address).RegisterDataOwner(request, this.metadata('RegisterDataOwner', '', tamper, true), (error, r) =>
        error ? reject(error) : resolve(r!),
      ),
    );
    this.dataOwnerId = response.dataOwnerId;

    return response;
  }

  getQueryInfo(queryId: string, metadata?: grpc.Metadata): Promise<{ header: QueryInfo__Output; model: Buffer }> {
    return new Promise((resolve, reject) => {
      const call = clientFor(this.address).GetQueryInfo({ queryId }, metadata ?? this.metadata('GetQueryInfo', queryId));
      let header: QueryInfo__Output | undefined;
      const chunks: Buffer[] = [];
      call.on('data', (message) => (message.header ? (header = message.header) : chunks.push(message.chunk)));
      call.on('error', reject);
      call.on('end', () => resolve({ header: header!, model: Buffer.concat(chunks) }));
    });
  }

  reportProgress(queryId: string, epoch: number, totalEpochs: number, loss: number): Promise<boolean> {
    return new Promise((resolve, reject) =>
      clientFor(this.address).ReportProgress(
        { queryId, epoch, totalEpochs, loss },
        this.metadata('ReportProgress', queryId),
        (error, response) => (error ? reject(error) : resolve(response!.accepted)),
      ),
    );
  }

  complete(
    queryId: string,
    result: Buffer | { code: string; message: string },
    options: { header?: object; messages?: object[]; cancelAfter?: number } = {},
  ): Promise<QueryCompletedResponse__Output> {
    const isError = !Buffer.isBuffer(result);
    const header = isError
      ? { queryId, error: result }
      : { queryId, resultSize: result.length, resultSha256: sha256(result), startedAtNs: '1', finishedAtNs: '2', ...options.header };
    const messages = options.messages ?? [{ header }, ...(isError ? [] : chunksOf(result).map((chunk) => ({ chunk })))];

    return new Promise((resolve, reject) => {
      const call = clientFor(this.address).QueryCompleted(this.metadata('QueryCompleted', queryId), (error, r) =>
        error ? reject(error) : resolve(r!),
      );
      void writeAll(call, messages, options.cancelAfter);
    });
  }

  /** Collects assignments from WatchAssignments until `count` arrived. */
  watch(count: number, timeoutMs = 10_000): Promise<Assignment__Output[]> {
    return new Promise((resolve, reject) => {
      const call = clientFor(this.address).WatchAssignments({}, this.metadata('WatchAssignments'));
      const seen: Assignment__Output[] = [];
      const timer = setTimeout(() => {
        call.cancel();
        reject(new Error(`only ${seen.length} of ${count} assignments within ${timeoutMs} ms`));
      }, timeoutMs);
      call.on('data', (assignment: Assignment__Output) => {
        seen.push(assignment);
        if (seen.length === count) {
          clearTimeout(timer);
          call.cancel();
          resolve(seen);
        }
      });
      call.on('error', (error: grpc.ServiceError) => {
        if (error.code !== grpc.status.CANCELLED) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  }
}
