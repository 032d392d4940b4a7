import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { presentMfile } from '../mfiles/mfile.presenter';
import { ContentStore } from '../storage/content-store';
import { MimeDetector } from '../storage/mime-detector';
import { isOutboundAddressRefused } from '../webhooks/address-policy';
import { outboundRequest, OutboundResponse } from '../webhooks/outbound';
import { WebhooksService } from '../webhooks/webhooks.service';
import { TaskName } from './task-catalogue';
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
    private readonly store: ContentStore,
    private readonly mime: MimeDetector,
    private readonly webhooks: WebhooksService,
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

  @TaskHandler(TaskName.FetchUrl)
  async fetchUrl(context: TaskContext<TaskName.FetchUrl>): Promise<TaskOutcome<TaskName.FetchUrl>> {
    const [input] = context.inputs;
    const { url } = context.options;
    const known = (input.metadata as { source?: Source }).source;
    const headers: Record<string, string> = { 'user-agent': 'MServe-Fetch/1' };
    // ask conditionally only while the file still holds the bytes the validators describe
    const current = known?.url === url && (known.sha256 === undefined || known.sha256 === input.sha256);
    if (current && known.etag) headers['if-none-match'] = known.etag;
    if (current && known.lastModified) headers['if-modified-since'] = known.lastModified;
    const { response } = await this.get(url, headers);
    const source: Source = { url, etag: response.header('etag'), lastModified: response.header('last-modified') };
    const unchanged = (status: number) => {
      // the validators of the bytes the file holds: the answer's, else the ones it was asked with
      const etag = source.etag ?? (current ? known.etag : null);
      const lastModified = source.lastModified ?? (current ? known.lastModified : null);
      return {
        status: 'succeeded' as const,
        result: { url, status, changed: false, size: input.size, sha256: input.sha256, etag, lastModified },
        mfilePatch: { metadata: { source: { ...source, etag, lastModified, sha256: input.sha256, fetchedAt: new Date().toISOString() } } },
      };
    };
    if (response.status === 304) {
      response.body.destroy();
      return unchanged(304);
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
    if (blob.sha256 === input.sha256) {
      await this.store.remove(blob.blobKey);
      return unchanged(response.status);
    }
    // the disk quota holds for fetched content as for an upload: the worker checks it when recording the result
    const mimetype = await this.mime.detect(blob.head, input.name);
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
