import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decodeIdCursor, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { KeysService } from '../keys/keys.service';
import { ServiceRepository } from '../services/service.repository';
import { SubtreeDeletion } from '../deletion/subtree-deletion';
import { UsageService } from '../usage/usage.service';
import { Container } from './container.entity';
import { ContainerRepository } from './container.repository';
import { CONTAINER_MANAGEMENT_PROPERTIES, CreateContainerDto, ListContainersQuery, UpdateContainerDto } from './dto';

@Injectable()
export class ContainersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly containers: ContainerRepository,
    private readonly services: ServiceRepository,
    private readonly keys: KeysService,
    private readonly deletion: SubtreeDeletion,
    private readonly usage: UsageService,
  ) {}

  /** Creates the container and its containeradmin key (shown once). */
  async create(auth: RequestAuth, dto: CreateContainerDto): Promise<Container & { key: string; keyId: string }> {
    return this.dataSource.transaction(async (manager) => {
      const container = await this.containers.create(
        { id: uuidv7(), name: dto.name, description: dto.description ?? null, properties: dto.properties ?? {} },
        manager,
      );
      const issued = await this.keys.issue(manager, {
        resource: { type: 'container', id: container.id, ancestors: new Set([container.id]), containerId: container.id, serviceId: null },
        roles: ['containeradmin'],
        createdBy: auth.key,
        label: `containeradmin for ${dto.name}`,
      });
      await this.usage.record(manager, {
        metric: 'containers',
        value: 1,
        containerId: container.id,
        serviceId: null,
        resourceType: 'container',
        resourceId: container.id,
      });
      const saved = await this.containers.reload(container.id, manager);
      return { ...saved, key: issued.secret, keyId: issued.key.id };
    });
  }

  /** The containers this key reaches: all for provider keys, its own for a container key, none below. */
  async list(auth: RequestAuth, query: ListContainersQuery): Promise<Page<Container>> {
    if (auth.key.resourceType !== 'provider' && auth.key.resourceType !== 'container') return { items: [], nextCursor: null };
    const onlyId = auth.key.resourceType !== 'provider' ? (auth.key.containerId ?? '00000000-0000-0000-0000-000000000000') : undefined;
    const after = decodeIdCursor(query.cursor);
    return toPage(await this.containers.page({ onlyId, after, name: query.name, limit: query.limit }), query.limit, (last) => [last.id]);
  }

  async get(id: string): Promise<Container> {
    const container = await this.containers.findById(id);
    if (!container) throw Problems.notFound('container', id);
    return container;
  }

  async update(auth: RequestAuth, id: string, dto: UpdateContainerDto): Promise<Container> {
    const touched = CONTAINER_MANAGEMENT_PROPERTIES.filter((name) => dto[name] !== undefined);
    if (touched.length && !auth.actions.has('container:create')) {
      throw Problems.forbidden(`setting ${touched.join(', ')} is the provider's: it needs the action container:create, which this key lacks`, {
        missingActions: ['container:create'],
      });
    }
    const container = await this.get(id);
    Object.assign(container, {
      ...(dto.name !== undefined && { name: dto.name }),
      ...(dto.description !== undefined && { description: dto.description }),
      ...(dto.properties !== undefined && { properties: dto.properties }),
    });
    for (const name of touched) (container as unknown as Record<string, unknown>)[name] = dto[name];
    return this.containers.save(container);
  }

  /** Deletes the container with everything in it; its bytes go once the rows are gone. */
  async remove(id: string): Promise<void> {
    await this.deletion.run({
      lock: async (manager) => {
        // its services' rows first, then its own (the order quota checks take them in), so no upload commits into
        // them meanwhile and the bytes listed below are all there are
        await this.services.lockAllInContainer(id, manager);
        if (!(await this.containers.lockForDelete(id, manager))) throw Problems.notFound('container', id);
        return { subtree: { containerId: id } };
      },
      delete: async (manager) => {
        await this.containers.delete(id, manager);
        // after the cascade: it waited for deletes still running inside, whose facts are now visible
        await this.usage.zeroGauges(manager, { containerId: id });
      },
    });
  }
}
