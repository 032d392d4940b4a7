import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatValue, Unit } from './report';

export interface ChartSeries {
  label: string;
  values: number[];
  unit: Unit;
  /** bars: what was added in each bucket; step: a level held through the bucket. */
  kind: 'bars' | 'step';
  /** A CSS custom property of styles.css (the palette follows light and dark mode). */
  color: string;
}

const KiB = 1024;
/** Axis steps that read well: 1, 2, 5 (× 10ⁿ) for counts; powers of two of each binary unit for bytes; clock steps for seconds. */
const COUNT_STEPS = Array.from({ length: 16 }, (_, power) => [1, 2, 5].map((m) => m * 10 ** power)).flat();
const BYTE_STEPS = Array.from({ length: 6 }, (_, power) => [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * KiB ** power)).flat();
const SECOND_STEPS = [
  0.001,
  0.002,
  0.005,
  0.01,
  0.02,
  0.05,
  0.1,
  0.2,
  0.5,
  1,
  2,
  5,
  10,
  15,
  30,
  60,
  120,
  300,
  600,
  900,
  1800,
  3600,
  7200,
  4 * 3600,
  6 * 3600,
  12 * 3600,
  86_400,
  2 * 86_400,
  7 * 86_400,
  30 * 86_400,
  100 * 86_400,
  365 * 86_400,
];
const STEPS: Record<Unit, number[]> = { count: COUNT_STEPS, bytes: BYTE_STEPS, seconds: SECOND_STEPS };

/** Short axis labels: "256 KiB", "1.5 GiB", "30 min", "2 h". */
export function axisLabel(unit: Unit, value: number): string {
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let index = 0;
    let scaled = value;
    while (Math.abs(scaled) >= KiB && index < units.length - 1) {
      scaled /= KiB;
      index += 1;
    }
    return `${Number(scaled.toFixed(2))} ${units[index]}`;
  }
  if (unit === 'seconds') {
    if (value >= 86_400) return `${Number((value / 86_400).toFixed(1))} d`;
    if (value >= 3600) return `${Number((value / 3600).toFixed(1))} h`;
    if (value >= 60) return `${Number((value / 60).toFixed(1))} min`;
    if (value > 0 && value < 1) return `${Number((value * 1000).toPrecision(3))} ms`;
    return `${Number(value.toFixed(1))} s`;
  }
  return new Intl.NumberFormat('en', { notation: value >= 10_000 ? 'compact' : 'standard' }).format(value);
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#0b5cad';
const translucent = (color: string) => (color.startsWith('#') && color.length === 7 ? `${color}40` : color);

/**
 * A uPlot chart of one or two metrics over the report's buckets (UTC): bars for amounts per bucket, a stepped area
 * for a level, a second y axis when the units differ. It follows the width of its box; `label` names it for
 * screen readers, which get the same figures as a table beside it.
 */
export function UsageChart({ label, x, end, series, height = 220 }: { label: string; x: number[]; end: number; series: ChartSeries[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const units = [...new Set(series.map((one) => one.unit))];
    const text = css('--muted');
    const grid = css('--border');
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: element.clientWidth < 500 ? Math.min(height, 180) : height,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true, range: () => [x[0] ?? end - 1, end] },
        ...Object.fromEntries(
          units.map((unit) => [unit, { range: (_: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, max > 0 ? max * 1.08 : 1] }]),
        ),
      },
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        ...units.map((unit, index): uPlot.Axis => ({
          scale: unit,
          side: index === 0 ? 3 : 1,
          stroke: text,
          grid: { show: index === 0, stroke: grid, width: 1 },
          ticks: { stroke: grid },
          incrs: STEPS[unit],
          size: 70,
          values: (_, splits) => splits.map((split) => axisLabel(unit, split)),
        })),
      ],
      series: [
        { label: 'Bucket (UTC)' },
        ...series.map((one): uPlot.Series => {
          const color = css(one.color);
          return {
            label: one.label,
            scale: one.unit,
            stroke: color,
            width: one.kind === 'step' ? 2 : 1,
            fill: translucent(color),
            points: { show: false },
            value: (_, value) => formatValue(one.unit, value),
            paths: one.kind === 'bars' ? uPlot.paths.bars!({ align: 1, size: [0.8, 48] }) : uPlot.paths.stepped!({ align: 1 }),
          };
        }),
      ],
    };
    // one more point at the range's end: a level is drawn through its last bucket (a step ends at its last point),
    // and no bar starts there
    const data: uPlot.AlignedData = [[...x, end], ...series.map((one) => [...one.values, one.kind === 'step' ? (one.values.at(-1) ?? 0) : null])];
    const plot = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => {
      const width = Math.max(200, element.clientWidth);
      if (width !== plot.width) plot.setSize({ width, height: width < 500 ? Math.min(height, 180) : height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, end, series, height]);
  return <div class="usage-chart" ref={box} role="img" aria-label={label} />;
}
