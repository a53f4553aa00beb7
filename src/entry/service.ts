// `cohort-sync serve` and `cohort-sync worker`: wires config → adapters → app, and starts what runs.
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE, resolveAdminToken } from '../adapters/crypto/admin-token.ts';
import { generateToken, hashToken, loadOrCreateSecretKey } from '../adapters/crypto/secrets.ts';
import { GuardedWebhookTransport } from '../adapters/http/guarded-webhook-transport.ts';
import { createLogger } from '../adapters/log/logger.ts';
import { createMailer } from '../adapters/mail/index.ts';
import { PromMetricsRegistry } from '../adapters/metrics/prom-registry.ts';
import { type DataDirLock, lockDataDir } from '../adapters/store/data-dir-lock.ts';
import { longestWindowMs } from '../app/behavioral.ts';
import { startEventPruner } from '../app/event-retention.ts';
import { createServiceMetrics, instrumentDefinition, MetricsRunObserver } from '../app/metrics.ts';
import { RunNotifier } from '../app/notifications.ts';
import { startScheduler } from '../app/scheduler.ts';
import { WebhookSender } from '../app/webhooks.ts';
import { startWorker, type Worker } from '../app/worker.ts';
import type { DestinationDefinition } from '../ports/destination.ts';
import type { JobQueue } from '../ports/queue.ts';
import { DEFAULT_PARTNER_KEY, type RunningSandbox } from '../sandbox/index.ts';
import { type Composed, compose, pgBossQueue } from './compose.ts';
import { type Config, describeConfig } from './config.ts';
import { startEmbeddedSandbox } from './embedded-sandbox.ts';

export interface RunningService {
  readonly url: string | null;
  readonly sandbox: RunningSandbox | null;
  readonly adminToken: string;
  readonly composed: Composed<JobQueue>;
  /** The worker's /healthz, /readyz and /metrics listener, when it has one. */
  readonly workerUrl: string | null;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** serve = API + worker + scheduler; worker = worker + scheduler only. */
  readonly role: 'serve' | 'worker';
  /** serve only: false makes an API server that dispatches runs but never works on them (scale-out). */
  readonly runWorker?: boolean;
  /** worker only: port of /healthz, /readyz and /metrics (overrides WORKER_PORT). */
  readonly workerPort?: number;
  readonly print?: (line: string) => void;
}

export async function startService(config: Config, opts: ServiceOptions): Promise<RunningService> {
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = createLogger({ level: config.logLevel });
  logger.info({ config: describeConfig(config) }, `starting cohort-sync ${opts.role}`);
  // The embedded store belongs to one process (docs/embedded-store.md): a second one on the same DATA_DIR is
  // refused here, before it touches anything, with the holder's pid in the message.
  const dataDirLock = config.store.kind === 'sqlite' ? lockDataDir(config.dataDir, `cohort-sync ${opts.role}`) : null;
  try {
    return await startLocked(config, opts, print, logger, dataDirLock);
  } catch (error) {
    dataDirLock?.release();
    throw error;
  }
}

