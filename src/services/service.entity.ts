import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { bigintToNumber, JsonObject } from '../database/columns';

/** One customer's slice of a container: its own tree, profile, quotas and management properties. */
@Entity('service')
@Index('idx_service_container', ['containerId', 'id'])
@Index('idx_service_container_name', ['containerId', 'name', 'id'])
export class Service {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @Column({ type: 'text', nullable: true }) description: string | null;
  /** Suspended services are read-only. */
  @Column({ type: 'boolean', default: false }) suspended: boolean;
  /** MServe's starttime/endtime: outside this window the service refuses requests. */
  @Column({ type: 'timestamptz', nullable: true }) startsAt: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) endsAt: Date | null;
  /** Routes this service's tasks to the priority queue. */
  @Column({ type: 'boolean', default: false }) priority: boolean;
  /** Download bandwidth cap in bytes per second (null: unlimited). */
  @Column({ type: 'bigint', nullable: true, transformer: bigintToNumber }) accessSpeed: number | null;
  /** Bytes the service may store (null: unlimited). */
  @Column({ type: 'bigint', nullable: true, transformer: bigintToNumber }) diskQuota: number | null;
  /** Bytes the service may ingest per calendar month, UTC (null: unlimited). */
  @Column({ type: 'bigint', nullable: true, transformer: bigintToNumber }) ingestQuota: number | null;
  /** Seconds of job runtime the service may use per calendar month, UTC (null: unlimited). */
  @Column({ type: 'double precision', nullable: true }) jobruntimeQuota: number | null;
  /** Monthly limits (UTC) on an application's own metrics, by name without `app/` (null: none). */
  @Column({ type: 'jsonb', nullable: true }) appQuotas: Record<string, number> | null;
  /** The container profile this service runs (profile selection, service:manage); null: its own or the default. */
  @Column({ type: 'varchar', length: 100, nullable: true }) profile: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) properties: JsonObject;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
