export {
  startSchemaRegistry,
  DEFAULT_REGISTRY_PORT,
  DEFAULT_REGISTRY_FILE,
  type SchemaRegistryOptions,
  type SchemaRegistryServer,
} from './registry-server.js';
export { COMPATIBILITY_LEVELS, DEFAULT_COMPATIBILITY, type CompatibilityLevel } from './compatibility-levels.js';
