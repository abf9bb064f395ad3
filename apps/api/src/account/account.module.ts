import { Module } from '@nestjs/common';

import { CoreModule } from '../core.module.js';
import { AccountService } from './account.service.js';
import { ApiTokenService } from './api-token.service.js';
import { RequestAuthService } from './request-auth.service.js';
import { SessionService } from './session.service.js';

const services = [AccountService, ApiTokenService, RequestAuthService, SessionService];

/** Portal accounts, sessions and integrators' API tokens. */
@Module({
  imports: [CoreModule],
  providers: services,
  exports: services,
})
export class AccountModule {}
