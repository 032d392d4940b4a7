import { ArgumentMetadata, BadRequestException, INestApplication, RequestMethod, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { pinoHttp } from 'pino-http';
import { AppModule } from '../app.module';
import { sessionMiddleware } from '../auth/session';
import { consoleMiddleware } from '../console/console-middleware';
import type Redis from 'ioredis';
import { REDIS_CLIENT } from '../redis/redis-connections';
import { davMiddleware } from '../dav/dav.middleware';
import { buildOpenApiDocument } from './openapi';
import { DavService } from '../dav/dav.service';
import { PinoNestLogger, rootLogger } from '../common/logger';
import { ProblemFilter, toProblem } from '../common/problem.filter';
import { requestGuards } from '../common/request-guards';
import { AppConfig } from '../config/config';
import { httpRequests } from '../metrics/metrics';
import { redactUrl } from '../keys/key-extraction';
import { RequestAuthenticator } from '../keys/request-authenticator';
import { corsMiddleware } from './cors';
import { capConnectionsPerAddress, jsonBodies, refuseOverCap } from './http-edge';

/** `?key=` (a credential) and `?as=` (a held key's id) are not query parameters: neither is validated as one; keys are never logged. */
class AppValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata) {
    if (metadata.type === 'query' && value && typeof value === 'object' && ('key' in value || 'as' in value)) {
      const { key: _credential, as: _heldKeyId, ...rest } = value as Record<string, unknown>;
      value = rest;
    }
    if (metadata.type === 'body' && metadata.metatype && value && typeof value === 'object' && !Array.isArray(value)) {
      const refused = nullsNotDocumented(value as Record<string, unknown>, metadata.metatype);
      if (refused.length) throw new BadRequestException({ message: refused.map((name) => `${name} must not be null (leave it out to keep it as it is)`) });
    }
    return super.transform(value, metadata);
  }
}

/**
 * Members of a body sent as null that the API does not document as nullable (`nullable: true` in their
 * ApiProperty: quotas, the availability window, accessSpeed, profile). class-validator's IsOptional lets null through
 * as if absent, and a NOT NULL column then refused it with a 500 (`{"disabled": null}` on a user, REST fuzz).
 */
