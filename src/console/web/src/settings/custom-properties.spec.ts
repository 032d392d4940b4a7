import { CustomRow, isBlankRow, propertiesFromRows, rowsFromProperties, sameProperties, validateCustomRows } from './custom-properties';

describe('custom properties rows', () => {
  const properties = { department: 'news', costCentre: 4711, archived: false, tags: ['summer', 'fair'], owner: { name: 'Ana' }, none: null };

  it('turns an object into typed rows and back unchanged', () => {
    const rows = rowsFromProperties(properties);
    expect(rows).toEqual([
      { name: 'archived', type: 'boolean', value: 'false' },
      { name: 'costCentre', type: 'number', value: '4711' },
      { name: 'department', type: 'text', value: 'news' },
      { name: 'none', type: 'json', value: 'null' },
      { name: 'owner', type: 'json', value: '{"name":"Ana"}' },
      { name: 'tags', type: 'json', value: '["summer","fair"]' },
    ]);
    expect(propertiesFromRows(rows)).toEqual(properties);
    expect(validateCustomRows(rows)).toEqual({ rows: [{}, {}, {}, {}, {}, {}], general: null });
    expect(rowsFromProperties(null)).toEqual([]);
  });

  it('keeps a number typed as text as text, and leaves blank rows out', () => {
    const rows: CustomRow[] = [
      { name: 'zip', type: 'text', value: '01234' },
      { name: '', type: 'text', value: '  ' },
      { name: 'ratio', type: 'number', value: ' 0.5 ' },
    ];
    expect(isBlankRow(rows[1])).toBe(true);
    expect(propertiesFromRows(rows)).toEqual({ zip: '01234', ratio: 0.5 });
    expect(validateCustomRows(rows).rows).toEqual([{}, {}, {}]);
  });

  it('says what is wrong with each row', () => {
    const rows: CustomRow[] = [
      { name: '', type: 'text', value: 'orphan' },
      { name: 'n', type: 'number', value: '12abc' },
      { name: 'n', type: 'number', value: '' },
      { name: 'j', type: 'json', value: '{"a":' },
      { name: 'b', type: 'boolean', value: 'maybe' },
      { name: 'x'.repeat(256), type: 'text', value: 'long name' },
      { name: 'nul', type: 'text', value: 'a\u0000b' },
      { name: 'deep', type: 'json', value: '['.repeat(16) + ']'.repeat(16) },
    ];
    const { rows: errors } = validateCustomRows(rows);
    expect(errors[0]).toEqual({ name: 'A name is required.' });
    expect(errors[1]).toEqual({ value: 'Enter a number, such as 42 or 0.5.' });
    expect(errors[2]).toEqual({ name: 'Same name as row 2.', value: 'Enter a number, such as 42 or 0.5.' });
    expect(errors[3].value).toMatch(/^Not valid JSON: /);
    expect(errors[4]).toEqual({ value: 'Choose yes or no.' });
    expect(errors[5]).toEqual({ name: 'At most 255 characters.' });
    expect(errors[6]).toEqual({ value: 'Cannot contain a NUL character or half of a surrogate pair.' });
    expect(errors[7]).toEqual({ value: 'Nested more than 15 levels deep.' });
    // 15 levels inside the property: 16 with the properties object, the server's limit
    expect(validateCustomRows([{ name: 'deep', type: 'json', value: '['.repeat(15) + ']'.repeat(15) }]).rows).toEqual([{}]);
  });

  it('refuses a set over 64 KiB as a whole, as the server does', () => {
    const rows: CustomRow[] = [
      { name: 'a', type: 'text', value: 'x'.repeat(40_000) },
      { name: 'b', type: 'text', value: 'y'.repeat(30_000) },
    ];
    expect(validateCustomRows(rows).general).toBe('At most 64 KiB as JSON altogether (now 69 KiB).');
    expect(validateCustomRows(rows.slice(0, 1)).general).toBeNull();
  });

  it('refuses what jsonb cannot hold anywhere, and keeps a property named __proto__', () => {
    const rows: CustomRow[] = [
      { name: 'half', type: 'text', value: 'a\ud800b' },
      { name: 'nested', type: 'json', value: '{"deep": ["\\udc00"]}' },
      { name: 'pair', type: 'text', value: 'emoji 😀' },
    ];
    expect(validateCustomRows(rows).rows).toEqual([
      { value: 'Cannot contain a NUL character or half of a surrogate pair.' },
      { value: 'Cannot contain a NUL character or half of a surrogate pair.' },
      {},
    ]);
    const odd = propertiesFromRows([{ name: '__proto__', type: 'text', value: 'kept' }]);
    expect(Object.keys(odd)).toEqual(['__proto__']);
    expect(JSON.stringify(odd)).toBe('{"__proto__":"kept"}');
    expect(sameProperties(odd, JSON.parse('{"__proto__":"kept"}'))).toBe(true);
  });

  it('compares properties regardless of key order', () => {
    expect(sameProperties({ a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameProperties({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameProperties({}, null)).toBe(true);
    expect(sameProperties({ a: null }, {})).toBe(false);
  });
});
