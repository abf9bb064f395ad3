// viem clients built from the chain configuration, and the checks every process makes before it relies on them.
import {
  type Address,
  type Chain,
  createPublicClient,
  defineChain,
  type Hex,
  http,
  keccak256,
  type PublicClient,
  type Transport,
} from 'viem';
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';

import { GdsErrorCode, GdsException } from '@gds/common';

import { registryAbi, registryCodeHash } from './registry.js';

export interface ChainEndpoint {
  rpcUrl: string;
  wsUrl?: string | null;
  chainId: number;
  requestTimeoutMs?: number;
}

export interface ChainClients {
  chain: Chain;
  /** Every request (reads, logs, receipts, raw transactions) goes over HTTP. */
  public: PublicClient<Transport, Chain>;
  /** newHeads only (see NewHeadsWatcher); null when there is none: subscribers poll. */
  wsUrl: string | null;
  endpoint: ChainEndpoint;
}

export type RegistryAccount = PrivateKeyAccount;

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Clients for one endpoint. viem rather than ethers: transactions are signed locally and sent raw, so the relay
 * owns nonces outright (ethers' provider caches calls for 250 ms and its signer fills nonces itself, the cause of
 * "nonce has already been used" on automine), and events and errors are typed from the committed ABI.
 */
export function createChainClients(endpoint: ChainEndpoint): ChainClients {
  const timeout = endpoint.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const chain = defineChain({
    id: endpoint.chainId,
    name: `gds-${endpoint.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [endpoint.rpcUrl], webSocket: endpoint.wsUrl ? [endpoint.wsUrl] : undefined } },
  });
  // Retries stay with the callers (relay pass, subscriber loop), which know what a retry means.
  const publicClient = createPublicClient({ chain, transport: http(endpoint.rpcUrl, { timeout, retryCount: 0 }) });

  return { chain, public: publicClient, wsUrl: endpoint.wsUrl ?? null, endpoint };
}

export function accountFromKey(privateKey: Hex): RegistryAccount {
  return privateKeyToAccount(privateKey);
}

/** A chain that does not answer, answers as another chain, or has no registry where the config says. */
export function chainUnavailable(message: string, details: Record<string, unknown>): GdsException {
  return new GdsException(GdsErrorCode.UNAVAILABLE, message, details);
}

/** Checks that the endpoint answers and is the configured chain; throws a GdsException naming the URL otherwise. */
export async function assertChainReachable(clients: ChainClients): Promise<void> {
  const { rpcUrl, chainId } = clients.endpoint;
  let actual: number;
  try {
    actual = await clients.public.getChainId();
  } catch (error) {
    throw chainUnavailable(`the chain at ${rpcUrl} does not answer eth_chainId: ${firstLine(error)}`, { rpcUrl });
  }

  if (actual !== chainId) {
    throw new GdsException(GdsErrorCode.PRECONDITION_FAILED, `the chain at ${rpcUrl} has chain id ${actual}, CHAIN_ID is ${chainId}`, {
      rpcUrl,
      chainId,
      actual,
    });
  }
}

export interface RegistryCheck {
  /** Whether the code at the address is this build's registry (another build still works if its ABI matches). */
  isSameBuild: boolean;
  operator: Address;
}

/** Checks that the registry has code at `address` and reads its operator. */
export async function assertRegistryDeployed(clients: ChainClients, address: Address): Promise<RegistryCheck> {
  const { rpcUrl } = clients.endpoint;
  const code = await clients.public.getCode({ address });
  if (!code || code === '0x') {
    throw new GdsException(GdsErrorCode.PRECONDITION_FAILED, `no contract at ${address} on the chain at ${rpcUrl}`, {
      rpcUrl,
      address,
    });
  }

  const operator = await clients.public.readContract({ address, abi: registryAbi, functionName: 'operator' });

  return { isSameBuild: keccak256(code) === registryCodeHash, operator };
}

/** One line about an error: viem's short message, its details, and the system error code deep in the causes. */
export function firstLine(error: unknown): string {
  if (!isErrorLike(error)) return String(error);

  const parts = [((error as { shortMessage?: string }).shortMessage ?? error.message.split('\n')[0]).replace(/\.$/, '')];
  const details = (error as { details?: string }).details;
  if (details && !parts[0].includes(details)) parts.push(details);
  // Duck-typed: errors from Node's fetch are not `instanceof Error` inside other realms (jest's VM).
  let cause: unknown = error.cause;
  for (let depth = 0; isErrorLike(cause) && depth < 6; depth += 1) {
    const code = (cause as NodeJS.ErrnoException).code;
    const text = typeof code === 'string' ? code : cause.message.split('\n')[0];
    if (text && !parts.some((part) => part.includes(text))) parts.push(text);
    cause = cause.cause;
  }

  return parts.join(': ').replace(/\s+/g, ' ');
}

function isErrorLike(value: unknown): value is Error {
  return typeof value === 'object' && value !== null && typeof (value as Error).message === 'string';
}
