import { DixaSimulator, type DixaMessageSpec } from '../../src/simulators/dixa';
import { providerContract, type ContractAdapter } from './suite';

/**
 * Dixa: a scenario file is an attachment of a message of its own (attachments keep their names),
 * private and public in turn, absolute and relative links in turn. Dixa has no file statuses: the
 * exports list what the files host serves.
 */
const adapter: ContractAdapter = {
  provider: 'dixa',
  states: ['ready'],
  names: true,
  requestsPerFile: { api: 1, media: 1 },
  async start(scenario) {
    const messages: DixaMessageSpec[] = [...scenario.inside, ...scenario.outside].map((f, i) => ({
      id: `m-${f.key}`,
      csid: 200_000 + i,
      createdAt: Date.parse(f.createdAt),
      attachments: [
        {
          id: f.key,
          size: f.size,
          visibility: i % 2 ? 'public' : 'private',
          link: i % 3 ? 'absolute' : 'relative',
          name: f.name ?? `${f.key}.wav`,
        },
      ],
    }));
    const sim = new DixaSimulator({ seed: 'contract', messages });
    await sim.start();
    const basic = Buffer.from(`bearer:${sim.apiToken}`).toString('base64');
    return {
      connection: {
        provider: 'dixa',
        allowPrivateNetwork: true,
        exportsBaseUrl: sim.exportsBaseUrl,
        apiBaseUrl: sim.apiBaseUrl,
        filesBaseUrl: sim.filesBaseUrl,
        apiToken: { env: 'DIXA_TOKEN' },
        storageHosts: [sim.storageHost],
      },
      env: { DIXA_TOKEN: sim.apiToken },
      wrongEnv: { DIXA_TOKEN: 'dixa-token-wrong' },
      secrets: [sim.apiToken, basic],
      credentialServers: ['dixa-exports', 'dixa-api', 'dixa-files'],
      credentialHeaders: ['authorization'],
      requests: sim.requests,
      // Links are /{visibility}/{org}/{file id}/{name}.
      keyOf: (item) => new URL(item.locator.link!, sim.filesBaseUrl).pathname.split('/')[3]!,
      sha256: (key) => sim.sha256(key),
      setRange: (on) => (sim.media.range = on),
      linkTo: (key, url) => void sim.faults.add({ target: 'files', id: key, fault: { kind: 'foreign-redirect', location: url } }),
      vanished: (item) => {
        const url = new URL(item.locator.link!, sim.filesBaseUrl);
        const parts = url.pathname.split('/');
        parts[3] = 'no-such-file';
        url.pathname = parts.join('/');
        return { ...item, sourceId: `${item.sourceId}-gone`, locator: { link: url.href } };
      },
      stop: () => sim.stop(),
    };
  },
};

providerContract(adapter);
