// Chain configuration, parsed once from the environment. Nothing else in @gds/chain reads process.env.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Address, getAddress, type Hex, isAddress } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { z } from 'zod';

export const ChainMode = {
  /** A local anvil started and stopped by the service, state under the data folder (demo, tests). */
  EMBEDDED: 'embedded',
  /** Any EVM JSON-RPC endpoint, for example a Besu QBFT network run by the participants. */
  EXTERNAL: 'external',
  /** No chain: nothing is announced; agents use WatchAssignments. */
  OFF: 'off',
} as const;
export type ChainMode = (typeof ChainMode)[keyof typeof ChainMode];

/**
 * The keys of anvil's (and Hardhat's) default accounts, public knowledge. Embedded mode signs with the first by
 * default; anywhere else they are refused, since anyone can sign with them.
 */
export const DEV_PRIVATE_KEYS: readonly Hex[] = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
];

export const EMBEDDED_CHAIN_ID = 31337;
export const DEFAULT_ANVIL_PORT = 8545;

/** `<repo>/.data`, as scripts/lib/paths.mjs defines it (found from libs/chain/{src,dist}). */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../.data', import.meta.url));

export interface ChainConfig {
  mode: ChainMode;
  /** JSON-RPC over HTTP(S): every request goes here. */
  rpcUrl: string;
  /** JSON-RPC over WebSocket, for newHeads only (wakes subscribers); null: poll every `pollMs`. */
  wsUrl: string | null;
  chainId: number;
  /** Secret. The operator key that signs announcements; null for a reader (agents). */
  privateKey: Hex | null;
  /** The registry; null in embedded mode until `<dataDir>/chain.json` says where it was deployed. */
  contractAddress: Address | null;
  /** Where subscribers start (and rewind to after a chain reset). */
  deployBlock: bigint;
  /** Blocks on top of a log before it counts: 0 on QBFT (immediate finality) and on anvil. */
  confirmations: number;
  /** Head polling interval when there is no WebSocket URL. */
  pollMs: number;
  /** Timer that wakes a subscriber even when no head arrived (a dropped WebSocket). */
  backstopMs: number;
  /** Widest eth_getLogs block range asked for at once (providers cap it). */
  logRange: bigint;
  /** A sent transaction still not mined after this long is broadcast again (same bytes, same nonce). */
  resendAfterMs: number;
  /** Timeout of each JSON-RPC request. */
  requestTimeoutMs: number;
  /** Embedded mode: anvil's state file, pid file and chain.json live here. */
  dataDir: string;
  anvilPort: number;
  /** Embedded mode: seconds per block; 0 mines each transaction at once (automine). */
  anvilBlockTime: number;
}

/** Every variable that is missing or wrong, one line each. */
export class ChainConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid chain configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'ChainConfigError';
  }
}

export interface ParseChainConfigOptions {
  /** The API/worker sign; agents only read and need no key. */
  needsSigner?: boolean;
  /** False only to deploy the registry (`gds-chain deploy`). */
  needsContract?: boolean;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const url = (protocols: string[]) =>
  z
    .string()
    .url()
    .refine((value) => protocols.includes(new URL(value).protocol), `expected a ${protocols.join(' or ')} URL`);

const envSchema = z.object({
  CHAIN_MODE: z.enum([ChainMode.EMBEDDED, ChainMode.EXTERNAL, ChainMode.OFF]).default(ChainMode.OFF),
  CHAIN_RPC_URL: url(['http:', 'https:']).optional(),
  CHAIN_WS_URL: z.union([url(['ws:', 'wss:']), z.literal('none')]).optional(),
  CHAIN_ID: int(1).optional(),
  CHAIN_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x and 64 hex digits')
    .transform((value) => value.toLowerCase() as Hex)
    .optional(),
  CHAIN_CONTRACT_ADDRESS: z
    .string()
    .refine((value) => isAddress(value, { strict: false }), 'expected a 0x-prefixed 20-byte address')
    .transform((value) => getAddress(value))
    .optional(),
  CHAIN_DEPLOY_BLOCK: z.string().regex(/^\d+$/, 'expected a block number').transform(BigInt).default('0'),
  CHAIN_CONFIRMATIONS: int(0, 1000).default(0),
  CHAIN_POLL_MS: int(50, 600_000).default(1000),
  CHAIN_BACKSTOP_MS: int(100, 3_600_000).default(5000),
  CHAIN_LOG_RANGE: int(1, 1_000_000).default(2000),
  CHAIN_RESEND_AFTER_MS: int(100, 3_600_000).default(15_000),
  CHAIN_REQUEST_TIMEOUT_MS: int(100, 600_000).default(10_000),
  CHAIN_DATA_DIR: z.string().min(1).optional(),
  GDS_DATA_DIR: z.string().min(1).optional(),
  CHAIN_ANVIL_PORT: int(1, 65_535).default(DEFAULT_ANVIL_PORT),
  CHAIN_ANVIL_BLOCK_TIME: int(0, 3600).default(0),
});

/**
 * Parses the chain variables. Embedded mode needs none: anvil on 127.0.0.1:CHAIN_ANVIL_PORT, chain id 31337,
 * anvil's first account as operator. External mode needs CHAIN_RPC_URL, CHAIN_ID, CHAIN_CONTRACT_ADDRESS and,
 * for a signer, CHAIN_PRIVATE_KEY, which may not be one of the public development keys.
 * Throws ChainConfigError listing every bad variable.
 */
export function parseChainConfig(env: Record<string, string | undefined>, options: ParseChainConfigOptions = {}): ChainConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  const named = new Set(problems.map((problem) => problem.split(':')[0]));
  problems.push(...requirementProblems(present, options).filter((problem) => !named.has(problem.split(':')[0])));
  if (!parsed.success || problems.length > 0) throw new ChainConfigError(problems);

