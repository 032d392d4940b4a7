import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Problems } from '../common/problem';
import { UUID_PATTERN } from '../database/uuid';
import { ServiceState } from '../services/service-state';
import { ResourceType } from './key.entity';

export interface ResourceRef {
  type: ResourceType;
  id: string | null;
}

/** Where a resource sits: every id above it (for "rights flow down") and its tenant path. */
export interface ResolvedResource extends ResourceRef {
  ancestors: Set<string>;
  containerId: string | null;
  serviceId: string | null;
  /**
   * Management state of the enclosing service, for suspension and time-window checks: suspended when the service
   * or its container is. For a container itself, the container's suspension (no window).
   */
  service?: ServiceState;
}

const LABEL: Record<ResourceType, string> = {
  provider: 'provider',
  container: 'container',
  service: 'service',
  mfolder: 'mfolder',
  mfile: 'mfile',
  job: 'job',
  joboutput: 'job output',
};

/** The chain of folders above (and including) a set of folders. */
const FOLDER_CHAIN = `
  WITH RECURSIVE chain AS (
    SELECT id, parent_id FROM mfolder WHERE id = ANY($1::uuid[])
    UNION
    SELECT f.id, f.parent_id FROM mfolder f JOIN chain c ON f.id = c.parent_id
  ) SELECT id FROM chain`;

@Injectable()
export class ResourceResolver {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Resolves a resource and its ancestry, or throws 404. One to three indexed queries. */
  async resolve(ref: ResourceRef, manager: EntityManager = this.dataSource.manager): Promise<ResolvedResource> {
    if (ref.type === 'provider') return { ...ref, id: null, ancestors: new Set(), containerId: null, serviceId: null };
    if (!ref.id || !UUID_PATTERN.test(ref.id)) throw Problems.notFound(LABEL[ref.type], ref.id ?? undefined);
    const ancestors = new Set<string>([ref.id]);
    let serviceId: string | null = null;
    let containerId: string | null = null;
    let folderSeeds: string[] = [];
    let service: ResolvedResource['service'];
    const one = async (sql: string) => {
      const rows: Record<string, string>[] = await manager.query(sql, [ref.id]);
      if (rows.length === 0) throw Problems.notFound(LABEL[ref.type], ref.id!);
      return rows;
    };
    switch (ref.type) {
      case 'container': {
        const [row] = await one('SELECT id, suspended FROM container WHERE id = $1');
        containerId = row.id;
        service = { suspended: false, containerSuspended: Boolean(row.suspended), startsAt: null, endsAt: null };
        break;
      }
      case 'service':
        containerId = (await one('SELECT container_id FROM service WHERE id = $1'))[0].container_id;
        serviceId = ref.id;
        break;
      case 'mfolder': {
        const [row] = await one('SELECT service_id, container_id FROM mfolder WHERE id = $1');
        ({ service_id: serviceId, container_id: containerId } = row);
        folderSeeds = [ref.id];
        break;
      }
      case 'mfile': {
        const [row] = await one('SELECT service_id, container_id, folder_id FROM mfile WHERE id = $1');
        ({ service_id: serviceId, container_id: containerId } = row);
        folderSeeds = [row.folder_id];
        break;
      }
      case 'job':
      case 'joboutput': {
        const rows = await one(
          ref.type === 'job'
            ? `SELECT j.id AS job_id, j.service_id, j.container_id, m.id AS mfile_id, m.folder_id
                 FROM job j LEFT JOIN job_input i ON i.job_id = j.id LEFT JOIN mfile m ON m.id = i.mfile_id WHERE j.id = $1`
            : `SELECT j.id AS job_id, j.service_id, j.container_id, m.id AS mfile_id, m.folder_id
                 FROM job_output o JOIN job j ON j.id = o.job_id LEFT JOIN job_input i ON i.job_id = j.id
                 LEFT JOIN mfile m ON m.id = i.mfile_id WHERE o.id = $1`,
        );
        ({ service_id: serviceId, container_id: containerId } = rows[0]);
        ancestors.add(rows[0].job_id);
        for (const row of rows) if (row.mfile_id) ancestors.add(row.mfile_id);
        folderSeeds = rows.map((row) => row.folder_id).filter(Boolean);
        break;
      }
    }
    if (folderSeeds.length > 0) {
      const folders: { id: string }[] = await manager.query(FOLDER_CHAIN, [folderSeeds]);
      for (const folder of folders) ancestors.add(folder.id);
    }
    if (serviceId) {
      ancestors.add(serviceId);
      const [row] = await manager.query('SELECT s.suspended, c.suspended AS container_suspended, s.starts_at, s.ends_at FROM service s JOIN container c ON c.id = s.container_id WHERE s.id = $1', [serviceId]);
      service = { suspended: row.suspended, containerSuspended: row.container_suspended, startsAt: row.starts_at, endsAt: row.ends_at };
    }
    if (containerId) ancestors.add(containerId);
    return { type: ref.type, id: ref.id, ancestors, containerId, serviceId, service };
  }
}
