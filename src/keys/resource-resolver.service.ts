import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Problems } from '../common/problem';
import { UUID_PATTERN } from '../database/uuid';
import { ServiceState } from '../common/service-state';
import { ResourceType } from './key.entity';
import type { ServicePlaceRow } from './key.repository';
import { RESOURCE_PLACES, ResourcePlaces } from './resource-places';

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
  /** A service's root folder, when it was read with the request's key (`fromServicePlace`). */
  rootFolderId?: string | null;
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

/**
 * Where a resource sits, for authorisation ("rights flow down") and the service-state rules. Each table's owner
 * answers for its rows (ResourcePlaces, wired from the methods under "used by key resolution" in those
 * repositories); this class holds the rule of which to ask. One to three indexed queries.
 */
@Injectable()
export class ResourceResolver {
  constructor(@Inject(RESOURCE_PLACES) private readonly places: ResourcePlaces) {}

  /**
   * A service resolved from its place as read with the request's key (KeyRepository.findForRequest): the same answer
   * as `resolve({ type: 'service', id })` without its queries; 404 when there is no such service.
   */
  fromServicePlace(id: string, place: ServicePlaceRow | null): ResolvedResource {
    if (!place) throw Problems.notFound(LABEL.service, id);
    const { containerId, suspended, containerSuspended, startsAt, endsAt, rootFolderId } = place;
    return {
      type: 'service',
      id,
      ancestors: new Set([id, containerId]),
      containerId,
      serviceId: id,
      service: { suspended, containerSuspended, startsAt, endsAt },
      rootFolderId,
    };
  }

  /** Resolves a resource and its ancestry, or throws 404. One to three indexed queries. */
  async resolve(ref: ResourceRef, manager?: EntityManager): Promise<ResolvedResource> {
    if (ref.type === 'provider') return { ...ref, id: null, ancestors: new Set(), containerId: null, serviceId: null };
    if (!ref.id || !UUID_PATTERN.test(ref.id)) throw Problems.notFound(LABEL[ref.type], ref.id ?? undefined);
    const id = ref.id;
    const ancestors = new Set<string>([id]);
    let serviceId: string | null = null;
    let containerId: string | null = null;
    let folderSeeds: string[] = [];
    let service: ResolvedResource['service'];
    const found = <T>(row: T | null | undefined): T => {
      if (row === null || row === undefined) throw Problems.notFound(LABEL[ref.type], id);
      return row;
    };
    switch (ref.type) {
      case 'container': {
        const row = found(await this.places.containerSuspension(id, manager));
        containerId = id;
        service = { suspended: false, containerSuspended: row.suspended, startsAt: null, endsAt: null };
        break;
      }
      case 'service':
        containerId = found(await this.places.serviceContainer(id, manager));
        serviceId = id;
        break;
      case 'mfolder': {
        ({ serviceId, containerId } = found(await this.places.folderPlace(id, manager)));
        folderSeeds = [id];
        break;
      }
      case 'mfile': {
        const row = found(await this.places.mfilePlace(id, manager));
        ({ serviceId, containerId } = row);
        folderSeeds = [row.folderId];
        break;
      }
      case 'job':
      case 'joboutput': {
        const rows = ref.type === 'job' ? await this.places.jobPlace(id, manager) : await this.places.jobOutputPlace(id, manager);
        if (rows.length === 0) throw Problems.notFound(LABEL[ref.type], id);
        ({ serviceId, containerId } = rows[0]);
        ancestors.add(rows[0].jobId);
        for (const row of rows) if (row.mfileId) ancestors.add(row.mfileId);
        folderSeeds = rows.map((row) => row.folderId).filter((folderId): folderId is string => Boolean(folderId));
        break;
      }
    }
    if (folderSeeds.length > 0) {
      for (const folderId of await this.places.foldersAbove(folderSeeds, manager)) ancestors.add(folderId);
    }
    if (serviceId) {
      ancestors.add(serviceId);
      service = await this.places.serviceState(serviceId, manager);
    }
    if (containerId) ancestors.add(containerId);
    return { type: ref.type, id: ref.id, ancestors, containerId, serviceId, service };
  }
}
