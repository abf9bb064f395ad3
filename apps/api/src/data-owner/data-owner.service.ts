import { Inject, Injectable } from '@nestjs/common';
import { isSha256Hex } from '@gds/common';

import type { VerifiedKey } from '../auth/data-owner-auth.service.js';
import { forbidden, invalidInput, unauthenticated } from '@gds/common';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { PrismaService } from '../database/prisma.service.js';

export interface DatasetInput {
  name: string;
  contentHash: string;
  rowCount: bigint;
  schemaJson: string;
}

export interface RegisteredDataOwner {
  dataOwnerId: string;
  keyId: string;
  datasets: DatasetInput[];
}

@Injectable()
export class DataOwnerService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Registers a key, or refreshes an already registered one: the name and the dataset list are replaced by what
   * the Data Owner declares now.
   */
  async register(key: VerifiedKey, name: string, datasets: DatasetInput[], enrollmentToken: string): Promise<RegisteredDataOwner> {
    if (this.config.enrollmentToken && enrollmentToken !== this.config.enrollmentToken) {
      throw unauthenticated('a valid enrollment token is required to register');
    }
    validateRegistration(name, datasets);

    const owner = await this.prisma.$transaction(async (tx) => {
      const existing = await tx.dataOwner.findUnique({ where: { keyId: key.keyId } });
      if (existing?.status === 'SUSPENDED') {
        throw forbidden(`Data Owner ${existing.id} is suspended`);
      }
      const saved = await tx.dataOwner.upsert({
        where: { keyId: key.keyId },
        create: { name, keyId: key.keyId, publicKey: new Uint8Array(key.rawPublicKey), lastSeenAt: new Date() },
        update: { name, lastSeenAt: new Date() },
      });

      await tx.dataset.deleteMany({ where: { dataOwnerId: saved.id, name: { notIn: datasets.map((d) => d.name) } } });
      for (const dataset of datasets) {
        const fields = {
          contentHash: dataset.contentHash,
          rowCount: dataset.rowCount,
          schema: JSON.parse(dataset.schemaJson || '{}'),
        };
        await tx.dataset.upsert({
          where: { dataOwnerId_name: { dataOwnerId: saved.id, name: dataset.name } },
          create: { dataOwnerId: saved.id, name: dataset.name, ...fields },
          update: fields,
        });
      }

      return saved;
    });

    return { dataOwnerId: owner.id, keyId: owner.keyId, datasets };
  }

  async touch(dataOwnerId: string): Promise<void> {
    await this.prisma.dataOwner.update({ where: { id: dataOwnerId }, data: { lastSeenAt: new Date() } });
  }
}

function validateRegistration(name: string, datasets: DatasetInput[]): void {
  if (!name.trim() || name.length > 200) {
    throw invalidInput('name must be 1 to 200 characters');
  }
  const names = new Set<string>();
  for (const dataset of datasets) {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(dataset.name)) {
      throw invalidInput(`dataset name "${dataset.name}" must be 1 to 100 of A-Z a-z 0-9 . _ -`);
    }
    if (names.has(dataset.name)) {
      throw invalidInput(`dataset "${dataset.name}" is listed twice`);
    }
    names.add(dataset.name);
    if (!isSha256Hex(dataset.contentHash)) {
      throw invalidInput(`dataset "${dataset.name}": contentHash must be 64 lowercase hex characters`);
    }
    if (dataset.schemaJson && !isJsonObject(dataset.schemaJson)) {
      throw invalidInput(`dataset "${dataset.name}": schemaJson must be a JSON object`);
    }
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
