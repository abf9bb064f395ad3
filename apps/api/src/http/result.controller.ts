import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { BlobStore } from '@gds/db';

import { RequestAuthService } from '../account/request-auth.service.js';
import { QueryService } from '../query/query.service.js';
import { HttpCallContext } from './http-call.js';

/** Bytes read ahead of a slow client; the rest waits in Postgres. */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * GET /queries/:id/result: the verified state_dict, streamed from the blob store at the client's pace, with its
 * SHA-256 in X-Content-SHA256. 404 for another customer's query, exactly as for a missing one; 409 until COMPLETED.
 */
@Controller()
export class ResultController {
  constructor(
    private readonly auth: RequestAuthService,
    private readonly queries: QueryService,
    private readonly blobs: BlobStore,
    private readonly calls: HttpCallContext,
  ) {}

  @Get('queries/:id/result')
  async download(@Param('id') queryId: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    await this.calls.run('GET /queries/:id/result', req, res, async (call) => {
      const viewer = await this.auth.require(req.headers);
      call.annotate({ customerId: viewer.customerId, queryId });
      const query = await this.queries.getForCustomer(viewer, queryId);
      const result = await this.queries.getVerifiedResult(query);
      call.annotate({ executionId: result.execution.id, size: result.size.toString() });

      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': result.size.toString(),
        'Content-Disposition': `attachment; filename="${query.id}-state_dict.pt"`,
        'X-Content-SHA256': result.sha256,
        'Cache-Control': 'private, no-store',
      });
      const chunks = this.blobs.read(result.blobId);
      const bytes = Readable.from(chunks, { objectMode: false, highWaterMark: READ_AHEAD_BYTES });
      await pipeline(bytes, res);
    });
  }
}
