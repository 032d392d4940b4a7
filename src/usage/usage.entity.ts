import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One metered fact. No foreign keys on purpose: usage outlives what it measured (a deleted service is still
 * billed for the month it existed). Tenant path columns are indexed for per-service and per-container queries.
 */
@Entity('usage')
@Index('idx_usage_service_metric_time', ['serviceId', 'metric', 'recordedAt'])
@Index('idx_usage_container_metric_time', ['containerId', 'metric', 'recordedAt'])
@Index('idx_usage_resource', ['resourceId', 'metric'])
@Index('idx_usage_metric_time', ['metric', 'recordedAt'])
@Index('idx_usage_unrolled', ['id'], { where: 'NOT rolled_up' })
@Index('uq_usage_idempotency', ['idempotencyKey'], { unique: true, where: 'idempotency_key IS NOT NULL' })
export class Usage {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ type: 'varchar', length: 200 }) metric: string;
  @Column({ type: 'double precision' }) value: number;
  @Column({ type: 'uuid', nullable: true }) containerId: string | null;
  @Column({ type: 'uuid', nullable: true }) serviceId: string | null;
  /** The Mfile, Job, JobOutput or backup copy the fact is about, when there is one. */
  @Column({ type: 'varchar', length: 20, nullable: true }) resourceType: string | null;
  @Column({ type: 'uuid', nullable: true }) resourceId: string | null;
  @Column({ type: 'timestamptz', default: () => 'now()' }) recordedAt: Date;
  /** Makes recording exactly-once: a retried request or job reuses its key and the second insert is ignored. */
  @Column({ type: 'varchar', length: 255, nullable: true }) idempotencyKey: string | null;
  /** Set, in the same transaction, when the fact was added to the rollups: every fact is in exactly one of the two. */
  @Column({ type: 'boolean', default: false }) rolledUp: boolean;
}

/**
 * Pre-aggregated usage per day and month (UTC), per service (or per container for container-level facts,
 * with the nil UUID as service) and metric. Enough to answer sum/count/min/max/mean/stddev and byte-hours without
 * reading raw facts: `sumRest` is Σ value × (bucket end − time of the fact) in hours, the part of a bucket's
 * byte-hours that comes from changes inside it.
 */
@Entity('usage_rollup')
@Index('idx_usage_rollup_container', ['grain', 'containerId', 'metric', 'bucket'])
@Index('idx_usage_rollup_metric', ['grain', 'metric', 'bucket'])
export class UsageRollup {
  @PrimaryColumn({ type: 'varchar', length: 5 }) grain: string;
  @PrimaryColumn({ type: 'uuid' }) serviceId: string;
  @PrimaryColumn({ type: 'varchar', length: 200 }) metric: string;
  @PrimaryColumn({ type: 'timestamptz' }) bucket: Date;
  @PrimaryColumn({ type: 'uuid' }) containerId: string;
  @Column({ type: 'double precision' }) sum: number;
  @Column({ type: 'bigint' }) count: string;
  @Column({ type: 'double precision' }) min: number;
  @Column({ type: 'double precision' }) max: number;
  @Column({ type: 'double precision' }) sumSq: number;
  @Column({ type: 'double precision' }) sumRest: number;
}
