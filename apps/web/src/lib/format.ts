// Formatting for people: sizes, durations, rates, timestamps and hashes.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 -> "1.5 KiB"; accepts the contract's BigInt strings. */
export function formatBytes(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  let size = Number(value);
  let unit = 0;
  while (size >= 1024 && unit < UNITS.length - 1) {
    size /= 1024;
    unit += 1;
  }

  return `${unit === 0 ? size : size.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2)} ${UNITS[unit]}`;
}

/** Decimal megabytes per second, as network tools report them. */
export function formatRate(bytes: number, milliseconds: number): string {
  if (milliseconds <= 0) return '—';

  return `${(bytes / 1e6 / (milliseconds / 1000)).toFixed(1)} MB/s`;
}

/** 65_000 -> "1 min 5 s"; 800 -> "0.8 s". */
export function formatDuration(milliseconds: number | null | undefined): string {
  if (milliseconds === null || milliseconds === undefined || !Number.isFinite(milliseconds)) return '—';
  if (milliseconds < 10_000) return `${(milliseconds / 1000).toFixed(1)} s`;
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;

  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Nanoseconds since the epoch (a BigInt string) to milliseconds, or null. */
export function nsToMs(value: string | null | undefined): number | null {
  if (!value) return null;

  return Number(BigInt(value) / 1_000_000n);
}

/**
 * Wall time of an execution as the customer waits for it: from assignment to finish, or to `now` while it runs.
 * startedAt..finishedAt covers only part of that as agents report it (seen: 60 ms for a run of several seconds).
 */
export function elapsedMs(
  execution: { assignedAtNs: string; finishedAtNs: string | null },
  now: number,
): number | null {
  const start = nsToMs(execution.assignedAtNs);
  if (start === null) return null;
  const end = nsToMs(execution.finishedAtNs) ?? now;

  return Math.max(0, end - start);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;

  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** "ab12cd…ef90" for a long hex string; the full value goes in a title or beside a copy button. */
export function shortHash(hash: string | null | undefined, keep = 10): string {
  if (!hash) return '—';
  if (hash.length <= keep * 2 + 1) return hash;

  return `${hash.slice(0, keep)}…${hash.slice(-6)}`;
}

/** A number in a report: exponent notation for small distances, "—" when not comparable. */
export function formatDistance(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value === 0) return '0';

  return Math.abs(value) < 1e-3 || Math.abs(value) >= 1e4 ? value.toExponential(2) : value.toPrecision(4);
}

/** An axis label: as few digits as the tick needs ("0.25", not "0.2500"). */
export function formatTick(value: number): string {
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1);

  return String(Number(value.toPrecision(4)));
}
