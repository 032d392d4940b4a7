#!/usr/bin/env node
// Generates a migration from the difference between the entities and the migrated schema, the way
// `typeorm migration:generate` does, against a throwaway embedded PostgreSQL so nobody needs a database at hand.
// Usage: npm run migration:generate -- AddSomething
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const name = process.argv[2];
if (!name || !/^[A-Z][A-Za-z0-9]+$/.test(name)) {
  console.error('usage: npm run migration:generate -- PascalCaseName');
  process.exit(2);
}
const { startEmbeddedPostgres } = require('../dist/src/infrastructure/embedded-postgres.js');
const { dataSourceOptions } = require('../dist/src/persistence/data-source.js');
const { DataSource } = require('typeorm');

const dir = mkdtempSync(join(tmpdir(), 'mserve-migrate-'));
const port = 20000 + Math.floor(Number(process.hrtime.bigint() % 10000n));
const postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), secretFile: join(dir, 'pw'), port, log: console.log });
try {
  const dataSource = new DataSource(dataSourceOptions(postgres.url));
  await dataSource.initialize();
  await dataSource.runMigrations();
  const sql = await dataSource.driver.createSchemaBuilder().log();
  await dataSource.destroy();
  if (sql.upQueries.length === 0) {
    console.log('entities and migrations agree: nothing to generate');
  } else {
    const timestamp = Date.now();
    const className = `${name}${timestamp}`;
    const render = (queries) =>
      queries
        .map((q) => `    await queryRunner.query(${JSON.stringify(q.query)}${q.parameters?.length ? `, ${JSON.stringify(q.parameters)}` : ''});`)
        .join('\n');
    const file = `migrations/${timestamp}-${name}.ts`;
    writeFileSync(
      file,
      `import { MigrationInterface, QueryRunner } from 'typeorm';\n\n` +
        `export class ${className} implements MigrationInterface {\n  name = '${className}';\n\n` +
        `  public async up(queryRunner: QueryRunner): Promise<void> {\n${render(sql.upQueries)}\n  }\n\n` +
        `  public async down(queryRunner: QueryRunner): Promise<void> {\n${render(sql.downQueries.reverse())}\n  }\n}\n`,
    );
    const index = readFileSync('migrations/index.ts', 'utf8');
    const updated =
      `import { ${className} } from './${timestamp}-${name}';\n` +
      index.replace(/= \[([^\]]*)\];/, (_, list) => `= [${list.trim() ? `${list.trim().replace(/,$/, '')}, ` : ''}${className}];`);
    writeFileSync('migrations/index.ts', updated);
    console.log(`wrote ${file} (${sql.upQueries.length} statements) and registered it in migrations/index.ts`);
  }
} finally {
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
}
