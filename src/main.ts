import { createAudioSocketServer } from './audiosocket/server.js';
import { createEchoHandler } from './call/echo.js';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
const server = createAudioSocketServer({
  config: config.audiosocket,
  log: log.child({ component: 'audiosocket' }),
  onCall: createEchoHandler(config.call),
});

try {
  const address = await server.listen();
  log.info({ host: address.address, port: address.port }, 'listening');
} catch (err) {
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot listen');
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, calls: server.activeCalls }, 'shutting down');
    void server.close().then(() => {
      log.flush();
      process.exit(0);
    });
  });
}