function nullsNotDocumented(body: Record<string, unknown>, metatype: NonNullable<ArgumentMetadata['metatype']>): string[] {
  return Object.keys(body).filter((name) => {
    if (body[name] !== null) return false;
    const documented = Reflect.getMetadata(SWAGGER_MODEL_PROPERTY, metatype.prototype, name) as { nullable?: boolean } | undefined;
    return documented?.nullable !== true;
  });
}
const SWAGGER_MODEL_PROPERTY = 'swagger/apiModelProperties';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the api application: the one place where HTTP-wide behaviour is configured (main.ts and tests). */
export async function createApiApp(config: AppConfig): Promise<NestExpressApplication> {
  const logger = rootLogger(config.logLevel, { role: 'api' });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  app.disable('x-powered-by');
  app.use(
    pinoHttp({
      logger,
      genReqId: (request, response) => {
        const given = request.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        response.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: {
        req: (request: { id: string; method: string; url: string }) => ({ id: request.id, method: request.method, url: redactUrl(request.url) }),
        res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
      },
      // 507 (storage or quota full) is an answer, not a fault; other 5xx are faults.
      customLogLevel: (_request, response) =>
        response.statusCode >= 500 && response.statusCode !== 507 ? 'error' : response.statusCode >= 400 ? 'info' : 'debug',
      autoLogging: { ignore: (request) => request.url === '/health/live' || request.url === '/metrics' },
    }),
  );
  // cross-origin apps (CORS_ORIGINS): their preflights are answered before anything asks for a key, and every answer
  // (a 429 of the connection cap too) carries the origin, so a browser app can read it and its Retry-After
  app.use(corsMiddleware(config.cors));
  app.use(refuseOverCap(config.http.maxConnectionsPerAddress));
  app.use((request: Request, response: Response, next: NextFunction) => {
    const end = httpRequests.startTimer();
    response.on('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
      end({ method: request.method, route: `${request.baseUrl ?? ''}${route}`, status: String(response.statusCode) });
    });
    next();
  });
  // WebDAV before the body parsers: a PUT of a .json file is content, not a request body to parse.
  app.use(davMiddleware(() => app.get(DavService)));
  // The console (static files) and people's sessions; requests without the session cookie never reach the store.
  app.use(consoleMiddleware());
  if (config.session.trustProxy)
    app.set(
      'trust proxy',
      /^\d+$/.test(config.session.trustProxy) ? Number(config.session.trustProxy) : config.session.trustProxy === 'true' ? true : config.session.trustProxy,
    );
  app.use(...sessionMiddleware(config, () => app.get<Redis>(REDIS_CLIENT)));
  // no JSON body is read before its key is checked, nor for longer than JSON_BODY_TIMEOUT_MS (http-edge.ts)
  app.use(jsonBodies(config, () => app.get(RequestAuthenticator)));
  app.use(requestGuards());
  app.setGlobalPrefix('api/v1', {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(new AppValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.useGlobalFilters(new ProblemFilter());
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  return app;
}

/**
 * Long uploads must not be cut by Node's default 5-minute request timeout (an upload reads its own body, as slowly
 * as the client sends it); slow headers still are (408), JSON bodies have their own deadline (http-edge.ts), and
 * each client address may hold at most MAX_CONNECTIONS_PER_ADDRESS connections.
 */
export function tuneServer(app: INestApplication, http: AppConfig['http']): void {
  const server = app.getHttpServer() as Server;
  capConnectionsPerAddress(server, http.maxConnectionsPerAddress);
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  // server.close() drops the keep-alive connections idle at that instant only; one still finishing a response
  // would then hold the shutdown for the whole keep-alive timeout. Keep closing them as they go idle, so a
  // stop waits for in-flight requests and nothing else.
  const close = server.close.bind(server);
  server.close = ((callback?: (error?: Error) => void) => {
    const sweeper = setInterval(() => server.closeIdleConnections(), 100);
    sweeper.unref();
    return close((error?: Error) => {
      clearInterval(sweeper);
      callback?.(error);
    });
  }) as Server['close'];
  server.on('clientError', answerClientError);
}

/**
 * A request Node's HTTP parser refuses before any handler sees it (headers over 16 KiB, a malformed request line or
 * header, chunk extensions too long, a request that did not arrive in time) gets the same problem+json every other
 * refusal gets instead of Node's bare status line, then the connection closes (its framing is unknown).
 */
export function answerClientError(
  error: Error & { code?: string; rawPacket?: Buffer },
  socket: Duplex & { _httpMessage?: { headersSent?: boolean } | null },
): void {
  if (error.code !== 'ECONNRESET' && socket.writable && !socket._httpMessage?.headersSent) {
    const [status, detail]: [number, string] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request line and headers are larger than the server accepts (16 KiB)']
        : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? [413, 'a chunk extension of the request body is larger than the server accepts']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'the request headers did not arrive in time']
            : [
                400,
                `the request is not well-formed HTTP/1.1${error.code?.startsWith('HPE_') ? ` (${error.code.slice(4).toLowerCase().replace(/_/g, ' ')})` : ''}`,
              ];
    const problem = toProblem({ status, message: detail });
    // an answer to HEAD has no body, and a client would read one as a broken next answer: the body goes out only when
    // the bytes that failed visibly start a request with another method (the parser keeps no method to ask; a request
    // split over several reads is answered with the status alone, as Node does) and no answer is still in flight
    const start = error.rawPacket?.subarray(0, 16).toString('latin1') ?? '';
    const body = !socket._httpMessage && /^[A-Z][A-Z-]* /.test(start) && !start.startsWith('HEAD ') ? JSON.stringify(problem) : '';
    socket.write(
      `HTTP/1.1 ${status} ${problem.title}\r\n${body ? `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ''}Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
