import type { ProgressEntry } from '@gds/db';

import { QueryReadService } from '../query/query-read.service.js';
import type { TimelineItem } from '../query/timeline.js';
import { BatchLoader } from './batch-loader.js';
import type { GqlContext } from './graphql-context.js';

export interface Loaders {
  lossCurve: BatchLoader<string, ProgressEntry[]>;
  timeline: BatchLoader<string, TimelineItem[]>;
  datasetName: BatchLoader<string, string | null>;
}

const perContext = new WeakMap<GqlContext, Loaders>();

/** The batch loaders of one operation (created on first use, so resolvers that need none cost nothing). */
export function loadersOf(context: GqlContext, reader: QueryReadService): Loaders {
  let loaders = perContext.get(context);
  if (!loaders) {
    loaders = {
      lossCurve: new BatchLoader((ids) => reader.lossCurves(ids), []),
      timeline: new BatchLoader((ids) => reader.timelines(ids), []),
      datasetName: new BatchLoader((hashes) => reader.datasetNames(hashes), null),
    };
    perContext.set(context, loaders);
  }

  return loaders;
}
