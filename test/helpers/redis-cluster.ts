/**
 * A real Redis Cluster on loopback for one test suite: six `redis-server
 * --cluster-enabled yes` processes (three masters with one replica each), joined
 * with `redis-cli --cluster create`, in a temporary directory that stop()
 * removes. Fault tests can kill and restart nodes and run `CLUSTER FAILOVER`.
 *
 * Ports: a node also listens on its cluster bus port (port + 10000), so every
 * port is chosen with its bus port free too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis, type ClusterOptions } from "ioredis";
import { systemRedisBinary } from "./redis-server";
import { waitFor } from "./wait";

const HOST = "127.0.0.1";
const BUS_OFFSET = 10_000;

export interface TestRedisClusterOptions {
  /** Masters (each gets `replicas` replicas). @default 3 */
  masters?: number;
  /** @default 1 */
  replicas?: number;
  /**
   * `cluster-node-timeout` in ms: how long a master may be unreachable before
   * its replica takes over. Small keeps failover tests fast.
   * @default 1000
   */
  nodeTimeout?: number;
}

/** One node as `CLUSTER NODES` describes it. */
export interface NodeInfo {
  id: string;
  port: number;
  role: "master" | "replica";
  /** For a replica: its master's id. */
  masterId: string | null;
  /** Slot ranges [from, to] (masters only). */
  slots: [number, number][];
  failed: boolean;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/**
 * Ports p (and p + 10000 for the bus), all free, none reused within this
 * process. Nodes listen on 10000-19999 and their buses on 20000-29999, so one
 * suite's node never takes another's bus port; both stay below Linux's
 * ephemeral range (32768+), where the OS picks the ports of other suites'
 * servers (listen(0)) and of outgoing connections. Each Jest worker draws from
 * its own quarter of the range: two workers starting clusters at the same
 * moment could otherwise both find a port free and race for it.
 */
const handedOut = new Set<number>();
const RANGE_START = 10_000;
const RANGE_SIZE = 10_000;
const SLICES = 4;
function workerSlice(): { lowest: number; highest: number } {
  const worker = Number(process.env.JEST_WORKER_ID ?? "1");
  const index = Number.isInteger(worker) && worker > 0 ? (worker - 1) % SLICES : 0;
  const size = RANGE_SIZE / SLICES;
  const lowest = RANGE_START + index * size;
  return { lowest, highest: lowest + size - 1 };
}
async function freeClusterPorts(count: number): Promise<number[]> {
  const { lowest, highest } = workerSlice();
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 1000; attempt++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (handedOut.has(port) || ports.includes(port)) continue;
    if ((await canBind(port)) && (await canBind(port + BUS_OFFSET))) {
      ports.push(port);
      handedOut.add(port);
    }
  }
  if (ports.length < count) throw new Error("Could not find free ports for a Redis Cluster");
  return ports;
}

/** A node that exited before it answered (a port taken after our check, most likely). */
class NodeExitedError extends Error {}

/** The last lines of a node's log, for an error message. */
function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-5).join("\n");
  } catch {
    return "";
  }
}

/** Runs `use` on a one-off connection to the node on `port` (no retries), then closes it. */
async function withNode<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

