import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryPrepared } from '../database/prepared';
import { DataSource, EntityManager } from 'typeorm';
import { ServiceWebhook } from './webhook.entity';

/**
 * The only place SQL on `service_webhook` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class WebhookRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** Stores a new webhook; returns the entity as created (its secret included). */
  async create(webhook: Pick<ServiceWebhook, 'id' | 'serviceId' | 'url' | 'events' | 'secret'>, manager?: EntityManager): Promise<ServiceWebhook> {
    const repository = this.db(manager).getRepository(ServiceWebhook);
    const created = repository.create(webhook);
    await repository.insert(created);
    return created;
  }

  /** A service's webhooks, without their secrets. */
  async ofService(serviceId: string, manager?: EntityManager): Promise<ServiceWebhook[]> {
    return this.db(manager)
      .getRepository(ServiceWebhook)
      .find({ where: { serviceId }, order: { id: 'ASC' } });
  }

  /** Deletes one of a service's webhooks; false when there was none. */
  async delete(serviceId: string, id: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.db(manager).getRepository(ServiceWebhook).delete({ id, serviceId });
    return Boolean(result.affected);
  }

  /** The webhooks of these services that asked to be told about any of `events` (job states), with what they asked for: one query. */
  async subscribedToAny(serviceIds: string[], events: string[], manager?: EntityManager): Promise<Array<{ id: string; serviceId: string; events: string[] }>> {
    return queryPrepared(
      this.db(manager),
      'SELECT id, service_id AS "serviceId", events FROM service_webhook WHERE service_id = ANY($1::uuid[]) AND events ?| $2::text[]',
      [serviceIds, events],
    );
  }

  /** A webhook with its signing secret, or null. */
  async withSecret(id: string, manager?: EntityManager): Promise<ServiceWebhook | null> {
    return this.db(manager).getRepository(ServiceWebhook).createQueryBuilder('w').addSelect('w.secret').where('w.id = :id', { id }).getOne();
  }
}
