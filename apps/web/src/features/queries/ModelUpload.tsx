'use client';

// Step 1 of a new query: pick or drop the model file; the browser checks its first bytes, hashes it in slices,
// then streams it to the API (progress, cancel), and shows its own SHA-256 beside the one the server computed.
import { type DragEvent, useEffect, useRef, useState } from 'react';

import { useConfig, useSession } from '@/components/Providers';
import { ErrorNotice, Hash, ProgressBar } from '@/components/ui';
import { ApiError } from '@/lib/errors';
import { formatBytes, formatDuration, formatRate } from '@/lib/format';
import type { ModelUploadInfo } from '@/lib/graphql/types';
import { checkModelFile, HEAD_BYTES, MODEL_FILE_ACCEPT } from '@/lib/model-file';
import { hashFile, type PhaseProgress, type UploadTimings, uploadModelFile } from '@/lib/upload';

type Phase =
  | { kind: 'idle' }
  | { kind: 'rejected'; message: string }
  | { kind: 'hashing'; progress: PhaseProgress }
  | { kind: 'uploading'; progress: PhaseProgress; localSha256: string; hashMs: number }
  | { kind: 'uploaded'; upload: ModelUploadInfo; localSha256: string; timings: UploadTimings }
  | { kind: 'failed'; error: unknown; localSha256?: string }
  | { kind: 'cancelled' };

const isBusy = (phase: Phase) => phase.kind === 'hashing' || phase.kind === 'uploading';

