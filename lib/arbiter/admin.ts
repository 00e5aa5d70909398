// What the arbiter serves to operators beside the app: the /metrics listener (metrics_bind) with the
// totals of the workers' reports, the control socket for `qilin ctl` (control_socket), and its
// statsd client (statsd_host). None of them is worth a worker: they live in the arbiter, and a
// new arbiter started by USR2 opens them only once the old one is gone (lib/arbiter/usr2.ts).
import { formatBind, parseMetricsBind } from '../config/binds.js';
import type { Settings } from '../config/settings.js';
import { MetricsHub, type WorkerView } from '../metrics/prometheus.js';
import { statsdFor, type Statsd } from '../metrics/statsd.js';
import { ControlServer, type ControlActions } from './control.js';
// Loaded with the first metrics_bind (node:http and the renderer: ~3 MB of an arbiter that serves none).
import type { MetricsServer } from './metrics-server.js';

export class Admin {
  /** Totals of every worker's reports (metrics_bind set). */
  readonly metrics = new MetricsHub();
  private metricsServer: MetricsServer | null = null;
  /** Opened at start (or promotion) and kept until exit: a reload does not move it. */
  private control: ControlServer | null = null;
  private statsdClient: Statsd | null = null;
  /** The statsd settings the client was made for. */
  private statsdKey = '';

  /** `workers`: the live workers as /metrics shows them beside their reports. */
  constructor(private readonly workers: () => WorkerView[]) {}

  /**
   * control_socket: listen for `qilin ctl`; resolves with the socket's path, or null when it is off.
   * Throws a ControlSocketError when it cannot be opened.
   */
  async openControl(settings: Settings, actions: ControlActions): Promise<string | null> {
    if (settings.control_socket === null || settings.control_socket_disable) return null;
    this.control = await ControlServer.open(settings.control_socket, settings.control_socket_mode, actions);
    return this.control.path;
  }

  /**
   * metrics_bind: open the listener that serves /metrics, or move or close it on a reload. Resolves
   * with its URL when it was (re)opened, else null. Throws a SocketError when it cannot listen.
   */
  async openMetrics(bind: string | null, umask: number): Promise<string | null> {
    const current = this.metricsServer;
    if ((current?.bind.text ?? null) === bind) return null;
    if (bind === null) {
      current?.close();
      this.metricsServer = null;
      return null;
    }
    const { MetricsServer } = await import('./metrics-server.js');
    const server = await MetricsServer.open(parseMetricsBind(bind), umask, () => this.metrics.render(this.workers()));
    current?.close();
    this.metricsServer = server;
    return `${server.bind.kind === 'unix' ? server.bind.text : `http://${formatBind(server.bind)}`}/metrics`;
  }

  /** statsd_host: the client for these settings, made again only when they changed (a reload). */
  useStatsd(settings: Settings): Statsd | null {
    const key = JSON.stringify([settings.statsd_host, settings.statsd_prefix, settings.dogstatsd_tags]);
    if (key !== this.statsdKey) {
      this.statsdKey = key;
      this.statsdClient?.close();
      this.statsdClient = statsdFor(settings);
    }
    return this.statsdClient;
  }

  get statsd(): Statsd | null {
    return this.statsdClient;
  }

  close(): void {
    this.metricsServer?.close();
    this.metricsServer = null;
    this.control?.close();
    this.control = null;
    this.statsdClient?.close();
  }
}
