import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { bigintToNumber, JsonObject } from '../database/columns';
import { Mfolder } from '../mfolders/mfolder.entity';
import { Service } from '../services/service.entity';

/**
 * Metadata keys that describe the bytes (what the image and video tasks read, the renditions made from them, the
 * backup copy of them): dropped when the content changes to other bytes, so that nothing describes bytes that are
 * gone; the update pipeline makes them again. `source` (where fetched content came from) describes the file and stays.
 */
export const CONTENT_DERIVED_METADATA = ['image', 'video', 'renditions', 'backup', 'restoredAt'] as const;

/** SQL: the metadata column without the keys that describe the bytes. */
export const METADATA_WITHOUT_CONTENT_DERIVED = `metadata - ARRAY[${CONTENT_DERIVED_METADATA.map((key) => `'${key}'`).join(', ')}]::text[]`;

/** Content plus metadata. Exists only once its bytes are committed and verified. */
@Entity('mfile')
@Index('idx_mfile_service', ['serviceId', 'id'])
@Index('idx_mfile_service_name', ['serviceId', 'name', 'id'])
@Index('idx_mfile_service_mimetype', ['serviceId', 'mimetype', 'id'])
@Index('idx_mfile_service_created', ['serviceId', 'createdAt'])
@Index('idx_mfile_container', ['containerId'])
@Index('uq_mfile_folder_name', ['folderId', 'name'], { unique: true })
export class Mfile {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column('uuid') folderId: string;
  @ManyToOne(() => Mfolder, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'folder_id' }) folder?: Mfolder;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @Column({ type: 'bigint', transformer: bigintToNumber }) size: number;
  @Column({ type: 'char', length: 32 }) md5: string;
  @Column({ type: 'char', length: 64 }) sha256: string;
  @Column({ type: 'varchar', length: 255 }) mimetype: string;
  /** Where the bytes live inside the content store (never a user-supplied path). */
  @Column({ type: 'varchar', length: 255 }) blobKey: string;
  /** Results tasks recorded about this file (dimensions, duration, ...). */
  @Column({ type: 'jsonb', default: () => "'{}'" }) metadata: JsonObject;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
  @Column({ type: 'timestamptz', default: () => 'now()' }) contentUpdatedAt: Date;
}
