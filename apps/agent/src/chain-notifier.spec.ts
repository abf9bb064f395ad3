import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';

import { eventKey, type ChainEventEnvelope, type RegistryEvent } from '@gds/chain';
import type { Assignment__Output, QueryInfo__Output } from '@gds/proto';

import { ChainNotifier } from './chain-notifier.js';
import { ExecutionPhase, ExecutionStore } from './execution-store.js';
import { GdsCallError } from './gds-client.js';

const ME = randomUUID();
const MODEL_HASH = 'cd'.repeat(32);
const DATASET_HASH = 'ab'.repeat(32);

let stateDir: string;
let store: ExecutionStore;
let lines: Array<Record<string, unknown>>;
let enqueued: Assignment__Output[];
let answer: (queryId: string) => Promise<QueryInfo__Output>;
let calls: string[];

function notifier(): ChainNotifier {
  const logger = pino({ level: 'debug', messageKey: 'event' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const client = {
    readQueryHeader: (queryId: string) => {
      calls.push(queryId);
      return answer(queryId);
    },
  };
  const chain = { rpcUrl: 'http://127.0.0.1:1', chainId: 31337, deployBlock: 0n, confirmations: 0, pollMs: 1000, backstopMs: 5000, logRange: 2000 };
  const created = new ChainNotifier({ chain, stateDir, dataOwnerId: ME, client, store, logger });
  // The handler alone; start() (the subscriber) is exercised by tests/e2e/chain.test.ts.
  (created as unknown as { enqueue: (a: Assignment__Output) => void }).enqueue = (assignment) => enqueued.push(assignment);

  return created;
}

function submitted(overrides: Partial<Extract<RegistryEvent, { kind: 'QUERY_SUBMITTED' }>> = {}): RegistryEvent {
  return { kind: 'QUERY_SUBMITTED', queryId: randomUUID(), customerId: randomUUID(), datasetHash: DATASET_HASH, modelHash: MODEL_HASH, dataOwnerIds: [randomUUID(), ME], ...overrides };
}

function envelope(event: RegistryEvent): ChainEventEnvelope {
  return { event, key: eventKey(event), address: '0x5FbDB2315678afecb367f032d93F642f64180aa3', blockNumber: 7n, blockHash: `0x${'11'.repeat(32)}`, logIndex: 0, transactionHash: `0x${'22'.repeat(32)}` };
}

const executionIds = new Map<string, string>();

/** GDS's answer: one execution per query and Data Owner. */
function header(queryId: string, overrides: Partial<QueryInfo__Output> = {}): QueryInfo__Output {
  if (!executionIds.has(queryId)) executionIds.set(queryId, randomUUID());

  return { queryId, executionId: executionIds.get(queryId)!, modelFormat: 'MODEL_FORMAT_TORCHSCRIPT', modelSize: '10', modelSha256: MODEL_HASH, training: null, datasetHash: DATASET_HASH, deadlineAtNs: '99', ...overrides } as QueryInfo__Output;
}

const events = (name: string) => lines.filter((line) => line.event === name);

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'gds-notifier-'));
  store = new ExecutionStore(stateDir);
  lines = [];
  enqueued = [];
  calls = [];
  answer = async (queryId) => header(queryId);
});

afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

describe('ChainNotifier.handle', () => {
  it('should confirm an assigned QuerySubmitted with GDS, record it as queued and enqueue it', async () => {
    const event = submitted();

    await notifier().handle(envelope(event));

    expect(enqueued).toEqual([expect.objectContaining({ queryId: event.queryId, modelSha256: MODEL_HASH, deadlineAtNs: '99' })]);
    expect(await store.get(enqueued[0].executionId)).toMatchObject({ phase: ExecutionPhase.QUEUED, queryId: event.queryId });
    expect(events('agent.chain.notified')).toEqual([expect.objectContaining({ queryId: event.queryId, key: `QUERY_SUBMITTED:${event.queryId}`, blockNumber: '7' })]);
  });

  it('should handle a redelivered announcement once, also in a new process (from the store)', async () => {
    const event = submitted();
    await notifier().handle(envelope(event));

    await notifier().handle(envelope(event));
    const restarted = notifier();
    await restarted.start(() => {}, AbortSignal.abort());
    await restarted.handle(envelope(event));

    expect(enqueued).toHaveLength(1);
    expect(calls).toHaveLength(2);
    expect(events('agent.chain.notified')).toHaveLength(1);
  });

  it('should ignore announcements for other Data Owners and other kinds without calling GDS', async () => {
    const handler = notifier();

    await handler.handle(envelope(submitted({ dataOwnerIds: [randomUUID()] })));
    await handler.handle(envelope({ kind: 'EXECUTION_COMPLETED', queryId: randomUUID(), dataOwnerId: ME, resultHash: 'ef'.repeat(32) }));

    expect(calls).toEqual([]);
    expect(enqueued).toEqual([]);
    expect(events('agent.chain.not_assigned')).toHaveLength(1);
    expect(events('agent.chain.event')).toHaveLength(1);
  });

  it.each([grpc.status.NOT_FOUND, grpc.status.PERMISSION_DENIED, grpc.status.FAILED_PRECONDITION])(
    'should skip, without retrying, work GDS refuses with code %s',
    async (code) => {
      answer = async () => {
        throw new GdsCallError(code, 'no');
      };

      await notifier().handle(envelope(submitted()));

      expect(enqueued).toEqual([]);
      expect(events('agent.chain.refused_by_server')).toHaveLength(1);
    },
  );

  it('should throw while GDS is unavailable, so that the subscriber delivers the event again', async () => {
    answer = async () => {
      throw new GdsCallError(grpc.status.UNAVAILABLE, 'down');
    };
    const event = submitted();
    const handler = notifier();

    await expect(handler.handle(envelope(event))).rejects.toThrow('down');
    answer = async (queryId) => header(queryId);
    await handler.handle(envelope(event));

    expect(enqueued).toHaveLength(1);
  });

  it('should not work on a query whose model GDS describes with another hash than the chain', async () => {
    answer = async (queryId) => header(queryId, { modelSha256: 'ee'.repeat(32) });

    await notifier().handle(envelope(submitted()));

    expect(enqueued).toEqual([]);
    expect(events('agent.chain.announcement_mismatch')).toEqual([expect.objectContaining({ field: 'modelHash' })]);
  });
});
