import type ts from 'typescript';
import { displayPath, isUserFile } from './paths.js';

export interface TypecheckResult {
  /** 'syntax' when the file does not parse (type errors are then not looked for). */
  kind: 'ok' | 'syntax' | 'type';
  /** Each error as `file:line:col - error TSxxxx: message`. */
  errors: string[];
  ms: number;
}

/**
 * Type-checks a topology file the way a user's editor would, with fixed options (strict, NodeNext)
 * and the package conditions this process resolves imports with, so that `import ... from
 * 'tributary'` is checked against the same files (src/ or dist/) that will run. Only errors in the
 * user's own files are reported: tributary's sources and dependencies are not the user's problem.
 */
export async function typecheckFile(file: string, cwd: string): Promise<TypecheckResult> {
  const started = performance.now();
  // Loaded on demand: the compiler takes a few hundred ms to load and most commands never need it.
  const { default: ts } = await import('typescript');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    // Node's globals come from @types/node; leaving out the DOM library saves ~0.2 s of parsing.
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    esModuleInterop: true,
    // tsx runs `import './x.ts'` too, so the checker must accept it.
    allowImportingTsExtensions: true,
    // A topology written in JavaScript loads (unchecked) instead of failing with TS6504.
    allowJs: true,
    customConditions: nodeConditions(),
  };
  const program = ts.createProgram({ rootNames: [file], options });
  const userFiles = program.getSourceFiles().filter((sf) => !sf.isDeclarationFile && isUserFile(sf.fileName));
  const errorsOf = (diagnostics: readonly ts.Diagnostic[]) => diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);

  const syntax = errorsOf([...program.getOptionsDiagnostics(), ...userFiles.flatMap((sf) => program.getSyntacticDiagnostics(sf))]);
  if (syntax.length > 0) return { kind: 'syntax', errors: syntax.map((d) => format(ts, d, cwd)), ms: performance.now() - started };
  const types = errorsOf([...program.getGlobalDiagnostics(), ...userFiles.flatMap((sf) => program.getSemanticDiagnostics(sf))]);
  return { kind: types.length > 0 ? 'type' : 'ok', errors: types.map((d) => format(ts, d, cwd)), ms: performance.now() - started };
}

function format(ts: typeof import('typescript'), d: ts.Diagnostic, cwd: string): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
  const where = d.file && d.start !== undefined ? location(d.file, d.start, cwd) : 'tributary';
  return `${where} - error TS${d.code}: ${message}`;
}

function location(file: ts.SourceFile, start: number, cwd: string): string {
  const { line, character } = file.getLineAndCharacterOfPosition(start);
  return `${displayPath(file.fileName, cwd)}:${line + 1}:${character + 1}`;
}

/** The --conditions this Node process was started with (e.g. 'development' when run from source). */
export function nodeConditions(): string[] {
  const args = [...process.execArgv, ...(process.env['NODE_OPTIONS']?.split(/\s+/).filter(Boolean) ?? [])];
  const conditions: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--conditions=')) conditions.push(arg.slice('--conditions='.length));
    else if ((arg === '--conditions' || arg === '-C') && i + 1 < args.length) conditions.push(args[++i]!);
  }
  return conditions;
}
