import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { digestFile, writeFileAtomic } from './files.js';

/** Where an execution stands on this agent. Only the last three are terminal. */
export enum ExecutionPhase {
  /** Announced on chain and confirmed with GDS; not started. Recorded so a redelivered announcement is skipped. */
  QUEUED = 'queued',
  DOWNLOADING = 'downloading',
  TRAINING = 'training',
  TRAINED = 'trained',
  /** A failure was decided but GDS has not acknowledged it yet. */
  FAILING = 'failing',
  UPLOADED = 'uploaded',
  FAILED_REPORTED = 'failed_reported',
  /** GDS stopped the execution (cancelled, closed or refused it); nothing more to send. */
  CANCELLED = 'cancelled',
}

const TERMINAL_PHASES = new Set([ExecutionPhase.UPLOADED, ExecutionPhase.FAILED_REPORTED, ExecutionPhase.CANCELLED]);

export interface TrainedResult {
  path: string;
  sha256: string;
  size: number;
  startedAtNs: string;
  finishedAtNs: string;
}

export interface ExecutionRecord {
  executionId: string;
  queryId: string;
  phase: ExecutionPhase;
  /** From the assignment, for the operator's eyes; the download header is authoritative. */
  datasetHash?: string;
  /** Downloaded model (temp file), once the download started. */
  modelPath?: string;
  /** Where the trainer writes its result, once training started. */
  resultPath?: string;
  /** Set from `trained` on. */
  result?: TrainedResult;
  /** Set from `failing` on. */
  error?: { code: string; message: string };
  /** Why a cancelled execution stopped. */
  reason?: string;
  updatedAt: string;
}

/** What a (re)started agent does with an execution it finds on disk. */
export enum ResumeStep {
  /** Terminal: nothing is redone. */
  SKIP = 'skip',
  /** The result is on disk and intact: upload it. */
  UPLOAD = 'upload',
  /** A failure still has to reach GDS. */
  REPORT_FAILURE = 'report_failure',
  /** Start over from the download, after deleting partial files. */
  DOWNLOAD = 'download',
}

/** Ids become file names; anything else than a plain token is refused so a server cannot point outside stateDir. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

export function isTerminal(phase: ExecutionPhase): boolean {
  return TERMINAL_PHASES.has(phase);
}

/** One JSON file per execution in `<stateDir>/executions`, each written atomically. */
export class ExecutionStore {
  readonly folder: string;

  constructor(stateDir: string) {
    this.folder = join(stateDir, 'executions');
  }

  async get(executionId: string): Promise<ExecutionRecord | undefined> {
    const text = await readFile(this.pathOf(executionId), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        return undefined;
      }
      throw error;
    });

    return text === undefined ? undefined : (JSON.parse(text) as ExecutionRecord);
  }

  async save(record: Omit<ExecutionRecord, 'updatedAt'>): Promise<ExecutionRecord> {
    const saved: ExecutionRecord = { ...record, updatedAt: new Date().toISOString() };
    await writeFileAtomic(this.pathOf(record.executionId), `${JSON.stringify(saved, null, 2)}\n`);

    return saved;
  }

  async list(): Promise<ExecutionRecord[]> {
    const names = await readdir(this.folder).catch(() => [] as string[]);
    const ids = names.filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -'.json'.length));
    const records = await Promise.all(ids.filter(isSafeId).map((id) => this.get(id)));

    return records.filter((record): record is ExecutionRecord => !!record);
  }

  /** Decides where a restarted execution picks up; checks the result file against its recorded hash. */
  async resumeStep(record: ExecutionRecord): Promise<ResumeStep> {
    if (isTerminal(record.phase)) {
      return ResumeStep.SKIP;
    }
    if (record.phase === ExecutionPhase.FAILING && record.error) {
      return ResumeStep.REPORT_FAILURE;
    }
    if (record.phase === ExecutionPhase.TRAINED && record.result && (await isIntact(record.result))) {
      return ResumeStep.UPLOAD;
    }

    return ResumeStep.DOWNLOAD;
  }

  private pathOf(executionId: string): string {
    if (!isSafeId(executionId)) {
      throw new Error(`refusing unsafe execution id ${JSON.stringify(executionId)}`);
    }

    return join(this.folder, `${executionId}.json`);
  }
}

async function isIntact(result: TrainedResult): Promise<boolean> {
  const stats = await stat(result.path).catch(() => undefined);
  if (!stats?.isFile() || stats.size !== result.size) {
    return false;
  }

  return (await digestFile(result.path)).sha256 === result.sha256;
}
