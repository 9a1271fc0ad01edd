/**
 * Writes or checks the table of every error `code` in `docs/guides/errors.md`, read from the types of the
 * exported error classes (TypeScript compiler API), so a code passed through a variable is found too.
 *
 *   npm run errors          # rewrite the generated part of docs/guides/errors.md
 *   npm run errors:check    # fail when the committed table is stale (also a unit test)
 *
 * It also enforces the error rule of DEVELOPERS.md: one class per code. Every exported class whose base chain
 * reaches `PluginwireError` declares `code` as a string literal (a class for one code) or a union of literals (a
 * family base whose subclasses own the codes); a code is owned by exactly one class, starts with its module's
 * prefix, and has a meaning (the first sentence of the class's TSDoc).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..');
const GUIDE = join(root, 'docs', 'guides', 'errors.md');
const START = '<!-- error-codes:start -->';
const END = '<!-- error-codes:end -->';

/** The modules, their code prefix and base class. */
export const MODULES = [
  { module: 'kong-conf', prefix: 'KONG_CONF_', base: 'KongConfError' },
  { module: 'msgpack-rpc', prefix: 'MSGPACK_RPC_', base: 'RpcError' },
  { module: 'kong-rpc', prefix: 'KONG_RPC_', base: 'KongRpcError' },
  { module: 'goplugin', prefix: 'GOPLUGIN_', base: 'GoPluginError' },
  { module: 'socket', prefix: 'SOCKET_', base: 'SocketError' },
] as const;

/** One row of the table. */
export interface ErrorCodeRow {
  code: string;
  className: string;
  /** The family base the class extends below the module base, when there is one. */
  family: string | undefined;
  module: string;
  meaning: string;
}

interface ClassInfo {
  name: string;
  module: string;
  type: ts.InterfaceType;
  symbol: ts.Symbol;
  /** Literal codes of the declared `code` type; `undefined` when it is plain `string`. */
  codes: string[] | undefined;
  chain: string[];
}

