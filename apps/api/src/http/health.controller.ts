import type { IncomingMessage, ServerResponse } from 'node:http';

import { Controller, Get, Req, Res } from '@nestjs/common';

import { HttpCallContext, sendJson } from './http-call.js';

/** Liveness: the process serves HTTP. */
@Controller()
export class HealthController {
  constructor(private readonly calls: HttpCallContext) {}

  @Get('health')
  async health(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    await this.calls.run('GET /health', req, res, async () => sendJson(res, 200, { status: 'ok' }));
  }
}
