import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadGoodData } from '@gds/proto';
import { GRPC_FLOW_CONTROL_WINDOW, MAX_GRPC_MESSAGE_BYTES, type Logger } from '@gds/common';
import type { Http2Server, ServerHttp2Session } from 'node:http2';

import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { GoodDataGrpc } from './gooddata.grpc.js';

/**
 * Serves gooddata.v1.GoodDataService with @grpc/grpc-js directly rather than through Nest's microservice
 * transport: the handlers need the raw call objects for metadata, streaming backpressure and cancellation.
 */
@Injectable()
export class GrpcServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly server = new Server({
    'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_GRPC_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  private port = 0;

  constructor(
    private readonly service: GoodDataGrpc,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The bound port (useful when the configured port is 0). */
  get boundPort(): number {
    return this.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const proto = loadGoodData();
    this.server.addService(proto.gooddata.v1.GoodDataService.service, this.service.handlers());
    widenFlowControlWindow(this.server);

    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.config.grpcAddress, ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    widenSessionWindows(this.server);
    this.logger.info({ event: 'grpc.listening', address: this.config.grpcAddress, port: this.port });
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => this.server.forceShutdown(), 5_000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

// TODO(grpc-js server window): grpc-js 1.14 honours `grpc-node.flow_control_window` on clients only, so the server
// keeps HTTP/2's 64 KiB receive window and uploads stall on WINDOW_UPDATE round trips (grpc/grpc-node#3058).
// These two functions reach into the server's private fields to do what that pull request does; delete them and
// pass the option to `new Server()` once a release containing it is installed.
type ServerInternals = {
  commonServerOptions?: { settings?: Record<string, number> };
  http2Servers?: Map<Http2Server, unknown>;
};

function widenFlowControlWindow(server: Server): void {
  const internals = server as unknown as ServerInternals;
  if (internals.commonServerOptions) {
    internals.commonServerOptions.settings = {
      ...internals.commonServerOptions.settings,
      initialWindowSize: GRPC_FLOW_CONTROL_WINDOW,
    };
  }
}

function widenSessionWindows(server: Server): void {
  for (const http2Server of (server as unknown as ServerInternals).http2Servers?.keys() ?? []) {
    http2Server.on('session', (session: ServerHttp2Session) => session.setLocalWindowSize(GRPC_FLOW_CONTROL_WINDOW));
  }
}
