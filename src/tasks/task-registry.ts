import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { TaskName, TASKS } from './task-catalogue';
import { TASK_HANDLER_METADATA, TaskHandlerFunction } from './task-handler.decorator';

/** Finds every @TaskHandler at boot; a task with no handler, or with two, stops the worker from starting. */
@Injectable()
export class TaskRegistry implements OnModuleInit {
  private readonly handlers = new Map<TaskName, TaskHandlerFunction<TaskName>>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const task = this.reflector.get<TaskName | undefined>(TASK_HANDLER_METADATA, instance[method] as () => unknown);
        if (!task) continue;
        if (this.handlers.has(task)) throw new Error(`task ${task} has two handlers`);
        this.handlers.set(task, (instance[method] as TaskHandlerFunction<TaskName>).bind(instance));
      }
    }
    const missing = Object.keys(TASKS).filter((task) => !this.handlers.has(task as TaskName));
    if (missing.length) throw new Error(`tasks without a handler: ${missing.join(', ')}`);
  }

  handler(task: TaskName): TaskHandlerFunction<TaskName> {
    const handler = this.handlers.get(task);
    if (!handler) throw new Error(`no handler for task ${task}`);
    return handler;
  }
}
