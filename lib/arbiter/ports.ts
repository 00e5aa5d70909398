// Bind an address once with a plain socket and release it: how the arbiter checks an address
// before its workers listen, and how tools find a free port (port 0).
import net from 'node:net';

/** Resolves with the bound port (the OS's pick for port 0); rejects with the bind error (`code` set). */
export function bindOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
