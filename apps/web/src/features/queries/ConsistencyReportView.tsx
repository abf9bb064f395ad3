// The consistency check's report: the verdict, each Data Owner's distance to the canonical result, and the
// outliers named with their reasons.
import { Hash, StatusBadge } from '@/components/ui';
import { formatDateTime, formatDistance, shortHash } from '@/lib/format';
import type { ConsistencyReport, QueryStatus } from '@/lib/graphql/types';

export function ConsistencyReportView({
  report,
  status,
  names,
}: {
  report: ConsistencyReport | null;
  status: QueryStatus;
  names: Map<string, string>;
}) {
  if (!report) {
    const waiting =
      status === 'VERIFYING'
        ? 'Checking that the results agree…'
        : status === 'FAILED' || status === 'CANCELLED'
          ? 'No report: the query ended before the results could be compared.'
          : 'The report appears once the Data Owners have returned their results.';

    return <p className="muted">{waiting}</p>;
  }

  const nameOf = (id: string) => names.get(id) ?? shortHash(id, 8);
  const entries = [...report.entries].sort((a, b) => nameOf(a.dataOwnerId).localeCompare(nameOf(b.dataOwnerId)));
  const outliers = entries.filter((entry) => !entry.accepted);

  return (
    <div className="stack-tight">
      <p className="verdict" data-testid="verdict">
        Verdict: <StatusBadge status={report.verdict} />{' '}
        <span className="muted small">
          quorum {report.quorum}, tolerance {report.tolerance}, checked {formatDateTime(report.verifiedAt)}
        </span>
      </p>
      {report.canonicalSha256 && (
        <p>
          Canonical result: <Hash value={report.canonicalSha256} label="canonical result SHA-256" />
        </p>
      )}
      <p data-testid="outliers" className={outliers.length ? 'text-danger' : undefined}>
        {outliers.length === 0
          ? 'No outliers: every result agrees.'
          : `Outliers: ${outliers.map((entry) => `${nameOf(entry.dataOwnerId)} (${entry.reason})`).join('; ')}`}
      </p>
      <table className="table stacked" aria-label="Distance of each result to the canonical one">
        <thead>
          <tr>
            <th scope="col">Data owner</th>
            <th scope="col">Accepted</th>
            <th scope="col">Max abs. difference</th>
            <th scope="col">Relative L2</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.executionId}>
              <th scope="row" data-label="Data owner">
                <span>
                  {nameOf(entry.dataOwnerId)}
                  {entry.executionId === report.canonicalExecutionId && (
                    <span className="muted small"> (canonical)</span>
                  )}
                </span>
              </th>
              <td data-label="Accepted">{entry.accepted ? 'yes' : <strong className="text-danger">no</strong>}</td>
              <td data-label="Max abs. difference">{formatDistance(entry.maxAbsDiff)}</td>
              <td data-label="Relative L2">{formatDistance(entry.relativeL2)}</td>
              <td data-label="Reason">{entry.reason || <span className="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
