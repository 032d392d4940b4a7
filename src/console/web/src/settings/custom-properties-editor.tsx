import { useRef } from 'preact/hooks';
import { CUSTOM_TYPE_LABELS, CUSTOM_TYPES, CustomRow, CustomRowErrors, CustomType, parseRowValue } from './custom-properties';
import { FieldErrors } from './step-editor';

/** The id of a row's control, so that the form can move the focus to the first invalid one. */
export const customFieldId = (index: number, part: 'name' | 'value') => `sp-prop-${index}-${part}`;

/** Keeps the value when the type changes, where it still means something (42 as text, "42" as a number). */
function retype(row: CustomRow, type: CustomType): CustomRow {
  if (type === row.type) return row;
  const parsed = parseRowValue(row);
  const value = 'value' in parsed ? parsed.value : row.value;
  if (type === 'boolean') return { ...row, type, value: value === true || value === 'true' ? 'true' : 'false' };
  if (type === 'json') return { ...row, type, value: row.value === '' ? '' : JSON.stringify(value) };
  return { ...row, type, value: typeof value === 'string' ? value : JSON.stringify(value) };
}

/**
 * Free-form properties of a service as rows of name, type and value, for whatever the customer keeps with it
 * (department, cost centre, retention note). The rows are validated as typed; the whole set is saved with the form.
 */
export function CustomPropertiesEditor(props: {
  rows: CustomRow[];
  errors: CustomRowErrors[];
  general: string | null;
  readOnly: boolean;
  onChange: (rows: CustomRow[]) => void;
}) {
  const { rows, errors } = props;
  // a stable key per row, so that removing one does not re-create (and unfocus) the others; rows replaced from
  // outside (read again after saving) get new keys
  const keys = useRef<number[]>([]);
  const counter = useRef(0);
  if (keys.current.length !== rows.length) keys.current = rows.map(() => counter.current++);
  const focus = (id: string) => setTimeout(() => document.getElementById(id)?.focus(), 0);
  const update = (index: number, row: CustomRow) => props.onChange(rows.map((each, at) => (at === index ? row : each)));
  const remove = (index: number) => {
    keys.current = keys.current.filter((_, at) => at !== index);
    props.onChange(rows.filter((_, at) => at !== index));
    // the focus goes to the row that took its place, the one before it, or "Add property"
    const left = rows.length - 1;
    focus(left === 0 ? 'sp-prop-add' : customFieldId(Math.min(index, left - 1), 'name'));
  };
  const add = () => {
    keys.current = [...keys.current, counter.current++];
    props.onChange([...rows, { name: '', type: 'text', value: '' }]);
    // the new row's name field, once rendered
    focus(customFieldId(rows.length, 'name'));
  };
  const aria = (index: number, part: 'name' | 'value') => {
    const message = errors[index]?.[part];
    return {
      id: customFieldId(index, part),
      'aria-invalid': Boolean(message),
      'aria-describedby': message ? `${customFieldId(index, part)}-errors` : undefined,
    };
  };

  return (
    <fieldset class="sp-custom" aria-describedby={props.general ? 'sp-properties-errors' : undefined}>
      <legend>Custom properties</legend>
      <p class="muted">Anything you want to keep with the service, such as a department or a cost centre. Other programs read them over the API.</p>
      {rows.length === 0 && <p class="muted">None yet.</p>}
      {rows.length > 0 && (
        <table class="sp-custom-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span class="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, index) => (
              <tr key={keys.current[index]}>
                <td data-label="Name">
                  <input
                    {...aria(index, 'name')}
                    aria-label={`Name of property ${index + 1}`}
                    value={row.name}
                    maxLength={255}
                    spellcheck={false}
                    onInput={(event) => update(index, { ...row, name: (event.target as HTMLInputElement).value })}
                  />
                  <FieldErrors id={`${customFieldId(index, 'name')}-errors`} messages={errors[index]?.name ? [errors[index].name!] : undefined} />
                </td>
                <td data-label="Type">
                  <select
                    aria-label={`Type of property ${index + 1}`}
                    value={row.type}
                    onChange={(event) => update(index, retype(row, (event.target as HTMLSelectElement).value as CustomType))}
                  >
                    {CUSTOM_TYPES.map((type) => (
                      <option key={type} value={type}>
                        {CUSTOM_TYPE_LABELS[type]}
                      </option>
                    ))}
                  </select>
                </td>
                <td data-label="Value">
                  {row.type === 'boolean' ? (
                    <select
                      {...aria(index, 'value')}
                      aria-label={`Value of property ${index + 1}`}
                      value={row.value}
                      onChange={(event) => update(index, { ...row, value: (event.target as HTMLSelectElement).value })}
                    >
                      <option value="true">Yes</option>
                      <option value="false">No</option>
                    </select>
                  ) : row.type === 'json' ? (
                    <textarea
                      {...aria(index, 'value')}
                      aria-label={`Value of property ${index + 1} (JSON)`}
                      rows={2}
                      spellcheck={false}
                      value={row.value}
                      onInput={(event) => update(index, { ...row, value: (event.target as HTMLTextAreaElement).value })}
                    />
                  ) : (
                    <input
                      {...aria(index, 'value')}
                      aria-label={`Value of property ${index + 1}`}
                      inputMode={row.type === 'number' ? 'decimal' : undefined}
                      value={row.value}
                      onInput={(event) => update(index, { ...row, value: (event.target as HTMLInputElement).value })}
                    />
                  )}
                  <FieldErrors id={`${customFieldId(index, 'value')}-errors`} messages={errors[index]?.value ? [errors[index].value!] : undefined} />
                </td>
                <td>
                  {!props.readOnly && (
                    <button type="button" class="secondary" aria-label={`Remove property ${row.name || index + 1}`} onClick={() => remove(index)}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <FieldErrors id="sp-properties-errors" messages={props.general ? [props.general] : undefined} />
      {!props.readOnly && (
        <button type="button" id="sp-prop-add" class="secondary" onClick={add}>
          Add property
        </button>
      )}
    </fieldset>
  );
}
