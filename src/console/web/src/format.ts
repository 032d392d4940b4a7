/** Display helpers shared by every page. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number | string | null | undefined): string {
  const value = Number(bytes ?? 0);
  if (!Number.isFinite(value)) return '—';
  let unit = 0;
  let scaled = Math.abs(value);
  while (scaled >= 1024 && unit < UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${value < 0 ? '-' : ''}${unit === 0 ? scaled : scaled.toFixed(scaled < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

export function formatDate(value: string | Date | null | undefined): string {
  if (!value) return '—';
  const date = typeof value === 'string' ? new Date(value) : value;
  return Number.isNaN(date.getTime()) ? '—' : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function resourcePath(resource: { type: string; id: string | null }): string {
  switch (resource.type) {
    case 'provider':
      return '/containers';
    case 'container':
      return `/containers/${resource.id}`;
    case 'service':
      return `/services/${resource.id}`;
    case 'mfolder':
      return `/mfolders/${resource.id}`;
    case 'mfile':
      return `/mfiles/${resource.id}`;
    case 'job':
      return `/jobs/${resource.id}`;
    default:
      return '/';
  }
}
