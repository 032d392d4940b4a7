import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { bigintToNumber, JsonObject } from '../database/columns';
import { Job } from '../jobs/job.entity';
import { Mfile } from '../mfiles/mfile.entity';
import { Service } from '../services/service.entity';

/** A file or a structured result a job produced. A file output can be promoted to a new Mfile. */
@Entity('job_output')
@Index('idx_job_output_job', ['jobId', 'id'])
@Index('idx_job_output_service', ['serviceId'])
@Index('idx_job_output_container', ['containerId'])
@Index('idx_job_output_mfile', ['mfileId'])
@Index('uq_job_output_job_name', ['jobId', 'name'], { unique: true })
export class JobOutput {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid') containerId: string;
  @ManyToOne(() => Container, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'container_id' }) container?: Container;
  @Column('uuid') serviceId: string;
  @ManyToOne(() => Service, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'service_id' }) service?: Service;
  @Column('uuid') jobId: string;
  @ManyToOne(() => Job, { onDelete: 'CASCADE' }) @JoinColumn({ name: 'job_id' }) job?: Job;
  @Column({ type: 'varchar', length: 255 }) name: string;
  @Column({ type: 'varchar', length: 255, nullable: true }) mimetype: string | null;
  @Column({ type: 'bigint', nullable: true, transformer: bigintToNumber }) size: number | null;
  @Column({ type: 'char', length: 64, nullable: true }) sha256: string | null;
  @Column({ type: 'char', length: 32, nullable: true }) md5: string | null;
  @Column({ type: 'varchar', length: 255, nullable: true }) blobKey: string | null;
  @Column({ type: 'jsonb', nullable: true }) data: JsonObject | null;
  /** Set once the output was promoted to an Mfile. */
  @Column({ type: 'uuid', nullable: true }) mfileId: string | null;
  @ManyToOne(() => Mfile, { onDelete: 'SET NULL' }) @JoinColumn({ name: 'mfile_id' }) mfile?: Mfile;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}
