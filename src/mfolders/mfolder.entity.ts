import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { Service } from '../services/service.entity';

/** A folder in a service's tree. Every service has exactly one root folder (parentId null, name ''). */
@Entity('mfolder')
@Index('idx_mfolder_service', ['serviceId', 'id'])
@Index('idx_mfolder_container', ['containerId'])
@Index('uq_mfolder_parent_name', ['parentId', 'name'], { unique: true })
@Index('uq_mfolder_service_root', ['serviceId'], { unique: true, where: 'parent_id IS NULL' })
export class Mfolder {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column({ type: 'uuid', nullable: true }) parentId: string | null;
  @ManyToOne(() => Mfolder, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'parent_id' }) parent?: Mfolder;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
