import { hostname } from 'node:os';
import { serverFree, toolMessage } from './tool-message';

describe('toolMessage', () => {
  const stored = '/srv/mserve/storage/blobs/41/4c/414c2f';

  it("keeps what ffprobe said about the file, without its banner, addresses or the server's paths", () => {
    // ffprobe 5.1's answer to a cut-short MP4, banner included
    const said = [
      'ffprobe exited with code 1',
      'ffprobe version 5.1.9-0+deb12u1 Copyright (c) 2007-2026 the FFmpeg developers',
      '  built with gcc 12 (Debian 12.2.0-14+deb12u1)',
      '  configuration: --prefix=/usr --enable-gpl',
      '  libavutil      57. 28.100 / 57. 28.100',
      '  libpostproc    56.  6.100 / 56.  6.100',
      '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55e2f0798240] moov atom not found',
      `${stored}: Invalid data found when processing input`,
      '',
    ].join('\n');
    expect(toolMessage(said, [[stored, 'the file']])).toBe(
      'ffprobe exited with code 1 / moov atom not found / the file: Invalid data found when processing input',
    );
  });

  it("says repeated lines once (libvips repeats its decoder's complaint)", () => {
    expect(
      toolMessage(
        'Input file has corrupt header: VipsJpeg: Bogus Huffman table definition\nVipsJpeg: Bogus Huffman table definition\nVipsJpeg: Bogus Huffman table definition',
        [],
      ),
    ).toBe('Input file has corrupt header: VipsJpeg: Bogus Huffman table definition / VipsJpeg: Bogus Huffman table definition');
    expect(toolMessage(`VipsForeignLoad: "${stored}" is not a known file format`, [[stored, 'the file']])).toBe(
      'VipsForeignLoad: "the file" is not a known file format',
    );
    expect(toolMessage('', [])).toBe('');
  });

  it('leaves no server path, temp name, host name or pid, labelled or not (issue 16 item 13)', () => {
    const root = '/srv/mserve/storage';
    const said = [
      `[hls @ 0x55e2f0798240] Impossible to open '${root}/blobs/9d/c7/9dc7a1e2-0000-4000-8000-000000000000'`,
      `[file @ 0x55e2f0798240] Could not open '/home/ops/private/other-tenant.mp4'`,
      `${root}/tmp/vm~11848~Xk2p.mp4: No space left on device`,
      '',
    ].join('\n');
    expect(toolMessage(said, [[root, 'the storage']])).toBe(
      "Impossible to open 'the storage' / Could not open 'a server path' / the storage: No space left on device",
    );
    expect(serverFree(`EACCES: permission denied, open 'vm~11848~Xk2p.jpg' on ${hostname()} (pid 11848, file:///etc/passwd)`)).toBe(
      "EACCES: permission denied, open 'a temporary file' on the server (pid, a server path)",
    );
    expect(
      serverFree(`ENOENT: no such file or directory, open '${root}/blobs/ab/cd/x'`, [
        [`${root}/blobs/ab/cd/x`, 'the file'],
        [root, 'the storage'],
      ]),
    ).toBe("ENOENT: no such file or directory, open 'the file'");
  });

  it('keeps what is not a path: mimetypes, URLs, ratios', () => {
    const text = 'transcode accepts video/*, audio/*; "a/b.mp4" is text/plain; fetched https://example.com/a/b?c=/d at 30000/1001 fps';
    expect(serverFree(text)).toBe(text);
  });
});
