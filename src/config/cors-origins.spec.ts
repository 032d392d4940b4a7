import { loadConfig } from './config';
import { parseCorsOrigins } from './cors-origins';

describe('CORS_ORIGINS', () => {
  it('is none by default, a list of origins, or * alone', () => {
    expect(parseCorsOrigins(undefined)).toEqual({ any: false, origins: [] });
    expect(parseCorsOrigins(' https://app.example.com , http://127.0.0.1:8080,https://app.example.com')).toEqual({
      any: false,
      origins: ['https://app.example.com', 'http://127.0.0.1:8080'],
    });
    expect(parseCorsOrigins('*')).toEqual({ any: true, origins: [] });
  });

  it('names an entry that is not an origin', () => {
    for (const bad of ['https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://files.example.com', 'https://App.example.com'])
      expect(() => parseCorsOrigins(bad)).toThrow(`"${bad}" is not an origin`);
    expect(() => parseCorsOrigins('*,https://app.example.com')).toThrow(/cannot be listed with other origins/);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/' })).toThrow(/CORS_ORIGINS: "https:\/\/app.example.com\/" is not an origin/);
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com' }).cors).toEqual({ any: false, origins: ['https://app.example.com'] });
  });
});
