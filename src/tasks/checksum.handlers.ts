import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { ContentStore } from '../storage/content-store';
import { TaskName } from './task-catalogue';
import { TaskContext, TaskHandler, TaskOutcome } from './task-handler.decorator';

@Injectable()
export class ChecksumHandlers {
  constructor(private readonly store: ContentStore) {}

  private async digest(algorithm: 'md5' | 'sha256', blobKey: string): Promise<string> {
    const hash = createHash(algorithm);
    await pipeline(this.store.read(blobKey), hash);
    return hash.digest('hex');
  }

  @TaskHandler(TaskName.Md5)
  async md5(context: TaskContext<TaskName.Md5>): Promise<TaskOutcome<TaskName.Md5>> {
    const [input] = context.inputs;
    const md5 = await this.digest('md5', input.blobKey);
    return { status: 'succeeded', result: { md5, matchesRecorded: md5 === input.md5 } };
  }

  @TaskHandler(TaskName.Sha256)
  async sha256(context: TaskContext<TaskName.Sha256>): Promise<TaskOutcome<TaskName.Sha256>> {
    const [input] = context.inputs;
    const sha256 = await this.digest('sha256', input.blobKey);
    return { status: 'succeeded', result: { sha256, matchesRecorded: sha256 === input.sha256 } };
  }
}
