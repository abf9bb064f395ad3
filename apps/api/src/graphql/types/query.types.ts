import { Field, Float, ID, InputType, Int, ObjectType } from '@nestjs/graphql';

import { ExecutionStatus, LossFunction, ModelFormat, Optimizer, QueryStatus, Verdict } from './enums.js';
import { BigIntScalar, JsonScalar } from './scalars.js';

@ObjectType({ description: 'How each Data Owner trains the model.' })
export class TrainingSpec {
  @Field(() => Int)
  epochs!: number;

  @Field(() => Int)
  batchSize!: number;

  @Field(() => Optimizer)
  optimizer!: Optimizer;

  @Field(() => Float)
  learningRate!: number;

  @Field(() => LossFunction)
  loss!: LossFunction;

  @Field(() => BigIntScalar, { description: 'Seeds every random choice of the training, so replicas agree.' })
  seed!: bigint;

  @Field(() => Float)
  momentum!: number;
}

@ObjectType({ description: 'One reported epoch.' })
export class ProgressPoint {
  @Field(() => Int)
  epoch!: number;

  @Field(() => Int)
  totalEpochs!: number;

  @Field(() => Float)
  loss!: number;

  @Field()
  reportedAt!: Date;
}

@ObjectType()
export class ExecutionError {
  @Field()
  code!: string;

  @Field()
  message!: string;
}

@ObjectType({ description: "One Data Owner's work on a query." })
export class Execution {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  dataOwnerId!: string;

  @Field()
  dataOwnerName!: string;

  @Field(() => ExecutionStatus)
  status!: ExecutionStatus;

  @Field(() => BigIntScalar, { description: 'Nanoseconds since the Unix epoch.' })
  assignedAtNs!: bigint;

  @Field(() => BigIntScalar, { nullable: true })
  startedAtNs!: bigint | null;

  @Field(() => BigIntScalar, { nullable: true })
  finishedAtNs!: bigint | null;

  @Field(() => ProgressPoint, { nullable: true, description: 'The latest reported epoch.' })
  progress!: ProgressPoint | null;

  @Field(() => [ProgressPoint], { description: 'Every reported epoch, in order.' })
  lossCurve?: ProgressPoint[];

  @Field(() => String, { nullable: true })
  resultSha256!: string | null;

  @Field(() => BigIntScalar, { nullable: true })
  resultSize!: bigint | null;

  @Field(() => ExecutionError, { nullable: true })
  error!: ExecutionError | null;

  @Field(() => Boolean, { nullable: true, description: 'Set by the consistency check: in the agreeing group or not.' })
  accepted!: boolean | null;

  @Field(() => String, { nullable: true })
  rejectionReason!: string | null;
}

@ObjectType({ description: "One Data Owner's line in the consistency report." })
export class ConsistencyEntry {
  @Field(() => ID)
  executionId!: string;

  @Field(() => ID)
  dataOwnerId!: string;

  @Field()
  resultSha256!: string;

  @Field()
  accepted!: boolean;

  @Field(() => Float, { nullable: true, description: 'Against the canonical result; null when not comparable.' })
  maxAbsDiff!: number | null;

  @Field(() => Float, { nullable: true, description: 'Against the canonical result; null when not comparable.' })
  relativeL2!: number | null;

  @Field()
  reason!: string;
}

@ObjectType()
export class ConsistencyReport {
  @Field(() => Verdict)
  verdict!: Verdict;

  @Field(() => ID, { nullable: true })
  canonicalExecutionId!: string | null;

  @Field(() => String, { nullable: true })
  canonicalSha256!: string | null;

  @Field(() => Int)
  quorum!: number;

  @Field(() => Float)
  tolerance!: number;

  @Field(() => [ConsistencyEntry])
  entries!: ConsistencyEntry[];

  @Field()
  verifiedAt!: Date;
}

@ObjectType({ description: "One line of a query's audit trail, from the service or from the chain." })
export class TimelineEntry {
  @Field()
  at!: Date;

  @Field({ description: 'Where the entry comes from: "service" or "chain".' })
  source!: string;

