import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType } from './generated/gooddata.js';

export type * from './generated/index.js';
export type { ProtoGrpcType } from './generated/gooddata.js';

/** Folder holding the .proto files; the same files feed the Python stubs. */
export const PROTO_DIR = fileURLToPath(new URL('../', import.meta.url));

export const GOODDATA_PROTO = 'gooddata/v1/gooddata.proto';

/** Loader options; scripts/gen.mjs passes the same ones to the type generator, so types and runtime agree. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cached: ProtoGrpcType | undefined;

export function loadGoodData(): ProtoGrpcType {
  if (!cached) {
    const definition = protoLoader.loadSync(GOODDATA_PROTO, LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }

  return cached;
}

/** Full method path, as signed by Data Owners: "/gooddata.v1.GoodDataService/<Method>". */
export function methodPath(method: string): string {
  return `/gooddata.v1.GoodDataService/${method}`;
}
