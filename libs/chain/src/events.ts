// The four announcements GDS makes on chain: typed payloads, their outbox records, calldata and decoded logs.
import { bytesToString, decodeEventLog, encodeFunctionData, type Hex, stringToHex, toBytes } from 'viem';
import { z } from 'zod';

import { REGISTRY_EVENT_TOPICS, registryAbi } from './registry.js';

/** Same names and values as Prisma's ChainEventKind (libs/db), without importing the database client. */
export const ChainEventKind = {
  QUERY_SUBMITTED: 'QUERY_SUBMITTED',
  EXECUTION_COMPLETED: 'EXECUTION_COMPLETED',
  QUERY_VERIFIED: 'QUERY_VERIFIED',
  PROGRESS_LOGGED: 'PROGRESS_LOGGED',
} as const;
export type ChainEventKind = (typeof ChainEventKind)[keyof typeof ChainEventKind];

/** Verdicts of QueryVerified; FAILED is a query that ended without a verdict (no quorum before its deadline). */
export const ChainVerdict = { CONSISTENT: 'CONSISTENT', INCONSISTENT: 'INCONSISTENT', FAILED: 'FAILED' } as const;
export type ChainVerdict = (typeof ChainVerdict)[keyof typeof ChainVerdict];

const VERDICT_CODES: Record<ChainVerdict, number> = { CONSISTENT: 1, INCONSISTENT: 2, FAILED: 3 };

/** Longest ProgressLogged payload the contract accepts, in UTF-8 bytes. */
export const MAX_PROGRESS_PAYLOAD_BYTES = 256;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const uuid = z
  .string()
  .transform((value) => value.toLowerCase())
  .refine((value) => UUID.test(value), 'expected a UUID');

/** Hex SHA-256 as GDS stores it (bare lowercase hex); "0x" and "sha256:" prefixes are accepted and dropped. */
const sha256Hex = z
  .string()
  .transform((value) => value.toLowerCase().replace(/^(0x|sha256:)/, ''))
  .refine((value) => SHA256_HEX.test(value), 'expected a hex SHA-256 (64 hex digits)');

const progressText = z
  .string()
  .refine((value) => Buffer.byteLength(value, 'utf8') <= MAX_PROGRESS_PAYLOAD_BYTES, {
    message: `at most ${MAX_PROGRESS_PAYLOAD_BYTES} UTF-8 bytes`,
  });

const payloadSchemas = {
  QUERY_SUBMITTED: z
    .object({
      queryId: uuid,
      customerId: uuid,
      datasetHash: sha256Hex,
      modelHash: sha256Hex,
      dataOwnerIds: z.array(uuid).min(1),
    })
    .strict(),
  EXECUTION_COMPLETED: z.object({ queryId: uuid, dataOwnerId: uuid, resultHash: sha256Hex }).strict(),
  QUERY_VERIFIED: z
    .object({
      queryId: uuid,
      verdict: z.enum([ChainVerdict.CONSISTENT, ChainVerdict.INCONSISTENT, ChainVerdict.FAILED]),
      canonicalResultHash: sha256Hex.nullable(),
    })
    .strict(),
  PROGRESS_LOGGED: z.object({ queryId: uuid, dataOwnerId: uuid, payload: progressText }).strict(),
} as const;

/** What each announcement carries: ids are UUID strings, hashes bare hex SHA-256, as everywhere else in GDS. */
export type ChainEventPayload<K extends ChainEventKind> = z.output<(typeof payloadSchemas)[K]>;

/** One announcement, as decoded from a log or as the relay sends it. */
export type RegistryEvent = {
  [K in ChainEventKind]: { kind: K } & ChainEventPayload<K>;
}[ChainEventKind];

/** Validates and normalises a payload; throws a ZodError naming every bad field. */
export function parseChainEventPayload<K extends ChainEventKind>(kind: K, payload: unknown): ChainEventPayload<K> {
  return payloadSchemas[kind].parse(payload) as ChainEventPayload<K>;
}

/** A row for `tx.chainOutbox.create({ data })`, made in the transaction that changes the query's state. */
export interface ChainOutboxRecord {
  queryId: string;
  kind: ChainEventKind;
  dedupeKey: string;
  payload: { [key: string]: string | string[] | null };
}

