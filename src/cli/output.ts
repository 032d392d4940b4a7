/** Output helpers of the CLI: tables for people, sizes and progress bars. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** A plain-text table: a header, columns padded to their widest cell (numbers aligned right). */
export function table(rows: Array<Record<string, string | number | null | undefined>>, columns: string[]): string {
  const cell = (value: string | number | null | undefined) => (value === null || value === undefined ? '' : String(value));
  const numeric = columns.map((column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number' || row[column] == null));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i]) : value.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.toUpperCase())), ...rows.map((row) => line(columns.map((column) => cell(row[column]))))].join('\n');
}

/** `[#####-----]` for a fraction in [0, 1]. */
export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export interface ProgressLine {
  label: string;
  done: number;
  total: number;
}

/**
 * Progress on a terminal (stderr): a bar per file in flight and one overall, redrawn in place at most every 100 ms.
 * Off a terminal it draws nothing: the per-file lines printed as files end are the record.
 */
export class ProgressBoard {
  private drawn = 0;
  private last = 0;
  readonly enabled: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(stream.isTTY) && process.env.CI !== 'true';
  }

  draw(lines: ProgressLine[], overall: ProgressLine, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    const render = ({ label, done, total }: ProgressLine) => {
      const fraction = total > 0 ? done / total : 1;
      const tail = ` ${bar(fraction, 20)} ${String(Math.floor(fraction * 100)).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)}`;
      const room = Math.max(8, width - tail.length);
      const name = label.length > room ? '…' + label.slice(label.length - room + 1) : label.padEnd(room);
      return (name + tail).slice(0, width);
    };
    const text = [...lines.map(render), render(overall)];
    this.clear();
    this.stream.write(text.join('\n') + '\n');
    this.drawn = text.length;
  }

  /** Removes the board (before a line that must stay, and at the end). */
  clear(): void {
    if (!this.enabled || this.drawn === 0) return;
    this.stream.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }
}
