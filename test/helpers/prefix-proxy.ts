/**
 * A reverse proxy that serves a gateway under a path prefix, as
 * `location /progress/ { proxy_pass http://gateway/; }` does in nginx: a request
 * for `/progress/x` goes to the gateway as `/x`, WebSocket upgrades included.
 * Host and Origin pass unchanged, so the gateway sees the page's own origin.
 */
import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

export class PrefixProxy {
  /** The prefixed base URL, without a trailing slash: `http://127.0.0.1:<port>/progress`. */
  readonly url: string;
  readonly #server: Server;
  readonly #tunnels: Set<Socket>;

  private constructor(server: Server, tunnels: Set<Socket>, prefix: string) {
    this.#server = server;
    this.#tunnels = tunnels;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  }

  /** Listens on a free loopback port; `target` is the gateway's origin, `prefix` like `/progress`. */
  static async start(target: string, prefix: string): Promise<PrefixProxy> {
    const upstream = new URL(target);
    const port = Number(upstream.port);
    const strip = (url: string | undefined): string | undefined =>
      url?.startsWith(`${prefix}/`) ? url.slice(prefix.length) : undefined;
    const tunnels = new Set<Socket>();

    const server = createServer((req, res) => {
      const path = strip(req.url);
      if (path === undefined) {
        res.writeHead(404).end();
        return;
      }
      const forward = request(
        { host: upstream.hostname, port, method: req.method, path, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    });

    server.on("upgrade", (req, client: Socket, head: Buffer) => {
      const path = strip(req.url);
      if (path === undefined) {
        client.destroy();
        return;
      }
      const tunnel = connect(port, upstream.hostname, () => {
        const lines = [`${req.method ?? "GET"} ${path} HTTP/1.1`];
        for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
          lines.push(`${req.rawHeaders[i] ?? ""}: ${req.rawHeaders[i + 1] ?? ""}`);
        }
        tunnel.write(`${lines.join("\r\n")}\r\n\r\n`);
        tunnel.write(head);
        tunnel.pipe(client);
        client.pipe(tunnel);
      });
      tunnels.add(tunnel).add(client);
      const end = () => {
        tunnel.destroy();
        client.destroy();
        tunnels.delete(tunnel);
        tunnels.delete(client);
      };
      tunnel.on("error", end).on("close", end);
      client.on("error", end).on("close", end);
    });

    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new PrefixProxy(server, tunnels, prefix);
  }

  /** Stops listening and cuts every connection, upgraded ones included. */
  async close(): Promise<void> {
    for (const socket of this.#tunnels) socket.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
