import { PeriodicScheduler } from '../pipelines/periodic-scheduler';
import { PipelinesService } from '../pipelines/pipelines.service';
import { ServiceEvents } from '../pipelines/service-events';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { decodeIdCursor, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { KeysService } from '../keys/keys.service';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { ProfileRepository } from '../pipelines/profile.repository';
import { SubtreeDeletion } from '../deletion/subtree-deletion';
import { UsageService } from '../usage/usage.service';
import { CreateServiceDto, ListServicesQuery, MANAGEMENT_PROPERTIES, ServicePropertiesDto, UpdateServiceDto } from './dto';
import { Service } from './service.entity';
import { ServiceRepository } from './service.repository';

export type ServiceView = Service & { rootFolderId: string };

@Injectable()
export class ServicesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly services: ServiceRepository,
    private readonly folders: MfolderRepository,
    private readonly profiles: ProfileRepository,
    private readonly keys: KeysService,
    private readonly deletion: SubtreeDeletion,
    private readonly usage: UsageService,
    private readonly scheduler: PeriodicScheduler,
    private readonly pipelines: PipelinesService,
    private readonly serviceEvents: ServiceEvents,
  ) {}

  private requireManage(auth: RequestAuth, dto: ServicePropertiesDto): void {
    const touched = MANAGEMENT_PROPERTIES.filter((name) => dto[name] !== undefined);
    if (touched.length && !auth.actions.has('service:manage')) {
      throw Problems.forbidden(`setting ${touched.join(', ')} needs the action service:manage, which this key lacks`, { missingActions: ['service:manage'] });
    }
    const startsAt = dto.startsAt ?? null;
    const endsAt = dto.endsAt ?? null;
    if (startsAt && endsAt && startsAt >= endsAt) throw Problems.badRequest('startsAt must be before endsAt', { errors: ['startsAt must be before endsAt'] });
  }

  /** Creates the service, its root folder, and its serviceadmin and servicecustomer keys (shown once). */
  async create(auth: RequestAuth, containerId: string, dto: CreateServiceDto) {
    this.requireManage(auth, dto);
    const created = await this.dataSource.transaction(async (manager) => {
      if (dto.profile) await this.assertOffered(manager, containerId, dto.profile);
      const service = await this.services.create(
        {
          id: uuidv7(),
          containerId,
          name: dto.name,
          description: dto.description ?? null,
          suspended: dto.suspended ?? false,
          startsAt: dto.startsAt ?? null,
          endsAt: dto.endsAt ?? null,
          priority: dto.priority ?? false,
          diskQuota: dto.diskQuota ?? null,
          ingestQuota: dto.ingestQuota ?? null,
          jobruntimeQuota: dto.jobruntimeQuota ?? null,
          appQuotas: dto.appQuotas ?? null,
          accessSpeed: dto.accessSpeed ?? null,
          profile: dto.profile ?? null,
          properties: dto.properties ?? {},
        },
        manager,
      );
      await this.folders.create({ id: uuidv7(), containerId, serviceId: service.id, parentId: null, name: '' }, manager);
      const resource = { type: 'service' as const, id: service.id, ancestors: new Set([service.id, containerId]), containerId, serviceId: service.id };
      const admin = await this.keys.issue(manager, { resource, roles: ['serviceadmin'], createdBy: auth.key, label: `serviceadmin for ${dto.name}` });
      const customer = await this.keys.issue(manager, { resource, roles: ['servicecustomer'], createdBy: auth.key, label: `servicecustomer for ${dto.name}` });
      await this.usage.record(manager, { metric: 'services', value: 1, containerId, serviceId: service.id, resourceType: 'service', resourceId: service.id });
      const view = await this.view(manager, service.id);
      return { ...view, key: admin.secret, keyId: admin.key.id, customerKey: customer.secret, customerKeyId: customer.key.id };
    });
    if (dto.profile) await this.pipelines.resyncSchedules([created.id]);
    return created;
  }

  /** The container offers this profile; FOR KEY SHARE: it cannot be deleted before the caller commits. */
  private async assertOffered(manager: EntityManager, containerId: string, name: string): Promise<void> {
    if (!(await this.profiles.lockOffered(containerId, name, manager)))
      throw Problems.badRequest(`the container offers no profile named "${name}" (GET /containers/${containerId}/profiles)`, {
        errors: [`profile ${name} does not exist`],
      });
  }

  async view(manager: EntityManager, id: string): Promise<ServiceView> {
    const service = await this.services.findById(id, manager);
    if (!service) throw Problems.notFound('service', id);
    const root = await this.folders.findServiceRoot(id, manager);
    if (!root) throw new Error(`service ${id} has no root folder`);
    return { ...service, rootFolderId: root.id };
  }

  get(id: string): Promise<ServiceView> {
    return this.view(this.dataSource.manager, id);
  }

  async list(auth: RequestAuth, containerId: string, query: ListServicesQuery): Promise<Page<Service>> {
    const onlyId = auth.key.resourceType === 'service' ? auth.key.resourceId : undefined;
    const after = decodeIdCursor(query.cursor);
    return toPage(await this.services.page({ containerId, onlyId, after, name: query.name, limit: query.limit }), query.limit, (last) => [last.id]);
  }

  async update(auth: RequestAuth, id: string, dto: UpdateServiceDto): Promise<ServiceView> {
    this.requireManage(auth, dto);
    let wasSuspended = false;
    const view = await this.dataSource.transaction(async (manager) => {
      const service = await this.services.lockForUpdate(id, manager);
      if (!service) throw Problems.notFound('service', id);
      wasSuspended = service.suspended;
      for (const field of ['name', 'description', 'properties', ...MANAGEMENT_PROPERTIES] as const) {
        if (dto[field] !== undefined) (service as unknown as Record<string, unknown>)[field] = dto[field];
      }
      if (service.startsAt && service.endsAt && service.startsAt >= service.endsAt)
        throw Problems.badRequest('startsAt must be before endsAt', { errors: ['startsAt must be before endsAt'] });
      if (dto.profile) await this.assertOffered(manager, service.containerId, dto.profile);
      await this.services.save(service, manager);
      return this.view(manager, id);
    });
    // the selected profile's periodic pipeline (or none) is the schedule now
    if (dto.profile !== undefined) await this.pipelines.resyncSchedules([id]);
    if (dto.suspended !== undefined && dto.suspended !== wasSuspended)
      this.serviceEvents.emit({ type: dto.suspended ? 'service.suspended' : 'service.resumed', serviceId: id, data: { service: { id, name: view.name } } });
    return view;
  }

  async remove(id: string): Promise<void> {
    await this.deletion.run({
      lock: async (manager) => {
        if (!(await this.services.lockForDelete(id, manager))) throw Problems.notFound('service', id);
        return { subtree: { serviceId: id } };
      },
      delete: async (manager) => {
        await this.services.delete(id, manager);
        // after the cascade: it waited for deletes still running inside the service, whose facts are now visible
        await this.usage.zeroGauges(manager, { serviceId: id });
      },
    });
    await this.scheduler.remove(id);
  }
}
