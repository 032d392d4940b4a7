import { Column, Entity, JoinColumn, ManyToOne, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { Service } from '../services/service.entity';
import type { ProfileDefinition } from './profile';

/** A service's profile (trigger → pipeline). No row: the default profile. */
@Entity('service_profile')
export class ServiceProfile {
  @PrimaryColumn('uuid') serviceId: string;
  @OneToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column({ type: 'jsonb' }) definition: ProfileDefinition;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}

/**
 * A named profile a container offers its services (MServe's profile selection): a service whose `profile`
 * property names it runs these pipelines, and its own profile cannot be edited meanwhile.
 */
@Entity('container_profile')
export class ContainerProfile {
  @PrimaryColumn('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @PrimaryColumn({ type: 'varchar', length: 100 }) name: string;
  @Column({ type: 'jsonb' }) definition: ProfileDefinition;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
