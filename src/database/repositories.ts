import { UserRepository } from '../auth/user.repository';
import { ContainerRepository } from '../containers/container.repository';
import { DavLockRepository } from '../dav/dav-lock.repository';
import { DavPropertyRepository } from '../dav/dav-property.repository';
import { JobOutputRepository } from '../job-outputs/job-output.repository';
import { JobRepository } from '../jobs/job.repository';
import { KeyRepository } from '../keys/key.repository';
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
];
