import { Inject, Injectable } from '@nestjs/common';
import { DO_METADATA, keyIdOf, publicKeyFromRaw, verifyCallSignature } from '@gds/common';
import { Redis } from 'ioredis';

import { forbidden, invalidInput, unauthenticated } from '@gds/common';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { PrismaService } from '../database/prisma.service.js';
import { REDIS } from '../database/redis.provider.js';
import type { DataOwnerCaller } from './caller.js';

/** Metadata of a signed call, flattened to strings. */
export type CallMetadata = Record<string, string | undefined>;

export interface VerifiedKey {
  keyId: string;
  rawPublicKey: Buffer;
  queryId: string;
}

/**
 * Checks that a Data Owner call was signed just now, once, by the key it names. Replays are caught by remembering
 * every nonce in Redis for twice the accepted clock window.
 */
@Injectable()
export class DataOwnerAuthService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** For RegisterDataOwner: the key travels in the metadata and needs no prior registration. */
  async verifyNewKey(method: string, metadata: CallMetadata): Promise<VerifiedKey> {
    const rawKey = decodePublicKey(metadata[DO_METADATA.publicKey]);
    const keyId = keyIdOf(rawKey);
    if (metadata[DO_METADATA.keyId] !== keyId) {
      throw unauthenticated('x-gds-key-id does not match x-gds-public-key');
    }

    return this.verify(method, metadata, rawKey);
  }

  /** For every other Data Owner call: the key must be registered and its owner active. */
  async authenticate(method: string, metadata: CallMetadata): Promise<DataOwnerCaller> {
    const keyId = metadata[DO_METADATA.keyId];
    if (!keyId) {
      throw unauthenticated('missing x-gds-key-id');
    }
    const owner = await this.prisma.dataOwner.findUnique({ where: { keyId } });
    if (!owner) {
      throw unauthenticated('unknown Data Owner key');
    }

    const verified = await this.verify(method, metadata, Buffer.from(owner.publicKey));
    if (owner.status !== 'ACTIVE') {
      throw forbidden(`Data Owner ${owner.id} is ${owner.status.toLowerCase()}`);
    }

    return { kind: 'data-owner', dataOwnerId: owner.id, keyId, queryId: verified.queryId };
  }

  private async verify(method: string, metadata: CallMetadata, rawKey: Buffer): Promise<VerifiedKey> {
    const keyId = metadata[DO_METADATA.keyId] ?? '';
    const queryId = metadata[DO_METADATA.queryId] ?? '';
    const timestamp = metadata[DO_METADATA.timestamp] ?? '';
    const nonce = metadata[DO_METADATA.nonce] ?? '';
    const signature = metadata[DO_METADATA.signature] ?? '';
    if (!/^\d{1,16}$/.test(timestamp) || !/^[0-9a-f]{32}$/.test(nonce) || !signature) {
      throw unauthenticated('missing or malformed signature metadata');
    }

    const skew = Math.abs(Date.now() - Number(timestamp));
    if (skew > this.config.signatureWindowMs) {
      throw unauthenticated(`stale signature: timestamp is ${skew} ms away from the server clock`);
    }
    const fields = { method, keyId, queryId, timestamp, nonce };
    if (!verifyCallSignature(publicKeyFromRaw(rawKey), fields, signature)) {
      throw unauthenticated('bad signature');
    }

    const isFirstUse = await this.redis.set(`gds:nonce:${keyId}:${nonce}`, '1', 'PX', this.config.signatureWindowMs * 2, 'NX');
    if (isFirstUse !== 'OK') {
      throw unauthenticated('replayed signature: nonce already used');
    }

    return { keyId, rawPublicKey: rawKey, queryId };
  }
}

function decodePublicKey(value: string | undefined): Buffer {
  const raw = Buffer.from(value ?? '', 'base64');
  if (raw.length !== 32) {
    throw invalidInput('x-gds-public-key must be the base64 of a 32-byte Ed25519 public key');
  }

  return raw;
}
