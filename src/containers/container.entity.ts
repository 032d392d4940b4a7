import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { JsonObject } from '../database/columns';

/** A provider's hosting space: holds services, carries container-wide limits. */
@Entity('container')
@Index('idx_container_name', ['name', 'id'])
export class Container {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @Column({ type: 'text', nullable: true }) description: string | null;
  /** Management properties (quotas and the like) applied to every service inside. */
  @Column({ type: 'jsonb', default: () => "'{}'" }) properties: JsonObject;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
