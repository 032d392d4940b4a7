import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';

/** How soon an EventSource reconnects to a stream that ended (a restarted or stopping api, a stream's lifetime). */
export const EVENT_STREAM_RETRY_MS = 1000;
/** How long a stream stays open before the client reconnects (and its key is checked again). */
export const EVENT_STREAM_SECONDS = 300;

export interface EventStream {
  done: boolean;
  send(event: string, data: unknown): void;
  /** Ends the stream after what was sent before it. */
  finish(): void;
  onFinish(step: () => void): void;
}

export interface EventStreamOptions {
  /** Runs after each heartbeat comment (every 15 s). */
  tick?: () => void;
  /**
   * Asked before every event and heartbeat: once it says no (the key was revoked or expired), the stream ends
   * without sending. Sends and finish keep their order.
   */
  authorized?: () => Promise<boolean>;
}

/**
 * Server-Sent Events responses, and the ones still open. Each stream starts with `retry:` so EventSource clients
 * reconnect soon after it ends; it ends after EVENT_STREAM_SECONDS, when its key stops being usable, when the client
 * leaves, and — every open stream — before the HTTP server closes: an open console tab must not hold a stop until its
 * forced exit (the clients reconnect to the next api process).
 */
@Injectable()
export class EventStreams implements BeforeApplicationShutdown {
  private readonly open = new Map<EventStream, () => void>();

  start(request: Request, response: Response, options: EventStreamOptions = {}): EventStream {
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Accel-Buffering', 'no'); // nginx: do not buffer the stream
    response.flushHeaders();
    response.write(`retry: ${EVENT_STREAM_RETRY_MS}\n\n`);
    const undo: Array<() => void> = [];
    let queue = Promise.resolve();
    const finishNow = () => {
      if (stream.done) return;
      stream.done = true;
      this.open.delete(stream);
      clearInterval(heartbeat);
      clearTimeout(lifetime);
      for (const step of undo) step();
      response.end();
    };
    const whenAuthorized = (write: () => void) => {
      const authorized = options.authorized;
      queue = queue
        .then(() => (stream.done ? false : authorized ? authorized() : true))
        .then((ok) => (stream.done ? undefined : ok ? write() : finishNow()))
        .catch(finishNow);
    };
    const stream: EventStream = {
      done: false,
      send: (event: string, data: unknown) => {
        const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
        whenAuthorized(() => response.write(text));
      },
      finish: () => {
        queue = queue.then(finishNow);
      },
      onFinish: (step: () => void) => {
        if (stream.done) step();
        else undo.push(step);
      },
    };
    const heartbeat = setInterval(() => {
      whenAuthorized(() => {
        response.write(': keep-alive\n\n');
        options.tick?.();
      });
    }, 15_000);
    const lifetime = setTimeout(finishNow, EVENT_STREAM_SECONDS * 1000);
    this.open.set(stream, finishNow);
    request.on('close', finishNow);
    return stream;
  }

  /** How many streams are open (metrics, tests). */
  get size(): number {
    return this.open.size;
  }

  /** Before the HTTP server closes (Nest's order: this hook, then the server, then the connections). */
  beforeApplicationShutdown(): void {
    for (const finishNow of [...this.open.values()]) finishNow();
  }
}
