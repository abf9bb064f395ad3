import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';

import { QueryReadService } from '../query/query-read.service.js';
import type { GqlContext } from './graphql-context.js';
import { loadersOf } from './loaders.js';
import { toProgressPoint } from './query.mapper.js';
import { Execution, ProgressPoint } from './types/query.types.js';

@Resolver(() => Execution)
export class ExecutionResolver {
  constructor(private readonly reader: QueryReadService) {}

  @ResolveField(() => [ProgressPoint])
  async lossCurve(@Parent() execution: Execution, @Context() context: GqlContext): Promise<ProgressPoint[]> {
    const entries = await loadersOf(context, this.reader).lossCurve.load(execution.id);

    return entries.map(toProgressPoint);
  }
}