export function ModelUpload({ onChange }: { onChange(upload: ModelUploadInfo | null): void }) {
  const { apiUrl, maxModelBytes } = useConfig();
  const { setMe } = useSession();
  const [file, setFile] = useState<{ name: string; size: number; description?: string } | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [isDragging, setDragging] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => () => controller.current?.abort(), []);

  // Leaving the page would abort the upload: ask first.
  useEffect(() => {
    if (!isBusy(phase)) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);

    return () => window.removeEventListener('beforeunload', warn);
  }, [phase]);

  const accept = async (picked: File) => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    onChange(null);
    setFile({ name: picked.name, size: picked.size });

    const head = new Uint8Array(await picked.slice(0, HEAD_BYTES).arrayBuffer());
    const check = checkModelFile(picked.size, head, maxModelBytes, formatBytes);
    if (!check.ok) {
      setPhase({ kind: 'rejected', message: check.message });
      return;
    }
    setFile({ name: picked.name, size: picked.size, description: check.message });

    let localSha256: string | undefined;
    try {
      setPhase({ kind: 'hashing', progress: { done: 0, total: picked.size } });
      const hashStart = performance.now();
      localSha256 = await hashFile(picked, {
        signal: current.signal,
        onProgress: (progress) => setPhase({ kind: 'hashing', progress }),
      });
      const hashMs = performance.now() - hashStart;
      const sha = localSha256;

      setPhase({ kind: 'uploading', progress: { done: 0, total: picked.size }, localSha256: sha, hashMs });
      const { upload, sendMs, uploadMs } = await uploadModelFile(apiUrl, picked, sha, {
        signal: current.signal,
        onProgress: (progress) => setPhase({ kind: 'uploading', progress, localSha256: sha, hashMs }),
      });

      setPhase({
        kind: 'uploaded',
        upload,
        localSha256: sha,
        timings: { bytes: picked.size, hashMs, uploadMs, sendMs },
      });
      onChange(upload);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'ABORTED') {
        setPhase({ kind: 'cancelled' });
        return;
      }
      if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') setMe(null);
      setPhase({ kind: 'failed', error, localSha256 });
    }
  };

  const pick = (files: FileList | null) => {
    const picked = files?.[0];
    if (picked) void accept(picked);
  };

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    pick(event.dataTransfer.files);
  };

  const cancel = () => controller.current?.abort();

  const reset = () => {
    controller.current?.abort();
    setFile(null);
    setPhase({ kind: 'idle' });
    onChange(null);
    if (input.current) input.current.value = '';
    input.current?.focus();
  };

  return (
    <section className="card stack" aria-labelledby="model-heading">
      <h2 id="model-heading">1. Your model</h2>
      <div
        className={`dropzone${isDragging ? ' is-dragging' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <input
          ref={input}
          id="model-file"
          name="model-file"
          type="file"
          className="visually-hidden"
          accept={MODEL_FILE_ACCEPT}
          aria-describedby="model-file-hint"
          disabled={isBusy(phase)}
          onChange={(event) => pick(event.target.files)}
        />
        <label htmlFor="model-file" className="dropzone-label">
          <span className="dropzone-title">Model file</span>
          <span>
            Drop it here, or <span className="link-like">choose a file</span>
          </span>
        </label>
        <p id="model-file-hint" className="hint">
          A <code>torch.save</code> file (.pt), a pickle (<code>pickle.dumps</code>) or TorchScript, up to{' '}
          {formatBytes(maxModelBytes)}. GDS stores the bytes as they are and never loads them.
        </p>
      </div>

      {file && (
        <p className="file-line">
          <strong>{file.name}</strong> · {formatBytes(file.size)}
          {file.description ? <span className="muted"> · {file.description}</span> : null}
        </p>
      )}

      <UploadPhase phase={phase} onCancel={cancel} />

      {(phase.kind === 'uploaded' ||
        phase.kind === 'failed' ||
        phase.kind === 'cancelled' ||
        phase.kind === 'rejected') && (
        <p>
          <button type="button" className="button button-quiet" onClick={reset}>
            Choose another file
          </button>
        </p>
      )}
    </section>
  );
}

function UploadPhase({ phase, onCancel }: { phase: Phase; onCancel(): void }) {
  switch (phase.kind) {
    case 'idle':
      return null;
    case 'rejected':
      return (
        <p role="alert" className="notice notice-error" data-testid="upload-error">
          {phase.message}
        </p>
      );
    case 'cancelled':
      return (
        <p role="status" className="notice">
          Upload cancelled. Nothing was stored.
        </p>
      );
    case 'failed':
      return (
        <div data-testid="upload-error">
          <ErrorNotice error={phase.error} />
        </div>
      );
    case 'hashing':
    case 'uploading': {
      const isHashing = phase.kind === 'hashing';
      const { done, total } = phase.progress;

      return (
        <div className="stack-tight" role="group" aria-label="Upload progress">
          <p className="phase-title" aria-live="polite">
            {isHashing ? 'Step 1 of 2: computing SHA-256 in your browser…' : 'Step 2 of 2: uploading…'}
          </p>
          {!isHashing && done >= total && (
            <p className="small muted" role="status">
              Sent. The server is storing the last bytes and checking their SHA-256…
            </p>
          )}
          <ProgressBar
            label={isHashing ? 'Hashing progress' : 'Upload progress'}
            value={done}
            max={total}
            text={`${formatBytes(done)} of ${formatBytes(total)}`}
          />
          {!isHashing && (
            <p className="small">
              Your SHA-256: <code className="break">{phase.localSha256}</code>
            </p>
          )}
          <p>
            <button type="button" className="button button-danger" onClick={onCancel}>
              Cancel upload
            </button>
          </p>
        </div>
      );
    }
    case 'uploaded': {
      const { upload, localSha256, timings } = phase;
      const matches = upload.sha256 === localSha256;
      // A rate over a few kilobytes says nothing.
      const showRates = timings.bytes >= 1024 * 1024;

      return (
        <div className="stack-tight">
          <p role="status" className={`notice ${matches ? 'notice-success' : 'notice-error'}`}>
            {matches
              ? `Uploaded. The server's SHA-256 matches yours; it reads the file as ${upload.modelFormat}.`
              : 'The server computed a different SHA-256 than your browser. Upload the file again.'}
          </p>
          <dl className="facts">
            <dt>Your SHA-256</dt>
            <dd data-testid="local-sha256">
              <Hash value={localSha256} label="your SHA-256" />
            </dd>
            <dt>Server&apos;s SHA-256</dt>
            <dd data-testid="server-sha256">
              <Hash value={upload.sha256} label="the server's SHA-256" />
            </dd>
            <dt>Timing</dt>
            <dd
              data-testid="upload-timings"
              data-bytes={timings.bytes}
              data-hash-ms={timings.hashMs.toFixed(1)}
              data-send-ms={timings.sendMs.toFixed(1)}
              data-upload-ms={timings.uploadMs.toFixed(1)}
            >
              hashed in {formatDuration(timings.hashMs)}
              {showRates ? ` (${formatRate(timings.bytes, timings.hashMs)})` : ''}, uploaded in{' '}
              {formatDuration(timings.uploadMs)}
              {showRates ? ` (${formatRate(timings.bytes, timings.uploadMs)})` : ''}
            </dd>
          </dl>
        </div>
      );
    }
  }
}
