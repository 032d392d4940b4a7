import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { JobOutput } from './job-output.entity';

/** A job output about to be stored: its id is made by the caller (renditions link to it in the same transaction). */
export type NewJobOutput = Pick<JobOutput, 'id' | 'containerId' | 'serviceId' | 'jobId' | 'name' | 'mimetype' | 'size' | 'sha256' | 'md5' | 'blobKey' | 'data'>;

/**
 * The only place SQL on `job_output` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class JobOutputRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  async findById(id: string, manager?: EntityManager): Promise<JobOutput | null> {
    return this.db(manager).findOneBy(JobOutput, { id });
  }

  /** One more than `limit` outputs of a job after `after` in id order (so the caller knows whether a next page exists). */
  async pageOfJob(jobId: string, limit: number, after?: string): Promise<JobOutput[]> {
    const builder = this.dataSource
      .getRepository(JobOutput)
      .createQueryBuilder('o')
      .where('o.job_id = :jobId', { jobId })
      .orderBy('o.id')
      .limit(limit + 1);
    if (after) builder.andWhere('o.id > :after', { after });
    return builder.getMany();
  }

  /** The output, its row locked for the rest of the transaction (to promote it). */
  async lock(id: string, manager?: EntityManager): Promise<JobOutput | null> {
    return this.db(manager).findOne(JobOutput, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** The output became the Mfile `mfileId`. */
  async markPromoted(id: string, mfileId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).update(JobOutput, { id }, { mfileId });
  }

  /** A job's outputs, in one statement. */
  async insertMany(outputs: NewJobOutput[], manager?: EntityManager): Promise<void> {
    if (outputs.length === 0) return;
    const values: unknown[] = [];
    const tuples = outputs.map((output) => {
      const at = values.length;
      values.push(
        output.id,
        output.containerId,
        output.serviceId,
        output.jobId,
        output.name,
        output.mimetype,
        output.size,
        output.sha256,
        output.md5,
        output.blobKey,
        output.data ? JSON.stringify(output.data) : null,
      );
      return `(${Array.from({ length: 11 }, (_, index) => `$${at + index + 1}`).join(', ')})`;
    });
    const db = this.db(manager);
    await db.query(
      `INSERT INTO ${db.connection.getMetadata(JobOutput).tableName} (id, container_id, service_id, job_id, name, mimetype, size, sha256, md5, blob_key, data) VALUES ${tuples.join(', ')}`,
      values,
    );
  }

  /** The outputs of a job that stored bytes, with their sizes (what leaves disc when they go). */
  async storedOfJob(jobId: string, manager?: EntityManager): Promise<Array<{ id: string; size: number }>> {
    return this.db(manager).query('SELECT id, size::float8 AS size FROM job_output WHERE job_id = $1 AND blob_key IS NOT NULL', [jobId]);
  }

  async deleteOfJob(jobId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(JobOutput, { jobId });
  }

  // --- used by deletes (content: subtree deletion)

  /** The blob keys of the stored outputs in a container, a service or of these jobs. */
  async blobKeysUnder(scope: { containerId: string } | { serviceId: string } | { jobIds: string[] }, manager?: EntityManager): Promise<string[]> {
    const [column, value] =
      'containerId' in scope ? ['container_id', scope.containerId] : 'serviceId' in scope ? ['service_id', scope.serviceId] : ['job_id', scope.jobIds];
    const condition = `${column} ${Array.isArray(value) ? '= ANY($1::uuid[])' : '= $1'}`;
    const outputs: { blob_key: string }[] = await this.db(manager).query(`SELECT blob_key FROM job_output WHERE ${condition} AND blob_key IS NOT NULL`, [
      value,
    ]);
    return outputs.map((row) => row.blob_key);
  }

  // --- used by key resolution
  /**
   * Where a job output sits: its job's service and container, the job, and each of the job's input Mfiles with its
   * folder (one row per input, one row with null Mfile when it has none). Empty when there is no such output.
   */
  async placeOf(
    id: string,
    manager?: EntityManager,
  ): Promise<Array<{ jobId: string; serviceId: string; containerId: string; mfileId: string | null; folderId: string | null }>> {
    return this.db(manager).query(
      `SELECT j.id AS "jobId", j.service_id AS "serviceId", j.container_id AS "containerId", m.id AS "mfileId", m.folder_id AS "folderId"
         FROM job_output o JOIN job j ON j.id = o.job_id LEFT JOIN job_input i ON i.job_id = j.id
         LEFT JOIN mfile m ON m.id = i.mfile_id WHERE o.id = $1`,
      [id],
    );
  }
}
