'use client';

// The customer's queries, newest first, with statuses that change live.
import Link from 'next/link';
import { useState } from 'react';

import { useLoad, usePolling, useSubscription } from '@/components/hooks';
import { useGraphql } from '@/components/Providers';
import { ErrorNotice, StatusBadge } from '@/components/ui';
import { formatDateTime, shortHash } from '@/lib/format';
import { QUERIES, QUERY_UPDATED_SUMMARY } from '@/lib/graphql/documents';
import { FINISHED_QUERY_STATUSES, QUERY_STATUSES, type QuerySummary, type QueryStatus } from '@/lib/graphql/types';

const PAGE_SIZE = 20;

interface QueryPage {
  edges: Array<{ cursor: string; node: QuerySummary }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

function upsert(page: QueryPage | undefined, node: QuerySummary, filter: QueryStatus | ''): QueryPage | undefined {
  if (!page) return page;
  const index = page.edges.findIndex((edge) => edge.node.id === node.id);
  if (index >= 0) {
    const edges = [...page.edges];
    edges[index] = { ...edges[index], node };

    return { ...page, edges };
  }
  if (filter && node.status !== filter) return page;

  return { ...page, edges: [{ cursor: node.id, node }, ...page.edges], totalCount: page.totalCount + 1 };
}

function doneCount(query: QuerySummary): string {
  const succeeded = query.executions.filter((e) => e.status === 'SUCCEEDED').length;

  return `${succeeded} of ${query.replication}`;
}

export function QueryList() {
  const request = useGraphql();
  const [status, setStatus] = useState<QueryStatus | ''>('');
  const [moreError, setMoreError] = useState<unknown>(null);

  const page = useLoad(
    (signal) =>
      request<{ queries: QueryPage }>(QUERIES, { first: PAGE_SIZE, status: status || null }, signal).then(
        (d) => d.queries,
      ),
    [request, status],
  );
  const live = useSubscription<{ queryUpdated: QuerySummary }>(
    QUERY_UPDATED_SUMMARY,
    {},
    {
      enabled: true,
      onData: ({ queryUpdated }) => page.setData((current) => upsert(current, queryUpdated, status)),
      onConnected: () => void page.reload(),
    },
  );
  const hasUnfinished = page.data?.edges.some((edge) => !FINISHED_QUERY_STATUSES.includes(edge.node.status)) ?? false;
  // While live, a slow poll still catches a change whose announcement was lost.
  usePolling(hasUnfinished, () => void page.reload(), live.isLive ? 15_000 : 5_000);

  const loadMore = async () => {
    const after = page.data?.pageInfo.endCursor;
    try {
      const more = await request<{ queries: QueryPage }>(QUERIES, { first: PAGE_SIZE, after, status: status || null });
      page.setData(
        (current) =>
          current && {
            ...more.queries,
            edges: [
              ...current.edges,
              ...more.queries.edges.filter((e) => !current.edges.some((c) => c.node.id === e.node.id)),
            ],
          },
      );
      setMoreError(null);
    } catch (caught) {
      setMoreError(caught);
    }
  };

  const edges = page.data?.edges ?? [];

  return (
    <div className="stack">
      <div className="page-head">
        <h1>Queries</h1>
        <Link className="button" href="/queries/new">
          New query
        </Link>
      </div>
      <div className="toolbar">
        <div className="field field-inline">
          <label htmlFor="status-filter">Status</label>
          <select
            id="status-filter"
            value={status}
            onChange={(event) => setStatus(event.target.value as QueryStatus | '')}
          >
            <option value="">All</option>
            {QUERY_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </div>
        <p className="muted small" role="status">
          {live.isLive ? 'Live: statuses update as they change.' : 'Not live: refreshing every few seconds.'}
          {page.data ? ` ${page.data.totalCount} ${page.data.totalCount === 1 ? 'query' : 'queries'}.` : ''}
        </p>
      </div>
      <ErrorNotice error={page.error} />
      {page.data && edges.length === 0 && (
        <div className="card empty">
          <p>{status ? `No ${status} queries.` : 'You have no queries yet.'}</p>
          {!status && (
            <Link className="button" href="/queries/new">
              Submit your first model
            </Link>
          )}
        </div>
      )}
      {edges.length > 0 && (
        <table className="table stacked" aria-label="Your queries">
          <thead>
            <tr>
              <th scope="col">Query</th>
              <th scope="col">Status</th>
              <th scope="col">Dataset</th>
              <th scope="col">Data owners done</th>
              <th scope="col">Verdict</th>
              <th scope="col">Submitted</th>
            </tr>
          </thead>
          <tbody>
            {edges.map(({ node }) => (
              <tr key={node.id} data-query-id={node.id}>
                <td data-label="Query">
                  <Link href={`/queries/${node.id}`}>{node.name || `Query ${node.id.slice(0, 8)}`}</Link>
                </td>
                <td data-label="Status">
                  <StatusBadge status={node.status} />
                </td>
                <td data-label="Dataset" title={node.datasetHash}>
                  {node.datasetName ?? shortHash(node.datasetHash)}
                </td>
                <td data-label="Data owners done">{doneCount(node)}</td>
                <td data-label="Verdict">
                  {node.report ? <StatusBadge status={node.report.verdict} /> : <span className="muted">—</span>}
                </td>
                <td data-label="Submitted">{formatDateTime(node.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorNotice error={moreError} />
      {page.data?.pageInfo.hasNextPage && (
        <button type="button" className="button button-quiet" onClick={() => void loadMore()}>
          Show more
        </button>
      )}
    </div>
  );
}
