// Sends the chain outbox: rows recorded with the state changes they announce, one signer, one nonce sequence.
import {
  type Address,
  BaseError,
  decodeErrorResult,
  getAddress,
  type Hex,
  HttpRequestError,
  keccak256,
  type TransactionReceipt,
  TimeoutError,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
  WebSocketRequestError,
} from 'viem';

import { GdsErrorCode, GdsException, type Logger } from '@gds/common';
import { type ChainOutbox, OutboxStatus, type PrismaClient } from '@gds/db';

import {
  assertChainReachable,
  assertRegistryDeployed,
  type ChainClients,
  firstLine,
  type RegistryAccount,
} from '../client.js';
import { encodeRegistryCall, eventFromOutbox, gasLimitFor, type RegistryEvent, topicOf } from '../events.js';
import { currentFees, type FeeFields } from '../fees.js';
import { ALREADY_ANNOUNCED_ERRORS, registryAbi } from '../registry.js';

export interface OutboxRelayOptions {
  prisma: PrismaClient;
  clients: ChainClients;
  /** The operator key; one relay (and one nonce sequence) per key. */
  account: RegistryAccount;
  contractAddress: Address;
  /** Blocks on top of a receipt before its row is CONFIRMED. */
  confirmations?: number;
  /** A SENT transaction the node still holds but has not mined is broadcast again after this long. */
  resendAfterMs?: number;
  /** Rows signed and recorded per round. */
  batchSize?: number;
  /** How long a pass waits for another process's pass on the same key to finish. */
  lockWaitMs?: number;
  /**
   * How long a pass waits for the receipt of the last transaction it broadcast before settling, so that on an
   * automining chain (where the receipt follows within milliseconds) rows are CONFIRMED by the same pass.
   */
  receiptWaitMs?: number;
  logger: Logger;
  /** Test seam: runs after rows are recorded SENT, before they are broadcast (where a crash is the worst). */
  beforeBroadcast?: (rows: ChainOutbox[]) => Promise<void> | void;
}

export interface OutboxPassResult {
  /** Another process held this key's pass for longer than lockWaitMs; nothing was done. */
  isLockBusy: boolean;
  sent: number;
  rebroadcast: number;
  confirmed: number;
  rejected: number;
  /** Rows sent back to PENDING to be signed again (their transaction can no longer be mined). */
  requeued: number;
  /** CONFIRMED rows whose block left the chain (restart with lost blocks, reset), back to SENT. */
  undone: number;
  /** Left after the pass. */
  unconfirmed: number;
  pending: number;
}

type Row = ChainOutbox;

interface SignedRow {
  row: Row;
  nonce: number;
  rawTx: Hex;
  txHash: Hex;
}

/** Stops a pass after this many rounds even if rows keep arriving; the next job goes on. */
const MAX_ROUNDS = 20;
/** A transaction that reverts without a contract error (out of gas) is signed again at most this many times. */
const MAX_ATTEMPTS = 5;
const PASS_TIMEOUT_MS = 10 * 60_000;
const FEE_CACHE_MS = 2_000;

const SendOutcome = {
  ACCEPTED: 'ACCEPTED',
  UNKNOWN: 'UNKNOWN',
  NONCE_USED: 'NONCE_USED',
  REFUSED: 'REFUSED',
} as const;
type SendOutcome = (typeof SendOutcome)[keyof typeof SendOutcome];

/**
 * One pass sends PENDING rows in id order with local nonces, recording signer, nonce, raw transaction and hash on
 * the row (SENT) before broadcasting, and settles SENT rows from their receipts. Nothing is lost or sent twice:
 * - a crash after recording SENT leaves the signed bytes, which are broadcast again (same hash, same nonce);
 * - a transaction is signed again (new nonce) only once it can no longer be mined: its nonce was used by another
 *   transaction, or the node refused it, or it sits above a nonce that nothing will fill;
 * - a chain that lost blocks (anvil SIGKILLed, a reset) sends CONFIRMED rows of those blocks back to SENT, and
 *   their bytes are broadcast again;
 * - should the same announcement still reach the chain twice, the contract rejects the second one (REJECTED,
 *   harmless), except progress lines, which are not deduplicated.
 * Passes of one key are serialised across processes by a Postgres advisory lock.
 */
