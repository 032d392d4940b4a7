import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { escapeLike, decodeIdCursor, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { KeysService } from '../keys/keys.service';
import { BlobJanitor } from '../storage/blob-janitor';
import { UsageService } from '../usage/usage.service';
import { Container } from './container.entity';
import { CONTAINER_MANAGEMENT_PROPERTIES, CreateContainerDto, ListContainersQuery, UpdateContainerDto } from './dto';

@Injectable()
export class ContainersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: KeysService,
    private readonly janitor: BlobJanitor,
    private readonly usage: UsageService,
  ) {}

  /** Creates the container and its containeradmin key (shown once). */
  async create(auth: RequestAuth, dto: CreateContainerDto): Promise<Container & { key: string; keyId: string }> {
    return this.dataSource.transaction(async (manager) => {
      const container = manager.create(Container, { id: uuidv7(), name: dto.name, description: dto.description ?? null, properties: dto.properties ?? {} });
      await manager.insert(Container, container);
      const issued = await this.keys.issue(manager, {
        resource: { type: 'container', id: container.id, ancestors: new Set([container.id]), containerId: container.id, serviceId: null },
        roles: ['containeradmin'],
        createdBy: auth.key,
        label: `containeradmin for ${dto.name}`,
      });
      await this.usage.record(manager, { metric: 'containers', value: 1, containerId: container.id, serviceId: null, resourceType: 'container', resourceId: container.id });
      const saved = await manager.findOneByOrFail(Container, { id: container.id });
      return { ...saved, key: issued.secret, keyId: issued.key.id };
    });
  }

  /** The containers this key reaches: all for provider keys, its own for a container key, none below. */
  async list(auth: RequestAuth, query: ListContainersQuery): Promise<Page<Container>> {
    const builder = this.dataSource.getRepository(Container).createQueryBuilder('c').orderBy('c.id').limit(query.limit + 1);
    if (auth.key.resourceType !== 'provider') builder.andWhere('c.id = :own', { own: auth.key.containerId ?? '00000000-0000-0000-0000-000000000000' });
    if (auth.key.resourceType !== 'provider' && auth.key.resourceType !== 'container') return { items: [], nextCursor: null };
    const after = decodeIdCursor(query.cursor);
    if (after) builder.andWhere('c.id > :after', { after });
    if (query.name) builder.andWhere("c.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    return toPage(await builder.getMany(), query.limit, (last) => [last.id]);
  }

  async get(id: string): Promise<Container> {
    const container = await this.dataSource.getRepository(Container).findOneBy({ id });
    if (!container) throw Problems.notFound('container', id);
    return container;
  }

  async update(auth: RequestAuth, id: string, dto: UpdateContainerDto): Promise<Container> {
    const touched = CONTAINER_MANAGEMENT_PROPERTIES.filter((name) => dto[name] !== undefined);
    if (touched.length && !auth.actions.has('container:create')) {
      throw Problems.forbidden(`setting ${touched.join(', ')} is the provider's: it needs the action container:create, which this key lacks`, { missingActions: ['container:create'] });
    }
    const container = await this.get(id);
    Object.assign(container, {
      ...(dto.name !== undefined && { name: dto.name }),
      ...(dto.description !== undefined && { description: dto.description }),
      ...(dto.properties !== undefined && { properties: dto.properties }),
    });
    for (const name of touched) (container as unknown as Record<string, unknown>)[name] = dto[name];
    return this.dataSource.getRepository(Container).save(container);
  }

  /** Deletes the container with everything in it; its bytes go once the rows are gone. */
  async remove(id: string): Promise<void> {
    let backups: string[] = [];
    const blobs = await this.dataSource.transaction(async (manager) => {
      // its services' rows first, then its own (the order quota checks take them in), so no upload commits into
      // them meanwhile and the bytes listed below are all there are
      await manager.query('SELECT id FROM service WHERE container_id = $1 FOR UPDATE', [id]);
      const rows = await manager.query('SELECT id FROM container WHERE id = $1 FOR UPDATE', [id]);
      if (rows.length === 0) throw Problems.notFound('container', id);
      const blobKeys = await this.janitor.blobsUnder(manager, { containerId: id });
      backups = await this.janitor.backupsUnder(manager, { containerId: id });
      await manager.delete(Container, { id });
      // after the cascade: it waited for deletes still running inside, whose facts are now visible
      await this.usage.zeroGauges(manager, { containerId: id });
      return blobKeys;
    });
    await this.janitor.removeAll(blobs);
    await this.janitor.removeBackups(this.dataSource.manager, backups);
  }
}
