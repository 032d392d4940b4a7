import type { Response } from 'express';
import { sendProblem } from './problem.filter';

describe('sendProblem after the answer started', () => {
  const problem = { type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'late' };
  const answered = (writableEnded: boolean) => {
    let destroyed = false;
    const response = { headersSent: true, writableEnded, destroy: () => (destroyed = true) } as unknown as Response;
    sendProblem(response, problem);
    return destroyed;
  };

  it('cuts a connection whose answer is under way, so a truncated body is never taken for a whole one', () => {
    expect(answered(false)).toBe(true);
  });

  it('leaves a complete answer and its kept-alive connection alone (an error after the answer)', () => {
    expect(answered(true)).toBe(false);
  });
});
