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

/**
 * HTTP/2 flow-control window for model transfers, per stream and per connection. The 64 KiB default makes every
 * 64 KiB wait for a WINDOW_UPDATE, which caps a 3 MiB-chunk stream far below what loopback or a LAN carries.
 */
export const GRPC_FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** Channel options every GDS gRPC client uses. */
export const GRPC_CLIENT_OPTIONS = {
  'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_GRPC_MESSAGE_BYTES,
  'grpc-node.flow_control_window': GRPC_FLOW_CONTROL_WINDOW,
} as const;