  @Field({ description: 'e.g. query.submitted, execution.succeeded, chain.QuerySubmitted.' })
  kind!: string;

  @Field(() => ID, { nullable: true })
  executionId!: string | null;

  @Field(() => ID, { nullable: true })
  dataOwnerId!: string | null;

  @Field(() => String, { nullable: true })
  txHash!: string | null;

  @Field(() => BigIntScalar, { nullable: true })
  blockNumber!: bigint | null;

  @Field(() => String, { nullable: true, description: 'Chain entries: PENDING, SENT, CONFIRMED or REJECTED.' })
  status!: string | null;

  @Field(() => JsonScalar, { nullable: true })
  detail!: unknown;
}

@ObjectType({ description: "A Query Customer's training request and everything that happened to it." })
export class GdsQuery {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => QueryStatus)
  status!: QueryStatus;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field()
  deadlineAt!: Date;

  @Field()
  datasetHash!: string;

  @Field(() => String, { nullable: true })
  datasetName?: string | null;

  @Field(() => Int)
  replication!: number;

  @Field(() => Int)
  quorum!: number;

  @Field(() => Float)
  tolerance!: number;

  @Field(() => TrainingSpec)
  training!: TrainingSpec;

  @Field(() => ModelFormat)
  modelFormat!: ModelFormat;

  @Field()
  modelSha256!: string;

  @Field(() => BigIntScalar)
  modelSize!: bigint;

  @Field(() => [Execution])
  executions!: Execution[];

  @Field(() => ConsistencyReport, { nullable: true })
  report!: ConsistencyReport | null;

  @Field(() => [TimelineEntry])
  timeline?: TimelineEntry[];

  @Field(() => String, {
    nullable: true,
    description:
      'Authenticated streamed download of the verified result (SHA-256 in the X-Content-SHA256 header); null until COMPLETED.',
  })
  resultDownloadUrl!: string | null;
}

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType()
export class QueryEdge {
  @Field()
  cursor!: string;

  @Field(() => GdsQuery)
  node!: GdsQuery;
}

@ObjectType()
export class QueryConnection {
  @Field(() => [QueryEdge])
  edges!: QueryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType({ description: 'A model streamed up with POST /uploads, waiting for submitQuery.' })
export class ModelUploadInfo {
  @Field(() => ID)
  id!: string;

  @Field()
  sha256!: string;

  @Field(() => BigIntScalar)
  size!: bigint;

  @Field(() => ModelFormat)
  modelFormat!: ModelFormat;

  @Field(() => String, { nullable: true })
  fileName!: string | null;
}

@InputType({
  description: 'Unset fields take the defaults: 5 epochs, batch 32, SGD, rate 0.01, MSE, seed 0, momentum 0.',
})
export class TrainingSpecInput {
  @Field(() => Int, { nullable: true })
  epochs?: number | null;

  @Field(() => Int, { nullable: true })
  batchSize?: number | null;

  @Field(() => Optimizer, { nullable: true })
  optimizer?: Optimizer | null;

  @Field(() => Float, { nullable: true })
  learningRate?: number | null;

  @Field(() => LossFunction, { nullable: true })
  loss?: LossFunction | null;

  @Field(() => BigIntScalar, { nullable: true })
  seed?: bigint | null;

  @Field(() => Float, { nullable: true })
  momentum?: number | null;
}

@InputType()
export class SubmitQueryInput {
  @Field(() => ID, { description: 'From POST /uploads: the model bytes never travel inside GraphQL.' })
  uploadId!: string;

  @Field({ description: 'A registered dataset name, or its content hash.' })
  dataset!: string;

  @Field(() => Int, { nullable: true, description: 'How many Data Owners train the model; default 3.' })
  replication?: number | null;

  @Field(() => Int, { nullable: true, description: 'How many of them must agree; default a majority.' })
  quorum?: number | null;

  @Field(() => Float, { nullable: true, description: 'Largest difference between agreeing results; default 1e-5.' })
  tolerance?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 3600.' })
  deadlineSeconds?: number | null;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => TrainingSpecInput, { nullable: true })
  training?: TrainingSpecInput | null;
}
