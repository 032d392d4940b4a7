import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryPrepared } from '../database/prepared';
import { DataSource, EntityManager } from 'typeorm';
import type { ProfileDefinition } from './profile';
import { ContainerProfile, ServiceProfile } from './profile.entity';

/**
 * A service's selected container profile and its own, in one read (this runs inside every upload), with what a
 * run's creator decides with them: the priority flag (routing) and whether any quota applies (a backup at commit).
 */
const EFFECTIVE_PROFILE = `SELECT s.id AS "serviceId", s.container_id AS "containerId", s.priority, s.profile AS name, cp.definition AS selected, cp.updated_at AS "selectedAt", p.definition AS own, p.updated_at AS "ownAt",
    (s.disk_quota IS NULL AND s.ingest_quota IS NULL AND s.jobruntime_quota IS NULL
      AND c.disk_quota IS NULL AND c.ingest_quota IS NULL AND c.jobruntime_quota IS NULL) AS "quotaFree"
  FROM service s JOIN container c ON c.id = s.container_id
  LEFT JOIN container_profile cp ON cp.container_id = s.container_id AND cp.name = s.profile
  LEFT JOIN service_profile p ON p.service_id = s.id`;

/** What a service runs, as stored: the container profile its `profile` property selects (`name`), and its own. */
export interface ProfileSelection {
  serviceId: string;
  containerId: string;
  /** The service's priority flag (read with the profile: routing needs both). */
  priority: boolean;
  /** No disk, ingest or job-runtime quota on the service or its container (as read; the commit checks again). */
  quotaFree: boolean;
  name: string | null;
  selected: ProfileDefinition | null;
  selectedAt: Date | null;
  own: ProfileDefinition | null;
  ownAt: Date | null;
}

/**
 * The only place SQL on `service_profile` and `container_profile` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * It also reads which services select a container profile (the `profile` property of `service`).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class ProfileRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** A service's selected and own profile with its priority flag, in one read; undefined when there is no such service. */
  async selectionOf(serviceId: string, manager?: EntityManager): Promise<ProfileSelection | undefined> {
    const [row] = await queryPrepared<ProfileSelection[]>(this.db(manager), `${EFFECTIVE_PROFILE} WHERE s.id = $1`, [serviceId]);
    return row;
  }

  /** What each service whose profile (selected, else its own) has a periodic pipeline runs. */
  async periodicDefinitions(manager?: EntityManager): Promise<Array<{ serviceId: string; definition: ProfileDefinition }>> {
    return this.db(manager).query(
      `SELECT "serviceId", COALESCE(selected, own) AS definition FROM (${EFFECTIVE_PROFILE}) e WHERE COALESCE(selected, own) ? 'periodic'`,
    );
  }

  /** Creates or replaces a service's own profile. */
  async saveServiceProfile(serviceId: string, definition: ProfileDefinition, manager?: EntityManager): Promise<void> {
    const repository = this.db(manager).getRepository(ServiceProfile);
    await repository.save(repository.create({ serviceId, definition }));
  }

  async deleteServiceProfile(serviceId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).getRepository(ServiceProfile).delete({ serviceId });
  }

  /** A container's profiles, by name. */
  async containerProfiles(containerId: string, manager?: EntityManager): Promise<ContainerProfile[]> {
    return this.db(manager)
      .getRepository(ContainerProfile)
      .find({ where: { containerId }, order: { name: 'ASC' } });
  }

  /** How many services of a container select each profile name. */
  async selectionCounts(containerId: string, manager?: EntityManager): Promise<Map<string, number>> {
    const used: Array<{ profile: string; n: string }> = await this.db(manager).query(
      'SELECT profile, COUNT(*) AS n FROM service WHERE container_id = $1 AND profile IS NOT NULL GROUP BY profile',
      [containerId],
    );
    return new Map(used.map((row) => [row.profile, Number(row.n)]));
  }

  /** The services of a container that select the profile `name`. */
  async servicesSelecting(containerId: string, name: string, manager?: EntityManager): Promise<Array<{ id: string }>> {
    return this.db(manager).query('SELECT id FROM service WHERE container_id = $1 AND profile = $2', [containerId, name]);
  }

  /** Creates or replaces a container profile. */
  async saveContainerProfile(containerId: string, name: string, definition: ProfileDefinition, manager?: EntityManager): Promise<void> {
    const repository = this.db(manager).getRepository(ContainerProfile);
    await repository.save(repository.create({ containerId, name, definition }));
  }

  async getContainerProfile(containerId: string, name: string, manager?: EntityManager): Promise<ContainerProfile> {
    return this.db(manager).getRepository(ContainerProfile).findOneByOrFail({ containerId, name });
  }

  /** The container profile, its row locked for the rest of the transaction (to delete it), or null. */
  async lockContainerProfile(containerId: string, name: string, manager?: EntityManager): Promise<ContainerProfile | null> {
    return this.db(manager).findOne(ContainerProfile, { where: { containerId, name }, lock: { mode: 'pessimistic_write' } });
  }

  async deleteContainerProfile(containerId: string, name: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(ContainerProfile, { containerId, name });
  }

  // --- used by services (content)

  /** Whether the container offers this profile; FOR KEY SHARE: it cannot be deleted before the caller commits. */
  async lockOffered(containerId: string, name: string, manager?: EntityManager): Promise<boolean> {
    const offered: { name: string }[] = await this.db(manager).query('SELECT name FROM container_profile WHERE container_id = $1 AND name = $2 FOR KEY SHARE', [
      containerId,
      name,
    ]);
    return offered.length > 0;
  }
}
