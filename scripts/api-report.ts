/**
 * Writes or checks the public API report of every entry point (`api/<entry>.api.md`), with API Extractor run
 * over the built declaration files in `dist/`.
 *
 *   npm run api          # after `npm run build`: rewrite the reports; commit them with the API change
 *   npm run api:check    # CI: fail when the built API differs from the committed reports
 *
 * Every export of a `pluginwire/<module>` entry point shows in its report, so an API change is a diff in review.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const root = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');

/** The entry points of package.json's `exports` map, as `[report name, declaration file]`. */
function entryPoints(): [string, string][] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, { import?: { types?: string } }>;
  };
  const entries: [string, string][] = [];
  for (const [subpath, conditions] of Object.entries(manifest.exports)) {
    const types = conditions.import?.types;
    if (types === undefined) continue;
    entries.push([subpath === '.' ? 'pluginwire' : subpath.slice(2), join(root, types)]);
  }
  return entries;
}

if (!check) mkdirSync(join(root, 'api'), { recursive: true });
let failed = false;
for (const [name, declarations] of entryPoints()) {
  if (!existsSync(declarations)) {
    console.error(`api: ${declarations} is missing; run \`npm run build\` first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: declarations,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'es2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            types: ['node'],
            skipLibCheck: true,
            strict: true,
          },
          include: ['dist/**/*.d.ts'],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: name,
        reportFolder: join(root, 'api'),
        reportTempFolder: join(root, 'node_modules', '.cache', 'api-report'),
      },
      newlineKind: 'lf',
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // typedoc already enforces TSDoc on every export (`npm run docs`); here only the API shape matters.
        extractorMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false });
  if (check && result.apiReportChanged) {
    console.error(
      `api: the public API of ${name} changed; run \`npm run build && npm run api\` and commit api/`,
    );
    failed = true;
  } else if (!result.succeeded) {
    console.error(`api: API Extractor failed for ${name} (${result.errorCount} errors)`);
    failed = true;
  }
}
if (failed) process.exit(1);
console.log(check ? 'api: every report matches the build' : 'api: reports written to api/');
