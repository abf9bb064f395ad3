// Where a subscriber stands in the chain's log, kept across restarts.
import { readFile } from 'node:fs/promises';

import type { Address, Hex } from 'viem';

import { writeFileAtomic } from './files.js';

/**
 * Every log at or before (blockNumber, logIndex) is handled. `logIndex` null: all of the block's logs are;
 * -1: none of them yet. `blockHash` is that block's hash, to notice a chain that lost or replaced the block;
 * null only before anything was handled.
 */
export interface ChainCursor {
  blockNumber: bigint;
  blockHash: Hex | null;
  logIndex: number | null;
}

export interface CursorStore {
  load(): Promise<ChainCursor | null>;
  save(cursor: ChainCursor): Promise<void>;
}

interface StoredCursor {
  chainId: number;
  contractAddress: string;
  blockNumber: string;
  blockHash: Hex | null;
  logIndex: number | null;
  savedAt: string;
}

/**
 * A cursor in a JSON file (the agent's state dir), replaced atomically and fsynced on every save. A cursor saved
 * for another chain id or registry address does not apply: load() then returns null (start from the deploy block).
 */
export class FileCursorStore implements CursorStore {
  constructor(
    private readonly path: string,
    private readonly scope: { chainId: number; contractAddress: Address },
  ) {}

  async load(): Promise<ChainCursor | null> {
    let stored: StoredCursor;
    try {
      stored = JSON.parse(await readFile(this.path, 'utf8')) as StoredCursor;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }

    const isSameScope =
      stored.chainId === this.scope.chainId && stored.contractAddress.toLowerCase() === this.scope.contractAddress.toLowerCase();
    if (!isSameScope) return null;

    return { blockNumber: BigInt(stored.blockNumber), blockHash: stored.blockHash, logIndex: stored.logIndex };
  }

  async save(cursor: ChainCursor): Promise<void> {
    const stored: StoredCursor = {
      chainId: this.scope.chainId,
      contractAddress: this.scope.contractAddress,
      blockNumber: cursor.blockNumber.toString(),
      blockHash: cursor.blockHash,
      logIndex: cursor.logIndex,
      savedAt: new Date().toISOString(),
    };
    await writeFileAtomic(this.path, `${JSON.stringify(stored)}\n`);
  }
}

/** A cursor kept in memory only (benches, tests, a subscriber that may replay from the deploy block). */
export class MemoryCursorStore implements CursorStore {
  private cursor: ChainCursor | null = null;

  async load(): Promise<ChainCursor | null> {
    return this.cursor;
  }

  async save(cursor: ChainCursor): Promise<void> {
    this.cursor = { ...cursor };
  }
}
