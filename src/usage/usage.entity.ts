import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One metered fact. No foreign keys on purpose: usage outlives what it measured (a deleted service is still
 * billed for the month it existed). Tenant path columns are indexed for per-service and per-container queries.
 */
@Entity('usage')
@Index('idx_usage_service_metric_time', ['serviceId', 'metric', 'recordedAt'])
@Index('idx_usage_container_metric_time', ['containerId', 'metric', 'recordedAt'])
@Index('idx_usage_resource', ['resourceId', 'metric'])
@Index('uq_usage_idempotency', ['idempotencyKey'], { unique: true, where: 'idempotency_key IS NOT NULL' })
export class Usage {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ type: 'varchar', length: 200 }) metric: string;
  @Column({ type: 'double precision' }) value: number;
  @Column({ type: 'uuid', nullable: true }) containerId: string | null;
  @Column({ type: 'uuid', nullable: true }) serviceId: string | null;
  /** The Mfile, Job or JobOutput the fact is about, when there is one. */
  @Column({ type: 'varchar', length: 20, nullable: true }) resourceType: string | null;
  @Column({ type: 'uuid', nullable: true }) resourceId: string | null;
  @Column({ type: 'timestamptz', default: () => 'now()' }) recordedAt: Date;
  /** Makes recording exactly-once: a retried request or job reuses its key and the second insert is ignored. */
  @Column({ type: 'varchar', length: 255, nullable: true }) idempotencyKey: string | null;
}
