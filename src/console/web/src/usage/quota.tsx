import { appQuotaEntries } from './manage-form';
import { formatValue, quotaUse, Unit } from './report';

/**
 * One limit and how much of it is used: a bar with the numbers written out (the bar alone says nothing to a screen
 * reader or in high-contrast mode). Near the limit it turns amber, at the limit red: the next upload or job is refused.
 */
export function QuotaBar({
  label,
  used,
  limit,
  unit,
  period,
  compact,
}: {
  label: string;
  used: number;
  limit: number | null | undefined;
  unit: Unit;
  period?: string;
  compact?: boolean;
}) {
  const use = quotaUse(used, limit);
  const percent = use.limit === null ? null : Math.min(100, Math.round(use.fraction * 100));
  const text =
    use.limit === null
      ? `${formatValue(unit, used)} used${period ? ` ${period}` : ''} · no limit`
      : `${formatValue(unit, used)} of ${formatValue(unit, use.limit)}${period ? ` ${period}` : ''} (${Number.isFinite(use.fraction) ? Math.round(use.fraction * 100) : '∞'} %)`;
  return (
    <div class={`quota quota-${use.state}${compact ? ' compact' : ''}`}>
      <div class="quota-head">
        <span class={compact ? 'sr-only' : 'quota-label'}>{label}</span>
        <span class="quota-text">{text}</span>
      </div>
      <div
        class="quota-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
        aria-valuetext={text}
      >
        <div class="quota-fill" style={{ width: `${percent ?? 0}%` }} />
      </div>
      {use.state === 'full' && !compact && (
        <small class="quota-warning">
          Limit reached: further {unit === 'seconds' ? 'jobs are' : unit === 'count' ? 'records of it are' : 'uploads are'} refused.
        </small>
      )}
    </div>
  );
}

export interface Limits {
  diskQuota: number | null;
  ingestQuota: number | null;
  jobruntimeQuota: number | null;
}

/**
 * The quotas of a service or container against its use: disc now, ingest and job runtime this month, and this month's
 * use of each application metric it limits (`app`: name without app/, use, limit).
 */
export function QuotaBars({
  limits,
  disc,
  ingest,
  jobruntime,
  app = [],
}: {
  limits: Limits;
  disc: number;
  ingest: number;
  jobruntime: number;
  app?: Array<{ name: string; used: number; limit: number }>;
}) {
  return (
    <div class="quota-list">
      <QuotaBar label="Disk" used={disc} limit={limits.diskQuota} unit="bytes" />
      <QuotaBar label="Ingest" used={ingest} limit={limits.ingestQuota} unit="bytes" period="this month" />
      <QuotaBar label="Job runtime" used={jobruntime} limit={limits.jobruntimeQuota} unit="seconds" period="this month" />
      {app.map((quota) => (
        <QuotaBar key={quota.name} label={`app/${quota.name}`} used={quota.used} limit={quota.limit} unit="count" period="this month" />
      ))}
    </div>
  );
}

/** The application metrics a service or container limits, in name order, with this month's use (`usedOf`). */
export function appQuotaUse(
  appQuotas: Record<string, number> | null | undefined,
  usedOf: (metric: string) => number,
): Array<{ name: string; used: number; limit: number }> {
  return appQuotaEntries(appQuotas).map(([name, limit]) => ({ name, limit, used: usedOf(`app/${name}`) }));
}
