import { Inject, Injectable } from '@nestjs/common';
import { GdsErrorCode, GdsException, invalidInput, isSha256Hex, notFound, type Logger } from '@gds/common';
import { BlobStore, type ModelFormat } from '@gds/db';

import type { CustomerCaller } from '../auth/caller.js';
import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { PrismaService } from '../database/prisma.service.js';
import { resolveModelFormat } from './model-format.js';

export interface UploadHeader {
  size: bigint;
  sha256: string;
  fileName: string | null;
  declaredFormat: ModelFormat | undefined;
}

export interface ModelUploadView {
  id: string;
  sha256: string;
  size: bigint;
  modelFormat: ModelFormat;
  fileName: string | null;
}

/** The reason given with INVALID_INPUT when the bytes are no PyTorch model at all (HTTP answers 422 for it). */
export const NOT_A_MODEL = 'NOT_A_MODEL';

/** Enough bytes to tell a zip archive from a pickle stream (see model-format.ts). */
const HEAD_BYTES = 8;

/**
 * Models streamed up ahead of submitQuery. Bytes go straight into a blob (one transaction, checked for size and
 * SHA-256), so a refused or interrupted upload leaves nothing; the upload row is written only after that.
 */
@Injectable()
export class ModelUploadService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Everything that can be checked before reading a byte. */
  checkHeader(header: UploadHeader): void {
    if (header.size <= 0n) {
      throw invalidInput('the model must have at least one byte');
    }
    if (header.size > BigInt(this.config.maxModelBytes)) {
      const message = `model of ${header.size} bytes exceeds ${this.config.maxModelBytes}`;
      throw new GdsException(GdsErrorCode.TOO_LARGE, message);
    }
    if (!isSha256Hex(header.sha256)) {
      throw invalidInput('X-Content-SHA256 must be the 64 lowercase hex digits of the SHA-256 of the body');
    }
  }

  async store(customer: CustomerCaller, header: UploadHeader, body: AsyncIterable<Buffer>): Promise<ModelUploadView> {
    this.checkHeader(header);
    let modelFormat: ModelFormat | undefined;

    const blob = await this.blobs.write(withHead(body, HEAD_BYTES), {
      size: header.size,
      sha256: header.sha256,
      inspectHead: (head) => (modelFormat = resolveFormat(head, header.declaredFormat)),
    });
    const upload = await this.prisma.modelUpload
      .create({
        data: {
          customerId: customer.customerId,
          blobId: blob.blobId,
          modelFormat: modelFormat!,
          fileName: header.fileName,
        },
      })
      .catch(async (error: unknown) => {
        await this.blobs.delete(blob.blobId);
        throw error;
      });
    const size = String(header.size);
    this.logger.info({ event: 'model.uploaded', uploadId: upload.id, customerId: customer.customerId, size });

    return toView(upload, blob);
  }

  async get(customer: CustomerCaller, uploadId: string): Promise<ModelUploadView> {
    const upload = isUuid(uploadId)
      ? await this.prisma.modelUpload.findUnique({
          where: { id: uploadId },
          include: { blob: { select: { size: true, sha256: true } } },
        })
      : null;
    if (!upload || upload.customerId !== customer.customerId) {
      throw notFound(`upload ${uploadId} not found`);
    }

    return toView(upload, upload.blob);
  }
}

function toView(
  upload: { id: string; modelFormat: ModelFormat; fileName: string | null },
  blob: { size: bigint; sha256: string },
): ModelUploadView {
  const { id, modelFormat, fileName } = upload;

  return { id, sha256: blob.sha256, size: blob.size, modelFormat, fileName };
}

function resolveFormat(head: Buffer, declared: ModelFormat | undefined): ModelFormat {
  try {
    return resolveModelFormat(head, declared);
  } catch (error) {
    throw error instanceof GdsException ? new GdsException(error.code, error.message, { reason: NOT_A_MODEL }) : error;
  }
}

/**
 * Holds back the first pieces until `bytes` of them arrived (or the stream ended), so the format check sees a real
 * head even when the network delivers the first bytes one by one. Pieces are passed on, not copied, after that.
 */
async function* withHead(source: AsyncIterable<Buffer>, bytes: number): AsyncGenerator<Buffer> {
  let head: Buffer[] | undefined = [];
  let headBytes = 0;

  for await (const piece of source) {
    if (!head) {
      yield piece;
      continue;
    }
    head.push(piece);
    headBytes += piece.length;
    if (headBytes >= bytes) {
      yield head.length === 1 ? head[0] : Buffer.concat(head);
      head = undefined;
    }
  }
  if (head && headBytes > 0) {
    yield Buffer.concat(head);
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
}
