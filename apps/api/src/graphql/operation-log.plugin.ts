import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse } from '@apollo/server';
import type { Logger } from '@gds/common';

import { classifyGraphqlError } from './graphql-errors.js';
import type { GqlContext } from './graphql-context.js';
import { checkOperationLimits, type QueryLimits } from './query-limits.js';

/**
 * Per GraphQL operation over HTTP: enforces the depth and cost limits once variables are known, logs unexpected
 * errors once with their stack, returns the request id in every error, and writes one outcome line.
 */
export function operationPlugin(logger: Logger, limits: QueryLimits): ApolloServerPlugin<GqlContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operationName, request }) {
          checkOperationLimits(schema, document, operationName, request.variables, limits);
        },

        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            if (classifyGraphqlError(error).isUnexpected) {
              const err = error.originalError ?? error;
              const { requestId } = contextValue;
              logger.error({ event: 'graphql.error', requestId, operationName, path: error.path, err });
            }
          }
        },

        async willSendResponse(request) {
          const code = addRequestIds(request);
          const { contextValue } = request;
          logger.info({
            event: 'graphql.operation',
            requestId: contextValue.requestId,
            operationName: request.operationName ?? null,
            operationType: request.operation?.operation ?? null,
            customerId: contextValue.viewer?.customerId ?? null,
            code,
            durationMs: Math.round(performance.now() - contextValue.startedAt),
          });
        },
      };
    },
  };
}

/** Puts the request id into every error (so a user can quote it) and returns the first error's code, or OK. */
function addRequestIds(request: GraphQLRequestContextWillSendResponse<GqlContext>): string {
  const { body } = request.response;
  const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
  if (!errors?.length) {
    return 'OK';
  }
  const { requestId } = request.contextValue;
  for (const error of errors) {
    (error as { extensions?: Record<string, unknown> }).extensions = { ...error.extensions, requestId };
  }

  return String(errors[0].extensions?.code ?? 'INTERNAL_SERVER_ERROR');
}