async function startLocked(
  config: Config,
  opts: ServiceOptions,
  print: (line: string) => void,
  logger: ReturnType<typeof createLogger>,
  dataDirLock: DataDirLock | null,
): Promise<RunningService> {
  const secretKey = loadOrCreateSecretKey(config.dataDir, config.secretKey);
  const admin = resolveAdminToken({ configured: config.adminToken, dataDir: config.dataDir });

  const configuredPartnerKeys = Object.values(config.braze.partnerKeys).filter((k): k is string => Boolean(k));
  const noPartnerKey = configuredPartnerKeys.length === 0;
  const sandbox =
    config.braze.sandbox.enabled && opts.role === 'serve'
      ? await startEmbeddedSandbox(config, configuredPartnerKeys, print)
      : null;
  const leaseTtlMs = config.coordination.leaseTtlSeconds * 1000;
  // One registry per service (not prom-client's global one): tests start several services in one process.
  const metrics = createServiceMetrics(new PromMetricsRegistry());
  const composeOptions = {
    store: config.store,
    secretKey,
    logger,
    braze: {
      partnerSlug: config.braze.partnerSlug,
      // Without a partner key the sandbox's own key lets a new user try the whole flow without Braze.
      partnerKeys: noPartnerKey && sandbox ? { US: DEFAULT_PARTNER_KEY } : config.braze.partnerKeys,
      requestsPerHour: config.braze.requestsPerHour,
      trackBudget: { requests: config.braze.trackRequestsPer3s, perMs: 3_000 },
      trackMaxObjects: config.braze.trackMaxObjects,
      sharedLimiter: config.store.kind === 'postgres',
      budgetWindowMs: config.braze.budgetWindowSeconds * 1000,
    },
    settings: {
      cohortNamePrefix: config.cohortNamePrefix,
      allowedEndpoints: [...config.braze.allowedEndpoints, ...(sandbox ? [sandbox.url] : [])],
      concurrency: config.braze.concurrency,
      realtimeReconcileMinutes: config.runs.realtimeReconcileMinutes,
      fullReconcileHours: config.runs.fullReconcileHours,
      runHistoryDays: config.runs.historyDays,
      leaseTtlMs,
      eventRetentionDays: config.ingest.retentionDays,
    },
    ingest: { eventsPerSecond: config.ingest.eventsPerSecond },
    wrapDestination: (definition: DestinationDefinition) => instrumentDefinition(definition, metrics),
  };
  // On PostgreSQL runs travel on pg-boss between processes; the embedded store keeps its in-process queue.
  const composed: Composed<JobQueue> =
    config.store.kind === 'postgres'
      ? await compose(
          composeOptions,
          pgBossQueue({
            pollingIntervalSeconds: config.coordination.queuePollSeconds,
            concurrency: config.coordination.workerConcurrency,
            wakeup: config.coordination.queueWakeup,
          }),
        )
      : await compose(composeOptions);
  // Observers are built from the finished deps and register before any run can finish (the worker starts below).
  const mailer = createMailer(config.mail, logger);
  const webhookPolicy = { allowedHosts: config.webhooks.allowedHosts, allowPrivate: config.webhooks.allowPrivate };
  const webhooks = new WebhookSender(composed.deps, { transport: new GuardedWebhookTransport(webhookPolicy) });
  const notifier = new RunNotifier(composed.deps, { mailer, webhooks });
  composed.runEvents.subscribe(notifier);
  composed.runEvents.subscribe(new MetricsRunObserver(metrics));
  if (dataDirLock) {
    // Holding the lock, this process is the store's only user: leases left by a predecessor (killed, say) are
    // void, so its unfinished runs resume with the worker's first sweep rather than after the lease TTL.
    const voided = await composed.store.audiences.voidLeases();
    if (voided > 0) logger.info({ leases: voided }, 'took over the leases of a previous process on this DATA_DIR');
  }
  notifier.start();
  const worker: Worker | null =
    opts.role === 'worker' || opts.runWorker !== false
      ? await startWorker(composed.deps, {
          owner: composed.owner,
          // A crashed worker's run is re-dispatched within a sweep of its lease running out.
          sweepEveryMs: Math.min(5_000, Math.max(250, Math.floor(leaseTtlMs / 3))),
        })
      : null;
  const scheduler = startScheduler(composed.deps, { intervalMs: config.coordination.schedulerIntervalSeconds * 1000 });

  let workerUrl: string | null = null;
  let closeWorkerHttp = async () => {};
  const workerPort = opts.workerPort ?? config.coordination.workerPort;
  if (opts.role === 'worker' && workerPort !== undefined) {
    const { buildWorkerHttpApp } = await import('./http/worker-app.ts');
    const app = await buildWorkerHttpApp(composed.deps, metrics);
    workerUrl = await app.listen({ host: config.http.host, port: workerPort });
    closeWorkerHttp = () => app.close();
    print(`cohort-sync worker probes on ${workerUrl} (/healthz, /readyz, /metrics)`);
  }
  composed.behavioral.start();
  // Events stay as long as the longest window of a saved behavioral definition needs them.
  const pruner = startEventPruner(composed.deps, {
    retentionDays: composed.deps.settings.eventRetentionDays,
    longestWindowMs: (projectId) => longestWindowMs(composed.deps, projectId),
  });

  let url: string | null = null;
  let closeHttp = async () => {};
  if (opts.role === 'serve') {
    // The HTTP layer (Fastify, its schemas, the web UI's files) is loaded only now, after the worker started:
    // a restarted process resumes its runs while this loads (docs/embedded-store.md, "Restart resumes at once").
    const [
      { buildHttpApp },
      { ingestRoutes },
      { metricsRoutes },
      { notificationRoutes },
      { uiSupportRoutes },
      { webRoutes },
    ] = await Promise.all([
      import('./http/app.ts'),
      import('./http/routes/ingest.ts'),
      import('./http/routes/metrics.ts'),
      import('./http/routes/notifications.ts'),
      import('./http/routes/ui-support.ts'),
      import('./http/web-static.ts'),
    ]);
    const app = await buildHttpApp({
      deps: composed.deps,
      adminToken: admin.token,
      tokens: { generate: generateToken, hash: hashToken },
      onMembershipChanged: composed.onMembershipChanged,
      csvLimits: config.csv,
      requestTimeoutMs: config.requestTimeoutMs,
      extraRoutes: [
        (app) =>
          notificationRoutes(app, { deps: composed.deps, mailer, webhooks, webhookPolicy, hostAuthenticates: true }),
        (app) => metricsRoutes(app, { metrics }),
        (app) =>
          uiSupportRoutes(app, {
            deps: composed.deps,
            sandbox,
            partnerSlug: config.braze.partnerSlug,
            mail: { delivery: config.mail.smtpUrl ? 'smtp' : 'log', from: config.mail.from },
          }),
        ingestRoutes({ ingestion: composed.ingestion }),
        (app) => webRoutes(app),
      ],
    });
    url = await app.listen({ host: config.http.host, port: config.http.port });
    closeHttp = () => app.close();
    print(`cohort-sync listening on ${url}`);
    if (sandbox)
      print(`Braze sandbox on ${sandbox.url} (use it as a target endpoint; admin API under ${sandbox.url}/sandbox)`);
    // Never the token itself: logs are collected and kept; the file is readable by this user only.
    if (admin.generated) print(`Admin token generated into ${join(config.dataDir, ADMIN_TOKEN_FILE)} (mode 0600)`);
  }
  return {
    url,
    sandbox,
    adminToken: admin.token,
    composed,
    workerUrl,
    async close() {
      await closeHttp();
      await scheduler.stop();
      await composed.behavioral.stop();
      await pruner.stop();
      await notifier.stop();
      await worker?.stop();
      if (!worker) await composed.queue.stop();
      await closeWorkerHttp();
      mailer.close?.();
      await composed.store.close();
      await sandbox?.close();
      dataDirLock?.release();
    },
  };
}
