import { randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { encodeAbiParameters, type Hex } from 'viem';

import {
  bytes16ToUuid,
  decodeRegistryLog,
  eventKey,
  isAssignedTo,
  MalformedLogError,
  outboxRecord,
  uuidToBytes16,
} from './events.js';
import { REGISTRY_EVENT_TOPICS } from './registry.js';

const queryId = randomUUID();
const dataOwnerId = randomUUID();
const hash = 'ab'.repeat(32);

describe('outboxRecord', () => {
  it('should normalise ids and hashes and key results by Data Owner', () => {
    const record = outboxRecord('EXECUTION_COMPLETED', { queryId: queryId.toUpperCase(), dataOwnerId, resultHash: `sha256:${hash.toUpperCase()}` });

    expect(record).toEqual({ queryId, kind: 'EXECUTION_COMPLETED', dedupeKey: dataOwnerId, payload: { queryId, dataOwnerId, resultHash: hash } });
  });

  it('should need a progress key for progress lines and bound their length', () => {
    const payload = { queryId, dataOwnerId, payload: 'epoch 1' };

    expect(() => outboxRecord('PROGRESS_LOGGED', payload)).toThrow(/progressKey/);
    expect(outboxRecord('PROGRESS_LOGGED', payload, 'epoch:1').dedupeKey).toBe(`${dataOwnerId}:epoch:1`);
    expect(() => outboxRecord('PROGRESS_LOGGED', { ...payload, payload: 'é'.repeat(129) }, 'x')).toThrow(/256 UTF-8 bytes/);
  });

  it('should refuse bad input before it reaches the database', () => {
    expect(() => outboxRecord('QUERY_SUBMITTED', { queryId, customerId: 'nope', datasetHash: hash, modelHash: 'short', dataOwnerIds: [] })).toThrow();
    expect(() => outboxRecord('QUERY_VERIFIED', { queryId, verdict: 'MAYBE' as 'CONSISTENT', canonicalResultHash: null })).toThrow();
  });
});

describe('ids and keys', () => {
  it('should turn a UUID into bytes16 and back', () => {
    expect(bytes16ToUuid(uuidToBytes16(queryId))).toBe(queryId);
  });

  it('should key an announcement by what it is about, so that a re-send has the same key', () => {
    const submitted = { kind: 'QUERY_SUBMITTED' as const, queryId, customerId: randomUUID(), datasetHash: hash, modelHash: hash, dataOwnerIds: [dataOwnerId] };

    expect(eventKey(submitted)).toBe(`QUERY_SUBMITTED:${queryId}`);
    expect(isAssignedTo(submitted, dataOwnerId.toUpperCase())).toBe(true);
    expect(isAssignedTo(submitted, randomUUID())).toBe(false);
  });
});

describe('decodeRegistryLog', () => {
  const topicOfId = (id: string): Hex => `${uuidToBytes16(id)}${'0'.repeat(32)}`;

  it('should decode a verdict without a canonical result as null', () => {
    const data = encodeAbiParameters([{ type: 'uint8' }, { type: 'bytes32' }], [2, `0x${'0'.repeat(64)}`]);

    expect(decodeRegistryLog({ topics: [REGISTRY_EVENT_TOPICS.QUERY_VERIFIED, topicOfId(queryId)], data })).toEqual({
      kind: 'QUERY_VERIFIED',
      queryId,
      verdict: 'INCONSISTENT',
      canonicalResultHash: null,
    });
  });

  it('should call malformed what does not decode: unknown topic, missing topics, short data, unknown verdict', () => {
    const badVerdict = encodeAbiParameters([{ type: 'uint8' }, { type: 'bytes32' }], [9, `0x${hash}`]);
    const cases = [
      { topics: [`0x${'12'.repeat(32)}` as Hex], data: '0x' as Hex },
      { topics: [REGISTRY_EVENT_TOPICS.EXECUTION_COMPLETED], data: `0x${hash}` as Hex },
      { topics: [REGISTRY_EVENT_TOPICS.EXECUTION_COMPLETED, topicOfId(queryId), topicOfId(dataOwnerId)], data: '0x1234' as Hex },
      { topics: [REGISTRY_EVENT_TOPICS.QUERY_VERIFIED, topicOfId(queryId)], data: badVerdict },
      { topics: [] as Hex[], data: '0x' as Hex },
    ];

    for (const log of cases) expect(() => decodeRegistryLog(log)).toThrow(MalformedLogError);
  });
});
