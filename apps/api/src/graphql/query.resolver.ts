import { Inject } from '@nestjs/common';
import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { GdsException, type Logger } from '@gds/common';

import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { ModelUploadService } from '../query/model-upload.service.js';
import { QueryReadService } from '../query/query-read.service.js';
import { QueryUpdates } from '../query/query-updates.js';
import { QueryService } from '../query/query.service.js';
import type { TrainingSpecInput as ServiceTrainingSpecInput } from '../query/training-spec.js';
import { requireViewer, type GqlContext } from './graphql-context.js';
import { loadersOf } from './loaders.js';
import { toGdsQuery, toTimelineEntry } from './query.mapper.js';
import { queryUpdateStream } from './query-update-stream.js';
import { QueryStatus } from './types/enums.js';
import {
  GdsQuery,
  ModelUploadInfo,
  QueryConnection,
  SubmitQueryInput,
  TimelineEntry,
  type TrainingSpecInput,
} from './types/query.types.js';

@Resolver(() => GdsQuery)
export class QueryResolver {
  constructor(
    private readonly queryService: QueryService,
    private readonly reader: QueryReadService,
    private readonly uploads: ModelUploadService,
    private readonly updates: QueryUpdates,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Query(() => QueryConnection, { description: "The customer's queries, newest first." })
  async queries(
    @Context() context: GqlContext,
    @Args('first', { type: () => Int, nullable: true, defaultValue: 20 }) first: number,
    @Args('after', { type: () => String, nullable: true }) after: string | null,
    @Args('status', { type: () => QueryStatus, nullable: true }) status: QueryStatus | null,
  ): Promise<QueryConnection> {
    const viewer = requireViewer(context);
    const page = await this.reader.list(viewer, { first, after, status });
    const edges = page.nodes.map((node) => ({
      cursor: page.cursorOf(node),
      node: toGdsQuery(node, this.config.publicApiUrl),
    }));

    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: page.totalCount,
    };
  }

  @Query(() => GdsQuery, {
    nullable: true,
    description: "NOT_FOUND for an unknown id and for another customer's query.",
  })
  async query(@Args('id', { type: () => ID }) id: string, @Context() context: GqlContext): Promise<GdsQuery> {
    const viewer = requireViewer(context);

    return toGdsQuery(await this.reader.findForCustomer(viewer, id), this.config.publicApiUrl);
  }

  @Query(() => ModelUploadInfo, {
    nullable: true,
    description: "NOT_FOUND for an unknown id and for another customer's upload.",
  })
  async upload(@Args('id', { type: () => ID }) id: string, @Context() context: GqlContext): Promise<ModelUploadInfo> {
    return this.uploads.get(requireViewer(context), id);
  }

  @Mutation(() => GdsQuery, {
    description: 'Submits a model uploaded with POST /uploads; each upload is submitted once.',
  })
  async submitQuery(@Args('input') input: SubmitQueryInput, @Context() context: GqlContext): Promise<GdsQuery> {
    const viewer = requireViewer(context);
    const header = {
      dataset: input.dataset,
      // QueryService reads 0 and '' as "use the default", as proto3 sends them.
      replication: input.replication ?? 0,
      quorum: input.quorum ?? 0,
      tolerance: input.tolerance ?? 0,
      deadlineSeconds: input.deadlineSeconds ?? 0,
      name: input.name ?? '',
      training: toServiceTrainingSpec(input.training),
    };

    const { query } = await this.queryService.submitUploaded(viewer, header, input.uploadId);

    return toGdsQuery(await this.reader.findForCustomer(viewer, query.id), this.config.publicApiUrl);
  }

  @Mutation(() => GdsQuery, {
    description: 'Stops a query that has not finished; its Data Owners stop at their next call.',
  })
  async cancelQuery(@Args('id', { type: () => ID }) id: string, @Context() context: GqlContext): Promise<GdsQuery> {
    const viewer = requireViewer(context);
    await this.queryService.cancelQuery(viewer, id);

    return toGdsQuery(await this.reader.findForCustomer(viewer, id), this.config.publicApiUrl);
  }

  @Subscription(() => GdsQuery, {
    description:
      "Fires on every change of one of the customer's queries (status, progress, report, timeline); id filters to one.",
    resolve: (payload: GdsQuery) => payload,
  })
  async queryUpdated(
    @Args('id', { type: () => ID, nullable: true }) id: string | null,
    @Context() context: GqlContext,
  ): Promise<AsyncIterableIterator<GdsQuery>> {
    const viewer = requireViewer(context);
    if (id) {
      // Subscribing to another customer's query fails like reading it.
      await this.reader.findForCustomer(viewer, id);
    }

    return queryUpdateStream({
      listen: (listener) => this.updates.listen(listener),
      customerId: viewer.customerId,
      queryId: id,
      read: async (queryId) => {
        try {
          return toGdsQuery(await this.reader.findForCustomer(viewer, queryId), this.config.publicApiUrl);
        } catch (error) {
          if (error instanceof GdsException) return null;
          throw error;
        }
      },
      onEnd: (events) =>
        this.logger.info({
          event: 'graphql.subscription',
          requestId: context.requestId,
          operationName: 'queryUpdated',
          customerId: viewer.customerId,
          queryId: id,
          events,
          code: 'OK',
          durationMs: Math.round(performance.now() - context.startedAt),
        }),
    });
  }

  @ResolveField(() => [TimelineEntry])
  async timeline(@Parent() query: GdsQuery, @Context() context: GqlContext): Promise<TimelineEntry[]> {
    const items = await loadersOf(context, this.reader).timeline.load(query.id);

    return items.map(toTimelineEntry);
  }

  @ResolveField(() => String, { nullable: true, description: 'What the Data Owners holding the dataset call it.' })
  async datasetName(@Parent() query: GdsQuery, @Context() context: GqlContext): Promise<string | null> {
    return loadersOf(context, this.reader).datasetName.load(query.datasetHash);
  }
}

function toServiceTrainingSpec(input: TrainingSpecInput | null | undefined): ServiceTrainingSpecInput | null {
  if (!input) {
    return null;
  }

  return {
    epochs: input.epochs ?? undefined,
    batchSize: input.batchSize ?? undefined,
    optimizer: input.optimizer?.toLowerCase(),
    learningRate: input.learningRate ?? undefined,
    loss: input.loss?.toLowerCase(),
    seed: input.seed === null || input.seed === undefined ? undefined : input.seed.toString(),
    momentum: input.momentum ?? undefined,
  };
}
