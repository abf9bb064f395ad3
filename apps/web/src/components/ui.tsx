'use client';

// Small building blocks shared by the pages: status badges, progress, hashes, copy buttons, error notices.
import { useEffect, useState } from 'react';

import { describeError } from '@/lib/errors';
import { formatBytes } from '@/lib/format';

const BADGE_TONE: Record<string, string> = {
  PENDING: 'neutral',
  ASSIGNED: 'neutral',
  RUNNING: 'info',
  VERIFYING: 'info',
  COMPLETED: 'success',
  SUCCEEDED: 'success',
  CONSISTENT: 'success',
  FAILED: 'danger',
  INCONSISTENT: 'danger',
  CANCELLED: 'warning',
  ACTIVE: 'success',
};

/** A status word from the contract's enums; the word is always shown, colour only repeats it. */
export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return (
    <span className={`badge badge-${BADGE_TONE[status] ?? 'neutral'}`} data-status={status}>
      {label ? <span className="visually-hidden">{label}: </span> : null}
      {status}
    </span>
  );
}

/** A labelled progress bar with its value in words beside it. */
export function ProgressBar({ label, value, max, text }: { label: string; value: number; max: number; text?: string }) {
  const percent = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;

  return (
    <div className="progress">
      <progress value={max > 0 ? Math.min(value, max) : 0} max={max > 0 ? max : 1} aria-label={label} />
      <span className="progress-text">{text ?? `${percent} %`}</span>
    </div>
  );
}

/** A full hash in monospace that wraps on narrow screens, with a copy button. */
export function Hash({ value, label }: { value: string | null | undefined; label: string }) {
  if (!value) return <span className="muted">—</span>;

  return (
    <span className="hash">
      <code>{value}</code>
      <CopyButton text={value} label={`Copy ${label}`} />
    </span>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2_000);

    return () => clearTimeout(timer);
  }, [copied]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      // Clipboard access can be refused (permissions, insecure origin); the value stays selectable on screen.
    }
  };

  return (
    <button type="button" className="button button-small button-quiet" onClick={() => void copy()} aria-label={label}>
      <span aria-hidden="true">{copied ? 'Copied' : 'Copy'}</span>
      <span className="visually-hidden" aria-live="polite">
        {copied ? 'Copied' : ''}
      </span>
    </button>
  );
}

export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;

  return (
    <p role="alert" className="notice notice-error">
      {describeError(error)}
    </p>
  );
}

export function Bytes({ value }: { value: string | number | null | undefined }) {
  return <span title={value === null || value === undefined ? undefined : `${value} bytes`}>{formatBytes(value)}</span>;
}

/** Re-renders every `intervalMs` while `active`, for running clocks. */
export function useNow(active: boolean, intervalMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), intervalMs);

    return () => clearInterval(timer);
  }, [active, intervalMs]);

  return now;
}
