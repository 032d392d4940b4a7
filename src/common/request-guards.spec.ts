import { jsonBodyProblem, MAX_JSON_DEPTH } from './request-guards';

describe('jsonBodyProblem', () => {
  it('takes ordinary bodies, emoji and nesting up to the limit', () => {
    expect(jsonBodyProblem({ name: 'Übersicht 😀', roles: ['a', 'b'], resource: { type: 'mfile', id: 'x' }, n: 1, ok: true, none: null })).toBeUndefined();
    let nested: unknown = 'leaf';
    for (let level = 0; level < MAX_JSON_DEPTH; level++) nested = [nested];
    expect(jsonBodyProblem(nested)).toBeUndefined();
    expect(jsonBodyProblem([nested])).toMatch(/^the JSON body is nested deeper than 64 levels \(at \[0\]\[0\]/);
  });

  it('walks a document far deeper than the call stack allows without overflowing', () => {
    let nested: unknown = {};
    for (let level = 0; level < 200_000; level++) nested = { d: nested };
    expect(jsonBodyProblem(nested)).toMatch(/^the JSON body is nested deeper than 64 levels \(at d\.d\.d/);
  });

  it('names where a NUL or half a surrogate pair is, in values and in member names', () => {
    expect(jsonBodyProblem({ a: [{ b: 'x\u0000' }] })).toBe('the string at a[0].b must not contain NUL characters');
    expect(jsonBodyProblem({ a: { 'bad\ud800': 1 } })).toBe('the member name at a must not contain unpaired UTF-16 surrogates');
    expect(jsonBodyProblem('\udc00')).toBe('the string at the top level must not contain unpaired UTF-16 surrogates');
  });
});
