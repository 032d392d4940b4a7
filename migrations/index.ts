import { Initial1795426813017 } from './1795426813017-Initial';

// Every migration, in order. scripts/migration-generate.mjs appends new ones here.
export const MIGRATIONS: Function[] = [Initial1795426813017];
