// TypeScript shapes of the GraphQL contract (/tmp/gds/graphql-contract.graphql) as the portal selects them.
// BigInt scalars arrive as decimal strings, DateTime as ISO-8601 strings.

export type QueryStatus = 'PENDING' | 'RUNNING' | 'VERIFYING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
export type ExecutionStatus = 'ASSIGNED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export type ModelFormat = 'TORCH_SAVE' | 'PICKLE' | 'TORCHSCRIPT' | 'TORCH_ARCHIVE';
export type Verdict = 'CONSISTENT' | 'INCONSISTENT';
export type Optimizer = 'SGD' | 'ADAM';
export type LossFunction = 'MSE' | 'BCE' | 'CROSS_ENTROPY';

export const QUERY_STATUSES: QueryStatus[] = ['PENDING', 'RUNNING', 'VERIFYING', 'COMPLETED', 'FAILED', 'CANCELLED'];
export const FINISHED_QUERY_STATUSES: QueryStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export interface Customer {
  id: string;
  name: string;
  email: string | null;
  createdAt: string;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface TrainingSpec {
  epochs: number;
  batchSize: number;
  optimizer: Optimizer;
  learningRate: number;
  loss: LossFunction;
  seed: string;
  momentum: number;
}

export interface ProgressPoint {
  epoch: number;
  totalEpochs: number;
  loss: number;
  reportedAt: string;
}

export interface Execution {
  id: string;
  dataOwnerId: string;
  dataOwnerName: string;
  status: ExecutionStatus;
  assignedAtNs: string;
  startedAtNs: string | null;
  finishedAtNs: string | null;
  progress: ProgressPoint | null;
  lossCurve: ProgressPoint[];
  resultSha256: string | null;
  resultSize: string | null;
  error: { code: string; message: string } | null;
  accepted: boolean | null;
  rejectionReason: string | null;
}

export interface ConsistencyEntry {
  executionId: string;
  dataOwnerId: string;
  resultSha256: string;
  accepted: boolean;
  maxAbsDiff: number | null;
  relativeL2: number | null;
  reason: string;
}

export interface ConsistencyReport {
  verdict: Verdict;
  canonicalExecutionId: string | null;
  canonicalSha256: string | null;
  quorum: number;
  tolerance: number;
  entries: ConsistencyEntry[];
  verifiedAt: string;
}

export interface TimelineEntry {
  at: string;
  source: string;
  kind: string;
  executionId: string | null;
  dataOwnerId: string | null;
  txHash: string | null;
  blockNumber: string | null;
  status: string | null;
  detail: unknown;
}

/** A query as the list shows it. */
export interface QuerySummary {
  id: string;
  name: string | null;
  status: QueryStatus;
  createdAt: string;
  updatedAt: string;
  datasetName: string | null;
  datasetHash: string;
  replication: number;
  modelFormat: ModelFormat;
  modelSize: string;
  executions: Array<Pick<Execution, 'id' | 'status'>>;
  report: Pick<ConsistencyReport, 'verdict'> | null;
}

/** A query as its own page shows it. */
export interface QueryDetail {
  id: string;
  name: string | null;
  status: QueryStatus;
  createdAt: string;
  updatedAt: string;
  deadlineAt: string;
  datasetHash: string;
  datasetName: string | null;
  replication: number;
  quorum: number;
  tolerance: number;
  training: TrainingSpec;
  modelFormat: ModelFormat;
  modelSha256: string;
  modelSize: string;
  executions: Execution[];
  report: ConsistencyReport | null;
  timeline: TimelineEntry[];
  resultDownloadUrl: string | null;
}

export interface DatasetHolder {
  dataOwnerId: string;
  dataOwnerName: string;
  rowCount: string;
}

export interface DatasetSummary {
  name: string;
  contentHash: string;
  schema: unknown;
  rowCount: string;
  holders: DatasetHolder[];
  activeHolders: number;
}

export interface DataOwner {
  id: string;
  name: string;
  status: string;
  keyId: string;
  lastSeenAt: string | null;
  createdAt: string;
  datasets: Array<Pick<DatasetSummary, 'name' | 'contentHash' | 'rowCount'>>;
}

export interface ModelUploadInfo {
  id: string;
  sha256: string;
  size: string;
  modelFormat: ModelFormat;
  fileName: string | null;
}

export interface TrainingSpecInput {
  epochs?: number;
  batchSize?: number;
  optimizer?: Optimizer;
  learningRate?: number;
  loss?: LossFunction;
  seed?: string;
  momentum?: number;
}

export interface SubmitQueryInput {
  uploadId: string;
  dataset: string;
  replication?: number;
  quorum?: number;
  tolerance?: number;
  deadlineSeconds?: number;
  name?: string;
  training?: TrainingSpecInput;
}
