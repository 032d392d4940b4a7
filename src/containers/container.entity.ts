import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintToNumber, JsonObject } from '../database/columns';

/** A provider's hosting space: holds services, carries container-wide limits. */
@Entity('container')
@Index('idx_container_name', ['name', 'id'])
export class Container {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @Column({ type: 'text', nullable: true }) description: string | null;
  /** Free-form provider properties. */
  @Column({ type: 'jsonb', default: () => "'{}'" }) properties: JsonObject;
  /** Every service inside is read-only while set. */
  @Column({ type: 'boolean', default: false }) suspended: boolean;
  /** Limits on all services inside together (null: unlimited): bytes stored, bytes ingested and job-runtime seconds per calendar month (UTC). */
  @Column({ type: 'bigint', nullable: true, transformer: bigintToNumber }) diskQuota: number | null;
  @Column({ type: 'bigint', nullable: true, transformer: bigintToNumber }) ingestQuota: number | null;
  @Column({ type: 'double precision', nullable: true }) jobruntimeQuota: number | null;
  /** Monthly limits (UTC) on applications' own metrics across its services, by name without `app/` (null: none). */
  @Column({ type: 'jsonb', nullable: true }) appQuotas: Record<string, number> | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
