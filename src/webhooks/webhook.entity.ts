import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Service } from '../services/service.entity';

/** A URL a service wants told about its jobs (and the `webhook` task may call), with the secret its calls are signed with. */
@Entity('service_webhook')
@Index('idx_service_webhook_service', ['serviceId', 'id'])
export class ServiceWebhook {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column({ type: 'varchar', length: 2000 }) url: string;
  /** Job states that are notified (`succeeded`, `failed`, `cancelled`, `skipped`); empty: none (a target for the webhook task only). */
  @Column({ type: 'jsonb', default: () => "'[]'" }) events: string[];
  /** The HMAC key. Kept as is because signing needs it; shown once, at creation. */
  @Column({ type: 'varchar', length: 100, select: false }) secret: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}
