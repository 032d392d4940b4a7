import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Mfile } from '../mfiles/mfile.entity';
import { Mfolder } from '../mfolders/mfolder.entity';
import { Service } from '../services/service.entity';

/**
 * A WebDAV lock (RFC 4918 §6-7). Held in PostgreSQL so every api process sees it. A lock is on a URL of a
 * service (`path` below the service's root folder, names joined by '/'), not on a row: it stays with the URL
 * when its resource is moved away, as the RFC says, and it may name a resource that does not exist yet.
 */
@Entity('dav_lock')
@Index('idx_dav_lock_service_path', ['serviceId', 'path'])
@Index('idx_dav_lock_expires', ['expiresAt'])
export class DavLock {
  /** The lock token (`urn:uuid:...`). */
  @PrimaryColumn({ type: 'varchar', length: 100 }) token: string;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column({ type: 'text' }) path: string;
  @Column({ type: 'varchar', length: 10 }) scope: 'exclusive' | 'shared';
  /** 0 or infinity. */
  @Column({ type: 'boolean' }) deep: boolean;
  /** The DAV:owner element the client sent, serialised. */
  @Column({ type: 'text', nullable: true }) owner: string | null;
  /** The key that took the lock (only it may refresh or release it, or a key holding the token and write rights). */
  @Column({ type: 'uuid' }) keyId: string;
  @Column({ type: 'integer' }) timeoutSeconds: number;
  @Column({ type: 'timestamptz' }) expiresAt: Date;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}

/** A dead property (PROPPATCH) of a folder or a file: it moves with its resource and is copied with it. */
@Entity('dav_property')
@Index('uq_dav_property_mfile', ['mfileId', 'name'], { unique: true, where: 'mfile_id IS NOT NULL' })
@Index('uq_dav_property_mfolder', ['mfolderId', 'name'], { unique: true, where: 'mfolder_id IS NOT NULL' })
export class DavProperty {
  @PrimaryColumn('uuid') id: string;
  @Column({ type: 'uuid', nullable: true }) mfileId: string | null;
  @ManyToOne(() => Mfile, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'mfile_id' }) mfile?: Mfile;
  @Column({ type: 'uuid', nullable: true }) mfolderId: string | null;
  @ManyToOne(() => Mfolder, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'mfolder_id' }) mfolder?: Mfolder;
  /** Clark notation: `{namespace}local`. */
  @Column({ type: 'text' }) name: string;
  /** The property element, serialised with its own namespace declarations. */
  @Column({ type: 'text' }) xml: string;
}
