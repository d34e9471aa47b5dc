import { commonOptions } from './args.js';

/** Flags of the commands that load a topology file (run, describe). */
export const topologyOptions = {
  ...commonOptions,
  'no-typecheck': { type: 'boolean' },
  'skip-typecheck': { type: 'boolean' },
} as const;

export const topologyHelp = `  --no-typecheck       do not type-check the file first (saves about a second; --skip-typecheck works too)`;

export function typecheckWanted(values: { 'no-typecheck'?: boolean | undefined; 'skip-typecheck'?: boolean | undefined }): boolean {
  return !values['no-typecheck'] && !values['skip-typecheck'];
}
