import { invalidInput } from '@gds/common';
import type { ModelFormat } from '@gds/db';

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

type Container = 'zip' | 'pickle';

/**
 * Tells a model's container from its first bytes, without deserializing anything: torch.save and TorchScript write
 * zip archives, pickle.dumps (and torch.save's legacy format) a pickle stream of protocol 2 or later.
 */
export function detectContainer(head: Buffer): Container | undefined {
  if (head.length >= 4 && head.subarray(0, 4).equals(ZIP_MAGIC)) {
    return 'zip';
  }
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return 'pickle';
  }

  return undefined;
}

/** The format to record for a model: the declared one when the bytes can hold it, else what the bytes show. */
export function resolveModelFormat(head: Buffer, declared: ModelFormat | undefined): ModelFormat {
  const container = detectContainer(head);
  if (!container) {
    throw invalidInput('not a PyTorch model: expected a torch.save/TorchScript zip archive or a pickle stream');
  }

  if (!declared) {
    return container === 'zip' ? 'TORCH_ARCHIVE' : 'PICKLE';
  }
  const fits =
    (declared === 'TORCHSCRIPT' && container === 'zip') ||
    (declared === 'PICKLE' && container === 'pickle') ||
    (declared === 'TORCH_SAVE' && (container === 'zip' || container === 'pickle'));
  if (!fits) {
    throw invalidInput(`declared format ${declared} does not match the bytes, which are a ${container} stream`);
  }

  return declared;
}

/** A trained state_dict comes back from torch.save: a zip archive, or a pickle stream from older writers. */
export function assertResultContainer(head: Buffer): void {
  if (!detectContainer(head)) {
    throw invalidInput('not a torch.save state_dict: expected a zip archive or a pickle stream');
  }
}
