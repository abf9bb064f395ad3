import { Module } from '@nestjs/common';

import { AccountModule } from '../account/account.module.js';
import { CoreModule } from '../core.module.js';
import { QueryReadModule } from '../query/query-read.module.js';
import { HealthController } from './health.controller.js';
import { HttpCallContext } from './http-call.js';
import { ResultController } from './result.controller.js';
import { UploadController } from './upload.controller.js';

/** The plain HTTP endpoints next to GraphQL: model uploads, result downloads, health. */
@Module({
  imports: [CoreModule, AccountModule, QueryReadModule],
  controllers: [UploadController, ResultController, HealthController],
  providers: [HttpCallContext],
})
export class HttpModule {}
