import { Field, ID, Int, ObjectType } from '@nestjs/graphql';

import { BigIntScalar, JsonScalar } from './scalars.js';

@ObjectType()
export class DatasetHolder {
  @Field(() => ID)
  dataOwnerId!: string;

  @Field()
  dataOwnerName!: string;

  @Field(() => BigIntScalar)
  rowCount!: bigint;
}

@ObjectType({ description: 'A dataset by content: every Data Owner holding the same content hash holds a replica.' })
export class DatasetSummary {
  @Field()
  name!: string;

  @Field()
  contentHash!: string;

  @Field(() => JsonScalar)
  schema!: unknown;

  @Field(() => BigIntScalar)
  rowCount!: bigint;

  @Field(() => [DatasetHolder])
  holders!: DatasetHolder[];

  @Field(() => Int, { description: 'Holders whose Data Owner is active: the largest replication this dataset allows.' })
  activeHolders!: number;
}

@ObjectType()
export class DataOwner {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field({ description: 'ACTIVE or SUSPENDED.' })
  status!: string;

  @Field()
  keyId!: string;

  @Field(() => Date, { nullable: true })
  lastSeenAt!: Date | null;

  @Field()
  createdAt!: Date;

  @Field(() => [DatasetSummary])
  datasets!: DatasetSummary[];
}
