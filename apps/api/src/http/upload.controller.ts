import type { IncomingMessage, ServerResponse } from 'node:http';

import { Controller, Post, Req, Res } from '@nestjs/common';
import { invalidInput } from '@gds/common';
import type { ModelFormat } from '@gds/db';

import { RequestAuthService } from '../account/request-auth.service.js';
import { ModelUploadService, type UploadHeader } from '../query/model-upload.service.js';
import { HttpCallContext, sendJson } from './http-call.js';

const DECLARABLE_FORMATS: ModelFormat[] = ['TORCH_SAVE', 'PICKLE', 'TORCHSCRIPT'];

/**
 * POST /uploads: the model bytes as the raw request body, streamed into a blob as they arrive (never buffered
 * whole; the socket is read only as fast as Postgres takes the bytes). Headers: Content-Length (required),
 * X-Content-SHA256 (required), X-File-Name (optional, URI-encoded), X-Model-Format (optional: TORCH_SAVE, PICKLE
 * or TORCHSCRIPT; otherwise told from the bytes). Answers 201 with the upload, whose id submitQuery takes.
 */
@Controller()
export class UploadController {
  constructor(
    private readonly auth: RequestAuthService,
    private readonly uploads: ModelUploadService,
    private readonly calls: HttpCallContext,
  ) {}

  @Post('uploads')
  async upload(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    await this.calls.run('POST /uploads', req, res, async (call) => {
      const viewer = await this.auth.require(req.headers);
      call.annotate({ customerId: viewer.customerId });
      const header = readUploadHeader(req);
      call.annotate({ size: header.size.toString() });
      this.uploads.checkHeader(header);

      const upload = await this.uploads.store(viewer, header, req);
      call.annotate({ uploadId: upload.id });

      sendJson(res, 201, upload);
    });
  }
}

function readUploadHeader(req: IncomingMessage): UploadHeader {
  const contentType = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim().toLowerCase();
  if (contentType !== 'application/octet-stream') {
    throw invalidInput('send the model as the raw body with Content-Type: application/octet-stream');
  }
  const length = req.headers['content-length'];
  if (!length || !/^\d{1,20}$/.test(length) || req.headers['transfer-encoding']) {
    throw invalidInput('Content-Length is required: the model size must be known before the first byte');
  }

  return {
    size: BigInt(length),
    sha256: String(req.headers['x-content-sha256'] ?? '').trim().toLowerCase(),
    fileName: readFileName(req.headers['x-file-name']),
    declaredFormat: readFormat(req.headers['x-model-format']),
  };
}

function readFileName(value: string | string[] | undefined): string | null {
  if (typeof value !== 'string' || !value) {
    return null;
  }
  let name: string;
  try {
    name = decodeURIComponent(value);
  } catch {
    throw invalidInput('X-File-Name must be URI-encoded');
  }
  // Only the base name, without control characters: it is shown back and used as a download name.
  const base = name.split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();

  return base ? base.slice(0, 255) : null;
}

function readFormat(value: string | string[] | undefined): ModelFormat | undefined {
  if (typeof value !== 'string' || !value) {
    return undefined;
  }
  const format = value.trim().toUpperCase() as ModelFormat;
  if (!DECLARABLE_FORMATS.includes(format)) {
    throw invalidInput(`X-Model-Format must be one of ${DECLARABLE_FORMATS.join(', ')}`);
  }

  return format;
}
