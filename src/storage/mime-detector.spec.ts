import { MimeDetector } from './mime-detector';

describe('MimeDetector', () => {
  const detector = new MimeDetector();
  const text = Buffer.from('<script>alert(document.cookie)</script>\nnot a picture at all\n');

  it.each(['evil.jpg', 'evil.jpeg', 'x.png', 'x.gif', 'x.webp', 'x.tif', 'x.tiff', 'x.mp4', 'x.mov', 'x.mkv', 'x.webm', 'x.mp3', 'x.wav', 'x.pdf', 'x.zip'])(
    'never takes %s from its name: text bytes are text/plain',
    async (name) => {
      expect(await detector.detect(text, name)).toBe('text/plain');
    },
  );

  it('bytes without magic nor text under a magic-number extension are application/octet-stream; empty ones too', async () => {
    expect(await detector.detect(Buffer.from([0x00, 0x01, 0x02, 0xfe, 0x00, 0x10, 0x80, 0x81]), 'evil.jpg')).toBe('application/octet-stream');
    expect(await detector.detect(Buffer.alloc(0), 'empty.png')).toBe('application/octet-stream');
  });

  it('real magic wins, and formats without magic are still told apart by extension', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    expect(await detector.detect(png, 'not-really.jpg')).toBe('image/png');
    expect(await detector.detect(Buffer.from('a,b\n1,2\n'), 'table.csv')).toBe('text/csv');
    expect(await detector.detect(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'icon.svg')).toBe('image/svg+xml');
  });
});