/** Reads every exported error class of every module and returns the rows, or throws listing every problem. */
export function collectErrorCodes(): ErrorCodeRow[] {
  const configFile = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
  const entries = MODULES.map(({ module }) => join(root, 'src', module, 'index.ts'));
  const program = ts.createProgram(entries, { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const problems: string[] = [];
  const classes = new Map<ts.Symbol, ClassInfo>();

  for (const { module } of MODULES) {
    const file = program.getSourceFile(join(root, 'src', module, 'index.ts'));
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (moduleSymbol === undefined) throw new Error(`cannot read src/${module}/index.ts`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (!(symbol.flags & ts.SymbolFlags.Class)) continue;
      const type = checker.getDeclaredTypeOfSymbol(symbol) as ts.InterfaceType;
      const chain = baseChain(type);
      if (!chain.includes('PluginwireError') || symbol.name === 'PluginwireError') continue;
      if (classes.has(symbol)) continue;
      const codeProperty = type.getProperty('code');
      const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
      const codeType =
        codeProperty && declaration
          ? checker.getTypeOfSymbolAtLocation(codeProperty, declaration)
          : undefined;
      classes.set(symbol, { name: symbol.name, module, type, symbol, codes: literalCodes(codeType), chain });
    }
  }

  const infos = [...classes.values()];
  const rows: ErrorCodeRow[] = [];
  const owners = new Map<string, string>();
  for (const info of infos) {
    const { prefix, base } = MODULES.find((m) => m.module === info.module)!;
    const descendants = infos.filter((other) => other !== info && other.chain.slice(1).includes(info.name));
    const covered = new Set(descendants.flatMap((other) => other.codes ?? []));
    if (info.codes === undefined) {
      // Plain `string`: only the module base, or a family base whose subclasses declare the codes.
      if (info.name !== base && descendants.length === 0) {
        problems.push(`${info.module}: ${info.name} declares \`code: string\`; declare its literal code`);
      }
      continue;
    }
    const own = info.codes.filter((code) => !covered.has(code));
    if (own.length > 1) {
      problems.push(
        `${info.module}: ${info.name} owns ${own.length} codes (${own.join(', ')}); one class per code`,
      );
    }
    for (const code of own) {
      if (!code.startsWith(prefix))
        problems.push(`${info.module}: ${info.name} code ${code} lacks ${prefix}`);
      const owner = owners.get(code);
      if (owner !== undefined) problems.push(`${code} is owned by both ${owner} and ${info.name}`);
      owners.set(code, info.name);
      const meaning = firstSentence(ts.displayPartsToString(info.symbol.getDocumentationComment(checker)));
      if (meaning === '')
        problems.push(`${info.module}: ${info.name} has no TSDoc to take the meaning of ${code} from`);
      const below = info.chain.slice(1, info.chain.indexOf(base));
      const family = below.length > 0 ? below[0] : undefined;
      rows.push({ code, className: info.name, family, module: info.module, meaning });
    }
  }
  if (problems.length > 0) throw new Error(`error codes:\n  ${problems.join('\n  ')}`);
  const order = MODULES.map((m) => m.module) as string[];
  return rows.sort(
    (a, b) => order.indexOf(a.module) - order.indexOf(b.module) || a.code.localeCompare(b.code),
  );
}

function baseChain(type: ts.InterfaceType): string[] {
  const chain: string[] = [type.symbol.name];
  let current: ts.Type | undefined = type;
  while (current) {
    const bases: ts.BaseType[] = (current as ts.InterfaceType).getBaseTypes?.() ?? [];
    current = bases[0];
    if (current?.symbol) chain.push(current.symbol.name);
  }
  return chain;
}

function literalCodes(type: ts.Type | undefined): string[] | undefined {
  if (type === undefined) return undefined;
  const parts = type.isUnion() ? type.types : [type];
  if (!parts.every((part) => part.isStringLiteral())) return undefined;
  return parts.map((part) => (part as ts.StringLiteralType).value);
}

function firstSentence(text: string): string {
  const flat = text
    .replace(/\{@link\s+([^}\s]+)\s*\}/g, '`$1`')
    .replace(/\s+/g, ' ')
    .trim();
  const match = /^(.+?[.!?])(?:\s|$)/.exec(flat);
  return (match?.[1] ?? flat).trim();
}

/** The generated part of the guide. */
export function renderErrorCodes(rows: readonly ErrorCodeRow[]): string {
  const lines = [
    START,
    '<!-- Generated by `npm run errors` from the error classes; do not edit by hand. -->',
    '',
    '| Module | Base class |',
    '|---|---|',
    ...MODULES.map(({ module, base }) => `| \`pluginwire/${module}\` | \`${base}\` |`),
    '',
    '| Code | Class | Family | Module | Meaning |',
    '|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| \`${row.code}\` | \`${row.className}\` | ${row.family === undefined ? '' : `\`${row.family}\``} | ` +
        `${row.module} | ${row.meaning.replaceAll('|', '\\|')} |`,
    ),
    '',
    `${rows.length} codes.`,
    END,
  ];
  return lines.join('\n');
}

/** The guide with its generated part replaced by the current table. */
export function updatedGuide(current: string, rows: readonly ErrorCodeRow[]): string {
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  if (start === -1 || end === -1)
    throw new Error(`${relative(root, GUIDE)} lacks the ${START}/${END} markers`);
  return `${current.slice(0, start)}${renderErrorCodes(rows)}${current.slice(end + END.length)}`;
}

/** Reads the committed guide. */
export function readGuide(): string {
  return readFileSync(GUIDE, 'utf8');
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const current = readGuide();
  const next = updatedGuide(current, collectErrorCodes());
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error(`errors: ${relative(root, GUIDE)} is stale; run \`npm run errors\` and commit it`);
      process.exit(1);
    }
    console.log('errors: the error code table is up to date');
  } else {
    writeFileSync(GUIDE, next);
    console.log(`errors: wrote ${relative(root, GUIDE)}`);
  }
}
