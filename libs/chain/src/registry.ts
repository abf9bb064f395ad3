// The GoodDataRegistry contract as compiled by scripts/compile-contracts.mjs (committed, checked by CI).
import { type Hex, keccak256, toEventSelector } from 'viem';

import { goodDataRegistryArtifact } from './generated/GoodDataRegistry.js';

export const registryAbi = goodDataRegistryArtifact.abi;
export const registryBytecode = goodDataRegistryArtifact.bytecode as Hex;
export const registryDeployedBytecode = goodDataRegistryArtifact.deployedBytecode as Hex;

/** keccak256 of the runtime code: what `eth_getCode` returns at a registry deployed from this build. */
export const registryCodeHash = keccak256(registryDeployedBytecode);

/** topic0 of the four announcement events, the only logs the subscriber asks the node for. */
export const REGISTRY_EVENT_TOPICS = {
  QUERY_SUBMITTED: toEventSelector('QuerySubmitted(bytes16,bytes16,bytes32,bytes32,bytes16[])'),
  EXECUTION_COMPLETED: toEventSelector('ExecutionCompleted(bytes16,bytes16,bytes32)'),
  QUERY_VERIFIED: toEventSelector('QueryVerified(bytes16,uint8,bytes32)'),
  PROGRESS_LOGGED: toEventSelector('ProgressLogged(bytes16,bytes16,bytes)'),
} as const;

/** Contract errors that mean "this was announced already": a re-sent transaction that did no harm. */
export const ALREADY_ANNOUNCED_ERRORS: ReadonlySet<string> = new Set([
  'QueryAlreadySubmitted',
  'ExecutionAlreadyCompleted',
  'QueryAlreadyVerified',
]);
