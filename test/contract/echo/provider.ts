import { z } from 'zod';
import type { SourceItem } from '../../../src/contracts/sourceItem';
import type { Window } from '../../../src/contracts/window';
import { TransientError, UnavailableError } from '../../../src/errors';
import { HttpClient, failForStatus, readJson } from '../../../src/http/client';
import { hostAllowed, withoutSecrets } from '../../../src/http/hosts';
import { openedOrFail, rangeHeader } from '../../../src/providers/download';
import { retryTransient } from '../../../src/providers/retry';
import type { DownloadOutcome, ListOptions, ListPage, OpenDownloadOptions, Provider } from '../../../src/providers/types';
import type { EchoConnectionConfig } from './connection';

const callSchema = z.looseObject({
  id: z.string().min(1).max(100),
  startedAt: z.string(),
  state: z.string(),
  name: z.string().max(1000).optional(),
  mediaUrl: z.string().optional(),
});
const pageSchema = z.looseObject({ calls: z.array(callSchema), next: z.string().nullable() });

/** Echo: `GET /v1/calls` pages a window's calls; `GET /v1/calls/{id}` says a call's state and gives a signed media URL. */
export class EchoProvider implements Provider {
  readonly providerName = 'echo';
  private readonly api: string;
  private readonly http = new HttpClient();

  constructor(
    private readonly conn: EchoConnectionConfig,
    private readonly token: string,
  ) {
    this.api = conn.baseUrl.replace(/\/+$/, '');
  }

  listPage(window: Window, cursor: string | null, options: ListOptions = {}): Promise<ListPage> {
    return retryTransient(async () => {
      const url = new URL(`${this.api}/v1/calls`);
      url.search = new URLSearchParams({
        since: window.from,
        until: window.to,
        size: String(this.conn.pageSize),
        ...(cursor ? { page: cursor } : {}),
      }).toString();
      const what = `Echo connection '${this.conn.name}': list calls`;
      const res = await this.http.send({ url, credentialHeaders: this.auth, signal: options.signal, what });
      if (res.status !== 200) return failForStatus(res, what, [this.token]);
      const page = pageSchema.safeParse(await readJson(res, what));
      if (!page.success) throw new TransientError(`${what}: unexpected response shape`);
      return { items: page.data.calls.map(toItem), nextCursor: page.data.next };
    }, options.retry);
  }

  async openDownload(item: SourceItem, options: OpenDownloadOptions): Promise<DownloadOutcome> {
    const what = `Echo connection '${this.conn.name}': call ${item.locator.callId}`;
    const res = await this.http.send({
      url: `${this.api}/v1/calls/${encodeURIComponent(item.locator.callId ?? '')}`,
      credentialHeaders: this.auth,
      signal: options.signal,
      what,
    });
    if (res.status !== 200) return failForStatus(res, what, [this.token]);
    const call = callSchema.safeParse(await readJson(res, what));
    if (!call.success) throw new TransientError(`${what}: unexpected response shape`);
    if (call.data.state === 'processing')
      return { kind: 'not_ready', reason: "Echo says 'processing'", retryAfterSeconds: this.conn.notReadyRetrySeconds };
    if (call.data.state === 'lost') throw new UnavailableError(`${what}: Echo says 'lost'`, 'provider_final_status');
    if (!call.data.mediaUrl || !URL.canParse(call.data.mediaUrl)) throw new TransientError(`${what}: no usable media URL`);
    const media = new URL(call.data.mediaUrl);
    if (!hostAllowed(media, this.conn.mediaHosts))
      throw new UnavailableError(`${what}: media URL host ${withoutSecrets(media)} is not in mediaHosts`, 'refused_link');
    const answer = await this.http.send({
      url: media,
      headers: rangeHeader(options.offset),
      redirectHosts: this.conn.mediaHosts,
      signal: options.signal,
      what: `${what} media`,
    });
    return {
      kind: 'ready',
      download: await openedOrFail(answer, `${what} media`, { contentType: 'audio/wav', extension: '.wav' }, [this.token]),
    };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private get auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }
}

function toItem(call: z.infer<typeof callSchema>): SourceItem {
  return {
    sourceId: call.id,
    conversationId: call.id,
    kind: 'recording',
    createdAt: call.startedAt,
    extension: '.wav',
    ...(call.name !== undefined ? { originalName: call.name } : {}),
    locator: { callId: call.id },
  };
}
