import { Injectable } from '@nestjs/common';
import { extname } from 'node:path';

/**
 * Extensions file-type cannot see: formats without a magic number (text, SVG, subtitles). Formats that have one
 * (JPEG, PNG, GIF, WebP, TIFF, MP4/MOV, MKV/WebM, MP3, WAV, PDF, ZIP) are not here on purpose: their name alone proves
 * nothing (a text file named `evil.jpg` must not be stored and served as image/jpeg), only their bytes do.
 */
const BY_EXTENSION: Record<string, string> = {
  '.txt': 'text/plain',
  '.text': 'text/plain',
  '.log': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.srt': 'application/x-subrip',
  '.vtt': 'text/vtt',
};

/**
 * Mime detection in the order that works: magic numbers (file-type) first, then the extension (only of formats
 * without a magic number: text, SVG, subtitles), then a text sniff (valid UTF-8 without control bytes is text/plain).
 * Works on the first bytes captured while streaming.
 */
@Injectable()
export class MimeDetector {
  private fileType?: Promise<typeof import('file-type')>;

  async detect(head: Buffer, name: string): Promise<string> {
    const detected = await this.magic(head);
    if (detected) return detected.mime;
    const byExtension = BY_EXTENSION[extname(name).toLowerCase()];
    if (byExtension) return byExtension;
    if (head.length > 0 && looksLikeText(head)) return 'text/plain';
    return 'application/octet-stream';
  }

  /** What the magic number of these first bytes says (file-type's extension and mimetype), if it says anything. */
  async magic(head: Buffer): Promise<{ ext: string; mime: string } | undefined> {
    if (head.length === 0) return undefined;
    this.fileType ??= import('file-type');
    return (await this.fileType).fileTypeFromBuffer(head).catch(() => undefined);
  }
}

export function looksLikeText(sample: Buffer): boolean {
  // A multi-byte character may be cut at the end of the sample: ignore up to 3 trailing bytes.
  const text = new TextDecoder('utf-8', { fatal: false }).decode(sample.subarray(0, Math.max(0, sample.length - 3)));
  if (text.includes('\uFFFD')) return false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // control characters other than tab, line feed, vertical tab, form feed and carriage return
    if (code <= 0x08 || (code >= 0x0e && code <= 0x1f) || code === 0x7f) return false;
  }
  return true;
}
