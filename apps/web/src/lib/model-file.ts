// What the portal can tell about a model file before sending it: its container from the first bytes (as the API
// does, without deserializing anything) and whether its size is acceptable.

export type ModelContainer = 'zip' | 'pickle';

export interface ModelFileCheck {
  ok: boolean;
  container?: ModelContainer;
  /** For a pickle stream, its protocol number. */
  pickleProtocol?: number;
  /** What a person reads: what the file looks like, or why it is refused. */
  message: string;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** Bytes the check needs from the start of the file. */
export const HEAD_BYTES = 8;

/** The file extensions offered in the file chooser (any file may still be dropped; its bytes decide). */
export const MODEL_FILE_ACCEPT = '.pt,.pth,.pkl,.pickle,.bin,.zip,.ts,.ptc';

export function detectContainer(head: Uint8Array): { container?: ModelContainer; pickleProtocol?: number } {
  if (head.length >= 4 && ZIP_MAGIC.every((byte, i) => head[i] === byte)) return { container: 'zip' };
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return { container: 'pickle', pickleProtocol: head[1] };
  }

  return {};
}

/** Checks a file's size and first bytes; `ok: false` comes with the reason to show. */
export function checkModelFile(
  size: number,
  head: Uint8Array,
  maxBytes: number,
  formatBytes: (n: number) => string,
): ModelFileCheck {
  if (size === 0) return { ok: false, message: 'This file is empty.' };
  if (size > maxBytes) {
    return {
      ok: false,
      message: `This file is ${formatBytes(size)}; the largest model GDS accepts is ${formatBytes(maxBytes)}.`,
    };
  }

  const { container, pickleProtocol } = detectContainer(head);
  if (container === 'zip') {
    return { ok: true, container, message: 'A zip archive, as torch.save and TorchScript write them.' };
  }
  if (container === 'pickle') {
    return {
      ok: true,
      container,
      pickleProtocol,
      message: `A pickle stream (protocol ${pickleProtocol}), as pickle.dumps writes it.`,
    };
  }

  return {
    ok: false,
    message:
      'This file is not a PyTorch model: expected a torch.save or TorchScript file (a zip archive) or a pickle ' +
      'stream (protocol 2 or later).',
  };
}
