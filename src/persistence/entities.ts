import { User, UserKey } from '../auth/user.entity';
import { DavLock, DavProperty } from '../dav/dav.entities';
import { Container } from '../containers/container.entity';
import { JobOutput } from '../job-outputs/job-output.entity';
import { Job, JobDependency, JobInput } from '../jobs/job.entity';
import { ContainerProfile, ServiceProfile } from '../pipelines/profile.entity';
import { ServiceWebhook } from '../webhooks/webhook.entity';
import { Key } from '../keys/key.entity';
import { Mfile } from '../mfiles/mfile.entity';
import { Mfolder } from '../mfolders/mfolder.entity';
import { Service } from '../services/service.entity';
import { UploadSession } from '../uploads/upload-session.entity';
import { Usage, UsageRollup } from '../usage/usage.entity';

export const ENTITIES = [
  Container,
  Service,
  Mfolder,
  Mfile,
  Job,
  JobInput,
  JobDependency,
  JobOutput,
  ServiceProfile,
  ContainerProfile,
  ServiceWebhook,
  Key,
  Usage,
  UsageRollup,
  UploadSession,
  DavLock,
  DavProperty,
  User,
  UserKey,
];
