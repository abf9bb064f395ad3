import { Module } from '@nestjs/common';

import { CoreModule } from '../core.module.js';
import { ModelUploadService } from './model-upload.service.js';
import { QueryReadService } from './query-read.service.js';

/** What the HTTP and GraphQL faces share beyond CoreModule: reading queries, and model uploads. */
@Module({
  imports: [CoreModule],
  providers: [QueryReadService, ModelUploadService],
  exports: [QueryReadService, ModelUploadService],
})
export class QueryReadModule {}