function run(command: string, args: string[], timeout = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${out}`));
    });
  });
}

/** Parses `CLUSTER NODES` output. */
export function parseClusterNodes(text: string): NodeInfo[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [id = "", address = "", flags = "", master = "-", , , , , ...slotFields] =
        line.split(" ");
      const port = Number(/:(\d+)@/.exec(address)?.[1]);
      const flagList = flags.split(",");
      const slots: [number, number][] = [];
      for (const field of slotFields) {
        if (field.startsWith("[")) continue; // a slot being migrated
        const [from, to] = field.split("-").map(Number);
        if (from !== undefined) slots.push([from, to ?? from]);
      }
      return {
        id,
        port,
        role: flagList.includes("master") ? "master" : "replica",
        masterId: master === "-" ? null : master,
        slots,
        failed: flagList.includes("fail") || flagList.includes("fail?"),
      } satisfies NodeInfo;
    });
}

class NodeProcess {
  child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    /** redis-server's arguments, but for `--logfile` (added from `logFile`). */
    readonly args: string[],
    /** Where the node logs (its stderr stays empty). */
    readonly logFile: string,
  ) {}

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /**
   * Spawns the node and waits until it answers PING; rejects with a
   * NodeExitedError (its log's last lines) as soon as it exits instead.
   */
  async start(): Promise<void> {
    const child = spawn(systemRedisBinary(), [...this.args, "--logfile", this.logFile], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
    this.child = child;
    await waitFor(
      () => {
        if (!this.running) {
          const log = logTail(this.logFile) || err;
          throw new NodeExitedError(`redis-server on ${this.port} exited: ${log}`);
        }
        return this.#answers();
      },
      {
        timeout: 10_000,
        interval: 50,
        what: `redis-server on port ${this.port}`,
        fatal: (error) => error instanceof NodeExitedError,
      },
    );
  }

  #answers(): Promise<boolean> {
    return withNode(this.port, async (probe) => (await probe.ping()) === "PONG").catch(() => false);
  }

  signal(name: "SIGSTOP" | "SIGCONT"): void {
    if (this.child !== undefined && this.running) this.child.kill(name);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    // A frozen process takes SIGKILL too, but its exit is reported only once it runs.
    child.kill("SIGCONT");
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }
}

export class TestRedisCluster {
  readonly host = HOST;
  readonly #dir: string;
  readonly #nodes: NodeProcess[];
  readonly #clients = new Set<Redis | Cluster>();

  private constructor(dir: string, nodes: NodeProcess[]) {
    this.#dir = dir;
    this.#nodes = nodes;
  }

  /**
   * Starts the nodes, creates the cluster, and waits until every node says
   * cluster_state:ok. A node that exits while starting (another process took
   * its port or bus port after our check) makes it start over on other ports:
   * three attempts in all.
   */
  static async start(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TestRedisCluster.#launch(options);
      } catch (error) {
        if (!(error instanceof NodeExitedError) || attempt >= 3) throw error;
      }
    }
  }

  static async #launch(options: TestRedisClusterOptions): Promise<TestRedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicas ?? 1;
    const nodeTimeout = options.nodeTimeout ?? 1000;
    const count = masters * (1 + replicas);
    const ports = await freeClusterPorts(count);
    const dir = mkdtempSync(join(tmpdir(), "redis-progress-cluster-"));
    const nodes = ports.map(
      (port) =>
        new NodeProcess(
          port,
          [
            "--port",
            String(port),
            "--bind",
            HOST,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, `nodes-${port}.conf`),
            "--cluster-node-timeout",
            String(nodeTimeout),
            "--dir",
            dir,
            "--save",
            "",
            "--appendonly",
            "no",
            // A killed master's replica must take over even though it lost the link at once.
            "--cluster-replica-validity-factor",
            "0",
          ],
          join(dir, `redis-${port}.log`),
        ),
    );
    const cluster = new TestRedisCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((node) => node.start()));
      await run("redis-cli", [
        "--cluster",
        "create",
        ...ports.map((port) => `${HOST}:${port}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ]);
      await cluster.waitUntilStable();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every node's port, in start order. */
  get ports(): number[] {
    return this.#nodes.map((node) => node.port);
  }

  /** `host:port` seeds, e.g. for REDIS_CLUSTER_NODES. */
  get seeds(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: HOST, port }));
  }

  /** `redis://` URLs of every node. */
  get urls(): string[] {
    return this.ports.map((port) => `redis://${HOST}:${port}`);
  }

  /** A Cluster client (seeded with `seeds` nodes, default all); closed by stop(). */
  cluster(options: ClusterOptions = {}, seeds = this.seeds): Cluster {
    const client = new Cluster(seeds, options);
    client.on("error", () => {
      // Fault tests provoke connection errors on purpose.
    });
    this.#clients.add(client);
    return client;
  }

  /** A plain connection to one node (commands are not redirected); closed by stop(). */
  node(port: number): Redis {
    const client = new Redis({ host: HOST, port, maxRetriesPerRequest: 1 });
    client.on("error", () => {});
    this.#clients.add(client);
    return client;
  }

  /** The topology as a running node sees it. */
  async topology(port?: number): Promise<NodeInfo[]> {
    const at = port ?? this.#nodes.find((node) => node.running)?.port;
    if (at === undefined) throw new Error("No node is running");
    return withNode(at, async (client) =>
      parseClusterNodes((await client.call("CLUSTER", "NODES")) as string),
    );
  }

  /** The masters (with their slots), as a running node sees them. */
  async masters(): Promise<NodeInfo[]> {
    return (await this.topology()).filter((node) => node.role === "master" && !node.failed);
  }

  /** The port of the master that owns `slot`. */
  async masterOfSlot(slot: number): Promise<number> {
    const owner = (await this.masters()).find((node) =>
      node.slots.some(([from, to]) => slot >= from && slot <= to),
    );
    if (owner === undefined) throw new Error(`No master owns slot ${slot}`);
    return owner.port;
  }

  /** The replica of the master on `masterPort`. */
  async replicaOf(masterPort: number): Promise<number> {
    const nodes = await this.topology();
    const master = nodes.find((node) => node.port === masterPort);
    const replica = nodes.find((node) => node.masterId === master?.id && !node.failed);
    if (replica === undefined) throw new Error(`No replica of ${masterPort}`);
    return replica.port;
  }

  /**
   * Waits until every running node reports cluster_state:ok, they agree on who
   * owns every slot, and every replica's link to its master is up.
   */
  async waitUntilStable(timeout = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const running = this.#nodes.filter((node) => node.running);
        const views: string[] = [];
        for (const node of running) {
          const view = await withNode(node.port, async (client) => {
            const info = (await client.call("CLUSTER", "INFO")) as string;
            if (!/cluster_state:ok/.test(info)) return null;
            const nodes = parseClusterNodes((await client.call("CLUSTER", "NODES")) as string);
            const me = nodes.find((n) => n.port === node.port);
            if (me?.role === "replica") {
              const replication = (await client.info("replication")) as string;
              if (!/master_link_status:up/.test(replication)) return null;
            }
            return nodes
              .filter((n) => n.role === "master" && n.slots.length > 0)
              .map((n) => `${n.port}=${JSON.stringify(n.slots)}`)
              .sort()
              .join(" ");
          });
          if (view === null) return false;
          views.push(view);
        }
        return views.length > 0 && views.every((view) => view === views[0]);
      },
      { timeout, interval: 100, what: "the Redis Cluster to be stable" },
    );
  }

  /**
   * Runs `CLUSTER FAILOVER` on a replica and waits until it reports itself
   * master. Returns the ms it took.
   */
  async failover(replicaPort: number): Promise<number> {
    const started = Date.now();
    const client = this.node(replicaPort);
    await client.call("CLUSTER", "FAILOVER");
    await waitFor(async () => /role:master/.test(await client.info("replication")), {
      timeout: 15_000,
      interval: 20,
      what: `${replicaPort} to become master`,
    });
    return Date.now() - started;
  }

  /** SIGKILL one node. */
  async kill(port: number): Promise<void> {
    await this.#nodeAt(port).kill();
  }

  /** SIGSTOP one node: its sockets stay open and nothing answers. */
  freeze(port: number): void {
    this.#nodeAt(port).signal("SIGSTOP");
  }

  /** SIGCONT a frozen node. */
  thaw(port: number): void {
    this.#nodeAt(port).signal("SIGCONT");
  }

  /** Starts a killed node again (same port and config file: it rejoins the cluster). */
  async restart(port: number): Promise<void> {
    const node = this.#nodeAt(port);
    await node.kill();
    await node.start();
  }

  /** Kills every node, closes the clients made here, and removes the temporary directory. */
  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    await Promise.all(this.#nodes.map((node) => node.kill()));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #nodeAt(port: number): NodeProcess {
    const node = this.#nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`No node on port ${port}`);
    return node;
  }
}
