import { Inject, Injectable } from '@nestjs/common';
import { unauthenticated, type Logger } from '@gds/common';

import { CustomerAuthService } from '../auth/customer-auth.service.js';
import { LOGGER } from '../common/logger.provider.js';
import { ApiTokenService } from './api-token.service.js';
import { readCookie, SESSION_COOKIE } from './session-cookie.js';
import { SessionService } from './session.service.js';
import type { CredentialHeaders, Viewer } from './viewer.js';

/**
 * Who is calling, for every HTTP and graphql-ws entry point. A bearer token, when sent, must be valid: an
 * integrator with a revoked token gets UNAUTHENTICATED rather than silently becoming anonymous. Without one, the
 * portal's session cookie counts; a stale cookie is simply no sign-in.
 */
@Injectable()
export class RequestAuthService {
  constructor(
    private readonly tokens: CustomerAuthService,
    private readonly apiTokens: ApiTokenService,
    private readonly sessions: SessionService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async identify(headers: CredentialHeaders): Promise<Viewer | null> {
    if (headers.authorization) {
      const caller = await this.tokens.authenticate(headers.authorization);
      this.apiTokens.touch(caller.tokenId).catch((error: unknown) => {
        this.logger.warn({ event: 'api_token.touch_failed', tokenId: caller.tokenId, err: error });
      });

      return { ...caller, credential: 'api-token' };
    }

    const sessionToken = readCookie(headers.cookie, SESSION_COOKIE);

    return sessionToken ? this.sessions.resolve(sessionToken) : null;
  }

  async require(headers: CredentialHeaders): Promise<Viewer> {
    const viewer = await this.identify(headers);
    if (!viewer) {
      throw unauthenticated('sign in, or send Authorization: Bearer <API token>');
    }

    return viewer;
  }
}
