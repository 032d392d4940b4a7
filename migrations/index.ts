import { UploadStagedInStore1796700000000 } from './1796700000000-UploadStagedInStore';
import { JobWithoutInput1796673525475 } from './1796673525475-JobWithoutInput';
import { ApplicationQuotas1796664704779 } from './1796664704779-ApplicationQuotas';
import { JobRequestedByKey1796611809469 } from './1796611809469-JobRequestedByKey';
import type { MigrationInterface } from 'typeorm';
import { UsersAndSessions1795457611751 } from './1795457611751-UsersAndSessions';
import { ContainerProfiles1795449939959 } from './1795449939959-ContainerProfiles';
import { UsageRollupsAndQuotas1795448804001 } from './1795448804001-UsageRollupsAndQuotas';
import { WebdavLocksAndProperties1795441381027 } from './1795441381027-WebdavLocksAndProperties';
import { Webhooks1795435547516 } from './1795435547516-Webhooks';
import { TaskEngine1795433782387 } from './1795433782387-TaskEngine';
import { AddUploadSessions1795430619827 } from './1795430619827-AddUploadSessions';
import { Initial1795426813017 } from './1795426813017-Initial';

// Every migration, in order. scripts/migration-generate.mjs appends new ones here.
export const MIGRATIONS: Array<new () => MigrationInterface> = [Initial1795426813017, AddUploadSessions1795430619827, TaskEngine1795433782387, Webhooks1795435547516, WebdavLocksAndProperties1795441381027, UsageRollupsAndQuotas1795448804001, ContainerProfiles1795449939959, UsersAndSessions1795457611751, JobRequestedByKey1796611809469, ApplicationQuotas1796664704779, JobWithoutInput1796673525475, UploadStagedInStore1796700000000];
