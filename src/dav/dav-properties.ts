import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { uuidv7 } from '../database/uuid';
import { DavPropertyRepository, ResourceRef } from './dav-property.repository';

export type { ResourceRef } from './dav-property.repository';

const propertyRow = (ref: ResourceRef, name: string, xml: string) => ({
  id: uuidv7(),
  mfileId: ref.kind === 'mfile' ? ref.id : null,
  mfolderId: ref.kind === 'mfolder' ? ref.id : null,
  name,
  xml,
});

/** Dead properties (PROPPATCH) in PostgreSQL, keyed by the row they belong to. */
@Injectable()
export class DavProperties {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: DavPropertyRepository,
  ) {}

  /** The properties of many resources in one query: resource id → (Clark name → serialised element). */
  async of(refs: ResourceRef[]): Promise<Map<string, Map<string, string>>> {
    const result = new Map<string, Map<string, string>>();
    const files = refs.filter((ref) => ref.kind === 'mfile').map((ref) => ref.id);
    const folders = refs.filter((ref) => ref.kind === 'mfolder').map((ref) => ref.id);
    if (!files.length && !folders.length) return result;
    const rows = await this.repository.listOfMany(files, folders);
    for (const row of rows) {
      if (!result.has(row.owner)) result.set(row.owner, new Map());
      result.get(row.owner)!.set(row.name, row.xml);
    }
    return result;
  }

  /** Applies a PROPPATCH's instructions in order, all or nothing. */
  async apply(ref: ResourceRef, instructions: ({ set: true; name: string; xml: string } | { set: false; name: string })[]): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      for (const instruction of instructions) {
        await this.repository.deleteOne(ref, instruction.name, manager);
        if (instruction.set) await this.repository.insert(propertyRow(ref, instruction.name, instruction.xml), manager);
      }
    });
  }

  /** A COPY takes the dead properties along (one read, one insert). */
  async copy(from: ResourceRef, to: ResourceRef): Promise<void> {
    const rows = await this.repository.listOf(from);
    if (rows.length) await this.repository.insert(rows.map((row) => propertyRow(to, row.name, row.xml)));
  }
}
