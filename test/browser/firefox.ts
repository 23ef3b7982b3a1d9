/**
 * A real, headless Firefox ESR for browser tests, driven over WebDriver BiDi with the `ws` package.
 *
 * Every launch gets a fresh temporary profile whose user.js turns off every background connection
 * Firefox would make on its own (updates, telemetry, safe browsing, remote settings, normandy,
 * captive portal and connectivity checks, …). As a second guard, all proxied traffic goes to a local
 * trap proxy that answers nothing and records what tried to leave: loopback is never proxied, so
 * the test's own servers are reached directly and nothing reaches the network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

export const FIREFOX_CANDIDATES = ['/usr/bin/firefox-esr', '/usr/bin/firefox'];

/** The Firefox binary to use: $HERALD_FIREFOX, else the first Debian path that exists. */
export function findFirefox(): string | null {
  const fromEnv = process.env.HERALD_FIREFOX;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  return FIREFOX_CANDIDATES.find((candidate) => existsSync(candidate)) ?? null;
}

export type PrefValue = string | number | boolean;

/** Prefs that stop Firefox from connecting anywhere on its own. */
export const QUIET_PREFS: Record<string, PrefValue> = {
  // Updates (app, add-ons, system add-ons, search engines, GMP plugins).
  'app.update.disabledForTesting': true,
  'app.update.auto': false,
  'app.update.checkInstallTime': false,
  'app.update.staging.enabled': false,
  'app.update.url': '',
  'extensions.update.enabled': false,
  'extensions.update.autoUpdateDefault': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.blocklist.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.systemAddon.update.url': '',
  'extensions.autoDisableScopes': 0,
  'browser.search.update': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-manager.url': '',
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-widevinecdm.enabled': false,
  // Telemetry and data reporting.
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.shutdownPingSender.enabled': false,
  'toolkit.telemetry.firstShutdownPing.enabled': false,
  'toolkit.telemetry.newProfilePing.enabled': false,
  'toolkit.telemetry.updatePing.enabled': false,
  'toolkit.telemetry.bhrPing.enabled': false,
  'toolkit.coverage.endpoint.base': '',
  'telemetry.fog.test.localhost_port': -1,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.policy.dataSubmissionPolicyBypassNotification': true,
  'datareporting.usage.uploadEnabled': false,
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.crashReports.unsubmittedCheck.enabled': false,
  'breakpad.reportURL': '',
  // Studies, experiments, remote settings.
  'app.normandy.enabled': false,
  'app.normandy.api_url': '',
  'app.shield.optoutstudies.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'nimbus.rollouts.enabled': false,
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'services.settings.poll_interval': 86400,
  'security.remote_settings.intermediates.enabled': false,
  'security.remote_settings.crlite_filters.enabled': false,
  'security.certerrors.mitm.priming.enabled': false,
  'security.OCSP.enabled': 0,
  'browser.translations.enable': false,
  'browser.ml.enable': false,
  // Safe browsing.
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.downloads.remote.url': '',
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.passwords.enabled': false,
  'browser.safebrowsing.update.enabled': false,
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.google.gethashURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.google4.gethashURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.provider.mozilla.gethashURL': '',
  'urlclassifier.updateinterval': 86400000,
  // Captive portal, connectivity checks, DNS over HTTPS, speculative connections.
  'network.captive-portal-service.enabled': false,
  'captivedetect.canonicalURL': '',
  'network.connectivity-service.enabled': false,
  'network.manage-offline-status': false,
  'network.trr.mode': 5,
  'doh-rollout.enabled': false,
  'doh-rollout.disable-heuristics': true,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.predictor.enabled': false,
  'network.http.speculative-parallel-limit': 0,
  'browser.urlbar.speculativeConnect.enabled': false,
  'browser.places.speculativeConnect.enabled': false,
  // Start pages, new tab content, first-run pages and other things that fetch on start.
  'browser.startup.page': 0,
  'browser.startup.homepage': 'about:blank',
  'browser.startup.homepage_override.mstone': 'ignore',
  'startup.homepage_welcome_url': 'about:blank',
  'startup.homepage_welcome_url.additional': '',
  'browser.newtabpage.enabled': false,
  'browser.newtab.preload': false,
  'browser.newtabpage.activity-stream.feeds.section.topstories': false,
  'browser.newtabpage.activity-stream.feeds.topsites': false,
  'browser.newtabpage.activity-stream.feeds.snippets': false,
  'browser.newtabpage.activity-stream.default.sites': '',
  'browser.topsites.contile.enabled': false,
  'browser.aboutwelcome.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.uitour.enabled': false,
  'browser.vpn_promo.enabled': false,
  'browser.contentblocking.report.monitor.url': '',
  'browser.urlbar.suggest.quicksuggest.sponsored': false,
  'browser.urlbar.suggest.quicksuggest.nonsponsored': false,
  'browser.urlbar.quicksuggest.enabled': false,
  'geo.provider.network.url': '',
  'geo.provider.use_gpsd': false,
  'identity.fxaccounts.enabled': false,
  'signon.management.page.breach-alerts.enabled': false,
  'extensions.fxmonitor.enabled': false,
  'extensions.pocket.enabled': false,
  'extensions.screenshots.disabled': true,
  'privacy.resistFingerprinting.remoteOverrides.enabled': false,
  'dom.ipc.processPrelaunch.enabled': false,
  'browser.backup.enabled': false,
  // Automation comfort.
  'browser.sessionstore.resume_from_crash': false,
  'browser.tabs.warnOnClose': false,
  'browser.warnOnQuit': false,
  'toolkit.startup.max_resumed_crashes': -1,
};

