import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/** An order of the demo shop. */
interface Order {
  id: string;
  status: string;
  eta: string | null;
  items: { name: string; quantity: number }[];
}

const ORDERS: Order[] = [
  { id: '1001', status: 'в пути', eta: 'завтра до 18:00', items: [{ name: 'чайник', quantity: 1 }] },
  { id: '1002', status: 'доставлен', eta: null, items: [{ name: 'кружка', quantity: 4 }] },
  { id: '1003', status: 'собирается на складе', eta: 'в пятницу', items: [{ name: 'плед', quantity: 2 }, { name: 'подушка', quantity: 2 }] },
  { id: '1004', status: 'ожидает оплаты', eta: null, items: [{ name: 'кофемолка', quantity: 1 }] },
];

/** A running demo order API. */
export interface OrderApi {
  url: string;
  close(): Promise<void>;
}

/**
 * A tiny order API: `GET /orders/{id}` answers the order as JSON, 404 for an unknown one. With a
 * token, requests without `Authorization: Bearer <token>` get 401.
 */
export async function startOrderApi(options: { host?: string; port?: number; token?: string } = {}): Promise<OrderApi> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) return send(401, { error: 'нет доступа' });
    const match = /^\/orders\/([^/?]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'GET' || match === null) return send(404, { error: 'нет такого адреса' });
    const order = ORDERS.find((o) => o.id === decodeURIComponent(match[1]!));
    if (order === undefined) return send(404, { error: 'заказ не найден' });
    send(200, order);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const api = await startOrderApi({
    port: Number(process.env.ORDER_API_PORT ?? 8090),
    token: process.env.ORDER_API_TOKEN || undefined,
  });
  console.log(`order API on ${api.url} (orders ${ORDERS.map((o) => o.id).join(', ')})`);
  process.once('SIGINT', () => void api.close());
  process.once('SIGTERM', () => void api.close());
}
