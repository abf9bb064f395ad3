/** Largest chunk of model or result bytes in one gRPC message. */
export const MAX_CHUNK_BYTES = 3 * 1024 * 1024;

/** gRPC message limit on both sides: a chunk plus its envelope fits with room to spare. */
export const MAX_GRPC_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Nanoseconds since the Unix epoch, as the seed records timings. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}