export interface LaunchOptions {
  /** Extra prefs for user.js, on top of QUIET_PREFS. */
  prefs?: Record<string, PrefValue>;
  /** Milliseconds to wait for the WebDriver BiDi server to listen. */
  startTimeoutMs?: number;
}

export interface Firefox {
  bidi: Bidi;
  /** Hosts Firefox tried to reach through the trap proxy (should stay empty). */
  leaks: string[];
  /** Firefox's own stderr, kept for diagnostics. */
  output(): string;
  /** Kills Firefox (whole process group) and removes the profile. Safe to call twice. */
  close(): Promise<void>;
}

function userJs(prefs: Record<string, PrefValue>): string {
  return Object.entries(prefs)
    .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});`)
    .join('\n') + '\n';
}

/** A proxy that accepts, records the first line (CONNECT host / GET url), and closes. */
async function startTrapProxy(leaks: string[]): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.once('data', (chunk) => {
      const line = chunk.toString('latin1').split('\r\n')[0] ?? '';
      leaks.push(line);
      socket.destroy();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Live launches, so that an aborted test run still kills Firefox and removes its profile. */
const live = new Set<() => void>();
function killAll(): void {
  for (const kill of live) kill();
  live.clear();
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal); // the handler is gone now: the default action follows
  });
}

export async function launchFirefox(binary: string, options: LaunchOptions = {}): Promise<Firefox> {
  const profile = mkdtempSync(path.join(tmpdir(), 'herald-firefox-'));
  const leaks: string[] = [];
  const trap = await startTrapProxy(leaks);
  const trapPort = (trap.address() as net.AddressInfo).port;
  writeFileSync(
    path.join(profile, 'user.js'),
    userJs({
      ...QUIET_PREFS,
      // Everything not on loopback goes to the trap; loopback is never proxied.
      'network.proxy.type': 1,
      'network.proxy.http': '127.0.0.1',
      'network.proxy.http_port': trapPort,
      'network.proxy.ssl': '127.0.0.1',
      'network.proxy.ssl_port': trapPort,
      'network.proxy.share_proxy_settings': false,
      'network.proxy.no_proxies_on': '',
      'network.proxy.allow_hijacking_localhost': false,
      'network.proxy.socks_remote_dns': false,
      ...options.prefs,
    }),
  );

  let child: ChildProcess | null = spawn(
    binary,
    ['--headless', '--no-remote', '--new-instance', '--profile', profile, '--remote-debugging-port=0', 'about:blank'],
    {
      detached: true, // its own process group, so content processes die with it
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MOZ_HEADLESS: '1',
        MOZ_CRASHREPORTER_DISABLE: '1',
        MOZ_DISABLE_AUTO_SAFE_MODE: '1',
        // Release builds ignore services.settings.server (remote settings) without this.
        MOZ_REMOTE_SETTINGS_DEVTOOLS: '1',
      },
    },
  );
  const pid = child.pid;
  let log = '';
  let exited = false;
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.once('exit', () => (exited = true));

  const killNow = (): void => {
    if (pid !== undefined && !exited) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(profile, { recursive: true, force: true });
  };
  live.add(killNow);

  let bidi: Bidi | null = null;
  const close = async (): Promise<void> => {
    live.delete(killNow);
    bidi?.dispose();
    bidi = null;
    const current = child;
    child = null;
    if (current && pid !== undefined && !exited) {
      const gone = new Promise<void>((resolve) => current.once('exit', () => resolve()));
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 3000);
      await gone;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => trap.close(() => resolve()));
    // Content processes of the group may still hold files for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        rmSync(profile, { recursive: true, force: true });
        break;
      } catch (error) {
        if (attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`Firefox did not start WebDriver BiDi within ${options.startTimeoutMs ?? 30000} ms:\n${log}`)),
        options.startTimeoutMs ?? 30000,
      );
      const look = (): void => {
        const match = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(log);
        if (match?.[1]) {
          clearTimeout(deadline);
          resolve(match[1]);
        }
      };
      child?.stderr?.on('data', look);
      child?.stdout?.on('data', look);
      child?.once('exit', (code, signal) => {
        clearTimeout(deadline);
        reject(new Error(`Firefox exited early (${String(code ?? signal)}):\n${log}`));
      });
    });
    bidi = await Bidi.connect(`${url.replace(/\/$/, '')}/session`);
    await bidi.send('session.new', { capabilities: {} });
    return { bidi, leaks, output: () => log, close };
  } catch (error) {
    await close();
    throw error;
  }
}

interface BidiMessage {
  id?: number;
  type?: 'success' | 'error' | 'event';
  result?: unknown;
  error?: string;
  message?: string;
  method?: string;
  params?: unknown;
}

/** The smallest WebDriver BiDi client that runs the commands these tests need. */
export class Bidi {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; method: string }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as BidiMessage;
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.type === 'error') waiter.reject(new Error(`${waiter.method}: ${message.error ?? '?'}: ${message.message ?? ''}`));
      else waiter.resolve(message.result);
    });
    socket.on('close', () => {
      for (const [id, waiter] of this.pending) {
        this.pending.delete(id);
        waiter.reject(new Error(`${waiter.method}: WebDriver BiDi connection closed`));
      }
    });
  }

  static async connect(url: string): Promise<Bidi> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new Bidi(socket);
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (value) => resolve(value as T), reject, method });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The first top-level browsing context (the tab Firefox opened). */
  async firstContext(): Promise<string> {
    const tree = await this.send<{ contexts: Array<{ context: string }> }>('browsingContext.getTree', { maxDepth: 0 });
    const first = tree.contexts[0];
    if (!first) throw new Error('Firefox has no browsing context');
    return first.context;
  }

  async navigate(context: string, url: string): Promise<void> {
    await this.send('browsingContext.navigate', { context, url, wait: 'complete' });
  }

  /** Evaluates an expression in the page, awaits it if it is a promise, and returns a string result. */
  async evaluate(context: string, expression: string): Promise<string> {
    const answer = await this.send<{
      type: 'success' | 'exception';
      result?: { type: string; value?: unknown };
      exceptionDetails?: { text?: string };
    }>('script.evaluate', { expression, target: { context }, awaitPromise: true, resultOwnership: 'none' });
    if (answer.type === 'exception') throw new Error(`page threw: ${answer.exceptionDetails?.text ?? 'unknown error'}`);
    const value = answer.result?.value;
    if (typeof value !== 'string') throw new Error(`page returned ${JSON.stringify(answer.result)}, not a string`);
    return value;
  }

  dispose(): void {
    this.socket.terminate();
  }
}
