import { Module } from '@nestjs/common';

import { AccountModule } from './account/account.module.js';
import { CoreModule } from './core.module.js';
import { GdsGraphqlModule } from './graphql/graphql.module.js';
import { GoodDataGrpc } from './grpc/gooddata.grpc.js';
import { GrpcCallContext } from './grpc/grpc-call.js';
import { GrpcServer } from './grpc/grpc.server.js';
import { HttpModule } from './http/http.module.js';
import { DeadlineSweeper } from './query/deadline.sweeper.js';

export { closeInfrastructure, CoreModule } from './core.module.js';

/** The API process: gRPC for SDKs and Data Owners, HTTP for GraphQL, uploads and result downloads. */
@Module({
  imports: [CoreModule, AccountModule, HttpModule, GdsGraphqlModule],
  providers: [GrpcCallContext, GoodDataGrpc, GrpcServer, DeadlineSweeper],
})
export class AppModule {}