  const vars = parsed.data;
  const isEmbedded = vars.CHAIN_MODE === ChainMode.EMBEDDED;
  const anvilUrl = `127.0.0.1:${vars.CHAIN_ANVIL_PORT}`;
  const wsUrl = vars.CHAIN_WS_URL ?? (isEmbedded ? `ws://${anvilUrl}` : undefined);

  return {
    mode: vars.CHAIN_MODE,
    rpcUrl: vars.CHAIN_RPC_URL ?? `http://${anvilUrl}`,
    wsUrl: wsUrl === undefined || wsUrl === 'none' ? null : wsUrl,
    chainId: vars.CHAIN_ID ?? EMBEDDED_CHAIN_ID,
    privateKey: vars.CHAIN_PRIVATE_KEY ?? (isEmbedded ? DEV_PRIVATE_KEYS[0] : null),
    contractAddress: vars.CHAIN_CONTRACT_ADDRESS ?? null,
    deployBlock: vars.CHAIN_DEPLOY_BLOCK,
    confirmations: vars.CHAIN_CONFIRMATIONS,
    pollMs: vars.CHAIN_POLL_MS,
    backstopMs: vars.CHAIN_BACKSTOP_MS,
    logRange: BigInt(vars.CHAIN_LOG_RANGE),
    resendAfterMs: vars.CHAIN_RESEND_AFTER_MS,
    requestTimeoutMs: vars.CHAIN_REQUEST_TIMEOUT_MS,
    dataDir: vars.CHAIN_DATA_DIR ?? join(vars.GDS_DATA_DIR ?? DEFAULT_DATA_DIR, 'chain'),
    anvilPort: vars.CHAIN_ANVIL_PORT,
    anvilBlockTime: vars.CHAIN_ANVIL_BLOCK_TIME,
  };
}

/** What the chosen mode requires, checked on the raw variables so that it is listed beside format problems. */
function requirementProblems(present: Record<string, string | undefined>, options: ParseChainConfigOptions): string[] {
  if (present.CHAIN_MODE !== ChainMode.EXTERNAL) return [];

  const problems: string[] = [];
  if (!present.CHAIN_RPC_URL) problems.push('CHAIN_RPC_URL: required when CHAIN_MODE=external');
  if (!present.CHAIN_ID) problems.push('CHAIN_ID: required when CHAIN_MODE=external');
  if (options.needsContract !== false && !present.CHAIN_CONTRACT_ADDRESS) {
    problems.push('CHAIN_CONTRACT_ADDRESS: required when CHAIN_MODE=external');
  }
  if (options.needsSigner && !present.CHAIN_PRIVATE_KEY) problems.push('CHAIN_PRIVATE_KEY: required when CHAIN_MODE=external');
  if (present.CHAIN_PRIVATE_KEY && DEV_PRIVATE_KEYS.includes(present.CHAIN_PRIVATE_KEY.toLowerCase() as Hex)) {
    problems.push('CHAIN_PRIVATE_KEY: a public development key is only allowed with CHAIN_MODE=embedded');
  }

  return problems;
}

/** The configuration as it may be logged: the key replaced by the address it signs for. */
export function describeChainConfig(config: ChainConfig): Record<string, unknown> {
  const { privateKey, ...rest } = config;

  return {
    ...rest,
    deployBlock: config.deployBlock.toString(),
    logRange: config.logRange.toString(),
    signer: privateKey ? privateKeyToAddress(privateKey) : null,
  };
}

/** Where embedded mode records the registry it deployed: `{ address, deployBlock, chainId, ... }`. */
export function deploymentFile(dataDir: string): string {
  return join(dataDir, 'chain.json');
}

export function hasDeploymentFile(dataDir: string): boolean {
  return existsSync(deploymentFile(dataDir));
}
