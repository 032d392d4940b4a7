import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { bigintToNumber, JsonObject } from '../database/columns';
import { Key } from '../keys/key.entity';
import { Mfolder } from '../mfolders/mfolder.entity';
import { Service } from '../services/service.entity';
import type { UploadStage } from '../storage/blob-store';

export type UploadProtocol = 'tus' | 'range';

/**
 * A resumable upload in progress (tus or Content-Range). Invisible to listings and tasks: it becomes an Mfile only
 * when every byte is in and verified. `offset` is the contiguous, hashed prefix; the running md5/sha256 states
 * are stored after every chunk so any api process can continue the upload without reading its bytes again.
 */
@Entity('upload_session')
@Index('idx_upload_session_service', ['serviceId', 'completedAt'])
@Index('idx_upload_session_container', ['containerId'])
@Index('idx_upload_session_folder', ['folderId'])
@Index('idx_upload_session_expires', ['expiresAt'])
@Index('idx_upload_session_key', ['createdByKeyId'])
export class UploadSession {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column('uuid') folderId: string;
  @ManyToOne(() => Mfolder, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'folder_id' }) folder?: Mfolder;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @Column({ type: 'varchar', length: 10 }) protocol: UploadProtocol;
  /** Declared total size: reserved against the disk quota until the upload ends. */
  @Column({ type: 'bigint', transformer: bigintToNumber }) length: number;
  @Column({ type: 'bigint', default: 0, transformer: bigintToNumber }) offset: number;
  /** Content-Range uploads: byte ranges received, [start, end] inclusive, sorted and merged. */
  @Column({ type: 'jsonb', default: () => "'[]'" }) received: Array<[number, number]>;
  @Column({ type: 'bytea', nullable: true }) md5State: Buffer | null;
  @Column({ type: 'bytea', nullable: true }) sha256State: Buffer | null;
  /**
   * An upload staged in the store (STORAGE=s3), so any node takes the next chunk: tus, its multipart upload, parts
   * and tail; Content-Range, its range objects. Null when the bytes are in the node's part file (the filesystem store).
   */
  @Column({ type: 'jsonb', nullable: true }) stage: UploadStage | null;
  /** tus Upload-Metadata, the client's declared type, and whole-file digests to verify at the end. */
  @Column({ type: 'jsonb', default: () => "'{}'" }) metadata: JsonObject;
  @Column({ type: 'uuid', nullable: true }) createdByKeyId: string | null;
  @ManyToOne(() => Key, { onDelete: 'SET NULL' }) @JoinColumn({ name: 'created_by_key_id' }) createdByKey?: Key;
  @Column({ type: 'timestamptz' }) expiresAt: Date;
  @Column({ type: 'timestamptz', nullable: true }) completedAt: Date | null;
  @Column({ type: 'uuid', nullable: true }) mfileId: string | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
