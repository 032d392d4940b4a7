import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { escapeLike } from '../common/pagination';
import { Container } from './container.entity';

/** The filters of a page of containers. */
export interface ContainerPageQuery {
  /** Only this container (a container key sees its own). */
  onlyId?: string;
  /** The id of the last container of the previous page. */
  after?: string | null;
  name?: string;
  limit: number;
}

/**
 * The only place SQL on `container` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class ContainerRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** Inserts a new container; returns it as created (without the columns the database fills in). */
  async create(fields: Pick<Container, 'id' | 'name' | 'description' | 'properties'>, manager?: EntityManager): Promise<Container> {
    const container = this.db(manager).create(Container, fields);
    await this.db(manager).insert(Container, container);
    return container;
  }

  async findById(id: string, manager?: EntityManager): Promise<Container | null> {
    return this.db(manager).findOneBy(Container, { id });
  }

  /** A container that must exist (just inserted, or locked), as stored. */
  async reload(id: string, manager?: EntityManager): Promise<Container> {
    return this.db(manager).findOneByOrFail(Container, { id });
  }

  /** One more than `limit` containers (so the caller knows whether a next page exists), in id order. */
  async page(query: ContainerPageQuery): Promise<Container[]> {
    const builder = this.dataSource
      .getRepository(Container)
      .createQueryBuilder('c')
      .orderBy('c.id')
      .limit(query.limit + 1);
    if (query.onlyId !== undefined) builder.andWhere('c.id = :own', { own: query.onlyId });
    if (query.after) builder.andWhere('c.id > :after', { after: query.after });
    if (query.name) builder.andWhere("c.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    return builder.getMany();
  }

  async save(container: Container, manager?: EntityManager): Promise<Container> {
    return this.db(manager).getRepository(Container).save(container);
  }

  // --- used by deletes

  /** Locks the container's row for its deletion; false when there is none. */
  async lockForDelete(id: string, manager?: EntityManager): Promise<boolean> {
    const rows: { id: string }[] = await this.db(manager).query('SELECT id FROM container WHERE id = $1 FOR UPDATE', [id]);
    return rows.length > 0;
  }

  /** Deletes the container; the foreign keys cascade to everything in it. */
  async delete(id: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(Container, { id });
  }

  // --- used by the WebDAV tree

  /** A container's id, name and dates, or null. */
  async findSummary(id: string, manager?: EntityManager): Promise<ContainerSummary | null> {
    const [row] = (await this.db(manager).query('SELECT id, name, created_at, updated_at FROM container WHERE id = $1', [id])) as ContainerSummaryRow[];
    return row ? { id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at } : null;
  }

  /** Every container's id, name and dates. */
  async listSummaries(manager?: EntityManager): Promise<ContainerSummary[]> {
    const rows = (await this.db(manager).query('SELECT id, name, created_at, updated_at FROM container')) as ContainerSummaryRow[];
    return rows.map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at }));
  }

  // --- used by key resolution
  /** Whether the container exists and is suspended; null when there is no such container. */
  async suspensionOf(id: string, manager?: EntityManager): Promise<{ suspended: boolean } | null> {
    const [row]: Array<{ id: string; suspended: boolean }> = await this.db(manager).query('SELECT id, suspended FROM container WHERE id = $1', [id]);
    return row ? { suspended: Boolean(row.suspended) } : null;
  }
}

/** What the WebDAV tree shows of a container. */
export interface ContainerSummary {
  id: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
}
interface ContainerSummaryRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}