/**
 * The outbox row announcing `payload`. The unique (queryId, kind, dedupeKey) makes a retried state change
 * insert nothing twice: EXECUTION_COMPLETED is keyed by the Data Owner (one execution per query and DO),
 * PROGRESS_LOGGED by `progressKey` (for example "epoch:3"), which it requires.
 */
export function outboxRecord<K extends ChainEventKind>(kind: K, payload: ChainEventPayload<K>, progressKey?: string): ChainOutboxRecord {
  const parsed = parseChainEventPayload(kind, payload) as RegistryEventPayload;
  const event = { kind, ...parsed } as RegistryEvent;

  return { queryId: event.queryId, kind, dedupeKey: dedupeKeyOf(event, progressKey), payload: { ...parsed } };
}

type RegistryEventPayload = { [key: string]: string | string[] | null } & { queryId: string };

function dedupeKeyOf(event: RegistryEvent, progressKey?: string): string {
  switch (event.kind) {
    case ChainEventKind.EXECUTION_COMPLETED:
      return event.dataOwnerId;
    case ChainEventKind.PROGRESS_LOGGED:
      if (!progressKey) throw new Error('a PROGRESS_LOGGED outbox record needs a progressKey (e.g. "epoch:3")');

      return `${event.dataOwnerId}:${progressKey}`;
    default:
      return '';
  }
}

/** The stored outbox row's event, validated again: a row edited by hand must not reach the chain unchecked. */
export function eventFromOutbox(kind: ChainEventKind, payload: unknown): RegistryEvent {
  return { kind, ...parseChainEventPayload(kind, payload) } as RegistryEvent;
}

/**
 * The identity of an announcement for handlers that must act once: the same after a chain reset, when the
 * relay announces it again in another transaction. Progress lines have no domain identity; theirs is the log's.
 */
export function eventKey(event: RegistryEvent, log?: { transactionHash: Hex; logIndex: number }): string {
  switch (event.kind) {
    case ChainEventKind.QUERY_SUBMITTED:
    case ChainEventKind.QUERY_VERIFIED:
      return `${event.kind}:${event.queryId}`;
    case ChainEventKind.EXECUTION_COMPLETED:
      return `${event.kind}:${event.queryId}:${event.dataOwnerId}`;
    case ChainEventKind.PROGRESS_LOGGED:
      return `${event.kind}:${event.queryId}:${event.dataOwnerId}:${log?.transactionHash ?? ''}:${log?.logIndex ?? ''}`;
  }
}

/** True when a QuerySubmitted event assigns the query to this Data Owner. */
export function isAssignedTo(event: RegistryEvent, dataOwnerId: string): boolean {
  return event.kind === ChainEventKind.QUERY_SUBMITTED && event.dataOwnerIds.includes(dataOwnerId.toLowerCase());
}

// ---------------------------------------------------------------------------------------------------------------
// ABI encoding

export function uuidToBytes16(id: string): Hex {
  return `0x${id.replace(/-/g, '').toLowerCase()}`;
}