export class OutboxRelay {
  private readonly confirmations: number;
  private readonly resendAfterMs: number;
  private readonly batchSize: number;
  private readonly lockWaitMs: number;
  private readonly receiptWaitMs: number;
  private lastBroadcast: Hex | null = null;
  private fees: { fields: FeeFields; at: number } | null = null;
  private isVerified = false;

  constructor(private readonly options: OutboxRelayOptions) {
    this.confirmations = options.confirmations ?? 0;
    this.resendAfterMs = options.resendAfterMs ?? 15_000;
    this.batchSize = options.batchSize ?? 50;
    this.lockWaitMs = options.lockWaitMs ?? 10_000;
    this.receiptWaitMs = options.receiptWaitMs ?? 250;
  }

  get signer(): Address {
    return this.options.account.address;
  }

  /**
   * Checks the chain id, that the registry is there and that this key is its operator; throws a GdsException
   * naming the URL otherwise. The first pass does it too, so that nothing is signed for the wrong chain.
   */
  async verify(): Promise<void> {
    const { clients, contractAddress } = this.options;
    await assertChainReachable(clients);
    const registry = await assertRegistryDeployed(clients, contractAddress);
    if (getAddress(registry.operator) !== getAddress(this.signer)) {
      throw new GdsException(
        GdsErrorCode.PRECONDITION_FAILED,
        `the registry at ${contractAddress} is operated by ${registry.operator}; CHAIN_PRIVATE_KEY signs for ${this.signer}`,
        { contractAddress, operator: registry.operator, signer: this.signer },
      );
    }
    this.isVerified = true;
  }

