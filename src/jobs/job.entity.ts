import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { JsonObject } from '../database/columns';
import { Container } from '../containers/container.entity';
import { Mfile } from '../mfiles/mfile.entity';
import { Service } from '../services/service.entity';
import type { StepCondition } from './step-condition';

export enum JobState {
  /** Created by a pipeline, waiting for the steps it comes after. */
  Waiting = 'waiting',
  Queued = 'queued',
  Running = 'running',
  Succeeded = 'succeeded',
  Failed = 'failed',
  Cancelled = 'cancelled',
  /** Its condition (input mimetype, size) did not match when it became runnable. */
  Skipped = 'skipped',
}

export const FINAL_JOB_STATES: readonly JobState[] = [JobState.Succeeded, JobState.Failed, JobState.Cancelled, JobState.Skipped];

export type { StepCondition } from './step-condition';

/** One task run on one or more Mfiles (or, for a task that can, on none: `withoutInput`). PostgreSQL is the source of truth; Redis only carries the work. */
@Entity('job')
@Index('idx_job_service', ['serviceId', 'id'])
@Index('idx_job_service_state', ['serviceId', 'state', 'id'])
@Index('idx_job_container', ['containerId'])
@Index('idx_job_run', ['runId'])
@Index('idx_job_queued', ['state', 'updatedAt'], { where: "state = 'queued'" })
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
  /** 0..100 */
  @Column({ type: 'real', default: 0 }) progress: number;
  @Column({ type: 'jsonb', nullable: true }) result: JsonObject | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ type: 'integer', default: 0 }) attempts: number;
  /** Which worker (host:pid) ran it last. */
  @Column({ type: 'varchar', length: 255, nullable: true }) workerHost: string | null;
  @Column({ type: 'varchar', length: 20, default: 'manual' }) trigger: string;
  /** The pipeline run (one trigger on one Mfile) this job belongs to; null for a manual job. */
  @Column({ type: 'uuid', nullable: true }) runId: string | null;
  /** The profile step it was made from. */
  @Column({ type: 'varchar', length: 100, nullable: true }) step: string | null;
  @Column({ type: 'jsonb', nullable: true }) condition: StepCondition | null;
  /**
   * The key that asked for a manual job (POST /jobs), kept so the worker can check its rights again before a task
   * changes content; null for jobs a profile made (the service's own pipeline). Only the id: never the secret.
   */
  @Column({ type: 'uuid', nullable: true }) requestedByKeyId: string | null;
  /**
   * Made to run with no input Mfile (a periodic step with `input: "none"`, such as fetch-url into a folder): its
   * `mfileIds` are empty by design. A job made with inputs that have all been deleted is not one: it fails.
   */
  @Column({ type: 'boolean', default: false }) withoutInput: boolean;
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

/** `jobId` runs only after `prerequisiteId` succeeded (or was skipped); if that fails, so does `jobId`. */
@Entity('job_dependency')
@Index('idx_job_dependency_prerequisite', ['prerequisiteId'])
export class JobDependency {
  @PrimaryColumn('uuid') jobId: string;
  @ManyToOne(() => Job, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'job_id' }) job?: Job;
  @PrimaryColumn('uuid') prerequisiteId: string;
  @ManyToOne(() => Job, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'prerequisite_id' }) prerequisite?: Job;
}
