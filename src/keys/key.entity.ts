import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

export type ResourceType = 'provider' | 'container' | 'service' | 'mfolder' | 'mfile' | 'job' | 'joboutput';

/**
 * A capability key. The secret is never stored: only its SHA-256. `id` is public (listing, revocation).
 * Roles are kept for display; `actions` (the expanded, attenuated set) is what authorisation checks.
 */
@Entity('key')
@Index('uq_key_secret_hash', ['secretHash'], { unique: true })
@Index('idx_key_parent', ['parentId'])
@Index('idx_key_created_by', ['createdByKeyId'])
@Index('idx_key_resource', ['resourceId'])
@Index('idx_key_container', ['containerId'])
@Index('idx_key_service', ['serviceId'])
export class Key {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'char', length: 64 }) secretHash: string;
  @Column({ type: 'varchar', length: 255, nullable: true }) label: string | null;
  @Column({ type: 'varchar', length: 20 }) resourceType: ResourceType;
  /** Null only for provider-wide keys. */
  @Column({ type: 'uuid', nullable: true }) resourceId: string | null;
  /** Tenant path of the resource, so deleting a container or service deletes its keys. */
  @Column({ type: 'uuid', nullable: true }) containerId: string | null;
  // relations named, not imported: keys sit below every domain (docs/architecture.md); the constraint is the same
  @ManyToOne('Container', { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: object;
  @Column({ type: 'uuid', nullable: true }) serviceId: string | null;
  @ManyToOne('Service', { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: object;
  @Column({ type: 'text', array: true }) roles: string[];
  @Column({ type: 'text', array: true }) actions: string[];
  /** The key this one was derived from; revoking the parent revokes this one. */
  @Column({ type: 'uuid', nullable: true }) parentId: string | null;
  @ManyToOne(() => Key, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'parent_id' }) parent?: Key;
  /** The key that made this one when a resource was created (its own root capability). */
  @Column({ type: 'uuid', nullable: true }) createdByKeyId: string | null;
  @ManyToOne(() => Key, { onDelete: 'SET NULL' }) @JoinColumn({ name: 'created_by_key_id' }) createdByKey?: Key;
  @Column({ type: 'timestamptz', nullable: true }) expiresAt: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) revokedAt: Date | null;
  /** The provider admin key managed through ADMIN_KEY / var/admin.key. */
  @Column({ type: 'boolean', default: false }) bootstrap: boolean;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}
