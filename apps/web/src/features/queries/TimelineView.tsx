// What happened to a query, service events and chain transactions in one list, oldest first.
import { CopyButton } from '@/components/ui';
import { formatDateTime, shortHash } from '@/lib/format';
import type { TimelineEntry } from '@/lib/graphql/types';

export function TimelineView({ entries, names }: { entries: TimelineEntry[]; names: Map<string, string> }) {
  if (entries.length === 0) return <p className="muted">Nothing yet.</p>;

  return (
    <ol className="timeline">
      {entries.map((entry, i) => (
        <li key={`${entry.at}-${entry.kind}-${i}`} className={`timeline-entry timeline-${entry.source}`}>
          <time dateTime={entry.at} className="muted small">
            {formatDateTime(entry.at)}
          </time>
          <span className="timeline-kind">
            <span className="source">{entry.source}</span> <code>{entry.kind}</code>
            {entry.dataOwnerId && <span> · {names.get(entry.dataOwnerId) ?? shortHash(entry.dataOwnerId, 8)}</span>}
            {entry.status && <span className="muted"> · {entry.status}</span>}
          </span>
          {entry.txHash && (
            <span className="timeline-tx small">
              tx <code title={entry.txHash}>{shortHash(entry.txHash)}</code>
              {entry.blockNumber && <span className="muted"> in block {entry.blockNumber}</span>}
              <CopyButton text={entry.txHash} label={`Copy transaction hash of ${entry.kind}`} />
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}
