import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '@gds/proto';

import type { CheckRequest } from '../generated/index.js';

export type * from '../generated/index.js';

/** The worker's contract with its sidecar, in libs/proto beside the public one. */
export const SIDECAR_PROTO = 'gooddata/sidecar/v1/consistency.proto';
const SERVICE = 'gooddata.sidecar.v1.ConsistencySidecar';
const CHUNK_TAG = 0x1a; // CheckRequest field 3 (chunk), wire type 2 (length-delimited)

/**
 * A chunk message whose bytes are still in pieces (the blob store's 1 MiB rows): encoded straight into the wire
 * message, one copy, where a CheckRequest{chunk} would be joined first and then copied again by protobufjs.
 */
export interface ChunkPieces {
  chunkPieces: Buffer[];
}

export type CheckMessage = CheckRequest | ChunkPieces;

let cached: grpc.ServiceClientConstructor | undefined;

/** The sidecar's client class, with CheckRequest chunks encoded by encodeChunk. */
export function sidecarClientClass(): grpc.ServiceClientConstructor {
  if (!cached) {
    const definition = protoLoader.loadSync(SIDECAR_PROTO, LOADER_OPTIONS);
    const service = definition[SERVICE] as grpc.ServiceDefinition;
    const check = service.Check as grpc.MethodDefinition<CheckMessage, unknown>;
    const serialize = check.requestSerialize;
    const serializeCheck = (message: CheckMessage) =>
      'chunkPieces' in message ? encodeChunk(message.chunkPieces) : serialize(message);
    cached = grpc.makeGenericClientConstructor(
      {
        ...service,
        Check: { ...check, requestSerialize: serializeCheck },
      },
      'ConsistencySidecar',
    );
  }

  return cached;
}

/** The protobuf encoding of CheckRequest{chunk: concat(pieces)}: the tag, the length as a varint, the bytes. */
export function encodeChunk(pieces: Buffer[]): Buffer {
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const prefix = [CHUNK_TAG];
  for (let rest = length; ; rest = Math.floor(rest / 128)) {
    prefix.push(rest >= 128 ? (rest % 128) | 0x80 : rest);
    if (rest < 128) break;
  }

  const message = Buffer.allocUnsafe(prefix.length + length);
  Buffer.from(prefix).copy(message);
  let at = prefix.length;
  for (const piece of pieces) {
    at += piece.copy(message, at);
  }

  return message;
}
