import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Key } from '../keys/key.entity';

/**
 * A person. They log in with a password (`passwordHash`, scrypt) or through OpenID Connect (`oidcIssuer` +
 * `oidcSubject`, the provider's stable id); what they may do is the keys in their wallet, nothing else.
 */
@Entity('app_user')
@Index('uq_app_user_username', { synchronize: false })
@Index('uq_app_user_oidc', ['oidcIssuer', 'oidcSubject'], { unique: true })
export class User {
  @PrimaryColumn('uuid') id: string;
  /** Unique case-insensitively (index on lower(username), in the migration). Null for OIDC-only users. */
  @Column({ type: 'varchar', length: 64, nullable: true }) username: string | null;
  @Column({ type: 'varchar', length: 320, nullable: true }) email: string | null;
  @Column({ type: 'varchar', length: 200, nullable: true }) displayName: string | null;
  @Column({ type: 'text', nullable: true, select: false }) passwordHash: string | null;
  @Column({ type: 'text', nullable: true }) oidcIssuer: string | null;
  @Column({ type: 'text', nullable: true }) oidcSubject: string | null;
  @Column({ type: 'boolean', default: false }) disabled: boolean;
  @Column({ type: 'timestamptz', nullable: true }) lastLoginAt: Date | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}

/** A key in a user's wallet. Only a key's secret puts it there (or the platform, for the admin user's admin key). */
@Entity('user_key')
@Index('idx_user_key_key', ['keyId'])
export class UserKey {
  @PrimaryColumn('uuid') userId: string;
  @ManyToOne(() => User, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'user_id' }) user?: User;
  @PrimaryColumn('uuid') keyId: string;
  @ManyToOne(() => Key, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'key_id' }) key?: Key;
  @CreateDateColumn({ type: 'timestamptz' }) addedAt: Date;
}