export function bytes16ToUuid(value: Hex): string {
  const hex = value.slice(2).toLowerCase();

  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const ZERO_HASH: Hex = `0x${'0'.repeat(64)}`;

function hashToBytes32(hash: string | null): Hex {
  return hash === null ? ZERO_HASH : `0x${hash}`;
}

function bytes32ToHash(value: Hex): string {
  return value.slice(2).toLowerCase();
}

/** The registry call that announces `event`. */
export function encodeRegistryCall(event: RegistryEvent): Hex {
  switch (event.kind) {
    case ChainEventKind.QUERY_SUBMITTED:
      return encodeFunctionData({
        abi: registryAbi,
        functionName: 'submitQuery',
        args: [
          uuidToBytes16(event.queryId),
          uuidToBytes16(event.customerId),
          hashToBytes32(event.datasetHash),
          hashToBytes32(event.modelHash),
          event.dataOwnerIds.map(uuidToBytes16),
        ],
      });
    case ChainEventKind.EXECUTION_COMPLETED:
      return encodeFunctionData({
        abi: registryAbi,
        functionName: 'completeExecution',
        args: [uuidToBytes16(event.queryId), uuidToBytes16(event.dataOwnerId), hashToBytes32(event.resultHash)],
      });
    case ChainEventKind.QUERY_VERIFIED:
      return encodeFunctionData({
        abi: registryAbi,
        functionName: 'verifyQuery',
        args: [uuidToBytes16(event.queryId), VERDICT_CODES[event.verdict], hashToBytes32(event.canonicalResultHash)],
      });
    case ChainEventKind.PROGRESS_LOGGED:
      return encodeFunctionData({
        abi: registryAbi,
        functionName: 'logProgress',
        args: [uuidToBytes16(event.queryId), uuidToBytes16(event.dataOwnerId), stringToHex(event.payload)],
      });
  }
}

/** Gas each call may use: measured on anvil (see tests/chain/contract.test.ts) with a wide margin. */
export function gasLimitFor(event: RegistryEvent): bigint {
  switch (event.kind) {
    case ChainEventKind.QUERY_SUBMITTED:
      return 120_000n + 8_000n * BigInt(event.dataOwnerIds.length);
    case ChainEventKind.PROGRESS_LOGGED:
      return 80_000n;
    default:
      return 100_000n;
  }
}

/** The topic0 of the log that announces events of this kind. */
export function topicOf(kind: ChainEventKind): Hex {
  return REGISTRY_EVENT_TOPICS[kind];
}

// ---------------------------------------------------------------------------------------------------------------
// Log decoding

/** A log whose topics or data do not decode as one of the four announcements. */
export class MalformedLogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedLogError';
  }
}

const VERDICTS_BY_CODE = new Map(Object.entries(VERDICT_CODES).map(([verdict, code]) => [code, verdict as ChainVerdict]));

/** Decodes one of the four announcements; throws MalformedLogError for anything else. */
export function decodeRegistryLog(log: { topics: readonly Hex[]; data: Hex }): RegistryEvent {
  let decoded;
  try {
    decoded = decodeEventLog({ abi: registryAbi, topics: log.topics as [Hex, ...Hex[]], data: log.data, strict: true });
  } catch (error) {
    throw new MalformedLogError((error as Error).message.split('\n')[0]);
  }

  switch (decoded.eventName) {
    case 'QuerySubmitted':
      return {
        kind: ChainEventKind.QUERY_SUBMITTED,
        queryId: bytes16ToUuid(decoded.args.queryId),
        customerId: bytes16ToUuid(decoded.args.customerId),
        datasetHash: bytes32ToHash(decoded.args.datasetHash),
        modelHash: bytes32ToHash(decoded.args.modelHash),
        dataOwnerIds: decoded.args.dataOwnerIds.map(bytes16ToUuid),
      };
    case 'ExecutionCompleted':
      return {
        kind: ChainEventKind.EXECUTION_COMPLETED,
        queryId: bytes16ToUuid(decoded.args.queryId),
        dataOwnerId: bytes16ToUuid(decoded.args.dataOwnerId),
        resultHash: bytes32ToHash(decoded.args.resultHash),
      };
    case 'QueryVerified':
      return decodeVerified(decoded.args);
    case 'ProgressLogged':
      return {
        kind: ChainEventKind.PROGRESS_LOGGED,
        queryId: bytes16ToUuid(decoded.args.queryId),
        dataOwnerId: bytes16ToUuid(decoded.args.dataOwnerId),
        payload: bytesToString(toBytes(decoded.args.payload)),
      };
    default:
      throw new MalformedLogError(`${decoded.eventName} is not an announcement`);
  }
}

function decodeVerified(args: { queryId: Hex; verdict: number; canonicalResultHash: Hex }): RegistryEvent {
  const verdict = VERDICTS_BY_CODE.get(args.verdict);
  if (!verdict) throw new MalformedLogError(`QueryVerified with unknown verdict ${args.verdict}`);

  return {
    kind: ChainEventKind.QUERY_VERIFIED,
    queryId: bytes16ToUuid(args.queryId),
    verdict,
    canonicalResultHash: args.canonicalResultHash === ZERO_HASH ? null : bytes32ToHash(args.canonicalResultHash),
  };
}
