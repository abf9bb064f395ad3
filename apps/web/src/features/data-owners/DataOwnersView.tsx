'use client';

// Who can train a query, and on what: the registered Data Owners and the datasets they hold.
import { useLoad } from '@/components/hooks';
import { useGraphql } from '@/components/Providers';
import { ErrorNotice, StatusBadge } from '@/components/ui';
import { formatDateTime, shortHash } from '@/lib/format';
import { DATA_OWNERS_AND_DATASETS } from '@/lib/graphql/documents';
import type { DataOwner, DatasetSummary } from '@/lib/graphql/types';

function schemaText(schema: unknown): string {
  if (schema && typeof schema === 'object' && 'features' in schema) {
    const { features, label } = schema as { features?: unknown; label?: unknown };
    if (Array.isArray(features)) return `${features.join(', ')}${label ? ` → ${String(label)}` : ''}`;
  }

  return schema === null || schema === undefined ? '—' : JSON.stringify(schema);
}

export function DataOwnersView() {
  const request = useGraphql();
  const loaded = useLoad(
    (signal) => request<{ dataOwners: DataOwner[]; datasets: DatasetSummary[] }>(DATA_OWNERS_AND_DATASETS, {}, signal),
    [request],
  );

  return (
    <div className="stack">
      <h1>Data owners and datasets</h1>
      <p>
        Data Owners run the GDS agent next to their data. Those holding the same dataset (same content hash) train a
        query independently; their results must agree.
      </p>
      <ErrorNotice error={loaded.error} />
      {!loaded.data && !loaded.error && (
        <p role="status" className="muted">
          Loading…
        </p>
      )}

      {loaded.data && (
        <>
          <section className="card" aria-labelledby="datasets-heading">
            <h2 id="datasets-heading">Datasets</h2>
            {loaded.data.datasets.length === 0 ? (
              <p className="muted">No dataset is registered yet.</p>
            ) : (
              <table className="table stacked" aria-label="Datasets">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Content hash</th>
                    <th scope="col">Columns</th>
                    <th scope="col">Rows</th>
                    <th scope="col">Holders (active)</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.datasets.map((dataset) => (
                    <tr key={dataset.contentHash}>
                      <th scope="row" data-label="Name">
                        {dataset.name}
                      </th>
                      <td data-label="Content hash">
                        <code title={dataset.contentHash}>{shortHash(dataset.contentHash)}</code>
                      </td>
                      <td data-label="Columns">{schemaText(dataset.schema)}</td>
                      <td data-label="Rows">{dataset.rowCount}</td>
                      <td data-label="Holders (active)">
                        {dataset.holders.map((h) => h.dataOwnerName).join(', ') || '—'} ({dataset.activeHolders})
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <section className="card" aria-labelledby="owners-heading">
            <h2 id="owners-heading">Data owners</h2>
            {loaded.data.dataOwners.length === 0 ? (
              <p className="muted">No Data Owner is registered yet.</p>
            ) : (
              <table className="table stacked" aria-label="Data owners">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Status</th>
                    <th scope="col">Key id</th>
                    <th scope="col">Last seen</th>
                    <th scope="col">Datasets</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.dataOwners.map((owner) => (
                    <tr key={owner.id}>
                      <th scope="row" data-label="Name">
                        {owner.name}
                      </th>
                      <td data-label="Status">
                        <StatusBadge status={owner.status} />
                      </td>
                      <td data-label="Key id">
                        <code title={owner.keyId}>{shortHash(owner.keyId, 8)}</code>
                      </td>
                      <td data-label="Last seen">{owner.lastSeenAt ? formatDateTime(owner.lastSeenAt) : 'never'}</td>
                      <td data-label="Datasets">{owner.datasets.map((d) => d.name).join(', ') || '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </div>
  );
}
