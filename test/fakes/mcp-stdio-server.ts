import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

// A fake MCP server over stdio: `echo` answers its text, `quit` makes the process exit mid-call.
const server = new McpServer({ name: 'fake-stdio', version: '1.0.0' });
server.registerTool('echo', { description: 'Echoes the text.', inputSchema: { text: z.string() } }, async ({ text }) => ({
  content: [{ type: 'text', text: `echo: ${text} (pid ${process.pid})` }],
}));
server.registerTool('quit', { description: 'Exits the server process.', inputSchema: {} }, async () => process.exit(0));
await server.connect(new StdioServerTransport());
