import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';

/** How soon an EventSource reconnects to a stream that ended (a restarted or stopping api, the service stream's lifetime). */
export const EVENT_STREAM_RETRY_MS = 1000;

export interface EventStream {
  done: boolean;
  send(event: string, data: unknown): void;
  finish(): void;
  onFinish(step: () => void): void;
}

/**
 * Server-Sent Events responses, and the ones still open. Each stream starts with `retry:` so EventSource clients
 * reconnect soon after it ends, and every open stream is ended before the HTTP server closes: an open console tab
 * must not hold a stop until its forced exit (the clients reconnect to the next api process).
 */
@Injectable()
export class EventStreams implements BeforeApplicationShutdown {
  private readonly open = new Set<EventStream>();

  /**
   * Opens a stream: `send(event, data)`, a comment every 15 s (after which `tick` runs, if given), `finish()` once,
   * also when the client leaves; `onFinish` adds what to undo then.
   */
  start(request: Request, response: Response, options: { tick?: () => void } = {}): EventStream {
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Accel-Buffering', 'no'); // nginx: do not buffer the stream
    response.flushHeaders();
    response.write(`retry: ${EVENT_STREAM_RETRY_MS}\n\n`);
    const undo: Array<() => void> = [];
    const stream: EventStream = {
      done: false,
      send: (event: string, data: unknown) => {
        if (!stream.done) response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      finish: () => {
        if (stream.done) return;
        stream.done = true;
        this.open.delete(stream);
        clearInterval(heartbeat);
        for (const step of undo) step();
        response.end();
      },
      onFinish: (step: () => void) => {
        if (stream.done) step();
        else undo.push(step);
      },
    };
    const heartbeat = setInterval(() => {
      response.write(': keep-alive\n\n');
      options.tick?.();
    }, 15_000);
    this.open.add(stream);
    request.on('close', stream.finish);
    return stream;
  }

  /** How many streams are open (metrics, tests). */
  get size(): number {
    return this.open.size;
  }

  /** Before the HTTP server closes (Nest's order: this hook, then the server, then the connections). */
  beforeApplicationShutdown(): void {
    for (const stream of [...this.open]) stream.finish();
  }
}
