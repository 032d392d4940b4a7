import { toolMessage } from './tool-message';

describe('toolMessage', () => {
  const stored = '/srv/mserve/storage/blobs/41/4c/414c2f';

  it("keeps what ffprobe said about the file, without its banner, addresses or the server's paths", () => {
    // ffprobe 5.1's answer to a cut-short MP4, as fluent-ffmpeg passes it on
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
});
