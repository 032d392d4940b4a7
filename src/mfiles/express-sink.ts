import type { Response } from 'express';
import type { Writable } from 'node:stream';
import { ContentProblem, ContentSink } from './download';

/** A download's answer written to an Express response (controllers, and the WebDAV handler that owns its response). */
export function expressSink(response: Response): ContentSink {
  return {
    setHeader: (name: string, value: string) => void response.setHeader(name, value),
    end: (status: number) => void response.status(status).end(),
    problem: (problem: ContentProblem) => void response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem)),
    body: (status: number): Writable => response.status(status),
  };
}
