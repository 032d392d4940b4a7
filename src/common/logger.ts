import { LoggerService } from '@nestjs/common';
import pino, { Logger as PinoLogger } from 'pino';

let root: PinoLogger | undefined;
const QUIET_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/** One structured (JSON lines) logger per process, built from the validated LOG_LEVEL. */
export function rootLogger(level = 'info', base: Record<string, unknown> = {}): PinoLogger {
  if (!root) root = pino({ level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime });
  return root;
}

/** Routes Nest's own logging into pino so every line is structured. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: PinoLogger) {}
  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, context?: string, extra?: unknown) {
    const fields: Record<string, unknown> = { context };
    if (extra) fields.detail = extra;
    if (typeof message === 'object' && message !== null) this.logger[level]({ ...fields, ...(message as object) });
    else this.logger[level](fields, String(message));
  }
  log(message: unknown, context?: string) {
    // Nest's start-up chatter (every module and route) is debug detail, not news.
    this.write(context && QUIET_CONTEXTS.has(context) ? 'debug' : 'info', message, context);
  }
  error(message: unknown, traceOrContext?: string, context?: string) {
    if (context) this.write('error', message, context, traceOrContext);
    else this.write('error', message, traceOrContext);
  }
  warn(message: unknown, context?: string) {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.write('trace', message, context);
  }
}
