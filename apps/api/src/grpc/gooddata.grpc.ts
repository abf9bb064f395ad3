import { Injectable } from '@nestjs/common';
import type {
  Assignment,
  Execution as ExecutionMessage,
  GetQueryExecutionInfoRequest__Output,
  GetQueryExecutionInfoResponse,
  GetQueryInfoRequest__Output,
  GetQueryInfoResponse,
  GetQueryTimelineRequest__Output,
  ConsistencyReport,
  GoodDataServiceHandlers,
  ModelFormat as ModelFormatMessage,
  QueryCompletedHeader__Output,
  QueryCompletedRequest__Output,
  QueryCompletedResponse,
  QueryExecutionInfo,
  QueryTimeline,
  RegisterDataOwnerRequest__Output,
  RegisterDataOwnerResponse,
  ReportProgressRequest__Output,
  ReportProgressResponse,
  SubmitQueryHeader__Output,
  SubmitQueryRequest__Output,
  SubmitQueryResponse,
  WatchAssignmentsRequest__Output,
} from '@gds/proto';
import { Metadata, type ServerReadableStream, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';

import { CustomerAuthService } from '../auth/customer-auth.service.js';
import { DataOwnerAuthService } from '../auth/data-owner-auth.service.js';
import { BlobStore } from '@gds/db';
import { DataOwnerService } from '../data-owner/data-owner.service.js';
import type { Execution, ModelFormat } from '@gds/db';
import { QueryService, type ExecutionWithResult, type QueryWithExecutions } from '../query/query.service.js';
import { buildTimelines } from '../query/timeline.js';
import { PrismaService } from '../database/prisma.service.js';
import { AssignmentNotifier } from '../query/assignment.notifier.js';
import { GrpcCallContext, metadataOf } from './grpc-call.js';
import { readUpload, writeChunks, writeMessage } from './streams.js';

/** How often an idle WatchAssignments stream re-reads its Data Owner's work, in case a wake-up was lost. */
const RESYNC_MS = 15_000;

/** The gRPC face of GDS: decodes messages, authenticates, calls the services and encodes their answers. */
@Injectable()
export class GoodDataGrpc {
  constructor(
    private readonly customers: CustomerAuthService,
    private readonly dataOwnerAuth: DataOwnerAuthService,
    private readonly dataOwners: DataOwnerService,
    private readonly queries: QueryService,
    private readonly notifier: AssignmentNotifier,
    private readonly blobs: BlobStore,
    private readonly calls: GrpcCallContext,
    private readonly prisma: PrismaService,
  ) {}

  handlers(): GoodDataServiceHandlers {
    return {
      RegisterDataOwner: this.calls.unary('RegisterDataOwner', (call) => this.registerDataOwner(call)),
      SubmitQuery: this.calls.clientStream('SubmitQuery', (call) => this.submitQuery(call)),
      WatchAssignments: this.calls.serverStream('WatchAssignments', (call) => this.watchAssignments(call)),
      GetQueryInfo: this.calls.serverStream('GetQueryInfo', (call) => this.getQueryInfo(call)),
      ReportProgress: this.calls.unary('ReportProgress', (call) => this.reportProgress(call)),
      QueryCompleted: this.calls.clientStream('QueryCompleted', (call) => this.queryCompleted(call)),
      GetQueryExecutionInfo: this.calls.serverStream('GetQueryExecutionInfo', (call) => this.getQueryExecutionInfo(call)),
      GetQueryTimeline: this.calls.unary('GetQueryTimeline', (call) => this.getQueryTimeline(call)),
    };
  }

  private async registerDataOwner(
    call: ServerUnaryCall<RegisterDataOwnerRequest__Output, RegisterDataOwnerResponse>,
  ): Promise<RegisterDataOwnerResponse> {
    const key = await this.dataOwnerAuth.verifyNewKey(call.getPath(), metadataOf(call));
    const request = call.request;
    const datasets = request.datasets.map((dataset) => ({
      name: dataset.name,
      contentHash: dataset.contentHash,
      rowCount: BigInt(dataset.rowCount),
      schemaJson: dataset.schemaJson,
    }));

    const registered = await this.dataOwners.register(key, request.name, datasets, request.enrollmentToken);
    this.calls.annotate(call, { dataOwnerId: registered.dataOwnerId });

    return {
      dataOwnerId: registered.dataOwnerId,
      keyId: registered.keyId,
      datasets: registered.datasets.map((d) => ({ ...d, rowCount: d.rowCount.toString() })),
    };
  }

  private async submitQuery(
    call: ServerReadableStream<SubmitQueryRequest__Output, SubmitQueryResponse>,
  ): Promise<SubmitQueryResponse> {
    const customer = await this.customers.authenticate(metadataOf(call).authorization);
    this.calls.annotate(call, { customerId: customer.customerId });
    const { header, chunks } = await readUpload<SubmitQueryHeader__Output, SubmitQueryRequest__Output>(call);

    const submission = {
      dataset: header.dataset,
      replication: header.replication,
      tolerance: header.tolerance,
      training: header.training,
      modelFormat: fromProtoFormat(header.modelFormat),
      modelSize: BigInt(header.modelSize),
      modelSha256: header.modelSha256,
      deadlineSeconds: header.deadlineSeconds,
      name: header.name,
      quorum: header.quorum,
    };
    const plan = await this.queries.planSubmission(submission);
    const { query, dataOwnerIds } = await this.queries.submit(customer, submission, plan, chunks);
    this.calls.annotate(call, { queryId: query.id, size: header.modelSize });

    return {
      queryId: query.id,
      modelSha256: header.modelSha256,
      modelSize: header.modelSize,
      assignedDataOwnerIds: dataOwnerIds,
      status: `QUERY_STATUS_${query.status}`,
      modelFormat: toProtoFormat(query.modelFormat),
    };
  }

  private async watchAssignments(call: ServerWritableStream<WatchAssignmentsRequest__Output, Assignment>): Promise<void> {
    const caller = await this.dataOwnerAuth.authenticate(call.getPath(), metadataOf(call));
    this.calls.annotate(call, { dataOwnerId: caller.dataOwnerId });
    await this.dataOwners.touch(caller.dataOwnerId);
    // Headers now rather than with the first assignment, so the agent knows at once that it is connected.
    call.sendMetadata(new Metadata());

    const sent = new Set<string>();
    let wake: () => void = () => undefined;
    const stopListening = await this.notifier.listen(caller.dataOwnerId, () => wake());
    const closed = new Promise<void>((resolve) => {
      call.once('cancelled', resolve);
      call.once('close', resolve);
    });

    try {
      while (!call.cancelled) {
        for (const execution of await this.queries.listPendingAssignments(caller.dataOwnerId)) {
          if (!sent.has(execution.id)) {
            sent.add(execution.id);
            await writeMessage(call, toAssignment(execution, execution.query));
          }
        }
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const timer = new Promise<void>((resolve) => setTimeout(resolve, RESYNC_MS).unref());
        await Promise.race([woken, timer, closed]);
      }
    } finally {
      stopListening();
    }
  }

  private async getQueryInfo(call: ServerWritableStream<GetQueryInfoRequest__Output, GetQueryInfoResponse>): Promise<void> {
    const caller = await this.dataOwnerAuth.authenticate(call.getPath(), metadataOf(call));
    this.calls.annotate(call, { dataOwnerId: caller.dataOwnerId, queryId: call.request.queryId });
    const { query, execution } = await this.queries.startDownload(caller, call.request.queryId);

    await writeMessage(call, {
      header: {
        queryId: query.id,
        executionId: execution.id,
        modelFormat: toProtoFormat(query.modelFormat),
        modelSize: query.modelBlob.size.toString(),
        modelSha256: query.modelBlob.sha256,
        training: query.trainingSpec as object,
        datasetHash: query.datasetHash,
        deadlineAtNs: msToNs(query.deadlineAt),
      },
    });
    await writeChunks(call, this.blobs.read(query.modelBlobId), (chunk) => ({ chunk }));
  }

  private async reportProgress(
    call: ServerUnaryCall<ReportProgressRequest__Output, ReportProgressResponse>,
  ): Promise<ReportProgressResponse> {
    const caller = await this.dataOwnerAuth.authenticate(call.getPath(), metadataOf(call));
    const request = call.request;
    this.calls.annotate(call, { dataOwnerId: caller.dataOwnerId, queryId: request.queryId });

    const accepted = await this.queries.reportProgress(caller, {
      queryId: request.queryId,
      epoch: request.epoch,
      totalEpochs: request.totalEpochs,
      loss: request.loss,
    });

    return { accepted };
  }

  private async queryCompleted(
    call: ServerReadableStream<QueryCompletedRequest__Output, QueryCompletedResponse>,
  ): Promise<QueryCompletedResponse> {
    const caller = await this.dataOwnerAuth.authenticate(call.getPath(), metadataOf(call));
    this.calls.annotate(call, { dataOwnerId: caller.dataOwnerId, queryId: caller.queryId });
    const { header, chunks } = await readUpload<QueryCompletedHeader__Output, QueryCompletedRequest__Output>(call);

    const execution = await this.queries.complete(
      caller,
      {
        queryId: header.queryId,
        resultSize: BigInt(header.resultSize),
        resultSha256: header.resultSha256,
        startedAtNs: BigInt(header.startedAtNs),
        finishedAtNs: BigInt(header.finishedAtNs),
        error: header.error?.code ? { code: header.error.code, message: header.error.message } : null,
      },
      chunks,
    );

    return {
      executionId: execution.id,
      status: `EXECUTION_STATUS_${execution.status}`,
      resultSha256: execution.resultBlobId ? header.resultSha256 : '',
    };
  }

  private async getQueryExecutionInfo(
    call: ServerWritableStream<GetQueryExecutionInfoRequest__Output, GetQueryExecutionInfoResponse>,
  ): Promise<void> {
    const customer = await this.customers.authenticate(metadataOf(call).authorization);
    this.calls.annotate(call, { customerId: customer.customerId, queryId: call.request.queryId });
    const query = await this.queries.getForCustomer(customer, call.request.queryId);

    const result = call.request.includeVerifiedResult
      ? await this.queries.getVerifiedResult(query)
      : call.request.resultExecutionId
        ? await this.queries.getResult(query, call.request.resultExecutionId)
        : undefined;
    const info: QueryExecutionInfo = toQueryExecutionInfo(query);
    if (result) {
      info.result = { executionId: result.execution.id, size: result.size.toString(), sha256: result.sha256 };
    }

    await writeMessage(call, { info });
    if (result) {
      await writeChunks(call, this.blobs.read(result.blobId), (chunk) => ({ chunk }));
    }
  }

  private async getQueryTimeline(
    call: ServerUnaryCall<GetQueryTimelineRequest__Output, QueryTimeline>,
  ): Promise<QueryTimeline> {
    const customer = await this.customers.authenticate(metadataOf(call).authorization);
    this.calls.annotate(call, { customerId: customer.customerId, queryId: call.request.queryId });
    const query = await this.queries.getForCustomer(customer, call.request.queryId);

    const timeline = (await buildTimelines(this.prisma, [query.id])).get(query.id) ?? [];

    return {
      queryId: query.id,
      entries: timeline.map((entry) => ({
        atNs: msToNs(entry.at),
        source: entry.source,
        kind: entry.kind,
        executionId: entry.executionId ?? '',
        dataOwnerId: entry.dataOwnerId ?? '',
        txHash: entry.txHash ?? '',
        blockNumber: (entry.blockNumber ?? 0n).toString(),
        status: entry.status ?? '',
        detailJson: JSON.stringify(entry.detail ?? {}),
      })),
    };
  }
}

function fromProtoFormat(format: ModelFormatMessage | string): ModelFormat | undefined {
  const name = String(format).replace(/^MODEL_FORMAT_/, '');
  return name === 'UNSPECIFIED' || name === '0' ? undefined : (name as ModelFormat);
}

function toProtoFormat(format: ModelFormat): ModelFormatMessage {
  // A zip the customer did not label is either torch.save or TorchScript; the Data Owner's trainer tells which.
  return format === 'TORCH_ARCHIVE' ? 'MODEL_FORMAT_UNSPECIFIED' : (`MODEL_FORMAT_${format}` as ModelFormatMessage);
}

function msToNs(date: Date): string {
  return (BigInt(date.getTime()) * 1_000_000n).toString();
}

function toAssignment(execution: Execution, query: QueryWithExecutions): Assignment {
  return {
    queryId: query.id,
    executionId: execution.id,
    datasetHash: query.datasetHash,
    modelSha256: query.modelBlob.sha256,
    modelSize: query.modelBlob.size.toString(),
    assignedAtNs: execution.assignedAtNs.toString(),
    deadlineAtNs: msToNs(query.deadlineAt),
  };
}

function toExecutionMessage(execution: ExecutionWithResult): ExecutionMessage {
  return {
    resultSha256: execution.resultBlob?.sha256 ?? '',
    resultSize: (execution.resultBlob?.size ?? 0n).toString(),
    executionId: execution.id,
    dataOwnerId: execution.dataOwnerId,
    status: `EXECUTION_STATUS_${execution.status}`,
    assignedAtNs: execution.assignedAtNs.toString(),
    startedAtNs: (execution.startedAtNs ?? 0n).toString(),
    finishedAtNs: (execution.finishedAtNs ?? 0n).toString(),
    progress:
      execution.progressEpoch === null
        ? null
        : {
            epoch: execution.progressEpoch,
            totalEpochs: execution.progressTotal ?? 0,
            loss: execution.progressLoss ?? 0,
            reportedAtNs: (execution.progressAtNs ?? 0n).toString(),
          },
    error: execution.errorCode ? { code: execution.errorCode, message: execution.errorMessage ?? '' } : null,
  };
}

function toQueryExecutionInfo(query: QueryWithExecutions): QueryExecutionInfo {
  return {
    queryId: query.id,
    status: `QUERY_STATUS_${query.status}`,
    datasetHash: query.datasetHash,
    replication: query.replication,
    tolerance: query.tolerance,
    training: query.trainingSpec as object,
    modelFormat: toProtoFormat(query.modelFormat),
    modelSha256: query.modelBlob.sha256,
    modelSize: query.modelBlob.size.toString(),
    createdAtNs: msToNs(query.createdAt),
    deadlineAtNs: msToNs(query.deadlineAt),
    executions: query.executions.map(toExecutionMessage),
    quorum: query.quorum,
    name: query.name ?? '',
    report: (query.report as ConsistencyReport | null) ?? null,
  };
}
