/**
 * Runs the projections of a topology beside its stream tasks: one ProjectionRunner each. The
 * StreamsRuntime starts it once the topics exist and closes it when it stops; a runner that fails
 * is reported through `failure`, which stops the application.
 */
import type { Log } from '../log/types.js';
import type { ResolvedAppConfig } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import type { Topology } from '../topology/topology.js';
import { isProjection } from './projection.js';
import { ProjectionRunner } from './projection-runner.js';

export interface ProjectionHostOptions {
  log: Log;
  topology: Topology;
  config: ResolvedAppConfig;
  logger: Logger;
}

export class ProjectionHost {
  private firstFailure: Error | undefined;

  private constructor(readonly runners: readonly ProjectionRunner[]) {}

  /** Starts a runner per projection of the topology; undefined when it has none. */
  static async start(options: ProjectionHostOptions): Promise<ProjectionHost | undefined> {
    const defs = options.topology.projections;
    if (defs.length === 0) return undefined;
    const runners = defs.map((def) => {
      if (!isProjection(def.projection)) throw new TypeError(`project(): '${def.projection.name}' is not a projection`);
      return new ProjectionRunner({
        applicationId: options.topology.applicationId,
        projection: def.projection,
        source: { topic: def.topic, keySerde: def.keySerde, valueSerde: def.valueSerde },
        log: options.log,
        logger: options.logger,
        errors: options.config.errors,
        maxPollRecords: options.config.maxPollRecords,
      });
    });
    const host = new ProjectionHost(runners);
    try {
      for (const runner of runners) {
        await runner.start();
        runner.stopped.catch((err: unknown) => {
          host.firstFailure ??= err instanceof Error ? err : new Error(String(err));
        });
      }
    } catch (err) {
      await host.close();
      throw err;
    }
    return host;
  }

  /** The error of the first runner that failed, if any: the application should stop with it. */
  get failure(): Error | undefined {
    return this.firstFailure;
  }

  runner(name: string): ProjectionRunner | undefined {
    return this.runners.find((r) => r.name === name);
  }

  /**
   * True when every runner has applied all the records of its partitions (see
   * ProjectionRunner.caughtUp). A log that cannot be reached counts as not caught up.
   */
  async caughtUp(): Promise<boolean> {
    try {
      for (const r of this.runners) if (!(await r.caughtUp())) return false;
      return true;
    } catch {
      return false;
    }
  }

  /** Stops every runner (each finishes its batch in progress). */
  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.close()));
  }
}
