import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
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
