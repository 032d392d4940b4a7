import { UserRepository } from '../auth/user.repository';
import { ContainerRepository } from '../containers/container.repository';
import { DavLockRepository } from '../dav/dav-lock.repository';
import { DavPropertyRepository } from '../dav/dav-property.repository';
import { DavTreeRepository } from '../dav/dav-tree.repository';
import { JobOutputRepository } from '../job-outputs/job-output.repository';
import { JobRepository } from '../jobs/job.repository';
import { KeyRepository } from '../keys/key.repository';
import { RESOURCE_PLACES, ResourcePlaces } from '../keys/resource-places';
import { MfileRepository } from '../mfiles/mfile.repository';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { ProfileRepository } from '../pipelines/profile.repository';
import { ServiceRepository } from '../services/service.repository';
import { UploadSessionRepository } from '../uploads/upload-session.repository';
import { UsageRepository } from '../usage/usage.repository';
import { WebhookRepository } from '../webhooks/webhook.repository';

/**
 * One repository per aggregate, each the only owner of its tables' SQL. They live beside their domain and are
 * provided here, once, for both roles: the persistence layer is global like the data source it wraps.
 */
export const REPOSITORIES = [
  ContainerRepository,
  ServiceRepository,
  MfolderRepository,
  MfileRepository,
  JobRepository,
  JobOutputRepository,
  ProfileRepository,
  WebhookRepository,
  KeyRepository,
  UserRepository,
  UsageRepository,
  UploadSessionRepository,
  DavLockRepository,
  DavPropertyRepository,
  DavTreeRepository,
];

/** Key resolution's questions (keys/resource-places.ts), answered by the repositories that own each table. */
export const RESOURCE_PLACES_PROVIDER = {
  provide: RESOURCE_PLACES,
  inject: [ContainerRepository, ServiceRepository, MfolderRepository, MfileRepository, JobRepository, JobOutputRepository],
  useFactory: (
    containers: ContainerRepository,
    services: ServiceRepository,
    folders: MfolderRepository,
    mfiles: MfileRepository,
    jobs: JobRepository,
    outputs: JobOutputRepository,
  ): ResourcePlaces => ({
    containerSuspension: (id, manager) => containers.suspensionOf(id, manager),
    serviceContainer: (id, manager) => services.containerIdOf(id, manager),
    serviceState: (id, manager) => services.stateOf(id, manager),
    folderPlace: (id, manager) => folders.placeOf(id, manager),
    foldersAbove: (ids, manager) => folders.chainAbove(ids, manager),
    mfilePlace: (id, manager) => mfiles.placeOf(id, manager),
    jobPlace: (id, manager) => jobs.placeOf(id, manager),
    jobOutputPlace: (id, manager) => outputs.placeOf(id, manager),
  }),
};
