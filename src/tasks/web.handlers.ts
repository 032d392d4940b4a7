import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { uuidv7 } from '../database/uuid';
import { Mfile } from '../mfiles/mfile.entity';
import { presentMfile } from '../mfiles/mfile.presenter';
import { MfileRepository } from '../mfiles/mfile.repository';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { BlobStore } from '../storage/blob-store';
import { MimeDetector } from '../storage/mime-detector';
import { isOutboundAddressRefused } from '../webhooks/address-policy';
import { outboundRequest, OutboundResponse } from '../webhooks/outbound';
import { WebhooksService } from '../webhooks/webhooks.service';
import { folderPathNames, TaskName } from './task-catalogue';
import { TaskContext, TaskFailure, TaskHandler, TaskOutcome } from './task-handler.decorator';

const MAX_REDIRECTS = 5;

interface Source {
  url: string;
  etag: string | null;
  lastModified: string | null;
  /** The bytes the validators above describe: once the file holds other bytes (replaced by hand), they say nothing. */
  sha256?: string;
}

/** Tasks that talk to other web services: pulling content from a URL, calling a registered webhook. */
@Injectable()
export class WebHandlers {
  constructor(
    private readonly store: BlobStore,
    private readonly mime: MimeDetector,
    private readonly webhooks: WebhooksService,
    private readonly folders: MfolderRepository,
    private readonly mfiles: MfileRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** GET with redirects followed by hand, so every hop is checked like the first URL. */
  private async get(url: string, headers: Record<string, string>): Promise<{ response: OutboundResponse; url: string }> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let response: OutboundResponse;
      try {
        response = await outboundRequest(current, { method: 'GET', headers, timeoutMs: 60_000, allowPrivate: this.config.outboundAllowPrivate });
      } catch (error) {
        // a refused address is permanent; anything else (connection refused, reset, timeout) is worth a retry
        if (isOutboundAddressRefused(error) || /not a URL|only http|credentials/.test((error as Error).message))
          throw new TaskFailure((error as Error).message);
        throw error;
      }
      const location = response.header('location');
      if (response.status >= 300 && response.status < 400 && response.status !== 304 && location) {
        response.body.destroy();
        current = new URL(location, current).href;
        continue;
      }
      return { response, url: current };
    }
    throw new TaskFailure(`more than ${MAX_REDIRECTS} redirects from ${url}`);
  }

  /**
   * With an input: pulls the URL into that file. Without (a periodic step with `input: "none"`): into the file
   * `options.name` of the folder `options.folder`, which it creates on the first run (see `fetchIntoFolder`).
   */
  @TaskHandler(TaskName.FetchUrl)
  async fetchUrl(context: TaskContext<TaskName.FetchUrl>): Promise<TaskOutcome<TaskName.FetchUrl>> {
    const [input] = context.inputs;
    if (!input) return this.fetchIntoFolder(context);
    return this.pull(context.options.url, input, input.name);
  }

  /**
   * fetch-url without input: the folder is looked up by its path from the service root (it must exist); a file of
   * that name is the target only if it was fetched from this URL (its `metadata.source`), and is then asked for
   * conditionally and replaced only when the source changed, as with an input; a file fetched from elsewhere (or
   * uploaded), or a folder, of that name is left alone and the job fails. Without a file, the bytes become a new file.
   * What is found here is checked again where the result is recorded (TaskEffects), in its transaction.
   */
  private async fetchIntoFolder(context: TaskContext<TaskName.FetchUrl>): Promise<TaskOutcome<TaskName.FetchUrl>> {
    const { url } = context.options;
    const folderPath = context.options.folder ?? '/';
    const name = context.options.name;
    if (!name) throw new TaskFailure('fetch-url without input needs the name of the file to write (options.name)');
    const path = `${folderPath === '/' ? '' : folderPath}/${name}`;
    // said without the leading slash: a job's error is cleared of anything that looks like a server path
    const shown = `"${path.slice(1)}"`;
    const folder = await this.folderAt(context.serviceId, folderPath);
    if (!folder)
      throw new TaskFailure(`the folder "${folderPath.slice(1)}" does not exist in this service: nothing was fetched (create it, or change the step's folder)`);
    const member = await this.folders.findMemberNamed(folder.id, name);
    if (member?.kind === 'folder') throw new TaskFailure(`${shown} is a folder: nothing was fetched (fetch-url writes a file of that name)`);
    if (member?.kind === 'file') {
      const existing = await this.mfiles.findById(member.mfile.id);
      if (existing) {
        const source = (existing.metadata as { source?: Source }).source;
        if (source?.url !== url)
          throw new TaskFailure(
            `${shown} exists and was not fetched from ${url}: it is left alone and nothing was fetched (move or rename it, or give the step another name)`,
          );
        const outcome = await this.pull(url, existing, name);
        if (outcome.status !== 'succeeded') return outcome;
        return {
          ...outcome,
          result: { ...outcome.result, mfileId: existing.id, path, created: false },
          target: { kind: 'existing', mfileId: existing.id, blobKey: existing.blobKey, sha256: existing.sha256 },
        };
      }
    }
    const outcome = await this.pull(url, undefined, name);
    if (outcome.status !== 'succeeded') return outcome;
    const mfileId = uuidv7();
    return {
      ...outcome,
      result: { ...outcome.result, mfileId, path, created: true },
      target: { kind: 'new', mfileId, folderId: folder.id, name },
    };
  }

  /** The folder at a path from the service's root ("/feeds/daily"), or undefined when there is none. */
  private async folderAt(serviceId: string, path: string): Promise<Mfolder | undefined> {
    const names = folderPathNames(path);
    if ('problem' in names) throw new TaskFailure(`the folder "${path.slice(1)}" ${names.problem}`);
    let folder = await this.folders.findServiceRoot(serviceId);
    for (const name of names.names) {
      if (!folder) return undefined;
      const member = await this.folders.findMemberNamed(folder.id, name);
      folder = member?.kind === 'folder' ? member.folder : null;
    }
    return folder ?? undefined;
  }

  /**
   * GETs the URL into `current` (the file it keeps in step with the source: asked conditionally while it still holds
   * the bytes its validators describe; same bytes again change nothing), or, without one, unconditionally for a new
   * file named `name`.
   */
  private async pull(url: string, current: Pick<Mfile, 'metadata' | 'sha256' | 'size'> | undefined, name: string): Promise<TaskOutcome<TaskName.FetchUrl>> {
    const known = current && (current.metadata as { source?: Source }).source;
    const headers: Record<string, string> = { 'user-agent': 'MServe-Fetch/1' };
    // ask conditionally only while the file still holds the bytes the validators describe
    const asking = known?.url === url && (known.sha256 === undefined || known.sha256 === current!.sha256);
    if (asking && known.etag) headers['if-none-match'] = known.etag;
    if (asking && known.lastModified) headers['if-modified-since'] = known.lastModified;
    const { response } = await this.get(url, headers);
    const source: Source = { url, etag: response.header('etag'), lastModified: response.header('last-modified') };
    const unchanged = (status: number, file: Pick<Mfile, 'sha256' | 'size'>) => {
      // the validators of the bytes the file holds: the answer's, else the ones it was asked with
      const etag = source.etag ?? (asking ? known.etag : null);
      const lastModified = source.lastModified ?? (asking ? known.lastModified : null);
      return {
        status: 'succeeded' as const,
        result: { url, status, changed: false, size: file.size, sha256: file.sha256, etag, lastModified },
        mfilePatch: { metadata: { source: { ...source, etag, lastModified, sha256: file.sha256, fetchedAt: new Date().toISOString() } } },
      };
    };
    if (response.status === 304) {
      response.body.destroy();
      if (!current) throw new TaskFailure(`${url} answered 304 (not modified) to a request that was not conditional`);
      return unchanged(304, current);
    }
    if (response.status >= 500 || response.status === 429) {
      response.body.destroy();
      throw new Error(`${url} answered ${response.status}: will retry`);
    }
    if (response.status < 200 || response.status >= 300) {
      response.body.destroy();
      throw new TaskFailure(`${url} answered ${response.status}`);
    }
    const blob = await this.store.receive(response.body, { maxBytes: this.config.maxUploadBytes });
    if (current && blob.sha256 === current.sha256) {
      await this.store.remove(blob.blobKey);
      return unchanged(response.status, current);
    }
    // the disk quota holds for fetched content as for an upload: the worker checks it when recording the result
    const mimetype = await this.mime.detect(blob.head, name);
    return {
      status: 'succeeded',
      result: { url, status: response.status, changed: true, size: blob.size, sha256: blob.sha256, etag: source.etag, lastModified: source.lastModified },
      mfilePatch: { content: blob, newContent: true, mimetype, metadata: { source: { ...source, sha256: blob.sha256, fetchedAt: new Date().toISOString() } } },
    };
  }

  @TaskHandler(TaskName.Webhook)
  async webhook(context: TaskContext<TaskName.Webhook>): Promise<TaskOutcome<TaskName.Webhook>> {
    const [input] = context.inputs;
    const payload = { type: 'mfile', jobId: context.jobId, mfile: presentMfile(input) };
    let result;
    try {
      result = await this.webhooks.call(input.serviceId, context.options.webhookId, payload, context.jobId);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!isOutboundAddressRefused(error) && (code || (error as Error).name === 'TimeoutError'))
        throw new Error(`calling the webhook failed: ${(error as Error).message}: will retry`, { cause: error });
      throw new TaskFailure((error as Error).message);
    }
    if (result.status >= 500) throw new Error(`${result.url} answered ${result.status}: will retry`);
    if (result.status >= 400) return { status: 'failed', error: `${result.url} answered ${result.status}: ${JSON.stringify(result.response).slice(0, 300)}` };
    return { status: 'succeeded', result };
  }
}
