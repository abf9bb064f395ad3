// The GoodDataRegistry contract on a real anvil: events and their arguments, operator-only writes, repeats refused.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BaseError, ContractFunctionRevertedError, createWalletClient, decodeErrorResult, type Hex, http } from 'viem';

import { decodeRegistryLog, deployRegistry, encodeRegistryCall, gasLimitFor, type RegistryEvent, registryAbi, uuidToBytes16 } from '@gds/chain';

import { REPO_ROOT } from '../support/stack.js';
import { operator, querySubmitted, sendEvent, startTestChain, stranger, type TestChain } from './support/chain.js';

let chain: TestChain;

beforeAll(async () => {
  chain = await startTestChain();
});

afterAll(async () => {
  await chain?.stop();
});

/** The contract error a call would raise, by simulating it from `account`. */
async function revertOf(event: RegistryEvent, account = operator): Promise<string | null> {
  try {
    await chain.clients.public.call({ account: account.address, to: chain.deployment.address, data: encodeRegistryCall(event) });
    return null;
  } catch (error) {
    const data = (error as BaseError).walk((cause) => typeof (cause as { data?: unknown }).data === 'string') as { data?: Hex } | null;
    return data?.data ? decodeErrorResult({ abi: registryAbi, data: data.data }).errorName : (error as Error).message;
  }
}

async function announce(event: RegistryEvent) {
  const hash = await sendEvent(chain.clients, chain.deployment.address, event);
  return chain.clients.public.getTransactionReceipt({ hash });
}

