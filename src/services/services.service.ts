import { PeriodicScheduler } from '../pipelines/periodic-scheduler';
import { PipelinesService } from '../pipelines/pipelines.service';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { decodeIdCursor, escapeLike, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { KeysService } from '../keys/keys.service';
import { Mfolder } from '../mfolders/mfolder.entity';
import { BlobJanitor } from '../storage/blob-janitor';
import { UsageService } from '../usage/usage.service';
import { CreateServiceDto, ListServicesQuery, MANAGEMENT_PROPERTIES, ServicePropertiesDto, UpdateServiceDto } from './dto';
import { Service } from './service.entity';

export type ServiceView = Service & { rootFolderId: string };

@Injectable()
export class ServicesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: KeysService,
    private readonly janitor: BlobJanitor,
    private readonly usage: UsageService,
    private readonly scheduler: PeriodicScheduler,
    private readonly pipelines: PipelinesService,
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
      const service = manager.create(Service, {
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
        accessSpeed: dto.accessSpeed ?? null,
        profile: dto.profile ?? null,
        properties: dto.properties ?? {},
      });
      await manager.insert(Service, service);
      const root = manager.create(Mfolder, { id: uuidv7(), containerId, serviceId: service.id, parentId: null, name: '' });
      await manager.insert(Mfolder, root);
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
    const offered = await manager.query('SELECT name FROM container_profile WHERE container_id = $1 AND name = $2 FOR KEY SHARE', [containerId, name]);
    if (offered.length === 0) throw Problems.badRequest(`the container offers no profile named "${name}" (GET /containers/${containerId}/profiles)`, { errors: [`profile ${name} does not exist`] });
  }

  async view(manager: EntityManager, id: string): Promise<ServiceView> {
    const service = await manager.findOneBy(Service, { id });
    if (!service) throw Problems.notFound('service', id);
    const root = await manager.findOneByOrFail(Mfolder, { serviceId: id, parentId: IsNull() });
    return { ...service, rootFolderId: root.id };
  }

  get(id: string): Promise<ServiceView> {
    return this.view(this.dataSource.manager, id);
  }

  async list(auth: RequestAuth, containerId: string, query: ListServicesQuery): Promise<Page<Service>> {
    const builder = this.dataSource.getRepository(Service).createQueryBuilder('s').where('s.container_id = :containerId', { containerId }).orderBy('s.id').limit(query.limit + 1);
    if (auth.key.resourceType === 'service') builder.andWhere('s.id = :own', { own: auth.key.resourceId });
    const after = decodeIdCursor(query.cursor);
    if (after) builder.andWhere('s.id > :after', { after });
    if (query.name) builder.andWhere("s.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    return toPage(await builder.getMany(), query.limit, (last) => [last.id]);
  }

  async update(auth: RequestAuth, id: string, dto: UpdateServiceDto): Promise<ServiceView> {
    this.requireManage(auth, dto);
    const view = await this.dataSource.transaction(async (manager) => {
      const service = await manager.findOne(Service, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!service) throw Problems.notFound('service', id);
      for (const field of ['name', 'description', 'properties', ...MANAGEMENT_PROPERTIES] as const) {
        if (dto[field] !== undefined) (service as unknown as Record<string, unknown>)[field] = dto[field];
      }
      if (service.startsAt && service.endsAt && service.startsAt >= service.endsAt) throw Problems.badRequest('startsAt must be before endsAt', { errors: ['startsAt must be before endsAt'] });
      if (dto.profile) await this.assertOffered(manager, service.containerId, dto.profile);
      await manager.save(Service, service);
      return this.view(manager, id);
    });
    // the selected profile's periodic pipeline (or none) is the schedule now
    if (dto.profile !== undefined) await this.pipelines.resyncSchedules([id]);
    return view;
  }

  async remove(id: string): Promise<void> {
    let backups: string[] = [];
    const blobs = await this.dataSource.transaction(async (manager) => {
      const rows = await manager.query('SELECT id FROM service WHERE id = $1 FOR UPDATE', [id]);
      if (rows.length === 0) throw Problems.notFound('service', id);
      const blobKeys = await this.janitor.blobsUnder(manager, { serviceId: id });
      backups = await this.janitor.backupsUnder(manager, { serviceId: id });
      await manager.delete(Service, { id });
      // after the cascade: it waited for deletes still running inside the service, whose facts are now visible
      await this.usage.zeroGauges(manager, { serviceId: id });
      return blobKeys;
    });
    await this.janitor.removeAll(blobs);
    await this.janitor.removeBackups(this.dataSource.manager, backups);
    await this.scheduler.remove(id);
  }
}
