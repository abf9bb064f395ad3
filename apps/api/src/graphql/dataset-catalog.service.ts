import { Injectable } from '@nestjs/common';

import { PrismaService } from '../database/prisma.service.js';
import type { DataOwner, DatasetSummary } from './types/data-owner.types.js';

type DatasetRow = {
  name: string;
  contentHash: string;
  rowCount: bigint;
  schema: unknown;
  dataOwnerId: string;
  dataOwner: { name: string; status: string };
};

/**
 * What a customer may know about Data Owners and their datasets to choose one: names, hashes, row counts and who
 * holds a replica. Every signed-in customer sees the same catalogue.
 */
@Injectable()
export class DatasetCatalogService {
  constructor(private readonly prisma: PrismaService) {}

  async listDataOwners(): Promise<DataOwner[]> {
    const [owners, summaries] = await Promise.all([
      this.prisma.dataOwner.findMany({
        include: { datasets: { select: { name: true, contentHash: true } } },
        orderBy: { name: 'asc' },
      }),
      this.listDatasets(),
    ]);
    const summaryOf = new Map(summaries.map((summary) => [`${summary.name}/${summary.contentHash}`, summary]));

    return owners.map((owner) => ({
      id: owner.id,
      name: owner.name,
      status: owner.status,
      keyId: owner.keyId,
      lastSeenAt: owner.lastSeenAt,
      createdAt: owner.createdAt,
      datasets: owner.datasets.flatMap((dataset) => summaryOf.get(`${dataset.name}/${dataset.contentHash}`) ?? []),
    }));
  }

  /** One entry per (name, content hash), with every holder of it. */
  async listDatasets(): Promise<DatasetSummary[]> {
    const rows: DatasetRow[] = await this.prisma.dataset.findMany({
      include: { dataOwner: { select: { name: true, status: true } } },
      orderBy: [{ name: 'asc' }, { contentHash: 'asc' }, { dataOwnerId: 'asc' }],
    });
    const groups = new Map<string, DatasetRow[]>();
    for (const row of rows) {
      const key = `${row.name}/${row.contentHash}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }

    return [...groups.values()].map(toSummary);
  }
}

function toSummary(rows: DatasetRow[]): DatasetSummary {
  const [first] = rows;

  return {
    name: first.name,
    contentHash: first.contentHash,
    schema: first.schema ?? {},
    rowCount: first.rowCount,
    holders: rows.map((row) => ({
      dataOwnerId: row.dataOwnerId,
      dataOwnerName: row.dataOwner.name,
      rowCount: row.rowCount,
    })),
    activeHolders: rows.filter((row) => row.dataOwner.status === 'ACTIVE').length,
  };
}
