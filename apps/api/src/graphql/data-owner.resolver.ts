import { Context, Query, Resolver } from '@nestjs/graphql';

import { DatasetCatalogService } from './dataset-catalog.service.js';
import { requireViewer, type GqlContext } from './graphql-context.js';
import { DataOwner, DatasetSummary } from './types/data-owner.types.js';

@Resolver()
export class DataOwnerResolver {
  constructor(private readonly catalog: DatasetCatalogService) {}

  @Query(() => [DataOwner])
  async dataOwners(@Context() context: GqlContext): Promise<DataOwner[]> {
    requireViewer(context);

    return this.catalog.listDataOwners();
  }

  @Query(() => [DatasetSummary], { description: 'Every dataset some Data Owner holds, by name and content hash.' })
  async datasets(@Context() context: GqlContext): Promise<DatasetSummary[]> {
    requireViewer(context);

    return this.catalog.listDatasets();
  }
}
