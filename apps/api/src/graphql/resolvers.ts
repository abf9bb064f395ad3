import { AccountResolver } from './account.resolver.js';
import { DataOwnerResolver } from './data-owner.resolver.js';
import { ExecutionResolver } from './execution.resolver.js';
import { QueryResolver } from './query.resolver.js';

/** Every resolver class; the runtime schema and the committed schema file (print-schema.ts) are built from these. */
export const RESOLVERS = [AccountResolver, DataOwnerResolver, ExecutionResolver, QueryResolver];

/** The options both builds share, so the printed schema is the one served. */
export const SCHEMA_BUILD_OPTIONS = { dateScalarMode: 'isoDate', numberScalarMode: 'float' } as const;