describe('GoodDataRegistry', () => {
  it('should make the deploying account its operator', async () => {
    const value = await chain.clients.public.readContract({ address: chain.deployment.address, abi: registryAbi, functionName: 'operator' });

    expect(value).toBe(operator.address);
  });

  it('should emit each announcement with its arguments, decoded back to what was sent', async () => {
    const submitted = querySubmitted();
    const queryId = submitted.queryId;
    const dataOwnerId = (submitted as { dataOwnerIds: string[] }).dataOwnerIds[0];
    const events: RegistryEvent[] = [
      submitted,
      { kind: 'EXECUTION_COMPLETED', queryId, dataOwnerId, resultHash: '0f'.repeat(32) },
      { kind: 'PROGRESS_LOGGED', queryId, dataOwnerId, payload: 'epoch 3/10 loss 0.25 ✓' },
      { kind: 'QUERY_VERIFIED', queryId, verdict: 'CONSISTENT', canonicalResultHash: '0f'.repeat(32) },
    ];

    for (const event of events) {
      const receipt = await announce(event);

      expect(receipt.status).toBe('success');
      expect(receipt.logs).toHaveLength(1);
      expect(receipt.logs[0].address.toLowerCase()).toBe(chain.deployment.address.toLowerCase());
      expect(decodeRegistryLog(receipt.logs[0])).toEqual(event);
      expect(receipt.gasUsed).toBeLessThan(gasLimitFor(event));
    }
  });

  it('should index the query id (and the Data Owner id) so that logs can be filtered by them', async () => {
    const event = querySubmitted();
    const receipt = await announce(event);

    expect(receipt.logs[0].topics[1]).toBe(`${uuidToBytes16(event.queryId)}${'0'.repeat(32)}`);
  });

  it('should stay under its gas limit with many Data Owners and the longest progress line', async () => {
    const event = querySubmitted({ dataOwnerIds: Array.from({ length: 25 }, () => randomUUID()) });
    const submitted = await announce(event);
    const progress = await announce({ kind: 'PROGRESS_LOGGED', queryId: event.queryId, dataOwnerId: randomUUID(), payload: 'x'.repeat(256) });

    expect(submitted.status).toBe('success');
    expect(progress.status).toBe('success');
  });

  it('should refuse every write from an account that is not the operator', async () => {
    const event = querySubmitted();
    await announce(event);
    const calls: RegistryEvent[] = [
      querySubmitted(),
      { kind: 'EXECUTION_COMPLETED', queryId: event.queryId, dataOwnerId: randomUUID(), resultHash: '01'.repeat(32) },
      { kind: 'QUERY_VERIFIED', queryId: event.queryId, verdict: 'INCONSISTENT', canonicalResultHash: null },
      { kind: 'PROGRESS_LOGGED', queryId: event.queryId, dataOwnerId: randomUUID(), payload: 'hi' },
    ];

    for (const call of calls) {
      expect(await revertOf(call, stranger)).toBe('NotOperator');
    }
  });

  it('should refuse a mined write from another account (the transaction reverts, no log)', async () => {
    const hash = await sendEvent(chain.clients, chain.deployment.address, querySubmitted(), stranger);
    const receipt = await chain.clients.public.getTransactionReceipt({ hash });

    expect(receipt.status).toBe('reverted');
    expect(receipt.logs).toHaveLength(0);
  });

  it('should reject a repeated query, execution result or verdict, and accept repeated progress lines', async () => {
    const event = querySubmitted();
    const completed: RegistryEvent = { kind: 'EXECUTION_COMPLETED', queryId: event.queryId, dataOwnerId: randomUUID(), resultHash: '02'.repeat(32) };
    const verified: RegistryEvent = { kind: 'QUERY_VERIFIED', queryId: event.queryId, verdict: 'FAILED', canonicalResultHash: null };
    const progress: RegistryEvent = { kind: 'PROGRESS_LOGGED', queryId: event.queryId, dataOwnerId: randomUUID(), payload: 'same line' };
    for (const first of [event, completed, verified, progress]) await announce(first);

    expect(await revertOf(event)).toBe('QueryAlreadySubmitted');
    expect(await revertOf({ ...event, customerId: randomUUID() } as RegistryEvent)).toBe('QueryAlreadySubmitted');
    expect(await revertOf(completed)).toBe('ExecutionAlreadyCompleted');
    expect(await revertOf({ ...verified, verdict: 'CONSISTENT' } as RegistryEvent)).toBe('QueryAlreadyVerified');
    expect(await revertOf(progress)).toBeNull();
  });

  it('should refuse announcements about a query it never saw, and bad arguments', async () => {
    const unknownQuery = randomUUID();
    const known = querySubmitted();
    await announce(known);

    expect(await revertOf({ kind: 'EXECUTION_COMPLETED', queryId: unknownQuery, dataOwnerId: randomUUID(), resultHash: '03'.repeat(32) })).toBe('UnknownQuery');
    expect(await revertOf({ kind: 'QUERY_VERIFIED', queryId: unknownQuery, verdict: 'CONSISTENT', canonicalResultHash: null })).toBe('UnknownQuery');
    expect(await revertOf({ kind: 'PROGRESS_LOGGED', queryId: unknownQuery, dataOwnerId: randomUUID(), payload: 'x' })).toBe('UnknownQuery');
    expect(await revertOf(querySubmitted({ dataOwnerIds: [] }))).toBe('NoDataOwners');
    expect(await revertOf(querySubmitted({ queryId: '00000000-0000-0000-0000-000000000000' }))).toBe('ZeroId');

    expect(await revertOf({ kind: 'PROGRESS_LOGGED', queryId: known.queryId, dataOwnerId: randomUUID(), payload: 'y'.repeat(257) })).toBe('PayloadTooLong');
  });

  it('should hand the registry to a new operator and refuse the old one afterwards', async () => {
    const registry = await deployRegistry(chain.clients, operator);
    const handOver = await chain.clients.public.simulateContract({
      account: operator,
      address: registry.address,
      abi: registryAbi,
      functionName: 'changeOperator',
      args: [stranger.address],
    });
    const wallet = createWalletClient({ account: operator, chain: chain.clients.chain, transport: http(chain.clients.endpoint.rpcUrl) });
    const hash = await wallet.writeContract(handOver.request);
    await chain.clients.public.waitForTransactionReceipt({ hash, pollingInterval: 50 });

    const error = await chain.clients.public
      .simulateContract({ account: operator, address: registry.address, abi: registryAbi, functionName: 'changeOperator', args: [operator.address] })
      .catch((caught: unknown) => caught);
    const reverted = (error as BaseError).walk((cause) => cause instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError;

    expect(reverted.data?.errorName).toBe('NotOperator');
  });
});

describe('compiled artifact', () => {
  it('should match the Solidity source (what CI checks)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'scripts/compile-contracts.mjs'), '--check']);

    expect(JSON.parse(stdout.trim())).toMatchObject({ event: 'contracts.checked', stale: [] });
  });
});
