import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { escapeLike } from '../common/pagination';
import { Service } from './service.entity';

/** What a new service is made of (the database fills in the timestamps). */
export type NewService = Omit<Service, 'container' | 'createdAt' | 'updatedAt'>;

/** The filters of a page of a container's services. */
export interface ServicePageQuery {
  containerId: string;
  /** Only this service (a service key sees its own; null: none). */
  onlyId?: string | null;
  /** The id of the last service of the previous page. */
  after?: string | null;
  name?: string;
  limit: number;
}

/**
 * The only place SQL on `service` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class ServiceRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  async create(fields: NewService, manager?: EntityManager): Promise<Service> {
    const service = this.db(manager).create(Service, fields);
    await this.db(manager).insert(Service, service);
    return service;
  }

  async findById(id: string, manager?: EntityManager): Promise<Service | null> {
    return this.db(manager).findOneBy(Service, { id });
  }

  /** The service, its row locked for the rest of the transaction (to change it). */
  async lockForUpdate(id: string, manager?: EntityManager): Promise<Service | null> {
    return this.db(manager).findOne(Service, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async save(service: Service, manager?: EntityManager): Promise<Service> {
    return this.db(manager).save(Service, service);
  }

  /** One more than `limit` services of the container (so the caller knows whether a next page exists), in id order. */
  async page(query: ServicePageQuery): Promise<Service[]> {
    const builder = this.dataSource
      .getRepository(Service)
      .createQueryBuilder('s')
      .where('s.container_id = :containerId', { containerId: query.containerId })
      .orderBy('s.id')
      .limit(query.limit + 1);
    if (query.onlyId !== undefined) builder.andWhere('s.id = :own', { own: query.onlyId });
    if (query.after) builder.andWhere('s.id > :after', { after: query.after });
    if (query.name) builder.andWhere("s.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    return builder.getMany();
  }

  /** The service's download bandwidth cap in bytes per second (`accessSpeed`), null when unlimited or gone. */
  async accessSpeedOf(id: string): Promise<number | null> {
    const service = await this.dataSource.getRepository(Service).findOne({ where: { id }, select: { id: true, accessSpeed: true } });
    return service?.accessSpeed ?? null;
  }

  // --- used by deletes

  /** Locks the service's row for its deletion; false when there is none. */
  async lockForDelete(id: string, manager?: EntityManager): Promise<boolean> {
    const rows: { id: string }[] = await this.db(manager).query('SELECT id FROM service WHERE id = $1 FOR UPDATE', [id]);
    return rows.length > 0;
  }

  /** Locks every service row of a container (before the container's own: the order quota checks take them in). */
  async lockAllInContainer(containerId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query('SELECT id FROM service WHERE container_id = $1 FOR UPDATE', [containerId]);
  }

  /** Deletes the service; the foreign keys cascade to everything in it. */
  async delete(id: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(Service, { id });
  }

  // --- used by key resolution
  /** The container a service is in; null when there is no such service. */
  async containerIdOf(id: string, manager?: EntityManager): Promise<string | null> {
    const [row]: Array<{ container_id: string }> = await this.db(manager).query('SELECT container_id FROM service WHERE id = $1', [id]);
    return row ? row.container_id : null;
  }

  /** The service's management state (its suspension or its container's, its time window), for the suspension and time-window rules. */
  async stateOf(
    id: string,
    manager?: EntityManager,
  ): Promise<{ suspended: boolean; containerSuspended: boolean; startsAt: Date | null; endsAt: Date | null } | undefined> {
    const [row] = await this.db(manager).query(
      'SELECT s.suspended, c.suspended AS container_suspended, s.starts_at, s.ends_at FROM service s JOIN container c ON c.id = s.container_id WHERE s.id = $1',
      [id],
    );
    return row && { suspended: row.suspended, containerSuspended: row.container_suspended, startsAt: row.starts_at, endsAt: row.ends_at };
  }
}