  /** One pass: settle what was sent, send what is pending (until none is left or MAX_ROUNDS). */
  async runOnce(): Promise<OutboxPassResult> {
    if (!this.isVerified) await this.verify();

    const result: OutboxPassResult = {
      isLockBusy: false,
      sent: 0,
      rebroadcast: 0,
      confirmed: 0,
      rejected: 0,
      requeued: 0,
      undone: 0,
      unconfirmed: 0,
      pending: 0,
    };

    const hasRun = await this.withSignerLock(async () => {
      await this.undoVanishedBlocks(result);
      for (let round = 0; round < MAX_ROUNDS; round += 1) {
        const nextNonce = await this.settleSent(result);
        if (!(await this.sendPending(nextNonce, result))) break;
      }
      // On automine the receipts follow within milliseconds: confirm now rather than on the next pass.
      if (result.sent + result.rebroadcast > 0) {
        await this.waitForReceipt(this.lastBroadcast);
        await this.settleSent(result);
      }
      await this.countLeft(result);
    });
    result.isLockBusy = !hasRun;

    return result;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Settling SENT rows

  /** Settles every SENT row from its receipt; returns the nonce the next new transaction gets. */
  private async settleSent(result: OutboxPassResult): Promise<number> {
    // Read before the receipts: a nonce below this was used before we looked, so no receipt means not ours.
    const minedNonce = await this.options.clients.public.getTransactionCount({ address: this.signer, blockTag: 'latest' });
    const rows = await this.options.prisma.chainOutbox.findMany({
      where: { status: OutboxStatus.SENT },
      orderBy: [{ nonce: 'asc' }, { id: 'asc' }],
    });

    const unmined: Row[] = [];
    const minedOurs = new Set<number>();
    for (const row of rows) {
      const receipt = await this.receiptOf(row.txHash as Hex);
      if (!receipt) {
        unmined.push(row);
        continue;
      }
      if (this.isOurs(row)) minedOurs.add(Number(row.nonce));
      await this.settleMined(row, receipt, result);
    }

    return this.settleUnmined(unmined, minedNonce, minedOurs, result);
  }

  /**
   * Unmined rows of this key must hold the nonces right after the chain's mined count, without a hole: those are
   * broadcast again when the node lost them (or after resendAfterMs). Any other one can never be mined and is
   * signed again: its nonce was used by another transaction, it was signed by another key, or it sits above a
   * hole. Returns the first free nonce.
   */
  private async settleUnmined(unmined: Row[], minedNonce: number, minedOurs: Set<number>, result: OutboxPassResult): Promise<number> {
    let next = minedNonce;
    while (minedOurs.has(next)) next += 1;

    for (const [index, row] of unmined.entries()) {
      if (!this.isOurs(row) || Number(row.nonce) < minedNonce) {
        await this.requeue([row], this.isOurs(row) ? 'its nonce was used by another transaction' : 'signed by another key', result);
        continue;
      }
      if (Number(row.nonce) !== next) {
        await this.requeue(unmined.slice(index), `nonce ${row.nonce} is above the unfilled nonce ${next}`, result);
        break;
      }

      const outcome = await this.rebroadcastIfLost(row, result);
      if (outcome === SendOutcome.REFUSED || outcome === SendOutcome.NONCE_USED) {
        await this.requeue(unmined.slice(index), 'the node refused the transaction when it was sent again', result);
        break;
      }
      next += 1;
      while (minedOurs.has(next)) next += 1;
    }

    return next;
  }

  private async rebroadcastIfLost(row: Row, result: OutboxPassResult): Promise<SendOutcome> {
    const isHeld = await this.isKnownToNode(row.txHash as Hex);
    const age = Date.now() - (row.sentAt?.getTime() ?? 0);
    if (isHeld && age < this.resendAfterMs) return SendOutcome.ACCEPTED;

    const outcome = await this.broadcast(row.rawTx as Hex);
    if (outcome === SendOutcome.UNKNOWN) throw new ChainTransportError(`broadcasting ${row.txHash} again got no answer`);
    if (outcome === SendOutcome.NONCE_USED) {
      // Mined in the meantime (between our receipt lookup and now)? Then it settles on the next pass.
      if (await this.receiptOf(row.txHash as Hex)) return SendOutcome.ACCEPTED;
    }
    if (outcome === SendOutcome.ACCEPTED) {
      result.rebroadcast += 1;
      await this.options.prisma.chainOutbox.update({ where: { id: row.id }, data: { attempts: { increment: 1 } } });
      this.options.logger.info({ event: 'chain.outbox.rebroadcast', outboxId: row.id.toString(), txHash: row.txHash, nonce: Number(row.nonce), wasHeld: isHeld });
    }

    return outcome;
  }

  private async settleMined(row: Row, receipt: TransactionReceipt, result: OutboxPassResult): Promise<void> {
    if (receipt.status === 'reverted') {
      await this.settleReverted(row, receipt, result);
      return;
    }

    const log = receipt.logs.find(
      (entry) => entry.address.toLowerCase() === this.options.contractAddress.toLowerCase() && entry.topics[0] === topicOf(row.kind),
    );
    if (!log) {
      // Mined, but not into this registry: the chain was reset and the registry now lives at another address.
      await this.requeue([row], `transaction ${row.txHash} emitted no ${row.kind} from ${this.options.contractAddress}`, result);
      return;
    }
    if (this.confirmations > 0 && (await this.depthOf(receipt.blockNumber)) < this.confirmations) return;

    await this.options.prisma.chainOutbox.update({
      where: { id: row.id },
      data: {
        status: OutboxStatus.CONFIRMED,
        blockNumber: receipt.blockNumber,
        blockHash: receipt.blockHash,
        logIndex: log.logIndex,
        confirmedAt: new Date(),
        lastError: null,
      },
    });
    result.confirmed += 1;
  }

  /** A reverted transaction: the contract's error says whether it was a harmless repeat or a real refusal. */
  private async settleReverted(row: Row, receipt: TransactionReceipt, result: OutboxPassResult): Promise<void> {
    const reason = await this.revertReason(row);
    const blockFields = { blockNumber: receipt.blockNumber, blockHash: receipt.blockHash };
    const fields = { outboxId: row.id.toString(), queryId: row.queryId, kind: row.kind, txHash: row.txHash, reason };

    if (reason === 'NotOperator') {
      // The registry changed hands under us: nothing this key sends can succeed; keep the row for the new key.
      this.isVerified = false;
      await this.requeue([row], 'the registry refused the signer (NotOperator)', result);
      throw new GdsException(GdsErrorCode.PRECONDITION_FAILED, `the registry refused ${this.signer}: it is not the operator`, fields);
    }
    if (reason === null && row.attempts < MAX_ATTEMPTS) {
      await this.requeue([row], `transaction ${row.txHash} reverted without a contract error (out of gas?)`, result);
      return;
    }

    await this.options.prisma.chainOutbox.update({
      where: { id: row.id },
      data: { status: OutboxStatus.REJECTED, ...blockFields, lastError: reason ?? 'reverted without a contract error', confirmedAt: new Date() },
    });
    result.rejected += 1;
    if (reason && ALREADY_ANNOUNCED_ERRORS.has(reason)) {
      this.options.logger.info({ event: 'chain.outbox.already_announced', ...fields });
    } else {
      this.options.logger.error({ event: 'chain.outbox.rejected', ...fields });
    }
  }

  /** The contract error the row's call raises now (the repeat checks only ever become true), or null. */
  private async revertReason(row: Row): Promise<string | null> {
    try {
      const event = eventFromOutbox(row.kind, row.payload);
      await this.options.clients.public.call({ account: this.signer, to: this.options.contractAddress, data: encodeRegistryCall(event) });

      return null;
    } catch (error) {
      const data = revertDataOf(error);
      if (!data) throw error;
      try {
        return decodeErrorResult({ abi: registryAbi, data }).errorName;
      } catch {
        return null;
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sending PENDING rows

  /** Signs, records (SENT) and broadcasts one batch; returns whether another round should follow. */
  private async sendPending(firstNonce: number, result: OutboxPassResult): Promise<boolean> {
    const rows = await this.options.prisma.chainOutbox.findMany({
      where: { status: OutboxStatus.PENDING },
      orderBy: { id: 'asc' },
      take: this.batchSize,
    });
    if (rows.length === 0) return false;

    const signed = await this.signRows(rows, firstNonce, result);
    await this.recordSent(signed);
    await this.options.beforeBroadcast?.(signed.map((entry) => entry.row));

    for (const [index, entry] of signed.entries()) {
      const outcome = await this.broadcast(entry.rawTx);
      if (outcome === SendOutcome.ACCEPTED) {
        result.sent += 1;
        continue;
      }
      if (outcome === SendOutcome.UNKNOWN) {
        // The node may or may not have it: the rows stay SENT and the next pass finds out.
        throw new ChainTransportError(`sending ${entry.txHash} got no answer from ${this.options.clients.endpoint.rpcUrl}`);
      }

      // Refused: neither this transaction nor any later one of the batch is in the node's pool.
      await this.requeue(signed.slice(index).map((later) => later.row), `the node refused ${entry.txHash}: ${outcome}`, result);
      if (outcome === SendOutcome.REFUSED) {
        throw new ChainSendRefusedError(`the node refused transaction ${entry.txHash} (outbox row ${entry.row.id})`);
      }

      // NONCE_USED: another transaction took the nonce; the next round counts again.
      return true;
    }

    return rows.length === this.batchSize;
  }

  private async signRows(rows: Row[], firstNonce: number, result: OutboxPassResult): Promise<SignedRow[]> {
    const fees = await this.currentFees();
    const signed: SignedRow[] = [];
    let nonce = firstNonce;

    for (const row of rows) {
      const event = await this.eventOrReject(row, result);
      if (!event) continue;

      const rawTx = await this.options.account.signTransaction({
        chainId: this.options.clients.chain.id,
        nonce,
        to: this.options.contractAddress,
        data: encodeRegistryCall(event),
        gas: gasLimitFor(event),
        ...fees,
      } as Parameters<RegistryAccount['signTransaction']>[0]);
      signed.push({ row, nonce, rawTx, txHash: keccak256(rawTx) });
      nonce += 1;
    }

    return signed;
  }

  private async eventOrReject(row: Row, result: OutboxPassResult): Promise<RegistryEvent | null> {
    try {
      return eventFromOutbox(row.kind, row.payload);
    } catch (error) {
      await this.options.prisma.chainOutbox.update({
        where: { id: row.id },
        data: { status: OutboxStatus.REJECTED, lastError: `invalid payload: ${firstLine(error)}` },
      });
      result.rejected += 1;
      this.options.logger.error({ event: 'chain.outbox.invalid_payload', outboxId: row.id.toString(), queryId: row.queryId, kind: row.kind, err: error });

      return null;
    }
  }

  /** The SENT record, committed before anything is broadcast: afterwards the bytes are never signed again. */
  private async recordSent(signed: SignedRow[]): Promise<void> {
    const sentAt = new Date();
    const updates = await this.options.prisma.$transaction(
      signed.map((entry) =>
        this.options.prisma.chainOutbox.updateMany({
          where: { id: entry.row.id, status: OutboxStatus.PENDING },
          data: {
            status: OutboxStatus.SENT,
            signer: this.signer,
            nonce: BigInt(entry.nonce),
            rawTx: entry.rawTx,
            txHash: entry.txHash,
            sentAt,
            attempts: { increment: 1 },
            lastError: null,
          },
        }),
      ),
    );
    if (updates.some((update) => update.count !== 1)) {
      throw new Error('an outbox row changed under the relay although it holds the signer lock');
    }
  }

  private async broadcast(rawTx: Hex): Promise<SendOutcome> {
    try {
      this.lastBroadcast = await this.options.clients.public.sendRawTransaction({ serializedTransaction: rawTx });

      return SendOutcome.ACCEPTED;
    } catch (error) {
      return classifySendError(error);
    }
  }

  private async waitForReceipt(hash: Hex | null): Promise<void> {
    const deadline = Date.now() + this.receiptWaitMs;
    while (hash && Date.now() < deadline) {
      if (await this.receiptOf(hash)) return;

      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async currentFees(): Promise<FeeFields> {
    if (this.fees && Date.now() - this.fees.at < FEE_CACHE_MS) return this.fees.fields;

    this.fees = { fields: await currentFees(this.options.clients.public), at: Date.now() };

    return this.fees.fields;
  }

  // -------------------------------------------------------------------------------------------------------------
  // A chain that lost blocks

  /**
   * Block hashes chain each block to its parent, so once one confirmed row's block is gone every later one is:
   * a binary search over the distinct confirmed blocks finds the first lost one, and every row from there on
   * goes back to SENT (its bytes are broadcast again, or signed again when they cannot be mined any more).
   */
  private async undoVanishedBlocks(result: OutboxPassResult): Promise<void> {
    const newest = await this.options.prisma.chainOutbox.findFirst({
      where: { status: OutboxStatus.CONFIRMED, blockNumber: { not: null } },
      orderBy: [{ blockNumber: 'desc' }],
      select: { blockNumber: true, blockHash: true },
    });
    if (!newest || (await this.isOnChain(newest))) return;

    const blocks = await this.options.prisma.chainOutbox.findMany({
      where: { status: OutboxStatus.CONFIRMED, blockNumber: { not: null } },
      distinct: ['blockNumber'],
      orderBy: { blockNumber: 'asc' },
      select: { blockNumber: true, blockHash: true },
    });
    let low = 0;
    let high = blocks.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (await this.isOnChain(blocks[middle])) low = middle + 1;
      else high = middle;
    }

    const fromBlock = blocks[low].blockNumber!;
    const { count } = await this.options.prisma.chainOutbox.updateMany({
      where: { status: OutboxStatus.CONFIRMED, blockNumber: { gte: fromBlock } },
      data: { status: OutboxStatus.SENT, blockNumber: null, blockHash: null, logIndex: null, confirmedAt: null },
    });
    result.undone += count;
    this.options.logger.warn({ event: 'chain.outbox.blocks_lost', fromBlock: fromBlock.toString(), rows: count });
  }

  private async isOnChain(block: { blockNumber: bigint | null; blockHash: string | null }): Promise<boolean> {
    try {
      const onChain = await this.options.clients.public.getBlock({ blockNumber: block.blockNumber! });

      return onChain.hash === block.blockHash;
    } catch (error) {
      if (isTransportError(error)) throw error;

      return false;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Helpers

  private async requeue(rows: Row[], reason: string, result: OutboxPassResult): Promise<void> {
    if (rows.length === 0) return;

    const { count } = await this.options.prisma.chainOutbox.updateMany({
      where: { id: { in: rows.map((row) => row.id) }, status: OutboxStatus.SENT },
      data: { status: OutboxStatus.PENDING, signer: null, nonce: null, rawTx: null, txHash: null, blockNumber: null, blockHash: null, logIndex: null, lastError: reason },
    });
    result.requeued += count;
    this.options.logger.warn({ event: 'chain.outbox.requeued', rows: count, outboxIds: rows.map((row) => row.id.toString()), reason });
  }

  private isOurs(row: Row): boolean {
    return row.signer?.toLowerCase() === this.signer.toLowerCase();
  }

  private async receiptOf(hash: Hex): Promise<TransactionReceipt | null> {
    try {
      return await this.options.clients.public.getTransactionReceipt({ hash });
    } catch (error) {
      if (error instanceof TransactionReceiptNotFoundError) return null;
      throw error;
    }
  }

  private async isKnownToNode(hash: Hex): Promise<boolean> {
    try {
      await this.options.clients.public.getTransaction({ hash });

      return true;
    } catch (error) {
      if (error instanceof TransactionNotFoundError) return false;
      throw error;
    }
  }

  private async depthOf(blockNumber: bigint): Promise<number> {
    const head = await this.options.clients.public.getBlockNumber({ cacheTime: 0 });

    return Number(head - blockNumber);
  }

  private async countLeft(result: OutboxPassResult): Promise<void> {
    const groups = await this.options.prisma.chainOutbox.groupBy({
      by: ['status'],
      where: { status: { in: [OutboxStatus.PENDING, OutboxStatus.SENT] } },
      _count: { _all: true },
    });
    for (const group of groups) {
      if (group.status === OutboxStatus.PENDING) result.pending = group._count._all;
      if (group.status === OutboxStatus.SENT) result.unconfirmed = group._count._all;
    }
  }

  /** Serialises passes of this key across processes; false when another pass held it for lockWaitMs. */
  private async withSignerLock(work: () => Promise<void>): Promise<boolean> {
    const key = `gds.chain-outbox:${this.signer.toLowerCase()}`;

    return this.options.prisma.$transaction(
      async (tx) => {
        const deadline = Date.now() + this.lockWaitMs;
        for (;;) {
          const [row] = await tx.$queryRaw<Array<{ locked: boolean }>>`SELECT pg_try_advisory_xact_lock(hashtextextended(${key}, 0)) AS locked`;
          if (row.locked) break;
          if (Date.now() >= deadline) return false;

          await new Promise((resolve) => setTimeout(resolve, 25));
        }

        await work();

        return true;
      },
      { timeout: PASS_TIMEOUT_MS, maxWait: this.lockWaitMs },
    );
  }
}

/** The node did not answer (or the answer was lost): retry later, nothing about the transaction is known. */
export class ChainTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainTransportError';
  }
}

/** The node refused a transaction for a reason other than its nonce (funds, gas, chain id): needs a person. */
export class ChainSendRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainSendRefusedError';
  }
}

export function isTransportError(error: unknown): boolean {
  if (error instanceof ChainTransportError) return true;
  if (!(error instanceof BaseError)) return false;

  return error.walk((cause) => cause instanceof HttpRequestError || cause instanceof TimeoutError || cause instanceof WebSocketRequestError) !== null;
}

function classifySendError(error: unknown): SendOutcome {
  if (isTransportError(error)) return SendOutcome.UNKNOWN;

  const text = error instanceof BaseError ? `${error.details} ${error.shortMessage}` : String(error);
  if (/already known|known transaction|already imported|already exists/i.test(text)) return SendOutcome.ACCEPTED;
  if (/nonce.{0,20}too low|nonce has already been used|old nonce/i.test(text)) return SendOutcome.NONCE_USED;

  return SendOutcome.REFUSED;
}

/** The revert data (selector and arguments) somewhere in a failed call's error chain. */
function revertDataOf(error: unknown): Hex | null {
  if (!(error instanceof BaseError)) return null;

  const withData = error.walk((cause) => typeof (cause as { data?: unknown }).data === 'string');
  const data = (withData as { data?: unknown } | null)?.data;

  return typeof data === 'string' && data.startsWith('0x') ? (data as Hex) : null;
}
