/**
 * The rule for quotas on applications' own metrics (`app/<name>`, recorded with POST /services/:id/usage), Node-free:
 * the API validates with it and the console checks a form with it before sending.
 */

/** An application metric's name, as recorded under `app/`. */
export const APP_METRIC_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The most application metrics one service or container may limit. */
export const MAX_APP_QUOTAS = 50;

/** Why a map of application-metric quotas is not one, or null: names as recorded, limits finite and ≥ 0. */
export function appQuotasProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of metric name → monthly limit, or null';
  const entries = Object.entries(value);
  if (entries.length > MAX_APP_QUOTAS) return `may limit at most ${MAX_APP_QUOTAS} metrics`;
  for (const [name, limit] of entries) {
    if (!APP_METRIC_NAME.test(name)) return `has "${name}", which is not a metric name (1 to 64 letters, digits, _ . or -, without app/)`;
    // names every object has (constructor, toString...) cannot be told apart from a missing limit in JSON maps
    if (name in Object.prototype) return `has "${name}", a name reserved by JavaScript objects: record that metric under another name to limit it`;
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) return `limit of "${name}" must be a finite number ≥ 0`;
  }
  return null;
}
