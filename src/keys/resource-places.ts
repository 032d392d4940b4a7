import type { EntityManager } from 'typeorm';
import type { ServiceState } from '../common/service-state';

/** Where a job or job output sits: one row per input Mfile (a job without inputs has one row with nulls). */
export interface JobPlace {
  jobId: string;
  serviceId: string;
  containerId: string;
  mfileId: string | null;
  folderId: string | null;
}

/**
 * What key resolution asks of the tables it walks, each answered by that table's own repository. Keys sit below
 * every domain (every controller authorises through them), so this folder names the questions and the persistence
 * layer wires the owners' answers in (`RESOURCE_PLACES`, src/persistence/database.module.ts): keys import no domain.
 */
export interface ResourcePlaces {
  containerSuspension(id: string, manager?: EntityManager): Promise<{ suspended: boolean } | null>;
  serviceContainer(id: string, manager?: EntityManager): Promise<string | null>;
  serviceState(id: string, manager?: EntityManager): Promise<ServiceState | undefined>;
  folderPlace(id: string, manager?: EntityManager): Promise<{ serviceId: string; containerId: string } | null>;
  foldersAbove(folderIds: string[], manager?: EntityManager): Promise<string[]>;
  mfilePlace(id: string, manager?: EntityManager): Promise<{ serviceId: string; containerId: string; folderId: string } | null>;
  jobPlace(id: string, manager?: EntityManager): Promise<JobPlace[]>;
  jobOutputPlace(id: string, manager?: EntityManager): Promise<JobPlace[]>;
}

export const RESOURCE_PLACES = Symbol('RESOURCE_PLACES');
