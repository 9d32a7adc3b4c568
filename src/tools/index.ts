export { withFiller } from './filler.js';
export { allowHostProblem, createHostPolicy, type HostPolicy } from './host-policy.js';
export {
  httpToolEntrySchema,
  parseToolDeclarations,
  type HttpMethod,
  type HttpToolDecl,
  type HttpToolEntry,
  type ParseToolOptions,
} from './http-declarations.js';
export {
  mcpServerEntrySchema,
  parseMcpServerDeclarations,
  type McpServerDecl,
  type McpServerEntry,
  type McpTransportConfig,
} from './mcp-declarations.js';
export type { McpStatus, ReconnectPolicy } from './mcp-connection.js';
export { createMcpPool, type McpLease, type McpPool, type McpPoolOptions } from './mcp-pool.js';
export type { Problem } from './problems.js';
export { Secret } from './secret.js';
export type { Env } from './template.js';
export type { ToolOutcome, ToolResult } from './tool-result.js';
export { createToolbox, type Toolbox, type ToolboxOptions } from './toolbox.js';
