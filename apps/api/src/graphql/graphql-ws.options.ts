import { randomUUID } from 'node:crypto';

import type { Logger } from '@gds/common';
import { GraphQLError, parse, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';

import { RequestAuthService } from '../account/request-auth.service.js';
import type { AppConfig } from '../config/app.config.js';
import { credentialHeaders, identify, type GqlContext } from './graphql-context.js';
import { classifyGraphqlError, formatGraphqlError } from './graphql-errors.js';
import { checkOperationLimits } from './query-limits.js';

export type GdsWsContext = WsContext<Record<string, unknown> | undefined, Extra>;

type SubscribePayload = { query: string; operationName?: string | null; variables?: Record<string, unknown> | null };

interface ConnectionAuth {
  viewer: GqlContext['viewer'];
  authError: GqlContext['authError'];
  authorization: string | undefined;
}

const connections = new WeakMap<object, ConnectionAuth>();

export interface WsDependencies {
  config: AppConfig;
  logger: Logger;
  auth: RequestAuthService;
  /** The served schema; known only once the GraphQL module started, which is before any socket connects. */
  schema: () => GraphQLSchema;
}

/**
 * graphql-ws on the same path as HTTP GraphQL. A browser always sends Origin on a WebSocket upgrade, and cookies
 * ride along whatever the page, so Origin is checked against the portal origins (cross-site WebSocket hijacking);
 * clients that are not browsers send none. Credentials: the cookie of the upgrade request, or
 * `connectionParams.authorization: "Bearer <API token>"`, which wins.
 */
export function graphqlWsOptions(deps: WsDependencies) {
  return {
    path: '/graphql',

    onConnect: async (ctx: GdsWsContext) => {
      const origin = ctx.extra.request.headers.origin;
      if (origin && !deps.config.portalOrigins.includes(origin)) {
        deps.logger.info({ event: 'graphql.ws_refused', origin, reason: 'origin not allowed' });
        return false;
      }
      const authorization = ctx.connectionParams?.authorization;
      const headers = credentialHeaders(ctx.extra.request, authorization);
      const identified = await identify(headers, (h) => deps.auth.identify(h));
      connections.set(ctx, { ...identified, authorization: headers.authorization });

      return true;
    },

    onSubscribe: (_ctx: GdsWsContext, _id: string, payload: SubscribePayload) => {
      let document: DocumentNode;
      try {
        document = parse(payload.query);
      } catch (error) {
        const message = (error as Error).message;
        return [new GraphQLError(message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
      }

      try {
        checkOperationLimits(deps.schema(), document, payload.operationName, payload.variables ?? {}, {
          maxDepth: deps.config.graphqlMaxDepth,
          maxCost: deps.config.graphqlMaxCost,
        });
      } catch (error) {
        if (error instanceof GraphQLError) return [error];
        throw error;
      }

      return undefined;
    },

    onNext: (
      ctx: GdsWsContext,
      _id: string,
      payload: SubscribePayload,
      args: { contextValue?: unknown },
      result: ExecutionResult,
    ) => {
      if (!result.errors?.length) {
        return undefined;
      }
      const context = args.contextValue as GqlContext | undefined;
      const requestId = context?.requestId ?? randomUUID();
      const errors = formatAll(result.errors, requestId, deps.logger);
      logFailure(deps.logger, requestId, payload.operationName, connections.get(ctx), errors[0]);

      return { ...result, errors };
    },

    onError: (ctx: GdsWsContext, _id: string, payload: SubscribePayload, errors: readonly GraphQLError[]) => {
      const requestId = randomUUID();
      const formatted = formatAll(errors, requestId, deps.logger);
      logFailure(deps.logger, requestId, payload.operationName, connections.get(ctx), formatted[0]);

      return formatted;
    },
  };
}

/** The context of one operation over graphql-ws, with the connection's credentials. */
export function wsOperationContext(ctx: GdsWsContext): GqlContext {
  const auth = connections.get(ctx);

  return {
    requestId: randomUUID(),
    transport: 'ws',
    req: ctx.extra.request,
    headers: { authorization: auth?.authorization, cookie: ctx.extra.request.headers.cookie },
    viewer: auth?.viewer ?? null,
    authError: auth?.authError ?? null,
    startedAt: performance.now(),
  };
}

export function isWsContext(value: unknown): value is GdsWsContext {
  return typeof value === 'object' && value !== null && 'extra' in value && 'subscriptions' in value;
}

function formatAll(errors: readonly GraphQLError[], requestId: string, logger: Logger) {
  return errors.map((error) => {
    if (classifyGraphqlError(error).isUnexpected) {
      logger.error({ event: 'graphql.error', requestId, path: error.path, err: error.originalError ?? error });
    }
    const formatted = formatGraphqlError(error.toJSON(), error);

    return { ...formatted, extensions: { ...formatted.extensions, requestId } };
  });
}

function logFailure(
  logger: Logger,
  requestId: string,
  operationName: string | null | undefined,
  auth: ConnectionAuth | undefined,
  first: { extensions?: Record<string, unknown> } | undefined,
): void {
  logger.info({
    event: 'graphql.operation',
    transport: 'ws',
    requestId,
    operationName: operationName ?? null,
    customerId: auth?.viewer?.customerId ?? null,
    code: first?.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
  });
}
