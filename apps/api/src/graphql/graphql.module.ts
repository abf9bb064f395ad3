import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { GraphQLModule, GraphQLSchemaHost } from '@nestjs/graphql';
import type { Logger } from '@gds/common';

import { AccountModule } from '../account/account.module.js';
import { RequestAuthService } from '../account/request-auth.service.js';
import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { CoreModule } from '../core.module.js';
import { QueryReadModule } from '../query/query-read.module.js';
import { DatasetCatalogService } from './dataset-catalog.service.js';
import { credentialHeaders, identify, type GqlContext } from './graphql-context.js';
import { formatGraphqlError } from './graphql-errors.js';
import { graphqlWsOptions, isWsContext, wsOperationContext } from './graphql-ws.options.js';
import { operationPlugin } from './operation-log.plugin.js';
import { RESOLVERS, SCHEMA_BUILD_OPTIONS } from './resolvers.js';

function apolloOptions(
  config: AppConfig,
  logger: Logger,
  auth: RequestAuthService,
  moduleRef: ModuleRef,
): ApolloDriverConfig {
  const limits = { maxDepth: config.graphqlMaxDepth, maxCost: config.graphqlMaxCost };
  const schema = () => moduleRef.get(GraphQLSchemaHost, { strict: false }).schema;

  return {
    path: '/graphql',
    autoSchemaFile: true,
    sortSchema: true,
    buildSchemaOptions: SCHEMA_BUILD_OPTIONS,
    // Integrators explore the API by introspection; the limits bound what it can cost.
    introspection: true,
    graphiql: false,
    includeStacktraceInErrorResponses: false,
    formatError: formatGraphqlError,
    plugins: [operationPlugin(logger, limits)],
    context: async (arg: unknown): Promise<GqlContext> => {
      if (isWsContext(arg)) {
        return wsOperationContext(arg);
      }
      const { req, res } = arg as { req: IncomingMessage; res: ServerResponse };
      const requestId = randomUUID();
      res.setHeader('X-Request-Id', requestId);
      const headers = credentialHeaders(req);
      const { viewer, authError } = await identify(headers, (h) => auth.identify(h));

      return { requestId, transport: 'http', req, res, headers, viewer, authError, startedAt: performance.now() };
    },
    subscriptions: { 'graphql-ws': graphqlWsOptions({ config, logger, auth, schema }) as never },
  };
}

/** GraphQL for the portal and integrators: POST /graphql, and subscriptions over graphql-ws on the same path. */
@Module({
  imports: [
    CoreModule,
    AccountModule,
    QueryReadModule,
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      imports: [CoreModule, AccountModule],
      inject: [APP_CONFIG, LOGGER, RequestAuthService, ModuleRef],
      useFactory: apolloOptions,
    }),
  ],
  providers: [...RESOLVERS, DatasetCatalogService],
})
export class GdsGraphqlModule {}
