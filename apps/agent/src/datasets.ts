import { stat } from 'node:fs/promises';

import type { Logger } from '@gds/common';
import type { Dataset } from '@gds/proto';

import type { DatasetConfig } from './config.js';
import { digestFile } from './files.js';

export interface DatasetDescription {
  config: DatasetConfig;
  /** Hex SHA-256 of the file's bytes. */
  contentHash: string;
  /** Lines minus the header line. */
  rowCount: number;
  /** `{"features":[...],"label":"y"}`, as announced to GDS. */
  schemaJson: string;
}

/** Hashes one dataset file and counts its rows, in a single streamed pass. */
export async function describeDataset(config: DatasetConfig): Promise<DatasetDescription> {
  const digest = await digestFile(config.path);

  return {
    config,
    contentHash: digest.sha256,
    rowCount: Math.max(0, digest.lineCount - 1),
    schemaJson: JSON.stringify({ features: config.features, label: config.label }),
  };
}

export function toProtoDataset(description: DatasetDescription): Dataset {
  return {
    name: description.config.name,
    contentHash: description.contentHash,
    rowCount: String(description.rowCount),
    schemaJson: description.schemaJson,
  };
}

interface CatalogEntry {
  description: DatasetDescription;
  size: number;
  mtimeMs: number;
}

/**
 * The configured datasets by content hash. Hashes are computed once and recomputed only when a file's size or
 * modification time changed, so an assignment never trains on data that differs from the hash it was made for.
 */
export class DatasetCatalog {
  private readonly entries = new Map<string, CatalogEntry>();

  constructor(
    private readonly datasets: DatasetConfig[],
    private readonly logger: Logger,
  ) {}

  /** The dataset whose current content hash is `contentHash`, if any. */
  async findByHash(contentHash: string): Promise<DatasetDescription | undefined> {
    for (const dataset of this.datasets) {
      const description = await this.describe(dataset);
      if (description?.contentHash === contentHash) {
        return description;
      }
    }

    return undefined;
  }

  private async describe(dataset: DatasetConfig): Promise<DatasetDescription | undefined> {
    const stats = await stat(dataset.path).catch(() => undefined);
    if (!stats) {
      this.logger.warn({ dataset: dataset.name, path: dataset.path }, 'dataset.missing');
      return undefined;
    }

    const cached = this.entries.get(dataset.name);
    if (cached && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs) {
      return cached.description;
    }

    const description = await describeDataset(dataset);
    this.entries.set(dataset.name, { description, size: stats.size, mtimeMs: stats.mtimeMs });
    this.logger.debug({ dataset: dataset.name, contentHash: description.contentHash }, 'dataset.hashed');

    return description;
  }
}
