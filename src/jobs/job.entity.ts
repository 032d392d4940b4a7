import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { JsonObject } from '../database/columns';
import { Container } from '../containers/container.entity';
import { Mfile } from '../mfiles/mfile.entity';
import { Service } from '../services/service.entity';

export enum JobState {
  Queued = 'queued',
  Running = 'running',
  Succeeded = 'succeeded',
  Failed = 'failed',
  Cancelled = 'cancelled',
}

export const FINAL_JOB_STATES: readonly JobState[] = [JobState.Succeeded, JobState.Failed, JobState.Cancelled];

/** One task run on one or more Mfiles. PostgreSQL is the source of truth; Redis only carries the work. */
@Entity('job')
@Index('idx_job_service', ['serviceId', 'id'])
@Index('idx_job_service_state', ['serviceId', 'state', 'id'])
@Index('idx_job_container', ['containerId'])
export class Job {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column({ type: 'varchar', length: 100 }) task: string;
  @Column({ type: 'jsonb', default: () => "'{}'" }) options: JsonObject;
  @Column({ type: 'varchar', length: 100 }) queue: string;
  @Column({ type: 'varchar', length: 20, default: JobState.Queued }) state: JobState;
  /** 0..1 */
  @Column({ type: 'real', default: 0 }) progress: number;
  @Column({ type: 'jsonb', nullable: true }) result: JsonObject | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ type: 'integer', default: 0 }) attempts: number;
  /** Which worker (host:pid) ran it last. */
  @Column({ type: 'varchar', length: 255, nullable: true }) workerHost: string | null;
  @Column({ type: 'varchar', length: 20, default: 'manual' }) trigger: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
  @Column({ type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ type: 'timestamptz', nullable: true }) finishedAt: Date | null;
}

/** The Mfiles a job works on (a job may read several). */
@Entity('job_input')
@Index('idx_job_input_mfile', ['mfileId'])
export class JobInput {
  @PrimaryColumn('uuid') jobId: string;
  @ManyToOne(() => Job, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'job_id' }) job?: Job;
  @PrimaryColumn('uuid') mfileId: string;
  @ManyToOne(() => Mfile, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'mfile_id' }) mfile?: Mfile;
}
