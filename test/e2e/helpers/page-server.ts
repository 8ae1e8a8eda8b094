import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A tiny HTTP server for pages that a test opens in the browser, such as a client's redirect URI. */
export interface PageServer {
  /** Origin the browser should use, such as `http://localhost:41235`. */
  origin: string;
  /** URL of every request received, in order, query included. */
  requests: URL[];
  close(): Promise<void>;
}

export interface ServePagesOptions {
  /**
   * Host name in `origin`. The default, `localhost`, gives the pages an origin other than the
   * Worker's `http://127.0.0.1:<port>` while the traffic stays on the loopback interface.
   */
  hostname?: string;
}

/**
 * Serves each HTML document at its path on 127.0.0.1 and a free port, and returns 404 for any
 * other path. Every request is recorded, so a test can read the query of a redirect it received.
 */
export async function servePages(pages: Record<string, string>, options: ServePagesOptions = {}): Promise<PageServer> {
  const requests: URL[] = [];
  let origin = "";

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", origin);
    requests.push(url);

    const html = Object.hasOwn(pages, url.pathname) ? pages[url.pathname] : undefined;
    if (html === undefined) {
      response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end(`No page at ${url.pathname}`);
      return;
    }
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }).end(html);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://${options.hostname ?? "localhost"}:${port}`;

  return {
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
