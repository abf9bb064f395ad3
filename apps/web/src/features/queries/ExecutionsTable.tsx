'use client';

// One row per Data Owner: status, epoch progress, elapsed time (ticking while it runs), result hash or error.
import { ProgressBar, StatusBadge, useNow } from '@/components/ui';
import { elapsedMs, formatDuration, shortHash } from '@/lib/format';
import type { Execution } from '@/lib/graphql/types';

const ACTIVE = ['ASSIGNED', 'RUNNING'];

function progressText(execution: Execution): { value: number; max: number; text: string } {
  const { progress } = execution;
  if (!progress)
    return {
      value: execution.status === 'SUCCEEDED' ? 1 : 0,
      max: 1,
      text: execution.status === 'ASSIGNED' ? 'waiting' : '—',
    };

  return {
    value: progress.epoch,
    max: progress.totalEpochs,
    text: `epoch ${progress.epoch} of ${progress.totalEpochs} · loss ${progress.loss.toPrecision(4)}`,
  };
}

export function ExecutionsTable({ executions }: { executions: Execution[] }) {
  const now = useNow(executions.some((e) => ACTIVE.includes(e.status)));

  if (executions.length === 0) return <p className="muted">No Data Owner has been assigned yet.</p>;

  return (
    <table className="table stacked" aria-label="Data owner executions">
      <thead>
        <tr>
          <th scope="col">Data owner</th>
          <th scope="col">Status</th>
          <th scope="col">Progress</th>
          <th scope="col">Elapsed since assigned</th>
          <th scope="col">Result</th>
        </tr>
      </thead>
      <tbody>
        {executions.map((execution) => {
          const progress = progressText(execution);

          return (
            <tr key={execution.id} data-execution-id={execution.id} data-status={execution.status}>
              <th scope="row" data-label="Data owner">
                {execution.dataOwnerName}
              </th>
              <td data-label="Status">
                <StatusBadge status={execution.status} />
              </td>
              <td data-label="Progress" className="cell-progress">
                <ProgressBar
                  label={`Training progress of ${execution.dataOwnerName}`}
                  value={progress.value}
                  max={progress.max}
                  text={progress.text}
                />
              </td>
              <td data-label="Elapsed since assigned">{formatDuration(elapsedMs(execution, now))}</td>
              <td data-label="Result">
                <span>
                  {execution.error ? (
                    <span className="text-danger">
                      <strong>{execution.error.code}</strong>: {execution.error.message}
                    </span>
                  ) : execution.resultSha256 ? (
                    <code title={execution.resultSha256}>{shortHash(execution.resultSha256)}</code>
                  ) : (
                    <span className="muted">—</span>
                  )}
                  {execution.accepted === false && execution.rejectionReason && (
                    <span className="block text-danger small">Rejected: {execution.rejectionReason}</span>
                  )}
                </span>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
