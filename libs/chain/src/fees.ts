import type { Chain, PublicClient, Transport } from 'viem';

export type FeeFields = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

/**
 * Fees for a transaction mined soon: EIP-1559 fields where the chain has a base fee (twice the base fee plus the
 * node's suggested tip, the usual headroom), a legacy gas price otherwise (Besu networks with free gas often have
 * no base fee; their gas price is 0).
 */
export async function currentFees(client: PublicClient<Transport, Chain>): Promise<FeeFields> {
  const block = await client.getBlock({ blockTag: 'latest' });
  if (block.baseFeePerGas === null || block.baseFeePerGas === undefined) {
    return { gasPrice: await client.getGasPrice() };
  }

  const tip = await client.estimateMaxPriorityFeePerGas();

  return { maxFeePerGas: block.baseFeePerGas * 2n + tip, maxPriorityFeePerGas: tip };
}
